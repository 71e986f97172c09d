"""Switches, uplinks and bonds on the node, from SWITCHES_FILE (``snf-network switch apply|show``).

spec.py parses the file (never executes it), steps.py turns a switch into
the steps that make it so, linux.py and ovs.py carry them out, and engine.py
compares them with the record of what an earlier apply made, so that apply
converges and removes only what it made itself. docs/switches.md has the file
format.
"""
