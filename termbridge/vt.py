"""The PTY wrapper's picture of its program's screen: a pyte VT emulator, rendered the way
`tmux capture-pane -e` renders a pane, so one surface reader judges both.

pyte (a well-kept pure-Python VT emulator) keeps colours but not SGR 2 (faint), which is
how placeholders are drawn; `FaintScreen` adds it as one more cell attribute.
"""

from __future__ import annotations

import codecs
import threading
from typing import NamedTuple

import pyte


class FChar(NamedTuple):
    """pyte's Char plus `faint` (SGR 2)."""

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


class FaintScreen(pyte.Screen):
    """A pyte screen whose cells also remember SGR 2 (faint)."""

    @property
    def default_char(self) -> FChar:  # type: ignore[override]
        return FChar(data=" ", reverse=pyte.modes.DECSCNM in self.mode)

    def reset(self) -> None:
        super().reset()
        self.cursor.attrs = self.default_char  # type: ignore[assignment]  # an FChar: see select_graphic_rendition

    def select_graphic_rendition(self, *attrs: int, **kwargs) -> None:
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
        super().select_graphic_rendition(*attrs, **kwargs)
        cur = self.cursor.attrs
        fattrs = cur if isinstance(cur, FChar) else FChar(*cur)
        # FChar is pyte's Char plus a field; a NamedTuple cannot subclass another, so for mypy it is no Char.
        self.cursor.attrs = fattrs._replace(faint=faint)  # type: ignore[assignment]


_NAMED = {"black": 0, "red": 1, "green": 2, "brown": 3, "blue": 4, "magenta": 5, "cyan": 6, "white": 7}


def _fg_sgr(fg: str) -> str:
    if fg == "default":
        return "39"
    if fg.startswith("bright") and fg[6:] in _NAMED:
        return str(90 + _NAMED[fg[6:]])
    if fg in _NAMED:
        return str(30 + _NAMED[fg])
    if len(fg) == 6:
        try:
            return "38;2;" + ";".join(str(int(fg[k : k + 2], 16)) for k in (0, 2, 4))
        except ValueError:
            pass
    return "39"


class Emulator:
    """Bytes from the program in; plain and styled lines and the cursor out. Thread-safe."""

    def __init__(self, columns: int = 80, lines: int = 24):
        self.screen = FaintScreen(columns, lines)
        self.stream = pyte.Stream(self.screen)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self.lock:
            self.stream.feed(self.decoder.decode(data))

    def resize(self, columns: int, lines: int) -> None:
        with self.lock:
            self.screen.resize(lines, columns)

    def snapshot(self) -> dict:
        """{"text", "styled", "cursor": [x, y]} -- the visible screen, as capture-pane gives it."""
        with self.lock:
            sc = self.screen
            plain, styled = [], []
            for y in range(sc.lines):
                row = sc.buffer[y]
                cells = [row[x] for x in range(sc.columns)]
                while cells and cells[-1].data in (" ", ""):
                    cells.pop()
                out, pen = [], ("39", False)
                for c in cells:
                    want = (_fg_sgr(c.fg), bool(getattr(c, "faint", False)))
                    if want != pen:
                        out.append(f"\x1b[0;{want[0]}{';2' if want[1] else ''}m")
                        pen = want
                    out.append(c.data)
                if pen != ("39", False):
                    out.append("\x1b[0m")
                plain.append("".join(c.data for c in cells).rstrip())
                styled.append("".join(out))
            return {"text": "\n".join(plain), "styled": "\n".join(styled), "cursor": [sc.cursor.x, sc.cursor.y]}
