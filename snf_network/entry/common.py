"""What every NIC program does around its work: config, logging, one-line errors."""

from __future__ import annotations

import os
import sys

from snf_network import config, log
from snf_network.config import Config
from snf_network.errors import SnfNetworkError
from snf_network.host.run import run_passing_output

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import NoReturn


def run_program(program: str, env: Mapping[str, str] | None,
                work: Callable[[Config, Mapping[str, str]], int]) -> int:
    """Load the config, set up logging, run ``work``; never let a traceback out.

    Ganeti shows a failing script's output to the operator, so a failure is
    one line on stderr (and in the log), and the exit status says what kind.
    """
    env = os.environ if env is None else env
    try:
        cfg = config.load(dict(env))
    except SnfNetworkError as exc:
        print(f"{program}: error: {exc}", file=sys.stderr)
        return exc.exit_status
    log.setup(program, cfg.LOGFILE, cfg.SYSLOG, cfg.DEBUG)
    for key in cfg.unknown_keys:
        log.warning(f"unknown key {key} in the configuration file (ignored)")
    try:
        return work(cfg, env)
    except SnfNetworkError as exc:
        log.error(str(exc))
        return exc.exit_status
    except Exception as exc:  # the last line of defence: Ganeti must see one line
        log.error(f"internal error: {type(exc).__name__}: {exc}")
        return 1


def run_post_hook(program: str, env: Mapping[str, str] | None,
                  work: Callable[[Config, Mapping[str, str]], None]) -> int:
    """A Ganeti post hook's frame: nothing in the pre phase, always 0, failures logged.

    A pre hook exiting non-zero would deny the operation, and before it
    happened there is nothing to do; a post hook's status is only logged by
    Ganeti, so we log ourselves, with more to say.
    """
    env = os.environ if env is None else env
    if env.get("GANETI_HOOKS_PHASE", "").lower() != "post":
        return 0
    try:
        cfg = config.load(dict(env))
    except SnfNetworkError as exc:
        print(f"{program}: error: {exc}", file=sys.stderr)
        return 0
    log.setup(program, cfg.LOGFILE, cfg.SYSLOG, cfg.DEBUG, stderr_level=log.WARNING)
    for key in cfg.unknown_keys:
        log.warning(f"unknown key {key} in the configuration file (ignored)")
    try:
        work(cfg, env)
    except SnfNetworkError as exc:
        log.error(f"{env.get('GANETI_OP_CODE', '')}: {exc}")
    except Exception as exc:  # the last line of defence: never a traceback, never a failed hook
        log.error(f"internal error: {type(exc).__name__}: {exc}")
    return 0


def run_extra_script(cfg: Config, argv: list[str], env: Mapping[str, str], derived: dict[str, str]) -> int:
    """The operator's IFUP_EXTRA_SCRIPT, when executable; its exit status is ifup's."""
    script = cfg.IFUP_EXTRA_SCRIPT
    if not script or not os.access(script, os.X_OK):
        return 0
    status = run_passing_output([script, *argv[1:]], {**env, **derived})
    if status != 0:
        log.error(f"{script} exited with status {status}")
    return status


def exit_now(status: int) -> NoReturn:
    """End the process Ganeti started without the interpreter's teardown.

    Tearing down the modules of a run costs ~7 ms here, a sixth of a NIC
    bring-up; everything we wrote is already closed, so only the standard
    streams need flushing.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
