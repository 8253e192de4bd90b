"""Codex's own queue (0.171): `codex queue --thread <id> --message TEXT`, no typing.

The message is stored in `$CODEX_HOME/queue_1.sqlite`; the app-server that has the thread loaded
runs it as a normal turn when the thread is idle: the daemon in Codex's stock daemon mode
(~0.3 s), the TUI itself in embedded mode (it polls, 7–10 s). A draft is kept, a dialog holds it,
a busy thread runs it after its turn. Three rules from measurement:

- only a thread whose TUI is attached: queued to a thread on a daemon whose TUI is gone, the
  turn runs headless and a tool call waits for an approval nobody sees;
- a thread with no turn yet has no rollout: `codex queue` refuses it (exit 1, "no rollout found");
- after a person interrupts a turn (Esc), the thread's queue pauses until their next turn ends.

The thread is the session's own (record.py: its hooks' `session_id`, else what the TUI, or in
daemon mode its daemon, holds open); `codex` is the TUI's own executable, run with its HOME and
CODEX_HOME.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from termbridge import proctree

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TAIL = 1 << 20  # the rollout's last MiB holds its last turn's end


class Refused(Exception):
    """The queue did not take the message (nothing stored)."""


class Unsure(Exception):
    """`codex queue` did not finish: the message may or may not be stored."""


class Channel:
    """One Codex TUI's thread and how to queue to it."""

    __slots__ = ("pid", "thread", "rollout", "exe", "env", "mode")

    def __init__(self, pid: int, thread: str, rollout: str | None, exe: str, env: dict[str, str], mode: str):
        self.pid, self.thread, self.rollout, self.exe, self.env, self.mode = pid, thread, rollout, exe, env, mode


def find(pid: int, rec: dict | None) -> tuple[Channel | None, str]:
    """PID's (a Codex TUI's) queue channel, given its bound record REC (record.bound), or None and why."""
    if not rec or not isinstance(rec.get("session_id"), str) or not _UUID.fullmatch(rec["session_id"]):
        return None, "its thread id is not known yet (Codex makes the thread at its first turn)"
    thread = rec["session_id"]
    rollout = rec.get("path") if isinstance(rec.get("path"), str) else None
    if not rollout:
        return None, "its thread has no turn yet (codex queue needs one)"
    mode = attached(pid, thread)
    if not mode:
        return None, "no Codex TUI of this session is attached to its thread"
    try:
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return None, "its executable cannot be read"
    if not os.path.isfile(exe):
        return None, "its executable is gone (Codex was updated?)"
    env = proctree.environ(pid)
    run_env = {k: v for k, v in os.environ.items() if k not in ("HOME", "CODEX_HOME")}
    home = env.get("HOME") or os.path.expanduser("~")
    run_env.update(HOME=home, CODEX_HOME=env.get("CODEX_HOME") or str(Path(home) / ".codex"))
    return Channel(pid, thread, rollout, exe, run_env, mode), ""


def attached(pid: int, thread: str) -> str:
    """How the TUI PID runs THREAD: 'embedded' (it holds the thread's writer lock or rollout
    open), 'daemon' (it is a client of the daemon that holds the thread's rollout), or ''."""
    from termbridge import agents

    mine = [t for t in proctree.open_files(pid) if thread in t]
    if any(t.endswith((".lock", ".jsonl")) for t in mine):
        return "embedded"
    for d in proctree.parent_map():
        if agents.is_codex_daemon(d) and any(thread in t for t in proctree.open_files(d)):
            return "daemon" if pid in agents.daemon_clients(d) else ""
    return ""


def paused(rollout: str | None) -> str:
    """One line when THREAD's queue waits for the person (the last turn was interrupted), else ''.

    Codex pauses a thread's queue after an interrupted turn until the person's next turn ends:
    the rollout's last turn end is then a `turn_aborted` (not a `task_complete`)."""
    if not rollout:
        return ""
    data = _tail(rollout)
    last = ""
    for line in data.splitlines():
        if b'"turn_aborted"' not in line and b'"task_complete"' not in line:
            continue
        try:
            payload = json.loads(line).get("payload") or {}
        except (ValueError, AttributeError):
            continue
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "task_complete":
            last = ""
        elif kind == "turn_aborted":
            last = str(payload.get("reason") or "interrupted")
    if not last:
        return ""
    return f"Codex paused this thread's queue after an {last} turn, until the person's next turn"


def _tail(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return b""
    with open(fd, "rb") as f:
        size = os.fstat(fd).st_size
        f.seek(max(0, size - _TAIL))
        return f.read()


def send(ch: Channel, text: str, timeout: float = 15.0) -> str:
    """Queue TEXT to CH's thread; returns Codex's queued-message id ('' if it printed none).

    Refused when `codex queue` exits non-zero (nothing stored); Unsure when it did not finish."""
    try:
        p = subprocess.run(  # `--message=`: a text starting with "-" is no option (clap refuses it)
            [ch.exe, "queue", "--thread", ch.thread, f"--message={text}"],
            capture_output=True,
            text=True,
            env=ch.env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd="/",
        )
    except subprocess.TimeoutExpired:
        raise Unsure(f"codex queue did not finish within {timeout:g}s") from None
    except OSError as e:
        raise Refused(f"codex queue could not run ({e.strerror or e})") from None
    if p.returncode != 0:
        why = next((ln.strip() for ln in p.stderr.splitlines() if ln.strip() and "WARNING" not in ln), "")
        raise Refused(f"codex queue exited {p.returncode}: {why[:200]}")
    m = re.search(r"Queued message (\S+) for thread", p.stdout)
    return m.group(1) if m else ""


def holding(pid: int, rec: dict | None, headers: dict[str, str]) -> set[str]:
    """Which ids of HEADERS (id -> framed header) Codex still holds in its queue for PID's thread
    (REC: its bound record), not yet run: after `codex queue` did not finish (Unsure) the message
    may be stored, and sent again it would run twice.

    Codex keeps a queued message in `$CODEX_HOME/queue_1.sqlite` (`queued_items`: `thread_id`,
    `payload_json` with the text) until its turn runs; then the rollout has it. Read-only; a
    database that cannot be read (locked, another shape) tells nothing."""
    import sqlite3
    import stat

    thread = rec.get("session_id") if rec else None
    if not (isinstance(thread, str) and _UUID.fullmatch(thread) and headers):
        return set()
    env = proctree.environ(pid)
    home = env.get("HOME") or os.path.expanduser("~")
    db = os.path.join(env.get("CODEX_HOME") or os.path.join(home, ".codex"), "queue_1.sqlite")
    try:
        if not stat.S_ISREG(os.lstat(db).st_mode):  # no symlink followed
            return set()
        con = sqlite3.connect(Path(db).as_uri() + "?mode=ro", uri=True, timeout=1.0)  # quoted: `?`/`#` in a path
    except (OSError, sqlite3.Error):
        return set()
    try:
        rows = con.execute("SELECT payload_json FROM queued_items WHERE thread_id = ?", (thread,)).fetchall()
    except sqlite3.Error:
        return set()
    finally:
        con.close()
    texts: list[str] = []
    for (payload,) in rows:
        try:
            _strings(json.loads(payload), texts)
        except (TypeError, ValueError):
            continue
    return {i for i, h in headers.items() if any(h in t for t in texts)}


def _strings(obj: object, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _strings(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _strings(v, out)
