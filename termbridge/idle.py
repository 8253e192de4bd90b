"""Agent hooks' idle/busy marks (`termbridge mark`, the hooks): one signal the surface reader weighs.

The judgement of a target as a whole lives in surface.py; a fresh `busy` mark makes an
otherwise idle-looking screen `working` (unknown counts as busy, never as idle).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from termbridge import paths, registry


def mark_path(home: Path, name: str) -> Path:
    return registry.session_dir(home, name) / "mark.json"


def set_mark(home: Path, name: str, state: str) -> None:
    """Record an agent hook's idle/busy report (time-stamped)."""
    paths.ensure_dir(registry.session_dir(home, name))
    paths.atomic_write(mark_path(home, name), json.dumps({"state": state, "t": time.time()}).encode())


def read_mark(home: Path, name: str) -> dict | None:
    """The latest mark ({"state", "t"}) or None when there is none or it is malformed."""
    m = paths.read_json(mark_path(home, name))
    if not isinstance(m, dict) or m.get("state") not in ("idle", "busy") or not isinstance(m.get("t"), (int, float)):
        return None
    return m


def busy_mark(home: Path, name: str, cfg: Mapping[str, Any]) -> str | None:
    """A reason if the latest hook mark says busy and is not stale."""
    m = read_mark(home, name)
    if m and m["state"] == "busy":
        age = time.time() - float(m["t"])
        if age < cfg["busy_mark_stale_s"]:
            return f"agent hook marked busy {max(age, 0):.0f}s ago"
    return None
