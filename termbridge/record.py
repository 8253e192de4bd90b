"""Each session's own record: the transcript (Claude), rollout (Codex) or chat log (Gemini) that its
agent writes, and the agent's own session id. `received` is proven only from it.

A session is bound to its record in one of two ways, both tied to that session's own process:

  hook   its own hooks (session-start / prompt-submit, whose agent process is the session's
         PID) report `transcript_path` and `session_id`: written to `record.json` with the
         PID and start time they were reported for.
  pid    with no hooks, found from the agent's PID alone:
           claude  ~/.claude/sessions/<pid>.json -> sessionId -> ~/.claude/projects/*/<sessionId>.jsonl
           codex   /proc/<pid>/fd: an open rollout-*.jsonl, or thread-writer-locks/<uuid>.lock
                   -> $CODEX_HOME/sessions/**/rollout-*-<uuid>.jsonl (embedded mode); in daemon
                   mode the daemon the TUI is a client of holds them: the newest rollout whose
                   session cwd is the TUI's, when no other client works in that directory
           gemini  ~/.gemini/tmp/<project>/chats/session-*.jsonl whose project's `.project_root`
                   is the agent's cwd, the first one started after the process (its first line
                   carries sessionId and startTime)
         HOME and CODEX_HOME are the agent process's own.

A record bound for another PID (the name was re-registered) is not this session's. The record
is never searched for beyond that one file: another agent's transcript under the same HOME
(the sender's own, which holds the id its `send` printed) proves nothing.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from termbridge import proctree

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

_TAIL = 8 << 20  # read at most the last 8 MiB of a record
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def record_file(home: StrPath, name: str) -> str:
    from termbridge.session_files import SessionFiles

    return SessionFiles.of(home, name).record


def bind_from_hook(home: StrPath, sess, agent: str, data: dict) -> dict | None:
    """Bind SESS to the record its own hook reported in DATA (`transcript_path`, `session_id`)."""
    from termbridge import paths

    path = data.get("transcript_path")
    sid = data.get("session_id")
    path = path if isinstance(path, str) and path.startswith("/") and "\0" not in path else None
    sid = sid if isinstance(sid, str) and 0 < len(sid) <= 200 else None
    if path is None and sid is None:
        return None
    old = _hooked(home, sess)
    if old and old.get("path") == path and old.get("session_id") == sid:
        return old
    if old and path is None and old.get("session_id") == sid:
        return old  # a hook that reports no path (Codex's Stop) keeps the path already known
    rec = {
        "path": path,
        "session_id": sid,
        "kind": agent,
        "via": f"hook:{agent}",
        "pid": sess.pid,
        "start_time": sess.start_time,
        "bound_at": round(time.time(), 3),
    }
    paths.atomic_write(record_file(home, sess.name), json.dumps(rec).encode())
    return rec


def _hooked(home: StrPath, sess) -> dict | None:
    """The hook-bound record of SESS, when it was bound for this very process."""
    from termbridge import paths

    rec = paths.read_json(record_file(home, sess.name))
    if not isinstance(rec, dict) or rec.get("pid") != sess.pid or rec.get("start_time") != sess.start_time:
        return None
    if not isinstance(rec.get("path"), (str, type(None))) or not isinstance(rec.get("session_id"), (str, type(None))):
        return None
    return rec


def bound(home: StrPath, sess) -> dict | None:
    """SESS's own record `{"path", "session_id", "via"}` (path may be None while the agent has not
    written it yet), or None when none is known."""
    rec = _hooked(home, sess)
    if rec and rec.get("path"):
        return rec
    found = from_pid(sess)
    if found:
        return found
    return rec


def path_of(home: StrPath, sess) -> Path | None:
    rec = bound(home, sess)
    return Path(rec["path"]) if rec and rec.get("path") else None


# ---------------------------------------------------------------- found from the PID
def from_pid(sess) -> dict | None:
    """The record SESS's agent process itself announces or holds open, if it can be found."""
    try:
        if sess.kind == "claude":
            return _claude(sess.pid)
        if sess.kind == "codex":
            return _codex(sess.pid)
        if sess.kind == "gemini":
            return _gemini(sess.pid)
    except OSError:
        return None
    return None


def _agent_home(pid: int) -> tuple[dict, Path]:
    env = proctree.environ(pid)
    return env, Path(env.get("HOME") or os.path.expanduser("~"))


def _read_small_json(path: Path) -> dict | None:
    data = _read(path, 1 << 20)
    try:
        v = json.loads(data) if data is not None else None
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


def _claude(pid: int) -> dict | None:
    _, home = _agent_home(pid)
    info = _read_small_json(home / ".claude" / "sessions" / f"{pid}.json")
    if not info:
        return None
    if "procStart" in info and str(info["procStart"]) != proctree.start_time(pid):
        return None  # a file left by an earlier process with this PID
    sid = info.get("sessionId")
    if not isinstance(sid, str) or not re.fullmatch(r"[0-9A-Za-z-]{8,80}", sid):
        return None
    hits = sorted((home / ".claude" / "projects").glob(f"*/{sid}.jsonl"))
    return {"path": str(hits[0]) if hits else None, "session_id": sid, "via": "pid:claude"}


def _codex(pid: int) -> dict | None:
    env, home = _agent_home(pid)
    codex_home = Path(env.get("CODEX_HOME") or home / ".codex")
    found = _codex_open(pid, codex_home)
    if found is None:
        found = _codex_daemon_thread(pid, codex_home)
    return found


def _codex_open(pid: int, codex_home: Path) -> dict | None:
    """Embedded mode: the TUI itself holds its rollout and its thread's writer lock open."""
    thread = None
    for target in proctree.open_files(pid):
        m = re.search(rf"/rollout-[^/]*({_UUID})\.jsonl$", target)
        if m and target.startswith(str(codex_home / "sessions") + "/"):
            return {"path": target, "session_id": m.group(1), "via": "pid:codex"}
        m = re.search(rf"/thread-writer-locks/({_UUID})\.lock$", target)
        if m:
            thread = m.group(1)
    if thread is None:
        return None
    hits = sorted((codex_home / "sessions").glob(f"**/rollout-*{thread}.jsonl"))
    return {"path": str(hits[-1]) if hits else None, "session_id": thread, "via": "pid:codex"}


_DAEMONS_FOR_S = 1.0  # one look at the process table serves every session `status` describes within it
_daemons: list = [-1e9, []]  # [when (monotonic), the Codex daemons then]


def _codex_daemons() -> list[int]:
    """The Codex app-server daemons running now (every process looked at; the answer kept a second)."""
    import time

    from termbridge import agents

    now = time.monotonic()
    if now - _daemons[0] > _DAEMONS_FOR_S:
        _daemons[:] = [now, [d for d in proctree.parent_map() if agents.is_codex_daemon(d)]]
    return list(_daemons[1])


def _codex_daemon_thread(tui: int, codex_home: Path) -> dict | None:
    """Daemon mode (Codex's stock mode): the daemon whose client TUI is holds the threads' rollouts.
    The TUI's thread is the newest rollout the daemon holds whose session cwd is the TUI's -- only
    when no other client of that daemon works in the same directory (then it is not provable)."""
    from termbridge import agents

    cwd = proctree.cwd(tui)
    if cwd is None:
        return None
    daemons = ((d, agents.daemon_clients(d)) for d in _codex_daemons())
    daemon, clients = next(((d, c) for d, c in daemons if tui in c), (None, []))
    if daemon is None or any(c != tui and proctree.cwd(c) == cwd for c in clients):
        return None
    best: tuple[float, str, str] | None = None
    for target in proctree.open_files(daemon):
        m = re.search(rf"/rollout-[^/]*({_UUID})\.jsonl$", target)
        if not (m and target.startswith(str(codex_home / "sessions") + "/")):
            continue
        # The first line (session_meta) carries the cwd early but can be far longer than the head
        # read here (it holds the model's instructions): read the field, not the whole line.
        found = re.search(rb'"type":"session_meta".*?"cwd":("(?:[^"\\]|\\.)*")', _read_head(Path(target)))
        try:
            if not found or json.loads(found.group(1)) != cwd:
                continue
        except ValueError:
            continue
        try:
            mtime = os.stat(target).st_mtime
        except OSError:
            continue
        if best is None or mtime > best[0]:
            best = (mtime, target, m.group(1))
    if best is None:
        return None
    return {"path": best[1], "session_id": best[2], "via": "pid:codex"}


def _gemini(pid: int) -> dict | None:

    _, home = _agent_home(pid)
    cwd = proctree.cwd(pid)
    if cwd is None:
        return None
    started = proctree.start_epoch(pid)
    if started is None:
        return None
    best: tuple[float, Path, str] | None = None
    for chat in (home / ".gemini" / "tmp").glob("*/chats/session-*.json*"):
        project = chat.parent.parent
        if not _gemini_project_is(project, cwd):
            continue
        try:
            st = chat.stat()
        except OSError:
            continue
        if st.st_mtime < started - 2:
            continue
        head = _read_head(chat)
        sid = _gemini_session_id(head)
        created = _gemini_start(head)
        if sid is None or created is None or created < started - 2:
            continue
        if best is None or created < best[0]:  # the first chat this process started
            best = (created, chat, sid)
    if best is None:
        return None
    return {"path": str(best[1]), "session_id": best[2], "via": "pid:gemini"}


def _gemini_project_is(project: Path, cwd: str) -> bool:
    """PROJECT (~/.gemini/tmp/<id>) belongs to CWD: its `.project_root` names it, or its name is
    the sha256 of the cwd (older layouts)."""
    import hashlib

    root = _read(project / ".project_root", 4096)
    if root is not None:
        return root.decode("utf-8", "replace").strip() == cwd
    return project.name == hashlib.sha256(cwd.encode()).hexdigest()


def _read_head(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return b""
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return f.read(16384)


def _gemini_session_id(head: bytes) -> str | None:
    m = re.search(rb'"sessionId"\s*:\s*"([0-9A-Za-z-]{8,80})"', head)
    return m.group(1).decode() if m else None


def _gemini_start(head: bytes) -> float | None:
    from datetime import datetime

    m = re.search(rb'"startTime"\s*:\s*"([^"]{10,40})"', head)
    if not m:
        return None
    try:
        return datetime.fromisoformat(m.group(1).decode().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# ---------------------------------------------------------------- reading it
def _read(path: Path, limit: int, whole_lines: bool = False) -> bytes | None:
    """The last LIMIT bytes of PATH; None unless it is a regular file (a FIFO would hang the read;
    a symlink is not followed). WHOLE_LINES: a line cut by the limit is left out (its start, as a
    JSON entry's type, is not there to read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        size = os.fstat(fd).st_size
        start = max(0, size - limit)
        f.seek(start)
        data = f.read()
    if whole_lines and start > 0 and b"\n" in data:  # (a record of one long line is read as it is)
        data = data[data.find(b"\n") + 1 :]
    return data


def framed_header(msg_id: str) -> bytes:
    """How a delivered message's id stands in the agent's own record: its framed header line."""
    return f"--- message {msg_id} from ".encode()


def shows(home: StrPath, sess, ids: Iterable[str], held: bool = False) -> set[str]:
    """Which of IDS SESS's own record shows as given to its model (their framed header lines).

    HELD: also those it only holds in its own queue (never to be sent again, but not received)."""
    want = {i for i in ids if i}
    if not want:
        return set()
    path = path_of(home, sess)
    if path is None:
        return set()
    data = _read(path, _TAIL, whole_lines=True)
    if data is None:
        return set()
    return {i for i in want if _delivered(data, framed_header(i), held)}


# Entries an agent writes for a message it has only queued, not given to its model: Claude Code
# records a message that arrives while it is busy or holds a dialog as `queue-operation` entries
# at once, and as a `type: "user"` entry (or a `queued_command` attachment mid-turn) when it runs
# it. A message only queued there is still lost if the agent exits: it is not received yet.
_QUEUED_ONLY = frozenset({"queue-operation"})


def _delivered(data: bytes, header: bytes, held: bool = False) -> bool:
    """Whether HEADER stands in DATA in an entry that gave the message to the agent: any line
    holding it that is not a JSON entry of a queued-only type (a pretty-printed record, as
    Gemini's, has no such entries: any occurrence counts). HELD: any occurrence at all."""
    at = data.find(header)
    if held:
        return at != -1
    while at != -1:
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        line = data[start : end if end != -1 else len(data)]
        if not _queued_only(line):
            return True
        at = data.find(header, at + len(header))
    return False


def _queued_only(line: bytes) -> bool:
    if b"queue-operation" not in line:  # the cheap test first: a record is read often
        return False
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return isinstance(entry, dict) and entry.get("type") in _QUEUED_ONLY


def describe(home: StrPath, sess) -> str | None:
    """The record's path for `status` (None when none is bound)."""
    try:
        p = path_of(home, sess)
    except OSError:
        return None
    return str(p) if p else None
