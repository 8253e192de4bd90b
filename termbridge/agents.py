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
import time
from collections.abc import Callable, Mapping

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
    names = [
        os.path.basename(argv[0]).lstrip("-") if argv else "",
        os.path.basename(proctree.exe(pid)),
        proctree.comm(pid).lstrip("-"),
    ]
    return any(SHELLS.match(n) for n in names if n) and agent_kind(pid) is None


def detect_kind(pid: int) -> str:
    """The kind to register PID as when none is given: the agent it is, 'shell', else 'other'."""
    return agent_kind(pid) or ("shell" if is_shell(pid) else "other")


# ---------------------------------------------------------------- Codex in daemon mode
# Codex's stock mode: the TUI is a client of a background `codex app-server --managed-daemon`
# (one per CODEX_HOME) that runs every thread, and its hooks, as the daemon's children. A hook
# then finds the daemon among its ancestors, not the TUI. Nothing the daemon hands a hook names
# the TUI (its environment is the one the daemon inherited from whichever TUI started it), so the
# TUI is found from the process table, verified: a codex process whose unix socket is connected
# to one of the daemon's own connections on its control socket, whose working directory is the
# thread's cwd; among several such clients, the one that started the thread (`codex resume
# <thread>` names it; a thread made at start-up is the newest client started before it).
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_codex_daemon(pid: int) -> bool:
    """Whether PID is Codex's background app-server daemon (`codex app-server … --managed-daemon`)."""
    argv = proctree.cmdline(pid)
    return agent_kind(pid) == "codex" and "app-server" in argv[1:2] and "--managed-daemon" in argv


def codex_tui(
    daemon: int, hook_input: Mapping[str, object], bound: Callable[[int], str | None] | None = None
) -> int | None:
    """The Codex TUI that runs the thread a hook of DAEMON reports (HOOK_INPUT: `session_id`, `cwd`,
    `transcript_path`, `source`), verified as the daemon's client; None when none or several fit.

    BOUND(pid): the record (rollout path) an earlier SessionStart bound to that TUI's session:
    later hooks of a thread (prompt-submit, stop) carry no `source`, so among several clients
    in one directory the TUI whose session is bound to this very thread is the one.
    """
    thread, cwd = hook_input.get("session_id"), hook_input.get("cwd")
    if not (isinstance(thread, str) and _UUID.match(thread) and isinstance(cwd, str) and cwd):
        return None
    clients = [p for p in daemon_clients(daemon) if _cwd(p) == os.path.realpath(cwd)]
    if len(clients) <= 1:
        return clients[0] if clients else None
    named = [p for p in clients if thread in proctree.cmdline(p)]  # `codex resume <thread>`
    if len(named) == 1:
        return named[0]
    if hook_input.get("source") != "startup":
        record = hook_input.get("transcript_path")
        mine = [p for p in clients if bound is not None and record and bound(p) == record]
        return mine[0] if len(mine) == 1 else None
    # The thread was made as its TUI started (its id is a UUIDv7: milliseconds since the epoch).
    made = int(thread.replace("-", "")[:12], 16) / 1000.0
    started = {p: t for p in clients if (t := _started_at(p)) is not None and t <= made + 0.02}
    if not started:
        return None
    newest = max(started.values())
    picked = [p for p, t in started.items() if t == newest]
    return picked[0] if len(picked) == 1 else None


def codex_tui_environ(
    hook_input: Mapping[str, object], bound: Callable[[int], str | None] | None = None
) -> dict[str, str] | None:
    """For a hook run by Codex's daemon: the environment of the TUI that runs its thread (its
    TERMBRIDGE_SESSION, TMUX…, where the hook itself has the daemon's); None otherwise."""
    chain = proctree.ancestor_chain(os.getpid())[1:]
    daemon = next((p for p in chain if p > 1 and agent_kind(p) == "codex"), None)
    if daemon is None or not is_codex_daemon(daemon):
        return None
    tui = codex_tui(daemon, hook_input, bound)
    return (proctree.environ(tui) or None) if tui is not None else None


def codex_tui_of_child(daemon: int, child: int) -> int | None:
    """The Codex TUI for which DAEMON started CHILD (an MCP server: started per thread, in the
    thread's cwd, as the thread starts): the daemon's one client in CHILD's cwd, or among several
    the newest started before CHILD; None when none fits."""
    cwd = _cwd(child)
    clients = [p for p in daemon_clients(daemon) if cwd is not None and _cwd(p) == cwd]
    if len(clients) <= 1:
        return clients[0] if clients else None
    born = _started_at(child)
    started = {p: t for p in clients if born is not None and (t := _started_at(p)) is not None and t <= born}
    if not started:
        return None
    newest = max(started.values())
    picked = [p for p, t in started.items() if t == newest]
    return picked[0] if len(picked) == 1 else None


def daemon_clients(daemon: int) -> list[int]:
    """Codex processes (not app-servers) holding a unix socket connected to DAEMON's control socket."""
    socks = unix_sockets()
    own = _socket_inodes(daemon)
    # The daemon's ends of its clients' connections: accepted on its control socket (so bound to
    # its path, as /proc/net/unix and sock_diag show them) and connected to a peer.
    peers = {socks[i][1] for i in own if i in socks and socks[i][0] and socks[i][1]}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == daemon:
            continue
        pid = int(entry)
        argv = proctree.cmdline(pid)
        if "app-server" in argv[1:2] or agent_kind(pid) != "codex":
            continue
        if _socket_inodes(pid) & peers:
            found.append(pid)
    return sorted(found)


def _socket_inodes(pid: int) -> set[int]:
    return {int(link[8:-1]) for link in proctree.open_files(pid) if link.startswith("socket:[")}


_cwd = proctree.cwd


def _started_at(pid: int) -> float | None:
    """PID's start as seconds since the epoch (from /proc: boot-relative clock ticks)."""
    token = proctree.start_time(pid)
    try:
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    if token is None or not token.isdigit():
        return None
    return time.time() - uptime + int(token) / ticks


def unix_sockets() -> dict[int, tuple[str, int]]:
    """Every unix socket of this network namespace: inode -> (bound path or "", peer inode or 0).

    From the kernel's sock_diag netlink interface (what `ss -x` reads): /proc/net/unix lists
    the paths but not who is connected to whom.
    """
    import socket
    import struct

    NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20  # noqa: N806 - the kernel's names
    NLM_F_REQUEST, NLM_F_DUMP, NLMSG_ERROR, NLMSG_DONE = 1, 0x300, 2, 3  # noqa: N806
    UDIAG_SHOW_NAME, UDIAG_SHOW_PEER, UNIX_DIAG_NAME, UNIX_DIAG_PEER = 1, 4, 0, 2  # noqa: N806
    req = struct.pack(
        "=BBHIIIII",
        socket.AF_UNIX,
        0,
        0,
        0xFFFFFFFF,
        0,
        UDIAG_SHOW_NAME | UDIAG_SHOW_PEER,
        ~0 & 0xFFFFFFFF,
        ~0 & 0xFFFFFFFF,
    )
    msg = struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + req
    found: dict[int, tuple[str, int]] = {}
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
            nl.settimeout(2.0)
            nl.send(msg)
            while True:
                data = nl.recv(1 << 16)
                off = 0
                while off + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, off)
                    if length < 16 or kind in (NLMSG_DONE, NLMSG_ERROR):
                        return found
                    ino = struct.unpack_from("=I", data, off + 20)[0]
                    name, peer = "", 0
                    a = off + 16 + 16  # after nlmsghdr and unix_diag_msg
                    while a + 4 <= off + length:
                        alen, atype = struct.unpack_from("=HH", data, a)
                        if alen < 4:
                            break
                        body = data[a + 4 : a + alen]
                        if atype == UNIX_DIAG_NAME:
                            name = body.split(b"\0", 1)[0].decode("utf-8", "replace") if body[:1] != b"\0" else "@"
                        elif atype == UNIX_DIAG_PEER and len(body) >= 4:
                            peer = struct.unpack_from("=I", body)[0]
                        a += (alen + 3) & ~3
                    found[ino] = (name, peer)
                    off += (length + 3) & ~3
    except OSError:
        return found
