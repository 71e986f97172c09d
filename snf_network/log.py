"""Logging for short-lived programs: the configured log file and syslog.

Every line names the program, the interface and the instance, so an operator
can grep one NIC's history out of a busy node's log. We do not use the
``logging`` package: our NIC programs live for tens of milliseconds and its
import and handler setup would be a visible part of that; what we need is a
few lines of formatting.
"""

from __future__ import annotations

import os
import sys
import time

_state: dict[str, object] = {
    "program": os.path.basename(sys.argv[0]) if sys.argv else "snf-network",
    "logfile": "",
    "syslog": False,
    "debug": False,
    "stderr_level": 40,  # lowest level also echoed on stderr
}
_context: dict[str, str] = {}

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_NAMES = {DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error"}


def setup(program: str, logfile: str = "", use_syslog: bool = True, debug: bool = False,
          stderr_level: int = ERROR) -> None:
    """Configure once per process; ``stderr_level`` = lowest level echoed on stderr."""
    _state.update(program=program, logfile=logfile, syslog=use_syslog, debug=debug,
                  stderr_level=stderr_level)


def context(**values: str) -> None:
    """Set the fields (interface=..., instance=...) shown in every later line."""
    _context.update({key: value for key, value in values.items() if value})


def debug(message: str) -> None:
    if _state["debug"]:
        _emit(DEBUG, message)


def info(message: str) -> None:
    _emit(INFO, message)


def warning(message: str) -> None:
    _emit(WARNING, message)


def error(message: str) -> None:
    _emit(ERROR, message)


# Longest line we write: a value from outside cut short is still shown, never a flood.
MAX_LINE = 1000


def clean(text: str) -> str:
    """``text`` as one line: control characters escaped (no newline can forge a log line), cut to MAX_LINE."""
    if text.isprintable() and len(text) <= MAX_LINE:
        return text
    escaped = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return escaped if len(escaped) <= MAX_LINE else escaped[: MAX_LINE - 3] + "..."


def _prefix() -> str:
    fields = " ".join(f"{key}={value}" for key, value in _context.items())
    return f"{fields}: " if fields else ""


def _emit(level: int, message: str) -> None:
    program = str(_state["program"])
    # Every line we write passes here: whatever a value from Ganeti, a VM or
    # a file held, it stays one line of bounded length.
    line = clean(f"{_prefix()}{message}")
    if level >= int(str(_state["stderr_level"])):
        print(f"{program}: {_NAMES[level]}: {line}", file=sys.stderr)
    logfile = str(_state["logfile"])
    if logfile:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:
            with open(logfile, "a", encoding="utf-8") as handle:
                handle.write(f"{stamp} {program}[{os.getpid()}] {_NAMES[level]} {line}\n")
        except OSError:
            pass  # a full or missing log disk must never fail a NIC
    if _state["syslog"]:
        import syslog

        priority = {DEBUG: syslog.LOG_DEBUG, INFO: syslog.LOG_INFO, WARNING: syslog.LOG_WARNING,
                    ERROR: syslog.LOG_ERR}[level]
        try:
            syslog.openlog("snf-network", 0, syslog.LOG_DAEMON)
            syslog.syslog(priority, f"{program}: {line}")
        except OSError:
            pass
