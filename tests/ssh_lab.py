"""A real OpenSSH server on 127.0.0.1 for the remote tests: a second local user with a key, an sshd
with its own host key and config on a free port, and the same termbridge installed where that
user can run it -- copied into a short /tmp directory (the repository and its .venv may sit in a
directory the user cannot read, e.g. a fresh clone under /root), run by the same base interpreter.

Needs root (CI is root) and /usr/sbin/sshd; the tests skip, saying which, without them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from helpers import retry_until

from termbridge import proctree

REMOTE_USER = "tbremote"
SSHD = "/usr/sbin/sshd"
HOST = "tbhost"  # the Host alias of the lab's ssh_config
# What the installed termbridge imports (pyproject dependencies, and theirs).
PACKAGES = ("termbridge", "click", "yaml", "pyte", "wcwidth", "tomlkit")


def why_not() -> str | None:
    """Why the remote tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "the remote tests create a user and run sshd: they need root (CI is root)"
    if not os.path.exists(SSHD):
        return "no /usr/sbin/sshd (apt-get install openssh-server; ./dev.sh test does)"
    if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        return "no OpenSSH client (apt-get install openssh-client)"
    if not shutil.which("useradd") or not shutil.which("runuser"):
        return "no useradd/runuser"
    return None


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(list(args), **kw)


def ensure_user() -> pwd.struct_passwd:
    """The second local user (made once; idempotent), unlocked for key logins."""
    try:
        pw = pwd.getpwnam(REMOTE_USER)
    except KeyError:
        run("useradd", "--create-home", "--shell", "/bin/sh", REMOTE_USER)
        pw = pwd.getpwnam(REMOTE_USER)
    run("usermod", "-p", "*", REMOTE_USER)  # no password, but not locked: sshd allows key logins
    return pw


class RemoteInstall:
    """termbridge and its dependencies copied into DIR/lib, run by the base interpreter as the second
    user through DIR/bin/termbridge; that user's tmux server lives in DIR/u (the user's own 0700)."""

    def __init__(self, pw: pwd.struct_passwd):
        self.pw = pw
        self.dir = Path(tempfile.mkdtemp(prefix="tbrem", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.lib = self.dir / "lib"
        self.lib.mkdir()
        for name in PACKAGES:
            spec = importlib.util.find_spec(name)
            assert spec and spec.origin, name
            src = Path(spec.origin).parent
            shutil.copytree(src, self.lib / name, ignore=shutil.ignore_patterns("__pycache__"))
        dist = importlib.metadata.distribution("termbridge")
        meta = Path(str(dist.locate_file(""))) / str(dist._path.name)  # type: ignore[attr-defined]
        if meta.is_dir():
            shutil.copytree(meta, self.lib / meta.name)
        self.python = self._interpreter(pw)
        self.user_dir = self.dir / "u"
        self.user_dir.mkdir(mode=0o700)
        os.chown(self.user_dir, pw.pw_uid, pw.pw_gid)
        self.tmux_socket = self.user_dir / "tmux.sock"
        bin_dir = self.dir / "bin"
        bin_dir.mkdir()
        self.command = bin_dir / "termbridge"
        self.command.write_text(
            "#!/bin/sh\n"
            f"PYTHONPATH={shlex.quote(str(self.lib))}; export PYTHONPATH\n"
            f"TERMBRIDGE_TMUX_SOCKET={shlex.quote(str(self.tmux_socket))}; export TERMBRIDGE_TMUX_SOCKET\n"
            f"TERMBRIDGE_HOME={shlex.quote(str(self.user_dir / 'state'))}; export TERMBRIDGE_HOME\n"
            f'exec {shlex.quote(self.python)} -m termbridge "$@"\n'
        )
        # A slow variant for the SIGKILL case: the answer is out, then the call lingers.
        self.slow_command = bin_dir / "termbridge-slow"
        self.slow_command.write_text(f'#!/bin/sh\n{shlex.quote(str(self.command))} "$@"\nsleep 8\n')
        for p in (self.command, self.slow_command):
            os.chmod(p, 0o755)
        for root, dirs, files in os.walk(self.lib):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        # Its own state home (not ~/.local/state of the shared user): runs side by side stay apart.
        self.state = self.user_dir / "state"
        self.n = 0

    def _interpreter(self, pw: pwd.struct_passwd) -> str:
        """A Python >= 3.11 the second user can run: the tests' own base interpreter when the user can
        reach it (not under /root, as a pyenv there is), else the system's python3."""
        check = "import sys; sys.exit(sys.version_info < (3, 11))"
        for cand in (os.path.realpath(sys.executable), "/usr/bin/python3", "/usr/local/bin/python3"):
            if not os.path.exists(cand):
                continue
            ok = run("runuser", "-u", REMOTE_USER, "--", cand, "-c", check, check=False).returncode == 0
            if ok:
                return cand
        raise RuntimeError(f"no Python >= 3.11 that {REMOTE_USER} can run")

    def as_user(self, *argv: str, **kw) -> subprocess.CompletedProcess:
        """Run ARGV as the second user with a clean environment (not the test's)."""
        env = [
            f"HOME={self.pw.pw_dir}",
            f"USER={REMOTE_USER}",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            f"PYTHONPATH={self.lib}",
            f"TERMBRIDGE_TMUX_SOCKET={self.tmux_socket}",
            f"TERMBRIDGE_HOME={self.user_dir / 'state'}",
            "LANG=C.UTF-8",
        ]
        return run("runuser", "-u", REMOTE_USER, "--", "env", "-i", *env, *argv, **kw)

    def termbridge(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.as_user(str(self.command), *args, **kw)

    def start_agent(self, name: str) -> RemoteAgent:
        """A demo agent in a pane of the user's own tmux server, registered there as NAME."""
        self.n += 1
        log = self.user_dir / f"{name}.log"
        cmd = f"exec {shlex.quote(self.python)} -m termbridge.demo_agent --log {shlex.quote(str(log))} --title {name}"
        sock = str(self.tmux_socket)
        if self.as_user("tmux", "-S", sock, "has-session", check=False).returncode == 0:
            self.as_user("tmux", "-S", sock, "new-window", "-d", "-n", name, cmd)
        else:
            size = ("-x", "160", "-y", "45")
            self.as_user(
                "tmux", "-S", sock, "-f", "/dev/null", "new-session", "-d", "-s", "lab", "-n", name, *size, cmd
            )
        pane = self.as_user("tmux", "-S", sock, "list-panes", "-a", "-F", "#{window_name} #{pane_pid}").stdout
        pid = int(next(ln.split()[1] for ln in pane.decode().splitlines() if ln.split()[0] == name))
        agent = RemoteAgent(self, name, pid, log)
        retry_until(lambda: "›" in agent.screen(), 15)
        self.termbridge("register", name, "--pid", str(pid), "--kind", "codex")
        return agent

    def close(self) -> None:
        self.as_user("tmux", "-S", str(self.tmux_socket), "kill-server", check=False)
        # Waiters the remote side started (they end by themselves; do not leave them behind). Only
        # this install's: another run's processes of the same user carry another directory.
        for pid in _pids_of_user(self.pw.pw_uid, str(self.dir)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def _pids_of_user(uid: int, marker: str) -> list[int]:
    """UID's processes whose environment mentions MARKER (this install's directory)."""
    out = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{p}").st_uid == uid and marker.encode() in open(f"/proc/{p}/environ", "rb").read():
                out.append(int(p))
        except OSError:
            pass
    return out


class RemoteAgent:
    def __init__(self, install: RemoteInstall, name: str, pid: int, log: Path):
        self.install, self.name, self.pid, self.log = install, name, pid, log

    def screen(self) -> str:
        return self.install.as_user(
            "tmux", "-S", str(self.install.tmux_socket), "capture-pane", "-p", "-t", f"lab:{self.name}", check=False
        ).stdout.decode("utf-8", "replace")

    def submissions(self) -> list[str]:
        if not self.log.exists():
            return []
        return [e["text"] for e in map(json.loads, self.log.read_text().splitlines()) if "text" in e]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """sshd -D on 127.0.0.1:PORT with its own host key and config; the client side's ssh_config (Host
    tbhost), key and known_hosts in the same directory."""

    def __init__(self, install: RemoteInstall):
        self.install = install
        self.dir = Path(tempfile.mkdtemp(prefix="tbsshd", dir="/tmp"))
        os.chmod(self.dir, 0o755)  # sshd reads authorized_keys as the user (the client key stays 0600)
        self.port = free_port()
        self.host_key = self.dir / "host_ed25519"
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key))
        self.client_key = self.dir / "id_ed25519"
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.client_key))
        (self.dir / "authorized_keys").write_bytes(Path(f"{self.client_key}.pub").read_bytes())
        os.chmod(self.dir / "authorized_keys", 0o644)
        self.known_hosts = self.dir / "known_hosts"
        self.trust_current_key()
        self.config = self.dir / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\nPidFile {self.dir}/sshd.pid\n"
            f"AuthorizedKeysFile {self.dir}/authorized_keys\nStrictModes no\nUsePAM no\n"
            f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n"
            f"AllowUsers {REMOTE_USER}\nLogLevel VERBOSE\nPrintMotd no\nMaxStartups 100\nMaxSessions 100\n"
        )
        self.ssh_config = self.dir / "ssh_config"
        self.ssh_config.write_text(
            f"Host {HOST}\n  HostName 127.0.0.1\n  Port {self.port}\n  User {REMOTE_USER}\n"
            f"  IdentityFile {self.client_key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {self.known_hosts}\n"
            "  GlobalKnownHostsFile /dev/null\n"
        )
        self.proc: subprocess.Popen | None = None
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        self.start()

    def trust_current_key(self) -> None:
        pub = Path(f"{self.host_key}.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n")

    def start(self) -> None:
        assert self.proc is None
        log = open(self.dir / "sshd.log", "ab")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        log.close()

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        retry_until(listening, 10)

    def stop(self) -> None:
        """Stop sshd and every connection it serves (a host gone, not a listener gone)."""
        if self.proc is None:
            return
        kids = proctree.descendants(self.proc.pid)
        self.proc.kill()
        self.proc.wait()
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

    def freeze(self) -> list[int]:
        """SIGSTOP sshd and its connections: a live link that answers nothing. Returns the pids."""
        assert self.proc is not None
        pids = [self.proc.pid, *proctree.descendants(self.proc.pid)]
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    def thaw(self, pids: list[int]) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def new_host_key(self) -> None:
        """Restart with a new host key (known_hosts still has the old one)."""
        self.stop()
        for p in (self.host_key, Path(f"{self.host_key}.pub")):
            p.unlink()
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key))
        self.start()

    def client_config(self, command: Path | None = None, **extra) -> dict:
        """The local termbridge config's hosts entry for this server."""
        return {
            "command": str(command or self.install.command),
            "ssh": ["-F", str(self.ssh_config)],
            "connect_timeout_s": 3,
            **extra,
        }

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def write_config(path: Path, hosts: dict, **extra) -> None:
    """The local config: HOSTS, and quick back-off so a host that comes back is tried again soon."""
    import yaml

    cfg = {"hosts": hosts, "backoff_base_ms": 200, "backoff_max_ms": 1000, **extra}
    path.write_text(yaml.safe_dump(cfg))
