"""A stand-in agent process that runs termbridge hooks as its own children, the way the agents do.

Receipts count only evidence from the session's own agent (the hook's agent process is the
session's PID), so tests that run hooks need a real process named like the agent to register
and to run them under. `AgentHost(dirpath, "claude")` starts `<dirpath>/bin/claude` (a Python
script, recognised as the agent by its script name); `.hook(event, payload)` runs
`termbridge hook EVENT --agent claude` under it (through `sh -c`, as the agents do) and returns
(exit code, stdout).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """#!{python}
import json, subprocess, sys
for line in sys.stdin:
    req = json.loads(line)
    p = subprocess.run(["sh", "-c", req["cmd"]], input=req["input"].encode(), capture_output=True)
    print(json.dumps({{"rc": p.returncode, "out": p.stdout.decode("utf-8", "replace")}}), flush=True)
"""


class AgentHost:
    def __init__(self, dirpath: Path, agent: str, env: dict | None = None):
        d = Path(dirpath) / "bin"
        d.mkdir(parents=True, exist_ok=True)
        self.path = d / agent
        self.path.write_text(SCRIPT.format(python=sys.executable))
        self.path.chmod(0o755)
        self.agent = agent
        self.proc = subprocess.Popen(
            [str(self.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env or os.environ.copy(),
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def hook(self, event: str, payload, *extra: str, session: str | None = None) -> tuple[int, str]:
        import shlex

        from helpers import TB

        data = payload if isinstance(payload, str) else json.dumps(payload)
        args = ["hook", event, "--agent", self.agent] + (["--session", session] if session else []) + list(extra)
        cmd = " ".join(shlex.quote(str(a)) for a in [*TB, *args])
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((json.dumps({"cmd": cmd, "input": data}) + "\n").encode())
        self.proc.stdin.flush()
        res = json.loads(self.proc.stdout.readline())
        return res["rc"], res["out"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
