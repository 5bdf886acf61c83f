"""Sparse DSP chain on ECP5: every slice's multiplier lands in one MULT18X18D (Yosys synthesis only)."""

import pytest

from hwgen.dataflow.hardware import unit_component
from hwgen.emulation.sparse_chain import SparseChainConfig
from hwgen.fpga import synthesize
from hwgen.rtl.verilog_writer import generate_verilog

pytestmark = pytest.mark.synth


@pytest.mark.parametrize(
    "cfg",
    [
        SparseChainConfig(length=8, group_size=1),
        SparseChainConfig(length=8, group_size=1, weight_bits=4, packed=True),
        # N results per beat: the wider activation window changes the multiplexers, not the multipliers.
        SparseChainConfig(length=8, group_size=1, window=64, sparse_modes=((2, 4, 2), (1, 4, 1), (1, 8, 1))),
    ],
    ids=lambda c: c.top_name,
)
def test_multipliers_map_to_dsp_blocks(tmp_path, cfg):
    gen = generate_verilog(unit_component(cfg), cfg.top_name)
    report = synthesize(gen.text, gen.top, "ecp5", tmp_path, place_and_route=False)
    # int8 x int8 fits one 18x18 multiplier; the packed operand a1*2**18 + a0 is 26 bits wide, so
    # Yosys splits it over two MULT18X18D (packing pays on a 27x18 DSP48E2, not on ECP5).
    per_slice = 2 if cfg.packed else 1
    assert report.dsp == per_slice * cfg.length
    assert report.cells_by_type.get("MULT18X18D", 0) == report.dsp
    assert report.luts > 0
