"""`termbridge run`: CMD on a PTY termbridge owns, proxied to the user's terminal.

The user's terminal is put in raw mode and restored on every exit path; window-size
changes are copied to the PTY; termination signals are forwarded; the child's exit
status is passed through (128+N for a signal). A 0600 unix socket accepts submit and
info requests, so submits reach CMD with no tmux and no kitty.

The wrapper is a pass-through first: every byte the child writes reaches the user's
terminal before the screen emulator sees it, and nothing the emulator does (or fails to
do) stops the child. An emulator failure is logged once (`emulator_error`); the emulator
starts over, reads as an empty screen until the child has redrawn it, and the child is
asked for that redraw by a brief one-row resize of its PTY.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import socket
import stat
import struct
import sys
import termios
import threading
import time
import tty
from pathlib import Path

from termbridge import paths, proctree, registry
from termbridge.backends.pty import pty_dir, socket_path
from termbridge.errors import BadInput, TermbridgeError
from termbridge.kinds import AGENT_KINDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

_OSC133 = re.compile(rb"\x1b\]133;([ABCD])")
_BRACKETED = re.compile(rb"\x1b\[\?2004([hl])")
_SHELLS = {"bash", "zsh", "sh", "fish", "dash", "ksh"}
# At most one redraw request a minute: a child whose every redraw trips the emulator again must
# not be kept resizing.
_REDRAW_EVERY = 60.0


def guess_kind(cmd: str) -> str:
    base = os.path.basename(cmd)
    if base in AGENT_KINDS:
        return base
    return "shell" if base in _SHELLS else "other"


class _State:
    """What the wrapper knows about its child's terminal (read by info requests).

    The screen itself is emulated (termbridge.vt, on pyte), so drafts, dialogs and work
    are judged from what the program shows, exactly as in a tmux pane -- not from the
    keys a person typed (arrow keys, ESC O A, pastes and edits are the program's business).
    """

    def __init__(self, master: int, columns: int = 80, lines: int = 24):
        from termbridge.vt import Emulator

        self.master = master
        self.last_output = time.monotonic()
        self.bracketed = False
        self.prompt: str | None = None  # last OSC 133 mark: A/B prompt, C running, D done
        self.write_lock = threading.Lock()
        self.tail = b""
        self.vt = Emulator(columns, lines)
        self.vt_failed = False  # the emulator failed once (logged once; later failures are not)
        self.redraw_asked = -_REDRAW_EVERY  # when the child was last asked to redraw (monotonic)

    def saw_output(self, data: bytes) -> Exception | None:
        """Read DATA (already on the user's terminal) into the state; the emulator's error, if it failed."""
        self.last_output = time.monotonic()
        scan = self.tail + data
        for m in _BRACKETED.finditer(scan):
            self.bracketed = m.group(1) == b"h"
        for m in _OSC133.finditer(scan):
            self.prompt = m.group(1).decode()
        self.tail = scan[-16:]
        return self.vt.feed(data)

    def write(self, data: bytes) -> None:
        with self.write_lock:
            paths.write_all(self.master, data)


def _winsize(fd: int) -> bytes | None:
    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None


def _serve(conn: socket.socket, st: _State, child: int) -> None:
    try:
        conn.settimeout(30)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = conn.recv(1 << 20)
            if not chunk:
                return
            buf += chunk
        req = json.loads(buf)
        if not isinstance(req, dict):
            raise ValueError("a request is a JSON object")
        if req.get("op") == "info":
            canonical = None
            try:
                canonical = bool(termios.tcgetattr(st.master)[3] & termios.ICANON)
            except termios.error:
                pass
            reply = {
                "ok": True,
                "child_pid": child,
                "quiet_ms": round((time.monotonic() - st.last_output) * 1000),
                "bracketed": st.bracketed,
                "prompt": st.prompt,
                "canonical": canonical,
                **st.vt.snapshot(),
            }
        elif req.get("op") == "type":
            data = str(req.get("text") or "").encode("utf-8")
            st.write(b"\x1b[200~" + data + b"\x1b[201~" if st.bracketed else data)
            reply = {"ok": True}
        elif req.get("op") == "enter":
            st.write(b"\r")
            reply = {"ok": True}
        else:
            reply = {"ok": False, "error": f"unknown op {req.get('op')!r}"}
    except Exception as e:  # noqa: BLE001 - a bad request or an emulator bug fails this request only
        reply = {"ok": False, "error": str(e) or type(e).__name__}
    try:
        conn.sendall(json.dumps(reply).encode() + b"\n")
    except OSError:
        pass
    finally:
        conn.close()


def _listen(path: Path) -> socket.socket:
    paths.ensure_dir(path.parent)
    try:
        st = os.lstat(path)
        if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.geteuid():
            raise TermbridgeError(f"refusing to replace {path}: not our socket")
        os.unlink(path)  # a stale socket of a wrapper that died
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        s.bind(str(path))  # created 0600 under the umask: no window where others could connect
    finally:
        os.umask(old)
    s.listen(8)
    return s


def _emulator_failed(home: StrPath, name: str, st: _State, failure: Exception | None) -> bool:
    """Log the emulator's FAILURE (the first one only: a broken emulator must not flood the log)."""
    if failure is None:
        return False
    if not st.vt_failed:
        st.vt_failed = True
        from termbridge import events

        events.log_event(
            home,
            "emulator_error",
            name,
            error=f"{type(failure).__name__}: {failure}"[:300],
            effect="the child runs on; its screen reads unknown until it has redrawn it",
        )
    return True


def _ask_redraw(st: _State, stdin: int) -> float | None:
    """Give the child a size one row shorter than the user's terminal, so that it redraws (full-screen
    TUIs repaint every cell on a resize); returns when to give the real size back (None: not asked)."""
    now = time.monotonic()
    w = _winsize(stdin)
    if not w or now - st.redraw_asked < _REDRAW_EVERY:
        return None
    rows, cols, xpix, ypix = struct.unpack("HHHH", w)
    if rows < 2:
        return None
    st.redraw_asked = now
    fcntl.ioctl(st.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows - 1, cols, xpix, ypix))
    return now + 0.3  # long enough for the child to handle one SIGWINCH before the next


def run_wrapped(home: StrPath, argv: list[str], name: str | None = None, kind: str | None = None) -> int:
    """Run ARGV under our PTY as session NAME; returns the child's exit status."""
    if not argv:
        raise BadInput("nothing to run: termbridge run [--name NAME] -- CMD [ARGS...]")
    name = paths.validate_name(name or os.path.basename(argv[0]), "session name (use --name)")
    kind = kind or guess_kind(argv[0])
    info_path = pty_dir(home) / f"{name}.json"
    old = paths.read_json(info_path, {})
    if isinstance(old, dict) and proctree.is_alive(int(old.get("wrapper_pid") or 0), old.get("wrapper_start")):
        raise BadInput(f"a wrapper named {name!r} already runs (pid {old['wrapper_pid']}); use --name")
    sock_path = socket_path(home, name)
    server = _listen(sock_path)

    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    is_tty = os.isatty(stdin)
    master, slave = os.openpty()
    ws = _winsize(stdin) if is_tty else None
    if ws:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, ws)
    if is_tty:  # start the child with the user's terminal settings (echo, erase char...)
        termios.tcsetattr(slave, termios.TCSANOW, termios.tcgetattr(stdin))
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            if slave > 2:
                os.close(slave)
            os.execvp(argv[0], argv)
        except OSError as e:
            os.write(2, f"termbridge run: cannot run {argv[0]}: {e.strerror}\r\n".encode())
        os._exit(127)
    os.close(slave)
    rows, cols = struct.unpack("HHHH", ws)[:2] if ws else (24, 80)
    st = _State(master, cols or 80, rows or 24)
    me = os.getpid()
    try:
        registry.register(home, name, child, kind)
        paths.atomic_write(
            info_path,
            json.dumps(
                {
                    "name": name,
                    "wrapper_pid": me,
                    "wrapper_start": proctree.start_time(me),
                    "child_pid": child,
                    "child_start": proctree.start_time(child),
                    "socket": str(sock_path),
                }
            ).encode(),
        )
    except TermbridgeError:
        pass  # the child already died (e.g. exec failed); its status is reported below

    old_attr = termios.tcgetattr(stdin) if is_tty else None
    forwarded = {"sig": None}
    resized = [False]

    def on_winch(*_):
        w = _winsize(stdin)
        if w:
            fcntl.ioctl(master, termios.TIOCSWINSZ, w)  # the kernel then signals the child's group
            # The emulator follows in the main loop: this handler may run while the loop holds its lock.
            resized[0] = True

    def forward(sig, _frame):
        forwarded["sig"] = sig
        try:
            os.killpg(child, sig)
        except ProcessLookupError:
            pass

    handlers = {s: signal.getsignal(s) for s in (signal.SIGWINCH, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    signal.signal(signal.SIGWINCH, on_winch)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(s, forward)
    if not is_tty:
        handlers[signal.SIGINT] = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, forward)
    redraw_until: float | None = None  # while the child has the one-row-shorter size that asks it to redraw
    try:
        if is_tty:
            tty.setraw(stdin, termios.TCSANOW)
        reading_stdin = True
        while True:
            if redraw_until is not None and time.monotonic() >= redraw_until:
                redraw_until = None
                w = _winsize(stdin)
                if w:
                    fcntl.ioctl(master, termios.TIOCSWINSZ, w)  # its real size back: the child redraws
            fds: list[int | socket.socket] = [master, server]
            if reading_stdin:
                fds.append(stdin)
            wait = 0.5 if redraw_until is None else max(0.0, min(0.5, redraw_until - time.monotonic()))
            try:
                ready, _, _ = select.select(fds, [], [], wait)
            except InterruptedError:
                continue
            if resized[0]:  # before any output the child drew for its new size
                resized[0] = False
                w = _winsize(stdin)
                if w:
                    rows, cols = struct.unpack("HHHH", w)[:2]
                    _emulator_failed(home, name, st, st.vt.resize(cols or 80, rows or 24))
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""  # EIO: the child side closed
                if not data:
                    break
                paths.write_all(stdout, data)  # the user's terminal first: the emulator only reads along
                try:
                    failure = st.saw_output(data)
                except Exception as e:  # noqa: BLE001 - whatever the emulator does, the child runs on
                    failure = e
                if _emulator_failed(home, name, st, failure) and redraw_until is None:
                    redraw_until = _ask_redraw(st, stdin)
            if server in ready:
                conn, _ = server.accept()
                threading.Thread(target=_serve, args=(conn, st, child), daemon=True).start()
            if reading_stdin and stdin in ready:
                data = os.read(stdin, 65536)
                if not data:
                    reading_stdin = False  # our input ended; the child keeps running
                else:
                    st.write(data)
    finally:
        if old_attr is not None:
            termios.tcsetattr(stdin, termios.TCSAFLUSH, old_attr)
        for s, h in handlers.items():
            signal.signal(s, h)
        server.close()
        for p in (sock_path, info_path):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        os.close(master)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)
