"""Real faults while a NIC comes up: a full disk, an ``ip`` killed mid-batch, a planted symlink.

Each ends as test_routed's failure test does: one line on stderr, a non-zero
exit, and the node as it was.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.kernel.test_routed import IP, MAC, nothing_left
from tests.lab import GANETI_PATH, Lab, snapshot

pytestmark = pytest.mark.kernel
UNCOMPARED = ("nft", "links", "sysctl-tap1", "files")


def same(before: dict[str, str], after: dict[str, str]) -> bool:
    return {k: v for k, v in after.items() if k not in UNCOMPARED} == \
        {k: v for k, v in before.items() if k not in UNCOMPARED}


def test_a_full_disk_fails_the_nic_and_leaves_the_node_as_it_was(lab: Lab) -> None:
    small = lab.workdir / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(small)], check=True)
    try:
        # Full to the last byte: not even a record's first line fits.
        subprocess.run(["dd", "if=/dev/zero", f"of={small}/filler", "bs=1k", "count=64"], capture_output=True,
                       check=False)
        lab.build(extra_config=f"STATE_DIR={small}/state\n")
        (small / "state").mkdir(exist_ok=True)
        vm = lab.add_vm(1, MAC)
        before = snapshot(lab)
        result = lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP), check=False)
        assert result.returncode == 1
        assert len(result.stderr.splitlines()) == 1 and "No space left on device" in result.stderr, result.stderr
        after = snapshot(lab)
        assert same(before, after) and '"tap1"' not in after["nft"]
        assert list((small / "state").iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=False)


def ip_killed_once(lab: Lab) -> tuple[str, Path]:
    """A PATH whose first ``ip -batch`` dies of SIGKILL; the marker file says it did."""
    fake = lab.workdir / "bin"
    fake.mkdir(exist_ok=True)
    marker = lab.workdir / "killed-once"
    # The first "ip -batch" dies of SIGKILL before reading a line (an OOM kill,
    # an operator's kill); later ones, the undo's, are the real ip.
    (fake / "ip").write_text(f"""#!/bin/sh
for arg in "$@"; do
    if [ "$arg" = "-batch" ] && [ ! -e {marker} ]; then
        : > {marker}
        kill -9 $$
    fi
done
exec /sbin/ip "$@"
""")
    (fake / "ip").chmod(0o755)
    return f"{fake}:{GANETI_PATH}", marker


def test_an_ip_killed_mid_batch_fails_the_nic_and_the_undo_cleans_up(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    path, marker = ip_killed_once(lab)
    before = snapshot(lab)
    env = {**lab.ganeti_env(vm, ip=IP), "PATH": path}
    result = lab.program("kvm-vif-bridge", env, check=False)
    assert marker.exists()
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and "killed by signal 9" in result.stderr, result.stderr
    after = snapshot(lab)
    assert same(before, after) and '"tap1"' not in after["nft"]
    nothing_left(lab, vm.tap)


def test_a_symlink_planted_for_a_record_or_binding_is_never_followed(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    precious = lab.workdir / "precious"
    precious.write_text("keep me\n")
    state = lab.workdir / "state"
    state.mkdir(exist_ok=True)
    (state / "tap1.json").symlink_to(precious)
    result = lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP), check=False)
    assert result.returncode == 1 and "cannot be read" in result.stderr, result.stderr
    assert precious.read_text() == "keep me\n"
    (state / "tap1.json").unlink()
    bindings = lab.workdir / "nfdhcpd"
    bindings.mkdir(exist_ok=True)
    (bindings / "tap1").symlink_to(precious)
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))
    assert precious.read_text() == "keep me\n"
    assert not (bindings / "tap1").is_symlink() and "MAC=" in (bindings / "tap1").read_text()
    lab.program("kvm-ifdown-custom", lab.ganeti_env(vm, ip=IP), vm.tap)
    nothing_left(lab, vm.tap)


def test_an_interrupted_change_of_a_profile_can_be_undone_and_redone(lab: Lab) -> None:
    """The pending record holds the old and the new map value; the kernel only one of them."""
    lab.build()
    vm = lab.add_vm(1, MAC)
    env = lab.ganeti_env(vm, ip=IP, TAGS="synnefo:network:0:protected")
    lab.program("kvm-vif-bridge", env)
    path, _ = ip_killed_once(lab)
    changed = {**lab.ganeti_env(vm, ip=IP, TAGS="synnefo:network:0:limited"), "PATH": path}
    failed = lab.program("kvm-vif-bridge", changed, check=False)
    assert failed.returncode == 1 and len(failed.stderr.splitlines()) == 1, failed.stderr
    again = lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP, TAGS="synnefo:network:0:limited"))
    assert again.returncode == 0
    assert "jump profile_limited" in lab.ns(lab.node, "nft", "list", "map", "inet", "snf", "profile_port").stdout
    lab.program("kvm-ifdown-custom", env, vm.tap)
    nothing_left(lab, vm.tap)
