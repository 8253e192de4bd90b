"""One shape for what a command did (outcome.py): every library result that carries an exit code is
an Outcome, and the CLI, rpc and MCP report it the same way."""

from __future__ import annotations

import pytest

from termbridge.answers import Asked
from termbridge.delivery import Drained
from termbridge.doctor import Report
from termbridge.outcome import Outcome
from termbridge.sending import Sent
from termbridge.submit import Submitted

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    "made",
    [
        lambda: Sent("ID", "a", None),
        lambda: Asked("ID", "a"),
        lambda: Drained(0),
        lambda: Submitted({"submitted": True}),
        lambda: Report("", {"ok": True}),
    ],
)
def test_every_result_is_one_outcome(made):
    r = made()
    assert isinstance(r, Outcome) and (r.exit_code, r.note) == (0, None)
    lines: list[str] = []
    assert r.report(lines.append) == 0 and lines == []
    r.fail(4, "no answer within 2s")
    assert r.report(lines.append) == 4 and lines == ["termbridge: no answer within 2s"]


def test_a_note_without_failure_and_the_drained_note():
    r = Submitted({})
    r.tell("Enter pressed; nothing to confirm it by")
    lines: list[str] = []
    assert r.report(lines.append) == 0 and lines == ["termbridge: Enter pressed; nothing to confirm it by"]
    assert Drained(0, "").note is None and Drained(2, "nudged").note == "nudged"
