"""A child for wrapper tests: reports its terminal size on SIGWINCH, echoes lines, exits on 'exit N'."""

import os
import signal
import sys


def report(*_):
    cols, rows = os.get_terminal_size(0)
    sys.stdout.write(f"SIZE {rows}x{cols}\n")
    sys.stdout.flush()


signal.signal(signal.SIGWINCH, report)
report()
print("READY", flush=True)
for line in sys.stdin:
    line = line.strip()
    print(f"GOT [{line}]", flush=True)
    if line.startswith("exit "):
        sys.exit(int(line.split()[1]))
    if line == "die":
        os.kill(os.getpid(), signal.SIGTERM)
