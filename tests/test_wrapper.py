"""`termbridge run`: the PTY fallback, end to end through a real pty pair."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

import pytest
from helpers import TB, retry_until, tb, tb_json
from lab import HERE, PY

pytestmark = pytest.mark.timeout(60)


class Term:
    """The user's terminal: a pty pair whose slave is the wrapper's stdin/stdout.

    RUNNER is the command that `run ARGV` is given to (the installed CLI unless a test says
    otherwise); ENV its environment (the test's own by default)."""

    def __init__(self, argv, rows=30, cols=100, runner=TB, env=None):
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.before = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(
            [*runner, "run", *argv],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            start_new_session=True,
            env=env,
        )
        self.out = b""

    def pump(self) -> None:
        """Take what the wrapper wrote to the terminal so far (waits up to 50 ms for some)."""
        r, _, _ = select.select([self.master], [], [], 0.05)
        if r:
            try:
                self.out += os.read(self.master, 65536)
            except OSError:
                pass

    def read(self, until: bytes, seconds: float = 10) -> bytes:
        def got():
            self.pump()
            return until in self.out

        retry_until(got, seconds, interval=0)
        return self.out

    def read_to_exit(self, seconds: float = 10) -> int:
        """Everything the wrapper writes until it exits; its exit status."""

        def exited():
            self.pump()  # read while waiting: a full pty would hold the wrapper's last writes
            return self.proc.poll() is not None

        retry_until(exited, seconds, interval=0)
        before = None
        while before != len(self.out):  # its last writes are in the pty already: take them all
            before = len(self.out)
            self.pump()
        return self.proc.returncode

    def type(self, data: bytes, slow: bool = False):
        if slow:
            for b in data:
                os.write(self.master, bytes([b]))
                time.sleep(0.02)
        else:
            os.write(self.master, data)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def term(home):
    terms = []

    def make(argv, **kw):
        t = Term(argv, **kw)
        terms.append(t)
        return t

    yield make
    for t in terms:
        t.close()


def test_keystrokes_submit_resize_and_exit_status(term):
    t = term(["--name", "w", "--", PY, str(HERE / "winch_child.py")])
    t.read(b"READY")
    assert b"SIZE 30x100" in t.out
    res = tb_json("resolve", "w")
    assert res["backend"] == "pty" and res["target"] == "pty:w"
    t.type(b"typed by the user\r")
    t.read(b"GOT [typed by the user]")
    assert tb("submit", "w", "sent by termbridge").returncode == 0
    t.read(b"GOT [sent by termbridge]")
    fcntl.ioctl(t.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
    t.proc.send_signal(signal.SIGWINCH)  # what the kernel sends the foreground group of a resized tty
    t.read(b"SIZE 40x132")
    t.type(b"exit 7\r")
    assert t.proc.wait(10) == 7
    assert termios.tcgetattr(t.slave) == t.before  # the user's terminal is restored


def test_raw_mode_tui_under_wrapper(term, home, short_tmp):
    log = short_tmp / "agent.log"
    t = term(["--name", "agent", "--kind", "codex", "--", PY, "-m", "termbridge.demo_agent", "--log", str(log)])
    t.read(b"for shortcuts")
    assert termios.tcgetattr(t.slave)[3] & termios.ICANON == 0  # the wrapper put the user's tty in raw mode
    assert tb("submit", "agent", "line one\nline two").returncode == 0
    retry_until(lambda: log.exists() and '"line one\\nline two"' in log.read_text())
    t.type(b"/quit", slow=True)
    time.sleep(0.2)
    t.type(b"\r")
    assert t.proc.wait(10) == 0
    assert termios.tcgetattr(t.slave) == t.before
    assert not (home / "pty" / "agent.json").exists() and not (home / "pty" / "agent.sock").exists()


def test_signal_exit_status_and_socket_mode(term, home):
    t = term(["--name", "s", "--", PY, str(HERE / "winch_child.py")])
    t.read(b"READY")
    assert os.stat(home / "pty" / "s.sock").st_mode & 0o777 == 0o600
    assert os.stat(home / "pty").st_mode & 0o777 == 0o700
    t.type(b"die\r")
    assert t.proc.wait(10) == 128 + signal.SIGTERM


def test_exec_failure_is_127(term):
    t = term(["--name", "nope", "--", "/nonexistent/program"])
    assert t.proc.wait(10) == 127


def test_wrapper_inside_tmux_wins_as_nearest(lab, home, short_tmp):
    log = short_tmp / "nested.log"
    pane = lab.pane(f"{PY} -m termbridge run --name nested -- {PY} -m termbridge.demo_agent --log {log}")
    retry_until(lambda: "›" in lab.tmux("capture-pane", "-p", "-t", pane.pane_id))
    res = tb_json("resolve", "nested")
    assert res["backend"] == "pty" and res["target"] == "pty:nested"
    assert tb("submit", "nested", "through the wrapper").returncode == 0
    retry_until(lambda: log.exists() and "through the wrapper" in log.read_text())


def test_duplicate_wrapper_name_refused(term):
    t = term(["--name", "dup", "--", PY, str(HERE / "winch_child.py")])
    t.read(b"READY")
    p = subprocess.run(
        [*TB, "run", "--name", "dup", "--", "true"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert p.returncode == 2 and "already runs" in p.stderr


def test_wrapper_judges_the_programs_screen_not_the_keys(term, home, short_tmp):
    """Under `termbridge run` the surface comes from the program's emulated screen: keys that edit
    nothing (ESC O A, arrows) are no draft; a bracketed paste and a half-typed line are."""
    from lab import read_submissions

    log = short_tmp / "agent.log"
    t = term(["--name", "cx", "--kind", "codex", "--", PY, "-m", "termbridge.demo_agent", "--log", str(log)])
    t.read(b"for shortcuts")

    def surface():
        return tb_json("status")["sessions"][0]["surface"]

    retry_until(lambda: surface() == "idle", 10)
    t.type(b"\x1bOA\x1b[A\x1b[B")  # application- and normal-mode arrows: the composer stays empty
    time.sleep(0.8)
    assert surface() == "idle"
    tb("send", "cx", "first", "--no-wake")
    assert tb("drain", "cx").returncode == 0
    retry_until(lambda: len(read_submissions(log)) == 1 and "first" in read_submissions(log)[0])
    retry_until(lambda: surface() == "idle", 10)
    t.type(b"\x1b[200~pasted by the person\x1b[201~")  # a bracketed paste from the person's terminal
    retry_until(lambda: surface() == "draft", 10)
    tb("send", "cx", "second", "--no-wake")
    assert tb("drain", "cx").returncode == 4 and tb("drain", "cx", "--force").returncode == 4
    t.type(b"\x15")  # Ctrl-U: the person clears it
    t.type(b"half-typ", slow=True)
    retry_until(lambda: surface() == "draft", 10)
    assert tb("drain", "cx").returncode == 4
    t.type(b"\x15")
    retry_until(lambda: surface() == "idle", 10)
    assert tb("drain", "cx").returncode == 0
    retry_until(lambda: len(read_submissions(log)) == 2)
    assert "second" in read_submissions(log)[1] and "pasted" not in read_submissions(log)[1]
