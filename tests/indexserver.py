"""Package indexes on loopback for the install tests.

- :func:`pypiserver_index` runs the real pypiserver over a folder of wheels and sdists
  and yields its simple-API URL. With the ``simple-dir`` backend pypiserver reads the
  folder on every request, so files added while it runs are listed at once (no cache).
  The session fixture ``pypi_index`` shares one server: tests drop their own uniquely
  named projects into ``pypi_index.packages``.
- :func:`scripted_server` is a stdlib HTTP server whose answers a test scripts per path
  (status, headers, body, a delay, or a dropped connection), for index error tests and
  for serving PEP 691 JSON or PEP 658 metadata pypiserver does not offer.
- :func:`publish_plugins` runs ``scripts/publish-plugins`` into a folder index; the
  session fixture ``published_plugins`` is the repository's plugins published once, for
  the tests that ``kiln init`` them as a user would.

The root conftest.py registers this module as a pytest plugin: every test, the plugins'
included, can ask for ``pypi_index``, ``scripted`` and ``published_plugins`` by name.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.sshd import free_port, stop_process, wait_until_serving

PUBLISH_PLUGINS = Path(__file__).resolve().parent.parent / "scripts" / "publish-plugins"


def _pypi_server_command() -> list[str]:
    script = Path(sys.executable).parent / "pypi-server"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pypiserver"]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:  # URLError and HTTPError among them
        return False


@contextmanager
def pypiserver_index(packages_dir: Path) -> Iterator[str]:
    """Serve ``packages_dir`` with pypiserver on 127.0.0.1; yield ``http://.../simple/``."""
    packages_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = packages_dir.parent / f"pypiserver-{port}.log"
    command = [
        *_pypi_server_command(),
        "run",
        "-p",
        str(port),
        "-i",
        "127.0.0.1",
        "-a",
        ".",
        "-P",
        ".",
        "--disable-fallback",
        "--backend",
        "simple-dir",
        str(packages_dir),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        health = f"{base}/health"
        wait_until_serving(
            "pypiserver", f"at {health}", proc, log, lambda: _answers(health), timeout=15
        )
        yield f"{base}/simple/"
    finally:
        stop_process(proc)


@dataclass(frozen=True)
class PypiIndex:
    url: str  # http://127.0.0.1:PORT/simple/
    packages: Path  # the folder it serves; files written here are listed at once


@pytest.fixture(scope="session")
def pypi_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiIndex]:
    """One pypiserver for the whole session; give each test's projects unique names."""
    packages = tmp_path_factory.mktemp("pypiserver") / "packages"
    with pypiserver_index(packages) as url:
        yield PypiIndex(url, packages)


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a hung server)
    drop: bool = False  # close the connection without answering


class ScriptedServer:
    """Answers each path with its scripted replies, in order; the last one repeats.

    Unscripted paths get 404. ``hits(path)`` counts the requests a path received and
    ``requests`` keeps (path, headers) of every request.
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        # A short poll interval: shutdown() waits for the loop to look up.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def route(self, path: str, *replies: Reply) -> str:
        """Script ``path`` (starting with /); return its absolute URL."""
        self.routes[path] = list(replies)
        return self.url.rstrip("/") + path

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def _next(self, path: str) -> Reply:
        with self._lock:
            replies = self.routes.get(path)
            if not replies:
                return Reply(404, "not found")
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.requests.append((path, dict(self.headers.items())))
                reply = server._next(path)
                if reply.delay and server.closing.wait(reply.delay):
                    return
                if reply.drop:
                    self.close_connection = True
                    return
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A :class:`ScriptedServer` on loopback for one test."""
    with scripted_server() as server:
        yield server


def publish_plugins(index: Path) -> str:
    """Publish the repository's plugins (and their third-party dependencies) into the
    folder index ``index`` with ``scripts/publish-plugins``; return what it printed."""
    published = subprocess.run(
        [str(PUBLISH_PLUGINS), str(index)], capture_output=True, text=True, timeout=600
    )
    assert published.returncode == 0, published.stdout + published.stderr
    return published.stdout


@pytest.fixture(scope="session")
def published_plugins(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The repository's plugins published once for the session: the folder index's URL,
    for ``KILN_INDEX_URL``."""
    index = tmp_path_factory.mktemp("published-plugins")
    publish_plugins(index)
    return (index / "simple").as_uri() + "/"
