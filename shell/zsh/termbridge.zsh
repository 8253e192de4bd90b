# termbridge shell integration for zsh: OSC 133 prompt marks and optional idle/busy marks.
# Source it from ~/.zshrc:   source /path/to/termbridge/shell/zsh/termbridge.zsh
[[ -o interactive ]] || return 0
(( ${+_tb_loaded} )) && return 0
typeset -g _tb_loaded=1

_tb_mark() {
    [[ -n ${TERMBRIDGE_SESSION:-} && ${TERMBRIDGE_SHELL_MARKS:-1} != 0 ]] || return 0
    (( $+commands[termbridge] )) || return 0
    ( termbridge mark "$TERMBRIDGE_SESSION" "$1" >/dev/null 2>&1 & )
}
_tb_precmd() {
    local st=$?
    printf '\033]133;D;%s\007\033]133;A\007' "$st"
    _tb_mark idle
}
_tb_preexec() {
    printf '\033]133;C\007'
    _tb_mark busy
}
autoload -Uz add-zsh-hook
add-zsh-hook precmd _tb_precmd     # appends; the user's own hooks stay
add-zsh-hook preexec _tb_preexec
PS1="${PS1}%{"$'\e]133;B\a'"%}"
