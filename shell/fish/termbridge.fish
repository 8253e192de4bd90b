# termbridge shell integration for fish: OSC 133 prompt marks and optional idle/busy marks.
# Put it in ~/.config/fish/conf.d/termbridge.fish (or source it from config.fish).
status is-interactive; or exit 0
set -q _tb_loaded; and exit 0
set -g _tb_loaded 1

function _tb_mark
    set -q TERMBRIDGE_SESSION; or return 0
    test "$TERMBRIDGE_SHELL_MARKS" = 0; and return 0
    command -q termbridge; or return 0
    command termbridge mark $TERMBRIDGE_SESSION $argv[1] >/dev/null 2>&1 &
    disown 2>/dev/null
end

function _tb_prompt --on-event fish_prompt
    printf '\e]133;D\a\e]133;A\a'
    _tb_mark idle
end

function _tb_preexec --on-event fish_preexec
    printf '\e]133;C\a'
    _tb_mark busy
end
