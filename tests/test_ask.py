"""`termbridge ask` (0.3): the answer is the final message of the turn that received the question, from
the agent's own turn-end hook, never from the screen; another turn or another agent never answers;
a late answer reaches the asker as a message; the pair limit; `blocked` on a dialog.

Stand-in agents (tests/agent_host.py) run the real hooks as their children, as the agents do; the
real agents do the same in tests/test_real_ask.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import TB, retry_until, tb, tb_json

pytestmark = pytest.mark.timeout(120)
HOME = lambda: Path(os.environ["TERMBRIDGE_HOME"])  # noqa: E731


def _config(short_tmp, text):
    (short_tmp / "config.yaml").write_text(text)
    from termbridge import config

    config._cache.clear()


def _pending(name: str) -> int:
    return next(r for r in tb_json("status")["sessions"] if r["name"] == name)["pending"]


class Asking:
    """`termbridge ask …` running in the background (it blocks until answered or timed out)."""

    def __init__(self, *args: str):
        self.p = subprocess.Popen(
            [*TB, "ask", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
        )

    def result(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.p.communicate(timeout=timeout)
        return self.p.returncode, out, err


def _agent(short_tmp: Path, kind: str, name: str):
    """A stand-in agent registered as NAME with its own record bound by its SessionStart hook."""
    from agent_host import AgentHost

    h = AgentHost(short_tmp / name, kind)
    start = {"session_id": f"sid-{name}", "transcript_path": str(short_tmp / f"{name}.jsonl"), "source": "startup"}
    (short_tmp / f"{name}.jsonl").write_text("")
    rc, _ = h.hook("session-start", dict(start, hook_event_name="SessionStart"), session=name)
    assert rc == 0 and tb_json("status")["sessions"]
    return h


def _question_id(name: str) -> str:
    """The id of the question waiting in NAME's outbox (once `ask` committed it)."""
    from termbridge.outbox import Outbox

    recs = retry_until(lambda: [r for r in Outbox(HOME(), name).queued_records() if r.get("ask")], 20)
    return recs[0]["id"]


def _receive(h, name: str, qid: str, prompt_id: str | None = None) -> None:
    """NAME's agent gets the question: handed to it (`drain --print`, as a reader would), then its own
    prompt hook sees the framed text (it becomes `received`, and joins the turn). PROMPT_ID: the
    turn's own id in the hook input, as Claude Code gives it."""
    out = tb("drain", name, "--print").out
    assert qid in out and "asks this as question" in out
    data = {"hook_event_name": "UserPromptSubmit", "prompt": out}
    if prompt_id is not None:
        data["prompt_id"] = prompt_id
    rc, _ = h.hook("prompt-submit", data, session=name)
    assert rc == 0 and tb_json("receipt", qid)["state"] == "received"


def _stop(h, name: str, text: str, active: bool = False, prompt_id: str | None = None) -> str:
    key = "prompt_response" if h.agent == "gemini" else "last_assistant_message"
    data = {"hook_event_name": "Stop", "stop_hook_active": active, key: text}
    if prompt_id is not None:
        data["prompt_id"] = prompt_id
    rc, out = h.hook("stop", data, session=name)
    assert rc == 0
    return out


@pytest.mark.parametrize("kind", ["claude", "codex", "gemini"])
def test_the_answer_is_the_final_message_of_the_turn_that_received_the_question(home, short_tmp, kind):
    _config(short_tmp, "block_budget: 0\n")  # no Stop hands the question over here: a reader takes it
    h = _agent(short_tmp, kind, "b")
    try:
        asking = Asking("b", "which test covers login? tok-login1", "--from", "lead", "--json", "--timeout", "60")
        qid = _question_id("b")
        _stop(h, "b", "an earlier turn's last words")  # a turn that never received it: no answer
        assert tb_json("receipt", qid)["state"] in ("queued", "submitted")
        _receive(h, "b", qid)
        _stop(h, "b", "tests/test_login.py covers it (tok-login1)")
        rc, out, err = asking.result()
        assert rc == 0, err
        got = json.loads(out)
        assert set(got) == {"id", "session", "state", "answer", "at"}
        assert (got["id"], got["session"], got["state"]) == (qid, "b", "answered")
        assert got["answer"] == "tests/test_login.py covers it (tok-login1)"
        assert got["at"]["submitted"] <= got["at"]["received"] <= got["at"]["answered"]
        r = tb_json("receipt", qid)
        assert (r["state"], r["answer"], r["via"]) == ("answered", got["answer"], f"hook:{kind}")
        _stop(h, "b", "a later turn's words")  # answered once: a later turn changes nothing
        assert tb_json("receipt", qid)["answer"] == got["answer"]
        plain = tb("receipt", qid).out.splitlines()
        assert "answered" in plain[0] and plain[1:] == [got["answer"]]
    finally:
        h.close()


def test_a_question_handed_over_by_a_stop_is_answered_when_that_turn_ends(home, short_tmp):
    h = _agent(short_tmp, "claude", "b")
    try:
        asking = Asking("b", "is the API frozen? tok-api22", "--timeout", "60")
        qid = _question_id("b")
        out = _stop(h, "b", "the person's turn is done")
        assert qid in json.loads(out)["reason"]  # handed over: the turn goes on
        _stop(h, "b", "Yes, frozen since 0.2 (tok-api22).", active=True)
        rc, out, err = asking.result()
        assert (rc, out) == (0, "Yes, frozen since 0.2 (tok-api22).\n"), err
    finally:
        h.close()


def test_two_agents_asked_at_once_never_get_each_others_answers(home, short_tmp):
    a, b = _agent(short_tmp, "claude", "a"), _agent(short_tmp, "codex", "b")
    try:
        ask_a = Asking("a", "tok-forA1 please", "--timeout", "60")
        ask_b = Asking("b", "tok-forB2 please", "--timeout", "60")
        qa, qb = _question_id("a"), _question_id("b")
        _receive(a, "a", qa)
        _receive(b, "b", qb)
        _stop(b, "b", "b says tok-forB2")  # b finishes first
        _stop(a, "a", "a says tok-forA1")
        assert ask_a.result()[:2] == (0, "a says tok-forA1\n")
        assert ask_b.result()[:2] == (0, "b says tok-forB2\n")
    finally:
        a.close()
        b.close()


def test_a_late_answer_reaches_the_asking_session_as_a_message(home, short_tmp):
    lead, b = _agent(short_tmp, "claude", "lead"), _agent(short_tmp, "codex", "b")
    try:
        rc, out, err = Asking("b", "tok-late7 when you can", "--from", "lead", "--timeout", "1").result()
        assert rc == 4 and out == ""
        qid = _question_id("b")
        assert err.count("\n") == 1 and qid in err and "a later answer goes to lead as a message" in err
        _receive(b, "b", qid)
        _stop(b, "b", "done: tok-late7")
        assert tb_json("receipt", qid)["answer"] == "done: tok-late7"
        from termbridge.outbox import Outbox

        msgs = retry_until(lambda: Outbox(HOME(), "lead").queued_records(), 10)
        assert len(msgs) == 1 and msgs[0]["reply_to"] == qid and msgs[0]["from"] == "b"
        assert "done: tok-late7" in msgs[0]["body"]
        _stop(b, "b", "another turn")
        assert len(Outbox(HOME(), "lead").queued_records()) == 1  # once
    finally:
        lead.close()
        b.close()


def test_an_interrupted_turn_answers_nothing(home, short_tmp):
    g = _agent(short_tmp, "gemini", "g")
    try:
        qid = json.loads(
            subprocess.run(
                [*TB, "ask", "g", "tok-esc99?", "--timeout", "1", "--json"], capture_output=True, text=True
            ).stdout
        )["id"]
        _receive(g, "g", qid)
        _stop(g, "g", "[no response text]")  # Gemini's AfterAgent on Esc
        _stop(g, "g", "a person's next turn")
        r = tb_json("receipt", qid)
        assert r["state"] == "received" and r["answer"] is None
    finally:
        g.close()


def test_the_pair_limit_stops_ping_pong(home, short_tmp):
    _config(short_tmp, "ask_pair_limit: 2\n")
    a, b = _agent(short_tmp, "claude", "a"), _agent(short_tmp, "codex", "b")
    try:
        for _ in range(2):
            assert Asking("b", "tok-ping01", "--from", "a", "--timeout", "0.3").result()[0] == 4
        assert _pending("b") == 2
        for who, to in (("a", "b"), ("b", "a")):  # either way round
            rc, out, err = Asking(to, "tok-ping02", "--from", who, "--timeout", "5").result()
            assert rc == 4 and out == "" and err.count("\n") == 1 and "ask_pair_limit 2" in err, err
        assert _pending("b") == 2 and _pending("a") == 0  # nothing queued for the refused ones
        assert Asking("b", "tok-other3", "--from", "someone-else", "--timeout", "0.3").result()[0] == 4
    finally:
        a.close()
        b.close()


def test_bad_input_and_no_record(home, short_tmp, lab):
    a = lab.agent()
    assert tb("register", "plain", "--pid", a.pid, "--kind", "codex").returncode == 0
    p = tb("ask", "plain", "tok-norec1")
    assert p.returncode == 2 and "no record of its own" in p.err and p.err.count("\n") == 1
    assert _pending("plain") == 0
    assert tb("register", "puller", "--pid", a.pid, "--kind", "codex", "--delivery", "pull").returncode == 0
    p = tb("ask", "puller", "tok-nohook1")  # pull (MCP) with no hooks: no turn end is ever seen
    assert p.returncode == 2 and "runs no termbridge hooks" in p.err and p.err.count("\n") == 1
    assert _pending("puller") == 0
    h = _agent(short_tmp, "claude", "b")
    try:
        for args, why in (
            (["b", "x", "--timeout", "0"], "--timeout"),
            (["b", ""], "empty"),
            (["nobody", "x"], "nobody"),
            (["b", "x", "--from", "b"], "cannot ask itself"),
        ):
            p = tb("ask", *args)
            assert p.returncode in (2, 3) and why in p.err and p.err.count("\n") == 1, (args, p.err)
        assert _pending("b") == 0
    finally:
        h.close()


def hooked_agent(lab, kind: str, name: str, work: float = 0.0):
    """The demo agent in a tmux pane, recognised as KIND and running termbridge's hooks as its children
    (it registers itself as NAME by its SessionStart, with its own transcript)."""
    import shlex

    from lab import Agent

    from termbridge.demo_agent import launcher

    lab.n += 1
    log, rec = lab.dir / f"agent{lab.n}.log", lab.dir / f"agent{lab.n}.jsonl"
    exe = launcher(lab.dir / f"a{lab.n}", kind)
    cmd = (
        f"exec env TERMBRIDGE_SESSION={name} {shlex.quote(str(exe))} --log {shlex.quote(str(log))} --title {name}"
        f" --work {work} --hooks {kind} --record {shlex.quote(str(rec))}"
    )
    a = Agent(lab, lab.pane(cmd), log).wait_ready()
    retry_until(lambda: any(s["name"] == name for s in tb_json("sessions")["sessions"]), 20)
    return a


def test_a_dialog_blocks_the_question_and_it_is_never_answered(home, lab):
    a = hooked_agent(lab, "codex", "d")
    tb("submit", "d", "/dialog")
    retry_until(lambda: tb_json("status")["sessions"][0].get("surface") == "dialog", 15)
    rc, out, err = Asking("d", "tok-dlg55?", "--timeout", "3", "--json").result()
    got = json.loads(out)
    assert rc == 4 and got["state"] == "blocked" and got["answer"] is None
    assert "waits for its person" in err and err.count("\n") == 1
    r = tb_json("receipt", got["id"])
    assert r["state"] == "blocked" and r["reason"] and r["answer"] is None
    assert a.answers() == []  # the dialog is never answered for the person
    lab.tmux("send-keys", "-t", a.pane_id, "Escape")  # the person declines it: the question goes in then
    retry_until(lambda: tb_json("receipt", got["id"])["state"] == "answered", 30, 0.3)
    assert tb_json("receipt", got["id"])["answer"] == "Answer to 'tok-dlg55?': yes."


def test_ask_a_hooked_agent_end_to_end(home, lab):
    """Typed into its pane by the usual rules, received through its own prompt hook, answered by its
    own Stop hook; a question sent while it works is handed over by that Stop and answered when the
    continued turn ends."""
    a = hooked_agent(lab, "codex", "rev", work=1.0)
    rc, out, err = Asking("rev", "Which test covers the login redirect? tok-e2e01", "--timeout", "60").result()
    assert (rc, out) == (0, "Answer to 'Which test covers the login redirect? tok-e2e01': yes.\n"), err
    tb("submit", "rev", "/busy 3")
    retry_until(lambda: "esc to interrupt" in a.screen(), 10)
    rc, out, err = Asking("rev", "tok-busy02 still there?", "--timeout", "60", "--json").result()
    got = json.loads(out)
    assert rc == 0 and got["answer"] == "Answer to 'tok-busy02 still there?': yes.", err
    assert tb_json("receipt", got["id"])["via"] == "hook:codex"


def test_a_turn_that_ended_with_no_hook_leaves_its_question_unanswered(home, short_tmp):
    """Claude Code and Codex run no Stop hook on an interrupt (Esc): the person's next turn never
    received the question, so its final message is no answer."""
    _config(short_tmp, "block_budget: 0\n")
    h = _agent(short_tmp, "codex", "b")
    try:
        qid = json.loads(Asking("b", "tok-intr42?", "--timeout", "0.5", "--json").result()[1])["id"]
        _receive(h, "b", qid)  # received; then Esc: no Stop hook
        rc, _ = h.hook(
            "prompt-submit", {"hook_event_name": "UserPromptSubmit", "prompt": "a person's prompt"}, session="b"
        )
        assert rc == 0
        _stop(h, "b", "the person's answer")
        r = tb_json("receipt", qid)
        assert r["state"] == "received" and r["answer"] is None
    finally:
        h.close()


def test_mcp_ask_answers_or_says_not_yet_and_the_answer_comes_later(home, short_tmp):
    """The MCP tool: the asker is the agent the server belongs to; a wait cut short says "not answered
    yet: ID", and the answer then reaches that agent as a message."""
    import threading

    from termbridge import mcp_server
    from termbridge.outbox import Outbox

    lead, b = _agent(short_tmp, "claude", "lead"), _agent(short_tmp, "codex", "b")
    try:
        bridge = mcp_server.start("lead", env=dict(os.environ), parent=lead.pid)
        got: list[str] = []
        t = threading.Thread(target=lambda: got.append(mcp_server.tool_ask(bridge, "b", "tok-mcp001?", 30)))
        t.start()
        qid = _question_id("b")
        _receive(b, "b", qid)
        _stop(b, "b", "yes, tok-mcp001")
        t.join(30)
        assert got == ["yes, tok-mcp001"]
        late = mcp_server.tool_ask(bridge, "b", "tok-mcp002?", 0.5)
        assert late.startswith("not answered yet: ") and "reaches you as a message" in late
        qid2 = late.split()[3]
        _receive(b, "b", qid2)
        _stop(b, "b", "later: tok-mcp002")
        msgs = retry_until(lambda: Outbox(HOME(), "lead").queued_records(), 10)
        assert [m["reply_to"] for m in msgs] == [qid2] and "later: tok-mcp002" in msgs[0]["body"]
    finally:
        lead.close()
        b.close()


def test_a_stop_hook_run_by_hand_never_puts_a_question_into_the_agents_turn(home, short_tmp):
    """A Stop run by hand (no agent among its ancestors) acts for the name it was given, but what it
    hands over goes to whoever ran it, not into the agent's turn: the agent's own next Stop does not
    answer that question with its unrelated final message."""
    h = _agent(short_tmp, "claude", "b")
    try:
        qid = json.loads(
            subprocess.run(
                [*TB, "ask", "b", "tok-byhand4?", "--timeout", "0.5", "--json"], capture_output=True, text=True
            ).stdout
        )["id"]
        p = tb("hook", "stop", "--agent", "claude", "--session", "b", input=json.dumps({"stop_hook_active": False}))
        assert p.returncode == 0 and qid in json.loads(p.out)["reason"]  # handed to the person who ran it
        _stop(h, "b", "the agent's own words, about something else", active=True)
        r = tb_json("receipt", qid)
        assert r["state"] != "answered" and r["answer"] is None, r
    finally:
        h.close()


def _run_as(h, *args: str) -> tuple[int, str]:
    """`termbridge ARGS` run by the agent of H itself (as its shell tool would)."""
    import shlex

    h.proc.stdin.write((json.dumps({"cmd": shlex.join([*TB, *args]), "input": ""}) + "\n").encode())
    h.proc.stdin.flush()
    res = json.loads(h.proc.stdout.readline())
    return res["rc"], res["out"]


def test_a_from_that_names_no_session_does_not_lift_the_pair_limit(home, short_tmp):
    """An agent that asks with `--from` some token that is no session is still the one asking: its
    questions count against the pair limit (else two agents could ask each other forever)."""
    _config(short_tmp, "ask_pair_limit: 2\n")
    a, b = _agent(short_tmp, "claude", "a"), _agent(short_tmp, "codex", "b")
    try:
        for _ in range(2):
            assert _run_as(a, "ask", "b", "tok-ping05", "--timeout", "0.3")[0] == 4
        assert _pending("b") == 2
        for token in ("not-a-session", "b2"):
            rc, _ = _run_as(a, "ask", "b", "tok-ping06", "--from", token, "--timeout", "0.3")
            assert rc == 4
        assert _pending("b") == 2  # refused: nothing more queued
    finally:
        a.close()
        b.close()


def test_a_late_answer_longer_than_a_message_still_reaches_the_asker_cut(home, short_tmp):
    """A late answer goes to the asker as a message within max_body_bytes (cut; the receipt keeps
    it whole), never refused as too long and lost."""
    _config(short_tmp, "max_body_bytes: 2000\n")
    lead, b = _agent(short_tmp, "claude", "lead"), _agent(short_tmp, "codex", "b")
    try:
        assert Asking("b", "tok-long8?", "--from", "lead", "--timeout", "0.5").result()[0] == 4
        qid = _question_id("b")
        _receive(b, "b", qid)
        long = "tok-long8 " + "é" * 1500  # 3010 bytes
        _stop(b, "b", long)
        assert tb_json("receipt", qid)["answer"] == long
        from termbridge.outbox import Outbox

        msgs = retry_until(lambda: Outbox(HOME(), "lead").queued_records(), 10)
        assert len(msgs) == 1 and msgs[0]["reply_to"] == qid and "tok-long8 éé" in msgs[0]["body"]
        assert len(msgs[0]["body"].encode()) <= 2000 and qid in msgs[0]["body"]
    finally:
        lead.close()
        b.close()


def test_an_mcp_inbox_whose_name_another_agent_took_takes_nothing_of_that_agents(home, short_tmp):
    """X's MCP server registered `b`; then `b` was registered to agent Y. X's `inbox` must not take
    Y's question into Y's turn (Y's Stop would answer what Y never received) -- it takes nothing."""
    from agent_host import AgentHost

    from termbridge import mcp_server
    from termbridge.errors import TermbridgeError

    _config(short_tmp, "block_budget: 0\n")  # Y's Stop hands nothing over here
    x = AgentHost(short_tmp / "x", "claude")
    y = None
    try:
        bridge = mcp_server.start("b", env=dict(os.environ), parent=x.pid)
        assert bridge.error is None and bridge.pid == x.pid
        y = AgentHost(short_tmp / "y", "codex")
        assert tb("register", "b", "--pid", y.pid, "--kind", "codex").returncode == 0
        start = {"session_id": "sid-y", "transcript_path": str(short_tmp / "y.jsonl"), "source": "startup"}
        (short_tmp / "y.jsonl").write_text("")
        assert y.hook("session-start", dict(start, hook_event_name="SessionStart"), session="b")[0] == 0
        assert Asking("b", "tok-mcpx5?", "--timeout", "0.3").result()[0] == 4
        qid = _question_id("b")
        with pytest.raises(TermbridgeError, match="pid"):
            mcp_server.tool_inbox(bridge)
        _stop(y, "b", "Y's words about something else")
        r = tb_json("receipt", qid)
        assert r["state"] != "answered" and r["answer"] is None, r
        assert _pending("b") == 1  # still Y's to receive
    finally:
        x.close()
        if y is not None:
            y.close()


def test_asks_started_at_once_never_pass_the_pair_limit_together(home, short_tmp):
    """The pair limit is checked and counted as one step: eight asks at once, limit 2, two queued."""
    _config(short_tmp, "ask_pair_limit: 2\n")
    a, b = _agent(short_tmp, "claude", "a"), _agent(short_tmp, "codex", "b")
    try:
        asks = [Asking("b", f"tok-race{i}?", "--from", "a", "--timeout", "0.5") for i in range(8)]
        results = [x.result() for x in asks]
        assert all(rc == 4 for rc, _, _ in results)
        assert sum("ask_pair_limit 2" in err for _, _, err in results) == 6, results
        assert _pending("b") == 2
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------- a turn-end hook killed half-way
_KILLED_AFTER = {
    # The first step of a Stop hook's answer, as end_turn takes it: written ahead, the turn forgotten.
    "write-ahead": """
        with answers._lock(home, name):
            answers._write_ahead(home, name, qid, text, "hook:codex")
            paths.unlink_durable(SessionFiles.of(home, name).turn_questions)
    """,
    # ...and the second, up to the late message appended to the asker's queue.
    "late-append": """
        with answers._lock(home, name):
            answers._write_ahead(home, name, qid, text, "hook:codex")
            paths.unlink_durable(SessionFiles.of(home, name).turn_questions)
        with answers._lock(home, name):
            q = answers.read_question(home, name, qid)
            receipts_log.record_answer(home, name, qid, q["answer"], "hook:codex")
            answers._queue_late(home, name, q, q["answer"])
    """,
}


def _hook_killed_after(step: str, name: str, qid: str, text: str) -> None:
    """The Stop hook's own steps in a process SIGKILLed right after STEP (a real crash)."""
    import signal
    import sys
    import textwrap

    code = (
        textwrap.dedent(
            """
        import os, signal, sys
        from pathlib import Path
        from termbridge import answers, paths, receipts_log
        from termbridge.session_files import SessionFiles
        home, name, qid, text = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        """
        )
        + textwrap.dedent(_KILLED_AFTER[step])
        + "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    p = subprocess.run([sys.executable, "-c", code, str(HOME()), name, qid, text], capture_output=True, text=True)
    assert p.returncode == -signal.SIGKILL, p.stderr


@pytest.mark.parametrize("step", sorted(_KILLED_AFTER))
def test_a_stop_hook_killed_half_way_is_finished_once_by_the_next_prompt(home, short_tmp, step):
    """Killed after writing its answer ahead (or after queueing the late message too): the agent's next
    prompt hook finishes it, the receipt `answered` with that turn's text and the asker's message
    queued exactly once; a later turn's text never answers it."""
    from termbridge.outbox import Outbox

    lead, b = _agent(short_tmp, "claude", "lead"), _agent(short_tmp, "codex", "b")
    try:
        rc, _, _ = Asking("b", "tok-k9 when you can", "--from", "lead", "--timeout", "1").result()
        assert rc == 4
        qid = _question_id("b")
        _receive(b, "b", qid)
        _hook_killed_after(step, "b", qid, "done: tok-k9")
        assert tb_json("receipt", qid)["state"] == ("answered" if step == "late-append" else "received")
        assert len(Outbox(HOME(), "lead").queued_records()) == (1 if step == "late-append" else 0)
        rc, _ = b.hook("prompt-submit", {"hook_event_name": "UserPromptSubmit", "prompt": "next task"}, session="b")
        assert rc == 0
        r = tb_json("receipt", qid)
        assert (r["state"], r["answer"]) == ("answered", "done: tok-k9")
        msgs = Outbox(HOME(), "lead").queued_records()
        assert len(msgs) == 1 and msgs[0]["reply_to"] == qid and "done: tok-k9" in msgs[0]["body"]
        _stop(b, "b", "the next turn's text")
        rc, _ = b.hook("prompt-submit", {"hook_event_name": "UserPromptSubmit", "prompt": "again"}, session="b")
        assert len(Outbox(HOME(), "lead").queued_records()) == 1  # once
        assert tb_json("receipt", qid)["answer"] == "done: tok-k9"
    finally:
        lead.close()
        b.close()


def test_a_waiting_ask_finishes_an_answer_its_killed_hook_wrote_ahead(home, short_tmp):
    lead, b = _agent(short_tmp, "claude", "lead"), _agent(short_tmp, "codex", "b")
    try:
        asking = Asking("b", "tok-w4 please", "--from", "lead", "--timeout", "60", "--json")
        qid = _question_id("b")
        _receive(b, "b", qid)
        _hook_killed_after("write-ahead", "b", qid, "done: tok-w4")
        rc, out, err = asking.result()
        assert rc == 0, err
        assert json.loads(out)["answer"] == "done: tok-w4"
        from termbridge.outbox import Outbox

        assert Outbox(HOME(), "lead").queued_records() == []  # the asker had it: no late message
    finally:
        lead.close()
        b.close()


def test_question_files_go_a_week_after_they_were_asked(home, short_tmp):
    import time

    from termbridge import answers

    b = _agent(short_tmp, "codex", "b")
    try:
        rc, _, _ = Asking("b", "tok-old", "--timeout", "1").result()
        assert rc == 4
        qid = _question_id("b")
        assert answers.read_question(HOME(), "b", qid) is not None
        answers.prune_questions(HOME(), "b", now=time.time() + 6 * 86400)
        assert answers.read_question(HOME(), "b", qid) is not None
        answers.prune_questions(HOME(), "b", now=time.time() + 8 * 86400)
        assert answers.read_question(HOME(), "b", qid) is None
        assert tb_json("receipt", qid)["state"] == "queued"  # its receipt stays
    finally:
        b.close()


def test_a_message_folded_into_a_running_turn_keeps_that_turns_questions(home, short_tmp):
    """Claude Code folds a message that arrives while a dialog holds a turn into that turn and runs its
    prompt hook with the turn's own `prompt_id` (measured on 2.1.332): both questions belong to the
    turn, and its final message answers both. A prompt with another id starts a new turn: an
    interrupted turn's question is never answered by it."""
    b = _agent(short_tmp, "claude", "b")
    try:
        qids = []
        for tok in ("tok-f1", "tok-f2"):
            assert Asking("b", f"{tok}?", "--timeout", "1").result()[0] == 4
            qids.append(_question_id("b"))
            _receive(b, "b", qids[-1], prompt_id="turn-1")  # the second is folded into turn-1
        _stop(b, "b", "both: tok-f1 tok-f2")
        assert [tb_json("receipt", q)["answer"] for q in qids] == ["both: tok-f1 tok-f2"] * 2
        assert Asking("b", "tok-f3?", "--timeout", "1").result()[0] == 4
        q3 = _question_id("b")
        _receive(b, "b", q3, prompt_id="turn-2")  # turn-2 is interrupted: no Stop hook runs
        assert Asking("b", "tok-f4?", "--timeout", "1").result()[0] == 4
        q4 = _question_id("b")
        _receive(b, "b", q4, prompt_id="turn-3")
        _stop(b, "b", "only: tok-f4")
        assert tb_json("receipt", q4)["answer"] == "only: tok-f4"
        r3 = tb_json("receipt", q3)
        assert r3["state"] == "received" and r3.get("answer") is None
    finally:
        b.close()


def test_a_question_a_stop_handed_over_stays_in_the_turn_a_held_message_is_folded_into(home, short_tmp):
    """The Stop of turn-1 hands a question over (the turn goes on, under the same prompt_id); a message a
    dialog held is then folded into that turn: the handed-over question still belongs to it."""
    h = _agent(short_tmp, "claude", "b")
    try:
        asking = Asking("b", "tok-h1?", "--timeout", "60")
        qid = _question_id("b")
        out = _stop(h, "b", "the person's turn is done", prompt_id="turn-1")
        assert qid in json.loads(out)["reason"]
        rc, _ = h.hook(
            "prompt-submit",
            {"hook_event_name": "UserPromptSubmit", "prompt": "held", "prompt_id": "turn-1"},
            session="b",
        )
        assert rc == 0
        _stop(h, "b", "answer: tok-h1", active=True, prompt_id="turn-1")
        rc, out, err = asking.result()
        assert (rc, out) == (0, "answer: tok-h1\n"), err
    finally:
        h.close()


def test_a_turn_end_of_another_turn_never_answers_an_earlier_turns_question(home, short_tmp):
    """turn-1 received the question and was interrupted (no Stop); the prompt hook of turn-2 never ran
    (it failed, or was not installed yet): turn-2's Stop, naming its own turn, does not answer it."""
    b = _agent(short_tmp, "claude", "b")
    try:
        assert Asking("b", "tok-i1?", "--timeout", "1").result()[0] == 4
        qid = _question_id("b")
        _receive(b, "b", qid, prompt_id="turn-1")
        _stop(b, "b", "an unrelated reply", prompt_id="turn-2")
        r = tb_json("receipt", qid)
        assert r["state"] == "received" and r.get("answer") is None
    finally:
        b.close()
