# termbridge shell integration for bash: OSC 133 prompt marks (idle detection under
# `termbridge run`) and, when TERMBRIDGE_SESSION is set, idle/busy marks for that session.
# Source it from ~/.bashrc:   source /path/to/termbridge/shell/bash/termbridge.bash
[[ $- == *i* ]] || return 0           # interactive shells only
[[ -n ${_tb_loaded:-} ]] && return 0  # idempotent: sourcing twice adds nothing
_tb_loaded=1

_tb_mark() {  # report idle/busy for $TERMBRIDGE_SESSION in the background, never blocking the prompt
    [[ -n ${TERMBRIDGE_SESSION:-} && ${TERMBRIDGE_SHELL_MARKS:-1} != 0 ]] || return 0
    command -v termbridge >/dev/null 2>&1 || return 0
    (termbridge mark "$TERMBRIDGE_SESSION" "$1" >/dev/null 2>&1 &)
}

_tb_prompt() {
    local status=$?
    printf '\033]133;D;%s\007\033]133;A\007' "$status"   # previous command done; prompt starts
    _tb_mark idle
    return $status
}

# Append to PROMPT_COMMAND (string or array form), never overwrite the user's own hooks.
if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
    PROMPT_COMMAND+=(_tb_prompt)
else
    PROMPT_COMMAND="_tb_prompt${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
fi
PS1="${PS1}\[\033]133;B\007\]"           # prompt ends, input starts
PS0="${PS0:-}\e]133;C\a\$(_tb_mark busy)"  # a command starts (bash >= 4.4; PS0 takes no \[ \])
