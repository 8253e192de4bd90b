"""The system's OpenSSH client, the only way termbridge reaches another machine.

One argument set for every call: connection sharing (`ControlMaster=auto`, a `ControlPath`
of ours, a `ControlPersist`), `BatchMode=yes` (no prompt ever), a connect timeout,
keep-alives, and strict host keys -- an unknown or changed key is refused, and no option
lets ssh write one (`StrictHostKeyChecking=yes`, `UpdateHostKeys=no`, `CheckHostIP=no`).
Every call has a timeout of its own, so neither a stale control socket nor a live shared
connection over a frozen link holds a command longer than that.

The remote side is `COMMAND rpc`; what travels (peer text included) goes on its stdin as
JSON lines, never on a command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from termbridge import paths
from termbridge.errors import BadInput, HostError, HostKeyRefused, StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

# An OpenSSH destination: a `Host` of the user's ssh config, or [user@]host (an IPv6 literal in
# brackets). Never a leading '-' (it would be read as an option), no spaces, no shell characters.
_HOST_RE = re.compile(r"(?:[A-Za-z0-9._-]{1,64}@)?(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,252}|\[[0-9A-Fa-f:.%a-z]{2,64}\])")
DEFAULT_COMMAND = "termbridge"
CONNECT_TIMEOUT_S = 5  # hosts.HOST.connect_timeout_s
CALL_BUDGET_S = 20.0  # what one call may take once connected (the remote rpc is quick)
PROBE_TIMEOUT_S = 2.0  # `ssh -O check`: a local exchange with the master process
CONTROL_PERSIST_S = 300  # an idle shared connection lives this long
SUN_PATH_MAX = 108  # sizeof(sockaddr_un.sun_path), NUL included
SSH_TEMP_SUFFIX = 17  # the master binds PATH + "." + 16 random characters, then renames


def split_target(target: str) -> tuple[str, str | None]:
    """NAME@HOST -> (NAME, HOST); a plain NAME -> (NAME, None). Both are validated."""
    name, at, host = target.partition("@")
    paths.validate_name(name)
    if not at:
        return name, None
    return name, validate_host(host)


def validate_host(host: str) -> str:
    """HOST if it is an OpenSSH destination we pass on safely, else BadInput (exit 2)."""
    if not isinstance(host, str) or not _HOST_RE.fullmatch(host):
        raise BadInput(f"invalid host {host!r}: use a Host of your ssh config or [user@]host")
    return host


@dataclass(frozen=True)
class HostConfig:
    """One host's settings: the remote termbridge command, extra ssh arguments, the connect timeout."""

    host: str
    command: str = DEFAULT_COMMAND
    ssh: tuple[str, ...] = field(default_factory=tuple)
    connect_timeout_s: int = CONNECT_TIMEOUT_S

    @property
    def call_timeout(self) -> float:
        return self.connect_timeout_s + CALL_BUDGET_S


def host_config(host: str, cfg: dict) -> HostConfig:
    """HOST's entry of the config CFG's `hosts` (defaults without one)."""
    entry = (cfg.get("hosts") or {}).get(host) or {}
    return HostConfig(
        host=host,
        command=entry.get("command", DEFAULT_COMMAND),
        ssh=tuple(entry.get("ssh", ())),
        connect_timeout_s=int(entry.get("connect_timeout_s", CONNECT_TIMEOUT_S)),
    )


def configured_hosts(cfg: dict) -> list[str]:
    """The hosts named in the config CFG, in its order."""
    return list(cfg.get("hosts") or {})


# ------------------------------------------------------------------ the control socket
def control_path(home: StrPath, hc: HostConfig) -> str:
    """A ControlPath for HC that fits the socket-path limit with ssh's temporary suffix.

    Short and hashed (ssh's own %C is 40 characters): under the state directory when that fits,
    else under a private 0700 directory of ours in $XDG_RUNTIME_DIR or /tmp."""
    key = json.dumps([str(home), hc.host, list(hc.ssh)]).encode()
    name = hashlib.sha256(key).hexdigest()[:16]
    for base in _socket_dirs(home):
        candidate = os.path.join(base, name)
        if len(candidate.encode()) + SSH_TEMP_SUFFIX < SUN_PATH_MAX:
            _ensure_private_dir(Path(base), home)
            return candidate
    raise StateError("no directory short enough for an ssh control socket (set XDG_RUNTIME_DIR)")


def _socket_dirs(home: StrPath) -> list[str]:
    tag = hashlib.sha256(str(home).encode()).hexdigest()[:8]
    dirs = [str(Path(home) / "ssh")]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        dirs.append(os.path.join(runtime, f"termbridge-{tag}"))
    dirs.append(f"/tmp/termbridge-{os.geteuid()}-{tag}")
    return dirs


def _ensure_private_dir(d: Path, home: StrPath) -> None:
    """D as a 0700 directory of ours: made like state under HOME, else checked like it (no symlink,
    our own, not open to others) -- a shared /tmp could hold someone else's."""
    if str(d).startswith(str(home) + os.sep):
        paths.ensure_dir(d)
        return
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(d)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise StateError(f"refusing ssh socket directory {d}: not a directory of ours")
    if st.st_mode & 0o077:
        os.chmod(d, 0o700)


def base_args(home: StrPath, hc: HostConfig) -> list[str]:
    """The ssh options of every call to HC (before the user's own `ssh` arguments)."""
    return [
        "ssh",
        "-o",
        "ControlMaster=auto",
        "-o",
        f"ControlPath={control_path(home, hc)}",
        "-o",
        f"ControlPersist={CONTROL_PERSIST_S}",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={hc.connect_timeout_s}",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=2",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UpdateHostKeys=no",
        "-o",
        "CheckHostIP=no",
        "-T",
        *hc.ssh,
    ]


def _control_cmd(home: StrPath, hc: HostConfig, op: str) -> subprocess.CompletedProcess | None:
    """`ssh -O OP` against the shared connection; None when it did not answer in time."""
    try:
        return subprocess.run(
            [*base_args(home, hc), "-O", op, "--", hc.host],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return None


def master_pid(home: StrPath, hc: HostConfig) -> int | None:
    """The pid of the live master process of HC's shared connection, or None (none, or stale)."""
    if not os.path.exists(control_path(home, hc)):
        return None
    res = _control_cmd(home, hc, "check")
    if res is None or res.returncode != 0:
        return None
    m = re.search(rb"pid=(\d+)", res.stderr + res.stdout)
    return int(m.group(1)) if m else None


def ensure_fresh_socket(home: StrPath, hc: HostConfig) -> None:
    """Probe HC's control socket and replace it only when it is really dead: a master that does not
    answer `-O check` within its timeout (stopped, wedged) is told to exit, then killed, and its
    socket removed, so the next call connects afresh instead of hanging on it."""
    path = control_path(home, hc)
    if not os.path.exists(path):
        return
    res = _control_cmd(home, hc, "check")
    if res is not None and res.returncode == 0:
        return  # a live master: share it
    # A master that did not answer is not asked again (that would cost another probe timeout).
    drop_master(home, hc, ask=res is not None)


def drop_master(home: StrPath, hc: HostConfig, ask: bool = True) -> None:
    """End HC's shared connection (a frozen link, a wedged master) and remove its socket: `-O exit`
    when ASK, then SIGKILL to whatever ssh process of ours still listens on it."""
    path = control_path(home, hc)
    pid = _socket_owner(path)
    if ask:
        _control_cmd(home, hc, "exit")
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


def _socket_owner(path: str) -> int | None:
    """The pid of the ssh process listening on socket PATH (ours only), from /proc."""
    try:
        ino = os.lstat(path).st_ino
    except FileNotFoundError:
        return None
    want = f"socket:[{_unix_inode(path, ino)}]"
    me = os.geteuid()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid != me:
                continue
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "ssh":
                    continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == want:
                    return int(pid)
        except OSError:
            continue
    return None


def _unix_inode(path: str, fallback: int) -> int:
    """The socket inode /proc/net/unix lists for the listener bound at PATH."""
    try:
        with open("/proc/net/unix") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[-1] == path:
                    return int(parts[6])
    except OSError:
        pass
    return fallback


# ------------------------------------------------------------------ calls
def rpc_call(home: StrPath, hc: HostConfig, requests: list[dict], timeout: float | None = None) -> list[dict]:
    """Send REQUESTS (JSON lines on stdin) to `COMMAND rpc` on HC's host; its answers, one per request.

    HostKeyRefused for an unknown or changed host key; HostError when the host cannot be reached,
    refuses us, the remote termbridge is missing or fails, or the call outlives its timeout."""
    ensure_fresh_socket(home, hc)
    data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in requests).encode()
    argv = [*base_args(home, hc), "--", hc.host, f"{hc.command} rpc"]
    limit = timeout if timeout is not None else hc.call_timeout
    try:
        res = subprocess.run(argv, input=data, capture_output=True, timeout=limit, start_new_session=True)
    except subprocess.TimeoutExpired:
        # A live master over a dead link answers `-O check` but never the session: end it, so the next
        # call connects afresh (and fails within the connect timeout if the host is really gone).
        drop_master(home, hc)
        raise HostError(hc.host, f"no answer within {limit:g}s (connection dropped)") from None
    except FileNotFoundError:
        raise HostError(hc.host, "no ssh client found (install OpenSSH)", kind="no_ssh") from None
    answers = _parse_answers(res.stdout)
    if res.returncode != 0 and len(answers) < len(requests):
        raise classify_failure(hc, res.returncode, res.stderr)
    if len(answers) != len(requests):
        raise HostError(hc.host, f"the remote termbridge gave {len(answers)} answers to {len(requests)} requests")
    return answers


def _parse_answers(out: bytes) -> list[dict]:
    answers = []
    for line in out.splitlines():
        try:
            a = json.loads(line)
        except ValueError:
            continue  # a login banner or a shell's chatter: not ours
        if isinstance(a, dict) and "ok" in a:
            answers.append(a)
    return answers


def classify_failure(hc: HostConfig, code: int, stderr: bytes) -> HostError:
    """One line for a failed ssh call, from ssh's exit code and its stderr."""
    err = stderr.decode("utf-8", "replace")
    low = err.lower()
    if "host key verification failed" in low or "remote host identification has changed" in low:
        what = "changed" if "has changed" in low else "unknown"
        return HostKeyRefused(
            hc.host,
            f"host key {what}: refused (termbridge never adds one; check it, then add it to known_hosts "
            f"with ssh-keyscan or one interactive ssh)",
            kind="host_key",
        )
    if code == 255:
        last = next((ln.strip() for ln in reversed(err.splitlines()) if ln.strip()), "ssh failed")
        return HostError(hc.host, f"unreachable: {last[:200]}")
    if code == 127 or "command not found" in low or "no such file" in low:
        return HostError(
            hc.host,
            f"no termbridge at {hc.command!r} on the remote PATH (set hosts.{hc.host}.command to its absolute path)",
            kind="no_termbridge",
        )
    last = next((ln.strip() for ln in reversed(err.splitlines()) if ln.strip()), f"exit {code}")
    return HostError(hc.host, f"remote termbridge failed: {last[:200]}", kind="remote_error")


def probe(home: StrPath, hc: HostConfig, timeout: float | None = None) -> dict:
    """One `hello` round trip: {"ok", "version", "seconds"} or {"ok": False, "error", "kind"}."""
    t0 = time.monotonic()
    try:
        (answer,) = rpc_call(home, hc, [{"op": "hello"}], timeout)
    except HostError as e:
        return {"ok": False, "error": str(e), "kind": e.kind, "seconds": round(time.monotonic() - t0, 3)}
    return {"ok": True, "version": answer.get("version"), "seconds": round(time.monotonic() - t0, 3)}
