"""termbridge: get messages into AI coding agents' terminals reliably."""

__version__ = "0.2.0"
