"""Native lane against terminal lane on the same real agent, side by side in one run (offline: the
pinned agents against tests/agent_stub.py in a private tmux server).

  python bench/lanes.py [--runs N] [--kinds claude,codex]

Per agent (Claude Code's messaging socket, Codex's `codex queue` in its stock daemon mode):
1. time to submitted: from starting `termbridge send` to its receipt reading `submitted`
   (the CLI's own start included), then to the model request carrying the message, with the
   agent idle and its composer empty; native and terminal runs alternate (A B A B ...).
2. with a person's draft in the composer: native delivers (time to the model request);
   terminal waits (`drain` exits 4 "draft", nothing reaches the model), until the draft is cleared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, status_row, tb, tbj, wait  # noqa: E402


def row(name: str) -> dict:
    r = status_row(name)
    assert r is not None, f"{name} is not registered"
    return r


def register(agent, lane: str) -> None:
    p = tb("register", agent.kind, "--pid", str(agent.tui), "--kind", agent.kind, "--lane", lane)
    if p.returncode != 0:
        raise SystemExit(p.stderr)


def idle(agent) -> None:
    wait(lambda: row(agent.kind)["surface"] == "idle", 60, 0.2)


def one(agent, lane: str, n: int) -> tuple[float, float]:
    """(ms to submitted, ms to the model request) for one message by LANE."""
    token = f"bench-{lane}-{n}-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    mid = tbj("send", agent.kind, token, "--from", "bench")["id"]
    wait(lambda: tbj("receipt", mid)["state"] in ("submitted", "received"), 60, 0.005)
    t_sub = time.perf_counter()
    wait(lambda: agent.stub.seen(token), 60, 0.005)
    t_model = time.perf_counter()
    return (t_sub - t0) * 1000, (t_model - t0) * 1000


def with_draft(agent, lane: str) -> str:
    """What a message does while a person's draft is in the composer, by LANE."""
    agent.type_slowly("a draft of my own")
    wait(lambda: row(agent.kind)["surface"] == "draft", 20, 0.2)
    token = f"bench-draft-{lane}-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    mid = tbj("send", agent.kind, token, "--from", "bench", "--no-wake")["id"]
    p = tb("drain", agent.kind)
    if lane == "terminal":
        held = p.returncode == 4 and "draft" in p.stderr and tbj("receipt", mid)["state"] == "queued"
        time.sleep(2.0)
        out = f"waits ({'held at the draft' if held and not agent.stub.seen(token) else 'NOT held: ' + p.stderr})"
        agent.keys("C-u")
        idle(agent)
        wait(lambda: tb("drain", agent.kind).returncode == 0 or tbj("receipt", mid)["state"] != "queued", 30, 0.5)
        wait(lambda: agent.stub.seen(token), 60, 0.05)
        return out
    wait(lambda: agent.stub.seen(token), 60, 0.005)
    ms = (time.perf_counter() - t0) * 1000
    kept = "a draft of my own" in agent.plain()
    agent.keys("C-u")
    idle(agent)
    return f"delivered in {ms:.0f} ms, draft {'kept' if kept else 'LOST'}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--kinds", default="claude,codex")
    args = ap.parse_args()
    from agent_stub import AgentStub
    from real_agent_lab import BIN, VERSIONS, ModuleState, RealAgent

    if not BIN:
        raise SystemExit("the real agents are not there: ./dev.sh test installs them (tests/real_agent_lab.py)")
    tmp = Path(tempfile.mkdtemp(prefix="tbbl", dir="/tmp"))
    st = ModuleState(tmp)
    stub = AgentStub()
    results: dict = {}
    agents = []
    try:
        for kind in args.kinds.split(","):
            agent = RealAgent(st.lab, stub, tmp, kind)
            agents.append(agent)
            agent.tui = agent.pid  # once: the agents start short-lived helpers of their own kind
            register(agent, "auto")
            if kind == "codex":
                agent.prompt("a first turn")  # codex queue needs a thread with a turn
            idle(agent)
            wait(lambda k=kind: row(k)["lane"] == "native", 30, 0.3)
            times: dict[str, list[tuple[float, float]]] = {"native": [], "terminal": []}
            for n in range(args.runs):
                for lane in ("native", "terminal"):
                    register(agent, "auto" if lane == "native" else "terminal")
                    idle(agent)
                    times[lane].append(one(agent, lane, n))
            idle(agent)
            drafts = {}
            for lane in ("native", "terminal"):
                register(agent, "auto" if lane == "native" else "terminal")
                idle(agent)
                drafts[lane] = with_draft(agent, lane)
            results[kind] = (times, drafts)
            agent.close()
            agents.remove(agent)
    finally:
        for a in agents:
            a.close()
        stub.close()
        st.close()
        os.system(f"rm -rf {tmp}")

    print(f"# lanes: native vs terminal, {args.runs} runs each, medians ({machine()})")
    print(f"# agents: {', '.join(f'{k} {v}' for k, v in VERSIONS.items() if k in results)}")
    print(f"{'agent':8} {'lane':9} {'send→submitted ms':>18} {'send→model ms':>14}   with a draft in the composer")
    for kind, (times, drafts) in results.items():
        for lane in ("native", "terminal"):
            sub = statistics.median(t[0] for t in times[lane])
            model = statistics.median(t[1] for t in times[lane])
            print(f"{kind:8} {lane:9} {sub:18.0f} {model:14.0f}   {drafts[lane]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
