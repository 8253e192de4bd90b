"""Where the real agents record a submitted prompt, as seen with the real agents (tests/test_real_surface.py
checks it live): the paths below are files Codex 0.171, Claude Code 2.1.197 (the same in 2.1.332) and Gemini CLI 0.61
wrote in a scratch HOME (records shortened), and transcripts.find_ids reads each under the agent
process's own HOME / CODEX_HOME. Gemini 0.61 keeps its chats as chats/session-*.jsonl."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import tb, tb_json

LAYOUTS = {  # kind -> (path under the agent's HOME, one record holding the prompt)
    "claude": (
        ".claude/projects/-tmp-tb7ydnqu6l-work/cdbdbf55-c51a-4791-bd82-e71e707e84d8.jsonl",
        lambda m: json.dumps({"type": "user", "message": {"role": "user", "content": m}}) + "\n",
    ),
    "codex": (
        ".codex/sessions/2026/11/26/rollout-2026-11-26T23-12-56-01a21a22-2b43-77a0-b7d5-b62bd7dc35b6.jsonl",
        lambda m: (
            json.dumps(
                {
                    "type": "response_item",
                    "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": m}]},
                }
            )
            + "\n"
        ),
    ),
    "gemini": (
        ".gemini/tmp/work/chats/session-2026-11-26T23-15-c9e8a382.jsonl",  # 0.61: .jsonl chats
        lambda m: json.dumps({"type": "user", "content": [{"text": m}]}) + "\n",
    ),
}


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_received_from_where_the_real_agent_writes(home, short_tmp, kind):
    agent_home = short_tmp / "agenthome"
    rel, record = LAYOUTS[kind]
    env = {"HOME": str(agent_home), "PATH": os.environ["PATH"]}
    if kind == "codex":
        env["CODEX_HOME"] = str(agent_home / ".codex")
    agent = subprocess.Popen(["sleep", "300"], env=env)
    try:
        assert tb("register", kind, "--pid", agent.pid, "--kind", kind).returncode == 0
        mid = tb_json("send", kind, "read me", "--no-wake")["id"]
        other = tb_json("send", kind, "not this one", "--no-wake")["id"]
        assert tb("drain", kind, "--print").returncode == 0
        assert tb_json("receipt", mid)["state"] == "submitted"
        path = agent_home / rel
        path.parent.mkdir(parents=True)
        path.write_text(record(f"[termbridge] 1 peer message\n--- message {mid} from x"))
        r = tb_json("receipt", mid)
        assert (r["state"], r["via"]) == ("received", "transcript"), r
        assert tb_json("receipt", other)["state"] == "submitted"
    finally:
        agent.kill()
        agent.wait()
