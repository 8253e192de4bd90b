#!/usr/bin/env bash
# Set up on a fresh Debian machine and run the main job or the tests:
#   ./dev.sh demo    installs what is missing (tmux, a venv, termbridge) and runs `termbridge demo`
#   ./dev.sh test    also installs the test extra, kitty/Xvfb/xdotool and the pinned real agents
#                    (Codex, Claude Code, Gemini CLI from the npm registry, into a cache outside the
#                    repository), then runs the whole test suite, real-agent tiers included
#   ./dev.sh check   a venv with the test extra, then the static checks: ruff lint, ruff format, no
#                    import cycles (tools/import_cycles.py --check), mypy
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
what="${1:-}"
case "$what" in demo|test|check) ;; *) echo "usage: ./dev.sh demo|test|check" >&2; exit 2 ;; esac

need=()
[ "$what" = check ] || command -v tmux >/dev/null 2>&1 || need+=(tmux)
if [ "$what" = test ]; then
    # The real-kitty tests; they skip (saying why) only where these cannot be installed.
    command -v kitty >/dev/null 2>&1 || need+=(kitty)
    command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
    command -v xauth >/dev/null 2>&1 || need+=(xauth)
    command -v xdotool >/dev/null 2>&1 || need+=(xdotool)
    # Real shells for the hostile-text tests (a shell session only ever gets an inert nudge).
    for sh in zsh fish dash; do command -v "$sh" >/dev/null 2>&1 || need+=("$sh"); done
    # Agents on other machines (tests/test_remote.py): a real sshd on 127.0.0.1 and the ssh client.
    [ -x /usr/sbin/sshd ] || need+=(openssh-server)
    command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
    [ -e /usr/lib/x86_64-linux-gnu/dri ] || [ -e /usr/lib/aarch64-linux-gnu/dri ] || need+=(libgl1-mesa-dri)
    # The real agents install with npm (not needed when TERMBRIDGE_REAL_AGENTS points at them).
    if [ -z "${TERMBRIDGE_REAL_AGENTS:-}" ]; then
        command -v node >/dev/null 2>&1 || need+=(nodejs)
        command -v npm >/dev/null 2>&1 || need+=(npm)
    fi
fi
if [ "${#need[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || $sudo true 2>/dev/null; }; then
        echo "dev.sh: installing ${need[*]}" >&2
        $sudo apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        echo "dev.sh: please install: ${need[*]} (no root or apt-get here)" >&2
    fi
fi
[ "$what" = check ] || command -v tmux >/dev/null 2>&1 || { echo "dev.sh: tmux is required" >&2; exit 1; }

py="${PYTHON:-python3}"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "dev.sh: Python 3.11+ is required" >&2; exit 1; }
[ -x .venv/bin/python ] || "$py" -m venv .venv
if [ "$what" = check ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/python tools/import_cycles.py --check
    exec .venv/bin/mypy
elif [ "$what" = test ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
    if [ -z "${TERMBRIDGE_REAL_AGENTS:-}" ]; then
        # The pinned agents (termbridge/agent_versions.py) into
        # ${XDG_CACHE_HOME:-~/.cache}/termbridge/agents/<hash of the versions>, reused once complete.
        # When the registry cannot be reached the real tiers skip, giving npm's reason.
        .venv/bin/python tests/real_agent_lab.py install >/dev/null \
            || echo "dev.sh: the real agents could not be installed; their test tiers will skip" >&2
    fi
    exec .venv/bin/python -m pytest -q
else
    .venv/bin/python -m pip install -q -e .
    exec .venv/bin/termbridge demo
fi
