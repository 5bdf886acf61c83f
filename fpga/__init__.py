"""hwgen.fpga."""
