"""Everything that changes or reads the host lives under this package, and nothing else does."""
