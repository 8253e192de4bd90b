"""Confirmed delivery, piped submit, dialogs, copy mode and receipts, on real panes with the raw-mode agent."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time

import pytest
from helpers import TB, events_of, retry_until, tb, tb_json

pytestmark = pytest.mark.timeout(180)


def _row(name="a"):
    return next(r for r in tb_json("status")["sessions"] if r["name"] == name)


def _agent(lab, name="a", **kw):
    a = lab.agent(**kw)
    assert tb("register", name, "--pid", a.pid, "--kind", "codex").returncode == 0
    return a


# ---------------------------------------------------------------- confirmation
def test_one_swallowed_enter_is_retried_once_and_reported(lab):
    a = _agent(lab, swallow=1)
    res = tb_json("submit", "a", "hello once")
    assert res["submitted"] is True and res["confirmed"] == "screen" and res["enter_presses"] == 2
    retry_until(lambda: a.submissions() == ["hello once"])
    time.sleep(0.5)
    assert a.submissions() == ["hello once"]  # Enter only again: never a second paste
    assert len(events_of("enter_retry")) == 1 and len(events_of("confirmed")) == 1


def test_every_enter_swallowed_is_never_called_submitted(lab):
    a = _agent(lab, swallow=-1)
    p = tb("submit", "a", "stuck text", "--json")
    assert p.returncode == 1 and p.err.strip() == "termbridge: typed but not submitted: the text is in a's composer"
    res = json.loads(p.out)
    assert res["submitted"] is False and res["confirmed"] is None and res["enter_presses"] == 4
    assert a.submissions() == [] and "› stuck text" in a.screen()
    assert _row()["surface"] == "ours"
    assert len(events_of("unconfirmed")) == 1


def test_unconfirmed_drain_keeps_messages_then_enter_only_delivers_once(lab, short_tmp):
    (short_tmp / "config.yaml").write_text("confirm_retries: 1\nbackoff_base_ms: 60000\n")
    a = _agent(lab, swallow=2)  # 1 Enter + 1 retry swallowed; the next drain's Enter-only lands on #3
    ids = [tb_json("send", "a", f"m{i}", "--no-wake")["id"] for i in range(3)]
    p = tb("drain", "a")
    assert p.returncode == 1 and "typed but not submitted" in p.err and "stay queued" in p.err
    assert _row()["pending"] == 3 and a.submissions() == []
    assert all(tb_json("receipt", i)["state"] == "queued" for i in ids)
    p = tb("drain", "a")  # an unconfirmed Enter is a failed delivery: the session backs off
    assert p.returncode == 4 and "backing off after 1 failed" in p.err
    p = tb("drain", "a", "--force")  # ours: Enter only (#3 submits)
    assert p.returncode == 0, p.err
    retry_until(lambda: len(a.submissions()) == 1)
    sub = a.submissions()[0]
    assert all(i in sub for i in ids) and sub.count("> m2") == 1
    assert _row()["pending"] == 0
    assert [tb_json("receipt", i)["state"] for i in ids] == ["submitted"] * 3
    assert tb("drain", "a").returncode == 0
    time.sleep(0.4)
    assert len(a.submissions()) == 1


# ---------------------------------------------------------------- piped submit (issue 15)
def test_piped_submit_never_submits_a_persons_draft(lab):
    a = _agent(lab)
    a.type_slowly("my private half-typed draft")
    p = tb("submit", "a", "--json", input="review done, over to you\n")
    assert p.returncode == 4 and "draft" in p.err and p.out == ""
    time.sleep(0.5)
    assert a.submissions() == [] and "› my private half-typed draft" in a.screen()
    assert "review done" not in a.screen()
    lab.tmux("send-keys", "-t", a.pane_id, "C-u")
    retry_until(lambda: "? for shortcuts" in a.screen())
    res = json.loads(tb("submit", "a", "--json", input="review done, over to you\n").out)
    assert res["submitted"] is True and res["chars"] == len("review done, over to you")
    retry_until(lambda: a.submissions() == ["review done, over to you"])


def test_dash_and_omitted_text_read_stdin(lab):
    a = _agent(lab)
    assert tb("submit", "a", "-", input="from dash").returncode == 0
    retry_until(lambda: a.submissions() == ["from dash"])
    retry_until(lambda: "? for shortcuts" in a.screen())
    assert tb("submit", "a", input="from a pipe").returncode == 0
    retry_until(lambda: a.submissions() == ["from dash", "from a pipe"])


def test_bad_stdin_is_refused_before_typing(lab, short_tmp):
    a = _agent(lab)
    (short_tmp / "config.yaml").write_text("max_body_bytes: 100\n")
    for data, why in ((b"nul\x00byte", "NUL"), (b"\xff\xfe bad", "UTF-8"), (b"x" * 101, "limit"), (b"", "empty")):
        p = tb("submit", "a", input=data)
        assert p.returncode == 2 and why in p.err, (data, p.err)
    assert tb("submit", "a", "--gap-ms", "99999999999999999999999", "x").returncode == 2
    assert tb("submit", "a", "--gap-ms", "10001", "x").returncode == 2
    time.sleep(0.4)
    assert a.submissions() == [] and "? for shortcuts" in a.screen()  # nothing typed at all


def test_enter_only_needs_ours(lab):
    a = _agent(lab)
    a.type_slowly("person's words")
    p = tb("submit", "a", "--enter-only")
    assert p.returncode == 4 and "draft" in p.err
    lab.tmux("send-keys", "-t", a.pane_id, "C-u")
    assert tb("submit", "a", "typed by termbridge", "--no-enter").returncode == 0
    assert _row()["surface"] == "ours"
    res = tb_json("submit", "a", "--enter-only")
    assert res["submitted"] is True and res["chars"] == 0
    retry_until(lambda: a.submissions() == ["typed by termbridge"])


def test_bare_submit_on_a_terminal_is_usage(lab):
    _agent(lab)
    import pty

    m, s = pty.openpty()
    p = subprocess.run([*TB, "submit", "a"], stdin=s, capture_output=True, timeout=30)
    os.close(m)
    os.close(s)
    assert p.returncode == 2 and b"--enter-only" in p.stderr


# ---------------------------------------------------------------- dialogs
def test_nothing_typed_approves_a_dialog(lab):
    a = _agent(lab)
    assert tb("submit", "a", "/dialog").returncode == 0
    retry_until(lambda: "Would you like to run the following command?" in a.screen())
    assert _row()["surface"] == "dialog" and "touch /tmp/approved-by-termbridge" in _row()["reason"]
    res = tb_json("resolve", "a", "--surface")
    assert res["surface"] == "dialog" and res["target"] == f"tmux:{a.pane_id}" and "touch" in res["reason"]
    assert tb("resolve", "a", "--surface").out.strip().endswith(res["reason"] + ")")
    tb("send", "a", "peer text", "--no-wake")
    for args in (["drain", "a"], ["drain", "a", "--force"], ["submit", "a", "x"], ["submit", "a", "--enter-only"]):
        p = tb(*args)
        assert p.returncode == 4 and "dialog" in p.err, (args, p.err)
    assert tb_json("wake", "a")["outcome"] == "skipped_busy"
    assert tb_json("send", "a", "more")["wake"] == "skipped_busy"
    time.sleep(0.8)
    assert a.answers() == [] and _row()["pending"] == 2
    lab.tmux("send-keys", "-t", a.pane_id, "Escape")  # the person answers
    retry_until(lambda: a.answers() == [False])
    retry_until(lambda: len(a.submissions()) == 2, 15)  # the idle waiter then delivers both at once
    assert "peer text" in a.submissions()[1] and "more" in a.submissions()[1]
    assert _row()["pending"] == 0


# ---------------------------------------------------------------- copy mode (issue 17)
def test_copy_mode_is_working_submit_refuses_and_the_waiter_delivers_after(lab, attached_client):
    a = _agent(lab)
    attached_client()
    lab.tmux("copy-mode", "-t", a.pane_id)
    assert lab.tmux("display-message", "-p", "-t", a.pane_id, "#{pane_in_mode}").strip() == "1"
    row = _row()
    assert (row["surface"], row["reason"]) == ("working", "pane is in copy mode")
    p = tb("submit", "a", "must not land")
    assert p.returncode == 4 and "pane is in copy mode" in p.err
    mid = tb_json("send", "a", "after the mode")["id"]
    p = tb("drain", "a", "--force")
    assert p.returncode == 4 and "pane is in copy mode" in p.err
    time.sleep(1.0)
    assert lab.tmux("display-message", "-p", "-t", a.pane_id, "#{pane_in_mode}").strip() == "1"  # never cancelled
    assert a.submissions() == [] and tb_json("receipt", mid)["state"] == "queued"
    lab.tmux("send-keys", "-t", a.pane_id, "-X", "cancel")
    retry_until(lambda: len(a.submissions()) == 1, 10)
    assert "after the mode" in a.submissions()[0] and "must not land" not in a.submissions()[0]
    # The agent has it as soon as Enter lands; the receipt follows the waiter's confirmation.
    retry_until(lambda: tb_json("receipt", mid)["state"] == "submitted", 10)


def test_other_modes_and_hidden_windows(lab, attached_client):
    a = _agent(lab)
    attached_client()
    lab.tmux("clock-mode", "-t", a.pane_id)
    assert _row()["reason"] == "pane is in clock mode"
    lab.tmux("send-keys", "-t", a.pane_id, "q")
    retry_until(lambda: lab.tmux("display-message", "-p", "-t", a.pane_id, "#{pane_in_mode}").strip() == "0")
    lab.tmux("choose-tree", "-t", a.pane_id)  # a chooser drawn over the agent's pane
    retry_until(lambda: _row()["reason"] == "pane is in choose-tree", 5)
    assert tb("submit", "a", "must not land").returncode == 4
    lab.tmux("send-keys", "-t", a.pane_id, "q")  # the person leaves the chooser
    retry_until(lambda: lab.tmux("display-message", "-p", "-t", a.pane_id, "#{pane_in_mode}").strip() == "0")
    assert a.submissions() == []
    lab.pane("sleep 300")  # a new window: the agent's window is now hidden
    lab.tmux("resize-pane", "-Z", "-t", a.pane_id)
    assert tb_json("submit", "a", "into a hidden window")["submitted"] is True
    retry_until(lambda: a.submissions() == ["into a hidden window"])


@pytest.fixture
def attached_client(lab, short_tmp):
    """Attach a real client to the lab server (from an outer tmux server), once its session exists."""
    from lab import TmuxLab

    outers = []

    def attach():
        (short_tmp / "outer").mkdir()
        outer = TmuxLab(short_tmp / "outer")
        outers.append(outer)
        outer.pane(f"TERM=screen tmux -S {shlex.quote(lab.socket)} attach -t lab")
        retry_until(lambda: lab.tmux("list-clients").strip(), 10)

    yield attach
    for o in outers:
        o.kill()


# ---------------------------------------------------------------- receipts and --wait
def test_send_wait_both_ways(lab):
    a = _agent(lab)
    assert tb("submit", "a", "/busy 3").returncode == 0
    retry_until(lambda: "esc to interrupt" in a.screen())
    p = tb("send", "a", "too soon", "--wait", "0.5", "--json")
    assert p.returncode == 4 and "stays queued" in p.err and json.loads(p.out)["state"] == "queued"
    p = tb("send", "a", "in time", "--wait", "20", "--json")
    assert p.returncode == 0, p.err
    assert json.loads(p.out)["state"] == "submitted"
    retry_until(lambda: len(a.submissions()) == 2)
    assert "too soon" in a.submissions()[1] and "in time" in a.submissions()[1]


def test_received_from_the_agents_own_transcript(home, short_tmp):
    """Found from the PID alone (no hooks): Claude's ~/.claude/sessions/<pid>.json names its session
    id, whose transcript proves `received`; another session's transcript beside it proves nothing."""
    from termbridge import proctree

    fake_home = short_tmp / "agenthome"
    proj = fake_home / ".claude" / "projects" / "-work-x"
    proj.mkdir(parents=True)
    agent = subprocess.Popen(["sleep", "300"], env={"HOME": str(fake_home), "PATH": os.environ["PATH"]})
    try:
        (fake_home / ".claude" / "sessions").mkdir()
        (fake_home / ".claude" / "sessions" / f"{agent.pid}.json").write_text(
            json.dumps(
                {
                    "pid": agent.pid,
                    "sessionId": "c45c305b-1111-4aaa-8bbb-0123456789ab",
                    "procStart": proctree.start_time(agent.pid),
                }
            )
        )
        tb("register", "c", "--pid", agent.pid, "--kind", "claude")
        mid = tb_json("send", "c", "read me", "--no-wake")["id"]
        other = tb_json("send", "c", "not this one", "--no-wake")["id"]
        assert tb("drain", "c", "--print").returncode == 0
        assert tb_json("receipt", mid)["state"] == "submitted"

        def line(i):
            return json.dumps(
                {"type": "user", "message": {"content": f"[termbridge] 1 peer message\n--- message {i} from x"}}
            )

        (proj / "c45c305b-1111-4aaa-8bbb-0123456789ab.jsonl").write_text(line(mid) + "\n")
        (proj / "s2-someone-else.jsonl").write_text(line(other) + "\n")  # the same HOME, another session
        r = tb_json("receipt", mid)
        assert r["state"] == "received" and r["via"] == "record" and set(r["at"]) == {"queued", "submitted", "received"}
        assert tb_json("receipt", other)["state"] == "submitted"
        assert tb_json("status")["sessions"][0]["receipts"] == {"submitted": 1, "received": 1, "answered": 0}
        assert tb_json("status")["sessions"][0]["record"] == str(proj / "c45c305b-1111-4aaa-8bbb-0123456789ab.jsonl")
        assert tb("receipt", "01NOSUCHID0000000000000000").returncode == 3
    finally:
        agent.kill()
        agent.wait()


# ---------------------------------------------------------------- found by an adversarial pass
def test_a_swallowed_enter_under_a_paste_taller_than_the_pane_is_not_called_submitted(lab):
    a = _agent(lab, swallow=-1)
    tall = "\n".join(f"line {i}" for i in range(60))  # scrolls the composer line off the 45-row pane
    p = tb("submit", "a", "--json", input=tall)
    assert p.returncode == 1 and "typed but not submitted" in p.err
    assert json.loads(p.out)["submitted"] is False and a.submissions() == []
    assert _row()["surface"] == "ours"  # the screen is all termbridge's text: Enter only next time
    assert tb("submit", "a", "more text").returncode == 4  # never typed on top of it


def test_text_staged_with_no_enter_is_not_submitted_by_an_unrelated_send(lab):
    a = _agent(lab)
    assert tb("submit", "a", "staged by a script", "--no-enter").returncode == 0
    assert _row()["surface"] == "ours"
    res = tb_json("send", "a", "a peer message")
    assert res["wake"] == "skipped_busy"
    p = tb("drain", "a")
    assert p.returncode == 4 and "submit --enter-only" in p.err
    time.sleep(1.0)
    assert a.submissions() == [] and "› staged by a script" in a.screen()
    assert tb_json("submit", "a", "--enter-only")["submitted"] is True  # its owner submits it
    retry_until(lambda: len(a.submissions()) == 2, 15)  # then the waiter delivers the peer message
    assert a.submissions()[0] == "staged by a script" and "a peer message" in a.submissions()[1]


def test_a_shell_registered_without_kind_never_runs_peer_text(lab, short_tmp):
    marker = short_tmp / "PWNED"
    pane = lab.pane("exec env -i PATH=/usr/bin:/bin HOME=/tmp TERM=screen PS1='$ ' bash --norc --noprofile -i")
    assert tb_json("register", "b", "--pid", int(pane.pane_pid))["kind"] == "shell"  # detected
    tb("register", "o", "--pid", int(pane.pane_pid), "--kind", "other")  # even when told 'other'
    retry_until(lambda: _row("o")["surface"] == "idle", 15)
    tb("send", "o", f"'; touch {marker} #", "--no-wake")
    assert tb("drain", "o").returncode == 0
    time.sleep(1.0)
    assert not marker.exists() and "touch" not in lab.tmux("capture-pane", "-p", "-t", pane.pane_id)
    assert _row("o")["pending"] == 1
    assert tb("submit", "o", "echo hi").returncode == 2


def test_a_shell_asking_a_question_or_inside_a_heredoc_gets_no_nudge(lab, short_tmp):
    notes = short_tmp / "notes.txt"
    pane = lab.pane("exec env -i PATH=/usr/bin:/bin HOME=/tmp TERM=screen PS1='$ ' bash --norc --noprofile -i")
    tb("register", "q", "--pid", int(pane.pane_pid), "--kind", "shell")
    retry_until(lambda: _row("q")["surface"] == "idle", 15)
    lab.tmux("send-keys", "-t", pane.pane_id, "-l", "read -p 'Do you want to continue? [Y/n] ' a")
    lab.tmux("send-keys", "-t", pane.pane_id, "Enter")
    retry_until(lambda: "[Y/n]" in lab.tmux("capture-pane", "-p", "-t", pane.pane_id), 5)
    tb("send", "q", "peer", "--no-wake")
    assert tb("drain", "q").returncode == 4 and _row("q")["surface"] == "working"
    lab.tmux("send-keys", "-t", pane.pane_id, "n", "Enter")
    lab.tmux("send-keys", "-t", pane.pane_id, "-l", f"cat > {notes} <<EOF")
    lab.tmux("send-keys", "-t", pane.pane_id, "Enter")
    retry_until(lambda: lab.tmux("capture-pane", "-p", "-t", pane.pane_id).rstrip().endswith(">"), 5)
    assert tb("drain", "q").returncode == 4
    lab.tmux("send-keys", "-t", pane.pane_id, "-l", "EOF")
    lab.tmux("send-keys", "-t", pane.pane_id, "Enter")
    retry_until(lambda: _row("q")["surface"] == "idle", 10)
    assert notes.read_text() == ""  # nothing of termbridge's went into the heredoc
