"""Message ids: 26-char Crockford base32, sortable by time, unique across processes (ULID layout)."""

from __future__ import annotations

import _thread  # threading.Lock without importing threading (send's hot path)
import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = _thread.allocate_lock()
_last = [0, 0]  # [ms, random80] of the last id made in this process


_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 10 bits -> 2 characters, half the steps


def _encode(value: int, length: int) -> str:
    """VALUE as LENGTH (even) base32 characters, most significant first."""
    out = []
    for _ in range(length // 2):
        out.append(_PAIRS[value & 1023])
        value >>= 10
    return "".join(reversed(out))


def new_id() -> str:
    """A ULID-like id: 48-bit ms timestamp + 80 random bits, monotonic within a process."""
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last[0]:
            # Same millisecond (or the clock stepped back): keep ids strictly increasing.
            ms, rand = _last[0], _last[1] + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # leave room to increment
        _last[0], _last[1] = ms, rand
    return _encode(ms, 10) + _encode(rand, 16)
