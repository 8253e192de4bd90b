"""Where state lives, and the only safe ways to touch it.

Directories are 0700 and files 0600. A state file that is a symlink, or that
another user owns, is refused: state is read with O_NOFOLLOW and checked with
fstat, so a planted link can neither redirect a write nor feed us a forged queue.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Mapping

from termbridge.errors import BadInput, StateError

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_OPEN_FLAGS = os.O_CLOEXEC | os.O_NOFOLLOW


def validate_name(name: str, what: str = "session name") -> str:
    """Return NAME if it matches [A-Za-z0-9._-]{1,64} and is not a dot path."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in (".", ".."):
        raise BadInput(f"invalid {what} {name!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return name


def state_home(env: Mapping[str, str] | None = None) -> Path:
    """The state root: $TERMBRIDGE_HOME, else $XDG_STATE_HOME/termbridge, else ~/.local/state/termbridge."""
    env = os.environ if env is None else env
    if env.get("TERMBRIDGE_HOME"):
        return Path(env["TERMBRIDGE_HOME"]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "termbridge"
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".local" / "state" / "termbridge"


def _check_owned(st: os.stat_result, path: Path | str) -> None:
    if st.st_uid != os.geteuid():
        raise StateError(f"refusing state owned by uid {st.st_uid}: {path}")


def ensure_dir(path: Path) -> Path:
    """Create PATH (and parents) mode 0700; refuse a symlink or a foreign-owned directory."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not path.parent.exists():
            ensure_dir(path.parent)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise StateError(f"refusing symlinked state directory: {path}")
    if not stat.S_ISDIR(st.st_mode):
        raise StateError(f"state path is not a directory: {path}")
    _check_owned(st, path)
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)  # ours but too open: tighten rather than refuse
    return path


def open_state(path: Path, flags: int = os.O_RDONLY, create: bool = False) -> int:
    """Open a state file with O_NOFOLLOW, mode 0600, and check it is ours and regular."""
    if create:
        flags |= os.O_CREAT
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
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: Path) -> bytes | None:
    """Read a whole state file, or None when it does not exist."""
    try:
        fd = open_state(path)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync a directory so a create, rename or unlink inside it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def atomic_write(path: Path, data: bytes) -> None:
    """Replace PATH with DATA: temp file, fsync, rename, fsync the directory."""
    path = Path(path)
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise StateError(f"refusing symlinked state file: {path}")
        _check_owned(st, path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _OPEN_FLAGS, 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def append_durable(path: Path, data: bytes) -> None:
    """Append DATA to PATH with one O_APPEND write and fsync; fsync the directory on creation."""
    existed = os.path.lexists(path)
    fd = open_state(path, os.O_WRONLY | os.O_APPEND, create=True)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if not existed:
        fsync_dir(path.parent)


def unlink_durable(path: Path) -> None:
    """Remove PATH (if present) and fsync its directory."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    fsync_dir(Path(path).parent)


def state_lock(path: Path, timeout: float = 30.0):
    """A kernel flock on PATH via filelock; the lock file is never deleted.

    flock dies with its holder, so a SIGKILLed process never leaves a stale lock.
    Lock files stay on disk: unlinking one lets two processes hold "the" lock on
    two different inodes (https://github.com/tox-dev/filelock/issues/31).
    """
    from filelock import UnixFileLock

    path = Path(path)
    if os.path.islink(path):
        raise StateError(f"refusing symlinked lock file: {path}")
    try:
        return UnixFileLock(str(path), timeout=timeout, mode=0o600, preserve_lock_file=True)
    except TypeError:  # filelock 3.x: UnixFileLock never unlinks and has no such option
        return UnixFileLock(str(path), timeout=timeout, mode=0o600)
