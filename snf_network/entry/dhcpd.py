"""snf-dhcpd: the DHCP, router-advertisement and DHCPv6 responder for nfdhcpd-tagged NICs.

    snf-dhcpd [--foreground] [--debug]    serve (always in the foreground: systemd runs it)
    snf-dhcpd --dump                      print what the running daemon serves

The configuration is the package's (/etc/default/snf-network, or the file
named by $SNF_NETWORK_CONFIG). Errors are one line on stderr, exit status 1.
"""

from __future__ import annotations

import argparse
import sys

from snf_network import config as config_module
from snf_network.dhcpd import status
from snf_network.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snf-dhcpd", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--foreground", action="store_true",
                        help="run in the foreground (the only way it runs; for systemd and tests)")
    parser.add_argument("--debug", action="store_true", help="log every answer too")
    parser.add_argument("--dump", action="store_true", help="print the running daemon's served table")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        cfg = config_module.load()
    except ConfigError as exc:
        print(f"snf-dhcpd: {exc}", file=sys.stderr)
        return 1
    if args.dump:
        rows = status.read(cfg.DHCPD_STATUS_FILE)
        if rows is None:
            print(f"snf-dhcpd is not running (no live {cfg.DHCPD_STATUS_FILE})", file=sys.stderr)
            return 1
        for line in status.lines(rows):
            print(line)
        return 0
    if cfg.DHCP_SERVER != "snf-dhcpd":
        print(f"snf-dhcpd: DHCP_SERVER is {cfg.DHCP_SERVER}: nothing to serve", file=sys.stderr)
        return 0
    from snf_network.dhcpd.service import DhcpService
    from snf_network.services.daemon import run, setup_logging

    logger = setup_logging("snf-dhcpd", debug=args.debug or cfg.DEBUG)
    try:
        service = DhcpService(cfg, logger)
    except ValueError as exc:
        print(f"snf-dhcpd: {exc}", file=sys.stderr)
        return 1
    try:
        return run(service, logger)
    except KeyboardInterrupt:
        return 1
