"""Where state lives, and the only safe ways to touch it.

Directories are 0700 and files 0600. A state file that is a symlink, or that
another user owns, is refused: state is read with O_NOFOLLOW and checked with
fstat, so a planted link can neither redirect a write nor feed us a forged queue.
"""

from __future__ import annotations

import _thread  # threading.Lock without importing threading (send's hot path)
import errno
import fcntl
import os
import re
import stat
import time
from collections.abc import Iterable, Mapping

from termbridge.errors import BadInput, StateError

TYPE_CHECKING = False  # no `typing` (nor pathlib: ~3.6 ms) at run time on send's hot path (kinds.py)
if TYPE_CHECKING:
    from os import PathLike
    from typing import TypeAlias, TypeVar

    StrPath: TypeAlias = str | PathLike[str]  # every function here takes a str or a Path
    P = TypeVar("P", bound="str | PathLike[str]")  # ensure_dir gives back what it was given

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_OPEN_FLAGS = os.O_CLOEXEC | os.O_NOFOLLOW


def validate_name(name: str, what: str = "session name") -> str:
    """Return NAME if it matches [A-Za-z0-9._-]{1,64} and is not a dot path."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in (".", ".."):
        raise BadInput(f"invalid {what} {name!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return name


def state_home(env: Mapping[str, str] | None = None) -> str:
    """The state root: $TERMBRIDGE_HOME, else $XDG_STATE_HOME/termbridge, else ~/.local/state/termbridge.

    A root that is itself a symlink (a person's choice: state on another disk) is resolved
    here, once, and the real directory is used from then on; every level *below* it is
    checked like a file (see check_levels). A str, as every path on send's hot path: a caller
    that wants a Path makes one (pathlib is not imported on that path).
    """
    env = os.environ if env is None else env
    if env.get("TERMBRIDGE_HOME"):
        home = os.path.expanduser(env["TERMBRIDGE_HOME"])
    elif env.get("XDG_STATE_HOME"):
        home = os.path.join(os.path.expanduser(env["XDG_STATE_HOME"]), "termbridge")
    else:
        home = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "state", "termbridge")
    home = tidy(home)
    real = _resolved.get(home)
    if real is None:
        real = os.path.realpath(home) if os.path.islink(home) else home
        _resolved[home] = real
        add_root(real)
    return real


def tidy(path: str) -> str:
    """PATH as pathlib would spell it: no repeated or trailing slashes, no "." levels (".." kept)."""
    if not path:
        return "."
    lead = "//" if path.startswith("//") and not path.startswith("///") else "/" if path.startswith("/") else ""
    parts = [p for p in path.split("/") if p and p != "."]
    return lead + "/".join(parts) or "."


# ------------------------------------------------------------------ directory levels
# Every directory between a state root and a state file is checked like the file itself:
# a symlinked level would redirect every write below it (O_NOFOLLOW guards only the last
# component), and a level another user owns lets them swap what we read. One lstat per
# level, once per process: `send` and the hooks are on agents' hot paths.
_resolved: dict[str, str] = {}
_roots: set[str] = set()  # state roots this process uses
_verified: set[str] = set()  # directories already checked in this process


def add_root(home: StrPath) -> None:
    """Declare HOME a state root: the levels below it are checked before use."""
    _roots.add(os.path.normpath(str(home)))


def _root_of(path: str) -> str | None:
    best = None
    for r in _roots:
        if (path == r or path.startswith(r + os.sep) or r == os.sep) and (best is None or len(r) > len(best)):
            best = r
    return best


def _check_level(d: str, remember: bool = True) -> bool:
    """Check directory D (lstat: not a symlink, a directory, ours; tighten a loose mode).
    False when it does not exist yet."""
    try:
        st = os.lstat(d)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise StateError(f"refusing symlinked state directory: {d}")
    if not stat.S_ISDIR(st.st_mode):
        raise StateError(f"state path is not a directory: {d}")
    _check_owned(st, d)
    if st.st_mode & 0o077:
        os.chmod(d, 0o700)  # ours but too open: tighten rather than refuse
    if remember:
        _verified.add(d)
    return True


def check_levels(directory: StrPath) -> None:
    """Check DIRECTORY and every level above it up to its state root (cached per process);
    StateError for a symlinked, foreign-owned or non-directory level. Paths outside any
    state root are left alone."""
    d = os.path.normpath(str(directory))
    if d in _verified:
        return
    root = _root_of(d)
    if root is None:
        state_home()  # the environment's root (resolved once) may not be known yet
        root = _root_of(d)
        if root is None:
            return
    levels = [d]
    while levels[-1] != root:
        parent = os.path.dirname(levels[-1])
        if parent == levels[-1]:
            return
        levels.append(parent)
    for level in reversed(levels):  # from the root down: a missing level ends the walk
        if level not in _verified and not _check_level(level):
            return


def list_dir(directory: StrPath) -> list[str]:
    """The sorted entries of a state directory ([] when it does not exist), after check_levels."""
    check_levels(directory)
    try:
        return sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _check_owned(st: os.stat_result, path: StrPath) -> None:
    if st.st_uid != os.geteuid():
        raise StateError(f"refusing state owned by uid {st.st_uid}: {path}")


def _above_root(path: StrPath) -> bool:
    """PATH is a proper ancestor of a state root (and not itself under another root)."""
    p = os.path.normpath(str(path))
    if _root_of(p) is not None:
        return False
    if not _roots:
        state_home()  # the environment's root (resolved once) may not be known yet
    return any(r.startswith(p.rstrip(os.sep) + os.sep) for r in _roots)


def ensure_dir(path: P) -> P:
    """Create PATH (and parents) mode 0700; refuse a symlink or a foreign-owned directory."""
    d = os.path.normpath(str(path))
    parent = os.path.dirname(d) or "."
    check_levels(parent)
    if not os.path.lexists(d):
        if _above_root(parent):
            # The person's own directories above the state root (~/.local may be a link into
            # dotfiles): created as any program would, symlinks followed. Only the levels at
            # and under the root are state.
            os.makedirs(parent, 0o700, exist_ok=True)
        elif not os.path.lexists(parent) or os.path.islink(parent):
            ensure_dir(parent)  # creates it, or refuses a symlinked parent
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
    if not _check_level(d, remember=_root_of(d) is not None):
        raise FileNotFoundError(errno.ENOENT, "state directory vanished while it was made", d)
    return path


def open_state(path: StrPath, flags: int = os.O_RDONLY, create: bool = False) -> int:
    """Open a state file with O_NOFOLLOW, mode 0600, and check it is ours and regular."""
    if create:
        flags |= os.O_CREAT
    check_levels(os.path.dirname(path) or ".")
    try:
        fd = os.open(path, flags | _OPEN_FLAGS, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StateError(f"refusing symlinked state file: {path}") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StateError(f"state path is not a regular file: {path}")
        _check_owned(st, path)
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)  # ours but readable by others (an old umask, a careless chmod): tighten
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: StrPath) -> bytes | None:
    """Read a whole state file, or None when it does not exist."""
    try:
        fd = open_state(path)
    except FileNotFoundError:
        return None
    try:
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def read_json(path: StrPath, default=None):
    """A small JSON state file, or DEFAULT when it is missing or unreadable as JSON."""
    import json

    data = read_bytes(path)
    if not data:
        return default
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return default
    if default is not None and not isinstance(value, type(default)):
        return default  # e.g. a list where a mapping belongs: callers would crash on .get
    return value


def fsync_dir(path: StrPath) -> None:
    """fsync a directory so a create, rename or unlink inside it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write every byte (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def atomic_write(path: StrPath, data: bytes | Iterable[bytes]) -> None:
    """Replace PATH with DATA (bytes, or chunks streamed without joining): temp file, fsync, rename, fsync dir."""
    path = os.fspath(path)
    parent, base = os.path.split(path)
    parent = parent or "."
    check_levels(parent)
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise StateError(f"refusing symlinked state file: {path}")
        _check_owned(st, path)
    except FileNotFoundError:
        pass
    tmp = os.path.join(parent, f".{base}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _OPEN_FLAGS, 0o600)
    try:
        if isinstance(data, (bytes, bytearray, memoryview)):
            write_all(fd, data)
        else:
            buf = bytearray()
            for chunk in data:
                buf += chunk
                if len(buf) >= 1 << 16:
                    write_all(fd, buf)
                    buf.clear()
            write_all(fd, buf)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(parent)


class KeptFile:
    """A state file kept open for appends across calls (an open, a check and a close saved per
    append); reopened -- through open_state, with all its checks -- whenever the file at PATH is
    no longer the one we hold: replaced by a rewrite or rotation, removed, or swapped for a link.
    One lstat per use. Callers that rewrite the file hold the same lock as its appenders."""

    def __init__(self, path: StrPath, flags: int = os.O_RDWR | os.O_APPEND):
        self.path, self.flags = path, flags
        self._spath = os.fspath(path)  # lstat'ed on every use: no Path conversion each time
        self._fd: int | None = None
        self._id: tuple[int, int] | None = None
        self.opened = False

    def fd(self) -> int:
        try:
            st = os.lstat(self._spath)
            now = (st.st_ino, st.st_dev)
        except FileNotFoundError:
            now = None
        if self._fd is not None and now is not None and now == self._id:
            self.opened = False
            return self._fd
        self.close()
        self.opened = True  # (re)opened by this call: the caller may want to check for a new file
        fd = open_state(self.path, self.flags, create=True)
        st = os.fstat(fd)
        self._fd, self._id = fd, (st.st_ino, st.st_dev)
        return fd

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self) -> None:
        self.close()


def sync_data(fd: int) -> None:
    """Make an append durable: fdatasync, which also flushes the size an append changed (what a
    later read needs) but skips the timestamps; fsync where there is no fdatasync (macOS)."""
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def append_durable(path: StrPath, data: bytes, sync: bool = True) -> None:
    """Append DATA to PATH with one O_APPEND write; fsync it (and the directory on creation) when SYNC."""
    fd = open_state(path, os.O_WRONLY | os.O_APPEND, create=True)
    try:
        created = os.fstat(fd).st_size == 0
        write_all(fd, data)
        if sync or created:
            sync_data(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(os.path.dirname(path) or ".")


def unlink_durable(path: StrPath) -> None:
    """Remove PATH (if present) and fsync its directory."""
    parent = os.path.dirname(os.fspath(path)) or "."
    check_levels(parent)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    fsync_dir(parent)


def _flock(fd: int) -> bool:
    """Take the exclusive flock on FD without blocking; False when another holder has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class StateLock:
    """An exclusive, process- and thread-safe lock on a state lock file.

    The kernel lock is flock(2) (what filelock's lock_descriptor wraps) on a descriptor we open with
    O_NOFOLLOW and keep, so a planted symlink is refused and each acquire costs a
    syscall, not an object set-up. flock dies with its holder: a SIGKILLed process never
    leaves a stale lock. Lock files are never deleted: unlinking one lets two processes
    hold "the" lock on two different inodes (https://github.com/tox-dev/filelock/issues/31).
    """

    def __init__(self, path: StrPath, timeout: float = 30.0):
        self.path = path
        self.timeout = timeout
        self.waited: float | None = None  # seconds the last acquire waited, None if uncontended
        self._fd: int | None = None
        self._mutex = _thread.allocate_lock()  # flock does not exclude threads sharing one descriptor

    def acquire(self) -> StateLock:
        t0 = time.monotonic()
        if not self._mutex.acquire(timeout=self.timeout):
            raise StateError(f"timed out after {self.timeout}s waiting for lock {self.path}")
        try:
            if self._fd is None:
                self._fd = open_state(self.path, os.O_RDWR, create=True)
            delay = 0.001
            while not _flock(self._fd):
                if time.monotonic() - t0 > self.timeout:
                    raise StateError(f"timed out after {self.timeout}s waiting for lock {self.path}")
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
            waited = time.monotonic() - t0
            self.waited = waited if waited > 0.002 else None
        except BaseException:
            self._mutex.release()
            raise
        return self

    def release(self) -> None:
        assert self._fd is not None, "release() without acquire()"
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass


def state_lock(path: StrPath, timeout: float = 30.0) -> StateLock:
    """The lock guarding a piece of state (see StateLock)."""
    return StateLock(path, timeout)
