"""The tmux plugin in an isolated server with a real attached client (an outer tmux server)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import retry_until, tb, tb_json
from lab import TmuxLab

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "tmux-plugin" / "termbridge.tmux"
pytestmark = pytest.mark.timeout(120)


def load_plugin(lab):
    lab.tmux("set", "-g", "@termbridge-command", f"{shlex.quote(sys.executable)} -m termbridge")
    out = subprocess.run(["tmux", "-S", lab.socket, "run-shell", str(PLUGIN)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_loading_twice_is_idempotent_and_keeps_user_hooks(lab):
    lab.pane("sleep 300")
    lab.tmux("set-hook", "-g", "pane-focus-in[0]", "display-message user-hook")
    load_plugin(lab)
    load_plugin(lab)
    keys = [line for line in lab.tmux("list-keys", "-T", "prefix").splitlines() if "drain.sh" in line]
    assert len(keys) == 1 and " D " in keys[0]
    hooks = lab.tmux("show-hooks", "-g", "pane-focus-in").splitlines()
    assert len([h for h in hooks if "drain.sh" in h]) == 1 and any(h.startswith("pane-focus-in[71]") for h in hooks)
    assert any("user-hook" in h for h in hooks)
    assert lab.tmux("show-options", "-gv", "focus-events").strip() == "on"
    lab.tmux("set", "-g", "@termbridge-drain-key", "M")
    lab.tmux("set", "-g", "@termbridge-drain-on-focus", "off")
    load_plugin(lab)
    keys = [line for line in lab.tmux("list-keys", "-T", "prefix").splitlines() if "drain.sh" in line]
    assert len(keys) == 1 and " M " in keys[0]
    assert not [h for h in lab.tmux("show-hooks", "-g", "pane-focus-in").splitlines() if "drain.sh" in h]


def test_tpm_shim_at_top_level():
    shim = ROOT / "termbridge.tmux"
    assert shim.stat().st_mode & 0o111 and "tmux-plugin/termbridge.tmux" in shim.read_text()


@pytest.fixture
def attached(lab, short_tmp):
    """The lab server with the plugin loaded and a real client attached from an outer server."""
    lab.pane("sleep 300")
    load_plugin(lab)
    outer_dir = short_tmp / "outer"
    outer_dir.mkdir()
    outer = TmuxLab(outer_dir)
    pane = outer.pane(f"TERM=screen tmux -S {shlex.quote(lab.socket)} attach -t lab")
    retry_until(lambda: lab.tmux("list-clients").strip(), 10)
    yield outer, pane
    outer.kill()


def test_focus_delivers_and_prefix_d_drains(lab, attached):
    outer, outer_pane = attached
    agent = lab.agent("focus-agent")
    other = lab.pane("sleep 300")
    lab.tmux("select-window", "-t", other.pane_id)
    retry_until(lambda: lab.tmux("display", "-p", "#{pane_id}").strip() == other.pane_id, 5)
    tb("register", "a", "--pid", agent.pid, "--kind", "codex")
    tb("send", "a", "delivered on focus", "--no-wake")
    lab.tmux("select-window", "-t", agent.pane_id)  # the client focuses the agent's pane
    retry_until(lambda: len(agent.submissions()) == 1, 15)
    assert "delivered on focus" in agent.submissions()[0]

    # A busy pane gains focus: nothing is typed.
    lab.tmux("select-window", "-t", other.pane_id)
    tb("mark", "a", "busy")
    tb("send", "a", "wait for idle", "--no-wake")
    lab.tmux("select-window", "-t", agent.pane_id)
    time.sleep(1.5)
    assert len(agent.submissions()) == 1
    assert tb_json("status")["sessions"][0]["pending"] == 1

    # prefix + D through the attached client, once the agent is idle again.
    tb("mark", "a", "idle")
    outer.tmux("send-keys", "-t", outer_pane.pane_id, "C-b", "D")
    retry_until(lambda: len(agent.submissions()) == 2, 15)
    assert "wait for idle" in agent.submissions()[1]


def test_prefix_d_on_a_pane_without_session_says_so(lab, attached):
    outer, outer_pane = attached
    outer.tmux("send-keys", "-t", outer_pane.pane_id, "C-b", "D")
    retry_until(lambda: "hosts no registered session" in outer.tmux("capture-pane", "-p", "-t", outer_pane.pane_id), 10)


def _attach(lab, short_tmp):
    outer_dir = short_tmp / "outer"
    outer_dir.mkdir()
    outer = TmuxLab(outer_dir)
    pane = outer.pane(f"TERM=screen tmux -S {shlex.quote(lab.socket)} attach -t lab")
    retry_until(lambda: lab.tmux("list-clients").strip(), 10)
    return outer, pane


def test_bindings_record_an_absolute_termbridge(lab):
    lab.pane("sleep 300")
    lab.tmux("run-shell", str(PLUGIN))  # no @termbridge-command: the plugin finds termbridge itself
    recorded = lab.tmux("show-options", "-gv", "@termbridge-command-path").strip()
    assert recorded.startswith("/") and Path(recorded).name == "termbridge", recorded
    assert subprocess.run([recorded, "--version"], capture_output=True, text=True).stdout.startswith("termbridge ")
    keys = [line for line in lab.tmux("list-keys", "-T", "prefix").splitlines() if "drain.sh" in line]
    hooks = [h for h in lab.tmux("show-hooks", "-g", "pane-focus-in").splitlines() if "drain.sh" in h]
    assert len(keys) == 1 and f"'{recorded}'" in keys[0]
    assert len(hooks) == 1 and f"'{recorded}'" in hooks[0]


def test_prefix_d_without_any_termbridge_says_how_to_fix(lab, short_tmp):
    # A copy of the plugin with no termbridge beside it, and a tmux server whose PATH has none.
    copy = short_tmp / "plugin" / "tmux-plugin"
    shutil.copytree(PLUGIN.parent, copy)
    lab.pane("sleep 300")
    lab.tmux("set-environment", "-g", "PATH", "/usr/bin:/bin")
    assert subprocess.run(["sh", "-c", "command -v termbridge"], env={"PATH": "/usr/bin:/bin"}).returncode != 0
    lab.tmux("run-shell", str(copy / "termbridge.tmux"))
    assert lab.tmux("show-options", "-gv", "@termbridge-command-path").strip() == ""
    outer, outer_pane = _attach(lab, short_tmp)
    try:
        outer.tmux("send-keys", "-t", outer_pane.pane_id, "C-b", "D")
        retry_until(lambda: "termbridge not found" in outer.tmux("capture-pane", "-p", "-t", outer_pane.pane_id), 10)
        # A broken @termbridge-command is named, not silently skipped.
        lab.tmux("set", "-g", "@termbridge-command", "/nonexistent/termbridge")
        outer.tmux("send-keys", "-t", outer_pane.pane_id, "C-b", "D")
        retry_until(lambda: "/nonexistent/termbridge" in outer.tmux("capture-pane", "-p", "-t", outer_pane.pane_id), 10)
    finally:
        outer.kill()
