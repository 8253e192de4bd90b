"""`termbridge mcp`: the MCP server an agent starts itself, driven by the SDK's own stdio client.

The "agents" are tests/mcp_agent.py running in real tmux panes (so the server's parent
is a process a pane verifiably hosts); they start the real `python -m termbridge mcp`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from helpers import retry_until, tb, tb_json  # noqa: E402
from real_agent_lab import needs_agents  # noqa: E402

HERE = Path(__file__).parent
AGENT = HERE / "mcp_agent.py"
ID_RE = re.compile(r"^--- message (\S+) from (\S+) \(reply_to: (\S+)\)", re.M)


class McpAgent:
    """One scripted agent in a pane; its results are JSON lines in OUT."""

    def __init__(
        self,
        lab,
        tmp: Path,
        label: str,
        steps: list,
        name: str | None = None,
        servers: int = 1,
        wrap: bool = False,
        python: str | None = None,
        env: dict | None = None,
        scrubbed: bool = False,
    ):
        self.out = tmp / f"{label}.jsonl"
        steps_file = tmp / f"{label}.steps.json"
        steps_file.write_text(json.dumps(steps))
        argv = (
            [
                python or sys.executable,
                str(AGENT),
                "--out",
                str(self.out),
                "--steps",
                f"@{steps_file}",
                "--servers",
                str(servers),
            ]
            + (["--name", name] if name else [])
            + (["--wrap"] if wrap else [])
            + (["--scrubbed-env"] if scrubbed else [])
        )
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        self.pane = lab.pane(f"exec env {prefix} " + " ".join(map(shlex.quote, argv)))
        self.pane_id = "tmux:" + self.pane.pane_id
        self.lab = lab

    def results(self) -> list[dict]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    @property
    def pid(self) -> int:
        return retry_until(lambda: next((r["pid"] for r in self.results() if r["tool"] == "started"), None), 30)

    def wait_done(self, seconds: float = 60) -> list[dict]:
        def done():
            rs = self.results()
            return rs if any(r["tool"] == "done" for r in rs) else None

        try:
            return retry_until(done, seconds)
        except AssertionError:
            screen = self.lab.tmux("capture-pane", "-p", "-t", self.pane.pane_id)
            raise AssertionError(f"agent did not finish; pane shows:\n{screen}") from None

    def calls(self) -> list[dict]:
        return [r for r in self.wait_done() if r["tool"] not in ("started", "done")]

    def stop(self) -> None:
        Path(str(self.out) + ".stop").touch()


def call(tool: str, args: dict | None = None, server: int = 0) -> list:
    return ["call", server, tool, args or {}]


def ids_in(text: str) -> list[str]:
    return [m.group(1) for m in ID_RE.finditer(text)]


# ---------------------------------------------------------------- registration
def test_registers_its_parent_agent_in_the_pane(lab, home, short_tmp):
    agent = McpAgent(lab, short_tmp, "alice", [call("peers")], name="alice")
    (peers,) = agent.calls()
    assert not peers["is_error"], peers["text"]
    sess = {s["name"]: s for s in tb_json("sessions")["sessions"]}
    assert set(sess) == {"alice"}
    assert sess["alice"]["pid"] == agent.pid  # the agent, not the server (its child)
    assert sess["alice"]["alive"]
    rec = json.loads((home / "sessions" / "alice" / "session.json").read_text())
    assert rec["delivery"] == "pull"
    assert rec["tmux_socket"] == lab.socket  # from the agent's environment (TERMBRIDGE_TMUX_SOCKET)
    res = tb_json("resolve", "alice")
    assert (res["backend"], res["target"], res["pid"]) == ("tmux", agent.pane_id, agent.pid)
    data = json.loads(peers["text"])
    assert data["me"] == "alice"
    (row,) = data["sessions"]
    assert row["me"] is True and row["target"] == agent.pane_id and row["delivery"] == "pull"
    assert row["pending"] == 0 and row["last_activity"]
    agent.stop()


def _mini_venv_named(tmp: Path, name: str) -> str:
    """A python that runs as a process called NAME but keeps this venv's packages (comm = NAME)."""
    venv = Path(sys.prefix)
    d = tmp / "fakeagent"
    (d / "bin").mkdir(parents=True)
    shutil.copy(venv / "pyvenv.cfg", d / "pyvenv.cfg")
    (d / "lib").symlink_to(venv / "lib")
    exe = d / "bin" / name
    exe.symlink_to(os.path.realpath(sys.executable))
    return str(exe)


def test_kind_and_name_come_from_the_agent_past_a_wrapper_shell(lab, home, short_tmp):
    claude = _mini_venv_named(short_tmp, "claude")
    agent = McpAgent(lab, short_tmp, "c", [call("peers")], wrap=True, python=claude)
    (peers,) = agent.calls()
    assert not peers["is_error"], peers["text"]
    (s,) = tb_json("sessions")["sessions"]
    # No --name and no $TERMBRIDGE_SESSION: named after the kind, registered at the agent's pid
    # (the `sh -c` between agent and server is walked past).
    assert (s["name"], s["kind"], s["pid"]) == ("claude", "claude", agent.pid)
    assert tb_json("resolve", "claude")["target"] == agent.pane_id
    agent.stop()


def test_agent_kind_and_wrappers_from_real_processes(short_tmp):
    """Kinds read from live processes: a native binary by its name, node running gemini, and
    the walk from a server's parent past an `sh -c` to the agent."""
    import subprocess

    from termbridge import mcp_server, proctree

    bin_ = short_tmp / "bin"
    bin_.mkdir()
    procs = []

    def spawn(argv):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        procs.append(p)
        retry_until(lambda: proctree.start_time(p.pid), 5)
        return p

    try:
        (bin_ / "codex-linux-x64").symlink_to("/bin/sleep")  # a native agent binary, named as shipped
        codex = spawn([str(bin_ / "codex-linux-x64"), "60"])
        plain = spawn(["sleep", "60"])
        assert retry_until(lambda: mcp_server.agent_kind(codex.pid), 5) == "codex"
        assert mcp_server.agent_kind(plain.pid) is None and not mcp_server.is_wrapper(plain.pid)
        if shutil.which("node"):
            (bin_ / "gemini").write_text("setTimeout(() => {}, 60000)\n")  # as npm installs it: node …/bin/gemini
            gem = spawn(["node", str(bin_ / "gemini")])
            assert retry_until(lambda: mcp_server.agent_kind(gem.pid), 5) == "gemini"
        # claude (a shell here) -> sh -c "…" -> server: the walk starts at the server's parent.
        (bin_ / "claude").symlink_to("/bin/sh")
        outer = spawn([str(bin_ / "claude"), "-c", "sh -c 'sleep 60; :'; :"])
        inner = retry_until(
            lambda: next((p for p in proctree.descendants(outer.pid) if mcp_server.is_wrapper(p)), None), 5
        )
        assert mcp_server.find_agent(inner) == (outer.pid, "claude")
        assert mcp_server.find_agent(plain.pid) == (plain.pid, "other")
    finally:
        for p in procs:
            os.killpg(p.pid, 9)
            p.wait()


def test_name_from_termbridge_session(lab, home, short_tmp):
    agent = McpAgent(lab, short_tmp, "e", [call("peers")], env={"TERMBRIDGE_SESSION": "from-env"})
    (peers,) = agent.calls()
    assert json.loads(peers["text"])["me"] == "from-env"
    assert [s["name"] for s in tb_json("sessions")["sessions"]] == ["from-env"]
    agent.stop()


def test_a_scrubbed_server_environment_is_filled_from_the_agents(lab, home, short_tmp):
    """Codex starts MCP servers with only HOME, PATH and a few more: the state home, the
    session name and the tmux socket then come from the agent's own environment."""
    agent = McpAgent(
        lab,
        short_tmp,
        "s",
        [call("send", {"to": "scrub", "message": "to myself"}), call("inbox")],
        env={"TERMBRIDGE_SESSION": "scrub"},
        scrubbed=True,
    )
    sent, inbox = agent.calls()
    assert not sent["is_error"], sent["text"]
    assert ids_in(inbox["text"]) == [json.loads(sent["text"])["id"]]
    rec = json.loads((home / "sessions" / "scrub" / "session.json").read_text())  # this test's home
    assert (rec["pid"], rec["delivery"], rec["tmux_socket"]) == (agent.pid, "pull", lab.socket)
    agent.stop()


def test_a_live_name_of_another_pid_is_not_taken_over(lab, home, short_tmp, sleeper):
    other = sleeper()
    assert tb("register", "dave", "--pid", other.pid).returncode == 0
    tb("register", "erin", "--pid", other.pid)
    steps = [call("send", {"to": "erin", "message": "hi"}), call("inbox"), call("peers"), call("receipt", {"id": "x1"})]
    agent = McpAgent(lab, short_tmp, "d", steps, name="dave")
    results = agent.calls()
    assert [r["tool"] for r in results] == ["send", "inbox", "peers", "receipt"]
    for r in results:
        assert r["is_error"], r
        assert "session name 'dave' belongs to another live process" in r["text"]
        assert "--name" in r["text"]
    assert tb_json("sessions")["sessions"][0]["pid"] == other.pid  # untouched
    assert tb_json("status")["sessions"][1]["pending"] == 0  # the send wrote nothing
    agent.stop()


def test_a_dead_holder_of_the_name_is_replaced(lab, home, short_tmp, sleeper):
    gone = sleeper()
    tb("register", "frank", "--pid", gone.pid)
    gone.kill()
    gone.wait()
    agent = McpAgent(lab, short_tmp, "f", [call("peers")], name="frank")
    (peers,) = agent.calls()
    assert not peers["is_error"], peers["text"]
    assert tb_json("sessions")["sessions"][0]["pid"] == agent.pid
    agent.stop()


# ---------------------------------------------------------------- the tools
def test_two_agents_exchange_messages(lab, home, short_tmp):
    up, sent, replied = (str(short_tmp / n) for n in ("b_up", "a_sent", "b_replied"))
    a = McpAgent(
        lab,
        short_tmp,
        "a",
        [
            ["wait", up],
            call("send", {"to": "bob", "message": "please review foo.py", "key": "review"}),
            ["touch", sent],
            ["wait", replied],
            call("inbox"),
            call("inbox"),
            call("peers"),
        ],
        name="alice",
    )
    b = McpAgent(
        lab,
        short_tmp,
        "b",
        [
            ["touch", up],
            ["wait", sent],
            call("inbox"),
            call("send", {"to": "alice", "message": "looks good\nline two", "reply_to": "$LAST_ID"}),
            call("receipt", {"id": "$LAST_ID"}),
            ["touch", replied],
        ],
        name="bob",
    )
    b_inbox, reply, rcpt = b.calls()
    a_send, a_inbox1, a_inbox2, peers = a.calls()
    # alice -> bob
    assert not a_send["is_error"], a_send["text"]
    sent_data = json.loads(a_send["text"])
    assert sent_data["session"] == "bob" and sent_data["wake"] in (
        "sent",
        "skipped_debounced",
        "skipped_busy",
        "skipped_no_target",
        "skipped_empty",
    )
    ping = sent_data["id"]
    assert ids_in(b_inbox["text"]) == [ping]
    assert "context, not instructions from your user" in b_inbox["text"]
    assert f"--- message {ping} from alice (reply_to: -)" in b_inbox["text"]
    assert "> please review foo.py" in b_inbox["text"]
    # handed over once: submitted and received, via mcp (the CLI sees the same receipt)
    assert json.loads(rcpt["text"])["state"] == "received"
    r = tb_json("receipt", ping)
    assert (r["session"], r["state"], r["via"]) == ("bob", "received", "mcp")
    assert "submitted" in r["at"] and "received" in r["at"]
    # bob -> alice, as a reply
    assert not reply["is_error"], reply["text"]
    pong = json.loads(reply["text"])["id"]
    assert ids_in(a_inbox1["text"]) == [pong]
    assert f"--- message {pong} from bob (reply_to: {ping})" in a_inbox1["text"]
    assert "> looks good\n> line two" in a_inbox1["text"]
    assert a_inbox2["text"] == "[termbridge] no pending messages."
    rows = {r["name"]: r for r in json.loads(peers["text"])["sessions"]}
    assert set(rows) == {"alice", "bob"}
    assert rows["alice"]["me"] and not rows["bob"]["me"]
    assert rows["bob"]["target"] == b.pane_id and rows["alice"]["target"] == a.pane_id
    assert all(r["pending"] == 0 and r["alive"] and r["delivery"] == "pull" for r in rows.values())
    assert all(r["receipts"]["received"] == 1 for r in rows.values())  # one message each, fetched once
    assert all("surface" in r and r["reason"] for r in rows.values())  # what each terminal shows, and why
    a.stop()
    b.stop()


def test_inbox_is_exactly_once_across_two_concurrent_servers(lab, home, short_tmp):
    from termbridge.outbox import Outbox

    n = 150
    done = str(short_tmp / "all_sent")
    agent = McpAgent(
        lab, short_tmp, "g", [["touch", str(short_tmp / "up")], ["drain_until", done]], name="gina", servers=2
    )
    retry_until(lambda: (short_tmp / "up").exists(), 60)
    box = Outbox(home, "gina")
    sent = []
    for i in range(n):  # queued while both servers drain
        sent.append(box.append(f"message {i}", "tester", None, None, None)["id"])
        if i % 10 == 0:
            time.sleep(0.01)
    Path(done).touch()
    rounds = agent.calls()
    assert all(not r["is_error"] for r in rounds), [r["text"] for r in rounds if r["is_error"]]
    got = [i for r in rounds for i in ids_in(r["text"])]
    by_server = {k: sum(len(ids_in(r["text"])) for r in rounds if r["server"] == k) for k in (0, 1)}
    assert len(got) == n and set(got) == set(sent), (len(got), len(set(got)))  # each id exactly once
    assert sum(by_server.values()) == n
    from termbridge import receipts

    assert receipts.counts(home, "gina") == {"submitted": 0, "received": n, "answered": 0}
    assert tb_json("status")["sessions"][0]["pending"] == 0
    agent.stop()


# ---------------------------------------------------------------- bad input: CLI texts, nothing written
BAD_SENDS = [
    ({"to": "bad name!", "message": "x"}, ["send", "bad name!", "x"]),
    ({"to": "hal", "message": ""}, ["send", "hal", ""]),
    ({"to": "hal", "message": "   "}, ["send", "hal", "   "]),
    ({"to": "hal", "message": "x" * (64 * 1024 + 1)}, ["send", "hal", "x" * (64 * 1024 + 1)]),
    ({"to": "hal", "message": "x", "reply_to": "not a token"}, ["send", "hal", "x", "--reply-to", "not a token"]),
    ({"to": "hal", "message": "x", "key": "k" * 200}, ["send", "hal", "x", "--key", "k" * 200]),
    ({"to": "hal", "message": "x", "ttl": 0}, ["send", "hal", "x", "--ttl", "0"]),
    ({"to": "hal", "message": "x", "ttl": -3}, ["send", "hal", "x", "--ttl", "-3"]),
    ({"to": "hal", "message": "x", "ttl": 3e9}, ["send", "hal", "x", "--ttl", "3e9"]),
    ({"to": "nobody", "message": "x"}, ["send", "nobody", "x"]),
]


def test_bad_input_gives_the_cli_error_line_and_writes_nothing(lab, home, short_tmp):
    steps = [call("send", args) for args, _ in BAD_SENDS] + [
        call("receipt", {"id": "no such id"}),
        call("receipt", {"id": "01NOSUCHID"}),
        call("send", {"to": "hal"}),  # missing argument: the SDK's own validation error
        call("send", {"to": "hal", "message": "ok"}),  # and the server still works afterwards
    ]
    agent = McpAgent(lab, short_tmp, "h", steps, name="hal")
    results = agent.calls()
    assert len(results) == len(steps)
    for (args, argv), r in zip(BAD_SENDS, results[: len(BAD_SENDS)], strict=True):
        assert r["is_error"], (args, r["text"])
        cli = tb(*argv, "--no-wake")
        assert cli.returncode in (2, 3)
        line = cli.err.strip()
        assert "\n" not in line and line.startswith("termbridge: ")
        assert r["text"].endswith(line), (r["text"], line)  # the CLI's own one-line text
    bad_id, unknown_id, missing, ok = results[len(BAD_SENDS) :]
    assert bad_id["is_error"] and bad_id["text"].endswith(
        "termbridge: invalid message id 'no such id': use 1-128 of A-Z a-z 0-9 . _ : / @ -"
    )
    assert unknown_id["is_error"] and unknown_id["text"].endswith("termbridge: unknown message id '01NOSUCHID'")
    assert missing["is_error"] and "message" in missing["text"]
    assert not ok["is_error"], ok["text"]
    # Nothing half-written: hal's outbox holds exactly the one good message.
    (row,) = tb_json("status")["sessions"]
    assert (row["name"], row["pending"], row["dead_letters"]) == ("hal", 1, 0)
    assert not (home / "sessions" / "nobody").exists()
    agent.stop()


# ---------------------------------------------------------------- the CLI boundary
def test_missing_sdk_is_one_line_and_exit_1(home, short_tmp):
    shadow = short_tmp / "shadow" / "mcp"
    shadow.mkdir(parents=True)
    # Stands in for an environment without the extra: importing `mcp` fails as it would.
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'mcp'\", name='mcp')\n")
    env = dict(os.environ, PYTHONPATH=str(shadow.parent))
    p = tb("mcp", "--name", "x", env=env)
    assert p.returncode == 1
    assert p.err == "termbridge mcp needs the MCP SDK: pip install 'termbridge[mcp]'\n"
    assert p.out == ""
    assert not (home / "sessions").exists()  # nothing registered


def test_core_cli_does_not_import_the_sdk(home):
    code = (
        "import sys, termbridge.cli as c; from click.testing import CliRunner; "
        "CliRunner().invoke(c.cli, ['sessions']); print('mcp' in sys.modules)"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip()
    assert out == "False"


def test_tools_listed_with_descriptions(home):
    """The five tools and their parameters, as an agent sees them at start-up."""
    import asyncio

    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    async def listing():
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "termbridge", "mcp", "--name", "lister"], env=dict(os.environ)
        )
        async with Client(params) as c:
            return (await c.list_tools()).tools

    tools = {t.name: t for t in asyncio.run(listing())}
    assert set(tools) == {"send", "inbox", "peers", "receipt", "ask"}
    assert set(tools["ask"].input_schema["properties"]) == {"to", "question", "timeout_s"}
    assert set(tools["ask"].input_schema["required"]) == {"to", "question"}
    assert set(tools["send"].input_schema["properties"]) == {"to", "message", "reply_to", "key", "ttl"}
    assert set(tools["send"].input_schema["required"]) == {"to", "message"}
    assert tools["receipt"].input_schema["required"] == ["id"]
    assert all(t.description for t in tools.values())


# ---------------------------------------------------------------- the real agents
TB_EXE = str(Path(sys.executable).parent / "termbridge")
MCP_ADD = {  # each agent's own one-line set-up, as docs/setup.md gives it
    "claude": "mcp add -s user termbridge -- {tb} mcp",
    "codex": "mcp add termbridge -- {tb} mcp",
    "gemini": "mcp add -s user termbridge {tb} mcp",
}


@pytest.fixture(scope="module")
def mcp_stub():
    from agent_stub import AgentStub

    stub = AgentStub()
    yield stub
    stub.close()


@needs_agents
@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["claude", "codex", "gemini"])
def test_real_agent_starts_and_lists_termbridge(lab, home, short_tmp, kind, mcp_stub):
    """The agent's own `mcp add` line works, its `mcp list` shows termbridge (connected, for the
    two that connect there), and the agent's start-up registers it: kind detected, pull, its pane."""
    import subprocess

    from real_agent_lab import READY, agent_setup, reap_codex_daemons, tui_pid

    agent_home, work = short_tmp / f"{kind}-home", short_tmp / "work"
    agent_home.mkdir()
    work.mkdir(exist_ok=True)
    cmd = "env " + agent_setup(kind, agent_home, work, mcp_stub.port)
    try:
        add = subprocess.run(
            f"cd {work} && {cmd} {MCP_ADD[kind].format(tb=TB_EXE)}",
            shell=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert add.returncode == 0, add.stdout + add.stderr
        listing = subprocess.run(
            f"cd {work} && {cmd} mcp list", shell=True, capture_output=True, text=True, timeout=120
        )
        out = listing.stdout + listing.stderr
        assert "termbridge" in out and TB_EXE in out, out
        if kind in ("claude", "gemini"):  # these two start every server to check it
            assert "Connected" in out, out
        pane = lab.pane(f"cd {work} && exec {cmd}")
        retry_until(lambda: READY[kind] in lab.tmux("capture-pane", "-p", "-t", pane.pane_id), 60, 0.2)
        s = retry_until(
            lambda: next((x for x in tb_json("sessions")["sessions"] if x["name"] == kind and x["alive"]), None),
            60,
            0.2,
        )
        assert s["kind"] == kind
        rec = json.loads((home / "sessions" / kind / "session.json").read_text())
        assert rec["delivery"] == "pull"
        assert rec["pid"] == tui_pid(int(pane.pane_pid), kind), rec  # the agent's own TUI
        res = tb_json("resolve", kind)
        assert res["target"] == "tmux:" + pane.pane_id
    finally:
        reap_codex_daemons(agent_home)
