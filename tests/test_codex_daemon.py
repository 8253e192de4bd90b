"""Which Codex TUI a hook of Codex's daemon runs for (termbridge/agents.py), with real processes and
real unix sockets, no Codex needed: a copy of `yes` named `codex` stands in for each process
(`codex app-server -- --managed-daemon` holding the control socket and its accepted connections,
`codex` TUIs holding the client ends, each in its own cwd; their stdout is a pipe nobody reads,
so they sit blocked). The real daemon is in tests/test_real_agents_hooks.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from helpers import retry_until

from termbridge import agents, proctree


def thread_id(at: float | None = None) -> str:
    """A UUIDv7 made at AT (default now), as Codex's thread ids are."""
    ms = int((time.time() if at is None else at) * 1000)
    raw = ms.to_bytes(6, "big") + os.urandom(10)
    return str(uuid.UUID(bytes=raw))


class Fake:
    """A daemon on a control socket and its client TUIs, all real processes named codex."""

    def __init__(self, tmp):
        self.tmp = tmp
        (tmp / "bin").mkdir()
        self.exe = str(tmp / "bin" / "codex")
        shutil.copy(shutil.which("yes") or "/usr/bin/yes", self.exe)
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(tmp / "ctl.sock"))
        self.listener.listen(8)
        self.procs: list[subprocess.Popen] = []
        self.server_ends: list[socket.socket] = []
        self.daemon: subprocess.Popen | None = None

    def _spawn(self, argv, cwd, fds) -> subprocess.Popen:
        p = subprocess.Popen(argv, cwd=cwd, pass_fds=[f.fileno() for f in fds], stdout=subprocess.PIPE)
        self.procs.append(p)
        # Popen returns once exec began; /proc shows the new argv a moment later.
        retry_until(lambda: proctree.cmdline(p.pid) == [str(a) for a in argv], 5, 0.005)
        return p

    def tui(self, cwd, *args: str) -> int:
        """A TUI connected to the control socket (started before the daemon holds the accepted end)."""
        c = socket.socket(socket.AF_UNIX)
        c.connect(str(self.tmp / "ctl.sock"))
        conn, _ = self.listener.accept()
        self.server_ends.append(conn)
        p = self._spawn([self.exe, *args], cwd, [c])
        c.close()
        return p.pid

    def stranger(self, cwd) -> int:
        """A codex process in CWD connected to some other socket, not to the daemon."""
        a, b = socket.socketpair()
        p = self._spawn([self.exe], cwd, [a])
        a.close()
        self.server_ends.append(b)
        return p.pid

    def start_daemon(self) -> int:
        """The daemon takes the listener and every accepted connection."""
        self.daemon = self._spawn(
            [self.exe, "app-server", "--", "--managed-daemon"], self.tmp, [self.listener, *self.server_ends]
        )
        return self.daemon.pid

    def child(self, cwd) -> int:
        """A process the daemon started (an MCP server), in CWD."""
        return self._spawn([self.exe, "mcp"], cwd, []).pid

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        for s in [self.listener, *self.server_ends]:
            s.close()


@pytest.fixture
def fake(short_tmp):
    f = Fake(short_tmp)
    yield f
    f.close()


def dirs(short_tmp, *names):
    out = []
    for n in names:
        (short_tmp / n).mkdir()
        out.append(str(short_tmp / n))
    return out


def test_the_daemons_clients_are_found_through_the_kernels_socket_table(fake, short_tmp):
    a, b = dirs(short_tmp, "a", "b")
    one, two = fake.tui(a), fake.tui(b)
    fake.stranger(a)
    daemon = fake.start_daemon()
    assert agents.is_codex_daemon(daemon) and not agents.is_codex_daemon(one)
    assert agents.daemon_clients(daemon) == sorted([one, two])  # not the stranger, not itself


def test_one_client_in_the_threads_directory_is_its_tui(fake, short_tmp):
    a, b = dirs(short_tmp, "a", "b")
    one, two = fake.tui(a), fake.tui(b)
    daemon = fake.start_daemon()
    t = thread_id()
    assert agents.codex_tui(daemon, {"session_id": t, "cwd": a}) == one  # no source needed
    assert agents.codex_tui(daemon, {"session_id": t, "cwd": b + "/"}) == two
    assert agents.codex_tui(daemon, {"session_id": t, "cwd": str(short_tmp)}) is None  # no client there
    assert agents.codex_tui(daemon, {"session_id": "not-a-thread", "cwd": a}) is None
    assert agents.codex_tui(daemon, {"cwd": a}) is None


def test_several_clients_in_one_directory(fake, short_tmp):
    (a,) = dirs(short_tmp, "a")
    first = fake.tui(a)
    time.sleep(0.3)
    made_by_first = thread_id()  # the first TUI's start-up thread
    time.sleep(0.3)
    second = fake.tui(a)
    time.sleep(0.3)
    made_by_second = thread_id()
    time.sleep(0.3)
    resumed = thread_id(time.time() - 3600)
    third = fake.tui(a, "resume", resumed)
    daemon = fake.start_daemon()
    start = {"cwd": a, "source": "startup"}
    assert agents.codex_tui(daemon, {**start, "session_id": made_by_first}) == first
    assert agents.codex_tui(daemon, {**start, "session_id": made_by_second}) == second
    assert agents.codex_tui(daemon, {"cwd": a, "source": "resume", "session_id": resumed}) == third
    # Later hooks of a thread carry no source: only a session bound to its record tells them apart.
    later = {"cwd": a, "session_id": made_by_second, "transcript_path": "/r/second.jsonl"}
    assert agents.codex_tui(daemon, later) is None  # never a guess
    bound = {first: "/r/first.jsonl", second: "/r/second.jsonl"}
    assert agents.codex_tui(daemon, later, bound.get) == second
    assert agents.codex_tui(daemon, {**later, "transcript_path": "/r/other.jsonl"}, bound.get) is None
    assert agents.codex_tui(daemon, {**start, "source": "clear", "session_id": thread_id()}) is None


def test_a_child_of_the_daemon_belongs_to_the_newest_tui_started_before_it(fake, short_tmp):
    a, b = dirs(short_tmp, "a", "b")
    first = fake.tui(a)
    time.sleep(0.3)
    second = fake.tui(a)
    elsewhere = fake.tui(b)
    daemon = fake.start_daemon()
    time.sleep(0.3)
    assert agents.codex_tui_of_child(daemon, fake.child(a)) == second
    assert agents.codex_tui_of_child(daemon, fake.child(b)) == elsewhere
    assert first != second
