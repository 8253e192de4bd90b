"""The one list of agent kinds and delivery modes (imported by the CLI: keep it free of imports)."""

KINDS = ("claude", "codex", "gemini", "shell", "other")
AGENT_KINDS = ("claude", "codex", "gemini")  # the agents whose hooks and screens termbridge knows
LANES = ("auto", "terminal", "native")  # auto: the agent's own channel when it answers, else typing
DELIVERY_MODES = ("push", "pull")  # push: framed messages into the idle composer; pull: only the nudge
