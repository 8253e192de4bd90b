"""`termbridge send`'s hot path (no click import) behaves exactly like the click command it stands in for."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import tb

import termbridge

CLICK = [sys.executable, "-c", "import sys; from termbridge.cli import main; sys.argv[0] = 'termbridge'; main()"]
ULID = re.compile(r"01[0-9A-Z]{24}")


def _run(prefix, args, stdin=b""):
    p = subprocess.run([*prefix, *args], input=stdin, capture_output=True, timeout=60, env=os.environ.copy())
    mask = lambda b: ULID.sub("<id>", b.decode("utf-8", "replace"))  # noqa: E731
    return p.returncode, mask(p.stdout), mask(p.stderr)


CASES = [
    ["send", "a", "hello", "--no-wake"],
    ["send", "a", "hello", "--no-wake", "--json"],
    ["send", "--no-wake", "a", "--from", "lead", "hello"],
    ["send", "a", "x", "--no-wake", "--from=lead", "--key=k1", "--reply-to", "01ABC", "--ttl", "30"],
    ["send", "a", "-", "--no-wake"],
    ["send", "a", "x", "--no-wake", "--wait", "0.1", "--json"],
    ["send", "a", "x", "--no-wake", "--until", "received", "--wait", "0"],
    ["send", "nobody", "x"],
    ["send", "bad name", "x"],
    ["send", "a", "x", "--from", "not ok"],
    ["send", "a", "x", "--ttl", "-5"],
    ["send", "a", "x", "--ttl", "soon"],
    ["send", "a", "x", "--until", "later"],
    ["send", "a"],
    ["send", "a", "x", "y"],
    ["send", "a", "x", "--bogus"],
    ["send", "a", "x", "--from"],
    ["send", "--help"],
    ["send", "a", "--", "--json"],
    ["send", "a", " "],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_fast_path_and_click_agree(home, sleeper, args):
    tb("register", "a", "--pid", sleeper().pid)
    stdin = b"from stdin" if "-" in args else b""
    fast = _run([sys.executable, "-m", "termbridge"], args, stdin)
    slow = _run(CLICK, args, stdin)
    assert fast == slow


def test_send_does_not_import_click(home, sleeper):
    tb("register", "a", "--pid", sleeper().pid)
    code = (
        "import sys, runpy; sys.argv = ['termbridge', 'send', 'a', 'x', '--no-wake', '--json']\n"
        "try:\n    runpy.run_module('termbridge', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('CLICK' if 'click' in sys.modules else 'NOCLICK', file=sys.stderr)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert json.loads(p.stdout)["session"] == "a" and p.stderr.strip().endswith("NOCLICK")


# What `send --no-wake` must not import (each costs start-up on every hook's call): click, and the
# stdlib modules only other commands need. Measured here: pathlib ~3.6 ms (with urllib.parse and
# ipaddress), contextlib ~0.7 ms, typing and dataclasses more; a bare interpreter starts in ~10 ms.
NOT_ON_SENDS_PATH = ("click", "pathlib", "urllib.parse", "contextlib", "typing", "dataclasses", "math", "yaml")


def test_send_imports_only_what_it_needs(home, sleeper):
    """Without site (so no editable-install finder or .pth file loads anything first), a real
    `send --no-wake` -- registry lookup, fsync'd append, event -- imports none of NOT_ON_SENDS_PATH."""
    tb("register", "a", "--pid", sleeper().pid)
    root = str(Path(termbridge.__file__).resolve().parent.parent)
    code = (
        f"import sys; sys.path.insert(0, {root!r})\n"
        "sys.argv = ['termbridge', 'send', 'a', 'x', '--no-wake', '--json']\n"
        "from termbridge.fastpath import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {NOT_ON_SENDS_PATH!r} if m in sys.modules), file=sys.stderr)"
    )
    p = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert json.loads(p.stdout)["session"] == "a", p.stderr
    assert p.stderr.strip() == "[]"
    assert json.loads(tb("status", "--json").out)["sessions"][0]["pending"] == 1


CLOSED = {"stdout": ">&-", "stderr": "2>&-", "both": ">&- 2>&-", "stdin": "<&-"}


@pytest.mark.parametrize("closed", sorted(CLOSED))
def test_closed_streams_like_click(home, sleeper, closed):
    """`termbridge send a x >&-`: the message is durable and the exit code is click's; no crash."""
    tb("register", "a", "--pid", sleeper().pid)
    results = []
    for prefix in ([sys.executable, "-m", "termbridge"], CLICK):
        for args in (["send", "a", "x", "--no-wake"], ["send", "a", "x"], ["send", "a", "-"]):
            line = " ".join(shlex.quote(a) for a in [*prefix, *args]) + " " + CLOSED[closed]
            p = subprocess.run(["sh", "-c", line], capture_output=True, timeout=60, env=os.environ.copy())
            assert "Error" not in p.stderr.decode(), p.stderr
            results.append(p.returncode)
    assert results[:3] == results[3:]  # the fast path exits as click does
    assert results[0] == 0 and results[1] == 0
    pending = json.loads(tb("status", "--json").out)["sessions"][0]["pending"]
    assert pending == 4  # `-` reads an empty stdin (or none): refused, exit 2
