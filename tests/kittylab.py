"""A real kitty under Xvfb with remote control on a private socket (skips, saying why, where impossible)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from termbridge.errors import KittyError
from termbridge.kitty_rc import KittyClient


def _start_xvfb() -> tuple[subprocess.Popen, int]:
    """Xvfb on a display it picks itself (-displayfd): no races, no stale-lock guessing."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(w,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(w)
    with os.fdopen(r) as f:
        line = f.readline().strip()
    if not line.isdigit():
        proc.kill()
        proc.wait()
        pytest.skip("Xvfb did not start here")
    return proc, int(line)


class KittyLab:
    def __init__(self, directory: Path, argv: list[str], extra_opts: list[str] | None = None):
        missing = [b for b in ("kitty", "Xvfb") if shutil.which(b) is None]
        if missing:
            pytest.skip(
                f"real kitty tests need {' and '.join(missing)} (apt-get install kitty xvfb libgl1-mesa-dri xauth)"
            )
        self.dir = Path(directory)
        self.xvfb, self.display = _start_xvfb()
        self.address = f"unix:{self.dir}/kitty.sock"
        env = {
            k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "KITTY_LISTEN_ON", "KITTY_WINDOW_ID")
        }
        env["DISPLAY"] = f":{self.display}"
        self.env = env
        self.proc = subprocess.Popen(
            [
                "kitty",
                "--config",
                str(self.dir / "kitty.conf") if (self.dir / "kitty.conf").exists() else "NONE",
                "-o",
                "allow_remote_control=socket-only",
                "-o",
                "linux_display_server=x11",
                *(extra_opts or []),
                "--listen-on",
                self.address,
                *argv,
            ],
            env=env,
            stdout=open(self.dir / "kitty.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.client = KittyClient(self.address)
        deadline = time.monotonic() + 20
        while True:  # the socket answers after ~1-1.5 s
            try:
                if self.windows():
                    break
            except KittyError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                log = (self.dir / "kitty.log").read_text(errors="replace")[-500:]
                self.close()
                pytest.skip(f"kitty did not start under Xvfb here: {log}")
            time.sleep(0.2)

    def windows(self) -> list[dict]:
        return [w for osw in self.client.ls() for t in osw["tabs"] for w in t["windows"]]

    def launch(self, argv: list[str]) -> int:
        """A new window running ARGV (kitty forks it: find it through ls)."""
        return int(self.client.command("launch", {"args": argv, "type": "window", "keep_focus": True}))

    def close(self):
        proc = getattr(self, "proc", None)
        if proc and proc.poll() is None:
            try:
                os.killpg(proc.pid, 9)  # kitty and the programs in its windows
            except ProcessLookupError:
                pass
            proc.wait()
        if self.xvfb.poll() is None:
            self.xvfb.terminate()  # SIGTERM: Xvfb removes its lock file and socket
            try:
                self.xvfb.wait(10)
            except subprocess.TimeoutExpired:
                self.xvfb.kill()
                self.xvfb.wait()


def agent_kitty(directory: Path, monkeypatch) -> KittyLab:
    """A real kitty whose first window runs the demo agent (submissions logged to .log)."""
    from lab import PY

    log = Path(directory) / "agent.log"
    k = KittyLab(directory, [PY, "-m", "termbridge.demo_agent", "--log", str(log), "--title", "kitty-agent"])
    k.log = log
    monkeypatch.setenv("TERMBRIDGE_KITTY_SOCKET", k.address)
    return k
