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
