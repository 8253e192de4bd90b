"""Resolution: the verified target is the terminal whose root process is the session PID or
its nearest ancestor. Found fresh every time; self-reported pane ids and $TMUX_PANE are never used."""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path
from typing import Mapping

from termbridge import proctree, registry
from termbridge.backends import Target
from termbridge.errors import NoTarget

BACKENDS = ("pty", "tmux", "kitty")  # order only breaks ties at the same pid
TMUX_PANE_RE = re.compile(r"%\d+")


def backend_module(name: str):
    return importlib.import_module(f"termbridge.backends.{name}")


def all_hosts(home: Path, env: Mapping[str, str] | None = None) -> dict[int, Target]:
    """host pid -> Target across every available backend (one tmux call, one kitty `ls`)."""
    hosts: dict[int, Target] = {}
    for name in BACKENDS:
        for hpid, tgt in backend_module(name).list_hosts(home, env).items():
            hosts.setdefault(hpid, tgt)
    return hosts


def nearest_host(pid: int, hosts: dict[int, Target], label: str = "") -> Target:
    """The host nearest to PID in its ancestor chain, with the chain that proves it."""
    chain = proctree.ancestor_chain(pid)
    if not chain:
        raise NoTarget(f"{label or f'pid {pid}'}: process is not running")
    for i, p in enumerate(chain):
        if p in hosts:
            tgt = copy.copy(hosts[p])
            tgt.chain = chain[: i + 1]
            return tgt
    raise NoTarget(f"{label or f'pid {pid}'}: no tmux pane, kitty window or termbridge PTY hosts pid {pid}")


def resolve_pid(home: Path, pid: int, env: Mapping[str, str] | None = None, label: str = "") -> Target:
    """The verified target hosting PID, nearest ancestor first; NoTarget (exit 3) if none."""
    return nearest_host(pid, all_hosts(home, env), label)


def resolve_session(home: Path, sess: registry.Session, env: Mapping[str, str] | None = None,
                    log_failure: bool = True) -> Target:
    """The verified target of a live session (DeadSession if its PID died or was reused).

    A failure is logged as a `resolve_failed` event unless LOG_FAILURE is False (for
    read-only observers such as status and doctor).
    """
    try:
        registry.require_alive(sess)
        tgt = resolve_pid(home, sess.pid, env, label=f"session {sess.name!r}")
        registry.require_alive(sess)  # re-check: the PID must not have been reused while we looked
    except NoTarget as e:
        if log_failure:
            from termbridge.events import log_event

            log_event(home, "resolve_failed", sess.name, error=str(e))
        raise
    return tgt


def normalize_target(spec: str) -> str:
    """Accept '%3', 'tmux:%3', 'kitty:<addr>:<id>', 'pty:NAME' and return the contract form (BadInput otherwise)."""
    from termbridge.backends.kitty import parse_target
    from termbridge.errors import BadInput
    from termbridge.paths import NAME_RE

    if spec.startswith("%"):
        spec = "tmux:" + spec
    bare = spec[6:] if spec.startswith("kitty:") else spec
    if bare.isdigit():  # a kitty window id (kitty's @active-kitty-window-id) on the configured socket
        from termbridge.backends.kitty import address

        addr = address()
        if not addr:
            raise BadInput(f"pane {spec!r} is a kitty window id, but no kitty socket is set (TERMBRIDGE_KITTY_SOCKET or KITTY_LISTEN_ON)")
        spec = f"kitty:{addr}:{bare}"
    ok = (
        (spec.startswith("tmux:") and TMUX_PANE_RE.fullmatch(spec[5:]))
        or (spec.startswith("pty:") and NAME_RE.fullmatch(spec[4:]))
        or parse_target(spec) is not None
    )
    if not ok:
        raise BadInput(f"invalid pane {spec!r}: expected %N, tmux:%N, kitty:<address>:<window-id> or pty:NAME")
    return spec


def target_json(sess: registry.Session, tgt: Target) -> dict:
    return {"session": sess.name, "backend": tgt.backend, "target": tgt.target, "pid": sess.pid, "chain": tgt.chain}
