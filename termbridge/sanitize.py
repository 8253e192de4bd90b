"""What may reach a terminal: no ESC, no C0 controls but newline and tab, no DEL, no C1,
no bidirectional overrides or isolates; Unicode line/paragraph separators become newlines."""

from __future__ import annotations

import re

# C0 (0x00-0x1f) except \t \n, DEL, and C1 (0x80-0x9f). ESC (0x1b) is C0, so no escape
# sequence survives, and nothing in a payload can end a bracketed paste (ESC [201~).
# U+202A-U+202E (embeddings/overrides) and U+2066-U+2069 (isolates) can make a line read
# differently from what it is ("Trojan Source", CVE-2021-42574): removed.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# U+2028/U+2029 end a line for some renderers but not for others: make them the one newline.
_SEPARATORS = re.compile("\r\n|[\u2028\u2029]")


def sanitize_text(text: str) -> str:
    """TEXT with control characters and bidi overrides removed except newline and tab (CRLF,
    U+2028 and U+2029 become LF)."""
    return _CONTROL.sub("", _SEPARATORS.sub("\n", text))


# CSI sequences (SGR and others) and OSC strings: what a styled capture holds besides text.
_ESCAPES = re.compile(r"\x1b\[[0-9;:?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def strip_sgr(text: str) -> str:
    """TEXT without escape sequences (for screens captured with styles)."""
    return _ESCAPES.sub("", text)
