"""Test labs: isolated tmux servers (private sockets) running real agents in real panes."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import libtmux
from helpers import retry_until

from termbridge import proctree

HERE = Path(__file__).parent
PY = sys.executable


def read_submissions(log: Path) -> list[str]:
    """What the demo agent logged as submitted, in order."""
    if not log.exists():
        return []
    return [e["text"] for e in map(json.loads, log.read_text().splitlines()) if "text" in e]


def read_answers(log: Path) -> list[bool]:
    """How the demo agent's dialogs were answered (True: approved), in order."""
    if not log.exists():
        return []
    return [e["approved"] for e in map(json.loads, log.read_text().splitlines()) if "approved" in e]


class Agent:
    """The demo agent (a raw-mode TUI with Codex's Enter rule) running in a pane."""

    def __init__(self, lab: TmuxLab, pane, log: Path):
        self.lab, self.pane, self.log = lab, pane, log
        self.pane_id = pane.pane_id

    @property
    def pid(self) -> int:
        """The agent process (the deepest process of the pane)."""
        root = int(self.pane.pane_pid)
        kids = proctree.descendants(root)
        return kids[-1] if kids else root

    def submissions(self) -> list[str]:
        return read_submissions(self.log)

    def answers(self) -> list[bool]:
        return read_answers(self.log)

    def screen(self) -> str:
        return self.lab.tmux("capture-pane", "-p", "-t", self.pane_id)

    def wait_ready(self):
        retry_until(lambda: "›" in self.screen(), 15)
        return self

    def type_slowly(self, text: str, delay: float = 0.03):
        """Type like a human: one key at a time (no paste burst)."""
        for ch in text:
            self.lab.tmux("send-keys", "-t", self.pane_id, "-l", ch)
            time.sleep(delay)


class TmuxLab:
    """One tmux server on a private socket; killed and unlinked at the end."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.socket = str(self.dir / "tmux.sock")
        self.server = libtmux.Server(socket_path=self.socket, config_file="/dev/null")
        self.session = None
        self.n = 0

    def env(self, **extra) -> dict:
        env = os.environ.copy()
        env["TERMBRIDGE_TMUX_SOCKET"] = self.socket
        env.update(extra)
        return env

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, timeout=10).stdout

    def pane(self, command: str):
        """A new pane running COMMAND (via sh -c), width 160 x 45."""
        if self.session is None:
            self.session = self.server.new_session(session_name="lab", window_command=command, x=160, y=45)
            return self.session.active_window.active_pane
        return self.session.new_window(window_shell=command).active_pane

    def agent(self, title: str = "agent", work: float = 0.0, exec_: bool = True, swallow: int = 0) -> Agent:
        self.n += 1
        log = self.dir / f"agent{self.n}.log"
        cmd = (
            f"{shlex.quote(PY)} -m termbridge.demo_agent --log {shlex.quote(str(log))} --title {title} --work {work}"
            f" --swallow {swallow}"
        )
        pane = self.pane(("exec " if exec_ else "") + cmd + ("" if exec_ else "; sleep 60"))
        return Agent(self, pane, log).wait_ready()

    def kill(self):
        try:
            self.server.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass
        try:
            os.unlink(self.socket)  # tmux does not always unlink its socket
        except FileNotFoundError:
            pass
