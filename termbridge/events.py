"""The durable event log: append-only JSON lines, fsync'd, rotated past a size limit."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

from termbridge import paths

TYPE_CHECKING = False  # no `typing` (nor pathlib) at run time on send's hot path (kinds.py)
if TYPE_CHECKING:
    from typing import Any

    from termbridge.paths import StrPath

_ready: set[str] = set()  # homes whose directory this process has already checked
_ROTATE_EVERY = 64  # appends between size checks: rotation is approximate by design
_appends = [0]
# Group commit: every event is one O_APPEND write (safe against a process crash, since
# it is in the page cache at once); a process fsyncs the log on its first event and then
# at most once per SYNC_INTERVAL. A one-shot CLI call therefore fsyncs its events; a
# long-running producer risks at most SYNC_INTERVAL of events on power loss, while the
# outbox itself is fsync'd per message. A second fsync per message would halve enqueues.
SYNC_INTERVAL = 1.0
_last_sync: dict[str, float] = {}
_files: dict[str, paths.KeptFile] = {}  # events.log kept open per home


def log_path(home: StrPath) -> str:
    return os.path.join(home, "events.log")


def _append(home: StrPath, data: bytes) -> None:
    key = os.fspath(home)
    if key not in _ready:
        paths.add_root(key)
        paths.ensure_dir(key)
        _ready.add(key)
    now = time.monotonic()
    sync = now - _last_sync.get(key, -SYNC_INTERVAL) >= SYNC_INTERVAL
    kept = _files.get(key)
    if kept is None:
        kept = _files[key] = paths.KeptFile(log_path(home), os.O_WRONLY | os.O_APPEND)
    path = kept.path
    fd = kept.fd()  # reopened after a rotation renamed the file away
    created = kept.opened and os.fstat(fd).st_size == 0  # a new file: its directory entry needs a sync
    paths.write_all(fd, data)  # one O_APPEND write: whole even when processes interleave
    if sync or created:
        paths.sync_data(fd)
        _last_sync[key] = now
    if created:
        paths.fsync_dir(os.path.dirname(path) or ".")
    _appends[0] += 1
    if _appends[0] % _ROTATE_EVERY == 1:
        _maybe_rotate(key, os.fspath(path))


def log_event(home: StrPath, event: str, session: str | None = None, **fields: Any) -> None:
    """Append one event durably; never raises (an event must not break the action it records)."""
    record = {"t": round(time.time(), 6), "event": event, "session": session}
    record.update(fields)
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
    try:
        _append(home, line)
    except Exception:  # noqa: BLE001 - the event log is best-effort by design
        pass


def log_events(home: StrPath, session: str | None, batch: list[tuple[str, dict]]) -> None:
    """Append several events with one write and one fsync (e.g. one per delivered id)."""
    if not batch:
        return
    now = round(time.time(), 6)
    data = b"".join(
        (
            json.dumps(
                {"t": now, "event": ev, "session": session, **f}, ensure_ascii=False, separators=(",", ":"), default=str
            )
            + "\n"
        ).encode()
        for ev, f in batch
    )
    try:
        _append(home, data)
    except Exception:  # noqa: BLE001 - best-effort, as log_event
        pass


def _maybe_rotate(home: str, path: str) -> None:
    from termbridge.config import load_config

    limit = load_config()["events_max_bytes"]
    try:
        if os.lstat(path).st_size <= limit:
            return
    except FileNotFoundError:
        return
    with paths.state_lock(os.path.join(home, "events.lock"), timeout=5):
        # Re-check under the lock: another process may have rotated already.
        try:
            if os.lstat(path).st_size <= limit:
                return
        except FileNotFoundError:
            return
        os.replace(path, path + ".1")
        paths.fsync_dir(home)


def parse_event(line: bytes) -> dict | None:
    """The event on LINE, or None when it is not one: torn, not an object, no finite `t`,
    no string `event`, a `session` that is neither a string nor null, or unprintable."""
    try:
        e = json.loads(line)
    except (ValueError, RecursionError):
        return None  # a torn last line from a crash mid-append, or garbage
    if not isinstance(e, dict):
        return None
    t = e.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0 <= t <= 4102444800):  # NaN/inf fail
        return None
    if not isinstance(e.get("event"), str) or not isinstance(e.get("session"), (str, type(None))):
        return None
    if b"\\u" in line:  # an escaped lone surrogate would break printing it as UTF-8
        try:
            json.dumps(e, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError):
            return None
    return e


def read_events(home: StrPath, live: bool = True) -> Iterator[dict]:
    """Every event still on disk, oldest first (the rotated file, then -- if LIVE -- the live one)."""
    for p in (log_path(home) + ".1", log_path(home))[: 2 if live else 1]:
        data = paths.read_bytes(p)
        if not data:
            continue
        for line in data.splitlines():
            e = parse_event(line)
            if e is not None:
                yield e


def follow_events(home: StrPath, poll: float = 0.2) -> Iterator[dict]:
    """Yield the live log's events from its start, then each one as it is appended, across
    rotations (a new inode is read from its start); runs until interrupted."""
    path = log_path(home)
    inode, offset, buf = None, 0, b""
    while True:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            time.sleep(poll)
            continue
        if st.st_ino != inode:
            inode, offset, buf = st.st_ino, 0, b""
        if st.st_size > offset:
            fd = paths.open_state(path)
            try:
                os.lseek(fd, offset, os.SEEK_SET)
                chunk = os.read(fd, st.st_size - offset)
            finally:
                os.close(fd)
            offset += len(chunk)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                e = parse_event(line)
                if e is not None:
                    yield e
        else:
            time.sleep(poll)
