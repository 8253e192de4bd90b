#!/usr/bin/env bash
# TPM runs *.tmux files at a plugin's top level: this forwards to the plugin in tmux-plugin/.
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tmux-plugin/termbridge.tmux"
