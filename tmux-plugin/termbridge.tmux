#!/usr/bin/env bash
# termbridge tmux plugin (TPM, or: run-shell /path/to/tmux-plugin/termbridge.tmux).
# Binds prefix + D to drain the current pane and drains a pane when it gains focus; turns
# #{termbridge_pending} and #{termbridge_attention} in status-left/status-right into jobs.
# Safe to run again on every config reload: one binding, one hook at a fixed index.
CURRENT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$CURRENT_DIR/scripts/variables.sh"
source "$CURRENT_DIR/scripts/helpers.sh"

main() {
    local key on_focus previous recorded
    key="$(get_tmux_option "$drain_key_option" "$drain_key_default")"
    on_focus="$(get_tmux_option "$drain_on_focus_option" "$drain_on_focus_default")"
    # If the key option changed since the last load, drop the old binding (it is ours).
    previous="$(get_tmux_option "$bound_key_option" "")"
    if [ -n "$previous" ] && [ "$previous" != "$key" ]; then
        tmux unbind-key "$previous" 2>/dev/null
    fi
    # Record the absolute termbridge in the bindings (drain.sh prefers @termbridge-command,
    # then this, then PATH), and in an option for `termbridge doctor`.
    recorded="$(find_termbridge "$CURRENT_DIR")"
    tmux set-option -gq "$command_path_option" "$recorded"
    tmux bind-key "$key" run-shell -b "'$CURRENT_DIR/scripts/drain.sh' key '#{pane_id}' '#{socket_path}' '$recorded'"
    tmux set-option -gq "$bound_key_option" "$key"
    if [ "$on_focus" = "on" ]; then
        tmux set-option -g focus-events on
        # A fixed index: a bare set-hook would clear the user's own pane-focus-in hooks.
        tmux set-hook -g "pane-focus-in[$focus_hook_index]" \
            "run-shell -b \"'$CURRENT_DIR/scripts/drain.sh' focus '#{hook_pane}' '#{socket_path}' '$recorded'\""
    else
        tmux set-hook -gu "pane-focus-in[$focus_hook_index]" 2>/dev/null
    fi
    interpolate_status "$(status_command "$recorded")"
}
main
