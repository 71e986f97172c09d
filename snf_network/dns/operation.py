"""What a Ganeti instance hook asks of DNS, read from its environment.

Pure and strict: every value is checked here, before anything is sent, so a
bad environment sends nothing at all. Ganeti's facts used here
(reference/ganeti-nfdhcpd.md section 3): the NIC variables describe the
**new** NIC list for instance-modify; for a rename ``GANETI_INSTANCE_NAME`` is
the old name and ``GANETI_INSTANCE_NEW_NAME`` the new one, in both phases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from snf_network import nic as nic_module
from snf_network.checks import host_name, nic_count, shown
from snf_network.errors import InputError
from snf_network.nic import Nic

CREATE, MODIFY, RENAME, REMOVE = "create", "modify", "rename", "remove"
OPCODES = {
    "OP_INSTANCE_CREATE": CREATE,
    "OP_INSTANCE_SET_PARAMS": MODIFY,
    "OP_INSTANCE_RENAME": RENAME,
    "OP_INSTANCE_REMOVE": REMOVE,
}


@dataclass(frozen=True, slots=True)
class Operation:
    kind: str
    instance: str  # the name Ganeti knew before the operation
    nics: tuple[Nic, ...] = ()
    new_name: str = ""  # rename only

    @property
    def target(self) -> str | None:
        """The instance name whose records should exist afterwards (None: no records)."""
        if self.kind == REMOVE:
            return None
        return self.new_name if self.kind == RENAME else self.instance

    @property
    def gone(self) -> tuple[str, ...]:
        """Names that lose every record of ours."""
        if self.kind == REMOVE or (self.kind == RENAME and self.new_name != self.instance):
            return (self.instance,)
        return ()


def kind_of(env: Mapping[str, str]) -> str | None:
    """The operation for GANETI_OP_CODE, or None when DNS has nothing to do with it."""
    return OPCODES.get(env.get("GANETI_OP_CODE", ""))


def from_hook_env(env: Mapping[str, str]) -> Operation:
    """The operation described by a hook environment; InputError on any bad value."""
    kind = kind_of(env)
    if kind is None:
        raise InputError(f"GANETI_OP_CODE: not an instance operation DNS cares about: "
                         f"{shown(env.get('GANETI_OP_CODE', ''))}")
    instance = host_name(env.get("GANETI_INSTANCE_NAME", ""), "GANETI_INSTANCE_NAME")
    new_name = ""
    if kind == RENAME:
        new_name = host_name(env.get("GANETI_INSTANCE_NEW_NAME", ""), "GANETI_INSTANCE_NEW_NAME")
    return Operation(kind=kind, instance=instance, nics=nics_from_hook_env(env), new_name=new_name)


def nics_from_hook_env(env: Mapping[str, str]) -> tuple[Nic, ...]:
    count = nic_count(env.get("GANETI_INSTANCE_NIC_COUNT", ""))
    return tuple(nic_module.from_hook_env(env, index) for index in range(count))
