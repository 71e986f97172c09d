"""SWITCHES_FILE: the node's switches, declared; parsed, never executed.

    # comments and blank lines are ignored
    [br0]                      # the switch (bridge) name
    type = linux-bridge        # or openvswitch
    uplink = eth1              # one uplink, or a bond:
    bond = bond0
    members = eth2 eth3
    bond-mode = 802.3ad        # active-backup (default), balance-xor, 802.3ad; OVS: balance-slb, balance-tcp
    lacp = active              # active, passive or off (802.3ad: active by default)
    vlans = 100 200-202        # VLANs trunked (tagged) on the uplink
    mtu = 9000                 # of the switch and its uplink (and the bond's members)
    datapath = system          # openvswitch only: system (default) or netdev

Every value is checked here, with the file and line in the one-line error,
before anything on the node changes.
"""

from __future__ import annotations

from snf_network.checks import DIGITS, interface_name, shown
from snf_network.errors import ConfigError, InputError

TYPES = ("linux-bridge", "openvswitch")
LINUX_BOND_MODES = ("active-backup", "balance-xor", "802.3ad")
OVS_BOND_MODES = ("active-backup", "balance-slb", "balance-tcp", "802.3ad")
LACP = ("active", "passive", "off")
KEYS = ("type", "uplink", "bond", "members", "bond-mode", "lacp", "vlans", "mtu", "datapath")


class Switch:
    """One ``[name]`` section, checked."""

    __slots__ = ("name", "type", "uplink", "bond", "members", "bond_mode", "lacp", "vlans", "mtu", "datapath")

    def __init__(self, name: str, type: str, uplink: str = "", bond: str = "", members: tuple[str, ...] = (),
                 bond_mode: str = "", lacp: str = "off", vlans: tuple[int, ...] = (), mtu: int = 0,
                 datapath: str = "") -> None:
        self.name, self.type, self.uplink, self.bond, self.members = name, type, uplink, bond, members
        self.bond_mode, self.lacp, self.vlans, self.mtu, self.datapath = bond_mode, lacp, vlans, mtu, datapath

    @property
    def port(self) -> str:
        """The device that joins the switch: the bond, or the single uplink ('' for none)."""
        return self.bond or self.uplink

    def describe(self) -> str:
        words = [self.name, f"({self.type})"]
        if self.bond:
            words += [f"bond {self.bond} of {' '.join(self.members)}, {self.bond_mode}, lacp {self.lacp}"]
        elif self.uplink:
            words += [f"uplink {self.uplink}"]
        if self.vlans:
            words += ["vlans " + ",".join(str(vid) for vid in self.vlans)]
        if self.mtu:
            words += [f"mtu {self.mtu}"]
        if self.datapath:
            words += [f"datapath {self.datapath}"]
        return " ".join(words)


def vlan_list(text: str, where: str) -> tuple[int, ...]:
    """``100 200-202,300`` -> (100, 200, 201, 202, 300)."""
    vids: list[int] = []
    for word in text.replace(",", " ").split():
        low, sep, high = word.partition("-")
        if not (low and set(low) <= DIGITS and len(low) <= 4 and (not sep or (high and set(high) <= DIGITS
                                                                             and len(high) <= 4))):
            raise ConfigError(f"{where}: {shown(word)} is not a VLAN id or range (100, 200-210)")
        first, last = int(low), int(high) if sep else int(low)
        if not 1 <= first <= last <= 4094:
            raise ConfigError(f"{where}: {shown(word)}: VLAN ids go from 1 to 4094, ranges upwards")
        vids += range(first, last + 1)
    if not vids:
        raise ConfigError(f"{where}: no VLAN ids")
    return tuple(sorted(set(vids)))


def _device(value: str, where: str) -> str:
    try:
        return interface_name(value, where)
    except InputError as exc:
        raise ConfigError(str(exc)) from None


def _switch(name: str, values: dict[str, tuple[str, str]], where: str) -> Switch:
    def get(key: str) -> tuple[str, str]:
        return values.get(key, ("", where))

    kind, at = get("type")
    if kind not in TYPES:
        raise ConfigError(f"{at}: type: expected {' or '.join(TYPES)}, got {shown(kind)}")
    uplink = _device(get("uplink")[0], f"{get('uplink')[1]}: uplink") if get("uplink")[0] else ""
    bond = _device(get("bond")[0], f"{get('bond')[1]}: bond") if get("bond")[0] else ""
    members_text, members_at = get("members")
    members = tuple(_device(word, f"{members_at}: members") for word in members_text.split())
    if uplink and bond:
        raise ConfigError(f"{where}: a switch has an uplink or a bond, not both")
    if bond and not members:
        raise ConfigError(f"{where}: bond {bond} has no members")
    if members and not bond:
        raise ConfigError(f"{members_at}: members without a bond (name it with bond = ...)")
    if len(set(members)) != len(members):
        raise ConfigError(f"{members_at}: a member is listed twice")
    if name in (uplink, bond, *members) or (bond and bond in members):
        raise ConfigError(f"{where}: the switch, its bond and its members need names of their own")
    mode, mode_at = get("bond-mode")
    lacp, lacp_at = get("lacp")
    modes = LINUX_BOND_MODES if kind == "linux-bridge" else OVS_BOND_MODES
    if (mode or lacp) and not bond:
        raise ConfigError(f"{mode_at if mode else lacp_at}: bond-mode and lacp need a bond")
    if bond:
        mode = mode or "active-backup"
        if mode not in modes:
            raise ConfigError(f"{mode_at}: bond-mode: expected {', '.join(modes)} for {kind}, got {shown(mode)}")
        if lacp and lacp not in LACP:
            raise ConfigError(f"{lacp_at}: lacp: expected {', '.join(LACP)}, got {shown(lacp)}")
        lacp = lacp or ("active" if mode == "802.3ad" else "off")
        if kind == "linux-bridge" and (mode == "802.3ad") != (lacp != "off"):
            # The Linux bond speaks LACP in 802.3ad mode and only there.
            raise ConfigError(f"{lacp_at}: a Linux bond speaks LACP in bond-mode 802.3ad, and only there")
        if mode == "802.3ad" and lacp == "off":
            raise ConfigError(f"{lacp_at}: 802.3ad is LACP: lacp cannot be off")
    vlans_text, vlans_at = get("vlans")
    vlans = vlan_list(vlans_text, f"{vlans_at}: vlans") if vlans_text else ()
    if vlans and not (uplink or bond):
        raise ConfigError(f"{vlans_at}: vlans are trunked on the uplink: the switch has none")
    mtu_text, mtu_at = get("mtu")
    mtu = 0
    if mtu_text:
        if not (set(mtu_text) <= DIGITS and len(mtu_text) <= 5 and 68 <= int(mtu_text) <= 65535):
            raise ConfigError(f"{mtu_at}: mtu: expected a number from 68 to 65535, got {shown(mtu_text)}")
        mtu = int(mtu_text)
    datapath, datapath_at = get("datapath")
    if datapath and kind != "openvswitch":
        raise ConfigError(f"{datapath_at}: datapath is for openvswitch switches")
    if kind == "openvswitch":
        datapath = datapath or "system"
        if datapath not in ("system", "netdev"):
            raise ConfigError(f"{datapath_at}: datapath: expected system or netdev, got {shown(datapath)}")
    return Switch(name, kind, uplink, bond, members, mode, lacp or "off", vlans, mtu, datapath)


def parse(text: str, origin: str) -> dict[str, Switch]:
    """The switches of the file ``origin``, by name, in file order."""
    sections: dict[str, tuple[dict[str, tuple[str, str]], str]] = {}
    current: dict[str, tuple[str, str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{origin}:{number}"
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            name = _device(line[1:-1].strip(), f"{where}: switch name")
            if name in sections:
                raise ConfigError(f"{where}: switch {name} is declared twice")
            current = {}
            sections[name] = (current, where)
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if current is None:
            raise ConfigError(f"{where}: a setting before any [switch] header")
        if not sep or key not in KEYS:
            raise ConfigError(f"{where}: expected one of {', '.join(KEYS)} = value, got {shown(line)}")
        if key in current:
            raise ConfigError(f"{where}: {key} is set twice for this switch")
        if not value.isprintable() or any(quote in value for quote in "\"'`$\\;"):
            raise ConfigError(f"{where}: {key}: {shown(value)}: plain words only")
        current[key] = (value, where)
    switches = {name: _switch(name, values, where) for name, (values, where) in sections.items()}
    owner: dict[str, str] = {}
    for switch in switches.values():
        for dev in (switch.uplink, switch.bond, *switch.members):
            if not dev:
                continue
            if dev in switches:
                raise ConfigError(f"{origin}: {dev} is a switch of the file and a port of {switch.name}")
            if dev in owner:
                raise ConfigError(f"{origin}: {dev} is a port of both {owner[dev]} and {switch.name}")
            owner[dev] = switch.name
    return switches


def load(path: str) -> dict[str, Switch]:
    """The switches of SWITCHES_FILE; a missing file declares none."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return parse(text, path)
