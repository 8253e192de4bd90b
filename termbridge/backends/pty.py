"""PTY wrappers (`termbridge run`): found through their registration files, reached over a 0600 socket."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from termbridge import paths, proctree
from termbridge.backends import Screen, Target
from termbridge.errors import BackendError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath


def pty_dir(home: StrPath) -> Path:
    return Path(home) / "pty"


def socket_path(home: StrPath, name: str) -> Path:
    """Where wrapper NAME listens; a short fallback under /tmp when the home path is too long for AF_UNIX."""
    p = pty_dir(home) / f"{name}.sock"
    if len(os.fsencode(str(p))) < 100:
        return p
    import hashlib

    tag = hashlib.sha256(os.fsencode(str(Path(home).resolve()))).hexdigest()[:12]
    return Path(f"/tmp/termbridge-{os.geteuid()}-{tag}") / f"{name}.sock"


def list_hosts(home: StrPath, env=None) -> dict[int, Target]:
    """child_pid -> Target for every live wrapper whose child is really its child."""
    hosts: dict[int, Target] = {}
    d = pty_dir(home)
    for fn in paths.list_dir(d):
        if not fn.endswith(".json"):
            continue
        try:
            data = paths.read_json(d / fn, {})
            wpid, cpid = int(data["wrapper_pid"]), int(data["child_pid"])
        except (ValueError, KeyError, TypeError, OSError):
            continue
        if not proctree.is_alive(wpid, data.get("wrapper_start")) or not proctree.is_alive(
            cpid, data.get("child_start")
        ):
            continue
        chain = proctree.ancestor_chain(cpid)
        if len(chain) < 2 or chain[1] != wpid:
            continue  # the child must be the wrapper's own child, not a claim in a file
        hosts[cpid] = Target("pty", f"pty:{data['name']}", cpid, {"socket": data["socket"], "wrapper_pid": wpid})
    return hosts


def request(target: Target, req: dict, timeout: float = 10.0) -> dict:
    """One JSON request/response with the wrapper (peer uid checked)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(target.info["socket"])
        import struct

        creds = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _ = struct.unpack("3i", creds)
        if uid != os.geteuid() or pid != target.info["wrapper_pid"]:
            raise BackendError(f"{target.target}: socket peer is not the wrapper (pid {pid}, uid {uid})")
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except OSError as e:
        raise BackendError(f"{target.target}: wrapper socket failed: {e}") from None
    finally:
        s.close()
    try:
        reply = json.loads(buf)
    except ValueError:
        raise BackendError(f"{target.target}: wrapper gave no reply") from None
    if not reply.get("ok"):
        raise BackendError(f"{target.target}: {reply.get('error', 'wrapper refused')}")
    return reply


def type_text(target: Target, text: str, env=None) -> None:
    """The wrapper writes TEXT into its PTY master (bracketed if the child asked for it)."""
    request(target, {"op": "type", "text": text})


def press_enter(target: Target, env=None) -> None:
    """The wrapper writes CR into its PTY master."""
    request(target, {"op": "enter"})


def screen(target: Target, env=None) -> Screen:
    """The wrapper's emulated screen (text, styles, cursor), its output timing and OSC 133 mark."""
    info = request(target, {"op": "info"})
    cur = info.get("cursor")
    cursor = (int(cur[0]), int(cur[1])) if isinstance(cur, list) and len(cur) == 2 else None
    return Screen(
        str(info.get("text") or ""),
        info.get("styled"),
        cursor,
        None,
        int(info.get("quiet_ms") or 0),
        info.get("prompt"),
    )


def parse_target(spec: str, env=None) -> str | None:
    """'pty:NAME' -> itself; None when SPEC is no PTY wrapper."""
    from termbridge.paths import NAME_RE

    return spec if spec.startswith("pty:") and NAME_RE.fullmatch(spec[4:]) and spec[4:] not in (".", "..") else None
