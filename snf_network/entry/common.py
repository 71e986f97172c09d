"""What every program does around its work: config, logging, one-line errors, exit status."""

from __future__ import annotations

import os
import sys
import time

from snf_network import config, log
from snf_network.config import Config
from snf_network.errors import SnfNetworkError
from snf_network.host.run import run_passing_output

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import NoReturn


class Run:
    """One run of a program: its arguments, environment, config and host."""

    __slots__ = ("argv", "env", "cfg", "host", "state", "started")

    def __init__(self, argv: list[str], env: Mapping[str, str], cfg: Config, started: float) -> None:
        from snf_network.host import Host

        self.argv, self.env, self.cfg, self.started = argv, env, cfg, started
        self.host = Host(timeout=cfg.COMMAND_TIMEOUT)
        self.state: dict[str, object] = {}  # what a program's failure handler needs to know


def program(name: str, usage: str, work: Callable[[Run], int | None], *, post_hook: bool = False,
            on_failure: Callable[[Run, int, str], None] | None = None) -> Callable[..., int]:
    """The ``main(argv, env) -> int`` of a program Ganeti, Xen or an operator runs.

    Loads the config, sets up logging, runs ``work``, and never lets a
    traceback out: Ganeti shows a failing script's output to the operator,
    so a failure is one line on stderr (and in the log), and the exit status
    says what kind (errors.py). A post hook (``post_hook``) does nothing in
    the pre phase and always exits 0: a pre hook exiting non-zero would deny
    the operation, and a post hook's status is only logged by Ganeti, so we
    log ourselves, with more to say. ``on_failure`` hears of a failed run
    with its status and message (Xen waits for a hotplug status).
    """

    def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
        args = list(sys.argv if argv is None else argv)
        environ = os.environ if env is None else env
        if len(args) == 2 and args[1] in ("-h", "--help"):
            print(usage.strip())
            status = 0
        elif post_hook and environ.get("GANETI_HOOKS_PHASE", "").lower() != "post":
            status = 0
        else:
            status = _run(name, args, environ, work, post_hook, on_failure)
        if argv is None and env is None:  # we are the process Ganeti started
            exit_now(status)
        return status

    return main


def _run(name: str, argv: list[str], env: Mapping[str, str], work: Callable[[Run], int | None],
         post_hook: bool, on_failure: Callable[[Run, int, str], None] | None) -> int:
    started = time.monotonic()  # the DNS hook's deadline counts from here
    try:
        cfg = config.load(dict(env))
    except SnfNetworkError as exc:
        print(f"{name}: error: {log.clean(str(exc))}", file=sys.stderr)
        return 0 if post_hook else exc.exit_status
    log.setup(name, cfg.LOGFILE, cfg.SYSLOG, cfg.DEBUG, stderr_level=log.WARNING if post_hook else log.ERROR)
    for key in cfg.unknown_keys:
        log.warning(f"unknown key {key} in the configuration file (ignored)")
    run = Run(argv, env, cfg, started)
    try:
        status = work(run) or 0
        if status and on_failure is not None:
            on_failure(run, status, str(run.state.get("error", "")))
        return 0 if post_hook else status
    except SnfNetworkError as exc:
        message, status = str(exc), exc.exit_status
    except Exception as exc:  # the last line of defence: Ganeti must see one line
        message, status = f"internal error: {type(exc).__name__}: {exc}", 1
    log.error(f"{env.get('GANETI_OP_CODE', '')}: {message}" if post_hook else message)
    if on_failure is not None:
        on_failure(run, status, message)
    return 0 if post_hook else status


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
