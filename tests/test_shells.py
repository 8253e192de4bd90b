"""Real shells (bash, zsh -f with hostile options, fish, dash) as `--kind shell` sessions: their idle
prompts are recognised, and they only ever get the fixed nudge, inert whatever the peer wrote."""

from __future__ import annotations

import os
import shlex
import shutil
import time

import pytest
from helpers import retry_until, tb, tb_json

pytestmark = pytest.mark.timeout(120)

SHELLS = {
    "bash": "bash --norc --noprofile -i",
    "zsh": "zsh -f -i",
    "zsh-hostile": "zsh -f -i -o extendedglob -o nomatch -o cshnullglob -o rcquotes -o promptsubst",
    "fish": "fish --no-config -i",
    "dash": "dash -i",
}


def _hostile(marker_dir) -> list[str]:
    m = shlex.quote(str(marker_dir))
    return [
        f"it's $(touch {m}/P1) x",
        f"`touch {m}/P2`",
        f"'; touch {m}/P3; echo '",
        f"(touch {m}/P4)",
        f"x; touch {m}/P5 # and {{touch,{m}/P6}}",
        f"=touch {m}/P7 | touch {m}/P8 & touch {m}/P9",
        f"\ntouch {m}/P10\n",
    ]


def _shell_pane(lab, short_tmp, name: str):
    if shutil.which(SHELLS[name].split()[0]) is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    home = short_tmp / f"h-{name}"
    home.mkdir()
    env = f"env -i HOME={shlex.quote(str(home))} PATH={shlex.quote(os.environ['PATH'])} TERM=screen"
    pane = lab.pane(f"exec {env} {SHELLS[name]}")
    assert tb("register", name, "--pid", int(pane.pane_pid), "--kind", "shell").returncode == 0
    return pane


@pytest.mark.parametrize("name", list(SHELLS))
def test_idle_prompt_is_idle_and_only_the_inert_nudge_is_typed(lab, short_tmp, name):
    pane = _shell_pane(lab, short_tmp, name)
    markers = short_tmp / "markers"
    markers.mkdir()
    retry_until(lambda: tb_json("status")["sessions"][0]["surface"] == "idle", 15)
    bodies = _hostile(markers)
    for body in bodies:
        tb("send", name, body, "--no-wake")
    p = tb("drain", name)
    assert p.returncode == 0 and "drain --print" in p.err, p.err
    nudge = f"termbridge: peer messages wait for {name}. Read them with: termbridge drain {name} --print"
    retry_until(lambda: nudge in lab.tmux("capture-pane", "-p", "-J", "-S", "-50", "-t", pane.pane_id), 10)
    time.sleep(0.8)
    screen = lab.tmux("capture-pane", "-p", "-J", "-S", "-50", "-t", pane.pane_id)
    assert "touch" not in screen and "$(" not in screen  # no peer text ever reached the shell
    assert sorted(os.listdir(markers)) == []  # and nothing ran
    assert tb_json("status")["sessions"][0]["pending"] == len(bodies)
    retry_until(lambda: tb_json("status")["sessions"][0]["surface"] == "idle", 10)
    assert tb("send", name, "one more").returncode == 0  # a send nudges too (never types the body)
    time.sleep(1.0)
    assert "one more" not in lab.tmux("capture-pane", "-p", "-J", "-S", "-80", "-t", pane.pane_id)
    printed = tb("drain", name, "--print").out  # peer text reaches the person this way
    assert all(b.strip().split("\n")[0] in printed for b in bodies) and "not instructions from your user" in printed
    assert tb_json("status")["sessions"][0]["pending"] == 0 and os.listdir(markers) == []


def test_submit_refuses_peer_text_into_a_shell(lab, short_tmp):
    pane = _shell_pane(lab, short_tmp, "bash")
    p = tb("submit", "bash", "echo hi")
    assert p.returncode == 2 and "never receives peer text" in p.err
    time.sleep(0.3)
    assert "echo hi" not in lab.tmux("capture-pane", "-p", "-t", pane.pane_id)


def test_shell_with_a_typed_command_is_a_draft(lab, short_tmp):
    pane = _shell_pane(lab, short_tmp, "dash")
    retry_until(lambda: tb_json("status")["sessions"][0]["surface"] == "idle", 15)
    lab.tmux("send-keys", "-t", pane.pane_id, "-l", "ls -l")
    retry_until(lambda: tb_json("status")["sessions"][0]["surface"] == "draft", 10)
    tb("send", "dash", "x", "--no-wake")
    assert tb("drain", "dash").returncode == 4 and tb_json("wake", "dash")["outcome"] == "skipped_busy"


def test_zsh_under_the_pty_wrapper_is_inert_too(home, short_tmp):
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (.ci/run installs it)")
    from test_wrapper import Term

    markers = short_tmp / "m"
    markers.mkdir()
    t = Term(["--name", "zr", "--kind", "shell", "--", "zsh", "-f", "-i"])
    try:
        retry_until(
            lambda: (
                tb("status", "--json").returncode == 0
                and tb_json("status")["sessions"]
                and tb_json("status")["sessions"][0]["surface"] == "idle"
            ),
            15,
        )
        tb("send", "zr", f"it's $(touch {markers}/P) x", "--no-wake")
        assert tb("drain", "zr").returncode == 0
        t.read(b"drain zr --print")
        time.sleep(0.8)
        assert os.listdir(markers) == [] and b"touch" not in t.out
    finally:
        t.proc.kill()
        t.proc.wait()


def test_focus_drains_of_a_shell_nudge_once_per_window(lab, short_tmp):
    pane = _shell_pane(lab, short_tmp, "dash")
    retry_until(lambda: tb_json("status")["sessions"][0]["surface"] == "idle", 15)
    tb("send", "dash", "peer text", "--no-wake")
    first, second = tb("drain", "dash"), tb("drain", "dash")  # two focus events in a row
    assert first.returncode == 0 and "nudged;" in first.err
    assert second.returncode == 0 and "nudged moments ago" in second.err
    time.sleep(0.8)
    screen = lab.tmux("capture-pane", "-p", "-J", "-S", "-50", "-t", pane.pane_id)
    assert screen.count("true termbridge: peer messages wait for dash.") == 1
    assert tb_json("status")["sessions"][0]["pending"] == 1
