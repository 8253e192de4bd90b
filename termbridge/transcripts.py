"""The agents' own transcripts, read to prove that a message reached the model (`received`).

Where each agent records what it was given (see REAL_AGENTS.md):
  claude  ~/.claude/projects/<project>/<session>.jsonl
  codex   $CODEX_HOME/sessions/**/rollout-*.jsonl   (CODEX_HOME defaults to ~/.codex)
  gemini  ~/.gemini/tmp/<project>/logs.json (and its chats/: session-*.jsonl in 0.61, .json before)
HOME and CODEX_HOME are the agent's own, read from its process environment, so an
agent started with a scratch HOME is read where it really writes. A transcript path
that a hook reported (`transcript.json` in the session directory) is read first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_TAIL = 8 << 20  # read at most the last 8 MiB of a transcript
_MAX_FILES = 200


def candidate_files(home: Path, sess, since: float) -> list[Path]:
    """Transcript files of SESS's agent modified at or after SINCE (newest first)."""
    from termbridge import paths, registry

    found: list[Path] = []
    hinted = paths.read_json(registry.session_dir(home, sess.name) / "transcript.json", {})
    if isinstance(hinted, dict) and isinstance(hinted.get("path"), str):
        found.append(Path(hinted["path"]))
    from termbridge.proctree import environ

    env = environ(sess.pid)
    user_home = Path(env.get("HOME") or os.path.expanduser("~"))
    globs: list[tuple[Path, str]] = []
    if sess.kind in ("claude", "other"):
        globs.append((user_home / ".claude" / "projects", "*/*.jsonl"))
    if sess.kind in ("codex", "other"):
        globs.append((Path(env.get("CODEX_HOME") or user_home / ".codex") / "sessions", "**/rollout-*.jsonl"))
    if sess.kind in ("gemini", "other"):
        globs.append((user_home / ".gemini" / "tmp", "*/logs.json"))
        globs.append((user_home / ".gemini" / "tmp", "*/chats/*.json"))
        globs.append((user_home / ".gemini" / "tmp", "*/chats/*.jsonl"))  # 0.61: chats/session-….jsonl
    for root, pattern in globs:
        try:
            found.extend(root.glob(pattern))
        except OSError:
            continue
    fresh = []
    for p in found:
        try:
            mtime = p.stat().st_mtime
        except OSError:
            continue
        if mtime >= since - 2:  # coarse filesystem timestamps
            fresh.append((mtime, p))
    fresh.sort(reverse=True)
    seen, out = set(), []
    for _, p in fresh:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out[:_MAX_FILES]


def _tail(path: Path) -> bytes | None:
    """The last _TAIL bytes of PATH; None unless it is a regular file (a FIFO would hang the read)."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - _TAIL))
        return f.read()


def find_ids(home: Path, sess, ids: Iterable[str], since: float = 0.0) -> set[str]:
    """Which of IDS appear in SESS's agent's transcripts written since SINCE."""
    want = {i for i in ids if i}
    hit: set[str] = set()
    for path in candidate_files(home, sess, since):
        try:
            data = _tail(path)
        except OSError:
            continue
        if data is None:
            continue
        for i in want - hit:
            if i.encode() in data:
                hit.add(i)
        if hit == want:
            break
    return hit
