"""hwgen.host."""
