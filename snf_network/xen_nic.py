"""Ganeti's Xen NIC files (``GANETI_NIC_DIR/<instance>/<index>``), parsed, never sourced.

Ganeti writes one file per NIC when it writes a domain's config, for its own
vif-ganeti to ``source``. The format changed three times (reference:
ganeti-nfdhcpd.md 2.2, checked against hv_xen._WriteNICInfoFile):

- 2.9: ``NETWORK_*=value`` unquoted (``NETWORK_TAGS=a\\ b``), ``IP=None``
  when the NIC has no address, no ``TAGS``, no ``INTERFACE_*``, no ``VLAN``;
- 2.10 to 2.12: ``TAGS=a\\ b`` unquoted, every network key unquoted, so
  ``NETWORK_TAGS=a b`` (a shell would run ``b`` as a command; we read what
  Ganeti meant: the rest of the line); ``VLAN`` from 2.12;
- 2.13 to 3.1: ``TAGS="a\\ b"`` and ``KEY="value"`` for the network keys.
  Inside double quotes a shell keeps the backslash, so sourced tags read
  ``a\\`` and ``b`` (a Ganeti bug that broke the original's tag matching);
  we drop a backslash before a space in the tag lists and split on spaces.

The result is the environment kvm-ifup would have had, for ``nic.from_env``.
Shell features Ganeti never writes (``$``, backquotes, ``;``) are refused
with the line number, so a damaged or planted file can never run anything.
"""

from __future__ import annotations

from snf_network.checks import is_key
from snf_network.errors import InputError
from snf_network.shell import words

# The keys holding space-separated lists; Ganeti joined them with "\ ".
TAG_KEYS = ("TAGS", "NETWORK_TAGS")
# Files are a few hundred bytes; anything far bigger is not Ganeti's.
MAX_SIZE = 64 * 1024


def read(path: str) -> dict[str, str]:
    """The variables of the NIC file at ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_SIZE + 1)
    except FileNotFoundError:
        raise InputError(f"NIC file {path} does not exist (not written by Ganeti, or already removed)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read NIC file {path}: {exc}") from None
    if len(text) > MAX_SIZE:
        raise InputError(f"NIC file {path} is larger than {MAX_SIZE} bytes: not a Ganeti NIC file")
    return parse(text, path)


def parse(text: str, origin: str = "<nic file>") -> dict[str, str]:
    """``KEY=value`` lines to a dict, with Ganeti's quirks undone (see the module doc)."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{origin}:{number}"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, rest = stripped.partition("=")
        if not sep or not is_key(key):
            raise InputError(f"{where}: expected KEY=value, got {stripped[:60]!r}")
        found = words(rest, f"{where}: {key}")
        # Several words only come from 2.10-2.12's unquoted NETWORK_TAGS=a b.
        value = " ".join(found)
        if key in TAG_KEYS:
            value = " ".join(value.replace("\\ ", " ").split())
        values[key] = value
    return values


def nic_environment(values: dict[str, str], instance: str) -> dict[str, str]:
    """What kvm-ifup would have exported for this NIC: the file's keys plus ``INSTANCE``.

    ``IP=None`` (Ganeti 2.9 wrote ``str(None)`` for a NIC without address) means
    no IP. ``INTERFACE`` is left to the caller (the vif Xen names).
    """
    env = {key: value for key, value in values.items() if key not in ("INSTANCE", "INTERFACE", "HYPERVISOR")}
    if env.get("IP") == "None":
        del env["IP"]
    env["INSTANCE"] = instance
    return env
