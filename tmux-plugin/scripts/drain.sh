#!/usr/bin/env bash
# Drain whatever registered session PANE verifiably hosts. Run with run-shell -b, so it
# never blocks tmux; silent on success (run-shell output would cover the pane).
#   drain.sh key|focus PANE_ID SOCKET_PATH [TERMBRIDGE_PATH recorded when the plugin loaded]
CURRENT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$CURRENT_DIR/variables.sh"
source "$CURRENT_DIR/helpers.sh"

trigger="$1"
pane="$2"
[ -n "$3" ] && export TERMBRIDGE_TMUX_SOCKET="$3"
case "$pane" in %[0-9]*) ;; *) exit 0 ;; esac

recorded="$4"

# Which termbridge: @termbridge-command (split into words), else the absolute path recorded
# when the plugin loaded, else `termbridge` on the tmux server's PATH.
option="$(get_tmux_option "$command_option" "")"
if [ -n "$option" ]; then
    read -r -a cmd <<< "$option"
    if ! command -v "${cmd[0]}" >/dev/null 2>&1; then
        [ "$trigger" = key ] && display_message "termbridge: $command_option is '$option', which does not run: fix it (termbridge paths command)"
        exit 0
    fi
elif [ -n "$recorded" ] && [ -x "$recorded" ]; then
    cmd=("$recorded")
elif command -v termbridge >/dev/null 2>&1; then
    cmd=(termbridge)
else
    if [ "$trigger" = key ]; then
        if [ -n "$recorded" ]; then
            display_message "termbridge: $recorded is gone and termbridge is not on PATH: reinstall it, or set $command_option, then reload tmux.conf"
        else
            display_message "termbridge not found: install it (pipx install /path/to/termbridge), or set -g $command_option /path/to/termbridge"
        fi
    fi
    exit 0
fi

out="$("${cmd[@]}" drain --pane "$pane" 2>&1 >/dev/null)"
rc=$?
# Focus drains speak up on real failures, and when a person is why nothing was typed (a dialog
# waiting for them, the pane in copy mode): one line; an agent that is merely working stays quiet.
if [ "$trigger" = focus ] && [ "$rc" -ne 1 ]; then
    case "$rc:$out" in 4:*"(dialog:"*|4:*"pane is in "*) ;; *) exit 0 ;; esac
fi
case "$rc" in
    0) [ -n "$out" ] && display_message "${out#termbridge: }" ;;   # e.g. the pane hosts no session
    4) display_message "termbridge: deferred, ${out#termbridge: }" ;;
    *) display_message "${out:-termbridge: drain failed ($rc)}" ;;
esac
exit 0
