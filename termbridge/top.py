"""`termbridge top`: a live full-screen view of every session and the event stream (curses).

From the top: a title line; one row per session (name, kind, host, lane, target, surface,
pending, waiter, receipts, and why the surface is what it is); the selected session's
detail; the event stream, newest at the bottom; a line for prompts and what the last key
did; the keys.

Reading never types: a background thread reads the state directory, and each session's
screen once every INTERVAL seconds (one tmux call per session, one `list-panes` per
server); the event log is tailed four times a second (one lstat), and new events refresh
the file-backed figures at once. Keys act on the selected session, on the main thread,
between frames: `d` drains it (as `termbridge drain NAME`), `p` hands its messages over to
this view after a confirming `y` (as `drain NAME --print`: they count as delivered), `s`
or Enter switches a tmux client to its pane, `/` filters, `r` reads the screens now, `q`
quits.

The layout is computed as plain lines of (text, style) segments (`render`), so it is
tested without a terminal; curses only paints them.
"""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from termbridge import glance

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

# Screens cost one tmux call per session: every 3 s (procps top's own delay), 20 sessions cost
# about 1.7% of a core (bench/top.py). Files and the event log are read far more often.
SCREEN_INTERVAL_S = 3.0
TICK_S = 0.25  # how often keys and the event log are looked at
MIN_STATS_GAP_S = 0.3  # event bursts refresh the file-backed figures at most this often
EVENT_ROWS = 8  # the least the event stream gets when there are many sessions

COLUMNS = (  # title, width (0: the rest of the line)
    ("NAME", 14),
    ("KIND", 6),
    ("HOST", 6),
    ("LANE", 8),
    ("TARGET", 9),
    ("SURFACE", 8),
    ("PEND", 5),
    ("WAITER", 7),
    ("SUB/RCV LATEST", 18),
    ("REASON", 0),
)
# A narrow terminal drops columns in this order (the detail line still shows them for the
# selected session) until REASON has MIN_REASON characters.
DROP_ORDER = ("SUB/RCV LATEST", "HOST", "LANE", "WAITER", "KIND", "TARGET")
MIN_REASON = 24
KEYS_HELP = "↑↓ select  d drain  p print  s/⏎ switch pane  / filter  r refresh  q quit"

Segment = tuple[str, str]  # (text, style name)
Line = list[Segment]


# ---------------------------------------------------------------- state
@dataclass
class View:
    """Everything the screen shows; the keys change it, `render` draws it."""

    rows: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    selected: str | None = None
    filter: str = ""
    mode: str = "normal"  # normal | filter | confirm | overlay
    prompt: str = ""  # the filter being typed
    prompt_before: str = ""  # the filter before `/`, back on Esc
    confirm_name: str = ""  # the session whose messages `p` offers to hand over
    message: str = ""
    overlay_title: str = ""
    overlay: list[str] = field(default_factory=list)
    scroll: int = 0
    refreshed_at: float | None = None
    interval: float = SCREEN_INTERVAL_S
    attention_after_s: float = 30.0
    error: str = ""  # what the last key's action failed with
    read_error: str = ""  # what the last read of the state failed with

    def visible(self) -> list[dict]:
        """The rows the filter lets through."""
        f = self.filter.lower()
        if not f:
            return self.rows
        return [r for r in self.rows if any(f in str(r.get(k) or "").lower() for k in _FILTERED)]

    def current(self) -> dict | None:
        """The selected row (the first visible one when the selection is filtered away)."""
        rows = self.visible()
        for r in rows:
            if r["name"] == self.selected:
                return r
        if rows:
            self.selected = rows[0]["name"]
            return rows[0]
        return None

    def move(self, step: int) -> None:
        rows = self.visible()
        if not rows:
            return
        names = [r["name"] for r in rows]
        i = names.index(self.selected) if self.selected in names else 0
        self.selected = names[max(0, min(len(names) - 1, i + step))]


_FILTERED = ("name", "kind", "surface", "reason", "target", "lane", "host")


# ---------------------------------------------------------------- layout
def _clean(s: object) -> str:
    """One line, printable: control characters (from screens and event fields) become spaces."""
    return "".join(ch if ch.isprintable() else " " for ch in str(s))


def _fit(s: object, width: int) -> str:
    s = _clean(s)
    if width <= 0:
        return ""
    return s.ljust(width) if len(s) <= width else s[: width - 1] + "…"


def _receipts_cell(row: dict, now: float) -> str:
    """'3/2 received 12s': messages submitted / received, and the newest receipt's state and age."""
    rc = row.get("receipts") or {}
    latest = row.get("latest_receipts") or []
    head = f"{rc.get('submitted', 0)}/{rc.get('received', 0)}"
    if latest:
        head += f" {latest[0]['state']} {glance.ago(latest[0]['t'], now)}"
    return head


def _surface_style(row: dict, view: View, now: float) -> str:
    if row.get("error") or not row.get("alive"):
        return "dead"
    if row.get("held_since") is not None and now - row["held_since"] > view.attention_after_s:
        return "attention"
    return {"dialog": "dialog", "draft": "draft", "working": "working", "idle": "idle", "ours": "draft"}.get(
        row.get("surface") or "", "unknown"
    )


def row_cells(row: dict, now: float) -> list[str]:
    """The texts of one session row, column by column."""
    waiter = row.get("waiter")
    alive = row.get("alive")
    if row.get("error"):
        surface, reason = "refused", row["error"]
    else:
        surface = row.get("surface") or ("-" if alive else row.get("liveness") or "dead")
        reason = row.get("reason") or ""
        if row.get("held_since") is not None:
            reason = f"held {glance.ago(row['held_since'], now)}: {reason}"
    pending = row.get("pending")
    pend = "-" if pending is None else str(pending) + (f"+{row['in_flight']}" if row.get("in_flight") else "")
    return [
        row["name"],
        row.get("kind") or "-",
        row.get("host") or glance.HOST_DEFAULT,
        row.get("lane") or glance.LANE_DEFAULT,
        row.get("target") or "-",
        surface,
        pend,
        str(waiter["pid"]) if isinstance(waiter, dict) and waiter.get("pid") else "-",
        _receipts_cell(row, now),
        reason,
    ]


def _columns(width: int) -> list[int]:
    """Each column's width at WIDTH (0: dropped), REASON taking the rest."""
    widths = {title: w for title, w in COLUMNS}
    fixed = lambda: 1 + sum(w + 1 for w in widths.values() if w)  # noqa: E731 - the marker, columns, spaces
    for title in DROP_ORDER:
        if width - fixed() >= MIN_REASON:
            break
        widths[title] = 0
    return [w if title != "REASON" else max(width - fixed(), 0) for title, w in widths.items()]


def _cells_line(cells: list[str], widths: list[int]) -> str:
    return " ".join(_fit(c, w) for c, w in zip(cells, widths, strict=True) if w)


def _surface_span(widths: list[int]) -> tuple[int, int]:
    """Where the SURFACE column sits in a row's text (after the marker)."""
    i = [t for t, _ in COLUMNS].index("SURFACE")
    return 1 + sum(w + 1 for w in widths[:i] if w), widths[i]


def event_text(e: dict) -> str:
    """One event as a line: time, kind, session, its other fields."""
    t = time.strftime("%H:%M:%S", time.localtime(e.get("t", 0)))
    rest = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("t", "event", "session") and v is not None)
    return f"{t} {str(e.get('event')):<16} {str(e.get('session') or '-'):<14} {rest}"


def render(view: View, width: int, height: int, now: float | None = None) -> list[Line]:
    """The whole screen as HEIGHT lines of (text, style) segments, none wider than WIDTH."""
    now = time.time() if now is None else now
    width = max(width, 20)
    rows = view.visible()
    pending = sum(r.get("pending") or 0 for r in view.rows)
    need = sum(1 for r in view.rows if _surface_style(r, view, now) == "attention")
    when = time.strftime("%H:%M:%S", time.localtime(view.refreshed_at)) if view.refreshed_at else "reading…"
    title = (
        f" termbridge top · {len(view.rows)} session(s) · {pending} pending"
        + (f" · {need} dialog(s) waiting for you" if need else "")
        + (f" · filter /{view.filter}" if view.filter else "")
        + f" · screens every {view.interval:g}s · {when}"
    )
    lines: list[Line] = [[(_fit(title, width), "title")]]
    if view.mode == "overlay":
        lines.append([(_fit(view.overlay_title, width), "header")])
        wrapped = [p for t in view.overlay for p in (textwrap.wrap(t, width - 1, drop_whitespace=False) or [""])]
        view.scroll = min(view.scroll, max(len(wrapped) - 1, 0))
        body = wrapped[view.scroll : view.scroll + max(height - 3, 1)]
        lines += [[(_fit(t, width), "text")] for t in body]
        while len(lines) < height - 1:
            lines.append([("", "text")])
        lines.append([(_fit(" j/k scroll · q, Esc or Enter close", width), "keys")])
        return lines[:height]

    widths = _columns(width)
    lines.append([(_fit(_cells_line([t for t, _ in COLUMNS], widths), width), "header")])
    # Sessions first, leaving the events at least EVENT_ROWS lines (a small screen: half of it).
    room = max(1, min(len(rows), max(height - 7 - EVENT_ROWS, (height - 7) // 2)))
    cur = view.current()
    names = [r["name"] for r in rows]
    first = 0
    if cur is not None and cur["name"] in names:
        first = max(0, min(names.index(cur["name"]) - room + 1, len(rows) - room))
        first = min(first, names.index(cur["name"]))
    if not rows:
        lines.append([(_fit("  no sessions" + (" match the filter" if view.filter else " registered"), width), "dim")])
    for r in rows[first : first + room]:
        cells = row_cells(r, now)
        selected = cur is not None and r["name"] == cur["name"]
        marker = "▶" if selected else " "
        text = _fit(marker + _cells_line(cells, widths), width)
        if selected:
            lines.append([(text, "selected")])
            continue
        # The surface column carries the row's colour; the rest is plain.
        start, sw = _surface_span(widths)
        lines.append([(text[:start], "text"), (text[start : start + sw], _surface_style(r, view, now)),
                      (text[start + sw :], "text")])  # fmt: skip
    lines += [[(_fit(text, width), "dim")] for text in _detail(cur, now)]
    lines.append([(_fit("─ events " + "─" * width, width), "header")])
    room_ev = max(height - len(lines) - 2, 0)
    shown = [e for e in view.events if _event_matches(e, view)]
    for e in shown[-room_ev:] if room_ev else []:
        lines.append([(_fit(event_text(e), width), "event")])
    while len(lines) < height - 2:
        lines.append([("", "text")])
    if view.mode == "filter":
        status: Segment = (_fit(f"/{view.prompt}▏  (Enter keep · Esc cancel)", width), "prompt")
    elif view.mode == "confirm":
        status = (_fit(view.message, width), "prompt")
    else:
        note = view.error or view.read_error
        status = (_fit(note or view.message, width), "error" if note else "message")
    lines.append([status])
    lines.append([(_fit(" " + KEYS_HELP, width), "keys")])
    return lines[:height]


def _detail(row: dict | None, now: float) -> list[str]:
    """Two lines about the selected session: what and where it is and what it shows; its receipts."""
    if row is None:
        return ["", ""]
    first = [
        f" {row['name']}: {row.get('kind') or '-'} pid {row.get('pid')} {row.get('liveness') or ''}".rstrip(),
        f"{row.get('host') or glance.HOST_DEFAULT}, {row.get('lane') or glance.LANE_DEFAULT} lane, "
        f"{row.get('target') or 'no target'}",
    ]
    if row.get("lane_reason"):
        first.append(row["lane_reason"])
    if row.get("error"):
        first.append(f"refused: {row['error']}")
    elif row.get("surface"):
        first.append(f"{row['surface']}: {row.get('reason') or ''}")
    second = []
    if row.get("held_since") is not None:
        second.append(f"its dialog has held messages for {glance.ago(row['held_since'], now)}")
    rc = row.get("receipts") or {}
    second.append(f"{rc.get('submitted', 0)} submitted, {rc.get('received', 0)} received")
    latest = row.get("latest_receipts") or []
    if latest:
        second.append("newest: " + ", ".join(f"…{e['id'][-6:]} {e['state']} {glance.ago(e['t'], now)}" for e in latest))
    if row.get("dead_letters"):
        second.append(f"{row['dead_letters']} dead letter(s)")
    if row.get("failed_deliveries"):
        second.append(f"{row['failed_deliveries']} failed deliveries")
    waiter = row.get("waiter")
    if isinstance(waiter, dict) and waiter.get("pid"):
        second.append(f"idle waiter pid {waiter['pid']}")
    return [" · ".join(first), "   " + " · ".join(second)]


def _event_matches(e: dict, view: View) -> bool:
    if not view.filter:
        return True
    names = {r["name"] for r in view.visible()}
    return e.get("session") in names


# ---------------------------------------------------------------- keys
class Actions:
    """What the keys do to the world (the library calls); separate so tests can see the wiring."""

    def __init__(self, home: StrPath):
        self.home = home

    def drain(self, name: str) -> str:
        return glance.drain(self.home, name)

    def hand_over(self, name: str) -> tuple[int, str]:
        return glance.hand_over(self.home, name)

    def switch(self, name: str) -> str:
        return glance.switch_client(self.home, name)


def handle_key(
    view: View, key: str, actions: Actions, refresh: Callable[[], None], show: Callable[[str], None] | None = None
) -> bool:
    """Apply one key (a character, or a curses key name such as 'KEY_UP'); False means quit.
    SHOW puts a line on the screen at once, before an action that takes a moment."""
    show = show or (lambda _: None)
    from termbridge.errors import TermbridgeError

    if view.mode == "overlay":
        if key in ("q", "\x1b", "\n", "KEY_ENTER"):
            view.mode, view.overlay, view.scroll = "normal", [], 0
        elif key in ("j", "KEY_DOWN", " ", "KEY_NPAGE"):
            view.scroll = min(view.scroll + (10 if key in (" ", "KEY_NPAGE") else 1), max(len(view.overlay) - 1, 0))
        elif key in ("k", "KEY_UP", "KEY_PPAGE"):
            view.scroll = max(view.scroll - (10 if key == "KEY_PPAGE" else 1), 0)
        return True
    if view.mode == "filter":
        if key in ("\n", "KEY_ENTER"):
            view.mode = "normal"
        elif key == "\x1b":
            view.mode, view.filter = "normal", view.prompt_before
        elif key in ("KEY_BACKSPACE", "\x7f", "\b"):
            view.prompt = view.prompt[:-1]
            view.filter = view.prompt
        elif len(key) == 1 and key.isprintable():
            view.prompt += key
            view.filter = view.prompt
        return True
    if view.mode == "confirm":
        name, view.mode = view.confirm_name, "normal"  # the session named in the question, whatever moved since
        if key in ("y", "Y"):
            show(f"handing {name}'s messages over…")
            try:
                n, text = actions.hand_over(name)
            except Exception as e:  # noqa: BLE001 - the view says what failed and stays up
                view.error = f"print {name}: {e if isinstance(e, TermbridgeError) else f'{type(e).__name__}: {e}'}"
                return True
            refresh()
            if not n:
                view.message = f"nothing pending for {name}"
                return True
            view.mode = "overlay"
            view.overlay_title = f" {name}: {n} message(s) handed over to you (counted delivered, via print)"
            view.overlay = [_clean(t) for t in text.splitlines()]
            view.scroll = 0
        else:
            view.message = "print: cancelled, nothing taken"
        return True

    view.error = ""
    if key in ("q", "Q"):
        return False
    if key in ("j", "KEY_DOWN"):
        view.move(1)
    elif key in ("k", "KEY_UP"):
        view.move(-1)
    elif key == "KEY_NPAGE":
        view.move(10)
    elif key == "KEY_PPAGE":
        view.move(-10)
    elif key in ("g", "KEY_HOME"):
        view.move(-(10**6))
    elif key in ("G", "KEY_END"):
        view.move(10**6)
    elif key == "/":
        view.mode, view.prompt = "filter", view.filter
        view.prompt_before = view.filter
    elif key == "\x1b":
        view.filter = ""
    elif key == "r":
        refresh()
        view.message = "reading every screen now"
    elif key in ("d", "p", "s", "\n", "KEY_ENTER"):
        row = view.current()
        if row is None:
            view.message = "no session selected"
            return True
        name = row["name"]
        try:
            if key == "d":
                show(f"draining {name}…")
                view.message = f"drain {name}: {actions.drain(name)}"
                refresh()
            elif key == "p" and not row.get("pending"):
                view.message = f"print {name}: nothing pending"
            elif key == "p":
                pending = row["pending"]
                view.mode, view.confirm_name = "confirm", name
                view.message = (
                    f"Hand {name}'s {pending} pending message(s) over to this view? They leave the queue and count "
                    "as delivered. y = yes, any other key = no"
                )
            else:
                show(f"switching to {name}…")
                view.message = actions.switch(name)
        except TermbridgeError as e:
            view.error = f"{'drain' if key == 'd' else 'switch'} {name}: {e}"
        except Exception as e:  # noqa: BLE001 - the view says what failed and stays up
            view.error = f"{'drain' if key == 'd' else 'switch'} {name}: {type(e).__name__}: {e}"
    return True


# ---------------------------------------------------------------- the reader thread
class Reader(threading.Thread):
    """Reads the rows in the background: screens every INTERVAL, file-backed figures on demand."""

    def __init__(self, home: StrPath, cfg: dict, interval: float):
        super().__init__(daemon=True, name="termbridge-top-reader")
        self.home, self.cfg, self.interval = home, cfg, interval
        self.rows: list[dict] | None = None
        self.error = ""
        self.version = 0
        self.read_at: float | None = None
        self._wake = threading.Event()
        self._screens_now = False
        self._stopping = False

    def poke(self, screens: bool = False) -> None:
        """Read again now (SCREENS: the screens too, not only the files)."""
        self._screens_now = self._screens_now or screens
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def run(self) -> None:
        last_screens = -1e9
        while not self._stopping:
            screens = self._screens_now or time.monotonic() - last_screens >= self.interval
            self._screens_now = False
            try:
                rows = glance.collect_rows(self.home, self.cfg, screens=screens, previous=self.rows)
                self.rows, self.error = rows, ""
            except Exception as e:  # noqa: BLE001 - shown in the view; the next read tries again
                self.error = f"reading the state failed: {type(e).__name__}: {e}"
            if screens:
                last_screens = time.monotonic()
            self.read_at = time.time()
            self.version += 1
            wait = max(last_screens + self.interval - time.monotonic(), 0.0)
            self._wake.wait(wait)
            self._wake.clear()
            time.sleep(MIN_STATS_GAP_S if not self._stopping else 0)


# ---------------------------------------------------------------- curses
def run_top(home: StrPath, interval: float = SCREEN_INTERVAL_S) -> None:
    """Run the view in this terminal until `q`."""
    import curses
    import locale
    import os

    locale.setlocale(locale.LC_ALL, "")  # curses draws UTF-8 only with the locale set
    # ncurses prefers $LINES/$COLUMNS to the terminal's real size: an exported, stale pair
    # (shells export them; tmux panes inherit them) would draw 80x24 in any terminal.
    for var in ("LINES", "COLUMNS"):
        os.environ.pop(var, None)
    curses.wrapper(lambda scr: _main(scr, home, interval))


_STYLES = {  # style -> (foreground colour, attributes)
    "title": (None, "reverse"),
    "header": (None, "bold"),
    "selected": (None, "reverse"),
    "text": (None, ""),
    "dim": (None, "dim"),
    "event": (None, ""),
    "keys": (None, "dim"),
    "message": (None, "bold"),
    "prompt": ("yellow", "bold"),
    "error": ("red", "bold"),
    "idle": ("green", ""),
    "working": ("cyan", ""),
    "draft": ("yellow", ""),
    "dialog": ("magenta", "bold"),
    "attention": ("red", "bold"),
    "unknown": (None, "dim"),
    "dead": (None, "dim"),
}


def _attrs(curses) -> dict[str, int]:
    colours = {"red": curses.COLOR_RED, "green": curses.COLOR_GREEN, "yellow": curses.COLOR_YELLOW,
               "cyan": curses.COLOR_CYAN, "magenta": curses.COLOR_MAGENTA}  # fmt: skip
    has = curses.has_colors()
    if has:
        curses.start_color()
        try:
            curses.use_default_colors()
            bg = -1
        except curses.error:
            bg = curses.COLOR_BLACK
        for i, (_, c) in enumerate(colours.items(), 1):
            curses.init_pair(i, c, bg)
    pair = {name: i for i, name in enumerate(colours, 1)}
    flag = {"reverse": curses.A_REVERSE, "bold": curses.A_BOLD, "dim": curses.A_DIM, "": 0}
    return {name: flag[a] | (curses.color_pair(pair[fg]) if fg and has else 0) for name, (fg, a) in _STYLES.items()}


def _main(scr, home: StrPath, interval: float) -> None:
    import curses

    from termbridge.config import load_config
    from termbridge.errors import TermbridgeError

    cfg = load_config()
    try:
        curses.curs_set(0)
    except curses.error:
        pass
    curses.set_escdelay(25)  # Esc closes and cancels at once, not after curses' default second
    attrs = _attrs(curses)
    scr.timeout(int(TICK_S * 1000))
    view = View(interval=interval, attention_after_s=cfg["attention_after_s"])
    tail = glance.EventTail(home)
    reader = Reader(home, cfg, interval)
    reader.start()
    actions = Actions(home)
    seen = -1
    dirty = True
    try:
        while True:
            try:
                fresh = tail.poll()
            except (TermbridgeError, OSError) as e:  # e.g. a symlinked events.log: said, not fatal
                fresh, view.read_error = [], f"reading the event log failed: {e}"
            if fresh:
                view.events = list(tail.events)
                reader.poke()
                dirty = True
            if reader.version != seen:
                seen = reader.version
                if reader.rows is not None:
                    view.rows = reader.rows
                    view.refreshed_at = reader.read_at
                view.read_error = reader.error
                dirty = True
            if dirty:
                _paint(scr, render(view, *_size(scr)), attrs)
                dirty = False
            key = _read_key(scr)
            if key is None:
                continue
            dirty = True
            if key == "KEY_RESIZE":
                continue

            def show(line: str) -> None:
                view.message, view.error = line, ""
                _paint(scr, render(view, *_size(scr)), attrs)

            if not handle_key(view, key, actions, lambda: reader.poke(screens=True), show):
                return
    finally:
        reader.stop()


def _size(scr) -> tuple[int, int]:
    h, w = scr.getmaxyx()
    return w, h


def _read_key(scr) -> str | None:
    import curses

    try:
        k = scr.get_wch()
    except curses.error:
        return None  # the tick passed with no key
    if isinstance(k, int):
        return curses.keyname(k).decode("ascii", "replace")
    return k


def _paint(scr, lines: list[Line], attrs: dict[str, int]) -> None:
    import curses

    h, w = scr.getmaxyx()
    enc = scr.encoding or "utf-8"
    plain = enc.lower().replace("-", "") != "utf8"  # a non-UTF-8 terminal gets '?' for the glyphs
    scr.erase()
    for y, segs in enumerate(lines[:h]):
        x = 0
        for text, style in segs:
            room = w - x - (1 if y == h - 1 else 0)  # the bottom-right cell cannot be written
            if room <= 0:
                break
            t = text[:room]
            if plain:
                t = t.encode(enc, "replace").decode(enc)
            try:
                scr.addstr(y, x, t, attrs.get(style, 0))
            except curses.error:
                pass
            x += len(t)
    scr.noutrefresh()
    curses.doupdate()
