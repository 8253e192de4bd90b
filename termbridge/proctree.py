"""PID -> parent chain and process start time: /proc on Linux, `ps` where there is none."""

from __future__ import annotations

import os

_HAVE_PROC = os.path.isdir("/proc/self")


def _proc_stat(pid: int) -> tuple[int, str] | None:
    """(ppid, starttime) from /proc/PID/stat, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    state = fields[0]
    if state in (b"Z", b"X"):
        return None  # a zombie has exited; it hosts nothing
    return int(fields[1]), fields[19].decode()


def _ps(args: list[str]) -> str:
    import subprocess  # only where /proc is missing (macOS): not on every hook's start-up

    return subprocess.run(["ps", *args], capture_output=True, text=True, timeout=5).stdout


def start_time(pid: int) -> str | None:
    """An opaque start-time token for PID (detects PID reuse), or None if it is not running."""
    if pid <= 0:
        return None
    if _HAVE_PROC:
        info = _proc_stat(pid)
        return None if info is None else info[1]
    out = _ps(["-o", "lstart=", "-p", str(pid)]).strip()
    return out or None


def start_epoch(pid: int) -> float | None:
    """When PID started, in seconds since the epoch (Linux /proc), or None."""
    token = start_time(pid) if _HAVE_PROC else None
    if token is None:
        return None
    try:
        with open("/proc/stat", "rb") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
    except (OSError, StopIteration, ValueError):
        return None
    return btime + int(token) / os.sysconf("SC_CLK_TCK")


def is_alive(pid: int, token: str | None = None) -> bool:
    """True if PID runs and (when TOKEN is given) is the same process that had TOKEN."""
    now = start_time(pid)
    return now is not None and (token is None or now == token)


def parent_map() -> dict[int, int]:
    """pid -> ppid for every process (one `ps` call where /proc is missing)."""
    result: dict[int, int] = {}
    if _HAVE_PROC:
        for name in os.listdir("/proc"):
            if name.isdigit():
                info = _proc_stat(int(name))
                if info:
                    result[int(name)] = info[0]
        return result
    for line in _ps(["-A", "-o", "pid=,ppid="]).splitlines():
        parts = line.split()
        if len(parts) == 2:
            result[int(parts[0])] = int(parts[1])
    return result


def ancestor_chain(pid: int) -> list[int]:
    """[pid, parent, grandparent, ..., 1]; empty if PID is not running."""
    chain: list[int] = []
    if _HAVE_PROC:
        cur = pid
        while cur > 0 and cur not in chain:
            info = _proc_stat(cur)
            if info is None:
                break
            chain.append(cur)
            cur = info[0]
        return chain
    parents = parent_map()
    cur = pid
    while cur in parents and cur not in chain:
        chain.append(cur)
        cur = parents[cur]
    return chain


def children_map() -> dict[int, list[int]]:
    """ppid -> [pids]: for finding a process's descendants."""
    out: dict[int, list[int]] = {}
    for child, parent in parent_map().items():
        out.setdefault(parent, []).append(child)
    return out


def descendants(pid: int) -> list[int]:
    """PID's descendants, breadth first."""
    kids = children_map()
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(0), []):
            out.append(c)
            todo.append(c)
    return out


def tty_of(pid: int) -> str | None:
    """The terminal device PID's stdin is on (e.g. /dev/pts/3), if any."""
    try:
        dev = os.readlink(f"/proc/{pid}/fd/0")
    except OSError:
        return None
    return dev if dev.startswith("/dev/pts/") or dev.startswith("/dev/tty") else None


def is_canonical(tty: str) -> bool | None:
    """Whether the terminal at TTY is in canonical (line) mode, or None if unknown."""
    import termios

    try:
        fd = os.open(tty, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return bool(termios.tcgetattr(fd)[3] & termios.ICANON)
    except termios.error:
        return None
    finally:
        os.close(fd)


# ---------------------------------------------------------------- what a process is
def cmdline(pid: int) -> list[str]:
    """PID's argv ([] when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        try:
            return _ps(["-o", "args=", "-p", str(pid)]).split()
        except Exception:  # noqa: BLE001 - no /proc and no ps: unknown
            return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def exe(pid: int) -> str:
    """The path of PID's executable ('' when unreadable; ' (deleted)' removed)."""
    try:
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return ""


def comm(pid: int) -> str:
    """PID's command name (/proc/PID/comm), else argv[0]'s base name."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().decode("utf-8", "replace").strip()
    except OSError:
        argv = cmdline(pid)
        return os.path.basename(argv[0]) if argv else ""


def environ(pid: int) -> dict[str, str]:
    """The environment PID was started with (/proc/PID/environ: same user only; {} when unreadable)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            env[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
    return env


def open_files(pid: int) -> list[str]:
    """What PID's file descriptors point at (/proc/PID/fd links: paths, `socket:[N]`…); [] if unreadable."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    out = []
    for fd in fds:
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return out


def cwd(pid: int) -> str | None:
    """PID's working directory, symlinks resolved; None if unreadable."""
    try:
        return os.path.realpath(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None
