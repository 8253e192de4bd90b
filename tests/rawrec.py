"""Records every byte its terminal delivers (raw mode, bracketed paste on) to a file."""

import os
import sys
import tty

out = sys.argv[1]
tty.setraw(0)
os.write(1, b"\x1b[?2004hrawrec ready\r\n")
with open(out, "ab", buffering=0) as f:
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        f.write(data)
