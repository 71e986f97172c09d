"""Running programs: argument lists only, never a shell."""

from __future__ import annotations

import subprocess

from snf_network.errors import CommandError


def run(argv: list[str], stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise CommandError(argv, 127, f"{argv[0]}: program not found (is it installed?)") from None
    if check and result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stderr)
    return result
