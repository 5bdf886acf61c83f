"""Each unit's hardware (Amaranth component, manifest entries), plugged into the unit registry; one build for all.

Importing ``hwgen.dataflow`` runs this module, which attaches a :class:`Hardware` to
every built-in unit of :data:`hwgen.emulation.units.UNITS`. :func:`build_unit` then
builds any unit's config the same way: its component, its Verilog module name
(``cfg.top_name``), its config (``cfg.to_dict()``) and its manifest entries.
"""

from __future__ import annotations

from pathlib import Path

from hwgen.emulation import LMul, get_format
from hwgen.emulation.errors import ConfigError
from hwgen.emulation.pim_model import PimConfig
from hwgen.emulation.sparse_chain import SparseChainConfig
from hwgen.emulation.units import Hardware, attach_hardware, unit_of
from hwgen.emulation.units.addertree_plan import AdderTreeConfig
from hwgen.emulation.units.bitslice_plan import BitSliceConfig
from hwgen.emulation.units.fp_pe_config import LATENCY, FpPEConfig
from hwgen.emulation.units.sparse_dsp_plan import latency as sparse_latency
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.top_config import TopConfig
from hwgen.rtl.component_build import BuildResult, build_component
from hwgen.rtl.verilog_writer import FSM_LINT_WAIVERS, LINT_WAIVERS

__all__ = ["MAX_PIM_RTL_WORDS", "build_unit", "unit_component"]

#: Largest ``rows * cols`` bursts per PIM bank the generator writes out (bigger banks are model-only).
MAX_PIM_RTL_WORDS = 1 << 13


def unit_component(cfg):
    """The Amaranth component of any registered unit's config.

    Raises
    ------
    ConfigError
        If ``cfg`` is no registered unit's config, or has no hardware form.
    """
    return unit_of(cfg).built_hardware().component(cfg)


def build_unit(cfg, out_dir: str | Path, extra_tools: dict[str, str] | None = None) -> BuildResult:
    """Write the Verilog, attribute-free copy, lint waivers and ``manifest.json`` of ``cfg``'s unit into ``out_dir``.

    Parameters
    ----------
    cfg
        A registered unit's config (``ArrayConfig``, ``BitSliceConfig``, ``TopConfig``, ...).
    out_dir : path
        Created if missing.
    extra_tools : dict, optional
        Versions of further tools used on the output (e.g. the linting Verilator).

    Raises
    ------
    ConfigError
        If ``cfg`` is no registered unit's config or has no hardware form, or ``out_dir``
        holds an earlier build hwgen may not replace (see
        ``hwgen.rtl.component_build.check_build_folder``).
    OSError
        If ``out_dir`` cannot be created or written.
    """
    unit = unit_of(cfg)
    hardware = unit.built_hardware()
    extra = hardware.manifest(cfg) if hardware.manifest else None
    waivers = hardware.lint_waivers or LINT_WAIVERS
    component = hardware.component(cfg)
    return build_component(component, cfg.top_name, cfg.to_dict(), out_dir, extra_tools, unit.name, extra, waivers)


def _systolic(cfg: ArrayConfig):
    from hwgen.dataflow.os_array import OutputStationaryArray
    from hwgen.dataflow.systolic import SystolicArray

    return OutputStationaryArray(cfg) if cfg.dataflow == "os" else SystolicArray(cfg)


def _bitslice(cfg: BitSliceConfig):
    if cfg.unit == "pe":
        from hwgen.pe.bitslice import BitSlicePE

        return BitSlicePE(cfg.coding, cfg.acc_format)
    from hwgen.dataflow.bitslice_array import BitSliceArray

    return BitSliceArray(cfg)


def _addertree(cfg: AdderTreeConfig):
    from hwgen.dataflow.addertree_array import AdderTreeArray

    return AdderTreeArray(cfg)


def _fp_pe(cfg: FpPEConfig):
    in_fmt, acc_fmt = get_format(cfg.in_fmt), get_format(cfg.acc_fmt)
    if cfg.kind == "lmul":
        from hwgen.pe.lmul_pe import LMulPE

        return LMulPE(in_fmt, acc_fmt, **cfg.policies)
    from hwgen.pe.fp_mac import FpMacPE

    return FpMacPE(in_fmt, acc_fmt)


def _fp_pe_manifest(cfg: FpPEConfig) -> dict:
    mul = "'exact'" if cfg.kind == "fp_mac" else repr(LMul(get_format(cfg.in_fmt), **cfg.policies))
    return {"latency": LATENCY, "golden_model": f"hwgen.emulation.fp_mac_model.fp_dot(mul={mul})"}


def _sparse_dsp(cfg: SparseChainConfig):
    from hwgen.dataflow.sparse_chain import SparseDspChain

    return SparseDspChain(cfg)


def _sparse_dsp_manifest(cfg: SparseChainConfig) -> dict:
    return {"modes": {str(code): list(mode) for code, mode in enumerate(cfg.modes)}, "latency": sparse_latency(cfg)}


def _pim(cfg: PimConfig):
    if cfg.cols < 2:
        raise ConfigError("cols", cfg.cols, "at least 2 for RTL (the global buffer needs an address bit)")
    words = cfg.rows << max(1, (cfg.cols - 1).bit_length())
    if words > MAX_PIM_RTL_WORDS:
        raise ConfigError(
            "rows",
            cfg.rows,
            f"a bank of at most {MAX_PIM_RTL_WORDS} bursts (rows x cols padded to a power of two; got {words}); "
            "larger devices are analysed with hwgen.emulation.pim_model only",
        )
    from hwgen.dataflow.pim_channel import PimChannel

    return PimChannel(cfg)


def _top(cfg: TopConfig):
    from hwgen.dataflow.accelerator import make_accelerator_top

    return make_accelerator_top(cfg.array, cfg.link, cfg.clk_freq, cfg.uart_baud, **cfg.memories)


def _top_manifest(cfg: TopConfig) -> dict:
    import dataclasses

    from hwgen.emulation.units.top_config import device_info

    info = device_info(cfg.array, **cfg.memories)
    return {"device_info": dataclasses.asdict(info), "run_cycles": "2 * rows + cols + m + 2"}


attach_hardware("systolic", Hardware(_systolic))
attach_hardware("bitslice", Hardware(_bitslice))
attach_hardware("addertree", Hardware(_addertree))
attach_hardware("lmul", Hardware(_fp_pe, _fp_pe_manifest))
attach_hardware("fp-mac", Hardware(_fp_pe, _fp_pe_manifest))
attach_hardware("sparse-dsp", Hardware(_sparse_dsp, _sparse_dsp_manifest))
attach_hardware("pim", Hardware(_pim))
attach_hardware("top", Hardware(_top, _top_manifest, FSM_LINT_WAIVERS))
