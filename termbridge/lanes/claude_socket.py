"""Claude Code's own messaging socket (≥ 2.1.224): a message into a running session, no typing.

Each Claude Code TUI announces itself in `~/.claude/sessions/<pid>.json` (its own HOME): `procStart`
(the process's start time), `status` (`idle`/`busy`), `peerProtocol` (1) and `messagingSocketPath`
(a unix socket, 0600 in a 0700 directory); `~/.claude/sessions/<pid>.<hash>.key` holds its
`peerToken`. The protocol is newline-delimited JSON: an `auth` line with the token, then one
`user` line. Claude answers nothing; it reads to the end and closes its side, which is what
"accepted" means here (measured on 2.1.332: the close comes ~0.06 s after ours). A draft in its
composer is kept; a dialog holds the message; a busy session runs it as its own turn afterwards.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
from pathlib import Path

from termbridge import proctree

PROTOCOL = 1  # the `peerProtocol` this client speaks
_MAX_FILE = 1 << 16


class Refused(Exception):
    """Nothing reached the agent: the channel is gone, or refused before the message was written."""


class Unsure(Exception):
    """The whole message was written, but the agent never confirmed reading it."""


class Channel:
    """Where one Claude Code process takes messages: its socket, its token, its live status."""

    __slots__ = ("pid", "socket_path", "token", "status", "session_id")

    def __init__(self, pid: int, socket_path: str, token: str | None, status: str, session_id: str | None):
        self.pid, self.socket_path, self.token = pid, socket_path, token
        self.status, self.session_id = status, session_id


def _read_json(path: Path) -> dict | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    with open(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            return None  # a file another user planted (a shared HOME) is nothing of this agent's
        data = f.read(_MAX_FILE)
    try:
        v = json.loads(data)
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


def _foreign(path: Path) -> bool:
    try:
        return os.lstat(path).st_uid != os.getuid()
    except OSError:
        return False


def sessions_dir(pid: int) -> Path:
    """`~/.claude/sessions` of the agent process PID (its own HOME, or CLAUDE_CONFIG_DIR)."""
    env = proctree.environ(pid)
    conf = env.get("CLAUDE_CONFIG_DIR")
    base = Path(conf) if conf else Path(env.get("HOME") or os.path.expanduser("~")) / ".claude"
    return base / "sessions"


def find(pid: int) -> tuple[Channel | None, str]:
    """PID's channel, or None and one line saying why there is none (a missing file, an older
    release, a file left by an earlier process with this PID, a shape this client does not know)."""
    d = sessions_dir(pid)
    info = _read_json(d / f"{pid}.json")
    if info is None:
        if _foreign(d / f"{pid}.json"):
            return None, "its session file is not this user's: ignored"
        return None, "no ~/.claude/sessions/<pid>.json (Claude Code older than 2.1.224, or not started yet)"
    if str(info.get("procStart", "")) != (proctree.start_time(pid) or "-"):
        return None, "its session file belongs to an earlier process with this pid"
    if info.get("peerProtocol") != PROTOCOL:
        return None, f"peer protocol {info.get('peerProtocol')!r} (this termbridge speaks {PROTOCOL})"
    path = info.get("messagingSocketPath")
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        return None, "its session file names no messaging socket (messaging off?)"
    if held_by(pid, path) is False:
        return None, f"its session file names a socket not held by pid {pid}: ignored"
    token = None
    for key in _key_files(d, pid):
        k = _read_json(key)
        if k and isinstance(k.get("peerToken"), str) and str(k.get("procStart", "")) == str(info["procStart"]):
            token = k["peerToken"]
            break
    status = info["status"] if isinstance(info.get("status"), str) else "unknown"
    sid = info.get("sessionId") if isinstance(info.get("sessionId"), str) else None
    return Channel(pid, path, token, status, sid), ""


def held_by(pid: int, path: str) -> bool | None:
    """PID holds a unix socket bound to PATH (Claude Code listens in its own process); None when
    this system cannot tell (no sock_diag, or PID's descriptors cannot be read)."""
    from termbridge import agents

    socks = agents.unix_sockets()
    if not socks:
        return None
    mine = [link for link in proctree.open_files(pid) if link.startswith("socket:[")]
    if not mine:
        return None if not os.access(f"/proc/{pid}/fd", os.R_OK) else False
    bound = {ino for ino, (name, _peer) in socks.items() if name == path}
    return any(int(link[8:-1]) in bound for link in mine)


def _key_files(d: Path, pid: int) -> list[Path]:
    try:
        names = os.listdir(d)
    except OSError:
        return []
    return [d / n for n in sorted(names) if re.fullmatch(rf"{pid}\.[0-9a-f]{{8,128}}\.key", n)]


def _connect(ch: Channel, timeout: float) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        st = os.lstat(ch.socket_path)  # the path Claude Code bound, never a link to another socket
        if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid():
            raise Refused(f"{ch.socket_path} is not this user's socket")
        s.connect(ch.socket_path)
    except Refused:
        s.close()
        raise
    except OSError as e:
        s.close()
        raise Refused(f"its messaging socket is gone ({e.strerror or e})") from None
    return s


def answers(ch: Channel, timeout: float = 1.0) -> str:
    """'' when the socket takes a connection (then closed with nothing sent), else why not."""
    try:
        _connect(ch, timeout).close()
    except Refused as e:
        return str(e)
    return ""


def encode(ch: Channel, text: str, sender: str | None = None, msg_id: str | None = None) -> bytes:
    """The bytes of one message: the auth line (when a token is published), then the user line."""
    msg: dict = {"type": "user", "message": {"role": "user", "content": text}}
    if sender:
        msg["from"] = sender
    if msg_id:
        msg["msg_id"] = msg_id
    lines = [json.dumps({"type": "auth", "token": ch.token})] if ch.token else []
    lines.append(json.dumps(msg, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def send(ch: Channel, text: str, sender: str | None = None, msg_id: str | None = None, timeout: float = 5.0) -> None:
    """Deliver TEXT; returns once Claude read it to the end and closed its side.

    Refused: the message did not reach it whole (no socket, no connection, or it closed with
    bytes of ours unread). Unsure: every byte was written but no close came within TIMEOUT.
    """
    s = _connect(ch, timeout)
    with s:
        try:
            s.sendall(encode(ch, text, sender, msg_id))
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            raise Refused(f"its messaging socket closed before the message was written ({e.strerror or e})") from None
        try:
            while s.recv(4096):
                pass  # it answers nothing today; whatever it says is read and dropped
        except TimeoutError:
            raise Unsure(f"no close from its messaging socket within {timeout:g}s") from None
        except ConnectionResetError:
            # A unix socket resets only when its peer closed with bytes of ours unread: the
            # message line, our last bytes, never reached it whole.
            raise Refused("its messaging socket closed before reading the whole message") from None
        except OSError as e:
            raise Unsure(f"its messaging socket failed after the message was written ({e.strerror or e})") from None
