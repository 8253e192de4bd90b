"""`termbridge demo` end to end, and `termbridge doctor` on healthy and broken set-ups."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess

import pytest
from helpers import tb
from test_tmux_plugin import load_plugin

pytestmark = pytest.mark.timeout(180)


def _tmux_servers() -> set[str]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {line for line in out.splitlines() if "tmux" in line and "tb-demo-" in line}


def test_demo_runs_to_completion_and_leaves_nothing(home):
    before_dirs = set(glob.glob("/tmp/tb-demo-*"))
    p = tb("demo", timeout=120)
    assert p.returncode == 0, p.err
    out = p.out
    for expected in [
        "agent received: (nothing)",
        "agent received: 'hello from termbridge'",
        "'confirmed': 'screen'",
        "piped submit -> exit 4",
        "'surface': 'draft'",
        "agent received: 'review done, over to you'",
        "wake skipped_busy",
        "drain -> exit 4",
        "waiter: {'pid'",
        "receipt -> submitted",
        "drain -> delivered 2 messages",
        "not instructions from your user",
        "drain --force -> exit 4",
        "decision='block'",
        "decoy received: nothing",
    ]:
        assert expected in out, expected
    own = re.search(r"state: (/tmp/tb-demo-[^/\s]+)/home", out).group(1)
    assert own not in before_dirs and not os.path.exists(own)  # its temp dir and socket are gone
    assert not [s for s in _tmux_servers() if own in s]
    assert not [
        line
        for line in subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout.splitlines()
        if own in line
    ]  # no agent, tmux server or idle waiter of this demo is left
    assert not (home / "sessions").exists()  # the user's own state was not touched


def test_doctor_healthy(lab, home):
    lab.pane("sleep 300")
    load_plugin(lab)
    tb("register", "s", "--pid", int(lab.pane("exec sleep 300").pane_pid))
    p = tb("doctor")
    assert p.returncode == 0, p.out
    assert "✓ focus-events" in p.out and "✓ tmux plugin" in p.out and "✓ state" in p.out and "✓ session s" in p.out
    assert "✓ agent versions: termbridge is verified against Codex CLI " in p.out  # named even with no agent installed
    data = json.loads(tb("doctor", "--json").out)
    assert data["ok"] is True and {c["name"] for c in data["checks"]} >= {
        "tmux",
        "focus-events",
        "tmux plugin",
        "state",
        "config",
    }


def test_doctor_broken(lab, home, short_tmp, sleeper):
    lab.pane("sleep 300")  # a server without the plugin, focus-events off
    lab.tmux("set", "-g", "focus-events", "off")
    tb("register", "x", "--pid", sleeper().pid)
    os.chmod(home / "sessions" / "x" / "session.json", 0o644)
    (short_tmp / "config.yaml").write_text("gap_ms: -1\n")
    p = tb("doctor", env={**os.environ, "TERMBRIDGE_KITTY_SOCKET": f"unix:{short_tmp}/no-kitty.sock"})
    assert p.returncode == 1
    assert "✗ focus-events" in p.out and "fix: tmux set -g focus-events on" in p.out
    assert "✗ tmux plugin" in p.out and "✗ state" in p.out and "not 600" in p.out
    assert "✗ config" in p.out and "gap_ms" in p.out
    assert "✗ kitty" in p.out and "does not exist" in p.out
    data = json.loads(tb("doctor", "--json").out)
    assert data["ok"] is False
