"""snf-nld: the NBMA neighbour daemon (docs/nbma.md).

Only ``nudge`` may be imported by the NIC programs: it costs one stdlib
socket and no more. Everything else here (asyncio, pyroute2, logging) is for
the long-lived daemon.
"""
