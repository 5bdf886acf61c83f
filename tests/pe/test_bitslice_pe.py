"""BitSlicePE in the Amaranth simulator: bit-exact with bitslice_dot, reported cycles exact, errors flagged."""

import numpy as np
import pytest

from hwgen.emulation import int32
from hwgen.emulation.bitslice import SliceCoding
from hwgen.pe.bitslice import BitSlicePE, pair_layout, result_layout
from hwgen.sim.amaranth_streams import run_phases
from hwgen.sim.beats import pack_fields, unpack_fields
from hwgen.sim.bitslice_vectors import pe_phase, pe_stream_cycles, random_groups

CODINGS = [SliceCoding("radix4", 2), SliceCoding("unsigned", 2), SliceCoding("unsigned", 1)]
PRECISIONS = [(8, 8), (2, 8), (8, 2), (3, 5), (6, 4), (2, 2)]


def _phases(coding, rng, groups=5, k=4):
    phases, serial = [], []
    for a_bits, w_bits in PRECISIONS:
        a, w = random_groups(rng, groups, k, a_bits, w_bits)
        phases.append(pe_phase(coding, int32, a, w, a_bits, w_bits, f"{a_bits}x{w_bits}"))
        serial.append((a, a_bits))
    return phases, serial


@pytest.mark.parametrize("coding", CODINGS, ids=lambda c: f"{c.encoding}{c.slice_bits}")
def test_full_rate_bit_exact_and_cycle_exact(coding):
    phases, serial = _phases(coding, np.random.default_rng(coding.slice_bits))
    results = run_phases(BitSlicePE(coding, int32), phases)
    for phase, res, (a, a_bits) in zip(phases, results, serial, strict=True):
        assert res.outputs == phase.expected, phase.name  # acc and the reported cycles, bit for bit
        assert res.cycles == pe_stream_cycles(coding, a, a_bits), phase.name


@pytest.mark.parametrize("coding", CODINGS[:2], ids=lambda c: f"{c.encoding}{c.slice_bits}")
def test_random_backpressure_keeps_results_and_reported_cycles(coding):
    phases, serial = _phases(coding, np.random.default_rng(7), groups=4, k=3)
    results = run_phases(BitSlicePE(coding, int32), phases, valid_prob=0.6, ready_prob=0.4, seed=3)
    for phase, res, (a, a_bits) in zip(phases, results, serial, strict=True):
        assert res.outputs == phase.expected
        assert res.cycles > pe_stream_cycles(coding, a, a_bits)  # stalls cost wall cycles, not busy cycles


def test_zero_operands_take_one_cycle_and_dense_ones_take_one_per_digit():
    coding = SliceCoding()
    a = np.array([[0, 0, 0], [85, 85, 85]])  # 85 has four non-zero radix-4 digits
    phase = pe_phase(coding, int32, a, np.full((2, 3), -7), 8, 8)
    res = run_phases(BitSlicePE(coding, int32), [phase])[0]
    got = [unpack_fields(result_layout(int32), x) for x in res.outputs]
    assert [(g["acc"], g["cycles"]) for g in got] == [(0, 3), (-7 * 255, 12)]


def test_bad_precision_or_operand_sets_error_and_the_next_group_is_clean():
    coding = SliceCoding()
    good = pe_phase(coding, int32, [[3, -4]], [[5, 6]], 4, 4, "good")
    ok_result = good.expected[0]
    # a = 9 does not fit 4 bits; then a_bits = 9 and w_bits = 1 are out of range.
    bad_operand = pe_phase(coding, int32, [[3, 4]], [[5, 6]], 4, 4, "bad operand")
    bad_operand.sources["i_pair"][1] = pack_fields(pair_layout(coding), {"a": 9, "w": 6, "last": 1})
    bad_a_bits = pe_phase(coding, int32, [[3, -4]], [[5, 6]], 4, 4, "a_bits=9")
    bad_a_bits.controls = {"a_bits": 9, "w_bits": 4}
    bad_w_bits = pe_phase(coding, int32, [[3, -4]], [[5, 6]], 4, 4, "w_bits=1")
    bad_w_bits.controls = {"a_bits": 4, "w_bits": 1}
    res = run_phases(BitSlicePE(coding, int32), [good, bad_operand, bad_a_bits, bad_w_bits, good])
    flags = [unpack_fields(result_layout(int32), r.outputs[0])["error"] for r in res]
    assert flags == [0, 1, 1, 1, 0]
    assert res[-1].outputs == [ok_result]
