"""Idle detection, wake nudges and drains into real panes running the raw-mode agent."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from helpers import TB, retry_until, tb, tb_json

from termbridge.config import NUDGE_TEXT, PULL_NUDGE_TEXT

pytestmark = pytest.mark.timeout(180)

NUDGE = NUDGE_TEXT.format(session="a")


@pytest.fixture
def agent(lab):
    a = lab.agent()
    assert tb("register", "a", "--pid", a.pid, "--kind", "codex").returncode == 0
    return a


def _pending(name="a"):
    return next(r for r in tb_json("status")["sessions"] if r["name"] == name)["pending"]


def test_send_into_idle_push_session_delivers_framed_messages_at_once(agent):
    assert tb("wake", "a").out.strip() == "skipped_empty"
    res = tb_json("send", "a", "PEER TEXT", "--from", "lead")
    assert res["wake"] == "sent"  # push (the default): delivered, one turn, no nudge first
    retry_until(lambda: len(agent.submissions()) == 1)
    sub = agent.submissions()[0]
    assert sub.startswith("[termbridge] 1 peer message") and "PEER TEXT" in sub and res["id"] in sub
    assert tb_json("receipt", res["id"])["state"] == "submitted"
    assert _pending() == 0


def test_wake_into_idle_pull_session_sends_fixed_nudge_not_peer_text(lab):
    a = lab.agent()
    assert tb("register", "p", "--pid", a.pid, "--kind", "codex", "--delivery", "pull").returncode == 0
    res = tb_json("send", "p", "SECRET PEER TEXT", "--from", "lead")
    assert res["wake"] == "sent"
    retry_until(lambda: a.submissions() == [PULL_NUDGE_TEXT.format(session="p")])
    assert "SECRET" not in a.screen()
    assert _pending("p") == 1  # pull: the agent fetches it itself
    assert tb_json("status")["sessions"][0]["last_wake"] == "sent"


def test_busy_by_mark_and_by_screen(agent):
    tb("send", "a", "queued", "--no-wake")
    assert tb("mark", "a", "busy").returncode == 0
    assert tb_json("wake", "a")["outcome"] == "skipped_busy"
    assert tb("drain", "a").returncode == 4
    tb("mark", "a", "idle")
    # busy on screen: the agent works (busy marker + output) for a while
    agent.type_slowly("/busy 30")
    time.sleep(0.2)
    agent.lab.tmux("send-keys", "-t", agent.pane_id, "Enter")
    retry_until(lambda: "esc to interrupt" in agent.screen())
    assert tb_json("wake", "a")["outcome"] == "skipped_busy"
    p = tb("drain", "a")
    assert p.returncode == 4 and "busy" in p.err
    assert _pending() == 1 and agent.submissions() == ["/busy 30"]


def test_draft_is_never_submitted_over(agent):
    agent.type_slowly("half-typed by the human")
    tb("send", "a", "peer", "--no-wake")
    assert tb_json("wake", "a")["outcome"] == "skipped_busy"
    assert tb("drain", "a").returncode == 4
    assert tb("drain", "a", "--force").returncode == 4  # --force never skips the draft check
    time.sleep(0.3)
    assert agent.submissions() == []
    assert "› half-typed by the human" in agent.screen()  # the draft is exactly as it was
    assert _pending() == 1


def test_sixteen_parallel_wakes_send_one_nudge(agent):
    tb("send", "a", "m", "--no-wake")
    procs = [subprocess.Popen([*TB, "wake", "a"], stdout=subprocess.PIPE, text=True) for _ in range(16)]
    outcomes = [p.communicate()[0].strip() for p in procs]
    assert outcomes.count("sent") == 1, outcomes
    assert set(outcomes) <= {"sent", "skipped_debounced"}
    time.sleep(0.5)
    assert agent.submissions() == [NUDGE]


def test_debounce_window_elapsing_sends_again(agent, short_tmp):
    (short_tmp / "config.yaml").write_text("debounce_ms: 1500\n")
    tb("send", "a", "m", "--no-wake")
    assert tb("wake", "a").out.strip() == "sent"
    retry_until(lambda: len(agent.submissions()) == 1)
    assert tb("wake", "a").out.strip() == "skipped_debounced"
    time.sleep(1.6)
    assert tb("wake", "a").out.strip() == "sent"
    retry_until(lambda: len(agent.submissions()) == 2)


def test_skipped_no_target(home, lab, sleeper):
    tb("register", "x", "--pid", sleeper().pid)
    tb("send", "x", "m", "--no-wake")
    assert tb_json("wake", "x")["outcome"] == "skipped_no_target"
    evs = [json.loads(line) for line in tb("events", "--json").out.splitlines()]
    assert [e["outcome"] for e in evs if e["event"] == "wake_outcome"] == ["skipped_no_target"]


def test_drain_into_idle_is_one_framed_submission(agent):
    ids = [tb_json("send", "a", body, "--from", "peer", "--no-wake")["id"] for body in ("one", "two\nlines", "three")]
    assert tb("drain", "a").returncode == 0
    retry_until(lambda: len(agent.submissions()) == 1)
    sub = agent.submissions()[0]
    assert sub.startswith("[termbridge] 3 peer messages") and "not instructions from your user" in sub
    assert all(i in sub for i in ids) and "> two\n> lines" in sub
    assert _pending() == 0
    assert tb("drain", "a").returncode == 0  # nothing to do is success
    time.sleep(0.3)
    assert len(agent.submissions()) == 1


def test_drain_force_skips_idle_check_only(agent):
    tb("send", "a", "urgent", "--no-wake")
    tb("mark", "a", "busy")
    assert tb("drain", "a").returncode == 4
    assert tb("drain", "a", "--force").returncode == 0
    retry_until(lambda: len(agent.submissions()) == 1 and "urgent" in agent.submissions()[0])


def test_drain_killed_mid_submit_loses_nothing(agent, short_tmp):
    (short_tmp / "config.yaml").write_text("gap_ms: 2500\n")
    ids = {tb_json("send", "a", f"msg {i}", "--no-wake")["id"] for i in range(5)}
    p = subprocess.Popen([*TB, "drain", "a"])
    retry_until(lambda: "msg 4" in agent.screen(), 10)  # pasted, waiting out the gap before Enter
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert agent.submissions() == []
    assert tb_json("status")["sessions"][0]["pending"] == 5  # the dead drain's claim counts as pending
    assert tb_json("status")["sessions"][0]["surface"] == "ours"
    assert tb("drain", "a").returncode == 0  # its paste is termbridge's own text: Enter only, no second paste
    retry_until(lambda: len(agent.submissions()) == 1)
    assert all(i in agent.submissions()[0] for i in ids) and agent.submissions()[0].count("msg 4") == 1
    assert tb_json("status")["sessions"][0]["pending"] == 0
    time.sleep(0.5)
    assert tb("drain", "a").returncode == 0 and len(agent.submissions()) == 1  # never twice


def test_killed_drain_text_edited_by_a_person_is_a_draft_again(agent, short_tmp):
    (short_tmp / "config.yaml").write_text("gap_ms: 2500\n")
    tb("send", "a", "msg one", "--no-wake")
    p = subprocess.Popen([*TB, "drain", "a"])
    retry_until(lambda: "msg one" in agent.screen(), 10)
    p.send_signal(signal.SIGKILL)
    p.wait()
    agent.type_slowly(" plus my words")
    assert tb_json("status")["sessions"][0]["surface"] == "draft"
    assert tb("drain", "a").returncode == 4 and tb("drain", "a", "--force").returncode == 4
    time.sleep(0.3)
    assert agent.submissions() == [] and _pending() == 1


def test_drain_pane(agent, lab):
    other = lab.pane("sleep 300")
    tb("send", "a", "via pane focus", "--no-wake")
    p = tb("drain", "--pane", other.pane_id)
    assert p.returncode == 0 and p.out == "" and _pending() == 1  # hosts no session: nothing done
    assert tb("drain", "--pane", "bogus").returncode == 2
    assert tb("drain", "--pane", agent.pane_id).returncode == 0
    retry_until(lambda: len(agent.submissions()) == 1 and "via pane focus" in agent.submissions()[0])


def test_failed_delivery_backs_off_then_dead_letters(lab, home, short_tmp):
    (short_tmp / "config.yaml").write_text("gap_ms: 1500\ndead_letter_attempts: 2\nbackoff_base_ms: 60000\n")
    keep = lab.agent("keeper")  # keeps the tmux server alive when the target pane dies
    a = lab.agent("victim")
    tb("register", "a", "--pid", a.pid, "--kind", "codex")
    mid = tb_json("send", "a", "fragile", "--no-wake")["id"]
    p = subprocess.Popen([*TB, "drain", "a"], stderr=subprocess.PIPE, text=True)
    retry_until(lambda: "fragile" in a.screen(), 10)
    lab.tmux("kill-pane", "-t", a.pane_id)  # the pane dies between paste and Enter
    _, err = p.communicate()
    assert p.returncode == 1 and "stay queued" in err
    b = lab.agent("reborn")
    tb("register", "a", "--pid", b.pid, "--kind", "codex")
    assert _pending() == 1
    p = tb("drain", "a")
    assert p.returncode == 4 and "backing off" in p.err  # not retried on every trigger
    q = subprocess.Popen([*TB, "drain", "a", "--force"], stderr=subprocess.PIPE, text=True)
    retry_until(lambda: "fragile" in b.screen(), 10)
    lab.tmux("kill-pane", "-t", b.pane_id)
    q.communicate()
    dead = [json.loads(line) for line in tb("dead-letter", "a", "--json").out.splitlines()]
    assert [d["id"] for d in dead] == [mid] and "failed 2 times" in dead[0]["reason"]
    assert keep.submissions() == []
