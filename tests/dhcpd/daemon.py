"""Running the real snf-dhcpd in a lab's node namespace, and real DHCP clients in its VMs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from snf_network.dhcpd import status as dhcpd_status
from tests.lab import VENV_BIN, Lab, Vm

# Python runs 10-20 times slower under kvm-run's emulated CPU (tests/kernel/test_debian_kernel.py).
SLOW = 15 if os.environ.get("SNF_INSIDE_KVM_RUN") else 1

CLIENT_SCRIPT = """#!/bin/sh
# What a DHCP client hands its script: kept for the test to read.
env > "{out}.$1.$$"
mv "{out}.$1.$$" "{out}.$1"
"""
DHCLIENT_SCRIPT = """#!/bin/sh
env > "{out}.$reason.$$"
mv "{out}.$reason.$$" "{out}.$reason"
"""


class Daemon:
    """snf-dhcpd --foreground in ``lab``'s node, its log in the lab's work directory."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.log_path = lab.workdir / "snf-dhcpd.log"
        self.status_path = lab.workdir / "run" / "dhcpd-status"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, unprivileged: bool = False) -> None:
        """Start snf-dhcpd as root, or (``unprivileged``) as nobody with only the unit's capability, CAP_NET_RAW."""
        (self.lab.workdir / "nfdhcpd").mkdir(exist_ok=True)
        self.status_path.parent.mkdir(exist_ok=True)
        log = self.log_path.open("ab")
        env = {"PATH": os.environ["PATH"], "SNF_NETWORK_CONFIG": str(self.lab.config_path)}
        # What snf-dhcpd.service does: User= (here nobody), AmbientCapabilities=CAP_NET_RAW.
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all,+net_raw",
                "--ambient-caps=-all,+net_raw", "--bounding-set=-all,+net_raw"]
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.lab.node, *(drop if unprivileged else []), str(VENV_BIN / "snf-dhcpd"),
             "--foreground", "--debug"],
            stdout=log, stderr=log, env=env)
        log.close()
        self.wait_for(lambda: self.status_path.exists(), "the status file")

    def capabilities(self) -> tuple[int, int]:
        """(uid, effective capability bits) of the running daemon."""
        assert self.process is not None
        status = dict(line.split(":\t", 1) for line in
                      Path(f"/proc/{self.process.pid}/status").read_text().splitlines() if ":\t" in line)
        return int(status["Uid"].split()[1]), int(status["CapEff"], 16)

    def wait_for(self, condition, what: str, seconds: float = 5.0) -> float:
        start = time.monotonic()
        seconds *= SLOW
        while not condition():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"snf-dhcpd exited ({self.process.returncode}): {self.log()}")
            if time.monotonic() - start > seconds:
                raise AssertionError(f"timed out waiting for {what}: {self.log()[-3000:]}")
            time.sleep(0.01)
        return time.monotonic() - start

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def stop(self) -> float:
        """SIGTERM; how long it took to exit."""
        assert self.process is not None
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        return time.monotonic() - start

    def status(self) -> str:
        return self.lab.program("snf-dhcpd", {"PATH": os.environ["PATH"],
                                              "SNF_NETWORK_CONFIG": str(self.lab.config_path)},
                                "--dump", check=False).stdout

    def served(self, tap: str) -> bool:
        return f"{tap}: served" in self.status()

    def served_now(self, tap: str) -> bool:
        """``served``, read from the status file itself: what ``--dump`` reads, without starting a program.

        For waits with a deadline the daemon promises: a poll that starts Python
        in the node takes a tenth of a second and more on a loaded machine, and
        the deadline would measure the polls rather than the daemon."""
        rows = dhcpd_status.read(str(self.status_path))
        row = (rows or {}).get(tap)
        return bool(row and row.get("served"))


def script(lab: Lab, name: str, template: str) -> tuple[Path, Path]:
    """A client script that saves its environment; (script, prefix of the files it writes)."""
    out = lab.workdir / f"{name}.env"
    path = lab.workdir / f"{name}.sh"
    path.write_text(template.format(out=out))
    path.chmod(0o755)
    return path, out


def environment(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value
    return values


def udhcpc(lab: Lab, vm: Vm, tries: int = 3) -> dict[str, str] | None:
    """busybox udhcpc in ``vm``: the environment its script got on "bound", None without a lease."""
    path, out = script(lab, f"udhcpc-{vm.name}", CLIENT_SCRIPT)
    bound = Path(f"{out}.bound")
    bound.unlink(missing_ok=True)
    result = lab.ns(vm.name, "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", str(tries), "-T", "1",
                    "-A", "1", "-s", str(path), check=False)
    return environment(bound) if result.returncode == 0 and bound.exists() else None


def dhclient(lab: Lab, vm: Vm, *flags: str, reason: str = "BOUND", timeout: int = 8) -> dict[str, str] | None:
    """ISC dhclient -1 in ``vm`` (``flags``: -6 -S for an information request)."""
    path, out = script(lab, f"dhclient-{vm.name}", DHCLIENT_SCRIPT)
    base = lab.workdir / f"dhclient-{vm.name}"
    result_file = Path(f"{out}.{reason}")
    result_file.unlink(missing_ok=True)
    pid = Path(f"{base}.pid")
    try:
        lab.ns(vm.name, "timeout", str(timeout), "dhclient", *flags, "-1", "-sf", str(path),
               "-lf", f"{base}.leases", "-pf", str(pid), "eth0", check=False)
        return environment(result_file) if result_file.exists() else None
    finally:
        # Bound, dhclient went on in the background to renew: stop it (without a release).
        if pid.exists():
            try:
                os.kill(int(pid.read_text().split()[0]), signal.SIGKILL)
            except (ValueError, IndexError, ProcessLookupError):
                pass
            pid.unlink()
