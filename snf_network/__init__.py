"""snf-network: instance networking for Ganeti nodes."""

__version__ = "0.1.0"
