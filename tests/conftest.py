"""Shared fixtures: private state homes, real processes, a private tmux server. The helpers
(retry_until, tb, tb_json) are in helpers.py; tests/README.md maps behaviours to test files."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


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


@pytest.fixture
def kitty(short_tmp, home, monkeypatch):
    """A real kitty under Xvfb whose first window runs the demo agent (kittylab.agent_kitty);
    TERMBRIDGE_KITTY_SOCKET points at it. test_kitty_integration.py has its own, with the plugin."""
    from kittylab import agent_kitty

    k = agent_kitty(short_tmp, monkeypatch)
    yield k
    k.close()


def pytest_collection_modifyitems(config, items):
    """The real agents (test_real_*.py, and the real-agent cases of other files) run on a shared
    2-core machine, where a Node agent can take longer than a poll allows: each such case gets two
    reruns (pytest-rerunfailures; `-ra` reports it). A case that fails three times fails the run."""
    for item in items:
        if item.module.__name__.startswith("test_real_") or item.name.startswith("test_real_"):
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=3))
