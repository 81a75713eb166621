"""Progress bars for long transfers, drawn with rich when stdout is a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    DownloadColumn,
    TextColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgress

from kiln.sdk.ui import Progress

if TYPE_CHECKING:
    from kiln.ui.terminal import BuildUi


class BarProgress(Progress):
    def __init__(self, ui: BuildUi, label: str, total: int | None) -> None:
        self.bar = RichProgress(
            TextColumn(f"    {ui.name}: {label}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            transient=True,
        )
        self.task = self.bar.add_task(label, total=total)
        self.bar.start()

    def advance(self, amount: int) -> None:
        self.bar.advance(self.task, amount)

    def close(self) -> None:
        self.bar.stop()
