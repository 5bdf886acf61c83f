"""hwgen.pe."""
