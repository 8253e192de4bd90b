"""What `termbridge top` shows and what its keys do, without curses: one row per session, the
event log's newest lines, and the actions (drain, hand over, switch the tmux client).
Library code: it never prints; failures are TermbridgeErrors for the view to show."""

from __future__ import annotations

import os
import time
from collections import deque

from termbridge import attention, events, paths, registry
from termbridge.errors import BadInput, NoTarget, TermbridgeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

# A status row names its lane (termbridge/lanes); one that names none (no live process) shows
# the terminal lane. Until remote sessions (NAME@HOST) exist, every session is on this machine.
LANE_DEFAULT = "terminal"
HOST_DEFAULT = "local"


def lane_of(row: dict) -> str:
    """The session's delivery lane: the status row's `lane`, else the terminal lane."""
    return row.get("lane") or LANE_DEFAULT


def host_of(row: dict) -> str:
    """Where the session runs: the status row's `host`, else this machine."""
    return row.get("host") or HOST_DEFAULT


# ---------------------------------------------------------------- rows
_SCREEN_KEYS = ("backend", "target", "state", "surface", "reason", "tmux_socket", "target_error")


def collect_rows(
    home: StrPath, cfg: dict, screens: bool = True, previous: list[dict] | None = None, now: float | None = None
) -> list[dict]:
    """One dict per session: what `status --json` gives without looking at screens, plus `lane`,
    `host`, `latest_receipts` and `held_since` (a dialog holding messages). SCREENS: read each
    live session's surface now (one tmux call per session, one `list-panes` per server, shared);
    otherwise keep what PREVIOUS rows read, so the file-backed figures can refresh more often
    than the screens."""
    from termbridge import status

    rows = status.collect_status(home, resolve=False)
    if screens:
        read_surfaces(home, rows, cfg)
    else:
        before = {r["name"]: r for r in previous or []}
        for row in rows:
            old = before.get(row["name"])
            if old is not None and row.get("alive") and old.get("alive") and old.get("pid") == row.get("pid"):
                row.update({k: old[k] for k in _SCREEN_KEYS if k in old})
    for row in rows:
        row["lane"], row["host"] = lane_of(row), host_of(row)
        row["latest_receipts"] = latest_receipts(home, row["name"]) if not row.get("error") else []
        if row.get("error"):
            row["held_since"] = None
            continue
        if screens:
            hold = attention.note_surface(
                home, row["name"], row.get("surface"), row.get("reason") or "", row.get("pending") or 0, now
            )
        else:
            hold = attention.read_hold(home, row["name"])
        row["held_since"] = hold["since"] if hold else None
    return rows


def read_surfaces(home: StrPath, rows: list[dict], cfg: dict) -> None:
    """Fill in each live row's verified target and surface (what `status` shows), resolving every
    session against one shared index of terminals."""
    from termbridge import surface, targets

    index = targets.HostIndex(home)
    sessions = {s.name: s for s in registry.all_sessions(home)}
    for row in rows:
        sess = sessions.get(row["name"])
        if sess is None or not row.get("alive") or row.get("error"):
            continue
        try:
            tgt = targets.resolve_session(home, sess, log_failure=False, index=index)
            seen = surface.read_surface(home, sess, tgt, sample=False, cfg=cfg)
        except Exception as e:  # noqa: BLE001 - the view reports one session's failure, it does not stop
            row.update(backend=None, target=None, state=None, surface=None, reason=str(e), target_error=str(e))
            continue
        row.update(
            backend=tgt.backend,
            target=tgt.target,
            state="idle" if seen.kind == "idle" else "busy",
            surface=seen.kind,
            reason=seen.reason,
            tmux_socket=tgt.info.get("socket") if tgt.backend == "tmux" else None,
        )


def latest_receipts(home: StrPath, name: str, count: int = 3, tail_bytes: int = 8192) -> list[dict]:
    """NAME's newest receipt entries, newest first: {"id","state","t","via"} (only the log's tail is read)."""
    from termbridge import receipts_log

    try:
        fd = paths.open_state(receipts_log.log_path(home, name))
    except (FileNotFoundError, TermbridgeError, OSError):
        return []
    try:
        size = os.fstat(fd).st_size
        start = max(0, size - tail_bytes)
        data = os.pread(fd, size - start, start)
    finally:
        os.close(fd)
    out: list[dict] = []
    for line in reversed(data.split(b"\n")[1 if start else 0 :]):
        e = receipts_log.parse_entry(line)
        if e is not None:
            out.append({"id": e["id"], "state": e["state"], "t": float(e["t"]), "via": e["via"]})
            if len(out) >= count:
                break
    return out


# ---------------------------------------------------------------- the event log
class EventTail:
    """The event log's newest events, read as it grows: one lstat per poll and only the bytes
    appended since; across a rotation, the rest of the rotated file is read before the new one."""

    def __init__(self, home: StrPath, keep: int = 500, backlog_bytes: int = 65536):
        self.path = events.log_path(home)
        self.events: deque[dict] = deque(maxlen=keep)
        self._ino: int | None = None
        self._offset = 0
        self._buf = b""
        self._backlog = backlog_bytes

    def poll(self) -> list[dict]:
        """The events appended since the last poll (the newest backlog on the first), oldest first."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return []
        new: list[dict] = []
        if st.st_ino != self._ino:
            if self._ino is not None:
                new += self._finish_rotated()
                self._offset, self._buf = 0, b""
            else:
                self._offset = max(0, st.st_size - self._backlog)
                self._buf = b""
                if self._offset:  # the backlog starts mid-line: drop up to the first newline
                    head = self._read(self.path, self._offset - 1, 1 << 16)
                    cut = head.find(b"\n")
                    self._offset += cut if cut >= 0 else len(head)
            self._ino = st.st_ino
        if st.st_size < self._offset:  # truncated in place (not something termbridge does)
            self._offset, self._buf = 0, b""
        if st.st_size > self._offset:
            chunk = self._read(self.path, self._offset, st.st_size - self._offset)
            self._offset += len(chunk)
            new += self._lines(chunk)
        self.events.extend(new)
        return new

    def _finish_rotated(self) -> list[dict]:
        old = self.path + ".1"
        try:
            if os.lstat(old).st_ino != self._ino:
                return []
            rest = self._read(old, self._offset, 1 << 24)
        except (FileNotFoundError, TermbridgeError, OSError):
            return []
        return self._lines(rest + b"\n")

    def _lines(self, chunk: bytes) -> list[dict]:
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        return [e for e in map(events.parse_event, lines) if e is not None]

    @staticmethod
    def _read(path: str, offset: int, size: int) -> bytes:
        fd = paths.open_state(path)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)


# ---------------------------------------------------------------- actions (the keys)
def drain(home: StrPath, name: str) -> str:
    """What `termbridge drain NAME` does (the same library call); a line saying what happened."""
    from termbridge import delivery
    from termbridge.context import SessionContext

    done = delivery.drain_to_target(SessionContext(home, name))
    if done.note:
        return done.note
    if done.count:
        return f"delivered {done.count} message(s) to {name}"
    return f"nothing pending for {name}"


def hand_over(home: StrPath, name: str) -> tuple[int, str]:
    """What `termbridge drain NAME --print` does: every pending message, framed, taken out of the
    queue and counted delivered (via print). Returns (count, the framed text)."""
    from termbridge import delivery
    from termbridge.context import SessionContext

    ctx = SessionContext(home, name)
    ctx.session  # noqa: B018 - an unknown session is an error, not an empty queue
    parts: list[str] = []
    n = delivery.drain_print(ctx, parts.append)
    return n, "".join(parts)


def switch_client(home: StrPath, name: str) -> str:
    """Show NAME's pane in a tmux client of the server it lives on: the client that shows this
    very process (top itself), else the one used most recently. The pane is resolved fresh;
    one `list-panes`, one `list-clients` and one command sequence on that server."""
    from termbridge import proctree, targets
    from termbridge.tmux_cmd import SEP, run_tmux

    paths.validate_name(name)
    sess = registry.lookup(home, name)
    index = targets.HostIndex(home)
    tgt = targets.resolve_session(home, sess, log_failure=False, index=index)
    sock = tgt.info.get("socket")
    if tgt.backend != "tmux" or not sock:
        raise BadInput(f"{name} is not in a tmux pane ({tgt.target}): nothing to switch to")
    pane = tgt.info["pane"]
    env = {"TERMBRIDGE_TMUX_SOCKET": sock}
    out = run_tmux("list-clients", "-F", SEP.join(["#{client_name}", "#{client_activity}", "#{pane_id}"]), env=env)
    clients = []
    for line in out.splitlines():
        parts = line.split(SEP)
        if len(parts) == 3 and parts[0]:
            clients.append((parts[0], int(parts[1]) if parts[1].isdigit() else 0, parts[2]))
    if not clients:
        raise NoTarget(f"no tmux client is attached to {name}'s server (tmux -S {sock} attach)")
    index.add(("tmux", sock))
    mine, _ = index.nearest(proctree.ancestor_chain(os.getpid()))
    own_pane = mine.info.get("pane") if mine is not None and mine.info.get("socket") == sock else None
    client = next((c for c in clients if own_pane and c[2] == own_pane), None) or max(clients, key=lambda c: c[1])
    run_tmux(
        "select-window", "-t", pane, ";", "select-pane", "-t", pane, ";", "switch-client", "-c", client[0], "-t", pane,
        env=env,
    )  # fmt: skip
    return f"switched client {client[0]} to {name} ({pane})"


def ago(t: float, now: float | None = None) -> str:
    """A short age: '5s', '3m', '2h', '4d'."""
    s = max(0, int((time.time() if now is None else now) - t))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"
