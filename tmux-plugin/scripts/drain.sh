#!/usr/bin/env bash
# Drain whatever registered session PANE verifiably hosts. Run with run-shell -b, so it
# never blocks tmux; silent on success (run-shell output would cover the pane).
#   drain.sh key|focus PANE_ID SOCKET_PATH
CURRENT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$CURRENT_DIR/variables.sh"
source "$CURRENT_DIR/helpers.sh"

trigger="$1"
pane="$2"
[ -n "$3" ] && export TERMBRIDGE_TMUX_SOCKET="$3"
case "$pane" in %[0-9]*) ;; *) exit 0 ;; esac

cmd="$(get_tmux_option "$command_option" "$command_default")"
if ! command -v "${cmd%% *}" >/dev/null 2>&1; then
    [ "$trigger" = key ] && display_message "termbridge is not installed (pip install termbridge, or set $command_option)"
    exit 0
fi

out="$($cmd drain --pane "$pane" 2>&1 >/dev/null)"
rc=$?
[ "$trigger" = focus ] && [ "$rc" -ne 1 ] && exit 0   # focus drains only speak up on real failures
case "$rc" in
    0) [ -n "$out" ] && display_message "${out#termbridge: }" ;;   # e.g. the pane hosts no session
    4) display_message "termbridge: deferred, ${out#termbridge: }" ;;
    *) display_message "${out:-termbridge: drain failed ($rc)}" ;;
esac
exit 0
