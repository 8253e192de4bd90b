"""Delivery when the agent goes idle: the per-session idle waiter, on real panes, killed at any instant."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from helpers import TB, events_of, retry_until, tb, tb_json

from termbridge.config import PULL_NUDGE_TEXT

pytestmark = pytest.mark.timeout(180)


def _row(name="a"):
    return next(r for r in tb_json("status")["sessions"] if r["name"] == name)


def _busy(agent, secs):
    assert tb("submit", "a", f"/busy {secs}").returncode == 0
    retry_until(lambda: "esc to interrupt" in agent.screen())


@pytest.fixture
def agent(lab):
    a = lab.agent()
    assert tb("register", "a", "--pid", a.pid, "--kind", "codex").returncode == 0
    return a


def test_busy_then_idle_delivers_once_with_no_trigger(agent):
    _busy(agent, 3)
    ids = [tb_json("send", "a", f"while busy {i}")["id"] for i in range(3)]
    w = _row()["waiter"]
    assert w and w["pid"] > 0  # one waiter for the session, shown by status
    assert len({e["pid"] for e in events_of("waiter_started")}) == 1
    retry_until(lambda: len(agent.submissions()) == 2, 20)
    sub = agent.submissions()[1]
    assert all(i in sub for i in ids) and sub.count("while busy 2") == 1  # all three in one turn
    retry_until(lambda: _row()["waiter"] is None, 10)
    exits = events_of("waiter_exit")
    assert [e["reason"] for e in exits] == ["nothing pending"]
    time.sleep(1.0)
    assert len(agent.submissions()) == 2 and _row()["pending"] == 0


def test_a_person_typing_first_is_never_typed_over(agent, lab):
    _busy(agent, 2)
    tb("send", "a", "wait for the person")
    agent.type_slowly("my own question")
    time.sleep(3.0)  # the agent is idle now, but the composer holds a draft
    assert agent.submissions() == ["/busy 2"] and "› my own question" in agent.screen()
    assert _row()["waiter"] is not None and _row()["surface"] == "draft"
    lab.tmux("send-keys", "-t", agent.pane_id, "Enter")  # the person submits
    retry_until(lambda: len(agent.submissions()) == 3, 15)
    assert agent.submissions()[1] == "my own question" and "wait for the person" in agent.submissions()[2]


def test_waiter_killed_mid_wait_loses_nothing(agent):
    _busy(agent, 3)
    tb("send", "a", "first")
    pid = retry_until(lambda: (_row()["waiter"] or {}).get("pid"), 5)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    assert _row()["waiter"] is None and _row()["pending"] == 1
    tb("send", "a", "second")  # the next send starts a new waiter
    retry_until(lambda: len(agent.submissions()) == 2, 20)
    sub = agent.submissions()[1]
    assert "first" in sub and "second" in sub
    time.sleep(1.0)
    assert len(agent.submissions()) == 2 and _row()["pending"] == 0


def test_waiter_killed_mid_delivery_loses_and_doubles_nothing(agent, short_tmp):
    _busy(agent, 2)
    (short_tmp / "config.yaml").write_text("gap_ms: 3000\n")  # a long paste->Enter gap to kill it in
    mid = tb_json("send", "a", "fragile")["id"]
    pid = retry_until(lambda: (_row()["waiter"] or {}).get("pid"), 5)
    retry_until(lambda: "fragile" in agent.screen(), 15)  # pasted, waiting out the gap
    os.kill(pid, signal.SIGKILL)
    assert agent.submissions() == ["/busy 2"]
    (short_tmp / "config.yaml").write_text("gap_ms: 200\n")
    res = tb_json("send", "a", "later")  # sees termbridge's own text: Enter only, then delivers the rest
    retry_until(lambda: len(agent.submissions()) == 3, 20)  # Enter only on "fragile", then "later" at idle
    retry_until(lambda: _row()["pending"] + _row()["in_flight"] == 0, 10)
    everything = "\n".join(agent.submissions()[1:])
    assert everything.count("> fragile") == 1 and everything.count("> later") == 1
    assert tb_json("receipt", mid)["state"] == "submitted" and tb_json("receipt", res["id"])["state"] == "submitted"


def test_two_waiters_never_both_run(agent, home):
    _busy(agent, 3)
    tb("send", "a", "once")
    retry_until(lambda: _row()["waiter"], 5)
    p = subprocess.run([*TB, "waiter", "a"], capture_output=True, timeout=30)
    assert p.returncode == 0  # the second one sees the lock and leaves at once
    retry_until(lambda: len(agent.submissions()) == 2, 20)
    time.sleep(1.0)
    assert len(agent.submissions()) == 2 and len(events_of("waiter_started")) == 1


def test_waiter_exits_when_the_session_dies(lab):
    a = lab.agent(work=30)
    tb("register", "a", "--pid", a.pid, "--kind", "codex")
    assert tb("submit", "a", "start working").returncode == 0
    retry_until(lambda: "esc to interrupt" in a.screen())
    tb("send", "a", "never delivered")
    retry_until(lambda: _row()["waiter"], 5)
    os.kill(a.pid, signal.SIGKILL)
    retry_until(lambda: any(e["reason"] == "session died" for e in events_of("waiter_exit")), 10)
    assert _row()["pending"] == 1


def test_pull_session_gets_only_the_nudge_when_idle(lab):
    a = lab.agent()
    tb("register", "p", "--pid", a.pid, "--kind", "codex", "--delivery", "pull")
    assert tb("submit", "p", "/busy 2").returncode == 0
    retry_until(lambda: "esc to interrupt" in a.screen())
    assert tb_json("send", "p", "SECRET BODY")["wake"] == "skipped_busy"
    nudge = PULL_NUDGE_TEXT.format(session="p")
    retry_until(lambda: a.submissions()[1:] == [nudge], 20)
    retry_until(
        lambda: any(e["event"] == "waiter_exit" for e in map(json.loads, tb("events", "--json").out.splitlines())), 10
    )
    time.sleep(1.0)
    assert a.submissions()[1:] == [nudge] and "SECRET" not in a.screen()
    assert _row("p")["pending"] == 1  # the agent fetches it (MCP inbox / drain --print)
