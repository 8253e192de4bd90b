"""The agent releases termbridge is verified against: the real-agent tiers install and test
exactly these (npm, pinned), and `doctor` warns when an installed agent is newer."""

from __future__ import annotations

# kind -> (npm package, the newest release the real-agent tiers pass on)
VERIFIED: dict[str, tuple[str, str]] = {
    "codex": ("@openai/codex", "0.171.0"),
    "claude": ("@anthropic-ai/claude-code", "2.1.332"),
    "gemini": ("@google/gemini-cli", "0.61.0"),
}


def version_tuple(text: str) -> tuple[int, ...]:
    """'2.1.332 (Claude Code)' -> (2, 1, 332); () when TEXT holds no version."""
    import re

    m = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(g) for g in m.groups()) if m else ()
