"""User-facing errors.

Anything raised as an :class:`EdgesegError` is a problem with the user's input or environment.
The CLI prints it as one line and exits non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations


class EdgesegError(Exception):
    """Base class: its message is the whole one-line explanation (what, where, and the fix)."""

    exit_code = 2


class DataError(EdgesegError):
    """A data file or folder cannot be used (missing, unreadable, mismatched)."""


class ConfigError(EdgesegError):
    """Options that are invalid on their own or together."""


class RunError(EdgesegError):
    """A run directory is missing, incomplete, or would be overwritten."""


class UnknownNameError(ConfigError):
    """A registry lookup failed; the message lists the valid names."""


def first_line(e: BaseException, limit: int = 300) -> str:
    """An exception's message as one short line: runtimes' messages span lines, the CLI prints one."""
    text = " ".join(str(e).split())
    return text[:limit] if text else type(e).__name__
