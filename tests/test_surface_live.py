"""The surface reader on real tmux panes, over time: termbridge's own text under a busy marker, and a
hook's busy mark that the screen overrules (docs/surfaces.md, "A hook's busy mark is a hint").

- A Codex-like agent keeps a submission on screen as `› TEXT` with `• Working (…)` below
  (tests/history_agent.py): `submit` confirms by that screen (`working`) and presses Enter once.
- A busy mark from a prompt hook is a hint: an interrupt (Esc) runs no Stop hook, so the mark
  outlives the turn; once the screen reads idle (empty composer, no busy marker) in samples a
  second apart, `status` and the idle waiter see `idle` and deliver.
"""

from __future__ import annotations

import json
import shlex
import time

import pytest
from helpers import retry_until, tb, tb_json
from lab import HERE, PY, Agent

from termbridge import idle

pytestmark = pytest.mark.timeout(120)


def _row(name: str = "a") -> dict:
    return next(r for r in tb_json("status")["sessions"] if r["name"] == name)


@pytest.fixture
def agent(lab):
    a = lab.agent()
    assert tb("register", "a", "--pid", a.pid, "--kind", "codex").returncode == 0
    return a


# ---------------------------------------------------------------- termbridge's text under a busy marker
@pytest.fixture
def history_agent(lab):
    log = lab.dir / "history.log"
    cmd = f"exec {shlex.quote(PY)} {shlex.quote(str(HERE / 'history_agent.py'))} --log {shlex.quote(str(log))} --work 4"
    a = Agent(lab, lab.pane(cmd), log).wait_ready()
    assert tb("register", "h", "--pid", a.pid, "--kind", "codex").returncode == 0
    return a


def test_submit_confirms_by_the_working_screen_and_presses_enter_once(history_agent):
    p = tb("submit", "h", "hello world", "--json")
    assert p.returncode == 0, p.err
    res = json.loads(p.out)
    assert (res["submitted"], res["confirmed"], res["enter_presses"]) == (True, "screen", 1), res
    assert "› hello world" in history_agent.screen() and "• Working" in history_agent.screen()
    # Once confirmed, the text is no longer termbridge's: the history line reads as any text in a
    # composer-shaped line (a draft, never typed into), never as termbridge's own to press Enter on.
    assert _row("h")["surface"] in ("working", "draft")
    time.sleep(1.0)
    assert history_agent.submissions() == ["hello world"]  # no Enter went into the turn


def test_a_drain_into_the_history_agent_is_submitted_once(history_agent):
    mid = tb_json("send", "h", "peer note", "--from", "peer", "--no-wake")["id"]
    p = tb("drain", "h")
    assert p.returncode == 0, p.err
    time.sleep(1.0)
    subs = history_agent.submissions()
    assert len(subs) == 1 and mid in subs[0], subs
    assert tb_json("receipt", mid)["state"] in ("submitted", "received")


# ---------------------------------------------------------------- a busy mark is a hint
def test_status_overrules_a_busy_mark_once_the_screen_reads_idle_for_a_second(agent):
    assert tb("mark", "a", "busy").returncode == 0  # a prompt hook's mark; the turn was interrupted
    first = _row()
    assert first["surface"] == "working" and "hook marked busy" in first["reason"], first
    row = retry_until(lambda: (lambda r: r if r["surface"] == "idle" else None)(_row()), 10, 0.3)
    assert "busy mark is outdated" in row["reason"], row
    assert _row()["surface"] == "idle"  # overruled for good: that mark's turn is over
    assert tb("mark", "a", "busy").returncode == 0  # a new turn's mark counts again
    assert _row()["surface"] == "working"


def test_the_waiter_delivers_after_an_interrupt_left_a_busy_mark(agent):
    assert tb("mark", "a", "busy").returncode == 0
    mid = tb_json("send", "a", "queued behind a stale mark")["id"]  # starts the idle waiter
    retry_until(lambda: len(agent.submissions()) == 1, 15, 0.2)
    assert mid in agent.submissions()[0]
    time.sleep(1.0)
    assert len(agent.submissions()) == 1


def test_a_screen_that_is_not_idle_starts_the_count_over(agent, home, lab):
    tb("mark", "a", "busy")
    assert _row()["surface"] == "working"
    assert idle.read_screen_idle(home, "a") is not None  # counting from this read
    lab.tmux("send-keys", "-t", agent.pane_id, "-l", "a person types")
    retry_until(lambda: _row()["surface"] == "draft", 5)
    assert idle.read_screen_idle(home, "a") is None  # the count starts over
    assert _row()["pending"] == 0


def test_the_idle_count_needs_the_same_screen_for_a_second(home, sleeper):
    proc = sleeper()
    assert tb("register", "s", "--pid", proc.pid, "--kind", "codex").returncode == 0
    idle.set_mark(home, "s", "busy")
    mark = idle.read_mark(home, "s")
    assert idle.screen_idle_under(home, "s", mark, "screen-a") == 0.0
    assert idle.screen_idle_under(home, "s", mark, "screen-b") == 0.0  # another screen: from now
    retry_until(lambda: idle.screen_idle_under(home, "s", mark, "screen-b") >= idle.SCREEN_IDLE_S, 5)
    cfg = {"busy_mark_stale_s": 300}
    assert idle.fresh_busy_mark(home, "s", cfg) is None and idle.busy_mark(home, "s", cfg) is None
    idle.screen_not_idle(home, "s")  # an overruled mark stays overruled
    assert idle.fresh_busy_mark(home, "s", cfg) is None
    time.sleep(0.01)
    idle.set_mark(home, "s", "busy")  # the next turn
    assert idle.fresh_busy_mark(home, "s", cfg) is not None
