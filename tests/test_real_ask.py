"""`termbridge ask` with the real agents (Codex in its daemon mode, Claude Code, Gemini CLI), offline,
with termbridge's hooks installed: the loopback model stub answers each turn with the newest
`tok-…` token of its request ("The answer is tok-…"), so the printed answer proves it is the
answer to that very question, taken from the agent's own Stop/AfterAgent hook input.

Checked per agent: the answer holds the question's token (`--json` keys; `receipt` answered with
the same text); a permission dialog leaves the question `blocked` (exit 4, never approved); an
answer that comes after `ask` gave up reaches the asking session as a message. And two agents
asked at once never get each other's answers.

Run by `./dev.sh test` (it installs the agents); skipped only when they could not be installed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from agent_stub import AgentStub
from helpers import TB, retry_until, tb, tb_json
from real_agent_lab import COMMAND, KINDS, ModuleState, RealAgent, needs_agents

pytestmark = [needs_agents, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def state():
    tmp = Path(tempfile.mkdtemp(prefix="tbra", dir="/tmp"))
    st = ModuleState(tmp)
    st.stub = AgentStub()
    st.stub.answer_tokens = True
    yield st
    st.stub.close()
    st.close()
    shutil.rmtree(tmp, ignore_errors=True)


def _ready(agent: RealAgent) -> RealAgent:
    """Registered by its own SessionStart (Codex runs it at the first turn) and idle."""
    if agent.kind == "codex":
        agent.prompt("hello tok-hello00")
    retry_until(lambda: any(s["name"] == agent.name for s in tb_json("sessions")["sessions"]), 60, 0.3)
    retry_until(lambda: _row(agent.name)["surface"] == "idle", 60, 0.3)
    return agent


@pytest.fixture(scope="module")
def agent(state, request):
    a = RealAgent(state.lab, state.stub, state.tmp, request.param, hooks=True, manual=True)
    yield _ready(a)
    a.close()


def _row(name: str) -> dict:
    return next(r for r in tb_json("status")["sessions"] if r["name"] == name)


def _token() -> str:
    return "tok-" + secrets.token_hex(6)


def _ask(*args: str, timeout: float = 200) -> tuple[int, str, str]:
    p = subprocess.run([*TB, "ask", *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_the_answer_comes_from_the_agents_own_turn(agent):
    tok = _token()
    rc, out, err = _ask(agent.name, f"Which token is this? {tok}", "--from", "lead", "--timeout", "150", "--json")
    assert rc == 0, err
    got = json.loads(out)
    assert set(got) == {"id", "session", "state", "answer", "at"}
    assert got["state"] == "answered" and tok in got["answer"], got
    r = tb_json("receipt", got["id"])
    assert (r["state"], r["answer"], r["via"]) == ("answered", got["answer"], f"hook:{agent.kind}")
    assert retry_until(lambda: agent.stub.seen(got["id"]), 10)  # the framed question reached the model
    asked = json.dumps(agent.stub.seen(got["id"])[0]["body"])
    assert "waits for your reply" in asked


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_a_late_answer_reaches_the_asking_session_as_a_message(state, agent):
    lead = state.lab.agent("lead")
    assert tb("register", "lead", "--pid", lead.pid, "--kind", "codex").returncode == 0
    tok = _token()
    state.stub.hold()  # the model takes its time: `ask` gives up first
    try:
        rc, out, err = _ask(agent.name, f"Late one: {tok}", "--from", "lead", "--timeout", "2", "--json")
        assert rc == 4 and "a later answer goes to lead as a message" in err, err
        qid = json.loads(out)["id"]
        retry_until(state.stub.waiting.is_set, 60, 0.2)
    finally:
        state.stub.release()
    retry_until(lambda: tb_json("receipt", qid)["state"] == "answered", 90, 0.5)
    retry_until(lambda: any(tok in s and qid in s for s in lead.submissions()), 60, 0.5)
    assert sum(tok in s for s in lead.submissions()) == 1
    tb("unregister", "lead")
    state.lab.tmux("kill-pane", "-t", lead.pane_id)
    retry_until(lambda: _row(agent.name)["surface"] == "idle", 60, 0.3)


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_a_permission_dialog_blocks_the_question_and_is_never_approved(state, agent):
    marker = Path(COMMAND.split()[-1])
    marker.unlink(missing_ok=True)
    state.stub.next_tool_call(COMMAND)
    tok = _token()
    asking = subprocess.Popen(
        [*TB, "ask", agent.name, f"Run the check, then answer {tok}", "--timeout", "60", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        retry_until(lambda: _row(agent.name)["surface"] == "dialog", 55, 0.5)  # the agent asks its person
        questions = Path(os.environ["TERMBRIDGE_HOME"]) / "sessions" / agent.name / "questions"
        qid = sorted(p.stem for p in questions.glob("*.json"))[-1]  # ids sort by time: this question
        r = tb_json("receipt", qid)
        assert r["state"] == "blocked" and r["reason"], r
        out, err = asking.communicate(timeout=90)
    finally:
        asking.kill()
        state.stub.clear_tool_calls()
    got = json.loads(out)
    assert asking.returncode == 4 and got["state"] == "blocked" and got["answer"] is None, (got, err)
    assert "waits for its person" in err
    assert not marker.exists()  # never approved
    agent.keys("Escape")  # the person declines; the turn ends without an answer
    retry_until(lambda: _row(agent.name)["surface"] == "idle", 60, 0.3)
    assert not marker.exists()
    assert tb_json("receipt", got["id"])["answer"] is None


def test_two_agents_asked_at_once_never_get_each_others_answers(state):
    a = _ready(RealAgent(state.lab, state.stub, state.tmp, "claude", "asked-a", hooks=True, work=state.tmp / "wa"))
    b = _ready(RealAgent(state.lab, state.stub, state.tmp, "gemini", "asked-b", hooks=True, work=state.tmp / "wb"))
    try:
        ta, tb_ = _token(), _token()
        env = os.environ.copy()
        pa = subprocess.Popen(
            [*TB, "ask", "asked-a", f"A's: {ta}", "--timeout", "150"], stdout=subprocess.PIPE, env=env
        )
        pb = subprocess.Popen(
            [*TB, "ask", "asked-b", f"B's: {tb_}", "--timeout", "150"], stdout=subprocess.PIPE, env=env
        )
        out_a, out_b = pa.communicate(200)[0].decode(), pb.communicate(200)[0].decode()
        assert pa.returncode == pb.returncode == 0
        assert ta in out_a and tb_ not in out_a
        assert tb_ in out_b and ta not in out_b
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("agent", ["claude"], indirect=True)
def test_a_question_that_arrives_while_a_dialog_holds_the_turn_is_answered_with_that_turn(state, agent):
    """Claude Code folds a message that arrives during a permission dialog into the held turn (its
    prompt hook runs with the turn's own `prompt_id`): once the person approves, the turn's final
    message answers both the question that started it and the one folded into it."""
    marker = Path(COMMAND.split()[-1])
    marker.unlink(missing_ok=True)
    state.stub.next_tool_call(COMMAND)
    first, second = _token(), _token()
    ask = lambda text: subprocess.Popen(  # noqa: E731
        [*TB, "ask", agent.name, text, "--timeout", "120", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    one = ask(f"Run the check, then answer {first}")
    two = None
    try:
        retry_until(lambda: _row(agent.name)["surface"] == "dialog", 55, 0.5)
        two = ask(f"And this one: {second}")
        questions = Path(os.environ["TERMBRIDGE_HOME"]) / "sessions" / agent.name / "questions"
        retry_until(lambda: len(list(questions.glob("*.json"))) >= 2, 30, 0.2)
        time.sleep(2)  # the socket message waits behind the dialog
        assert not marker.exists()
        agent.keys("Enter")  # the person approves the command
        out1, err1 = one.communicate(timeout=150)
        out2, err2 = two.communicate(timeout=150)
    finally:
        one.kill()
        if two is not None:
            two.kill()
        state.stub.clear_tool_calls()
    assert one.returncode == 0 and two.returncode == 0, (err1, err2)
    a1, a2 = json.loads(out1), json.loads(out2)
    assert a1["answer"] == a2["answer"] and second in a1["answer"], (a1, a2)  # the turn's one final message
    assert marker.exists()  # the person's approval, not termbridge's
    retry_until(lambda: _row(agent.name)["surface"] == "idle", 60, 0.3)
