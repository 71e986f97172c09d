"""Xen's side of a vif hotplug: the domain's name, and xenstore.

Xen's own vif scripts (vif-common.sh, xen-hotplug-common.sh) read the bridge
with ``xenstore-read`` and report with ``xenstore-write``: ``success`` writes
``hotplug-status connected``, ``fatal`` writes ``hotplug-error <message>``
and ``hotplug-status error``. The toolstack waits for one of them, so both
must be written, and the second on every failure, or Xen waits for its
timeout. We run the same programs, with argument lists, never a shell.
"""

from __future__ import annotations

from snf_network.errors import CommandError, SnfNetworkError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.host import Host


def domain_name(host: Host, domid: str) -> str:
    """The name of domain ``domid``: ``xl domname``, else ``xm domname`` (xm is gone since Xen 4.5)."""
    reasons = []
    for tool in ("xl", "xm"):
        try:
            name = host.run([tool, "domname", domid]).stdout.strip()
        except CommandError as exc:
            reasons.append(str(exc))
            continue
        if name:
            return name
        reasons.append(f"{tool} domname printed nothing")
    raise SnfNetworkError(f"cannot find the name of domain {domid}: {'; '.join(reasons)}")


def read(host: Host, path: str) -> str | None:
    """The value at ``path`` in xenstore, or None when it is not there (xenstore_read_default)."""
    try:
        return host.run(["xenstore-read", path]).stdout.strip()
    except CommandError:
        return None


def write(host: Host, *pairs: tuple[str, str]) -> None:
    """Write (path, value) pairs in one xenstore-write, in order."""
    argv = ["xenstore-write"]
    for path, value in pairs:
        argv += [path, value]
    host.run(argv)


def report_connected(host: Host, xenbus_path: str) -> None:
    """Xen's ``success``: the backend is ready; the toolstack stops waiting."""
    write(host, (f"{xenbus_path}/hotplug-status", "connected"))


def report_error(host: Host, xenbus_path: str, message: str) -> None:
    """Xen's ``fatal``: the reason first, then the status the toolstack waits for."""
    write(host, (f"{xenbus_path}/hotplug-error", message), (f"{xenbus_path}/hotplug-status", "error"))
