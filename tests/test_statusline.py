"""The tmux status line: `termbridge statusline pending|attention`, its fast path, the dialog-hold
stamps, and the plugin's #{termbridge_pending} / #{termbridge_attention} in a real client's status line."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import retry_until, tb, tb_json
from lab import TmuxLab

from termbridge import attention, statusline

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "tmux-plugin" / "termbridge.tmux"
CLICK = [sys.executable, "-c", "import sys; from termbridge.cli import main; sys.argv[0] = 'termbridge'; main()"]
pytestmark = pytest.mark.timeout(150)


def _run(prefix, args):
    p = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=60, env=os.environ.copy())
    return p.returncode, p.stdout, p.stderr


# ---------------------------------------------------------------- the command
def test_pending_counts_the_pane_s_session_only(lab, home):
    a, b = lab.agent("a"), lab.agent("b")
    other = lab.pane("sleep 300")
    tb("register", "a", "--pid", a.pid, "--kind", "codex")
    tb("register", "b", "--pid", b.pid, "--kind", "codex")
    for body in ("one", "two"):
        assert tb("send", "a", body, "--no-wake").returncode == 0
    tb("send", "b", "three", "--no-wake")
    pid = lambda pane: int(pane.pane_pid)  # noqa: E731
    assert statusline.pending_text(home, pid(a.pane)) == "✉ 2"
    assert statusline.pending_text(home, pid(b.pane), icon="") == "1"
    assert statusline.pending_text(home, pid(other)) == ""  # a pane hosting no session: empty
    assert [s.name for s in statusline.sessions_in_pane(home, pid(a.pane))] == ["a"]
    # The CLI (fast path) prints the same, and nothing at all -- not even a newline -- when empty.
    assert tb("statusline", "pending", pid(a.pane)).out == "✉ 2\n"
    assert tb("statusline", "pending", pid(other)).out == ""
    assert tb("drain", "a", "--print").returncode == 0
    assert tb("statusline", "pending", pid(a.pane)).out == ""


def test_a_dead_session_in_the_pane_counts_nothing(home, sleeper):
    p = sleeper()
    tb("register", "s", "--pid", p.pid)
    tb("send", "s", "queued", "--no-wake")
    assert statusline.pending_text(home, p.pid) == "✉ 1"  # the session's own pid is the pane root
    p.kill()
    p.wait()
    assert statusline.pending_text(home, p.pid) == ""


FORMS = [
    ["statusline", "pending", "1"],
    ["statusline", "pending", "1", "--icon", "Q "],
    ["statusline", "pending", "1", "--icon="],
    ["statusline", "attention"],
    ["statusline", "attention", "--icon", "!"],
    ["statusline", "pending"],
    ["statusline", "pending", "0"],
    ["statusline", "pending", "x"],
    ["statusline", "attention", "5"],
    ["statusline", "bogus"],
    ["statusline", "pending", "1", "--bogus"],
    ["statusline", "--help"],
]


@pytest.mark.parametrize("args", FORMS, ids=[" ".join(f) for f in FORMS])
def test_fast_path_and_click_agree(home, args):
    fast = _run([sys.executable, "-m", "termbridge"], args)
    slow = _run(CLICK, args)
    assert fast[:2] == slow[:2], (fast, slow)
    assert fast[0] in (0, 2)


def test_statusline_does_not_import_click_and_send_never_imports_top(home, sleeper):
    tb("register", "s", "--pid", sleeper().pid)
    probe = (
        "import sys, runpy; sys.argv = ['termbridge'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('termbridge', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('click', 'curses', 'termbridge.top', 'termbridge.glance') if m in sys.modules)\n"
        "print('LOADED', *heavy, file=sys.stderr)"
    )

    def loaded(*args, stdin=""):
        p = subprocess.run([sys.executable, "-c", probe, *args], input=stdin, capture_output=True, text=True)
        return p.stderr.strip().splitlines()[-1].split()[1:]

    assert loaded("statusline", "pending", str(os.getpid())) == []
    assert loaded("statusline", "attention") == []
    assert loaded("send", "s", "x", "--no-wake") == []
    hook = loaded("hook", "stop", "--agent", "claude", stdin="{}")
    assert not {"curses", "termbridge.top", "termbridge.glance"} & set(hook)


# ---------------------------------------------------------------- the dialog-hold stamp
def test_hold_starts_once_and_ends_on_anything_else(home, sleeper):
    tb("register", "s", "--pid", sleeper().pid)
    assert attention.note_surface(home, "s", "dialog", "permission dialog: x", 0, now=100.0) is None
    first = attention.note_surface(home, "s", "dialog", "permission dialog: x", 2, now=100.0)
    again = attention.note_surface(home, "s", "dialog", "another reason", 3, now=150.0)
    assert first == again == {"since": 100.0, "reason": "permission dialog: x"}  # the first sighting stays
    assert attention.needs_person(again, 30, now=131.0) and not attention.needs_person(again, 30, now=129.0)
    assert attention.note_surface(home, "s", "working", "busy", 3, now=160.0) is None
    assert attention.read_hold(home, "s") is None and not os.path.exists(attention.hold_path(home, "s"))
    Path(attention.hold_path(home, "s")).write_text("{not json")
    assert attention.read_hold(home, "s") is None  # damaged: no hold, never a crash
    assert attention.note_surface(home, "s", "dialog", "d", 1, now=200.0) == {"since": 200.0, "reason": "d"}


# ---------------------------------------------------------------- the plugin in a real client
def _load_plugin(lab):
    lab.tmux("set", "-g", "@termbridge-command", f"{shlex.quote(sys.executable)} -m termbridge")
    lab.tmux("set", "-g", "@termbridge-drain-on-focus", "off")  # only the test's own drains deliver
    out = subprocess.run(["tmux", "-S", lab.socket, "run-shell", str(PLUGIN)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.fixture
def client(lab, short_tmp):
    """A real client attached to the lab server from a pane of an outer server; returns its status line reader."""
    if lab.session is None:
        lab.pane("sleep 300")  # a session to attach to
    outer_dir = short_tmp / "outer"
    outer_dir.mkdir()
    outer = TmuxLab(outer_dir)
    pane = outer.pane(f"TERM=screen tmux -S {shlex.quote(lab.socket)} attach -t lab")
    retry_until(lambda: lab.tmux("list-clients").strip(), 10)

    def status_line() -> str:
        return outer.tmux("capture-pane", "-p", "-t", pane.pane_id).rstrip("\n").split("\n")[-1]

    yield status_line
    outer.kill()


def _status_right(lab, text):
    lab.tmux("set", "-g", "status-interval", "1")
    lab.tmux("set", "-g", "status-right-length", "120")
    lab.tmux("set", "-g", "status-right", text)


def test_plugin_rewrites_the_placeholders_once(lab):
    lab.pane("sleep 300")
    _status_right(lab, "<#{termbridge_pending}> <#{termbridge_attention}> %H:%M")
    lab.tmux("set", "-g", "status-left", "#{termbridge_attention}#S ")
    _load_plugin(lab)
    right = lab.tmux("show", "-gv", "status-right").strip()
    assert "termbridge_pending" not in right and "termbridge_attention" not in right
    assert right.count("statusline pending #{pane_pid}") == 1 and right.count("statusline attention") == 1
    assert right.startswith("<#(") and right.endswith("%H:%M")
    assert lab.tmux("show", "-gv", "status-left").strip().endswith("statusline attention --icon '⚠ ')#S")
    _load_plugin(lab)  # a reload with no placeholder left changes nothing
    assert lab.tmux("show", "-gv", "status-right").strip() == right
    # An icon option is baked in; an icon that would break the quoting falls back to the default.
    _status_right(lab, "#{termbridge_pending}|#{termbridge_attention}")
    lab.tmux("set", "-g", "@termbridge-pending-icon", "mail:")
    lab.tmux("set", "-g", "@termbridge-attention-icon", "it's")
    _load_plugin(lab)
    right = lab.tmux("show", "-gv", "status-right").strip()
    assert "--icon 'mail:')" in right and "--icon '⚠ ')" in right


def test_status_line_shows_the_current_pane_s_pending_and_clears_after_a_drain(lab, client):
    a = lab.agent("a")
    plain = lab.session.windows[0].active_pane  # the client fixture's first pane: no session in it
    tb("register", "a", "--pid", a.pid, "--kind", "codex")
    _status_right(lab, "[#{termbridge_pending}] end")
    _load_plugin(lab)
    lab.tmux("select-window", "-t", a.pane_id)
    retry_until(lambda: client().endswith("[] end"), 15)
    for body in ("one", "two", "three"):
        tb("send", "a", body, "--no-wake")
    retry_until(lambda: client().endswith("[✉ 3] end"), 15)
    lab.tmux("select-window", "-t", plain.pane_id)  # another pane: its own (no) session
    retry_until(lambda: client().endswith("[] end"), 15)
    lab.tmux("select-window", "-t", a.pane_id)
    retry_until(lambda: client().endswith("[✉ 3] end"), 15)
    assert tb("drain", "a").returncode == 0
    assert len(a.submissions()) == 1 and "three" in a.submissions()[0]
    retry_until(lambda: client().endswith("[] end"), 15)


def test_attention_names_a_dialog_holding_a_message_past_the_limit(lab, client, short_tmp):
    Path(os.environ["TERMBRIDGE_CONFIG"]).write_text("attention_after_s: 1\n")
    held, idle_dialog, busy = lab.agent("held"), lab.agent("quiet"), lab.agent("busy")
    for name, agent in (("held", held), ("quiet", idle_dialog), ("busy", busy)):
        tb("register", name, "--pid", agent.pid, "--kind", "codex")
    for name, agent in (("held", held), ("quiet", idle_dialog)):
        assert tb("submit", name, "/dialog").returncode == 0
        retry_until(lambda agent=agent: "Would you like to run" in agent.screen(), 10)
    assert tb("submit", "busy", "/busy 120").returncode == 0
    retry_until(lambda: "esc to interrupt" in busy.screen(), 10)
    _status_right(lab, "[#{termbridge_attention}] end")
    _load_plugin(lab)
    assert tb("send", "held", "waits behind the dialog").returncode == 0
    assert tb("send", "busy", "waits for the turn").returncode == 0
    # Only the dialog holding a message, once it has held it past attention_after_s: not the
    # dialog with nothing to deliver, not the agent that is merely working.
    retry_until(lambda: client().endswith("[⚠ held] end"), 20)
    hold = attention.read_hold(Path(os.environ["TERMBRIDGE_HOME"]), "held")
    assert hold and hold["reason"].startswith("permission dialog") and time.time() - hold["since"] > 1
    row = next(r for r in tb_json("status")["sessions"] if r["name"] == "held")
    assert row["pending"] == 1 and held.submissions() == ["/dialog"]  # the status line typed nothing
    # The person answers the dialog; the waiter delivers; the name leaves the status line.
    lab.tmux("send-keys", "-t", held.pane_id, "y")
    retry_until(lambda: len(held.submissions()) == 2, 20)
    retry_until(lambda: client().endswith("[] end"), 15)
    assert attention.read_hold(Path(os.environ["TERMBRIDGE_HOME"]), "held") is None
