"""A scripted "agent" for the MCP tests: it runs in a real tmux pane and starts termbridge's
MCP server(s) with the SDK's own stdio client, as a real agent does, so the server's
parent is this process and registration can be verified against the pane.

  mcp_agent.py --out FILE --steps JSON [--servers N] [--name NAME] [--wrap] [--scrubbed-env]

Steps (a JSON list, or @FILE holding one), each [op, args...]:
  ["call", server_index, tool, {args}]        one tool call; result line written to FILE
                                              (an argument "$LAST_ID" becomes the first message id
                                              of the latest inbox answer: for replies and receipts)
  ["touch", path] / ["wait", path]            synchronise with the test
  ["drain_until", path]                       every server calls inbox twice concurrently, in a loop,
                                              until PATH exists and a full round came back empty
Every result is one JSON line: {"step", "server", "tool", "is_error", "text"}.
After the steps the agent stays alive (its servers too) until FILE + ".stop" exists.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from contextlib import AsyncExitStack

from mcp import Client
from mcp.client.stdio import StdioServerParameters


def server_params(name: str | None, wrap: bool, scrubbed: bool = False) -> StdioServerParameters:
    args = ["-m", "termbridge", "mcp"] + (["--name", name] if name else [])
    # The agent's own environment, as Claude Code passes it; or, like Codex by default, only
    # the SDK's short whitelist (HOME, PATH, …: no TERMBRIDGE_*, no TMUX).
    env = None if scrubbed else dict(os.environ)
    if wrap:  # a wrapper shell between agent and server (`; :` keeps sh from exec'ing)
        cmd = " ".join([sys.executable, *args]) + "; :"
        return StdioServerParameters(command="/bin/sh", args=["-c", cmd], env=env)
    return StdioServerParameters(command=sys.executable, args=args, env=env)


def text_of(result) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", required=True)
    ap.add_argument("--servers", type=int, default=1)
    ap.add_argument("--name")
    ap.add_argument("--wrap", action="store_true")
    ap.add_argument("--scrubbed-env", action="store_true")
    a = ap.parse_args()
    steps = json.loads(open(a.steps[1:]).read() if a.steps.startswith("@") else a.steps)
    out = open(a.out, "a", buffering=1)

    def emit(**kw) -> None:
        out.write(json.dumps(kw) + "\n")
        out.flush()

    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(a.servers):
            clients.append(await stack.enter_async_context(Client(server_params(a.name, a.wrap, a.scrubbed_env))))
        last_id = None
        emit(step=-1, tool="started", servers=len(clients), pid=os.getpid())
        for i, step in enumerate(steps):
            op = step[0]
            if op == "call":
                _, idx, tool, args = step
                args = {k: (last_id if v == "$LAST_ID" else v) for k, v in args.items()}
                r = await clients[idx].call_tool(tool, args)
                emit(step=i, server=idx, tool=tool, is_error=bool(r.is_error), text=text_of(r))
                found = re.search(r"^--- message (\S+) from", text_of(r), re.M)
                if tool == "inbox" and found:
                    last_id = found.group(1)
            elif op == "touch":
                open(step[1], "w").close()
            elif op == "wait":
                while not os.path.exists(step[1]):
                    await asyncio.sleep(0.05)
            elif op == "drain_until":

                async def one(idx: int, i: int = i) -> bool:
                    r = await clients[idx].call_tool("inbox", {})
                    emit(step=i, server=idx, tool="inbox", is_error=bool(r.is_error), text=text_of(r))
                    return "no pending messages" in text_of(r)

                while True:
                    done = os.path.exists(step[1])  # read before the round: what was sent by now is in it
                    # two calls at once on each server: threads in one server, and servers side by side
                    empties = await asyncio.gather(*(one(k) for k in range(len(clients)) for _ in range(2)))
                    if done and all(empties):
                        break
        emit(step=len(steps), tool="done")
        while not os.path.exists(a.out + ".stop"):
            await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main())
