"""Helpers the tests share (import them: `from helpers import retry_until, tb`); fixtures live in conftest.py.

retry_until(fn)   poll FN until it returns something truthy (never a bare sleep for a positive check)
tb(*args)         run the real CLI (`python -m termbridge ARGS`) in a subprocess; .out / .err as text
tb_json(*args)    the same with --json, exit 0 asserted, stdout parsed
TB                the argv prefix of the CLI, for tests that start it themselves
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

TB = [sys.executable, "-m", "termbridge"]


def retry_until(fn, seconds: float = 10.0, interval: float = 0.05):
    """Poll FN until it returns a truthy value; return it, or fail after SECONDS."""
    deadline = time.monotonic() + seconds
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds}s: {fn}")
        time.sleep(interval)


def tb(*args, input: bytes | str | None = None, env: dict | None = None, timeout: float = 60):
    """Run the real CLI in a subprocess; returns CompletedProcess with text output."""
    if isinstance(input, str):
        input = input.encode()
    p = subprocess.run(
        [*TB, *map(str, args)], input=input, capture_output=True, env=env or os.environ.copy(), timeout=timeout
    )
    p.out = p.stdout.decode("utf-8", "replace")  # type: ignore[attr-defined]
    p.err = p.stderr.decode("utf-8", "replace")  # type: ignore[attr-defined]
    return p


def tb_json(*args, **kw):
    p = tb(*args, "--json", **kw)
    assert p.returncode == 0, p.err
    return json.loads(p.out)


def events_of(kind: str, env: dict | None = None) -> list[dict]:
    """The events of KIND in the event log, oldest first (`termbridge events --json`)."""
    return [e for e in map(json.loads, tb("events", "--json", env=env).out.splitlines()) if e["event"] == kind]
