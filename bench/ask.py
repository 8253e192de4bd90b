"""`termbridge ask` against the real agents: the time from starting `ask` to the answer printed,
minus the model's own time (the stub waits DELAY before each turn's answer), per agent and lane,
side by side in one run (offline: the pinned agents against tests/agent_stub.py in a private tmux
server, termbridge's hooks installed as `hooks install` writes them).

  python bench/ask.py [--runs N] [--delay S] [--kinds codex,claude,gemini]

For Claude Code and Codex both lanes are timed, alternating (native A, terminal B, A, B, ...):
the native lane (Claude Code's messaging socket, `codex queue`) and the terminal lane (typed,
confirmed). Gemini CLI has only the terminal lane. The answer comes from the agent's own Stop /
AfterAgent hook in every case; what is left after the model's time is termbridge's part (the CLI,
delivery, the hook) plus the agent's own turn overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, status_row, tb, wait  # noqa: E402


def set_lane(agent, lane: str) -> None:
    p = tb("register", agent.name, "--pid", str(agent.tui), "--kind", agent.kind, "--lane", lane)
    if p.returncode != 0:
        raise SystemExit(p.stderr)


def idle(agent) -> None:
    wait(lambda: (r := status_row(agent.name)) is not None and r["surface"] == "idle", 90, 0.2)


def one(agent, delay: float) -> tuple[float, float]:
    """(ms from starting `ask` to the answer, that minus the model's time)."""
    token = "tok-" + secrets.token_hex(6)
    before = len(agent.stub.main_requests())
    t0 = time.perf_counter()
    p = tb("ask", agent.name, f"Which token is this? {token}", "--timeout", "120", "--json")
    ms = (time.perf_counter() - t0) * 1000
    got = json.loads(p.stdout or "{}")
    if p.returncode != 0 or token not in (got.get("answer") or ""):
        raise SystemExit(f"ask {agent.name}: exit {p.returncode}: {p.stderr.strip()} {got}")
    turns = len(agent.stub.main_requests()) - before  # model requests the turn made (each waits DELAY)
    return ms, ms - turns * delay * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--delay", type=float, default=1.0, help="the model's own time per request (s)")
    ap.add_argument("--kinds", default="codex,claude,gemini")
    args = ap.parse_args()
    from agent_stub import AgentStub
    from real_agent_lab import BIN, VERSIONS, ModuleState, RealAgent, agents_missing

    if not BIN:
        raise SystemExit(agents_missing())
    tmp = Path(tempfile.mkdtemp(prefix="tbba", dir="/tmp"))
    st = ModuleState(tmp)
    stub = AgentStub()
    stub.answer_tokens = True
    results: dict = {}
    agents = []
    try:
        for kind in args.kinds.split(","):
            agent = RealAgent(st.lab, stub, tmp, kind, hooks=True, work=tmp / f"w-{kind}")
            agents.append(agent)
            if kind == "codex":
                agent.prompt("a first turn tok-first0")  # Codex runs SessionStart at its first turn
            wait(lambda a=agent: status_row(a.name) is not None, 90, 0.3)
            agent.tui = agent.pid
            idle(agent)
            stub.delay = args.delay
            lanes = ("native", "terminal") if kind in ("claude", "codex") else ("terminal",)
            times: dict[str, list[tuple[float, float]]] = {lane: [] for lane in lanes}
            for _ in range(args.runs):
                for lane in lanes:
                    set_lane(agent, "auto" if lane == "native" else "terminal")
                    idle(agent)
                    if lane == "native":
                        wait(lambda a=agent: (status_row(a.name) or {}).get("lane") == "native", 30, 0.3)
                    total, own = one(agent, args.delay)
                    times[lane].append((total, own))
            stub.delay = 0.0
            results[kind] = times
            agent.close()
            agents.remove(agent)
    finally:
        for a in agents:
            a.close()
        stub.close()
        st.close()
        os.system(f"rm -rf {tmp}")

    print(f"# ask: from starting `termbridge ask` to the answer, {args.runs} runs, medians ({machine()})")
    print(f"# agents: {', '.join(f'{k} {v}' for k, v in VERSIONS.items() if k in results)}")
    print(f"# the model's own time: {args.delay:g} s per request (subtracted in the last column)")
    print(f"{'agent':8} {'lane':9} {'ask→answer ms':>14} {'minus the model ms':>19}")
    for kind, times in results.items():
        for lane, runs in times.items():
            print(
                f"{kind:8} {lane:9} {statistics.median(t[0] for t in runs):14.0f} "
                f"{statistics.median(t[1] for t in runs):19.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
