"""Receipts are proof from the agent's own record (0.3): only the session's own evidence makes a
message `received`; a vanished text with no such proof is delivered again; unconfirmed Enters back
off and end in dead letters; hand-overs skip what was received; hooks + MCP stay one turn a message.
Real tmux panes, real processes, counts."""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

import pytest
from helpers import events_of, retry_until, tb, tb_json

pytestmark = pytest.mark.timeout(180)
HOME = lambda: Path(os.environ["TERMBRIDGE_HOME"])  # noqa: E731


def _row(name):
    return next(r for r in tb_json("status")["sessions"] if r["name"] == name)


def _config(short_tmp, text):
    (short_tmp / "config.yaml").write_text(text)
    from termbridge import config

    config._cache.clear()


def _agent_with_home(lab, agent_home: Path, swallow: int = 0):
    """The demo agent with its own HOME (where a sender's transcript can sit beside it)."""
    from lab import PY, Agent

    lab.n += 1
    log = lab.dir / f"agent{lab.n}.log"
    cmd = (
        f"exec env HOME={shlex.quote(str(agent_home))} {shlex.quote(PY)} -m termbridge.demo_agent "
        f"--log {shlex.quote(str(log))} --swallow {swallow}"
    )
    return Agent(lab, lab.pane(cmd), log).wait_ready()


def test_a_second_agents_transcript_under_the_same_home_never_proves_receipt(lab, short_tmp):
    """The issue's sequence: the Enter is swallowed, a person clears the composer, and the sender's own
    transcript (same HOME) holds the message's framed header. The message is not `received`: it stays
    queued and is delivered again, once."""
    _config(short_tmp, "confirm_retries: 0\nbackoff_base_ms: 0\n")
    agent_home = short_tmp / "agenthome"
    a = _agent_with_home(lab, agent_home, swallow=1)
    assert tb("register", "b", "--pid", a.pid, "--kind", "codex").returncode == 0
    mid = tb_json("send", "b", "please review the parser", "--from", "a", "--no-wake")["id"]
    # The sender (another Codex under the same HOME) recorded the id its send printed, even framed.
    decoy = agent_home / ".codex/sessions/2026/12/01" / "rollout-2026-12-01T10-00-00-0199a1b2-0000-7000-8000-0001.jsonl"
    decoy.parent.mkdir(parents=True)
    decoy.write_text(json.dumps({"type": "response_item", "text": f"--- message {mid} from a at x"}) + "\n")
    p = tb("drain", "b")
    assert p.returncode == 1 and "typed but not submitted" in p.err, p.err
    assert a.submissions() == [] and _row("b")["surface"] == "ours"
    lab.tmux("send-keys", "-t", a.pane_id, "C-u")  # the person clears the composer
    retry_until(lambda: "please review" not in a.screen())
    assert tb_json("receipt", mid)["state"] == "queued"
    assert tb_json("status")["sessions"][0]["record"] is None  # nothing of its own is bound
    p = tb("drain", "b")
    assert p.returncode == 0, p.err
    retry_until(lambda: len(a.submissions()) == 1)
    assert mid in a.submissions()[0]
    r = tb_json("receipt", mid)
    assert r["state"] == "submitted" and r["via"] == "screen"  # never `received` from the decoy
    assert _row("b")["pending"] == 0
    time.sleep(0.5)
    assert len(a.submissions()) == 1
    # With no record of its own, waiting for `received` is refused at once.
    p = tb("send", "b", "x", "--no-wake", "--wait", "5", "--until", "received")
    assert p.returncode == 2 and "no record of its own" in p.err and len(p.err.strip().splitlines()) == 1


def test_an_agent_that_never_accepts_enter_gets_few_presses_then_a_dead_letter(lab):
    """`--drop-enters 1000`: the waiter backs off, at most max_enter_presses (4) Enters in all, then the
    message is dead-lettered with the reason; the text is left for the person (a draft from then on)."""
    a = lab.agent(swallow=1000)
    assert tb("register", "b", "--pid", a.pid, "--kind", "codex").returncode == 0
    mid = tb_json("send", "b", "nobody presses this")["id"]

    def dead_letters():
        return [json.loads(x) for x in tb("dead-letter", "b", "--json").out.splitlines()]

    dead = retry_until(dead_letters, 20, 0.2)
    assert [d["id"] for d in dead] == [mid] and "never accepted Enter" in dead[0]["reason"]
    retry_until(lambda: not tb_json("status")["sessions"][0]["waiter"], 20)
    time.sleep(3)  # nothing presses Enter any more (a negative check: counted below)
    presses = sum(e.get("enter_presses", 0) for e in events_of("confirmed") + events_of("unconfirmed"))
    assert 1 <= presses <= 5, presses
    assert a.submissions() == []
    assert _row("b")["surface"] == "draft" and _row("b")["pending"] == 0
    assert _row("b")["failed_deliveries"] >= 1  # the unconfirmed Enter fed the back-off


def test_a_hand_over_never_includes_a_message_already_received(home, short_tmp):
    """Typed, seen by the agent's own prompt hook, then released (an unconfirmed Enter): the next Stop
    hands over only what the agent has not received; the received one counts delivered."""
    from agent_host import AgentHost

    from termbridge.outbox import Outbox

    h = AgentHost(short_tmp, "claude")
    try:
        assert tb("register", "c", "--pid", h.pid, "--kind", "claude").returncode == 0
        seen = tb_json("send", "c", "seen already", "--no-wake")["id"]
        box = Outbox(home, "c")
        with box.delivering() as d:
            from termbridge import framing

            text = framing.render_messages(d.records)
            prompt = {"session_id": "s", "transcript_path": None, "hook_event_name": "UserPromptSubmit"}
            rc, _ = h.hook("prompt-submit", dict(prompt, prompt=text), session="c")
            assert rc == 0 and tb_json("receipt", seen)["state"] == "received"
            d.release("typed but not submitted", count_attempt=False, enter_presses=1)
        fresh = tb_json("send", "c", "not seen yet", "--no-wake")["id"]
        assert _row("c")["pending"] == 2
        rc, out = h.hook("stop", {"hook_event_name": "Stop", "stop_hook_active": False}, session="c")
        reason = json.loads(out)["reason"]
        assert fresh in reason and seen not in reason
        assert _row("c")["pending"] == 0
        assert tb_json("receipt", seen)["state"] == "received"
    finally:
        h.close()


def test_drain_force_nudges_a_working_pull_session(lab):
    a = lab.agent()
    assert tb("register", "p", "--pid", a.pid, "--kind", "codex", "--delivery", "pull").returncode == 0
    tb("submit", "p", "/busy 20")
    retry_until(lambda: "Working" in a.screen())
    tb("send", "p", "for the inbox", "--no-wake")
    p = tb("drain", "p")
    assert p.returncode == 4 and "busy" in p.err
    p = tb("drain", "p", "--force")
    assert p.returncode == 0, p.err
    retry_until(lambda: any("[termbridge]" in s for s in a.submissions()))
    nudges = [s for s in a.submissions() if "[termbridge]" in s]
    assert len(nudges) == 1 and "for the inbox" not in nudges[0]  # the nudge only, never the text
    assert _row("p")["pending"] == 1


@pytest.mark.parametrize("order", ["hook-first", "mcp-first"])
def test_hooks_and_mcp_together_are_one_turn_a_message(home, short_tmp, order):
    """An agent with hooks and an MCP server is `push` whichever registers first (a pull session with
    hooks costs a nudge turn and then a hand-over turn); a person's --delivery choice is kept."""
    from agent_host import AgentHost

    from termbridge import mcp_server, registry

    h = AgentHost(short_tmp, "claude")
    env = dict(os.environ)
    start = {"session_id": "s1", "transcript_path": str(short_tmp / "t.jsonl"), "hook_event_name": "SessionStart"}
    try:
        if order == "hook-first":
            h.hook("session-start", start, session="c")
            mcp_server.start("c", env=env, parent=h.pid)
        else:
            mcp_server.start("c", env=env, parent=h.pid)
            assert registry.lookup(home, "c").delivery == "pull"  # MCP alone: pull
            h.hook("session-start", start, session="c")
        s = registry.lookup(home, "c")
        assert (s.pid, s.delivery, s.delivery_by) == (h.pid, "push", "hook")
        assert tb("register", "c", "--pid", h.pid, "--kind", "claude", "--delivery", "pull").returncode == 0
        h.hook("session-start", start, session="c")
        mcp_server.start("c", env=env, parent=h.pid)
        assert registry.lookup(home, "c").delivery == "pull"  # the person's choice stands
    finally:
        h.close()


def test_gemini_after_agent_on_an_interrupt_hands_nothing_over(home, short_tmp):
    """Gemini CLI runs AfterAgent on Esc (`prompt_response` is its "[no response text]"); a hand-over
    then goes into the cancelled turn and never reaches the model. Nothing is handed over; the
    message stays queued (the idle waiter delivers it); a completed turn still gets it."""
    from agent_host import AgentHost

    h = AgentHost(short_tmp, "gemini")
    try:
        assert tb("register", "g", "--pid", h.pid, "--kind", "gemini").returncode == 0
        mid = tb_json("send", "g", "after the interrupt", "--no-wake")["id"]
        esc = {"hook_event_name": "AfterAgent", "prompt": "p", "stop_hook_active": False}
        rc, out = h.hook("stop", dict(esc, prompt_response="[no response text]"), session="g")
        assert (rc, out) == (0, "{}\n")
        assert tb_json("receipt", mid)["state"] == "queued" and _row("g")["pending"] == 1
        assert events_of("hook_stop")[-1].get("interrupted") is True
        rc, out = h.hook("stop", dict(esc, prompt_response="Done."), session="g")
        assert json.loads(out)["decision"] == "deny" and mid in json.loads(out)["reason"]
        assert _row("g")["pending"] == 0
    finally:
        h.close()


def test_a_drain_killed_after_its_enter_is_settled_from_the_agents_own_record(lab, short_tmp):
    """The at-least-once window closes where the agent keeps its own record: a drain SIGKILLed after
    its Enter landed (before it recorded the delivery) is settled by the next drain from the record
    the agent holds open (as Codex holds its rollout), not delivered twice."""
    import signal
    import subprocess
    import uuid

    from helpers import TB
    from lab import PY, Agent

    home = short_tmp / "agenthome"
    record = home / ".codex/sessions/2026/12/01" / f"rollout-2026-12-01T00-00-00-{uuid.uuid4()}.jsonl"
    record.parent.mkdir(parents=True)
    log = short_tmp / "agent.log"
    cmd = (
        f"exec env HOME={home} CODEX_HOME={home}/.codex {shlex.quote(PY)} -m termbridge.demo_agent "
        f"--log {shlex.quote(str(log))} --record {shlex.quote(str(record))}"
    )
    a = Agent(lab, lab.pane(cmd), log).wait_ready()
    assert tb("register", "b", "--pid", a.pid, "--kind", "codex").returncode == 0
    assert tb_json("status")["sessions"][0]["record"] == str(record)
    for attempt in range(5):  # the kill must land inside the window (after the Enter, before the record)
        mid = tb_json("send", "b", f"exactly once, please ({attempt})", "--no-wake")["id"]
        drain = subprocess.Popen([*TB, "drain", "b"], stderr=subprocess.DEVNULL)
        retry_until(lambda mid=mid: any(mid in s for s in a.submissions()), 20, 0.002)
        drain.send_signal(signal.SIGKILL)
        drain.wait()
        if tb_json("receipt", mid)["state"] == "queued":
            break
    else:
        raise AssertionError("no kill landed between the Enter and the record in 5 tries")
    assert tb("drain", "b").returncode == 0
    r = tb_json("receipt", mid)
    assert (r["state"], r["via"]) == ("received", "record"), r
    time.sleep(0.5)
    assert sum(mid in s for s in a.submissions()) == 1
    assert _row("b")["pending"] == 0
