"""kitty kitten behind the drain key map: drain the active window now.

``map ctrl+shift+d kitten termbridge/termbridge_drain.py`` (kitty resolves the path in its
config directory, where termbridge/ links to this directory). It runs inside kitty with no
UI, so it knows kitty's own remote-control socket and the window id -- a background
`launch` does not get KITTY_LISTEN_ON on older kitty -- and it reuses the watcher's
background drain.
"""

from __future__ import annotations

from typing import Any

# kitty execs a custom kitten with its directory on sys.path (but no __file__): the
# watcher beside it is importable now, not later when handle_result runs.
import termbridge_watcher  # noqa: E402
from kittens.tui.handler import result_handler


def main(args: list[str]) -> None:
    """No UI: everything happens in handle_result, inside kitty."""


@result_handler(no_ui=True)
def handle_result(args: list[str], answer: Any, target_window_id: int, boss: Any) -> None:
    try:
        window = boss.active_window
        wid = window.id if window is not None else target_window_id
        problem = termbridge_watcher.start_drain(boss, wid)
        if problem:  # a key press deserves an answer (a focus drain stays quiet)
            boss.show_error("termbridge", problem)
    except Exception:  # noqa: BLE001 - a key press must never break kitty: report in kitty's log only
        import traceback

        traceback.print_exc()
