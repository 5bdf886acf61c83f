"""``hwgen.host.run``: the library form of ``hwgen run``; same numbers as the CLI, errors at the boundary."""

import json

import numpy as np
import pytest

from hwgen.cli.main import main
from hwgen.emulation.errors import ConfigError
from hwgen.host import BACKENDS, EmulatorBackend, RunResult, get_backend, parse_target, register_backend, run
from hwgen.host.backends import _FACTORIES

_LAYER = {"target": "systolic:8x8:auto", "layer": "layer0.attn.q", "sentences": ["a cat"]}


@pytest.fixture(scope="module")
def layer_result() -> RunResult:
    return run("minilm", **_LAYER)


def test_layer_run_equals_what_the_cli_prints(layer_result, capsys, tmp_path):
    out = tmp_path / "run.json"
    argv = ["run", "--target", _LAYER["target"], "--layer", _LAYER["layer"], "--text", "a cat", "--json", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert json.loads(out.read_text()) == json.loads(json.dumps(layer_result.records()))
    r = layer_result.layer_run
    assert r.bit_exact and r.ok and layer_result.ok and r.measured_cycles == r.predicted_cycles > 0
    m, k, n = r.shape
    line = f"{r.layer} {m}x{k}x{n} on emulator: bit-exact vs the emulator; {r.runs} RUNs, "
    assert line + f"measured {r.measured_cycles:,} cycles, predicted {r.predicted_cycles:,}" in text
    line = next(row for row in text.splitlines() if row.lstrip("│ ").startswith("total"))
    cells = [cell.strip() for cell in line.split("│")][1:-1]
    t = layer_result.tables[0].totals
    assert cells[3] == f"{layer_result.cycles:,}" == f"{t['cycles']:,}"
    assert cells[4] == f"{t['top_cycles']:,}" and cells[5] == f"{t['utilisation']:.1%}"
    assert cells[7] == f"{layer_result.energy_pj / 1000:,.1f}"
    assert layer_result.description in text
    q = next(row for row in layer_result.layers if row["name"] == "layer0.attn.q")
    assert q["cycles"] == parse_target("systolic:8x8:auto").cycles(layer_result.tokens, 384, 384, q["dataflow"])


def test_tables_only_and_objects_for_target_and_formats():
    from hwgen.host.quant_policy import parse_policy

    target = parse_target("bitslice:4x4")
    result = run("minilm", target, parse_policy("w=int8,a=int8,acc=int32"), tokens=8, execute=False)
    assert result.target == str(target) and result.tokens == 8
    assert result.layer_run is result.embeddings is result.generation is None
    assert len([row for row in result.layers if row["kind"] == "gemm"]) == 6 * 8
    assert result.cycles == sum(row["cycles"] for row in result.layers if row["kind"] == "gemm")


def test_decoder_tables_per_phase():
    result = run("decoder", "systolic:8x8:ws", tokens=4, context=8, execute=False)
    assert [t.phase for t in result.tables] == ["prefill", "decode"] and result.context == 8
    assert set(result.records()["phases"]) == {"prefill", "decode"}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"model": "gpt5"}, ("model='gpt5'", "minilm, decoder")),
        ({"target": "tpu:4x4"}, ("target=", "tpu:4x4")),
        ({"target": 3}, ("target=3", "systolic:RxC")),
        ({"formats": "w=int7"}, ("int7",)),
        ({"formats": None}, ("formats=None", "quantisation policy")),
        ({"backend": "gpu"}, ("backend='gpu'", "emulator", "device")),
        ({"backend": object()}, ("backend=", "Backend")),
        ({"backend": "device"}, ("device=None", "device URL")),
        ({"tokens": 0}, ("tokens=0", ">= 1")),
        ({"tokens": True}, ("tokens=True", ">= 1")),
        ({"sentences": "one sentence"}, ("sentences='one sentence'", "list of str")),
        ({"sentences": ["ok", " "]}, ("sentences=' '", "non-blank")),
        ({"phase": "both"}, ("phase='both'", "only with model='decoder'")),
        ({"model": "decoder", "layer": "x"}, ("layer='x'", "layer0.attn.q")),  # decode-phase layers
        ({"model": "decoder", "layer": "layer0.attn.q", "phase": "prefill"}, ("layer=", "decode-phase")),
        ({"columns": 4}, ("columns=4", "layer=NAME")),
        ({"programs": True, "backend": "device", "device": "emulated://"}, ("programs=True", "emulator")),
        ({"simulator": "icarus"}, ("simulator='icarus'", "rtl")),
        ({"layer": "layer0.attn.q", "execute": False}, ("layer=", "execute=False")),
        ({"execute": "no"}, ("execute='no'", "True or False")),
        ({"scratchpad": (64, 256)}, ("scratchpad=(64, 256)", "W, A, O")),
        ({"target": "systolic:16x16", "scratchpad": (8, 8, 8)}, ("scratchpad=", "W depth >= rows (16)")),
        ({"bandwidth": float("nan")}, ("bandwidth=nan", "finite positive")),
        ({"progress": 5}, ("progress=5", "callable")),
        ({"layer": "layer9.attn.q", "sentences": ["hi"]}, ("layer='layer9.attn.q'", "layer0.attn.q")),
        # Programs run on the accelerator top, which has no output-stationary array.
        ({"target": "systolic:4x4:os", "programs": True, "sentences": ["hi"]}, ("ws, is or auto",)),
        (
            {
                "target": "pim:16ch",
                "layer": "layer0.attn.q",
                "formats": "w=float8_e4m3fn,a=float8_e4m3fn,acc=float32",
                "sentences": ["hi"],
            },
            ("formats=", "signed integer operands"),
        ),
    ],
)
def test_bad_arguments_name_the_value(kwargs, words):
    with pytest.raises(ConfigError) as exc:
        run(**kwargs)
    for word in words:
        assert word in str(exc.value), str(exc.value)


class _Counting(EmulatorBackend):
    """The emulator, counting the GEMMs it is asked for."""

    name = "counting"

    def __init__(self, info=None, dataflow="ws"):
        super().__init__(info, dataflow=dataflow)
        self.calls = 0

    def gemm_hook(self, call):
        self.calls += 1
        return super().gemm_hook(call)


@pytest.fixture
def counting():
    register_backend("counting", _Counting)
    yield
    _FACTORIES.pop("counting")


def test_a_registered_backend_is_used_by_name(counting, layer_result):
    result = run("minilm", backend="counting", **_LAYER)
    assert result.layer_run.backend == "counting"
    assert result.layer_run.measured_cycles == layer_result.layer_run.measured_cycles
    with pytest.raises(ConfigError, match=r"taken: .*counting"):
        register_backend("counting", _Counting)


def test_a_backend_object_is_used_and_embeds(counting):
    backend = get_backend("counting")
    assert "counting" in BACKENDS
    seen = []
    result = run("minilm", "systolic:16x16:ws", backend=backend, sentences=["Hello there."],
                 progress=lambda stage, done, total: seen.append(stage))  # fmt: skip
    assert backend.calls > 0 and result.embeddings.backend == "counting"
    assert len(result.embeddings.cosine) == 1 and result.embeddings.cosine[0] > 0.9
    assert np.shape(result.embeddings.embeddings) == np.shape(result.embeddings.reference) == (1, 384)
    assert "float32 reference" in seen and any(s.startswith("mapping onto") for s in seen)
