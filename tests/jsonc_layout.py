"""Random JSONC layouts for the property tests (test_jsonc.py, test_hooks_install.py)."""

from __future__ import annotations

import json

from hypothesis import strategies as st

TRIVIA = ["", "", " ", "\n", "\n  ", "\n\t\t", "  // a comment\n", "/* c */", " /* two\n lines */ ", "\r\n    "]


def layout(value, data) -> str:
    """VALUE as JSONC with random trivia between the tokens and random trailing commas."""

    def gap() -> str:
        return data.draw(st.sampled_from(TRIVIA))

    if isinstance(value, dict):
        parts = [gap() + json.dumps(k) + gap() + ":" + gap() + layout(v, data) + gap() for k, v in value.items()]
        tail = "," + gap() if parts and data.draw(st.booleans()) else ""
        return "{" + gap() + ",".join(parts) + tail + "}"
    if isinstance(value, list):
        parts = [gap() + layout(v, data) + gap() for v in value]
        tail = "," + gap() if parts and data.draw(st.booleans()) else ""
        return "[" + gap() + ",".join(parts) + tail + "]"
    return json.dumps(value)
