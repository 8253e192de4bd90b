"""Each session's own record found from its PID alone (no hooks), in the layouts the real agents write
(Codex 0.171, Claude Code 2.1.332, Gemini CLI 0.61 in a scratch HOME; records shortened;
tests/test_real_surface.py checks it live): the record proves `received`, and another session's
record beside it, under the same HOME, proves nothing.

  claude  ~/.claude/sessions/<pid>.json names the sessionId (procStart: the PID's start time)
          -> ~/.claude/projects/<cwd as dashes>/<sessionId>.jsonl
  codex   the TUI holds its rollout open (embedded mode): /proc/<pid>/fd
  gemini  ~/.gemini/tmp/<slug>/.project_root is the agent's cwd; chats/session-*.jsonl whose first
          line carries sessionId and a startTime after the process started
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
from helpers import tb, tb_json

from termbridge import proctree


def _framed(mid: str) -> str:
    return f"[termbridge] 1 peer message\n--- message {mid} from x at now\n> read me"


def _claude_line(text: str) -> str:
    return json.dumps({"type": "user", "message": {"role": "user", "content": text}}) + "\n"


def _codex_line(text: str) -> str:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return json.dumps({"type": "response_item", "payload": item}) + "\n"


def _gemini_line(text: str) -> str:
    return json.dumps({"type": "user", "content": [{"text": text}]}) + "\n"


HOLDER = """
import sys, time
f = open(sys.argv[1], "a")  # held open, as Codex's TUI holds its rollout (embedded mode)
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("kind", ["claude", "codex", "gemini"])
def test_the_record_found_from_the_pid_proves_received_and_a_neighbour_does_not(home, short_tmp, kind):
    agent_home = short_tmp / "agenthome"
    work = short_tmp / "work"
    work.mkdir()
    env = {"HOME": str(agent_home), "PATH": os.environ["PATH"], "CODEX_HOME": str(agent_home / ".codex")}
    own = other = None
    if kind == "codex":
        sessions = agent_home / ".codex/sessions/2026/12/01"
        sessions.mkdir(parents=True)
        own = sessions / f"rollout-2026-12-01T10-00-00-{uuid.uuid4()}.jsonl"
        other = sessions / f"rollout-2026-12-01T10-00-01-{uuid.uuid4()}.jsonl"
        own.write_text(json.dumps({"type": "session_meta", "payload": {"cwd": str(work)}}) + "\n")
        agent = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(own)], env=env, cwd=work, stdout=subprocess.PIPE, text=True
        )
        assert agent.stdout.readline().strip() == "ready"
    else:
        agent = subprocess.Popen(["sleep", "300"], env=env, cwd=work)
    try:
        if kind == "claude":
            sid, sid2 = str(uuid.uuid4()), str(uuid.uuid4())
            (agent_home / ".claude/sessions").mkdir(parents=True)
            info = {"pid": agent.pid, "sessionId": sid, "cwd": str(work), "procStart": proctree.start_time(agent.pid)}
            (agent_home / ".claude/sessions" / f"{agent.pid}.json").write_text(json.dumps(info))
            proj = agent_home / ".claude/projects" / str(work).replace("/", "-")
            proj.mkdir(parents=True)
            own, other = proj / f"{sid}.jsonl", proj / f"{sid2}.jsonl"
        elif kind == "gemini":
            time.sleep(0.05)
            slug = agent_home / ".gemini/tmp/work"
            (slug / "chats").mkdir(parents=True)
            (slug / ".project_root").write_text(str(work))
            started = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            own = slug / "chats" / "session-2026-12-01T10-00-aaaaaaaa.jsonl"
            own.write_text(json.dumps({"sessionId": str(uuid.uuid4()), "startTime": started, "kind": "main"}) + "\n")
            other_dir = agent_home / ".gemini/tmp/elsewhere"
            (other_dir / "chats").mkdir(parents=True)
            (other_dir / ".project_root").write_text(str(short_tmp / "elsewhere"))
            other = other_dir / "chats" / "session-2026-12-01T10-00-bbbbbbbb.jsonl"
            other.write_text(json.dumps({"sessionId": str(uuid.uuid4()), "startTime": started, "kind": "main"}) + "\n")
        line = {"claude": _claude_line, "codex": _codex_line, "gemini": _gemini_line}[kind]
        assert tb("register", kind, "--pid", agent.pid, "--kind", kind).returncode == 0
        mid = tb_json("send", kind, "read me", "--no-wake")["id"]
        beside = tb_json("send", kind, "not this one", "--no-wake")["id"]
        assert tb("drain", kind, "--print").returncode == 0
        assert tb_json("receipt", mid)["state"] == "submitted"
        with open(own, "a") as f:
            f.write(line(_framed(mid)))
        with open(other, "a") as f:  # another session's record under the same HOME
            f.write(line(_framed(beside)))
        r = tb_json("receipt", mid)
        assert (r["state"], r["via"]) == ("received", "record"), r
        assert tb_json("receipt", beside)["state"] == "submitted"
        assert tb_json("status")["sessions"][0]["record"] == str(own)
    finally:
        agent.kill()
        agent.wait()
