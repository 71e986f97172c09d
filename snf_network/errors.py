"""The errors our programs turn into one line on stderr and an exit status.

Ganeti shows a failing NIC script's output to the operator, so every message
must read well on its own: what is wrong, and with which value.
"""

from __future__ import annotations


class SnfNetworkError(Exception):
    """A failure while changing the host (exit status 1)."""

    exit_status = 1


class InputError(SnfNetworkError):
    """A bad value from the environment, the command line or a NIC file (exit status 2)."""

    exit_status = 2


class ConfigError(InputError):
    """A bad value in /etc/default/snf-network (exit status 2)."""


class CommandError(SnfNetworkError):
    """A program we ran failed; carries what it said."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        detail = stderr.strip().splitlines()
        reason = detail[0] if detail else f"exit status {returncode}"
        super().__init__(f"{argv[0]} failed: {reason}")
