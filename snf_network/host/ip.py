"""Links, policy rules, routes and proxy neighbours through ``ip -batch``.

One ``ip`` process per address family does a whole NIC (pyroute2's import
alone costs more than the whole bring-up). A batch is not a transaction, so
every line is idempotent (``replace``, delete before add) and each line says
whether its failure matters: removing something already gone is fine,
failing to add is not.
"""

from __future__ import annotations

from snf_network.errors import CommandError
from snf_network.host import Backend
from snf_network.plan import Link, ProxyNeighbour, Route, Rule

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.plan import Item


class Line:
    __slots__ = ("family", "must_succeed", "proxy", "text")

    def __init__(self, family: int, text: str, must_succeed: bool,
                 proxy: tuple[bool, ProxyNeighbour] | None = None) -> None:
        self.family = family  # 4 or 6: ``ip -6`` is needed for IPv6 rules
        self.text = text  # what ip would be told; shown by ``snf-network plan``
        self.must_succeed = must_succeed
        # (add?, entry) for proxy neighbours, which we set over netlink ourselves
        # rather than through ip (host/netlink.py says why).
        self.proxy = proxy


def add_lines(item: Item) -> list[Line]:
    if isinstance(item, Link):
        words = ["link set dev", item.dev]
        if item.address:
            words += ["address", item.address]
        if item.mtu:
            words += ["mtu", str(item.mtu)]
        if item.master:
            words += ["master", item.master]
        return [Line(4, " ".join([*words, "up"]), True)]
    if isinstance(item, Rule):
        # The kernel refuses an identical second rule; delete first so a
        # re-run converges instead of failing.
        spec = item.spec()
        return [Line(item.family, f"rule del {spec}", False), Line(item.family, f"rule add {spec}", True)]
    if isinstance(item, Route):
        return [Line(item.family, f"route replace {item.destination} dev {item.dev} table {item.table} "
                                  "proto static", True)]
    if isinstance(item, ProxyNeighbour):
        return [Line(6, f"neigh replace proxy {item.address} dev {item.dev}", True, proxy=(True, item))]
    return []


def remove_lines(item: Item) -> list[Line]:
    if isinstance(item, Link):
        # Down, not just unconfigured: Ganeti 3.2 runs "down" while the guest
        # may still be running, and its packets must not reach the host
        # without the rules that checked them.
        lines = [Line(4, f"link set dev {item.dev} nomaster", False)] if item.master else []
        return [*lines, Line(4, f"link set dev {item.dev} down", False)]
    if isinstance(item, Rule):
        return [Line(item.family, f"rule del {item.spec()}", False)]
    if isinstance(item, Route):
        return [Line(item.family, f"route del {item.destination} dev {item.dev} table {item.table}", False)]
    if isinstance(item, ProxyNeighbour):
        return [Line(6, f"neigh del proxy {item.address} dev {item.dev}", False, proxy=(False, item))]
    return []


_FAILED = "Command failed -:"  # ip -batch's report of line N: "Command failed -:N"


def apply(host: Host, lines: list[Line]) -> None:
    """Run the lines, IPv4 and link lines first; raise on a failed must-succeed line.

    ``-force`` makes ip go on past a failed line and name it; a failure ip
    does not pin on a line (it could not open netlink, it died) fails the
    whole batch, since we cannot tell which additions took.
    """
    for family in (4, 6):
        argv = ["ip", "-force", "-batch", "-"] if family == 4 else ["ip", "-6", "-force", "-batch", "-"]
        batch(host, argv, [(line.text, line.must_succeed) for line in lines
                           if line.family == family and line.proxy is None])
    for line in lines:
        if line.proxy is not None:
            add, entry = line.proxy
            try:
                host.proxy_neighbour(add, entry.address, entry.dev)
            except OSError as exc:
                if line.must_succeed:
                    raise CommandError(["ip", "-6", "neigh"], 2, f"ip -6 {line.text}: {exc.strerror}") from None


def batch(host: Host, argv: list[str], lines: list[tuple[str, bool]]) -> None:
    """Run ``lines`` (text, must succeed) through ``argv`` (``ip`` or ``tc -force -batch -``).

    Raise on a failed must-succeed line, or on a failure not pinned on a line.
    """
    if not lines:
        return
    result = host.run(argv, "".join(text + "\n" for text, _ in lines), check=False)
    if result.returncode == 0:
        return
    message: list[str] = []
    failed = 0
    for text in result.stderr.splitlines():
        if not (text.startswith(_FAILED) and text[len(_FAILED):].isdigit()):
            message.append(text)
            continue
        failed += 1
        number = int(text[len(_FAILED):])
        line = lines[number - 1] if 0 < number <= len(lines) else None
        if line is None or line[1]:
            reason = "; ".join(message) or "failed"
            raise CommandError(argv, result.returncode, f"{argv[0]} {line[0] if line else '-batch'}: {reason}")
        message = []
    if not failed or message:
        raise CommandError(argv, result.returncode, "; ".join(message) or f"exit status {result.returncode}")


class IpBackend(Backend):
    kinds = (Link.kind, Rule.kind, Route.kind, ProxyNeighbour.kind)
    title = "ip batch"

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        lines = [line for item in remove for line in remove_lines(item)]
        lines += [line for item in add for line in add_lines(item)]
        if lines:
            apply(host, lines)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        return [f"{'ip -6' if line.family == 6 else 'ip'} {line.text}" for item in add for line in add_lines(item)]

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        from snf_network.host import inspect

        return inspect.IpState(host).missing


BACKEND = IpBackend()
