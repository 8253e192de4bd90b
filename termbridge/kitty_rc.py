"""A small client for kitty's remote-control protocol, so no kitty/kitten binary is needed.

Wire format (kitty/remote_control.py): a request is ``ESC P @kitty-cmd <json> ESC \\``
with ``{"cmd", "version", "no_response", "payload"}``; the reply comes back in the same
framing as ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": ...}``. JSON is
ASCII-escaped, so the frame never contains a raw ESC. kitty answers nothing to
malformed JSON or to ``no_response`` requests, so every read has a timeout.
"""

from __future__ import annotations

import json
import os
import re
import socket
from typing import Any

from termbridge.errors import KittyError

VERSION = [0, 26, 0]  # the oldest protocol we speak; newer kitty accepts older clients
MAX_FRAME = 60 * 1024  # kitty drops larger requests; send-text is chunked below this
_REPLY = re.compile(rb"\x1bP@kitty-cmd([^\x1b]*)\x1b\\")


def parse_address(address: str) -> tuple[int, Any]:
    """(family, address) for 'unix:/path', 'unix:@abstract', 'tcp:host:port' or 'fd:N'."""
    if address.startswith("unix:"):
        path = address[5:]
        if path.startswith("@"):
            return socket.AF_UNIX, "\0" + path[1:]  # Linux abstract namespace
        return socket.AF_UNIX, os.path.expanduser(path)
    if address.startswith("tcp:") and address[4:].rpartition(":")[2].isdigit():
        host, _, port = address[4:].rpartition(":")
        return socket.AF_INET, (host.strip("[]"), int(port))
    if address.startswith("fd:") and address[3:].isdigit():
        return -1, int(address[3:])
    raise KittyError(f"unsupported kitty address {address!r}: use unix:/path, unix:@name, tcp:host:port or fd:N")


def _suffixed_socket(path: str) -> str | None:
    """kitty appends -<kitty pid> to a listen_on taken from kitty.conf: find the live one."""
    import glob

    if path.startswith("\0"):
        return None
    live = []
    for cand in glob.glob(glob.escape(path) + "-*"):
        pid = cand.rsplit("-", 1)[1]
        if pid.isdigit() and os.path.exists(f"/proc/{pid}") and os.path.exists(cand):
            live.append(cand)
    return sorted(live, key=os.path.getmtime)[-1] if live else None


def encode_request(cmd: str, payload: dict | None = None, no_response: bool = False) -> bytes:
    """One framed request."""
    body = {"cmd": cmd, "version": VERSION, "no_response": no_response}
    if payload is not None:
        body["payload"] = payload
    return b"\x1bP@kitty-cmd" + json.dumps(body, ensure_ascii=True).encode("ascii") + b"\x1b\\"


def _escaped_len(ch: str) -> int:
    """Bytes CH takes inside ASCII-escaped JSON: 1, 2 (\\n), 6 (\\u00e9) or 12 (a surrogate pair)."""
    o = ord(ch)
    if 0x20 <= o < 0x7F:
        return 2 if ch in '"\\' else 1
    if ch in "\b\f\n\r\t":
        return 2
    return 12 if o > 0xFFFF else 6


def chunk_text(text: str, budget: int) -> list[str]:
    """TEXT cut into pieces whose JSON-escaped size is at most BUDGET bytes each (never
    splitting a character); by encoded size, not characters, since escaping grows a
    character from 1 up to 12 bytes."""
    if budget < 12:
        raise ValueError("frame budget too small")
    out, start, size = [], 0, 0
    for i, ch in enumerate(text):
        n = _escaped_len(ch)
        if size + n > budget:
            out.append(text[start:i])
            start, size = i, 0
        size += n
    if start < len(text) or not out:
        out.append(text[start:])
    return out


def decode_reply(data: bytes) -> dict:
    """The JSON reply inside a frame; KittyError if there is none."""
    m = _REPLY.search(data)
    if m is None:
        raise KittyError("kitty closed the connection without a reply")
    return json.loads(m.group(1))


class KittyClient:
    """Sends remote-control commands to one kitty address."""

    def __init__(self, address: str, timeout: float = 3.0):
        self.address = address
        self.timeout = timeout
        parse_address(address)  # fail early on a malformed address

    def _connect(self) -> socket.socket:
        family, addr = parse_address(self.address)
        if family == -1:
            return socket.socket(fileno=os.dup(addr))
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(addr)
        except FileNotFoundError:
            s.close()
            alt = _suffixed_socket(addr) if family == socket.AF_UNIX else None
            if alt is None:
                raise KittyError(
                    f"kitty socket {self.address} does not exist (is kitty running with --listen-on / listen_on?)"
                ) from None
            self.address = f"unix:{alt}"
            return self._connect()
        except ConnectionRefusedError:
            s.close()
            raise KittyError(f"kitty socket {self.address} refused the connection (kitty is not listening)") from None
        except OSError as e:
            s.close()
            raise KittyError(f"cannot reach kitty at {self.address}: {e.strerror or e}") from None
        return s

    def command(self, cmd: str, payload: dict | None = None, no_response: bool = False) -> Any:
        """Run CMD; returns its data (None for no_response), KittyError on any failure."""
        frame = encode_request(cmd, payload, no_response)
        if len(frame) > MAX_FRAME + 1024:
            raise KittyError(f"{cmd}: request of {len(frame)} bytes is over kitty's frame limit")
        s = self._connect()
        try:
            s.settimeout(self.timeout)
            s.sendall(frame)
            s.shutdown(socket.SHUT_WR)  # kitty reads until EOF before it answers
            if no_response:
                return None
            chunks = []
            while True:
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    raise KittyError(f"{cmd}: kitty did not answer within {self.timeout}s") from None
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\x1b\\" in chunk:
                    break
        except OSError as e:  # reset or closed mid-request (kitty quit, a window closing): one error type
            raise KittyError(f"{cmd}: kitty at {self.address} broke off: {e.strerror or e}") from None
        finally:
            s.close()
        try:
            reply = decode_reply(b"".join(chunks))
        except ValueError as e:
            raise KittyError(f"{cmd}: unreadable reply from kitty: {e}") from None
        if not reply.get("ok"):
            raise KittyError(_explain(cmd, str(reply.get("error") or "unknown error")))
        return reply.get("data")

    # -------------------------------------------------------------- commands we use
    def ls(self) -> list:
        """The OS windows -> tabs -> windows tree (kitty sends it as a JSON string)."""
        data = self.command("ls", {})
        return json.loads(data) if isinstance(data, str) else data

    def send_text(self, window_id: int, text: str, bracketed: bool = True) -> None:
        """Type TEXT into one window, in frames under kitty's limit; fire-and-forget.

        send-text always succeeds, even when no window matched, so callers verify the
        window with ls() first. ``bracketed_paste`` (kitty >= 0.35) is ignored by older kitty.
        """
        base = {"match": f"id:{window_id}", "data": "text:", "match_tab": None, "all": False, "exclude_active": False}
        if bracketed:
            base["bracketed_paste"] = "auto"
        for chunk in chunk_text(text, MAX_FRAME - len(encode_request("send-text", base, no_response=True))):
            self.command("send-text", dict(base, data="text:" + chunk), no_response=True)

    def press_enter(self, window_id: int) -> None:
        """Press Enter: `send-key enter` where kitty has it (0.32+), else send-text of CR."""
        try:
            self.command("send-key", {"match": f"id:{window_id}", "keys": ["enter"]})
        except KittyError as e:
            if (
                "unknown" not in str(e).lower()
                and "no command" not in str(e).lower()
                and "keyerror" not in str(e).lower()
            ):
                raise
            self.command(
                "send-text",
                {
                    "match": f"id:{window_id}",
                    "data": "text:\r",
                    "match_tab": None,
                    "all": False,
                    "exclude_active": False,
                },
                no_response=True,
            )

    def get_text(self, window_id: int, ansi: bool = False) -> str:
        """The visible screen of one window."""
        return (
            self.command(
                "get-text",
                {
                    "match": f"id:{window_id}",
                    "extent": "screen",
                    "ansi": ansi,
                    "cursor": False,
                    "wrap_markers": False,
                    "clear_selection": False,
                },
            )
            or ""
        )


def _explain(cmd: str, error: str) -> str:
    if "password" in error.lower():
        return (
            f"{cmd}: kitty requires a remote-control password; termbridge does not speak kitty's "
            f"encrypted password mode yet: use allow_remote_control socket-only on a private listen_on socket ({error})"
        )
    if "disabled" in error.lower() or "socket only" in error.lower():
        return f"{cmd}: kitty remote control is disabled: set allow_remote_control socket-only and listen_on ({error})"
    return f"{cmd}: {error}"
