"""Long-lived services (the DHCP responder, the NBMA daemon, the communication dnsmasq's keeper).

They run for days, so here, and only here, ``asyncio``, ``logging``,
``dataclasses`` and ``pyroute2`` are welcome; the short-lived NIC programs
never import this package (ruff's banned-api rule in ruff.toml, and
tests/unit/test_startup.py, which runs the installed programs). A service
shares files with the NIC programs (records, binding files), never their
start-up budget. ``daemon.run`` is the frame every service runs in.
"""
