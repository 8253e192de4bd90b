"""`termbridge rpc` on its own (no ssh): JSON lines in, one answer a line out; every field is
validated as the CLI validates it; ids are taken once; no request runs a command."""

from __future__ import annotations

import json
import os

from helpers import tb, tb_json


def rpc(*requests, raw: bytes | None = None) -> list[dict]:
    data = raw if raw is not None else b"".join(json.dumps(r).encode() + b"\n" for r in requests)
    p = tb("rpc", input=data)
    assert p.returncode == 0, p.err
    return [json.loads(line) for line in p.out.splitlines()]


def test_hello_and_bad_requests_answer_one_line_each(home):
    hello, bad_json, no_op, unknown, cmd = rpc(
        raw=b'{"op":"hello"}\nnot json\n{"x":1}\n{"op":"exec","argv":["touch","/tmp/x"]}\n'
        b'{"op":"take","messages":[{"id":"A1","session":"s","body":"b","command":"touch /tmp/x"}]}\n'
    )
    assert hello["ok"] and hello["protocol"] == 1 and hello["version"]
    assert not bad_json["ok"] and bad_json["exit"] == 2
    assert not no_op["ok"] and no_op["exit"] == 2
    assert not unknown["ok"] and "unknown op 'exec'" in unknown["error"]
    assert cmd["ok"] and cmd["results"][0]["exit"] == 3  # unknown session: nothing written, nothing run


def test_take_validates_like_send_and_takes_each_id_once(home, sleeper):
    assert tb("register", "s", "--pid", sleeper().pid).returncode == 0
    msg = {"id": "01ABCDEFGHJKMNPQRSTVWXYZ00", "session": "s", "body": "hello $(touch /tmp/tb-rpc-pwned)"}
    bad = [
        {**msg, "id": "bad id"},
        {**msg, "session": "../x"},
        {**msg, "body": ""},
        {**msg, "from": "a b"},
        {**msg, "ttl": -1},
        {**msg, "body": "x" * 70000},
    ]
    (answer,) = rpc({"op": "take", "messages": [*bad, msg]})
    *refused, ok = answer["results"]
    assert all(r["exit"] == 2 for r in refused), refused
    assert ok == {"id": msg["id"], "taken": True}
    (again,) = rpc({"op": "take", "messages": [msg]})
    assert again["results"] == [{"id": msg["id"], "taken": False}]
    out = tb("drain", "s", "--json")
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert [r["id"] for r in rows] == [msg["id"]] and rows[0]["body"] == msg["body"]
    (after,) = rpc({"op": "take", "messages": [msg]})  # delivered: still known, never queued again
    assert after["results"] == [{"id": msg["id"], "taken": False}]
    assert tb_json("receipt", msg["id"])["state"] == "submitted"
    import os

    assert not os.path.exists("/tmp/tb-rpc-pwned")


def test_bad_hosts_config_and_targets_are_refused(home, short_tmp):
    (short_tmp / "config.yaml").write_text("hosts:\n  -oProxyCommand=x: {}\n")
    p = tb("status")
    assert p.returncode == 2 and "not an ssh destination" in p.err
    (short_tmp / "config.yaml").write_text('hosts:\n  box: {command: "a\\nb"}\n')
    assert tb("status").returncode == 2
    (short_tmp / "config.yaml").write_text("hosts:\n  box: {user: x}\n")
    p = tb("status")
    assert p.returncode == 2 and "hosts.box.user" in p.err
    (short_tmp / "config.yaml").write_text("hosts:\n  box: {ssh: ['-F', '/dev/null'], connect_timeout_s: 2}\n")
    assert tb("status").returncode == 0
    p = tb("send", "a@-oProxyCommand=touch", "x")
    assert p.returncode == 2 and "invalid host" in p.err
    p = tb("send", "a b@box", "x")
    assert p.returncode == 2


def test_take_with_ask_makes_one_question_that_the_sessions_own_stop_hook_answers(home, short_tmp, sleeper):
    """What `ask NAME@HOST` forwards: a question file and a framed `ask` message, once; its receipt
    (the `receipt` op) says `answered` with the text from the session's own Stop hook."""
    from agent_host import AgentHost

    from termbridge import answers

    h = AgentHost(short_tmp / "b", "codex")
    try:
        start = {"session_id": "sid-b", "transcript_path": str(short_tmp / "b.jsonl"), "source": "startup"}
        (short_tmp / "b.jsonl").write_text("")
        assert h.hook("session-start", dict(start, hook_event_name="SessionStart"), session="b")[0] == 0
        assert tb("register", "plain", "--pid", sleeper().pid).returncode == 0
        q = {
            "id": "01ABCDEFGHJKMNPQRSTVWXYZ11",
            "session": "b",
            "from": "lead",
            "body": "tok-rpcask? $(x)",
            "ask": True,
        }
        (answer,) = rpc({"op": "take", "messages": [{**q, "ask": "yes"}, {**q, "session": "plain"}, q]})
        bad, no_hooks, ok = answer["results"]
        assert bad["exit"] == 2 and "'ask'" in bad["error"]
        assert no_hooks["exit"] == 2 and "runs no termbridge hooks" in no_hooks["error"]
        assert ok == {"id": q["id"], "taken": True}
        (again,) = rpc({"op": "take", "messages": [q]})
        assert again["results"] == [{"id": q["id"], "taken": False}]
        assert answers.read_question(home, "b", q["id"]) is not None
        assert answers.read_question(home, "plain", q["id"]) is None
        printed = tb("drain", "b", "--print").out
        assert (
            printed.count(q["id"]) == 2
            and "lead asks this as question" in printed
            and "waits for your reply" in printed
        )
        rc, _ = h.hook("prompt-submit", {"hook_event_name": "UserPromptSubmit", "prompt": printed}, session="b")
        assert rc == 0
        stop = {"hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": "yes (tok-rpcask)"}
        assert h.hook("stop", stop, session="b")[0] == 0
        (r,) = rpc({"op": "receipt", "id": q["id"], "session": "b"})
        assert (r["receipt"]["state"], r["receipt"]["answer"]) == ("answered", "yes (tok-rpcask)")
    finally:
        h.close()


def test_a_forwarded_question_id_never_names_a_path_outside_its_questions(home, short_tmp):
    """A question's file is named by its id: `take` with `ask` refuses an id that is no plain name
    (`..`, `/`), so no request writes (or chmods) anything outside the session's questions."""
    from agent_host import AgentHost

    h = AgentHost(short_tmp / "b", "codex")
    try:
        start = {"session_id": "sid-b", "transcript_path": str(short_tmp / "b.jsonl"), "source": "startup"}
        (short_tmp / "b.jsonl").write_text("")
        assert h.hook("session-start", dict(start, hook_event_name="SessionStart"), session="b")[0] == 0
        ok = {"id": "01ABCDEFGHJKMNPQRSTVWXYZ22", "session": "b", "body": "tok-first?", "ask": True}
        (first,) = rpc({"op": "take", "messages": [ok]})
        assert first["results"] == [{"id": ok["id"], "taken": True}]  # questions/ exists now
        outside = short_tmp / "outside"
        outside.mkdir(mode=0o755)
        rel = os.path.relpath(outside / "pwn", home / "sessions" / "b" / "questions")
        assert ".." in rel and len(rel) <= 128
        (answer,) = rpc({"op": "take", "messages": [{**ok, "id": rel}, {**ok, "id": "a/b"}]})
        assert [r["exit"] for r in answer["results"]] == [2, 2], answer
        assert not (outside / "pwn.json").exists() and (outside.stat().st_mode & 0o777) == 0o755
        assert sorted(p.name for p in outside.iterdir()) == []
    finally:
        h.close()
