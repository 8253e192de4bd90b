"""`termbridge doctor` and the agent releases: it names the versions termbridge is verified against
and warns, in one line, about an installed agent that is newer. Real executables on PATH: tiny
scripts for the newer, stuck and silent cases, and the real installed agents for the verified case."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import retry_until, tb

from termbridge.agent_versions import VERIFIED

pytestmark = pytest.mark.timeout(120)
REAL = Path(os.environ.get("TERMBRIDGE_REAL_AGENTS") or "/root/.cache/termbridge-agents/node_modules/.bin")


def doctor(path: str, text: bool = False) -> tuple[dict, str]:
    env = {**os.environ, "PATH": path}
    checks = {c["name"]: c for c in json.loads(tb("doctor", "--json", env=env).out)["checks"]}
    return checks, tb("doctor", env=env).out if text else ""


def script(d: Path, name: str, body: str) -> None:
    (d / name).write_text("#!/bin/sh\n" + body + "\n")
    (d / name).chmod(0o755)


@pytest.fixture
def bindir(home, short_tmp, monkeypatch):
    d = short_tmp / "bin"
    d.mkdir()
    monkeypatch.setenv("HOME", str(short_tmp))  # the agents' own settings: a scratch home
    return d


def test_doctor_names_the_verified_releases_and_warns_about_a_newer_agent(bindir):
    script(bindir, "claude", 'echo "9.0.1 (Claude Code)"')
    checks, text = doctor(f"{bindir}:/usr/bin:/bin", text=True)
    assert checks["agent versions"]["status"] == "ok"
    detail = checks["agent versions"]["detail"]
    assert detail.startswith("termbridge is verified against Codex CLI ")
    assert all(version in detail for _, version in VERIFIED.values())
    c = checks["claude version"]
    assert c["status"] == "warn" and c["fix"] == ""
    assert (
        c["detail"]
        == f"Claude Code 9.0.1 is newer than {VERIFIED['claude'][1]}, the release termbridge is verified against"
    )
    lines = [line for line in text.splitlines() if "claude version" in line or "9.0.1" in line]
    assert lines == [f"! claude version: {c['detail']}"]  # one line, no fix line under it
    assert "codex version" not in checks and "gemini version" not in checks  # not installed: not a concern


def test_an_older_agent_is_fine_and_a_broken_one_is_skipped(bindir):
    script(bindir, "codex", 'echo "codex-cli 0.100.0"')
    script(bindir, "gemini", "echo no version here")
    checks, _ = doctor(f"{bindir}:/usr/bin:/bin")
    assert checks["codex version"]["status"] == "ok" and "older than the verified" in checks["codex version"]["detail"]
    assert checks["gemini version"]["status"] == "skip" and "no version" in checks["gemini version"]["detail"]


def test_a_stuck_agent_does_not_hold_doctor_and_is_killed_whole(bindir, short_tmp):
    """`--version` that never answers: skipped after the timeout, and the launcher's child is gone too."""
    marker = f"tb-stuck-{short_tmp.name}"
    (bindir / marker).symlink_to("/bin/sleep")
    script(bindir, "gemini", f'"{bindir / marker}" 300 & wait')  # a launcher script and the binary it starts
    checks, _ = doctor(f"{bindir}:/usr/bin:/bin")
    assert (
        checks["gemini version"]["status"] == "skip"
        and "did not answer within 5 s" in checks["gemini version"]["detail"]
    )

    def stuck() -> list[str]:
        ps = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
        return [line for line in ps.splitlines() if marker in line]

    assert retry_until(lambda: not stuck(), 10, 0.1)


@pytest.mark.skipif(not (REAL / "codex").exists(), reason="the real agents are not installed")
def test_the_real_installed_agents_are_the_verified_ones(bindir):
    checks, _ = doctor(f"{REAL}:/usr/bin:/bin")
    for kind in ("codex", "claude", "gemini"):
        c = checks[f"{kind} version"]
        assert c["status"] == "ok" and c["detail"].endswith(f"{VERIFIED[kind][1]} (verified)"), c
