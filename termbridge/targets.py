"""Resolution: the verified target is the terminal whose root process is the session PID or
its nearest ancestor. Found fresh every time; self-reported pane ids and $TMUX_PANE are never used."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Mapping

from termbridge import proctree, registry
from termbridge.backends import Target
from termbridge.errors import NoTarget

BACKENDS = ("pty", "tmux", "kitty")  # order only breaks ties at the same pid


def backend_module(name: str):
    return importlib.import_module(f"termbridge.backends.{name}")


def resolve_pid(home: Path, pid: int, env: Mapping[str, str] | None = None, label: str = "") -> Target:
    """The verified target hosting PID, nearest ancestor first; NoTarget (exit 3) if none."""
    chain = proctree.ancestor_chain(pid)
    if not chain:
        raise NoTarget(f"{label or f'pid {pid}'}: process is not running")
    hosts: dict[int, Target] = {}
    for name in BACKENDS:
        for hpid, tgt in backend_module(name).list_hosts(home, env).items():
            hosts.setdefault(hpid, tgt)
    for i, p in enumerate(chain):
        if p in hosts:
            tgt = hosts[p]
            tgt.chain = chain[: i + 1]
            return tgt
    raise NoTarget(f"{label or f'pid {pid}'}: no tmux pane, kitty window or termbridge PTY hosts pid {pid}")


def resolve_session(home: Path, sess: registry.Session, env: Mapping[str, str] | None = None) -> Target:
    """The verified target of a live session (DeadSession if its PID died or was reused)."""
    registry.require_alive(sess)
    tgt = resolve_pid(home, sess.pid, env, label=f"session {sess.name!r}")
    registry.require_alive(sess)  # re-check: the PID must not have been reused while we looked
    return tgt


def normalize_target(spec: str) -> str:
    """Accept '%3', 'tmux:%3', 'kitty:<addr>:<id>', 'pty:NAME' and return the contract form."""
    if spec.startswith("%"):
        return "tmux:" + spec
    return spec


def target_json(sess: registry.Session, tgt: Target) -> dict:
    return {"session": sess.name, "backend": tgt.backend, "target": tgt.target, "pid": sess.pid, "chain": tgt.chain}
