"""hwgen.sim."""
