#!/bin/sh
# Install what snf-network, its demonstration and its tests need on a Debian 12
# machine (run as root): Debian packages with apt-get, then the package itself
# into a virtual environment at .venv that also sees Debian's python3-* modules.
# (qemu-system-x86, linux-image-amd64, tiny-initramfs and busybox: Debian's own
# kernel for ../shared/tools/kvm-run, where tests/kernel/test_debian_kernel.py
# runs what this machine's kernel lacks; python3-pyroute2 for the long-lived
# services; openvswitch-switch, dnsmasq-base (dnsmasq-utils: dhcp_release), iperf3, ndisc6 and udhcpc for the
# tests of Open vSwitch ports, the communication dnsmasq, bandwidth limits and
# the DHCP/RA responder, against the real programs.)
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "tools/setup.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi
packages="python3 python3-venv python3-click python3-dnspython iproute2 nftables procps iputils-ping tcpdump logrotate python3-scapy isc-dhcp-client
          bind9 bind9-utils dnsutils
          iptables ebtables arptables
          dpkg-dev debhelper dh-python pybuild-plugin-pyproject python3-setuptools python3-all lintian
          qemu-system-x86 linux-image-amd64 tiny-initramfs busybox
          python3-pyroute2 openvswitch-switch dnsmasq-base dnsmasq-utils iperf3 ndisc6 udhcpc
          ethtool"
missing=""
for package in $packages; do
    if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $package"
    fi
done
if [ -n "$missing" ]; then
    echo "tools/setup.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Debian's own python3, so the venv sees python3-click and python3-dnspython:
# the same versions the .deb runs with.
if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/.snf-network-installed
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # "compat" editable mode is a plain .pth path entry: the default mode's
    # import hook costs ~15 ms at every start of every NIC program.
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
    touch "$stamp"
fi
# Byte-compile now, as the Debian package does at install: the NIC programs
# start in a few tens of milliseconds, and compiling their modules would
# double that wherever .pyc files are not written (PYTHONDONTWRITEBYTECODE).
.venv/bin/python -m compileall -q snf_network
