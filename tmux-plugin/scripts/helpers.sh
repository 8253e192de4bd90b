get_tmux_option() {
    local value
    value="$(tmux show-option -gqv "$1")"
    if [ -z "$value" ]; then echo "$2"; else echo "$value"; fi
}

display_message() {
    tmux display-message "$1"
}

# The absolute path of the termbridge that ships this plugin, for the bindings to record:
# installed, the plugin is <prefix>/lib/pythonX.Y/site-packages/termbridge/data/tmux-plugin
# and termbridge is <prefix>/bin/termbridge; in a clone it is ./dev.sh's .venv; else PATH's
# (the tmux server's PATH often lacks ~/.local/bin, hence recording an absolute path).
# Prints nothing when none is found, or when the path could not be quoted in a binding.
find_termbridge() {
    local dir candidate
    dir="$(cd "$1" && pwd -P)"
    case "$dir" in
        */lib/python*/*-packages/termbridge/data/tmux-plugin)
            candidate="${dir%/lib/python*/*-packages/termbridge/data/tmux-plugin}/bin/termbridge" ;;
        *) candidate="${dir%/*}/.venv/bin/termbridge" ;;
    esac
    if [ ! -x "$candidate" ] || [ -d "$candidate" ]; then
        candidate="$(command -v termbridge 2>/dev/null)"
    fi
    case "$candidate" in
        *"'"* | *"#"* | *$'\n'*) return 0 ;;   # would break the binding's quoting or tmux formats
        /*) [ -x "$candidate" ] && echo "$candidate" ;;
    esac
    return 0
}

# The termbridge command the status-line jobs run: @termbridge-command, else the absolute
# termbridge found when the plugin loaded (RECORDED), else `termbridge` on the tmux server's
# PATH. A command holding what a #() would break on (#, parentheses) is passed over.
status_command() {
    local option
    option="$(get_tmux_option "$command_option" "")"
    case "$option" in
        "" | *"#"* | *"("* | *")"* | *$'\n'*) ;;
        *) echo "$option"; return 0 ;;
    esac
    if [ -n "$1" ]; then echo "'$1'"; else echo termbridge; fi
}

# The icon option $1 (default $2), quoted for the job's shell; one that would break the
# quoting or tmux's formats (' # ( ) { } \ or a newline) falls back to the default.
status_icon() {
    local icon="$2"
    # Set (even to nothing, for no icon) or not: only show-option without -v tells them apart.
    [ -n "$(tmux show-option -gq "$1")" ] && icon="$(tmux show-option -gqv "$1")"
    case "$icon" in
        *"'"* | *"#"* | *"("* | *")"* | *"{"* | *"}"* | *"\\"* | *$'\n'*) icon="$2" ;;
    esac
    echo "'$icon'"
}

# Replace #{termbridge_pending} and #{termbridge_attention} in status-left and status-right
# with #() jobs running COMMAND (as tmux-cpu and tmux-battery do). Idempotent: once replaced,
# a placeholder is gone, so a reload changes nothing unless tmux.conf set the option again.
interpolate_status() {
    local cmd="$1" option value new pending attention
    pending="#($cmd statusline pending #{pane_pid} --icon $(status_icon "$pending_icon_option" "$pending_icon_default"))"
    attention="#($cmd statusline attention --icon $(status_icon "$attention_icon_option" "$attention_icon_default"))"
    for option in status-left status-right; do
        value="$(tmux show-option -gqv "$option")"
        new="${value//"#{termbridge_pending}"/"$pending"}"
        new="${new//"#{termbridge_attention}"/"$attention"}"
        if [ "$new" != "$value" ]; then
            tmux set-option -gq "$option" "$new"
        fi
    done
}
