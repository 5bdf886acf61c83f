"""Products of a combinational multiplier unit (``FpMul``, ``LMulUnit``) read back in the Amaranth simulator."""

import numpy as np
from amaranth.sim import Simulator

from hwgen.rtl.fp_add import exp_offset


def unit_products(unit, a_codes, b_codes) -> np.ndarray:
    """The unit's products as values (NaN, ±Inf, ``±sig * 2**exp``) for each code pair."""
    got = []

    async def bench(ctx):
        p = unit.product
        offset = exp_offset(p.shape())  # the unpacked exponent is biased by a constant of its layout
        for x, y in zip(a_codes.tolist(), b_codes.tolist(), strict=True):
            ctx.set(unit.a.as_value(), x)
            ctx.set(unit.b.as_value(), y)
            if ctx.get(p.nan):
                got.append(np.nan)
                continue
            v = np.inf if ctx.get(p.inf) else np.ldexp(float(ctx.get(p.sig)), ctx.get(p.exp) + offset)
            got.append(-v if ctx.get(p.sign) else v)

    sim = Simulator(unit)
    sim.add_testbench(bench)
    sim.run()
    return np.array(got)
