#!/usr/bin/env sh
# Hand text on stdin to a peer agent from a hook or a script:
#   echo "review done, over to you" | hand-over.sh reviewer [--from me]
# It types the text straight into the peer's composer when that is safe (`termbridge submit`
# reads the piped text; it never types into a person's draft or a dialog, and confirms the
# Enter), and otherwise queues it durably (`termbridge send`), so the peer gets it framed as
# peer context as soon as it is idle. Exit status: 0 delivered or queued; else termbridge's.
set -u
peer="${1:?usage: hand-over.sh PEER [--from SENDER] < text}"
shift
tb="${TERMBRIDGE_COMMAND:-termbridge}"
text="$(cat)"
printf '%s' "$text" | "$tb" submit "$peer"
rc=$?
case "$rc" in
    0) exit 0 ;;
    4|1) printf '%s' "$text" | "$tb" send "$peer" - "$@" >/dev/null ;;   # busy, a draft, a dialog, or unconfirmed
    *) exit "$rc" ;;
esac
