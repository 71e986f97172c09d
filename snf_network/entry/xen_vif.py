"""vif-custom: Xen's hotplug script for a Ganeti instance's vif.

Xen runs it (directly as the ``vif_script`` hvparam, or through Ganeti's
vif-ganeti, which does ``exec /etc/xen/scripts/vif-custom $*``) with:

- ``$1``: ``online``/``offline`` for the netback vif (``vif=vif<domid>.<devid>``),
  ``add``/``remove`` for an HVM domain's emulated tap (``INTERFACE=vif<domid>.<devid>-emu``);
  libxl adds ``type_if=vif|tap`` as ``$2``;
- ``XENBUS_PATH``: the vif's backend directory in xenstore.

``online``/``add`` read the NIC from Ganeti's NIC file
(``GANETI_NIC_DIR/<domain name>/<devid>``), configure it like kvm-vif-bridge
does (but never change the vif's MAC: netback fixes it), and only then tell
Xen ``hotplug-status connected``; on any failure nothing is left half done and
Xen gets ``hotplug-status error`` at once instead of waiting for its timeout.
``offline``/``remove`` undo what the vif's record lists; they need neither the
NIC file (Ganeti removes it when it stops a domain) nor the domain's name.
"""

from __future__ import annotations

import os
import re

from snf_network import checks, engine, log
from snf_network import nic as nic_module
from snf_network.entry.common import Run, program, run_extra_script
from snf_network.errors import InputError
from snf_network.nld.nudge import nudge

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping


PROGRAM = "vif-custom"
UP = ("online", "add")
DOWN = ("offline", "remove")
# vif<domid>.<devid>, and vif<domid>.<devid>-emu for an HVM domain's emulated tap (libxl's names).
_VIF = re.compile(r"vif([0-9]{1,5})\.([0-9]{1,4})")
_TAP = re.compile(r"vif([0-9]{1,5})\.([0-9]{1,4})-emu")
_XENBUS_PATH = re.compile(r"(/local/domain/[0-9]{1,5}/)?backend/vif/[0-9]{1,5}/[0-9]{1,4}")
# A domain name becomes a path component under GANETI_NIC_DIR: no "/", no "..".
# libxl's migrate-receive names the arriving domain "<name>--incoming" until it runs.
_INCOMING = "--incoming"


class Hotplug:
    """One call from Xen, validated before anything is touched."""

    def __init__(self, argv: list[str], env: Mapping[str, str]) -> None:
        self.command = argv[1] if len(argv) > 1 else ""
        if self.command not in UP + DOWN:
            raise InputError(f"command: expected online, offline, add or remove, got {self.command!r}")
        extra = dict(arg.split("=", 1) for arg in argv[2:] if "=" in arg)
        self.type_if = extra.get("type_if") or ("tap" if self.command in ("add", "remove") else "vif")
        if self.type_if not in ("vif", "tap"):
            raise InputError(f"type_if: expected vif or tap, got {self.type_if!r}")
        # Xen's vif-common.sh: the netback vif is $vif, the emulated tap $INTERFACE.
        variable, pattern = ("vif", _VIF) if self.type_if == "vif" else ("INTERFACE", _TAP)
        device = env.get(variable, "")
        found = pattern.fullmatch(device)
        if found is None:
            shape = "vif<domid>.<devid>" if self.type_if == "vif" else "vif<domid>.<devid>-emu"
            raise InputError(f"{variable}: expected {shape}, got {device!r}")
        self.device = checks.interface_name(device, variable)
        self.domid, self.devid = found.group(1), found.group(2)
        # For an emulated tap vif-common.sh derives the path the same way.
        self.xenbus_path = env.get("XENBUS_PATH", "") or (
            f"backend/vif/{self.domid}/{self.devid}" if self.type_if == "tap" else "")
        if self.command in UP and not _XENBUS_PATH.fullmatch(self.xenbus_path):
            raise InputError(f"XENBUS_PATH: expected backend/vif/<domid>/<devid>, got {self.xenbus_path!r}")

    @property
    def reports(self) -> bool:
        """Whether Xen waits for our hotplug status (xl and xend wait on the vif's, on the way up)."""
        return self.command in UP


def domain_name(raw: str) -> str:
    name = raw[: -len(_INCOMING)] if raw.endswith(_INCOMING) else raw
    if not checks.is_instance_name(name):
        raise InputError(f"domain name: not a Ganeti instance name: {raw!r}")
    return name


USAGE = """
usage: vif-custom online|offline|add|remove [type_if=vif|tap]

Xen's hotplug script for a Ganeti instance's vif (env vif=vif<domid>.<devid>
or INTERFACE=vif<domid>.<devid>-emu, and XENBUS_PATH). online/add configure
the NIC from Ganeti's NIC file and report hotplug-status to xenstore;
offline/remove undo what the vif's record lists. See vif-custom(8).
"""


def _report_error(run: Run, status: int, message: str) -> None:
    from snf_network.errors import SnfNetworkError
    from snf_network.host import xen

    hotplug = run.state.get("hotplug")
    if not isinstance(hotplug, Hotplug) or not hotplug.reports:
        return
    try:
        xen.report_error(run.host, hotplug.xenbus_path,
                         message or f"{PROGRAM} {hotplug.command} failed (status {status})")
    except SnfNetworkError as exc:
        log.error(f"could not tell Xen about the failure: {exc}")


def _hotplug(run: Run) -> int:
    cfg, argv, env, host = run.cfg, run.argv, run.env, run.host
    hotplug = Hotplug(argv, env)
    run.state["hotplug"] = hotplug
    log.context(interface=hotplug.device)
    if hotplug.command in DOWN:
        # From the record alone: by now Ganeti may have removed the NIC file,
        # and the domain (and its name) may be gone.
        if not engine.ifdown(host, cfg, hotplug.device):
            log.info(f"{hotplug.command}: nothing recorded for this interface")
        nudge(cfg.NLD_SOCKET, "down", hotplug.device)
        return 0

    from snf_network import xen_nic
    from snf_network.host import xen

    domain = domain_name(xen.domain_name(host, hotplug.domid))
    log.context(instance=domain)
    values = xen_nic.nic_environment(xen_nic.read(os.path.join(cfg.GANETI_NIC_DIR, domain, hotplug.devid)),
                                     domain)
    if values.get("MODE") == "bridged":
        # The bridge Xen attached the vif to (the domain config's bridge=),
        # as Xen's vif-bridge reads it; the NIC file's LINK otherwise.
        bridge = xen.read(host, f"{hotplug.xenbus_path}/bridge")
        if bridge:
            values["LINK"] = values["BRIDGE"] = bridge
    nic = nic_module.from_env(values, interface=hotplug.device, hypervisor="xen")
    plan = engine.ifup(host, nic, cfg)
    # IFUP_EXTRA_SCRIPT was never run for communication vifs (Ganeti's own script configured them).
    status = 0 if nic.is_communication else run_extra_script(
        cfg, [argv[0], hotplug.device], {**env, **values, "INTERFACE": hotplug.device}, plan.derived)
    if status != 0:
        run.state["error"] = f"{cfg.IFUP_EXTRA_SCRIPT} exited with status {status}"
        return status
    if nic.mode == "routed" and not nic.is_communication:
        nudge(cfg.NLD_SOCKET, "up", hotplug.device)
    if hotplug.type_if == "vif":
        # Last, once everything is in place: Xen lets the guest's traffic flow now.
        xen.report_connected(host, hotplug.xenbus_path)
    return 0


main = program(PROGRAM, USAGE, _hotplug, on_failure=_report_error)
