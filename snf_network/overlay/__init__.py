"""The NBMA overlay: routed instances on nodes that share no broadcast domain.

``config`` reads NBMA_CONFIG_DIR (nbma.conf and overlays/*.conf), ``backends``
knows the two data planes (kernel GRE and VXLAN) and ``setup`` plans, applies
and tears down the devices, routes, rules, sysctls and nftables table. The
daemon that keeps the neighbour tables current is snf_network/nld/.
Design: docs/nbma.md.
"""
