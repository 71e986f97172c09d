"""Running programs: argument lists only, never a shell.

A NIC program starts nft and ip and must itself start fast: ``subprocess``
brings threading, selectors, signal, locale and contextlib along (about 4 ms
of imports), so we spawn with ``os.posix_spawnp`` and read the pipes with
``select.poll``, which is all we need.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found,unused-ignore]  # the signal module itself would import enum (~4 ms); we need one number
import os
import select
import time

from snf_network.errors import CommandError

# Python ignores SIGPIPE; the programs we start must not inherit that.
_DEFAULT_SIGNALS = (_signal.SIGPIPE,)


class Result:
    __slots__ = ("returncode", "stderr", "stdout")

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


DEFAULT_TIMEOUT = 20.0


def run(argv: list[str], stdin: str | None = None, check: bool = True, timeout: float = DEFAULT_TIMEOUT) -> Result:
    """Run ``argv`` with ``stdin`` as its input; its output, decoded.

    A program still running after ``timeout`` seconds is killed and the call
    fails (CommandError, whatever ``check`` says): Ganeti waits for us, and a
    hung ``ip`` or ``nft`` must fail one NIC, not hang the node's operations.
    A program killed by a signal never counts as a success.
    """
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    actions = [
        (os.POSIX_SPAWN_DUP2, in_read, 0),
        (os.POSIX_SPAWN_DUP2, out_write, 1),
        (os.POSIX_SPAWN_DUP2, err_write, 2),
        *((os.POSIX_SPAWN_CLOSE, fd) for fd in (in_read, in_write, out_read, out_write, err_read, err_write)),
    ]
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions, setsigdef=_DEFAULT_SIGNALS)
    except FileNotFoundError:
        for fd in (in_read, in_write, out_read, out_write, err_read, err_write):
            os.close(fd)
        raise CommandError(argv, 127, f"{argv[0]}: program not found (is it installed?)") from None
    for fd in (in_read, out_write, err_write):
        os.close(fd)
    deadline = time.monotonic() + timeout
    output = _communicate(in_write, (stdin or "").encode(), out_read, err_read, deadline)
    if output is None:
        os.kill(pid, _signal.SIGKILL)
        os.waitpid(pid, 0)
        raise CommandError(argv, -_signal.SIGKILL, f"{argv[0]}: no answer after {timeout:g} s (killed)")
    _, status = os.waitpid(pid, 0)
    result = Result(os.waitstatus_to_exitcode(status), output[0].decode(errors="replace"),
                    output[1].decode(errors="replace"))
    if result.returncode < 0:
        raise CommandError(argv, result.returncode, f"{argv[0]}: killed by signal {-result.returncode}")
    if check and result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stderr)
    return result


def _communicate(in_fd: int, data: bytes, out_fd: int, err_fd: int, deadline: float) -> tuple[bytes, bytes] | None:
    """Feed ``data`` and collect both outputs without deadlock, whatever their sizes; None past ``deadline``."""
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    poller = select.poll()
    for fd in (out_fd, err_fd):
        poller.register(fd, select.POLLIN)
    if data:
        os.set_blocking(in_fd, False)
        poller.register(in_fd, select.POLLOUT)
    else:
        os.close(in_fd)
    open_fds = {out_fd, err_fd} | ({in_fd} if data else set())
    view = memoryview(data)
    while open_fds:
        left = deadline - time.monotonic()
        events = poller.poll(max(int(left * 1000), 0)) if left > 0 else []
        if not events:
            for fd in open_fds:
                os.close(fd)
            return None
        for fd, _event in events:
            if fd == in_fd:
                try:
                    view = view[os.write(fd, view):]
                except BrokenPipeError:
                    view = view[len(view):]
                if not view:
                    poller.unregister(fd)
                    os.close(fd)
                    open_fds.discard(fd)
                continue
            chunk = os.read(fd, 65536)
            if chunk:
                chunks[fd].append(chunk)
            else:
                poller.unregister(fd)
                os.close(fd)
                open_fds.discard(fd)
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


def run_passing_output(argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv`` with our stdin, stdout and stderr (the operator's extra script); its exit status."""
    try:
        pid = os.posix_spawn(argv[0], argv, env, setsigdef=_DEFAULT_SIGNALS)
    except OSError as exc:
        raise CommandError(argv, 126, f"{argv[0]}: cannot run: {exc.strerror}") from None
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
