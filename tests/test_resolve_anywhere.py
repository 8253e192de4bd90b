"""Resolution does not depend on the caller: two real tmux servers at once, callers with no $TMUX
(like cron) and callers inside the other server, forged claims, dead sockets, and discovery of
this user's servers in $TMUX_TMPDIR/tmux-UID/ (a private directory here: tests never touch the
user's real servers)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import time
from pathlib import Path

import libtmux
import pytest
from helpers import retry_until, tb, tb_json
from lab import PY, Agent, TmuxLab

from termbridge import proctree

pytestmark = pytest.mark.timeout(180)

CALLER_VARS = ("TMUX", "TMUX_PANE", "TERMBRIDGE_TMUX_SOCKET", "KITTY_LISTEN_ON", "TERMBRIDGE_KITTY_SOCKET")


def cron_env() -> dict:
    """A caller with no terminal at all: no $TMUX, no socket variables (a cron job, a kitty window)."""
    return {k: v for k, v in os.environ.items() if k not in CALLER_VARS}


def inside(lab: TmuxLab) -> dict:
    """A caller in a pane of LAB's server: only $TMUX names it, as tmux sets it."""
    return dict(cron_env(), TMUX=f"{lab.socket},1,0")


def agent_in(lab: TmuxLab, title: str, prefix: str = "") -> Agent:
    """The demo agent in a new pane of LAB (PREFIX: e.g. `env VAR=… ` to forge its environment)."""
    lab.n += 1
    log = lab.dir / f"agent{lab.n}.log"
    agent = f"{shlex.quote(PY)} -m termbridge.demo_agent"
    cmd = f"exec {prefix}{agent} --log {shlex.quote(str(log))} --title {title} --work 0"
    return Agent(lab, lab.pane(cmd), log).wait_ready()


def socket_dir(short_tmp: Path) -> Path:
    """This user's tmux socket directory as tmux computes it from $TMUX_TMPDIR (set by the home fixture)."""
    assert os.environ["TMUX_TMPDIR"] == str(short_tmp)
    d = short_tmp / f"tmux-{os.getuid()}"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def stale_socket(path: Path) -> str:
    """A socket file nobody listens on (what a crashed tmux server leaves behind): connect() is refused."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    return str(path)


@pytest.fixture
def labs(short_tmp, home):
    """Make isolated tmux servers on demand (socket SOCK, else DIRECTORY/tmux.sock); all killed at the end."""
    made = []

    def make(directory: Path | None = None, sock: Path | None = None) -> TmuxLab:
        d = directory or short_tmp / f"s{len(made)}"
        d.mkdir(mode=0o700, exist_ok=True)
        t = TmuxLab(d)
        if sock is not None:
            t.socket = str(sock)
            t.server = libtmux.Server(socket_path=t.socket, config_file="/dev/null")
        made.append(t)
        return t

    yield make
    for t in made:
        t.kill()


def pending(name: str, env: dict) -> int:
    return next(r for r in tb_json("status", env=env)["sessions"] if r["name"] == name)["pending"]


# ---------------------------------------------------------------- register records where the agent lives
def test_register_records_tmux_server_and_kitty_address(labs, short_tmp, sleeper):
    a = labs()
    pid = sleeper().pid
    rec = tb_json("register", "x", "--pid", pid, env=dict(cron_env(), TERMBRIDGE_TMUX_SOCKET=a.socket))
    assert (rec["tmux_socket"], rec["kitty_socket"]) == (a.socket, None)
    rec = tb_json("register", "x", "--pid", pid, env=dict(inside(a), KITTY_LISTEN_ON="unix:/tmp/kitty-x"))
    assert (rec["tmux_socket"], rec["kitty_socket"]) == (a.socket, "unix:/tmp/kitty-x")
    rec = tb_json(
        "register",
        "x",
        "--pid",
        pid,
        env=dict(cron_env(), TERMBRIDGE_KITTY_SOCKET="unix:@k", KITTY_LISTEN_ON="unix:/tmp/other"),
    )
    assert (rec["tmux_socket"], rec["kitty_socket"]) == (None, "unix:@k")  # no server answers at the default socket
    stored = json.loads((Path(os.environ["TERMBRIDGE_HOME"]) / "sessions" / "x" / "session.json").read_text())
    assert (stored["tmux_socket"], stored["kitty_socket"]) == (None, "unix:@k")
    # tmux's default socket counts once a server answers there.
    d = labs(sock=socket_dir(short_tmp) / "default")
    d.pane("sleep 600")
    assert tb_json("register", "x", "--pid", pid, env=cron_env())["tmux_socket"] == d.socket


# ---------------------------------------------------------------- two servers, callers anywhere
@pytest.fixture
def two(labs):
    """Server A runs the agent (registered from A's pane environment); server B runs a decoy agent
    whose pane has the same id (%0 on both servers)."""
    a, b = labs(), labs()
    agent, decoy = agent_in(a, "agent"), agent_in(b, "decoy")
    assert agent.pane_id == decoy.pane_id == "%0"  # the pane id alone cannot tell them apart
    rec = tb_json("register", "agent", "--pid", agent.pid, "--kind", "codex", env=a.env())
    assert rec["tmux_socket"] == a.socket
    return a, b, agent, decoy


@pytest.mark.parametrize("where", ["cron", "server_b"])
def test_resolve_submit_and_drain_from_anywhere(two, where):
    a, b, agent, decoy = two
    env = cron_env() if where == "cron" else inside(b)
    res = tb_json("resolve", "agent", env=env)
    assert (res["target"], res["tmux_socket"]) == ("tmux:%0", a.socket)
    assert res["chain"][0] == agent.pid and res["chain"][-1] == int(agent.pane.pane_pid)

    assert tb_json("submit", "agent", "direct hello", env=env)["submitted"] is True
    retry_until(lambda: agent.submissions() == ["direct hello"])

    ids = [tb_json("send", "agent", body, "--from", "peer", "--no-wake", env=env)["id"] for body in ("one", "two")]
    assert pending("agent", env) == 2
    p = tb("drain", "agent", env=env)
    assert p.returncode == 0, p.err
    retry_until(lambda: len(agent.submissions()) == 2)
    assert all(i in agent.submissions()[1] for i in ids)
    assert pending("agent", env) == 0

    row = next(r for r in tb_json("status", env=env)["sessions"] if r["name"] == "agent")
    assert (row["target"], row["tmux_socket"]) == ("tmux:%0", a.socket)
    time.sleep(0.3)
    assert decoy.submissions() == [] and "hello" not in decoy.screen()
    assert len(agent.submissions()) == 2


def test_drain_pane_matches_only_the_callers_own_server(two):
    a, b, agent, decoy = two
    tb_json("send", "agent", "for the agent", "--no-wake", env=cron_env())
    # From B, %0 is the decoy's pane: it hosts no registered session, nothing is drained.
    p = tb("drain", "--pane", "%0", env=inside(b))
    assert p.returncode == 0 and "hosts no registered session" in p.err
    assert pending("agent", cron_env()) == 1
    # From A (a key binding or focus hook runs with A's $TMUX), %0 is the agent's pane.
    p = tb("drain", "--pane", "%0", env=inside(a))
    assert p.returncode == 0, p.err
    retry_until(lambda: len(agent.submissions()) == 1)
    assert "for the agent" in agent.submissions()[0] and pending("agent", cron_env()) == 0
    time.sleep(0.3)
    assert decoy.submissions() == []


def test_forged_claims_are_never_chosen(labs, short_tmp):
    """A decoy in B claims A's pane (its $TMUX names A, its $TMUX_PANE is the agent's pane) and is
    registered from that forged environment: every resolution still follows the PID chain."""
    a = labs()
    b = labs(socket_dir(short_tmp))  # discoverable, but never named by anyone honest
    real = agent_in(a, "real")
    forged = f"env TMUX={shlex.quote(a.socket)},1,0 TMUX_PANE={real.pane_id} "
    decoy = agent_in(b, "decoy", prefix=forged)
    assert real.pane_id == decoy.pane_id
    assert tb("register", "real", "--pid", real.pid, "--kind", "codex", env=a.env()).returncode == 0
    claim = dict(cron_env(), TMUX=f"{a.socket},1,0", TMUX_PANE=real.pane_id)
    assert tb_json("register", "decoy", "--pid", decoy.pid, "--kind", "codex", env=claim)["tmux_socket"] == a.socket

    for env in (cron_env(), inside(a), inside(b), claim):
        assert tb_json("resolve", "decoy", env=env)["tmux_socket"] == b.socket
        assert tb_json("resolve", "real", env=env)["tmux_socket"] == a.socket
    assert tb_json("submit", "decoy", "to the decoy", env=claim)["submitted"] is True
    assert tb_json("submit", "real", "to the real one", env=inside(b))["submitted"] is True
    retry_until(lambda: decoy.submissions() == ["to the decoy"] and real.submissions() == ["to the real one"])
    # drain --pane from A: the decoy is registered as living in A, but A's %0 hosts the real one.
    tb_json("send", "real", "queued for real", "--no-wake", env=cron_env())
    tb_json("send", "decoy", "queued for decoy", "--no-wake", env=cron_env())
    assert tb("drain", "--pane", "%0", env=inside(a)).returncode == 0
    retry_until(lambda: len(real.submissions()) == 2)
    assert "queued for real" in real.submissions()[1]
    assert pending("real", cron_env()) == 0 and pending("decoy", cron_env()) == 1
    time.sleep(0.3)
    assert decoy.submissions() == ["to the decoy"]


# ---------------------------------------------------------------- dead sockets, discovery
def test_dead_registered_socket_is_skipped_and_others_still_checked(labs, short_tmp):
    sockdir = socket_dir(short_tmp)
    live = labs(sockdir)
    agent = agent_in(live, "agent")
    stale = stale_socket(short_tmp / "stale.sock")  # registered: a socket file with no server behind it
    stale_socket(sockdir / "aa-dead")  # and one in the socket directory, listed before the live one
    for registered in (stale, str(short_tmp / "never-was.sock")):
        rec = tb_json(
            "register",
            "agent",
            "--pid",
            agent.pid,
            "--kind",
            "codex",
            env=dict(cron_env(), TERMBRIDGE_TMUX_SOCKET=registered),
        )
        assert rec["tmux_socket"] == registered
        p = tb("resolve", "agent", "--json", env=cron_env())
        assert p.returncode == 0 and p.err == "", p.err
        assert json.loads(p.out)["tmux_socket"] == live.socket
    assert tb_json("submit", "agent", "found anyway", env=cron_env())["submitted"] is True
    retry_until(lambda: agent.submissions() == ["found anyway"])


def test_discovery_finds_a_server_never_named_and_only_in_the_socket_dir(labs, short_tmp):
    hidden = labs(socket_dir(short_tmp))
    agent = agent_in(hidden, "agent")
    rec = tb_json("register", "agent", "--pid", agent.pid, "--kind", "codex", env=cron_env())
    assert rec["tmux_socket"] is None  # registered from nowhere: nothing names its server
    res = tb_json("resolve", "agent", env=cron_env())
    assert (res["target"], res["tmux_socket"]) == (f"tmux:{agent.pane_id}", hidden.socket)
    assert tb_json("submit", "agent", "found you", env=cron_env())["submitted"] is True
    retry_until(lambda: agent.submissions() == ["found you"])

    elsewhere = labs()  # a server outside $TMUX_TMPDIR/tmux-UID is not "this user's" by discovery
    outsider = agent_in(elsewhere, "outsider")
    tb("register", "outsider", "--pid", outsider.pid, env=cron_env())
    p = tb("resolve", "outsider", env=cron_env())
    assert p.returncode == 3 and "no tmux pane" in p.err
    assert tb("resolve", "outsider", env=inside(elsewhere)).returncode == 0  # the caller's own server counts


def test_first_server_that_proves_it_ends_the_search(labs, short_tmp):
    """One `list-panes` when the registered server proves the chain, however many servers run."""
    sockdir = socket_dir(short_tmp)
    others = [labs(sock=sockdir / f"other{i}") for i in range(3)]
    for o in others:
        o.pane("sleep 600")
    home_lab = labs(sockdir)
    agent = agent_in(home_lab, "agent")
    tb("register", "agent", "--pid", agent.pid, env=home_lab.env())
    unnamed = agent_in(home_lab, "unnamed")
    tb("register", "unnamed", "--pid", unnamed.pid, env=cron_env())

    shim = short_tmp / "shim"
    shim.mkdir()
    calls = short_tmp / "calls"
    (shim / "tmux").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {shutil.which("tmux")} "$@"\n')
    (shim / "tmux").chmod(0o755)
    counted = dict(cron_env(), PATH=f"{shim}:{os.environ['PATH']}")

    assert tb("resolve", "agent", env=counted).returncode == 0
    assert len(calls.read_text().splitlines()) == 1
    calls.unlink()
    # Registered nowhere: this user's servers are listed until one proves it, each once at most.
    assert tb("resolve", "unnamed", env=counted).returncode == 0
    listed = calls.read_text().splitlines()
    assert len(listed) == len(set(listed)) == 4  # other0..2 (sorted first) answered, then tmux.sock proved it


def test_nearest_verified_ancestor_wins_across_servers(labs, short_tmp):
    """A tmux server run in the foreground (-D) in a pane of A hosts the agent: A's pane is in the
    agent's chain too, but the inner pane is nearer, so the registered server does not end the search."""
    a = labs()
    inner = labs(sock=socket_dir(short_tmp) / "inner")
    host = a.pane(f"exec tmux -S {shlex.quote(inner.socket)} -f /dev/null -D")
    retry_until(lambda: os.path.exists(inner.socket))
    agent = agent_in(inner, "agent")
    tb("register", "agent", "--pid", agent.pid, "--kind", "codex", env=a.env())
    res = tb_json("resolve", "agent", env=cron_env())
    assert (res["target"], res["tmux_socket"]) == (f"tmux:{agent.pane_id}", inner.socket)
    assert res["chain"] == [agent.pid]  # A's pane (the inner server) is one step further up
    assert agent.pid in proctree.descendants(int(host.pane_pid))
    assert tb_json("submit", "agent", "innermost", env=inside(a))["submitted"] is True
    retry_until(lambda: agent.submissions() == ["innermost"])


def test_kitty_agent_reached_from_a_caller_with_no_kitty_socket(short_tmp, home, monkeypatch, labs):
    from kittylab import agent_kitty
    from lab import read_submissions

    k = agent_kitty(short_tmp, monkeypatch)  # sets TERMBRIDGE_KITTY_SOCKET for the registering side
    try:
        w = k.windows()[0]
        retry_until(lambda: "›" in k.client.get_text(w["id"]), 15)
        assert tb_json("register", "k", "--pid", w["pid"], "--kind", "codex")["kitty_socket"] == k.address
        b = labs()
        agent_in(b, "decoy")
        for env in (cron_env(), inside(b)):
            res = tb_json("resolve", "k", env=env)
            assert (res["backend"], res["target"]) == ("kitty", f"kitty:{k.address}:{w['id']}")
        assert tb_json("submit", "k", "via the registered kitty", env=cron_env())["submitted"] is True
        retry_until(lambda: read_submissions(k.log) == ["via the registered kitty"], 15)
    finally:
        k.close()
