"""GPT-style decoder: KV-cached decode equals prefill, graph shapes, bad input."""

import numpy as np
import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.host.decoder import Decoder, DecoderConfig, decoder_graph
from hwgen.host.workload import Gemm

CFG = DecoderConfig(vocab=128, d_model=64, heads=4, layers=2, d_ff=128, max_positions=32)


def _prompt(batch=2, tokens=9, seed=3):
    return np.random.default_rng(seed).integers(0, CFG.vocab, (batch, tokens))


def _decode_all(dec: Decoder, ids: np.ndarray, split: int) -> np.ndarray:
    dec.prefill(ids[:, :split])
    outs = [dec.decode(ids[:, t : t + 1]) for t in range(split, ids.shape[1])]
    return np.concatenate(outs, axis=1)


@pytest.mark.parametrize("policy", ["w=float8_e4m3fn,a=float8_e4m3fn", "w=bfloat16,a=bfloat16,mul=lmul,lmul_m=3"])
def test_decode_with_kv_cache_equals_prefill_bit_for_bit(policy):
    # Emulated GEMMs compute every output on its own, so cached decode is bit-identical.
    ids = _prompt()
    full = Decoder(CFG, policy).prefill(ids)
    stepped = _decode_all(Decoder(CFG, policy), ids, split=5)
    assert np.array_equal(full[:, 5:], stepped)


def test_float32_decode_matches_prefill():
    ids = _prompt()
    full = Decoder(CFG).prefill(ids)
    stepped = _decode_all(Decoder(CFG), ids, split=3)
    assert np.abs(full[:, 3:] - stepped).max() < 1e-4  # float32 BLAS blocks differently per shape


def test_generate_and_cache_growth():
    dec = Decoder(CFG, "w=float8_e4m3fn,a=float8_e4m3fn")
    new = dec.generate(_prompt(tokens=4), steps=3)
    assert new.shape == (2, 3) and dec.context == 4 + 3 - 1
    assert dec.cache["layer1.k"].shape == (2, CFG.heads, dec.context, CFG.head_dim)


def test_graph_shapes_of_prefill_and_decode():
    pre = [w for w in decoder_graph(CFG, "prefill", tokens=8).workloads() if isinstance(w, Gemm)]
    dec = [w for w in decoder_graph(CFG, "decode", tokens=1, context=20).workloads() if isinstance(w, Gemm)]
    assert Gemm("layer0.attn.qk", 8, 16, 8, 4, False) in pre
    assert Gemm("layer0.attn.qk", 1, 16, 21, 4, False) in dec
    assert Gemm("layer1.ffn.up", 1, 64, 128, 1, True) in dec
    assert Gemm("logits", 1, 64, 128, 1, True) in dec
    assert decoder_graph(CFG, "decode", 1, 20).inputs[1] == "past.layer0.k"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"phase": "train"}, "prefill, decode"),
        ({"phase": "decode", "tokens": 2}, "decode phase"),
        ({"tokens": 30, "context": 5}, "max_positions"),
        ({"tokens": 0}, ">= 1"),
    ],
)
def test_bad_graph_requests(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        decoder_graph(CFG, **kwargs)


def test_bad_config_and_inputs():
    with pytest.raises(ConfigError, match="multiple of heads"):
        DecoderConfig(d_model=30, heads=4)
    with pytest.raises(ConfigError, match="prefilled"):
        Decoder(CFG).decode(np.zeros((1, 1), int))
    with pytest.raises(ConfigError, match=r"ids in 0\.\.127"):
        Decoder(CFG).prefill(np.full((1, 2), 500))
