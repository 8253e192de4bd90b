"""kitty/termbridge.conf and the focus watcher, in a real kitty under Xvfb."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import retry_until, tb
from kittylab import agent_kitty
from lab import read_submissions

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def kitty(short_tmp, home, monkeypatch):
    # A user's kitty config directory, set up as docs/setup.md says: a link to our kitty/ and
    # one include line. No TERMBRIDGE_COMMAND: the watcher runs the termbridge beside it
    # (the clone's .venv), else PATH's.
    (short_tmp / "termbridge").symlink_to(ROOT / "kitty")
    (short_tmp / "kitty.conf").write_text("include termbridge/termbridge.conf\n")
    monkeypatch.setenv("KITTY_CONFIG_DIRECTORY", str(short_tmp))  # where kitty resolves `watcher` paths
    venv_bin = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", f"{venv_bin}:{os.environ['PATH']}")
    monkeypatch.delenv("TERMBRIDGE_COMMAND", raising=False)
    k = agent_kitty(short_tmp, monkeypatch)
    yield k
    k.close()


def test_focus_drains_the_focused_window(kitty):
    agent = kitty.windows()[0]
    retry_until(lambda: "›" in kitty.client.get_text(agent["id"]), 15)
    tb("register", "k", "--pid", agent["pid"], "--kind", "codex")
    other = kitty.launch(["sleep", "300"])
    kitty.client.command("focus-window", {"match": f"id:{other}"})
    retry_until(lambda: any(w["id"] == other and w["is_focused"] for w in kitty.windows()), 5)
    tb("send", "k", "arrives when focused", "--no-wake")
    time.sleep(0.5)
    assert read_submissions(kitty.log) == []
    kitty.client.command("focus-window", {"match": f"id:{agent['id']}"})
    retry_until(lambda: len(read_submissions(kitty.log)) == 1, 15)
    assert "arrives when focused" in read_submissions(kitty.log)[0]


def test_key_map_drains_the_active_window(kitty):
    if shutil.which("xdotool") is None:
        pytest.skip("pressing the key map needs xdotool (apt-get install xdotool)")
    agent = kitty.windows()[0]
    retry_until(lambda: "›" in kitty.client.get_text(agent["id"]), 15)
    tb("register", "k", "--pid", agent["pid"], "--kind", "codex")
    tb("send", "k", "drained by ctrl+shift+d", "--no-wake")
    env = dict(os.environ, DISPLAY=f":{kitty.display}")
    xid = str(kitty.client.ls()[0]["platform_window_id"])
    subprocess.run(["xdotool", "windowfocus", "--sync", xid], env=env, check=True, timeout=10)
    subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+shift+d"], env=env, check=True, timeout=10)
    retry_until(lambda: len(read_submissions(kitty.log)) == 1, 15)
    assert "drained by ctrl+shift+d" in read_submissions(kitty.log)[0]


def _load_watcher(path: Path) -> dict:
    """As kitty loads a watcher: runpy.run_path on the path in its config directory."""
    import runpy

    return runpy.run_path(str(path), run_name="__kitty_watcher__")


def test_watcher_starts_one_background_drain_per_focus_and_never_raises(short_tmp, monkeypatch):
    # A stand-in termbridge that records how it was run, then blocks until released: when
    # on_focus_change has returned while it still runs, the drain was started in the background.
    calls, go = short_tmp / "calls", short_tmp / "go"
    fake = short_tmp / "tb"
    fake.write_text(
        f'#!/bin/sh\necho "$TERMBRIDGE_KITTY_SOCKET $*" >> {calls}\nwhile [ ! -e {go} ]; do sleep 0.05; done\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("TERMBRIDGE_COMMAND", str(fake))
    monkeypatch.delenv("KITTY_LISTEN_ON", raising=False)
    w = _load_watcher(ROOT / "kitty" / "termbridge_watcher.py")

    class Boss:
        listening_on = "unix:/tmp/k.sock"

    class Window:
        id = 7

    children = w["_children"]
    try:
        assert w["on_focus_change"](Boss(), Window(), {"focused": True}) is None
        assert len(children) == 1 and children[0].poll() is None  # returned while the drain runs
        retry_until(lambda: calls.exists() and calls.read_text(), 10)
        # focus lost, no socket, odd or broken objects: nothing started, nothing raised
        w["on_focus_change"](Boss(), Window(), {"focused": False})
        w["on_focus_change"](object(), Window(), {"focused": True})
        w["on_focus_change"](Boss(), object(), {"focused": True})
        w["on_focus_change"](None, None, {})

        class BadWindow:
            id = "not a window id"

        w["on_focus_change"](Boss(), BadWindow(), {"focused": True})
        assert len(children) == 1
    finally:
        go.touch()
        for c in children:
            c.wait(10)
    assert calls.read_text().splitlines() == ["unix:/tmp/k.sock drain --pane kitty:unix:/tmp/k.sock:7"]


def test_watcher_runs_the_termbridge_installed_beside_it(short_tmp, monkeypatch):
    # An installed layout (<prefix>/lib/pythonX.Y/site-packages/termbridge/data/kitty) reached
    # through the link in kitty's config directory, with kitty's PATH lacking termbridge.
    prefix = short_tmp / "prefix"
    data_kitty = prefix / "lib" / "python3.11" / "site-packages" / "termbridge" / "data" / "kitty"
    shutil.copytree(ROOT / "kitty", data_kitty)
    (prefix / "bin").mkdir()
    script = prefix / "bin" / "termbridge"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    (short_tmp / "conf").mkdir()
    (short_tmp / "conf" / "termbridge").symlink_to(data_kitty)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("TERMBRIDGE_COMMAND", raising=False)
    monkeypatch.delenv("KITTY_LISTEN_ON", raising=False)
    w = _load_watcher(short_tmp / "conf" / "termbridge" / "termbridge_watcher.py")
    assert w["command"]() == [str(script)]
    monkeypatch.setenv("TERMBRIDGE_COMMAND", "/opt/tb/termbridge --flag")  # the override wins
    assert w["command"]() == ["/opt/tb/termbridge", "--flag"]
    monkeypatch.delenv("TERMBRIDGE_COMMAND")
    script.unlink()  # gone (e.g. uninstalled): nothing on PATH either, so say so on a key press
    w = _load_watcher(short_tmp / "conf" / "termbridge" / "termbridge_watcher.py")
    assert w["command"]() == []

    class Boss:
        listening_on = "unix:/nonexistent/kitty.sock"

    assert w["start_drain"](Boss(), 1).startswith("termbridge not found")
    assert w["start_drain"](object(), 1).startswith("kitty has no remote-control socket")
