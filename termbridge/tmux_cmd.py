"""The one place that runs tmux on the hot paths (resolve, submit, screen samples).

libtmux costs ~75-190 ms to import against ~3 ms for one tmux call, so termbridge
itself (`resolve`, `submit`, `wake`, `drain`, `demo`, `doctor`) runs tmux through this
runner, with its timeout; libtmux serves the tests, where its Server API earns its
start-up cost.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from termbridge.errors import TmuxError

SEP = "\x1f"  # never occurs in tmux ids, pids or tty paths


def socket_dir(env: Mapping[str, str] | None = None) -> str:
    """Where tmux puts this user's sockets: $TMUX_TMPDIR (else /tmp) + /tmux-UID, as tmux itself does."""
    env = os.environ if env is None else env
    return os.path.join(env.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}")


def answers(path: str) -> bool:
    """A tmux server listens on PATH: one connect(), no tmux process (a dead socket refuses it)."""
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def socket_path(env: Mapping[str, str] | None = None) -> str | None:
    """$TERMBRIDGE_TMUX_SOCKET, else the socket in $TMUX, else tmux's default socket when a server answers there."""
    env = os.environ if env is None else env
    if env.get("TERMBRIDGE_TMUX_SOCKET"):
        return os.path.abspath(env["TERMBRIDGE_TMUX_SOCKET"])
    if env.get("TMUX"):
        # $TMUX is "socket,server-pid,session"; only the socket path is used (never $TMUX_PANE).
        return env["TMUX"].rsplit(",", 2)[0]
    default = os.path.join(socket_dir(env), "default")
    return default if answers(default) else None


def user_sockets(env: Mapping[str, str] | None = None) -> list[str]:
    """This user's tmux server sockets in the socket dir: sockets we own, never through a symlink."""
    import stat

    d = socket_dir(env)
    try:
        st = os.lstat(d)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return []  # tmux itself refuses such a directory
        names = sorted(os.listdir(d))
    except OSError:
        return []
    found = []
    for n in names:
        p = os.path.join(d, n)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid():
            found.append(p)
    return found


def socket_key(path: str) -> tuple[int, int] | None:
    """(device, inode) of the socket at PATH, so one server named two ways is listed once; None if there is none.

    Ownership is not checked here: a socket named by the caller or at registration may be a
    shared server's (tmux's own server-access decides); discovery takes only our own.
    """
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISSOCK(st.st_mode) else None


def tmux_argv(env: Mapping[str, str] | None = None) -> list[str]:
    sock = socket_path(env)
    return ["tmux", "-S", sock] if sock else ["tmux"]


def run_tmux(*args: str, input: bytes | None = None, env: Mapping[str, str] | None = None, timeout: float = 5.0) -> str:
    """Run one tmux command and return its stdout; TmuxError with tmux's message on failure."""
    argv = tmux_argv(env) + list(args)
    try:
        p = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            timeout=timeout,
            env={k: v for k, v in os.environ.items() if k != "TMUX"},
        )
    except FileNotFoundError:
        raise TmuxError("tmux is not installed (apt-get install tmux)") from None
    except subprocess.TimeoutExpired:
        raise TmuxError(f"{args[0]}: tmux did not answer within {timeout}s") from None
    if p.returncode != 0:
        msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise TmuxError(f"{args[0]}: {msg[-1] if msg else f'exit {p.returncode}'}")
    return p.stdout.decode("utf-8", "replace")


def no_server(err: TmuxError) -> bool:
    """The error means no tmux server runs on that socket (not a failure to resolve)."""
    s = str(err)
    return "no server running" in s or "error connecting" in s or "No such file" in s
