"""hwgen.dataflow."""
