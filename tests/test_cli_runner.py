"""The click layer in-process with CliRunner: every command's exit codes, one-line errors and JSON shapes
(docs/commands.md), beside the subprocess tests of the installed command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from termbridge.cli import cli

pytestmark = pytest.mark.fast  # no tmux, no terminal: the unit loop (`pytest -m fast`)


@pytest.fixture
def run(home):
    runner = CliRunner()

    def invoke(*args, input=None):
        res = runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
        return res

    return invoke


@pytest.fixture
def alive(sleeper):
    return sleeper().pid


def one_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("termbridge: ")
    return lines[0]


def test_register_sessions_resolve_shapes(run, alive):
    res = run("register", "a", "--pid", alive, "--kind", "codex", "--json")
    assert res.exit_code == 0
    row = json.loads(res.stdout)
    assert row["session"] == "a" and row["pid"] == alive and row["kind"] == "codex" and row["delivery"] == "push"
    rows = json.loads(run("sessions", "--json").stdout)["sessions"]
    assert [r["name"] for r in rows] == ["a"] and rows[0]["alive"] is True
    res = run("resolve", "a", "--json")  # a sleeper no terminal hosts
    assert res.exit_code == 3 and "no tmux pane" in one_line(res) and res.stdout == ""


def test_exit_codes_of_the_table(run, alive):
    run("register", "a", "--pid", alive)
    assert run("register", "b", "--pid", 0).exit_code == 2
    assert run("register", "bad name", "--pid", alive).exit_code == 2
    assert run("send", "nobody", "x").exit_code == 3
    assert run("send", "a", "x", "--ttl", "-1").exit_code == 2
    assert run("send", "a", "x", "--wait", "-1").exit_code == 2
    assert run("receipt", "01NOTHINGLIKETHIS000000000").exit_code == 3
    assert run("receipt", "not/ok id").exit_code == 2
    assert run("submit", "a", "x", "--gap-ms", 10001).exit_code == 2
    assert run("submit", "a", "--enter-only", "x").exit_code == 2
    assert run("submit", "a", "x").exit_code == 3  # no verified target: nothing typed
    assert run("drain", "a", "--pane", "%1").exit_code == 2
    assert run("drain", "nobody").exit_code == 3
    assert run("mark", "nobody", "idle").exit_code == 3
    assert run("dead-letter", "a", "--retry", "x", "--retry-all").exit_code == 2


def test_send_json_and_receipt_states(run, alive):
    run("register", "a", "--pid", alive)
    res = run("send", "a", "hello", "--no-wake", "--json")
    assert res.exit_code == 0
    sent = json.loads(res.stdout)
    assert set(sent) == {"id", "session", "wake"} and sent["wake"] is None
    r = json.loads(run("receipt", sent["id"], "--json").stdout)
    assert (
        set(r) == {"id", "session", "state", "at", "via", "answer"}
        and r["answer"] is None
        and r["state"] == "queued"
        and "queued" in r["at"]
    )
    res = run("send", "a", "-", "--no-wake", "--json", input="from stdin")
    assert res.exit_code == 0
    res = run("drain", "a", "--json")
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert [m["body"] for m in lines] == ["hello", "from stdin"]
    assert set(lines[0]) == {"id", "session", "from", "reply_to", "key", "body", "created_at"}
    assert json.loads(run("receipt", sent["id"], "--json").stdout)["state"] == "submitted"


def test_send_wait_times_out_with_exit_4_and_stays_queued(run, alive):
    run("register", "a", "--pid", alive)
    res = run("send", "a", "x", "--no-wake", "--wait", "0.2", "--json")
    assert res.exit_code == 4 and json.loads(res.stdout)["state"] == "queued"
    assert "stays queued" in one_line(res)
    assert json.loads(run("status", "--json").stdout)["sessions"][0]["pending"] == 1


def test_status_json_shape(run, alive):
    run("register", "a", "--pid", alive)
    row = json.loads(run("status", "--json").stdout)["sessions"][0]
    for key in (
        "name",
        "pid",
        "alive",
        "pending",
        "in_flight",
        "dead_letters",
        "surface",
        "reason",
        "receipts",
        "waiter",
        "delivery",
    ):
        assert key in row, key
    assert row["surface"] is None and "no tmux pane" in row["reason"]


def test_wake_prints_exactly_one_outcome(run, alive):
    run("register", "a", "--pid", alive)
    res = run("wake", "a", "--json")
    assert json.loads(res.stdout) == {"session": "a", "outcome": "skipped_empty"}
    run("send", "a", "x", "--no-wake")
    res = run("wake", "a")
    assert res.exit_code == 0 and res.stdout.strip() == "skipped_no_target"


def test_hook_always_exits_zero(run):
    for payload in ("not json", "[]", json.dumps({"stop_hook_active": True})):
        res = run("hook", "claude-stop", "--session", "x", input=payload)
        assert res.exit_code == 0 and res.stdout == ""


def test_every_backend_implements_the_one_interface():
    from termbridge.backends import BACKENDS, Backend, backend

    for name in BACKENDS:
        assert isinstance(backend(name), Backend), name
    from termbridge.errors import BadInput
    from termbridge.targets import normalize_target

    assert normalize_target("%3") == "tmux:%3" and normalize_target("tmux:%12") == "tmux:%12"
    assert normalize_target("pty:coder") == "pty:coder"
    assert normalize_target("kitty:unix:/tmp/k:7") == "kitty:unix:/tmp/k:7"
    assert normalize_target("7", {"KITTY_LISTEN_ON": "unix:/tmp/k"}) == "kitty:unix:/tmp/k:7"
    for bad in ("%x", "tmux:3", "pty:..", "kitty:7x", "bogus"):
        with pytest.raises(BadInput):
            normalize_target(bad, {})
