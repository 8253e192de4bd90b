#!/usr/bin/env bash
# Codex `notify` program for termbridge (the older way: prefer `termbridge hooks install --agent codex`,
# which installs shell/codex/hooks.json-style lifecycle hooks). In ~/.codex/config.toml:
#   notify = ["bash", "/path/to/termbridge/shell/codex/notify.sh"]
# Codex runs it with one JSON argument after each turn; on agent-turn-complete this
# (re)registers the session with Codex's PID (our parent), marks it idle and drains
# pending peer messages into it. It never fails Codex: every error is swallowed.
session="${TERMBRIDGE_SESSION:-codex}"
payload="${1:-}"
case "$payload" in
  *'"agent-turn-complete"'*) ;;
  *) exit 0 ;;
esac
command -v termbridge >/dev/null 2>&1 || exit 0
termbridge register "$session" --pid "$PPID" --kind codex >/dev/null 2>&1 || true
termbridge mark "$session" idle >/dev/null 2>&1 || true
# Give the TUI a moment to settle into its idle screen, then drain (idle-checked) in the background.
( sleep 0.5; termbridge drain "$session" >/dev/null 2>&1 ) </dev/null >/dev/null 2>&1 &
exit 0
