"""kitty windows via our remote-control client: `ls` to verify, send-text + Enter to submit."""

from __future__ import annotations

import os
from collections.abc import Mapping

from termbridge.backends import Screen, Target
from termbridge.errors import KittyError
from termbridge.kitty_rc import KittyClient


def address(env: Mapping[str, str] | None = None) -> str | None:
    """$TERMBRIDGE_KITTY_SOCKET, else $KITTY_LISTEN_ON."""
    env = os.environ if env is None else env
    return env.get("TERMBRIDGE_KITTY_SOCKET") or env.get("KITTY_LISTEN_ON") or None


def list_hosts(home=None, env: Mapping[str, str] | None = None, addr: str | None = None) -> dict[int, Target]:
    """pid -> Target for each kitty window (its own pid and its foreground processes) of ADDR, else of the caller's
    kitty."""
    addr = addr or address(env)
    if not addr:
        return {}
    try:
        tree = KittyClient(addr).ls()
    except KittyError:
        return {}
    hosts: dict[int, Target] = {}
    for os_window in tree:
        for tab in os_window.get("tabs", []):
            for w in tab.get("windows", []):
                wid = int(w["id"])
                info = {"address": addr, "window_id": wid, "focused": bool(w.get("is_focused"))}
                pids = [w.get("pid")] + [fp.get("pid") for fp in w.get("foreground_processes") or []]
                for pid in pids:
                    if isinstance(pid, int) and pid > 0 and pid not in hosts:
                        hosts[pid] = Target("kitty", f"kitty:{addr}:{wid}", pid, dict(info))
    return hosts


def type_text(target: Target, text: str, env=None) -> None:
    """send-text in frames under kitty's limit (bracketed paste where kitty supports it)."""
    KittyClient(target.info["address"]).send_text(target.info["window_id"], text)


def press_enter(target: Target, env=None) -> None:
    """send-key enter (kitty >= 0.32) or a CR through send-text on older kitty."""
    KittyClient(target.info["address"]).press_enter(target.info["window_id"])


def screen(target: Target, env=None) -> Screen:
    """The window's visible text (get-text, extent screen)."""
    client = KittyClient(target.info["address"])
    plain = client.get_text(target.info["window_id"])
    try:
        styled = client.get_text(target.info["window_id"], ansi=True)
    except KittyError:
        styled = None
    return Screen(plain, styled)


def split_target(target: str) -> tuple[str, int] | None:
    """'kitty:<address>:<window-id>' -> (address, id)."""
    if not target.startswith("kitty:"):
        return None
    addr, _, wid = target[6:].rpartition(":")
    return (addr, int(wid)) if wid.isdigit() and addr else None


def parse_target(spec: str, env: Mapping[str, str] | None = None) -> str | None:
    """'kitty:<addr>:<id>' -> itself; a bare window id ('7', 'kitty:7', kitty's @active-kitty-window-id)
    -> that window on the configured socket; None when SPEC is no kitty window."""
    from termbridge.errors import BadInput

    bare = spec[6:] if spec.startswith("kitty:") else spec
    if bare.isdigit():
        addr = address(env)
        if not addr:
            raise BadInput(
                f"pane {spec!r} is a kitty window id, but no kitty socket is set "
                "(TERMBRIDGE_KITTY_SOCKET or KITTY_LISTEN_ON)"
            )
        return f"kitty:{addr}:{bare}"
    return spec if split_target(spec) is not None else None
