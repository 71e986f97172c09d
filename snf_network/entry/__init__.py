"""One module per program Ganeti, Xen or an operator runs; each has ``main() -> int``."""
