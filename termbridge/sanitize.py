"""What may reach a terminal: no ESC, no C0 controls but newline and tab, no DEL, no C1."""

from __future__ import annotations

import re

# C0 (0x00-0x1f) except \t \n, DEL, and C1 (0x80-0x9f). ESC (0x1b) is C0, so no escape
# sequence survives, and nothing in a payload can end a bracketed paste (ESC [201~).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize_text(text: str) -> str:
    """TEXT with every control character removed except newline and tab (CRLF becomes LF)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


# CSI sequences (SGR and others) and OSC strings: what a styled capture holds besides text.
_ESCAPES = re.compile(r"\x1b\[[0-9;:?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def strip_sgr(text: str) -> str:
    """TEXT without escape sequences (for screens captured with styles)."""
    return _ESCAPES.sub("", text)
