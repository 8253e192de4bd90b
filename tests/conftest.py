"""Shared fixtures: private state homes, real processes, the installed CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

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


@pytest.fixture
def short_tmp():
    """A short directory under /tmp (AF_UNIX paths must stay under ~108 bytes)."""
    d = tempfile.mkdtemp(prefix="tb", dir="/tmp")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def home(short_tmp, monkeypatch):
    """A private TERMBRIDGE_HOME (and no user config) for this test."""
    h = short_tmp / "home"
    monkeypatch.setenv("TERMBRIDGE_HOME", str(h))
    monkeypatch.setenv("TERMBRIDGE_CONFIG", str(short_tmp / "config.yaml"))
    monkeypatch.delenv("TERMBRIDGE_SESSION", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TMUX_PANE", raising=False)
    monkeypatch.delenv("KITTY_LISTEN_ON", raising=False)
    monkeypatch.delenv("TERMBRIDGE_KITTY_SOCKET", raising=False)
    monkeypatch.delenv("TERMBRIDGE_TMUX_SOCKET", raising=False)
    # Resolution also looks at this user's tmux servers ($TMUX_TMPDIR/tmux-UID/*): keep tests off the real ones.
    monkeypatch.setenv("TMUX_TMPDIR", str(short_tmp))
    from termbridge import config

    config._cache.clear()
    return h


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


@pytest.fixture
def sleeper():
    """A live process that no terminal hosts (a session PID for queue-only tests)."""
    procs = []

    def make():
        p = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL, start_new_session=True)
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture
def lab(short_tmp, home, monkeypatch):
    """An isolated tmux server; TERMBRIDGE_TMUX_SOCKET points at it for the CLI."""
    from lab import TmuxLab

    t = TmuxLab(short_tmp)
    monkeypatch.setenv("TERMBRIDGE_TMUX_SOCKET", t.socket)
    yield t
    t.kill()
