"""A child for the wrapper's byte tests: raw mode, writes what it is told, and logs every byte it
wrote (the wrapper must pass exactly these on to its terminal).

    screen_child.py LOG STATUS [PAYLOAD]
      writes PAYLOAD's bytes (if given) and `READY`, then obeys one-letter commands:
      f  write a line holding FAULT (vt_fault.py's emulator raises on it)
      r  redraw the whole screen: clear it, then the prompt `child $ `
      p  redraw only the cursor's line as that prompt (what an incremental redraw does)
      x  exit with STATUS
    On SIGWINCH it writes `SIZE <rows>x<cols>` and nothing else.
"""

import os
import signal
import sys
import tty
from pathlib import Path

FAULT = "\u2620FAULT"


def main() -> None:
    log = open(sys.argv[1], "ab", buffering=0)
    status = int(sys.argv[2])

    def write(data: bytes) -> None:
        # SIGWINCH's report must not land between a write and its log entry
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
        try:
            while data:
                n = os.write(1, data)
                log.write(data[:n])
                data = data[n:]
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGWINCH})

    def report(*_):
        cols, rows = os.get_terminal_size(1)
        write(f"SIZE {rows}x{cols}\r\n".encode())

    tty.setraw(0)  # no output processing: what it writes is what its terminal gets
    signal.signal(signal.SIGWINCH, report)
    if len(sys.argv) > 3:
        write(Path(sys.argv[3]).read_bytes())
    write(b"\r\nREADY\r\n")
    while True:
        try:
            key = os.read(0, 1)
        except InterruptedError:
            continue
        except OSError:
            key = b""
        if key == b"f":
            write(f"before {FAULT} after\r\n".encode())
        elif key == b"r":
            write(b"\x1b[H\x1b[2Jchild $ ")
        elif key == b"p":
            write(b"\r\x1b[2Kchild $ ")
        elif key in (b"x", b""):
            sys.exit(status)


if __name__ == "__main__":
    main()
