get_tmux_option() {
    local value
    value="$(tmux show-option -gqv "$1")"
    if [ -z "$value" ]; then echo "$2"; else echo "$value"; fi
}

display_message() {
    tmux display-message "$1"
}
