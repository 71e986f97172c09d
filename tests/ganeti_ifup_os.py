"""What Ganeti 3.1's kvm-ifup-os does for a communication NIC, for the tests and bench/communication_up.py.

Sourced (as kvm-ifup does) or run with bash, with the NIC's environment and
``DIR`` (where Ganeti keeps /var/run/ganeti/dnsmasq.*): it writes ``DIR/killed``
and ``DIR/started`` (times) around its restart of dnsmasq.
"""

from __future__ import annotations

# Ganeti 3.1's tools/ifup-os, as ../shared/docs/reference/ganeti-nfdhcpd.md (section 5) gives its
# steps, with its paths moved into the bench's directory ($DIR). Not Ganeti's text: a re-statement.
# Under set -e, the group's cat of a hosts file not there yet (the first NIC) ended the group
# before its echo: Ganeti's dnsmasq started with an empty hosts file and NAKed ("address not
# available") every request ours ACKed; udhcpc took whichever came first (on a NAK it starts over,
# without end), so the two-dnsmasq test passed on luck, and under load not at all. Hence || true.
SCRIPT = r"""
set -e
ip link set $INTERFACE up
ip addr add 169.254.169.254/255.255.255.255 dev $INTERFACE 2>/dev/null || true
ethtool -K $INTERFACE tx off >/dev/null 2>&1 || true
ip route replace $IP/32 dev $INTERFACE
cat > $DIR/dnsmasq.conf <<EOF
bind-dynamic
dhcp-authoritative
dhcp-hostsfile=$DIR/dnsmasq.hosts
dhcp-range=169.254.0.0,static,255.255.0.0
except-interface=eth*
except-interface=lo
leasefile-ro
no-hosts
no-ping
no-resolv
pid-file=$DIR/dnsmasq.pid
port=0
strict-order
interface=gnt.com.*
EOF
{ cat $DIR/dnsmasq.hosts 2>/dev/null || true; echo "$MAC,$IP"; } | sort -u > $DIR/dnsmasq.hosts.new
mv $DIR/dnsmasq.hosts.new $DIR/dnsmasq.hosts
if [ -f $DIR/dnsmasq.pid ]; then
  pid=$(cat $DIR/dnsmasq.pid)
  date +%s.%N > $DIR/killed
  kill $pid 2>/dev/null || true
  # Until it has exited: a zombie counts as gone (the init of a container may
  # take seconds to reap it; a node's systemd does not).
  while [ -e /proc/$pid ] && [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" != Z ]; do sleep 0.001; done
fi
dnsmasq -C $DIR/dnsmasq.conf
date +%s.%N > $DIR/started
"""

