"""`termbridge mcp` figures, side by side in one run: server start to the first tool answer,
and the per-call latency of `send` through one MCP session (no interpreter start per call)
against `termbridge send` as a CLI process. Needs the extra: pip install 'termbridge[mcp]'.
Run: python bench/mcp.py [--runs N]"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
sys.path.insert(0, _HERE)
from common import PY, TB, machine, median_ms, private_env, run  # noqa: E402

# This file is called mcp.py: keep its folder off the path, or `import mcp` finds it, not the SDK.
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != Path(_HERE)]


def _params(env: dict, name: str):
    from mcp.client.stdio import StdioServerParameters

    return StdioServerParameters(command=PY, args=["-m", "termbridge", "mcp", "--name", name], env=env)


async def _start_to_first_answer(env: dict) -> tuple[float, float]:
    """(ms to the session being initialized, ms to the first `peers` answer), from before the spawn."""
    from mcp import Client

    t = time.perf_counter()
    async with Client(_params(env, "bench-self")) as c:
        ready = time.perf_counter()
        r = await c.call_tool("peers", {})
        first = time.perf_counter()
        assert not r.is_error, r.content
    return (ready - t) * 1000, (first - t) * 1000


async def _mcp_calls(env: dict, n: int) -> dict[str, list[float]]:
    """Per-call ms of send (with its wake attempt), inbox and peers over one live session."""
    from mcp import Client

    out: dict[str, list[float]] = {"send": [], "inbox": [], "peers": []}
    async with Client(_params(env, "bench-self")) as c:
        for i in range(n):
            t = time.perf_counter()
            r = await c.call_tool("send", {"to": "bench", "message": f"hello {i}"})
            out["send"].append((time.perf_counter() - t) * 1000)
            assert not r.is_error, r.content
        for _ in range(max(5, n // 5)):
            t = time.perf_counter()
            await c.call_tool("send", {"to": "bench-self", "message": "to myself"})
            t = time.perf_counter()
            r = await c.call_tool("inbox", {})
            out["inbox"].append((time.perf_counter() - t) * 1000)
            assert "--- message" in "".join(x.text for x in r.content)
        for _ in range(max(5, n // 5)):
            t = time.perf_counter()
            await c.call_tool("peers", {})
            out["peers"].append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    n = ap.parse_args().runs
    d, env = private_env()
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        run([*TB, "register", "bench", "--pid", str(sleeper.pid)], env=env)  # a live peer no terminal hosts
        starts = [asyncio.run(_start_to_first_answer(env)) for _ in range(max(5, n // 2))]
        bare = median_ms(lambda: run([PY, "-c", "pass"]), n)
        help_cli = median_ms(lambda: run([*TB, "--help"], env=env), n)
        calls = asyncio.run(_mcp_calls(env, n))
        cli_send = median_ms(lambda: run([*TB, "send", "bench", "hello"], env=env), n)
        cli_send_nowake = median_ms(lambda: run([*TB, "send", "bench", "hello", "--no-wake"], env=env), n)
    finally:
        sleeper.kill()
        sleeper.wait()
        import shutil

        shutil.rmtree(d, ignore_errors=True)

    med = statistics.median
    print(f"termbridge mcp -- {machine()}; medians of {n} runs unless said")
    print(f"{'what':58} {'ms':>9}")
    print(f"{'bare interpreter start (python -c pass)':58} {bare:9.1f}")
    print(f"{'termbridge --help (CLI start)':58} {help_cli:9.1f}")
    print(f"{f'mcp: spawn -> session initialized ({len(starts)} runs)':58} {med(s[0] for s in starts):9.1f}")
    print(f"{f'mcp: spawn -> first tool answer (peers) ({len(starts)} runs)':58} {med(s[1] for s in starts):9.1f}")
    print()
    print(f"{'send, one message (+ delivery attempt; peer has no terminal)':58} {'ms':>9}")
    print(f"{'  mcp tool call over a live session':58} {med(calls['send']):9.1f}")
    print(f"{'  termbridge send (CLI process)':58} {cli_send:9.1f}")
    print(f"{'  termbridge send --no-wake (CLI process)':58} {cli_send_nowake:9.1f}")
    print(f"{'  ratio CLI / mcp':58} {cli_send / med(calls['send']):9.1f}x")
    print()
    print(f"{'mcp inbox (one message, claim + commit + receipts)':58} {med(calls['inbox']):9.1f}")
    print(f"{'mcp peers (two sessions, status rows)':58} {med(calls['peers']):9.1f}")


if __name__ == "__main__":
    main()
