# Options and their defaults, in one place.
drain_key_option="@termbridge-drain-key"
drain_key_default="D"
drain_on_focus_option="@termbridge-drain-on-focus"
drain_on_focus_default="on"
command_option="@termbridge-command"   # how to run termbridge (e.g. '/path/.venv/bin/termbridge'); wins over the rest
command_path_option="@termbridge-command-path"  # internal: the absolute termbridge found when the plugin loaded
bound_key_option="@termbridge-bound-key"  # internal: the key bound by the last load
focus_hook_index=71
pending_icon_option="@termbridge-pending-icon"   # before the count in #{termbridge_pending}
pending_icon_default="✉ "
attention_icon_option="@termbridge-attention-icon"   # before the names in #{termbridge_attention}
attention_icon_default="⚠ "
