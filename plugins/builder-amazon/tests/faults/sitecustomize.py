"""Faults at the AWS client boundary of a ``kiln build`` subprocess, for the amazon
plugin's fault tests (``test_amazon_faults.py``).

Python imports this module at start-up when this folder is on ``PYTHONPATH``. With none
of the variables below set it does nothing (and imports nothing); botocore missing is
no error either. Otherwise every EC2 client botocore makes gets event handlers; EC2 itself
stays the emulator's:

``KILN_TEST_AWS_FAULT=Op[:N][@region],...``
    the call ``Op`` (an EC2 operation name, ``RunInstances``) fails with the error code
    ``InjectedFault`` before it is sent: every call, or only the ``N``-th one (counted
    over the whole process, or over the calls in ``region`` when one is given).
``KILN_TEST_AWS_LOSE=Op[:N][@region],...``
    the same, except the call is made and only its answer is lost: EC2 did the work (made
    the resource) and the caller gets ``InjectedFault``, as when an answer times out.
``KILN_TEST_AWS_PAUSE=Op[:N][@region],...``
    the call waits, before it is sent, until the process is killed: a test catches the
    build at that call (the log says ``region Op PAUSED`` first).
``KILN_TEST_AWS_PAUSE_AFTER=Op[:N][@region],...``
    the same once EC2 did the work, before the answer reaches the caller (``region Op
    PAUSED (answer held)``): what the call made exists, and its id is not known.
``KILN_TEST_AWS_HOLD=Op=state,...``
    the answers of ``Op`` show resources in ``state`` as not there yet, so a wait for
    ``state`` never ends: ``DescribeInstances=running`` (shown ``pending``),
    ``DescribeInstances=stopped`` (shown ``stopping``), ``DescribeImages=available``
    (shown ``pending``). Other states (``terminated``: the cleanup's wait) are untouched.
``KILN_TEST_AWS_HOLD_REGION=region``
    hold only in that region's clients.
``KILN_TEST_AWS_LOG=path``
    append a line per EC2 call to ``path``: ``region Op``, then `` INJECTED`` when it was
    made to fail (`` INJECTED (answer lost)`` after it was made), and a ``region Op HELD``
    line for each resource whose state an answer hid.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from typing import Any

#: what a held state is shown as: the state before it, and its EC2 state code
_NOT_YET = {"running": ("pending", 0), "stopped": ("stopping", 64), "available": ("pending", 0)}


class _Fault:
    def __init__(self, spec: str) -> None:
        spec, _, self.region = spec.partition("@")
        self.operation, _, nth = spec.partition(":")
        self.nth = int(nth) if nth else 0  # 0: every call


def _faults(specs: str) -> list[_Fault]:
    return [_Fault(spec.strip()) for spec in specs.split(",") if spec.strip()]


def _matches(
    faults: list[_Fault], operation: str, region: str, counts: dict[tuple[str, str], int]
) -> bool:
    """Whether one of ``faults`` is this call (``counts``: its number, over the process
    and in its region)."""
    for fault in faults:
        if fault.operation != operation or fault.region not in ("", region):
            continue
        if not fault.nth or counts.get((operation, fault.region)) == fault.nth:
            return True
    return False


def _fail(operation: str) -> None:
    import botocore.exceptions

    raise botocore.exceptions.ClientError(
        {"Error": {"Code": "InjectedFault", "Message": "injected by the test"}}, operation
    )


class _Boundary:
    """The faults, holds and log of this process."""

    def __init__(self, environ: Any) -> None:
        self.faults = _faults(environ.get("KILN_TEST_AWS_FAULT", ""))
        self.losses = _faults(environ.get("KILN_TEST_AWS_LOSE", ""))
        self.pauses = _faults(environ.get("KILN_TEST_AWS_PAUSE", ""))
        self.pauses_after = _faults(environ.get("KILN_TEST_AWS_PAUSE_AFTER", ""))
        self.holds = dict(
            item.strip().split("=", 1)
            for item in environ.get("KILN_TEST_AWS_HOLD", "").split(",")
            if item.strip()
        )
        self.hold_region = environ.get("KILN_TEST_AWS_HOLD_REGION", "")
        self.log_path = environ.get("KILN_TEST_AWS_LOG", "")
        self.lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()

    def active(self) -> bool:
        return bool(
            self.faults
            or self.losses
            or self.pauses
            or self.pauses_after
            or self.holds
            or self.log_path
        )

    def log(self, line: str) -> None:
        if self.log_path:
            with self.lock, open(self.log_path, "a") as f:
                f.write(line + "\n")

    def pause(self, line: str) -> None:
        """Say so, then wait for the kill."""
        self.log(line)
        while True:
            time.sleep(60)

    def before_call(self, region: str, model: Any, context: Any, **_: Any) -> None:
        operation = model.name
        with self.lock:
            self.calls[(operation, "")] += 1
            self.calls[(operation, region)] += 1
            counts = {key: self.calls[key] for key in ((operation, ""), (operation, region))}
        context["kiln_test_counts"] = counts
        if _matches(self.faults, operation, region, counts):
            self.log(f"{region} {operation} INJECTED")
            _fail(operation)
        if _matches(self.pauses, operation, region, counts):
            self.pause(f"{region} {operation} PAUSED")
        self.log(f"{region} {operation}")

    def after_call(self, region: str, model: Any, parsed: Any, context: Any, **_: Any) -> None:
        counts = context.get("kiln_test_counts", {})
        if _matches(self.losses, model.name, region, counts):
            self.log(f"{region} {model.name} INJECTED (answer lost)")
            _fail(model.name)
        if _matches(self.pauses_after, model.name, region, counts):
            self.pause(f"{region} {model.name} PAUSED (answer held)")
        held = self.holds.get(model.name)
        if not held or not isinstance(parsed, dict):
            return
        if self.hold_region and region != self.hold_region:
            return
        if model.name == "DescribeInstances":
            items = [i for r in parsed.get("Reservations", []) for i in r.get("Instances", [])]
            for item in items:
                state = item.get("State", {})
                if state.get("Name") == held:
                    name, code = _NOT_YET[held]
                    item["State"] = {"Name": name, "Code": code}
                    self.log(f"{region} {model.name} HELD")
        elif model.name == "DescribeImages":
            for item in parsed.get("Images", []):
                if item.get("State") == held:
                    item["State"] = _NOT_YET[held][0]
                    self.log(f"{region} {model.name} HELD")

    def attach(self, client: Any) -> None:
        region = client.meta.region_name or ""
        events = client.meta.events
        # every client has its own copy of the session's handlers: these are its alone
        events.register("before-call.ec2", lambda **kw: self.before_call(region, **kw))
        events.register("after-call.ec2", lambda **kw: self.after_call(region, **kw))


def _install(boundary: _Boundary) -> None:
    try:
        import botocore.session
    except ImportError:
        return
    create_client = botocore.session.Session.create_client

    def patched(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, service_name, *args, **kwargs)
        if service_name == "ec2":
            boundary.attach(client)
        return client

    botocore.session.Session.create_client = patched


_boundary = _Boundary(os.environ)
if _boundary.active():
    _install(_boundary)
