"""The PTY wrapper's picture of its program's screen: a pyte VT emulator, rendered the way
`tmux capture-pane -e` renders a pane, so one surface reader judges both.

pyte (a well-kept pure-Python VT emulator) parses only part of what today's programs write:
it applies `CSI > 4;2 m` (xterm's modifyOtherKeys) as underline + faint, raises on
`CSI > 4;? m` (Gemini CLI's start-up), draws the inside of DCS/APC strings and colon-form
SGR as text, and stops drawing a run of text at a zero-width character. So the program's
output first goes through `Sequences`, an ECMA-48 tokenizer that hands pyte only what it
renders correctly, and ignores the rest as a VT does. pyte keeps colours but not SGR 2
(faint), which is how placeholders are drawn; `FaintScreen` adds it as one more cell attribute.

Should the emulator still fail on some input, `Emulator.feed` starts over: a fresh screen
whose every cell is marked stale, read as an empty screen (the surface `unknown`) until
the program has redrawn every cell -- never a half-known screen that could read as idle.
"""

from __future__ import annotations

import codecs
import re
import threading
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import pyte
from wcwidth import wcwidth


class FChar(NamedTuple):
    """pyte's Char plus `faint` (SGR 2) and `stale` (drawn before the emulator started over)."""

    data: str
    fg: str = "default"
    bg: str = "default"
    bold: bool = False
    italics: bool = False
    underscore: bool = False
    strikethrough: bool = False
    reverse: bool = False
    blink: bool = False
    faint: bool = False
    stale: bool = False


_STALE = FChar(data=" ", stale=True)


@lru_cache(maxsize=4096)
def _no_advance(ch: str) -> bool:
    """CH takes no cell and is no combining mark (ZWJ, VS16, a Hangul medial...): pyte's draw
    would stop drawing the rest of its run there."""
    width = wcwidth(ch)
    return width < 0 or (width == 0 and not unicodedata.combining(ch))


class FaintScreen(pyte.Screen):
    """A pyte screen whose cells also remember SGR 2 (faint)."""

    @property
    def default_char(self) -> FChar:  # type: ignore[override]
        return FChar(data=" ", reverse=pyte.modes.DECSCNM in self.mode)

    def reset(self) -> None:
        super().reset()
        self.cursor.attrs = self.default_char  # type: ignore[assignment]  # an FChar: see select_graphic_rendition

    def mark_stale(self) -> None:
        """Every cell: unknown (what the real terminal shows there predates this screen)."""
        for y in range(self.lines):
            row = self.buffer[y]
            for x in range(self.columns):
                row[x] = _STALE  # type: ignore[assignment]

    def draw(self, data: str) -> None:
        if not (data.isascii() and data.isprintable()):
            start = 0
            for i, ch in enumerate(data):
                if _no_advance(ch):
                    if i > start:
                        super().draw(data[start:i])
                    self._join_previous(ch)
                    start = i + 1
            data = data[start:]
        if data:
            super().draw(data)

    def _join_previous(self, ch: str) -> None:
        """A zero-width CH joins the cell before the cursor, as tmux keeps it; unprintables vanish."""
        if wcwidth(ch) < 0:
            return
        x, y = self.cursor.x - 1, self.cursor.y
        if x < 0:
            if y == 0:
                return
            x, y = self.columns - 1, y - 1
        row = self.buffer[y]
        if row[x].data == "" and x > 0:  # the right half of a wide character
            x -= 1
        row[x] = row[x]._replace(data=row[x].data + ch)

    def select_graphic_rendition(self, *attrs: int, **kwargs) -> None:
        if kwargs.get("private"):
            return  # `CSI ? … m` is no SGR (xterm's key-modifier query): a VT changes no attribute
        faint = bool(getattr(self.cursor.attrs, "faint", False))
        seq = list(attrs) or [0]
        i = 0
        while i < len(seq):  # read as a sequence: the 2 in 38;2;r;g;b is a colour mode, not faint
            a = seq[i]
            if a in (38, 48, 58) and i + 1 < len(seq):
                i += 3 if seq[i + 1] == 5 else 5 if seq[i + 1] == 2 else 1
                continue
            if a == 0:
                faint = False
            elif a == 2:
                faint = True
            elif a == 22:
                faint = False
            i += 1
        super().select_graphic_rendition(*attrs)
        cur = self.cursor.attrs
        fattrs = cur if isinstance(cur, FChar) else FChar(*cur)
        # FChar is pyte's Char plus fields; a NamedTuple cannot subclass another, so for mypy it is no Char.
        self.cursor.attrs = fattrs._replace(faint=faint, stale=False)  # type: ignore[assignment]


# ---------------------------------------------------------------- the tokenizer in front of pyte
_MAX_PARAMS = 64  # a longer CSI is ignored, as xterm and tmux ignore one past their limits
_MAX_PARAM_CHARS = 512
_ESC, _CAN, _SUB = "\x1b", "\x18", "\x1a"
_EXECUTED = "\x07\x08\t\n\x0b\x0c\r"  # C0 controls a VT acts on (pyte ignores SO/SI in UTF-8)
_TEXT = re.compile(r"[^\x00-\x06\x0e-\x1f\x7f-\x9f]+")  # printable text and the executed controls
_CSI = re.compile(r"\[([0-?]*)([ -/]*)([@-~])")  # a whole CSI after its ESC (the common case)
_STRING_END = re.compile(r"[\x07\x18\x1a\x1b\x9c]")
_STRINGS = "]PX^_"  # OSC, DCS, SOS, PM, APC: their contents are never drawn
# The finals pyte renders, with how many parameters its method takes (a VT ignores the rest; pyte
# raises). Reports (DA, DSR) change nothing on screen: the real terminal answers them.
_PYTE_CSI = {f: 1 for f in "@ABCDEFGJKLMPXadeg"} | {"H": 2, "f": 2, "r": 2, "h": _MAX_PARAMS, "l": _MAX_PARAMS}
_PYTE_ESC = {"c", "D", "E", "H", "M", "7", "8", "#8"}
_DEC_MODES_IGNORED = {3}  # DECCOLM: pyte would resize to 132 columns; xterm ignores it by default
_GROUND, _ESCAPE, _CSI_STATE, _STRING, _STRING_ESC = range(5)


def _number(field: str) -> int:
    digits = field.lstrip("0")
    return 9999 if len(digits) > 4 else int(digits or 0)  # int() of a 5000-digit string raises


def _sgr(params: str) -> str | None:
    """SGR parameters pyte reads right: colon forms as semicolons, underline colour (58) dropped."""
    fields: list[str] = []
    for group in params.split(";"):
        if ":" not in group:
            fields.append(group)
            continue
        sub = group.split(":")
        if sub[0] in ("38", "48") and len(sub) >= 3 and sub[1] == "5":
            fields += [sub[0], "5", sub[2]]
        elif sub[0] in ("38", "48") and len(sub) >= 5 and sub[1] == "2":
            fields += [sub[0], "2", *(sub[2:5] if len(sub) == 5 else sub[3:6])]  # with or without a colour space
        elif sub[0] == "4":
            fields.append("24" if sub[1] in ("", "0") else "4")  # 4:0 is no underline, 4:1..5 a style of it
    out: list[str] = []
    i = 0
    while i < len(fields):
        a = fields[i]
        span = 1
        if a in ("38", "48", "58") and i + 1 < len(fields):
            span = 3 if fields[i + 1] == "5" else 5 if fields[i + 1] == "2" else 1
        if a != "58":
            out += fields[i : i + span]
        i += span
    if len(out) > _MAX_PARAMS:
        return None
    return ";".join(str(_number(f)) if f else "" for f in out)


def csi_for_pyte(params: str, inter: str, final: str) -> str:
    """The CSI to hand pyte for `CSI PARAMS INTER FINAL`, or '' when a VT would change nothing
    pyte can show (or pyte would get it wrong)."""
    if inter or len(params) > _MAX_PARAM_CHARS:
        return ""
    marker = ""
    if params[:1] in ("<", "=", ">", "?"):
        marker, params = params[0], params[1:]
    if any(c in "<=>?" for c in params):
        return ""  # a marker past the first position: malformed, ignored
    if final == "m" and not marker:
        sgr = _sgr(params)
        return "" if sgr is None else f"\x1b[{sgr}m"
    if ":" in params:
        return ""
    fields = params.split(";") if params else []
    if len(fields) > _MAX_PARAMS:
        return ""
    nums = [_number(f) for f in fields]
    if marker == "?" and final in "hl":
        modes = [n for n in nums if n not in _DEC_MODES_IGNORED]
        return f"\x1b[?{';'.join(map(str, modes))}{final}" if modes else ""
    if marker == "?" and final in "JK":
        marker = ""  # selective erase: with no protected cells, the plain erase
    if marker or final not in _PYTE_CSI:
        return ""
    if (final == "J" and nums[:1] and nums[0] > 3) or (final == "K" and nums[:1] and nums[0] > 2):
        return ""  # pyte raises on these; a VT ignores them
    kept = [str(n) if f else "" for n, f in zip(nums, fields, strict=True)][: _PYTE_CSI[final]]
    return f"\x1b[{';'.join(kept)}{final}"


class Sequences:
    """An ECMA-48 tokenizer (the DEC/vt100.net state machine, on decoded text): program output
    in, only the text and sequences pyte renders right out. Keeps its state across chunks."""

    def __init__(self) -> None:
        self.state = _GROUND
        self.inter = ""  # intermediates of the ESC or CSI being read
        self.params = ""  # parameters of the CSI being read
        self.bad = False  # the CSI being read is malformed: consumed, then ignored

    def feed(self, text: str) -> str:
        """The part of TEXT (the next chunk of output) to hand pyte."""
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            state = self.state
            if state == _GROUND:
                m = _TEXT.match(text, i)
                if m:
                    out.append(m.group())
                    i = m.end()
                    continue
                if text[i] == _ESC:
                    m = _CSI.match(text, i + 1)
                    if m:  # the whole CSI is here: no character-by-character walk
                        out.append(csi_for_pyte(*m.groups()))
                        i = m.end()
                        continue
                    self.state, self.inter = _ESCAPE, ""
                i += 1  # other C0 and C1 controls, NUL, DEL: nothing a VT draws
                continue
            if state in (_STRING, _STRING_ESC):
                if state == _STRING:
                    m = _STRING_END.search(text, i)
                    if m is None:
                        return "".join(out)  # the rest of this chunk is inside the string
                    i = m.start()
                c = text[i]
                if state == _STRING_ESC:
                    if c == "\\":
                        self.state = _GROUND
                        i += 1
                    else:
                        self.state, self.inter = _ESCAPE, ""  # ESC ended the string and starts a sequence
                elif c == _ESC:
                    self.state = _STRING_ESC
                    i += 1
                else:  # BEL, ST, CAN, SUB
                    self.state = _GROUND
                    i += 1
                continue
            c = text[i]
            if c in (_CAN, _SUB):
                self.state = _GROUND
            elif c == _ESC:
                self.state, self.inter = _ESCAPE, ""
            elif c < " ":
                if c in _EXECUTED:
                    out.append(c)  # a control inside a sequence acts at once; the sequence goes on
            elif c == "\x7f":
                pass
            elif c > "\x7f":
                self.state = _GROUND  # not part of any sequence: the sequence ends, C is read as text
                continue
            elif state == _ESCAPE:
                if c in " !\"#$%&'()*+,-./":
                    self.inter = (self.inter + c)[:8]
                elif c == "[" and not self.inter:
                    self.state, self.params, self.inter, self.bad = _CSI_STATE, "", "", False
                elif c in _STRINGS and not self.inter:
                    self.state = _STRING
                else:
                    if self.inter + c in _PYTE_ESC:
                        out.append(_ESC + self.inter + c)
                    self.state = _GROUND
            else:  # _CSI_STATE
                if c <= "?":  # 0x20-0x3F
                    if c >= "0":
                        if self.inter:
                            self.bad = True
                        elif len(self.params) < _MAX_PARAM_CHARS:
                            self.params += c
                        else:
                            self.bad = True
                    else:
                        self.inter = (self.inter + c)[:8]
                else:
                    if not self.bad:
                        out.append(csi_for_pyte(self.params, self.inter, c))
                    self.state = _GROUND
            i += 1
        return "".join(out)


# ---------------------------------------------------------------- the emulator
_NAMED = {"black": 0, "red": 1, "green": 2, "brown": 3, "blue": 4, "magenta": 5, "cyan": 6, "white": 7}
_FLAGS = (("bold", "1"), ("faint", "2"), ("italics", "3"), ("underscore", "4"), ("blink", "5"), ("reverse", "7"))


def _color_sgr(color: str, base: int) -> str | None:
    """pyte's COLOR as SGR parameters (BASE 30: foreground, 40: background); None for the default."""
    if color in _NAMED:
        return str(base + _NAMED[color])
    if color.startswith("bright") and color[6:] in _NAMED:
        return str(base + 60 + _NAMED[color[6:]])
    if len(color) == 6:
        try:
            return f"{base + 8};2;" + ";".join(str(int(color[k : k + 2], 16)) for k in (0, 2, 4))
        except ValueError:
            pass
    return None  # "default", or a name pyte misspells


def _sgr_of(c) -> str:
    """The whole pen of cell C as one SGR sequence from a reset ('' for the default pen)."""
    parts = [p for p in (_color_sgr(c.fg, 30), _color_sgr(c.bg, 40)) if p]
    parts += [code for name, code in _FLAGS if getattr(c, name, False)]
    if c.strikethrough:
        parts.append("9")
    return f"\x1b[0;{';'.join(parts)}m" if parts else ""


class Emulator:
    """Bytes from the program in; plain and styled lines and the cursor out. Thread-safe."""

    def __init__(self, columns: int = 80, lines: int = 24):
        self.lock = threading.Lock()
        self.rebuilding = False  # started over after a failure: some cells are not known yet
        self._fresh(columns, lines)

    def _fresh(self, columns: int, lines: int) -> None:
        self.screen = FaintScreen(columns, lines)
        self.stream = pyte.Stream(self.screen)
        self.sequences = Sequences()
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, data: bytes) -> Exception | None:
        """Apply the program's output DATA. On an emulator failure, start over (every cell stale,
        the screen read as empty until redrawn) and return the error; never raises for DATA."""
        with self.lock:
            try:
                self.stream.feed(self.sequences.feed(self.decoder.decode(data)))
                return None
            except Exception as e:  # noqa: BLE001 - any emulator bug: the wrapper must go on
                self._start_over(self.screen.columns, self.screen.lines)
                return e

    def resize(self, columns: int, lines: int) -> Exception | None:
        """The user's terminal is now COLUMNS x LINES; on a failure, start over at that size (as feed)."""
        with self.lock:
            try:
                self.screen.resize(lines, columns)
                return None
            except Exception as e:  # noqa: BLE001 - as in feed
                self._start_over(columns, lines)
                return e

    def _start_over(self, columns: int, lines: int) -> None:
        self._fresh(columns, lines)
        self.screen.mark_stale()
        self.rebuilding = True

    def _rebuilt(self) -> bool:
        """No cell on screen predates the restart any more (the program redrew them all)."""
        sc = self.screen
        return not any(sc.buffer[y][x].stale for y in range(sc.lines) for x in range(sc.columns))  # type: ignore[attr-defined]

    def snapshot(self) -> dict:
        """{"text", "styled", "cursor": [x, y]} -- the visible screen, as `capture-pane -p -e` gives it
        (colours, bold, faint, italics, underline, blink, reverse video, strikethrough);
        an empty screen with no cursor (and "rebuilding": true) while cells are unknown."""
        with self.lock:
            if self.rebuilding:
                if not self._rebuilt():
                    return {"text": "", "styled": "", "cursor": None, "rebuilding": True}
                self.rebuilding = False
            sc = self.screen
            plain, styled = [], []
            for y in range(sc.lines):
                row = sc.buffer[y]
                cells = [row[x] for x in range(sc.columns)]
                while cells and cells[-1].data in (" ", ""):
                    cells.pop()
                out, pen = [], ""
                for c in cells:
                    want = _sgr_of(c)
                    if want != pen:
                        out.append(want or "\x1b[0m")
                        pen = want
                    out.append(c.data)
                if pen:
                    out.append("\x1b[0m")
                plain.append("".join(c.data for c in cells).rstrip())
                styled.append("".join(out))
            return {"text": "\n".join(plain), "styled": "\n".join(styled), "cursor": [sc.cursor.x, sc.cursor.y]}
