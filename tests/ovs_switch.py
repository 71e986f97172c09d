"""A real Open vSwitch in a lab's node: ovsdb-server and ovs-vswitchd (userspace datapath), sockets in a tmp dir.

Used by tests/kernel/test_openvswitch.py, test_switches.py and bench/ovs.py (recipe:
../shared/docs/testing-recipes.md). Nothing goes to OVS's own /run paths:
every socket, pid and log file is in ``rundir``; stop() ends both daemons by pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from tests.lab import Lab

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")


def kernel_datapath() -> bool:
    """Whether this kernel has Open vSwitch's datapath (Debian's, under kvm-run; not this machine's)."""
    import subprocess

    return subprocess.run(["modprobe", "-q", "openvswitch"], capture_output=True, check=False).returncode == 0 \
        and os.path.isdir("/sys/module/openvswitch")


def missing() -> str:
    if not (shutil.which("ovs-vswitchd") and shutil.which("ovsdb-server") and SCHEMA.exists()):
        return "Open vSwitch is not installed (tools/setup.sh installs openvswitch-switch)"
    return ""


class Switches:
    def __init__(self, lab: Lab, rundir: Path) -> None:
        self.lab, self.rundir = lab, rundir
        self.db = f"unix:{rundir}/db.sock"
        self.pids = [rundir / "ovsdb.pid", rundir / "vswitchd.pid"]

    def config(self) -> str:
        """The config keys that point snf-network at this Open vSwitch."""
        return f"OVS_DB={self.db}\nOVS_RUNDIR={self.rundir}\n"

    def start(self, *switches: str, datapath: str = "netdev") -> None:
        """ovsdb-server, ovs-vswitchd and ``switches``: on the userspace datapath, or ``system`` (the kernel's)."""
        lab, rundir = self.lab, self.rundir
        env = ["env", f"OVS_RUNDIR={rundir}", f"OVS_DBDIR={rundir}", f"OVS_LOGDIR={rundir}"]
        lab.ns(lab.node, "ovsdb-tool", "create", str(rundir / "conf.db"), str(SCHEMA))
        lab.ns(lab.node, *env, "ovsdb-server", str(rundir / "conf.db"), f"--remote=punix:{rundir}/db.sock",
               f"--pidfile={rundir}/ovsdb.pid", f"--unixctl={rundir}/ovsdb.ctl", "--detach",
               f"--log-file={rundir}/ovsdb.log")
        self.vsctl("--no-wait", "init")
        system = [] if datapath == "system" else ["--disable-system"]
        lab.ns(lab.node, *env, "ovs-vswitchd", f"unix:{rundir}/db.sock", *system,
               f"--pidfile={rundir}/vswitchd.pid", f"--unixctl={rundir}/vswitchd.ctl", "--detach",
               f"--log-file={rundir}/vswitchd.log")
        for name in switches:
            self.vsctl("add-br", name, "--", "set", "bridge", name, f"datapath_type={datapath}")

    def vsctl(self, *args: str, check: bool = True) -> str:
        return self.lab.ns(self.lab.node, "ovs-vsctl", f"--db={self.db}", *args, check=check).stdout.strip()

    def stop(self, seconds: float = 10) -> None:
        """SIGTERM both daemons, and wait until they have exited (SIGKILL after ``seconds``).

        Not waiting, the lab's namespaces were deleted under a vswitchd still tearing its
        bridges down, and the next module's tests ran beside it (on a loaded machine, with
        its CPU)."""
        running = []
        for pid in self.pids:
            try:
                number = int(pid.read_text())
                os.kill(number, signal.SIGTERM)
                running.append(number)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + seconds
        for number in running:
            while _alive(number) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(number):
                try:
                    os.kill(number, signal.SIGKILL)
                except OSError:
                    pass


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie does not: --detach leaves it to init to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
