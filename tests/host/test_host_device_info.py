"""The host's device infos are the accelerator top's: one ``device_info``, one set of defaults and checks."""

import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.emulation.formats import get_format
from hwgen.emulation.units.systolic_config import ArrayConfig
from hwgen.emulation.units.top_config import TopConfig, device_info
from hwgen.host import mapper
from hwgen.host.emulated_device import emulated_info
from hwgen.host.targets import SystolicTarget


@pytest.mark.parametrize(("rows", "cols", "dtype", "acc"), [(4, 4, "int8", "int32"), (8, 2, "bfloat16", "float32")])
def test_host_infos_equal_the_tops(rows, cols, dtype, acc):
    top = device_info(ArrayConfig(rows, cols, "ws", dtype, acc))
    assert emulated_info(rows, cols, dtype) == top
    assert mapper.device_info(SystolicTarget(rows, cols), get_format(dtype), get_format(acc)) == top
    assert emulated_info() == device_info(TopConfig().array, **TopConfig().memories)


def test_host_defaults_are_the_tops():
    top = TopConfig()
    assert mapper.DEFAULT_DEPTHS == (top.w_depth, top.a_depth, top.o_depth)
    assert mapper.DEFAULT_MAX_PAYLOAD == top.max_payload


@pytest.mark.parametrize(
    ("memories", "field"),
    [({"w_depth": 3}, "w_depth"), ({"max_payload": 8}, "max_payload"), ({"a_depth": 0}, "a_depth")],
)
def test_host_infos_refuse_what_the_top_refuses(memories, field):
    with pytest.raises(ConfigError, match=f"{field}=.* is not allowed") as top:
        device_info(ArrayConfig(4, 4), **memories)
    with pytest.raises(ConfigError) as emulated:
        emulated_info(4, 4, **memories)
    assert str(emulated.value) == str(top.value)


def test_emulated_info_names_an_unknown_memory():
    with pytest.raises(ConfigError, match=r"depth=8 is not allowed; allowed: w_depth, a_depth, o_depth, max_payload"):
        emulated_info(4, 4, depth=8)
