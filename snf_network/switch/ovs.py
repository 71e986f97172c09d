"""Open vSwitch switches: the steps of an ``openvswitch`` switch, each one ``ovs-vsctl`` transaction.

Every call names the database (OVS_DB, when set). What we add carries
``external_ids:snf-network-switch=<switch>``, so ownership is visible in
OVSDB; a bridge we did not create is never deleted, nor one that still has
ports other than ours (instances' NICs). A port that is on the switch
already without our external_ids is the operator's: apply refuses it rather
than rewrite its trunks, bond or LACP settings (and later delete it); take
it out of SWITCHES_FILE, or remove the port by hand, to let apply make it.
"""

from __future__ import annotations

from snf_network.errors import SnfNetworkError
from snf_network.host.ovs import vsctl as _ovs_vsctl

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.switch.steps import Step

OWNER = "snf-network-switch"


def vsctl(host: Host, cfg: Config, *words: str, check: bool = True) -> str:
    result = host.run([*_ovs_vsctl(cfg), *words], check=check)
    return result.stdout.strip() if result.returncode == 0 else ""


def bridge_exists(host: Host, cfg: Config, name: str) -> bool:
    return host.run([*_ovs_vsctl(cfg), "br-exists", name], check=False).returncode == 0


def make(host: Host, cfg: Config, step: Step) -> str:
    if step.kind == "ovs-bridge":
        datapath, mtu = step.args
        existed = bridge_exists(host, cfg, step.dev)
        if not existed and host.link_exists(step.dev):
            # vswitchd could not open its internal port; OVSDB would hold a bridge that carries nothing.
            raise SnfNetworkError(f"{step.switch}: {step.dev} exists on this node and is not an OVS bridge")
        words = ["--may-exist", "add-br", step.dev, "--", "set", "bridge", step.dev, f"datapath_type={datapath}"]
        if not existed:
            words += [f"external_ids:{OWNER}={step.switch}"]
        if mtu != "0":
            words += ["--", "set", "interface", step.dev, f"mtu_request={mtu}"]
        vsctl(host, cfg, *words)
        return step.previous or ("existed" if existed else "created")
    if step.kind == "ovs-port":
        bridge, members, mode, lacp, trunks, mtu = step.args
        where = vsctl(host, cfg, "port-to-br", step.dev, check=False)
        if where and where != bridge:
            raise SnfNetworkError(f"{step.switch}: port {step.dev} is already on the OVS bridge {where}")
        if where and not step.previous and owner(host, cfg, step.dev) != step.switch:
            raise SnfNetworkError(f"{step.switch}: port {step.dev} is already on {bridge}, not added by switch "
                                  "apply: remove it by hand or from SWITCHES_FILE (its settings are left as they are)")
        interfaces = members.split(",") if members else [step.dev]
        for interface in interfaces:
            if not host.link_exists(interface):
                raise SnfNetworkError(f"{step.switch}: {interface} does not exist on this node")
            master = host.link_master(interface)
            if master and master != "ovs-system":
                raise SnfNetworkError(f"{step.switch}: {interface} is already a port of {master}")
        words = (["--may-exist", "add-bond", bridge, step.dev, *interfaces] if members else
                 ["--may-exist", "add-port", bridge, step.dev])
        words += ["--", "set", "port", step.dev, f"external_ids:{OWNER}={step.switch}"]
        if members:
            words += [f"bond_mode={mode}", f"lacp={lacp}"]
        # Always set, so a VLAN list emptied in the file empties the port's too.
        words += [f"trunks=[{trunks}]"]
        if mtu != "0":
            for interface in interfaces:
                words += ["--", "set", "interface", interface, f"mtu_request={mtu}"]
        vsctl(host, cfg, *words)
        return step.previous or "made"
    raise SnfNetworkError(f"unknown switch step {step.kind}")  # pragma: no cover - steps.of_switch makes these


def owner(host: Host, cfg: Config, port: str) -> str:
    return vsctl(host, cfg, "--if-exists", "get", "port", port, f"external_ids:{OWNER}", check=False).strip('"')


def _opened(host: Host, cfg: Config, interface: str) -> bool:
    """Whether vswitchd opened ``interface``: OVSDB holds a row for it even when it could not."""
    return vsctl(host, cfg, "--if-exists", "get", "interface", interface, "error", check=False) in ("", "[]")


def undo(host: Host, cfg: Config, step: Step) -> tuple[str, bool]:
    """As linux.undo: (a warning or '', whether the step stays recorded to be retried)."""
    if step.previous == "existed":
        return "", False
    if step.kind == "ovs-bridge":
        if step.previous != "created" or not bridge_exists(host, cfg, step.dev):
            return "", False
        ports = vsctl(host, cfg, "list-ports", step.dev).split()
        if ports:
            return f"{step.switch}: kept OVS bridge {step.dev}: it still has ports ({' '.join(ports)})", True
        vsctl(host, cfg, "--if-exists", "del-br", step.dev)
        return "", False
    if step.kind == "ovs-port":
        vsctl(host, cfg, "--if-exists", "del-port", step.args[0], step.dev)
    return "", False


def present(host: Host, cfg: Config, step: Step) -> bool:
    if step.kind == "ovs-bridge":
        return bridge_exists(host, cfg, step.dev) and _opened(host, cfg, step.dev)
    if vsctl(host, cfg, "port-to-br", step.dev, check=False) != step.args[0]:
        return False
    return all(_opened(host, cfg, interface) for interface in (step.args[1].split(",") if step.args[1] else
                                                                [step.dev]))
