"""The snf-nld console script."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from snf_network import config
from snf_network.errors import SnfNetworkError
from snf_network.services import daemon


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snf-nld", description="The NBMA overlay's neighbour daemon.")
    parser.add_argument("-f", "--foreground", action="store_true", help="run in the foreground (required)")
    parser.add_argument("-d", "--debug", action="store_true", help="log debug messages")
    parser.add_argument("-c", "--config-dir", default="", help="NBMA_CONFIG_DIR (default: from snf-network's config)")
    parser.add_argument("--socket", default="", help="the control socket (default: NLD_SOCKET)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logger = daemon.setup_logging("snf-nld", args.debug)
    if not args.foreground:
        logger.error("snf-nld runs in the foreground only (systemd runs it so): pass --foreground")
        return 2
    try:
        cfg = config.load()
        from snf_network.nld.daemon import Nld

        service = Nld(args.config_dir or cfg.NBMA_CONFIG_DIR, args.socket or cfg.NLD_SOCKET, logger)
    except SnfNetworkError as exc:
        logger.error(str(exc))
        return exc.exit_status
    except OSError as exc:
        logger.error(str(exc))
        return 1
    return daemon.run(service, logger)
