"""Which process is the agent: Claude Code, Codex or Gemini CLI recognised from a process,
the way hooks (the agent's grandchildren through `sh -c`) and `termbridge mcp` (its child)
find the agent they run for.

A process is an agent when its executable, command name or argv[0] is one (`claude`,
`codex`, `codex-linux-x64`, `claude-code`...), or when a runtime (node, bun, deno, python)
runs the agent's script (`node …/@google/gemini-cli/dist/index.js`, flags first or not), or a
shell runs it as its script (`sh /…/bin/claude`). A shell running `-c "… --agent claude"`
(a hook's own shell) is never the agent.
"""

from __future__ import annotations

import os
import re

from termbridge import proctree
from termbridge.kinds import AGENT_KINDS

SHELLS = re.compile(r"^(sh|bash|dash|zsh|ksh|fish)$")
RUNTIMES = re.compile(r"^(node(js)?|bun|deno|python[0-9.]*)$")


def names_agent(path: str, agent: str) -> bool:
    """PATH names AGENT: a component `claude`, `claude-code`, `@google/gemini-cli`, `codex.js`…"""
    return any(part == agent or part.startswith((agent + "-", agent + ".")) for part in path.lower().split("/"))


def _named(path: str) -> str | None:
    return next((k for k in AGENT_KINDS if names_agent(path, k)), None)


def agent_kind(pid: int) -> str | None:
    """'claude', 'codex' or 'gemini' when PID is recognisably that agent, else None."""
    argv = proctree.cmdline(pid)
    prog = os.path.basename(argv[0]) if argv else ""
    exe = os.path.basename(proctree.exe(pid))
    for name in (prog, exe, proctree.comm(pid)):
        kind = _named(name) if name else None
        if kind:
            return kind  # the native binaries (codex-linux-x64 and the like included)
    if len(argv) > 1 and (SHELLS.match(prog) or SHELLS.match(exe)):
        # A shell runs a script only as its first argument: `sh -c CMD` is never the agent.
        return None if argv[1].startswith("-") else _named(argv[1])
    if len(argv) > 1 and (RUNTIMES.match(prog) or RUNTIMES.match(exe)):
        # node [--flags…] /…/gemini-cli/dist/index.js (Gemini relaunches node with memory flags)
        script = next((a for a in argv[1:] if not a.startswith("-")), None)
        return _named(script) if script else None
    return None


def is_agent(pid: int, agent: str) -> bool:
    """Whether PID runs AGENT."""
    return agent_kind(pid) == agent


def is_shell(pid: int) -> bool:
    """Whether PID is an interactive shell (bash, zsh, fish, dash, sh, ksh) rather than an agent."""
    argv = proctree.cmdline(pid)
    names = [os.path.basename(argv[0]).lstrip("-") if argv else "", os.path.basename(proctree.exe(pid)),
             proctree.comm(pid).lstrip("-")]
    return any(SHELLS.match(n) for n in names if n) and agent_kind(pid) is None
