"""snf-dhcpd: DHCPv4, router advertisements, neighbour advertisements and DHCPv6 for nfdhcpd-tagged NICs.

The binding files (binding.py) are shared with the NIC programs, which write
them; everything else here belongs to the long-lived daemon (service.py).
"""
