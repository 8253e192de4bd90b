#!/usr/bin/env bash
# Set up on a fresh Debian machine and run the main job or the tests:
#   ./dev.sh demo    installs what is missing (tmux, a venv, termbridge) and runs `termbridge demo`
#   ./dev.sh test    also installs the test extra and kitty/Xvfb/xdotool, then runs the test suite
#   ./dev.sh check   a venv with the test extra, then the static checks: ruff lint, ruff format, mypy
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
    [ -e /usr/lib/x86_64-linux-gnu/dri ] || [ -e /usr/lib/aarch64-linux-gnu/dri ] || need+=(libgl1-mesa-dri)
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
    exec .venv/bin/mypy
elif [ "$what" = test ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
    exec .venv/bin/python -m pytest -q
else
    .venv/bin/python -m pip install -q -e .
    exec .venv/bin/termbridge demo
fi
