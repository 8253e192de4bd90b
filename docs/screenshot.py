"""Make docs/top.png and docs/statusline.png from a real terminal: kitty under Xvfb, attached
to a private tmux server where five demo agents work, wait and hold a dialog, with the
plugin's status line and `termbridge top` running. The pictures are read from Xvfb's own
framebuffer (-fbdir, an XWD file) and written as PNG with the standard library.

  python docs/screenshot.py        (needs tmux, kitty, Xvfb, xdotool)
"""

from __future__ import annotations

import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
TB = [PY, "-m", "termbridge"]
COLS, ROWS = 128, 34


def wait(fn, seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {fn}")


# ---------------------------------------------------------------- XWD -> PNG
def read_xwd(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, RGB rows) of a 24/32-bit ZPixmap XWD file (what Xvfb -fbdir keeps)."""
    data = path.read_bytes()
    h = struct.unpack(">25I", data[:100])
    header_size, width, height = h[0], h[4], h[5]
    byte_order, bpp, bytes_per_line, ncolors = h[7], h[11], h[12], h[19]
    if bpp != 32:
        raise SystemExit(f"unexpected {bpp} bits per pixel")
    start = header_size + 12 * ncolors
    rows = []
    for y in range(height):
        line = data[start + y * bytes_per_line : start + y * bytes_per_line + 4 * width]
        px = memoryview(line)
        if byte_order == 0:  # LSB first: B G R X
            rgb = bytearray(3 * width)
            rgb[0::3], rgb[1::3], rgb[2::3] = px[2::4], px[1::4], px[0::4]
        else:  # X R G B
            rgb = bytearray(3 * width)
            rgb[0::3], rgb[1::3], rgb[2::3] = px[1::4], px[2::4], px[3::4]
        rows.append(bytes(rgb))
    return width, height, rows


def write_png(path: Path, rows: list[bytes], width: int) -> None:
    """A true-colour PNG (filter 0 compresses a terminal's flat background best; a palette would
    lose the coloured words among the anti-aliasing shades)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\0" + r for r in rows)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def crop(rows: list[bytes], x: int, y: int, w: int, h: int) -> list[bytes]:
    return [r[3 * x : 3 * (x + w)] for r in rows[y : y + h]]


# ---------------------------------------------------------------- the scene
class Scene:
    def __init__(self, d: Path):
        self.d, self.sock = d, str(d / "tmux.sock")
        self.env = dict(
            os.environ,
            TERMBRIDGE_HOME=str(d / "home"),
            TERMBRIDGE_CONFIG=str(d / "config.yaml"),
            TERMBRIDGE_TMUX_SOCKET=self.sock,
            TMUX_TMPDIR=str(d),
        )
        for k in ("TMUX", "TMUX_PANE", "KITTY_LISTEN_ON", "LINES", "COLUMNS"):
            self.env.pop(k, None)
        (d / "config.yaml").write_text("attention_after_s: 5\n")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True, env=self.env).stdout

    def tb(self, *args: str) -> None:
        subprocess.run([*TB, *args], env=self.env, capture_output=True, timeout=60)

    def agent(self, name: str) -> str:
        log = self.d / f"{name}.log"
        cmd = f"exec {shlex.quote(PY)} -m termbridge.demo_agent --log {shlex.quote(str(log))} --title {name}"
        self.tmux("new-window", "-d", "-t", "team:", "-n", name, cmd)
        pane = self.tmux("display", "-p", "-t", f"team:{name}", "#{pane_id}").strip()
        wait(lambda: "›" in self.tmux("capture-pane", "-p", "-t", pane))
        pid = self.tmux("display", "-p", "-t", pane, "#{pane_pid}").strip()
        self.tb("register", name, "--pid", pid, "--kind", "codex")
        return pane

    def build(self) -> dict[str, str]:
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "team", "-n", "top", "-x", str(COLS), "-y", str(ROWS))
        self.tmux("set", "-g", "status-interval", "1")
        self.tmux("set", "-g", "status-right-length", "80")
        self.tmux("set", "-g", "status-right", " #{termbridge_pending}  #{termbridge_attention}  %H:%M ")
        self.tmux("set", "-g", "@termbridge-command", f"{shlex.quote(PY)} -m termbridge")
        self.tmux("set", "-g", "@termbridge-drain-on-focus", "off")
        self.tmux("run-shell", str(HERE.parent / "tmux-plugin" / "termbridge.tmux"))
        panes = {name: self.agent(name) for name in ("lead", "coder", "reviewer", "tester", "docs")}
        self.tb("send", "docs", "README section for top is in; please proofread", "--from", "lead")
        self.tb("send", "lead", "coder: tests pass on main", "--from", "coder")
        self.tb("submit", "coder", "/busy 600")
        self.tb("submit", "reviewer", "/dialog")
        self.tb("send", "reviewer", "PR 7 is ready for review", "--from", "coder")
        for ch in "fix the flaky waiter test":
            self.tmux("send-keys", "-t", panes["tester"], "-l", ch)
        self.tb("send", "tester", "the waiter test failed twice on CI", "--from", "lead")
        self.tb("send", "tester", "rerun with -p no:randomly", "--from", "coder")
        return panes


def main() -> None:
    for tool in ("tmux", "kitty", "Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed")
    d = Path(tempfile.mkdtemp(prefix="tbshot", dir="/tmp"))
    scene = Scene(d)
    procs: list[subprocess.Popen] = []
    try:
        panes = scene.build()
        top_cmd = f"exec {' '.join(map(shlex.quote, TB))} top"
        scene.tmux("respawn-pane", "-k", "-t", "team:top", top_cmd)
        fb = d / "fb"
        fb.mkdir()
        r, w = os.pipe()
        procs.append(subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-fbdir", str(fb),
                                       "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))  # fmt: skip
        os.close(w)
        with os.fdopen(r) as f:
            display = f.readline().strip()
        xenv = dict(scene.env, DISPLAY=f":{display}")
        kitty = [
            "kitty", "--config", "NONE", "-o", "linux_display_server=x11", "-o", "font_size=10",
            "-o", f"initial_window_width={COLS}c", "-o", f"initial_window_height={ROWS + 1}c",
            "-o", "remember_window_size=no", "-o", "window_padding_width=6", "-o", "cursor_blink_interval=0",
            "-o", "background=#1d1f21", "-o", "foreground=#d8dee9",
            "tmux", "-S", scene.sock, "attach", "-t", "team:top",
        ]  # fmt: skip
        procs.append(subprocess.Popen(kitty, env=xenv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(lambda: scene.tmux("list-clients").strip())
        top_pane = scene.tmux("display", "-p", "-t", "team:top", "#{pane_id}").strip()
        wait(lambda: "waiting for you" in scene.tmux("capture-pane", "-p", "-t", top_pane), 40)  # held > 5 s
        for _ in range(4):  # select tester (coder, docs, lead, reviewer, tester): reviewer's row shows in red
            scene.tmux("send-keys", "-t", top_pane, "j")
        time.sleep(2.5)
        geo = subprocess.run(["xdotool", "search", "--class", "kitty", "getwindowgeometry", "--shell"], env=xenv,
                             capture_output=True, text=True).stdout  # fmt: skip
        g = dict(line.split("=", 1) for line in geo.split() if "=" in line)
        x, y, w, h = (int(g[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
        width, height, rows = read_xwd(fb / "Xvfb_screen0")
        w, h = min(w, width - x), min(h, height - y)
        write_png(HERE / "top.png", crop(rows, x, y, w, h), w)
        # The status line over an agent's pane: its pending count and who waits at a dialog.
        scene.tmux("select-window", "-t", panes["tester"])
        wait(lambda: (HERE / "top.png").exists())
        time.sleep(3)
        _, _, rows = read_xwd(fb / "Xvfb_screen0")
        pad = 6  # window_padding_width
        cell_h = (h - 2 * pad) // (ROWS + 1)
        top_of_status = y + pad + ROWS * cell_h
        write_png(HERE / "statusline.png", crop(rows, x, top_of_status - 4, w, cell_h + 8), w)
        print(f"wrote {HERE / 'top.png'} and {HERE / 'statusline.png'}")
    finally:
        scene.tmux("kill-server")
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
