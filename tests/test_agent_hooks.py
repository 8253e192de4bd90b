"""`termbridge hook session-start|prompt-submit|stop --agent claude|codex|gemini`: each agent's
documented hook input and output shapes, run as real CLI subprocesses on real state."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TB, events_of, retry_until, tb, tb_json

from termbridge import proctree

pytestmark = pytest.mark.timeout(120)
_FRAMED = re.compile(r"^--- message (\S+) from ", re.M)
HOME = lambda: Path(os.environ["TERMBRIDGE_HOME"])  # noqa: E731

# Inputs as each agent documents them (Claude Code hooks reference; Codex hooks schema;
# Gemini CLI hooks reference), trimmed to the fields that matter plus a few real extras.
CLAUDE = {
    "stop": {
        "session_id": "abc",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": "/tmp",
        "permission_mode": "default",
        "hook_event_name": "Stop",
        "stop_hook_active": False,
        "last_assistant_message": "done",
    },
    "prompt-submit": {
        "session_id": "abc",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": "/tmp",
        "hook_event_name": "UserPromptSubmit",
        "prompt": "hello",
    },
}
CODEX = {
    "stop": {
        "session_id": "0199",
        "turn_id": "t1",
        "transcript_path": None,
        "cwd": "/tmp",
        "hook_event_name": "Stop",
        "model": "gpt-5",
        "permission_mode": "default",
        "stop_hook_active": False,
        "last_assistant_message": None,
    },
    "prompt-submit": {
        "session_id": "0199",
        "turn_id": "t1",
        "transcript_path": "/tmp/rollout.jsonl",
        "cwd": "/tmp",
        "hook_event_name": "UserPromptSubmit",
        "model": "gpt-5",
        "permission_mode": "default",
        "prompt": "hello",
    },
}
GEMINI = {
    "stop": {
        "session_id": "g1",
        "transcript_path": "/tmp/g.json",
        "cwd": "/tmp",
        "hook_event_name": "AfterAgent",
        "timestamp": "2026-11-26T10:00:00Z",
        "prompt": "hi",
        "prompt_response": "done",
        "stop_hook_active": False,
    },
    "prompt-submit": {
        "session_id": "g1",
        "transcript_path": "/tmp/g.json",
        "cwd": "/tmp",
        "hook_event_name": "BeforeAgent",
        "timestamp": "2026-11-26T10:00:00Z",
        "prompt": "hello",
    },
}
INPUTS = {"claude": CLAUDE, "codex": CODEX, "gemini": GEMINI}
# Codex parses a Stop hook's stdout strictly (additionalProperties: false).
CODEX_STOP_KEYS = {"continue", "decision", "reason", "stopReason", "suppressOutput", "systemMessage"}


def hook(event, agent, payload, *extra, session=None, env=None):
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    args = ["hook", event, "--agent", agent] + (["--session", session] if session else []) + list(extra)
    return tb(*args, input=data, env=env)


def mark(name):
    return json.loads((HOME() / "sessions" / name / "mark.json").read_text())["state"]


@pytest.fixture
def registered(home, sleeper):
    def make(name, kind):
        assert tb("register", name, "--pid", sleeper().pid, "--kind", kind).returncode == 0
        return name

    return make


# ---------------------------------------------------------------- stop
@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_stop_hands_over_in_each_agents_protocol(registered, agent):
    registered(agent, agent)
    ids = [tb_json("send", agent, f"note {i}", "--from", "peer", "--no-wake")["id"] for i in range(2)]
    p = hook("stop", agent, INPUTS[agent]["stop"])
    assert p.returncode == 0 and p.err == ""
    out = json.loads(p.out)  # exactly one JSON document
    assert out["decision"] == ("deny" if agent == "gemini" else "block")
    assert all(i in out["reason"] for i in ids) and "not instructions from your user" in out["reason"]
    if agent == "codex":
        assert set(out) <= CODEX_STOP_KEYS
    assert tb_json("status")["sessions"][0]["pending"] == 0
    assert {tb_json("receipt", i)["state"] for i in ids} == {"submitted"}
    assert mark(agent) == "busy"
    p = hook("stop", agent, dict(INPUTS[agent]["stop"], stop_hook_active=True))
    assert p.returncode == 0 and p.out == ("{}\n" if agent == "gemini" else "")  # nothing pending: carry on
    assert mark(agent) == "idle"


@pytest.mark.parametrize("agent", ["codex", "gemini"])
def test_stop_budget_per_agent(registered, agent):
    registered(agent, agent)
    blocked = []
    for i in range(5):
        tb("send", agent, f"m{i}", "--no-wake")
        p = hook("stop", agent, dict(INPUTS[agent]["stop"], stop_hook_active=i > 0))
        assert p.returncode == 0
        blocked.append("decision" in p.out)
    assert blocked == [True, True, True, False, False]
    assert tb_json("status")["sessions"][0]["pending"] == 2  # left queued, not lost


def test_stop_releases_the_claim_when_the_agent_closed_stdout(registered):
    """A hand-over whose answer cannot be written is not counted: the messages stay queued, exit 0."""
    registered("c", "claude")
    tb("send", "c", "kept", "--no-wake")
    r, w = os.pipe()
    os.close(r)  # nobody reads the answer
    p = subprocess.run(
        [*TB, "hook", "stop", "--agent", "claude", "--session", "c"],
        input=json.dumps(CLAUDE["stop"]).encode(),
        stdout=w,
        stderr=subprocess.PIPE,
        timeout=60,
    )
    os.close(w)
    assert p.returncode == 0, p.stderr
    assert tb_json("status")["sessions"][0]["pending"] == 1
    assert any("hook_error" == e["event"] for e in map(json.loads, tb("events", "--json").out.splitlines()))
    p = hook("stop", "claude", CLAUDE["stop"], session="c")  # the next Stop hands it over
    assert "kept" in json.loads(p.out)["reason"]


# ---------------------------------------------------------------- exit 0 on anything
@pytest.mark.parametrize(
    "argv",
    [
        ["hook", "claude-stop", "--bogus"],
        ["hook", "claude-stop", "--session"],
        ["hook", "stop", "--agent", "claude", "--bogus", "x", "--session=c"],
        ["hook", "stop", "--agent", "nope"],
        ["hook", "stop"],
        ["hook", "no-such-hook", "--agent", "claude"],
        ["hook", "--weird"],
        ["hook"],
    ],
)
def test_hooks_exit_0_on_any_flag(registered, argv):
    registered("c", "claude")
    tb("send", "c", "stays or goes, never lost", "--no-wake")
    p = tb(*argv, input=json.dumps(CLAUDE["stop"]))
    assert p.returncode == 0, p.err
    assert "Traceback" not in p.err and "Error" not in p.err
    delivered = p.out != ""
    assert tb_json("status")["sessions"][0]["pending"] == (0 if delivered else 1)


def test_unknown_flag_still_delivers_and_is_logged(registered):
    registered("c", "claude")
    tb("send", "c", "through", "--no-wake")
    p = tb("hook", "claude-stop", "--bogus", "--session", "c", input=json.dumps(CLAUDE["stop"]))
    assert p.returncode == 0 and "through" in json.loads(p.out)["reason"]
    assert any("--bogus" in e.get("error", "") for e in events_of("hook_error"))


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff", b"[]"])
def test_malformed_input_prints_nothing_that_breaks_the_agent(registered, agent, raw):
    registered(agent, agent)
    tb("send", agent, "kept", "--no-wake")
    for event in ("session-start", "prompt-submit", "stop"):
        p = hook(event, agent, raw)
        assert p.returncode == 0 and p.out == ("{}\n" if agent == "gemini" else "")
    assert tb_json("status")["sessions"][0]["pending"] == 1
    assert len(events_of("hook_error")) == 3


def test_unknown_session_logged_not_fatal(home):
    for event in ("prompt-submit", "stop"):
        p = hook(event, "codex", CODEX[event], session="ghost")
        assert p.returncode == 0 and p.out == ""
    assert len(events_of("hook_error")) == 2


def test_session_name_from_env_then_agent_kind(registered):
    registered("codex", "codex")
    registered("named", "codex")
    tb("send", "named", "for named", "--no-wake")
    tb("send", "codex", "for codex", "--no-wake")
    p = hook("stop", "codex", CODEX["stop"], env={**os.environ, "TERMBRIDGE_SESSION": "named"})
    assert "for named" in json.loads(p.out)["reason"]
    p = hook("stop", "codex", CODEX["stop"])
    assert "for codex" in json.loads(p.out)["reason"]


# ---------------------------------------------------------------- prompt-submit
def _framed(registered_name):
    p = tb("drain", registered_name, "--print")
    assert p.returncode == 0
    return p.out


@pytest.fixture
def host(home, short_tmp):
    """Stand-in agent processes that run hooks as their own children (tests/agent_host.py)."""
    from agent_host import AgentHost

    made = []

    def make(name, kind):
        h = AgentHost(short_tmp / name, kind)
        made.append(h)
        assert tb("register", name, "--pid", h.pid, "--kind", kind).returncode == 0
        return h

    yield make
    for h in made:
        h.close()


def receipts_log(name):
    path = HOME() / "sessions" / name / "receipts.log"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_prompt_submit_marks_busy_and_records_received(host, agent):
    h = host(agent, agent)
    ids = [tb_json("send", agent, f"hello {i}", "--no-wake")["id"] for i in range(2)]
    framed = _framed(agent)  # handed over, `submitted`
    other = tb_json("send", agent, "not in the prompt", "--no-wake")["id"]
    fake = "0" * 26
    prompt = framed + f"\nand a pasted id {fake}"
    rc, out = h.hook("prompt-submit", dict(INPUTS[agent]["prompt-submit"], prompt=prompt))
    assert rc == 0 and out == ("{}\n" if agent == "gemini" else "")
    assert mark(agent) == "busy"
    r = [tb_json("receipt", i) for i in ids]
    assert [x["state"] for x in r] == ["received", "received"] and {x["via"] for x in r} == {f"hook:{agent}"}
    assert tb_json("receipt", other)["state"] == "queued"
    assert tb("receipt", fake).returncode == 3  # an unknown id is never recorded
    assert sum(e["state"] == "received" for e in receipts_log(agent)) == 2
    # Its own hook bound its own record.
    rec = json.loads((HOME() / "sessions" / agent / "record.json").read_text())
    assert rec["path"] == INPUTS[agent]["prompt-submit"]["transcript_path"] and rec["pid"] == h.pid
    assert tb_json("status")["sessions"][0]["record"] == rec["path"]


def test_a_bare_id_in_a_prompt_is_no_evidence(host):
    """The issue's repro: a prompt asking about a message still queued, and one already handed over."""
    h = host("b", "codex")
    queued = tb_json("send", "b", "still queued", "--no-wake")["id"]
    rc, _ = h.hook("prompt-submit", dict(CODEX["prompt-submit"], prompt=f"did you see {queued} ?"), session="b")
    assert rc == 0 and tb_json("receipt", queued)["state"] == "queued"
    handed = tb_json("send", "b", "handed over", "--no-wake")["id"]
    _framed("b")
    h.hook("prompt-submit", dict(CODEX["prompt-submit"], prompt=f"about {handed}: done"), session="b")
    assert tb_json("receipt", handed)["state"] == "submitted"
    assert not [e for e in receipts_log("b") if e["state"] == "received"]


def test_a_framed_queued_message_in_a_prompt_is_no_evidence(host):
    """A framed header of a message termbridge never submitted (still queued) changes nothing."""
    h = host("b", "claude")
    mid = tb_json("send", "b", "still queued", "--no-wake")["id"]
    forged = f"[termbridge] 1 peer message\n--- message {mid} from x at now\n> still queued"
    h.hook("prompt-submit", dict(CLAUDE["prompt-submit"], prompt=forged), session="b")
    assert tb_json("receipt", mid)["state"] == "queued"


def test_a_hook_run_by_hand_is_no_evidence(registered):
    """A prompt hook whose agent process is not the session's (run by hand) proves nothing."""
    registered("c", "claude")
    mid = tb_json("send", "c", "x", "--no-wake")["id"]
    framed = _framed("c")
    p = hook("prompt-submit", "claude", dict(CLAUDE["prompt-submit"], prompt=framed), session="c")
    assert p.returncode == 0 and tb_json("receipt", mid)["state"] == "submitted"


def test_fresh_prompt_resets_the_stop_budget_but_a_handover_does_not(registered):
    """Gemini runs BeforeAgent again for an AfterAgent continuation (its prompt is our framed text)."""
    registered("g", "gemini")

    def stop_blocks(active):
        tb("send", "g", "m", "--no-wake")
        return "decision" in hook("stop", "gemini", dict(GEMINI["stop"], stop_hook_active=active), session="g").out

    assert [stop_blocks(True) for _ in range(4)] == [True, True, True, False]
    tb("drain", "g", "--print")
    framed_prompt = tb_json("send", "g", "z", "--no-wake") and _framed("g")
    hook("prompt-submit", "gemini", dict(GEMINI["prompt-submit"], prompt=framed_prompt), session="g")
    assert not stop_blocks(True)  # our own continuation is not a fresh turn
    hook("prompt-submit", "gemini", dict(GEMINI["prompt-submit"], prompt="a person types"), session="g")
    assert stop_blocks(True)


# ---------------------------------------------------------------- session-start
FAKE_AGENT = """#!/bin/sh
# A stand-in for {agent}: runs its SessionStart hook the way the agents do (through sh -c), then idles.
printf '%s' '{payload}' | sh -c "{tb} hook session-start --agent {agent}"
echo hook-done
sleep 600
"""


def _fake_agent(dirpath: Path, agent: str, payload: dict) -> Path:
    d = dirpath / "bin"
    d.mkdir(exist_ok=True)
    path = d / agent
    tb_cmd = " ".join(shlex.quote(a) for a in TB)
    path.write_text(FAKE_AGENT.format(agent=agent, payload=json.dumps(payload), tb=tb_cmd))
    path.chmod(0o755)
    return path


def _script_pid(script: Path) -> int:
    for pid in proctree.parent_map():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[1] == str(script).encode():
            return pid
    return 0


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_session_start_registers_the_agent_pid_and_resolves_to_its_pane(lab, short_tmp, agent):
    transcript = str(short_tmp / "transcript.jsonl")
    script = _fake_agent(
        short_tmp,
        agent,
        {
            "session_id": "s1",
            "transcript_path": transcript,
            "cwd": str(short_tmp),
            "hook_event_name": "SessionStart",
            "source": "startup",
        },
    )
    pane = lab.pane(f"{script}")
    retry_until(lambda: "hook-done" in lab.tmux("capture-pane", "-p", "-t", pane.pane_id), 30)
    pid = _script_pid(script)
    assert pid
    s = retry_until(lambda: [s for s in tb_json("sessions")["sessions"] if s["name"] == agent], 10)[0]
    assert s["pid"] == pid and s["kind"] == agent  # the agent itself, not the hook's `sh -c`
    r = tb_json("resolve", agent)
    assert r["backend"] == "tmux" and r["target"] == f"tmux:{pane.pane_id}" and r["pid"] == pid
    rec = json.loads((HOME() / "sessions" / agent / "session.json").read_text())
    assert rec["tmux_socket"] == lab.socket
    rec = json.loads((HOME() / "sessions" / agent / "record.json").read_text())
    assert (rec["path"], rec["session_id"], rec["pid"], rec["via"]) == (transcript, "s1", pid, f"hook:{agent}")
    ev = [e for e in events_of("registered") if e["session"] == agent]
    assert len(ev) == 1 and ev[0]["via"] == f"hook:{agent}"


def test_session_start_without_the_agent_in_the_chain_registers_nothing(home):
    p = hook("session-start", "claude", {"session_id": "x", "hook_event_name": "SessionStart", "source": "startup"})
    assert p.returncode == 0 and p.out == ""
    assert tb_json("sessions")["sessions"] == []
    assert "no claude process" in events_of("hook_error")[0]["error"]


def test_session_start_keeps_a_pull_registration(home, short_tmp):
    script = _fake_agent(short_tmp, "gemini", {"hook_event_name": "SessionStart", "source": "startup"})
    holder = subprocess.Popen(["sleep", "600"])
    try:
        tb("register", "gemini", "--pid", holder.pid, "--kind", "gemini", "--delivery", "pull")
        holder.kill()  # the earlier gemini exited (a live one keeps its name)
        holder.wait()
        proc = subprocess.Popen([str(script)], stdout=subprocess.PIPE, start_new_session=True)
        try:
            assert proc.stdout.readline() == b"{}\n"  # Gemini's SessionStart answer
            assert proc.stdout.readline() == b"hook-done\n"
            s = tb_json("sessions")["sessions"][0]
            assert s["pid"] == proc.pid
            rec = json.loads((HOME() / "sessions" / "gemini" / "session.json").read_text())
            assert rec["delivery"] == "pull"
        finally:
            os.killpg(proc.pid, 9)
            proc.wait()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (the agents' own runtime)")
def test_session_start_under_a_node_agent_with_flags(home, short_tmp):
    """Gemini CLI relaunches as `node --max-old-space-size=… …/gemini-cli/dist/index.js`: that node is the agent."""
    pkg = short_tmp / "node_modules" / "@google" / "gemini-cli" / "dist"
    pkg.mkdir(parents=True)
    tb_cmd = " ".join(shlex.quote(a) for a in TB)
    (pkg / "index.js").write_text(
        "const {execSync} = require('child_process');\n"
        f"execSync({json.dumps(tb_cmd + ' hook session-start --agent gemini')}, "
        "{input: '{\"hook_event_name\": \"SessionStart\"}', stdio: ['pipe', 'ignore', 'inherit'], shell: '/bin/sh'});\n"
        "console.log('hook-done');\nsetTimeout(() => {}, 600000);\n"
    )
    proc = subprocess.Popen(["node", "--max-old-space-size=512", str(pkg / "index.js")], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"hook-done\n"
        s = tb_json("sessions")["sessions"]
        assert [(x["name"], x["pid"], x["kind"]) for x in s] == [("gemini", proc.pid, "gemini")]
    finally:
        proc.kill()
        proc.wait()


TWO_WINDOWS_AGENT = """#!/bin/sh
# A stand-in for {agent}: SessionStart, then one Stop hook per line read, both through sh -c.
printf '%s' '{{"hook_event_name": "SessionStart"}}' | sh -c "{tb} hook session-start --agent {agent}"
echo hook-done
while read line; do
  printf '%s' '{{"hook_event_name": "Stop", "stop_hook_active": false}}' | sh -c "{tb} hook stop --agent {agent}"
  echo
  echo stop-done
done
"""


def test_a_second_agent_does_not_take_over_the_name_nor_its_messages(home, short_tmp):
    """Two Claude Code windows both default to the session name `claude`: the first keeps it,
    and the second's Stop hook does not hand over (nor mark delivered) the first one's messages."""
    tb_cmd = " ".join(shlex.quote(a) for a in TB)
    procs = []
    try:
        for w in ("a", "b"):
            d = short_tmp / w
            d.mkdir()
            script = d / "claude"
            script.write_text(TWO_WINDOWS_AGENT.format(agent="claude", tb=tb_cmd))
            script.chmod(0o755)
            p = subprocess.Popen([str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
            procs.append(p)
            assert p.stdout.readline() == b"hook-done\n"
        a, b = procs
        s = tb_json("sessions")["sessions"]
        assert [(x["name"], x["pid"]) for x in s] == [("claude", a.pid)]  # the first window keeps its name
        errs = events_of("hook_error")
        assert len(errs) == 1 and "belongs to another live process" in errs[0]["error"]
        assert "TERMBRIDGE_SESSION" in errs[0]["error"]
        mid = tb_json("send", "claude", "for window a", "--from", "peer", "--no-wake")["id"]
        b.stdin.write(b"stop\n")
        b.stdin.flush()
        assert b.stdout.readline() == b"\n" and b.stdout.readline() == b"stop-done\n"  # b carries on, nothing handed
        assert tb_json("status")["sessions"][0]["pending"] == 1
        assert tb_json("receipt", mid)["state"] == "queued"
        errs = events_of("hook_error")
        assert len(errs) == 2 and f"registered to pid {a.pid}" in errs[1]["error"]
        a.stdin.write(b"stop\n")
        a.stdin.flush()
        out = json.loads(a.stdout.readline())  # the session's own agent gets it
        assert out["decision"] == "block" and mid in out["reason"]
        assert a.stdout.readline() == b"\n" and a.stdout.readline() == b"stop-done\n"
        assert tb_json("receipt", mid)["state"] == "submitted"
    finally:
        for p in procs:
            os.killpg(p.pid, 9)
            p.wait()


HOLD_LOCK = """
import sys
from pathlib import Path
from termbridge import paths
paths.add_root(Path(sys.argv[1]))
lock = paths.state_lock(Path(sys.argv[2]), timeout=10)
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_stop_does_not_wait_for_a_held_outbox_lock(registered, short_tmp):
    """Another drain holds the outbox lock: the Stop hook does not block the agent for
    lock_timeout_s; it lets it stop and the message stays queued for the next Stop."""
    (short_tmp / "config.yaml").write_text("lock_timeout_s: 3600\n")
    registered("claude", "claude")
    mid = tb_json("send", "claude", "later", "--from", "peer", "--no-wake")["id"]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(HOME()), str(HOME() / "sessions" / "claude" / "outbox.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        p = tb("hook", "stop", "--agent", "claude", input=json.dumps(CLAUDE["stop"]), timeout=30)
        assert p.returncode == 0 and p.out == ""
        assert tb_json("receipt", mid)["state"] == "queued"
        errs = events_of("hook_error")
        assert len(errs) == 1 and "timed out" in errs[0]["error"]
    finally:
        holder.kill()
        holder.wait()
    out = json.loads(hook("stop", "claude", CLAUDE["stop"]).out)  # the next Stop hands it over
    assert mid in out["reason"]


def test_one_stop_hands_over_at_most_max_body_bytes(registered):
    """2000 messages of 60 KiB are not one 120 MB reason: each Stop takes what fits in
    max_body_bytes of framed text (at least one message), in order; the rest stays queued."""
    registered("claude", "claude")
    ids = [tb_json("send", "claude", f"{i} " + "x" * 20000, "--from", "peer", "--no-wake")["id"] for i in range(7)]
    ids.append(tb_json("send", "claude", "y" * 65500, "--from", "peer", "--no-wake")["id"])  # alone over the cap
    ids.append(tb_json("send", "claude", "small", "--from", "peer", "--no-wake")["id"])
    handed: list[list[str]] = []
    for _ in range(10):
        p = hook("stop", "claude", CLAUDE["stop"])
        if not p.out:
            break
        reason = json.loads(p.out)["reason"]
        assert len(reason.encode()) <= 65536 or len(_FRAMED.findall(reason)) == 1
        handed.append(_FRAMED.findall(reason))
    assert [i for batch in handed for i in batch] == ids  # each exactly once, in order
    assert [len(b) for b in handed] == [3, 3, 1, 1, 1]
    assert tb_json("status")["sessions"][0]["pending"] == 0
