"""`termbridge top` in a real tmux pane, over real demo agents in real panes: what it shows,
what its keys do (and only they), and the pieces it is made of (layout, event tail)."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time

import pytest
from helpers import retry_until, tb, tb_json
from lab import TmuxLab

from termbridge import events, glance
from termbridge.top import View, render

pytestmark = pytest.mark.timeout(180)


class Top:
    """`termbridge top` running in its own pane of the lab server."""

    def __init__(self, lab, interval: float = 1.0):
        keep = ("TERMBRIDGE_HOME", "TERMBRIDGE_CONFIG", "TERMBRIDGE_TMUX_SOCKET", "TMUX_TMPDIR")
        env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in keep)
        self.lab = lab
        self.pane = lab.pane(f"exec env {env} {shlex.quote(sys.executable)} -m termbridge top --interval {interval}")
        self.pane_id = self.pane.pane_id
        lab.tmux("resize-window", "-t", self.pane_id, "-x", "160", "-y", "45")  # wide enough for every column
        retry_until(lambda: "termbridge top" in self.screen() and "reading" not in self.screen(), 20)

    def screen(self) -> str:
        return self.lab.tmux("capture-pane", "-p", "-t", self.pane_id)

    def line_of(self, name: str) -> str:
        """The session row of NAME (the selection marker or a space, then the name)."""
        for line in self.screen().splitlines():
            if line[1:].startswith(name + " "):
                return line
        return ""

    def cells(self, name: str) -> dict[str, str]:
        """NAME's row as {column title: text}, cut where the header's titles start."""
        lines = self.screen().splitlines()
        header = next((line for line in lines if line.startswith("NAME ")), "")
        row = self.line_of(name)
        if not header or not row:
            return {}
        titles = [(header.index(t), t) for t in ("NAME", "KIND", "HOST", "LANE", "TARGET", "SURFACE", "PEND",
                                                 "WAITER", "SUB/RCV LATEST", "REASON") if t in header]  # fmt: skip
        ends = [start for start, _ in titles[1:]] + [len(row) + 1]
        # The row has one more leading character (the selection marker) than the header.
        return {t: row[start + 1 : end + 1].strip() for (start, t), end in zip(titles, ends, strict=True)}

    def keys(self, *keys: str) -> None:
        for k in keys:
            self.lab.tmux("send-keys", "-t", self.pane_id, k)

    def type(self, text: str) -> None:
        self.lab.tmux("send-keys", "-t", self.pane_id, "-l", text)

    def footer(self) -> str:
        return "\n".join(self.screen().rstrip("\n").splitlines()[-3:])

    def until(self, fn, seconds: float = 10.0):
        """retry_until FN, failing with top's screen (what it showed is the clue)."""
        try:
            return retry_until(fn, seconds)
        except AssertionError as e:
            raise AssertionError(f"{e}; top shows:\n{self.screen()}") from None

    def running(self) -> bool:
        return self.pane_id in self.lab.tmux("list-panes", "-a", "-F", "#{pane_id}").split()


def _register(name, agent, kind="codex"):
    assert tb("register", name, "--pid", agent.pid, "--kind", kind).returncode == 0


def test_top_shows_every_session_with_its_surface_and_types_nothing(lab, sleeper):
    idle, dialog, busy = lab.agent("idle"), lab.agent("dialog"), lab.agent("busy")
    for name, agent in (("alpha", idle), ("bravo", dialog), ("charlie", busy)):
        _register(name, agent)
    gone = sleeper()
    tb("register", "delta", "--pid", gone.pid)
    gone.kill()
    gone.wait()
    assert tb("submit", "bravo", "/dialog").returncode == 0
    retry_until(lambda: "Would you like to run" in dialog.screen(), 10)
    assert tb("submit", "charlie", "/busy 120").returncode == 0
    retry_until(lambda: "esc to interrupt" in busy.screen(), 10)
    tb("send", "alpha", "stays queued while top runs", "--no-wake")
    tb("send", "bravo", "held by the dialog")
    top = Top(lab)

    def shows():
        a, b, c, d = (top.cells(n) for n in ("alpha", "bravo", "charlie", "delta"))
        return (
            a.get("KIND") == "codex"
            and (a.get("HOST"), a.get("LANE")) == ("local", "terminal")
            and (a.get("TARGET"), a.get("SURFACE"), a.get("PEND")) == (f"tmux:{idle.pane_id}", "idle", "1")
            and (b.get("SURFACE"), b.get("PEND")) == ("dialog", "1")
            and "permission dialog" in b.get("REASON", "")
            and b.get("WAITER", "").isdigit()  # its idle waiter's pid
            and c.get("SURFACE") == "working"
            and "esc to interrupt" in c.get("REASON", "")
            and d.get("SURFACE") == "dead"
        )

    top.until(shows, 20)
    assert "enqueued" in top.screen() and "waiter_started" in top.screen()  # the event stream
    # Several screen reads later, still nothing typed anywhere: top only looks.
    first = top.screen().splitlines()[0]
    top.until(lambda: top.screen().splitlines()[0] != first, 10)
    time.sleep(2.5)
    assert idle.submissions() == [] and dialog.submissions() == ["/dialog"] and busy.submissions() == ["/busy 120"]
    assert tb_json("status")["sessions"][0]["pending"] == 1
    top.keys("q")
    top.until(lambda: not top.running(), 10)


@pytest.fixture
def attached(lab, short_tmp):
    """A real client attached to the lab server (from a pane of an outer server)."""
    lab.pane("sleep 300")  # a session to attach to
    outer_dir = short_tmp / "outer"
    outer_dir.mkdir()
    outer = TmuxLab(outer_dir)
    outer.pane(f"TERM=screen tmux -S {shlex.quote(lab.socket)} attach -t lab")
    retry_until(lambda: lab.tmux("list-clients").strip(), 10)
    yield outer
    outer.kill()


def _client_pane(lab) -> str:
    return lab.tmux("list-clients", "-F", "#{pane_id}").strip()


def test_keys_drain_print_switch_and_quit(lab, attached):
    a, b = lab.agent("a"), lab.agent("b")
    _register("alpha", a)
    _register("bravo", b)
    tb("send", "alpha", "for alpha", "--no-wake")
    tb("send", "bravo", "for bravo", "--no-wake")
    top = Top(lab)
    lab.tmux("select-window", "-t", top.pane_id)
    top.until(lambda: _client_pane(lab) == top.pane_id, 10)
    top.until(lambda: top.cells("bravo").get("PEND") == "1", 10)

    # `/bravo` Enter keeps only bravo; `d` drains it -- once, into its pane only.
    top.keys("/")
    top.type("bravo")
    top.keys("Enter")
    top.until(lambda: top.line_of("bravo").startswith("▶") and not top.line_of("alpha"), 10)
    top.keys("d")
    top.until(lambda: "delivered 1 message(s) to bravo" in top.footer(), 20)
    assert len(b.submissions()) == 1 and "for bravo" in b.submissions()[0]
    top.keys("d")
    top.until(lambda: "nothing pending for bravo" in top.footer(), 10)
    assert len(b.submissions()) == 1 and a.submissions() == []

    # Esc clears the filter; `p` asks first, and anything but `y` takes nothing.
    top.keys("Escape")
    top.until(lambda: top.line_of("alpha"), 10)
    top.keys("/")
    top.type("alpha")
    top.keys("Enter")
    top.until(lambda: top.line_of("alpha").startswith("▶"), 10)
    top.keys("p")
    top.until(lambda: "y = yes" in top.footer(), 10)
    top.keys("n")
    top.until(lambda: "nothing taken" in top.footer(), 10)
    assert tb_json("status")["sessions"][0]["pending"] == 1
    top.keys("p")
    top.until(lambda: "y = yes" in top.footer(), 10)
    top.keys("y")
    top.until(lambda: "> for alpha" in top.screen() and "handed over" in top.screen(), 10)
    row = tb_json("status")["sessions"][0]
    assert row["name"] == "alpha" and row["pending"] == 0 and row["receipts"]["submitted"] == 1
    assert a.submissions() == []  # handed to the person at top, never typed into alpha's pane
    top.keys("q")  # closes the messages, not top
    top.until(lambda: "KIND" in top.screen(), 10)

    # `s` shows alpha's pane in the client that shows top.
    assert _client_pane(lab) == top.pane_id
    top.keys("s")
    top.until(lambda: _client_pane(lab) == a.pane_id, 10)
    assert "switched client" in top.footer()

    # `q` quits (top's pane is gone); nothing was typed anywhere but bravo's one drain.
    top.keys("q")
    top.until(lambda: not top.running(), 10)
    assert a.submissions() == [] and len(b.submissions()) == 1
    assert "›" in a.screen() and "for alpha" not in a.screen()


def test_switch_without_an_attached_client_says_so(lab):
    a = lab.agent("a")
    _register("alpha", a)
    top = Top(lab)
    top.keys("s")
    top.until(lambda: "no tmux client is attached" in top.footer(), 10)
    top.keys("q")
    top.until(lambda: not top.running(), 10)


def test_top_needs_a_terminal(home):
    p = tb("top")
    assert p.returncode == 2 and "top needs a terminal" in p.err


# ---------------------------------------------------------------- its pieces
def _row(name, **kw):
    row = {
        "name": name,
        "pid": 42,
        "kind": "codex",
        "alive": True,
        "liveness": "alive",
        "pending": 0,
        "in_flight": 0,
        "receipts": {"submitted": 0, "received": 0},
        "latest_receipts": [],
        "waiter": None,
        "target": "tmux:%1",
        "surface": "idle",
        "reason": "the composer is empty",
        "held_since": None,
    }
    row.update(kw)
    row["lane"], row["host"] = glance.lane_of(row), glance.host_of(row)
    return row


def test_lane_and_host_default_in_one_place_and_a_status_row_wins():
    assert (glance.lane_of({}), glance.host_of({})) == ("terminal", "local")
    assert (glance.lane_of({"lane": "native"}), glance.host_of({"host": "build-box"})) == ("native", "build-box")
    view = View(rows=[_row("x", lane="native", host="build-box"), _row("y")])
    text = "\n".join("".join(t for t, _ in line) for line in render(view, 160, 20, now=1000.0))
    assert "native" in text and "build-box" in text and "terminal" in text and "local" in text


def test_render_marks_a_held_dialog_past_the_limit_and_filters():
    now = 10_000.0
    rows = [
        _row("calm"),  # selected: drawn reversed as a whole
        _row("held", surface="dialog", reason="permission dialog: rm", pending=2, held_since=now - 45),
        _row("fresh", surface="dialog", reason="permission dialog: ls", pending=1, held_since=now - 5),
    ]
    view = View(rows=rows, attention_after_s=30)
    lines = render(view, 160, 24, now=now)
    assert all(sum(len(t) for t, _ in line) <= 160 for line in lines) and len(lines) == 24
    styles = {"".join(t for t, _ in line)[1:].split()[0]: [s for _, s in line] for line in lines[2:5]}
    assert "attention" in styles["held"] and "attention" not in styles["fresh"]
    assert "1 dialog(s) waiting for you" in "".join(t for t, _ in lines[0])
    view.filter = "ls"
    shown = ["".join(t for t, _ in line) for line in render(view, 160, 24, now=now)]
    assert any("fresh" in s for s in shown) and not any(s[1:].startswith("held ") for s in shown)


def test_event_tail_reads_only_what_is_new_across_a_rotation(home):
    tail = glance.EventTail(home)
    assert tail.poll() == []
    events.log_event(home, "first", "a")
    events.log_event(home, "second", "a")
    assert [e["event"] for e in tail.poll()] == ["first", "second"]
    assert tail.poll() == []
    events.log_event(home, "third", "a")  # appended to the file that is then rotated away
    live = events.log_path(home)
    os.replace(live, live + ".1")
    events.log_event(home, "fourth", "b")
    assert [e["event"] for e in tail.poll()] == ["third", "fourth"]
    with open(live, "ab") as f:
        f.write(json.dumps({"t": 1.0, "event": "half", "session": None}).encode()[:10])  # a write in progress
    assert tail.poll() == []
    assert [e["event"] for e in tail.events] == ["first", "second", "third", "fourth"]
