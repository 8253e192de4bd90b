"""Drains: take what is queued for a session and deliver it, exactly once per completed delivery."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from termbridge import framing
from termbridge.outbox import Outbox


def drain_print(home: Path, name: str, write: Callable[[str], None], as_json: bool = False) -> int:
    """Claim every pending message, write it framed (or as JSON lines), then commit; returns the count.

    If WRITE fails the claim is released untouched, so nothing is lost; if the process
    dies after writing but before committing, the next drain delivers the messages again
    (at-least-once at that one instant, exactly-once once a drain completes).
    """
    box = Outbox(home, name)
    claim = box.claim()
    if claim is None:
        return 0
    try:
        if as_json:
            write("".join(json.dumps(framing.message_json(r), ensure_ascii=False) + "\n" for r in claim.records))
        else:
            write(framing.render_messages(claim.records) + "\n")
    except BaseException:
        box.release(claim, "output failed", count_attempt=False)
        raise
    box.commit(claim)
    return len(claim.records)
