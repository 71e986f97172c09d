"""The NIC programs' start-up budget: what the installed console scripts import on a real ifup and ifdown.

Ganeti runs one program per NIC and waits for it; a module that only a
long-lived service or the DNS hook needs costs every NIC its import time.
Python's own import log (PYTHONPROFILEIMPORTTIME) of the real launcher, on
a real bring-up and take-down in a namespace, is the measure.
"""

from __future__ import annotations

import pytest

from tests.kernel.test_routed import IP, MAC, nothing_left
from tests.lab import Lab

pytestmark = pytest.mark.kernel

# re and enum: what a generated console script would import (bin/ has our own launchers).
FORBIDDEN = ("logging", "dataclasses", "subprocess", "pyroute2", "dns", "asyncio", "click", "typing",
             "snf_network.services", "re", "enum")


def imported(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines: 'import time: self | cumulative | name'."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")
            and "|" in line}


def test_nic_programs_import_nothing_a_service_needs(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    env = {**lab.ganeti_env(vm, ip=IP), "PYTHONPROFILEIMPORTTIME": "1"}
    up = lab.program("kvm-vif-bridge", env)
    down = lab.program("kvm-ifdown-custom", env, vm.tap)
    for result in (up, down):
        modules = imported(result.stderr)
        assert "snf_network.engine" in modules  # the log is the real one, of a real run
        bad = sorted(name for name in modules if name.split(".")[0] in FORBIDDEN or name in FORBIDDEN)
        assert bad == [], f"the NIC programs import {bad}"
    nothing_left(lab, vm.tap)


@pytest.mark.parametrize("program", ["kvm-vif-bridge", "kvm-ifdown-custom", "vif-custom", "snf-network-hook",
                                     "snf-network-dnshook"])
def test_every_program_answers_help(program: str) -> None:
    import subprocess

    from tests.lab import VENV_BIN

    result = subprocess.run([str(VENV_BIN / program), "--help"], capture_output=True, text=True, check=False,
                            env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "SNF_NETWORK_CONFIG": "/nonexistent"})
    assert result.returncode == 0 and result.stdout.startswith("usage: "), result.stdout + result.stderr
