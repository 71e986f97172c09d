"""snf-dhcpd's status file: what it serves, for ``snf-network status`` and ``snf-dhcpd --dump``.

JSON, written atomically (a temporary file renamed over it) whenever the
served table changes, removed when the daemon stops:
``{"pid": N, "interfaces": {"tap1": {"served": true, "reason": "", ...}}}``.
A file whose pid is not running is a daemon that died: nothing is served.
"""

from __future__ import annotations

import json
import os

from snf_network.host import files


def write(path: str, rows: dict[str, dict[str, object]]) -> None:
    # Never through a planted symlink, never half a file (host/files.py): an operator's
    # DHCPD_STATUS_FILE may be in a directory others can write (/tmp/...). systemd makes the
    # directory (RuntimeDirectory=); by hand, this does.
    files.atomic_replace(path, json.dumps({"pid": os.getpid(), "interfaces": rows}, indent=1, sort_keys=True))


def claim(path: str) -> None:
    """Make ``path`` ours to write, or raise ValueError: it is some other file (a mistyped
    DHCPD_STATUS_FILE must not replace, and at exit delete, /etc/something), or another
    snf-dhcpd still running writes it (two daemons would both answer every request)."""
    if not os.path.lexists(path):
        return
    try:
        if os.path.islink(path) or not os.path.isfile(path):
            raise TypeError
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
        pid = int(content["pid"])
        if not isinstance(content["interfaces"], dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError, UnicodeError):
        raise ValueError(f"{path} exists and is not snf-dhcpd's status file: DHCPD_STATUS_FILE must name "
                         "a file of its own") from None
    if pid == os.getpid():
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return  # a daemon that died: its file is ours now
    except PermissionError:
        pass
    raise ValueError(f"another snf-dhcpd (pid {pid}) is running with status file {path}")


def remove(path: str) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def read(path: str) -> dict[str, dict[str, object]] | None:
    """The served table, or None when no snf-dhcpd is running."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
        pid = int(content["pid"])
        rows = content["interfaces"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # running, as another user
    return rows if isinstance(rows, dict) else None


def lines(rows: dict[str, dict[str, object]]) -> list[str]:
    out = []
    for name, row in rows.items():
        if row.get("served"):
            out.append(f"{name}: served {row.get('mac')} {row.get('hostname')} ip {row.get('ip') or '-'} "
                       f"subnet6 {row.get('subnet6') or '-'} via {row.get('indev')} "
                       f"({row.get('answered')} answered, {row.get('ignored')} ignored)")
        else:
            out.append(f"{name}: not served: {row.get('reason')}")
    return out


def describe(rows: dict[str, dict[str, object]] | None, interface: str) -> str:
    """One interface's line for ``snf-network status``."""
    if rows is None:
        return "snf-dhcpd is not running"
    row = rows.get(interface)
    if row is None:
        return "not served: snf-dhcpd has no binding for it"
    if row.get("served"):
        return f"served by snf-dhcpd ({row.get('answered')} answered, {row.get('ignored')} ignored)"
    return f"not served: {row.get('reason')}"
