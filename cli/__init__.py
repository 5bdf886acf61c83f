"""hwgen.cli."""
