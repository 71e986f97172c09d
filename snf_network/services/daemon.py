"""The frame of a long-lived service: foreground, signals, rate-limited logs.

systemd runs our services in the foreground (``--foreground``) and talks to
them with signals: SIGHUP reloads the configuration, SIGTERM (and SIGINT)
stop the service promptly. Stopping never tears down the data plane: what a
service put in the kernel keeps working until the next start reconciles it.
Logs go to stderr (the journal); a flood of one message (a tenant sending
garbage a thousand times a second) is cut to a few lines and a count.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable


class Service:
    """What a service provides: ``serve`` until cancelled, ``reload`` on SIGHUP."""

    name = "service"

    async def serve(self) -> None:
        raise NotImplementedError

    async def reload(self) -> None:
        """Re-read the configuration; the default does nothing."""


class RateLimit(logging.Filter):
    """Let ``burst`` records of one message through per ``interval`` seconds; then say how many were dropped."""

    def __init__(self, burst: int = 5, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst, self.interval, self.clock = burst, interval, clock
        self.windows: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.levelno}:{record.msg}"
        now = self.clock()
        start, count = self.windows.get(key, (now, 0))
        if now - start >= self.interval:
            if count > self.burst:
                record.msg = f"{record.msg} (and {count - self.burst} more like it in {self.interval:g} s)"
            start, count = now, 0
        self.windows[key] = (start, count + 1)
        if len(self.windows) > 1000:  # a tenant varying the message must not grow this without end
            self.windows.clear()
        return count < self.burst


def setup_logging(name: str, debug: bool = False) -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{name}: %(levelname)s: %(message)s"))
    handler.addFilter(RateLimit())
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False
    return logger


def run(service: Service, logger: logging.Logger) -> int:
    """Run ``service`` until SIGTERM or SIGINT; SIGHUP calls its ``reload``. The exit status."""
    return asyncio.run(_main(service, logger))


async def _main(service: Service, logger: logging.Logger) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    reloads: set[asyncio.Task[None]] = set()

    def reload() -> None:
        task = loop.create_task(_guarded(service.reload, logger, "reload"))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    serving = loop.create_task(service.serve())
    stopper = loop.create_task(stopping.wait())
    logger.info("started")
    done, _ = await asyncio.wait({serving, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (serving, stopper, *reloads):
        task.cancel()
    await asyncio.gather(serving, stopper, *reloads, return_exceptions=True)
    if serving in done and not serving.cancelled() and serving.exception() is not None:
        logger.error(f"stopped by an error: {serving.exception()}")
        return 1
    logger.info("stopped")
    return 0


async def _guarded(step: Callable[[], Awaitable[None]], logger: logging.Logger, what: str) -> None:
    try:
        await step()
        logger.info(f"{what}: done")
    except Exception as exc:  # a bad new configuration keeps the old one running
        logger.error(f"{what} failed, going on as before: {exc}")
