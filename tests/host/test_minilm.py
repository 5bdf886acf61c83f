"""MiniLM: loader errors, the float32 NumPy path against sentence-transformers, quantised runs and hooks."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from hwgen.emulation.errors import ConfigError
from hwgen.host.ir_exec import emulate_gemm
from hwgen.host.minilm import ModelError, embed, load_minilm, minilm_graph, model_dir
from hwgen.host.workload import Gemm

DATA = Path(__file__).parent / "data" / "minilm_reference.npz"


@pytest.fixture(scope="module")
def reference():
    d = np.load(DATA)
    return [str(s) for s in d["sentences"]], d["embeddings"]


def test_float32_path_matches_sentence_transformers(reference):
    # Float vs float (torch vs NumPy, both float32): a tolerance is right here.
    sentences, want = reference
    got = embed(sentences)
    assert got.shape == (8, 384) and got.dtype == np.float32
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    assert cos.min() > 0.99999
    assert np.abs(got - want).max() < 2e-6


def test_tokenize_pads_to_the_longest_sentence():
    model = load_minilm()
    ids, mask = model.tokenize(["Hello!", "The quick brown fox jumps."])
    assert ids.shape == mask.shape and ids.shape[0] == 2
    assert ids[0, 0] == 101 and mask[0].sum() == 4 and ids[0, 4:].max() == 0  # [CLS] hello ! [SEP] pad...
    assert mask[1].all()
    long_ids, _ = model.tokenize(["word " * 400])
    assert long_ids.shape[1] == model.max_length == 256
    with pytest.raises(ConfigError, match="list of strings"):
        model.tokenize("not a list")


def test_graph_workloads_cover_every_gemm():
    g = minilm_graph(load_minilm(), tokens=10, batch=2)
    gemms = [w for w in g.workloads() if isinstance(w, Gemm)]
    assert len(gemms) == 6 * 8  # q, k, v, qk, av, out, ffn.up, ffn.down
    assert gemms[0] == Gemm("layer0.attn.q", 20, 384, 384, 1, True)
    assert Gemm("layer0.attn.qk", 10, 32, 10, 24, False) in gemms
    assert Gemm("layer0.attn.av", 10, 10, 32, 24, False) in gemms
    assert Gemm("layer5.ffn.up", 20, 384, 1536, 1, True) in gemms
    assert g.macs == 6 * (20 * 384 * (4 * 384 + 2 * 1536) + 2 * 24 * 10 * 10 * 32)
    with pytest.raises(ConfigError, match=r"1\.\.256"):
        minilm_graph(load_minilm(), tokens=300)


def test_embeddings_do_not_depend_on_the_other_sentences(reference):
    sentences, _ = reference
    policy = "w=float8_e4m3fn,a=float8_e4m3fn"
    together = embed(sentences[:3], policy)
    alone = embed(sentences[1:2], policy)
    assert np.array_equal(together[1], alone[0])


def test_quantised_embedding_and_hook_are_bit_identical(reference):
    sentences = [reference[0][4], reference[0][7]]  # the two shortest: 9 and 4 tokens
    policy = "w=int8,a=int8"
    calls = []

    def hook(call):
        calls.append(call.name)
        return emulate_gemm(call)

    plain = embed(sentences, policy)
    assert np.array_equal(embed(sentences, policy, hook), plain)
    assert "layer5.ffn.down" in calls and "layer0.attn.qk" in calls
    cos = (plain * embed(sentences)).sum(1)
    assert 0.9 < cos.min() < 1.0


def _model_copy(tmp_path: Path) -> Path:
    src, dst = model_dir(), tmp_path / "model"
    dst.mkdir()
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json"):
        shutil.copy(src / name, dst / name)
    return dst


def test_truncated_weights_give_one_line_error(tmp_path):
    # A user folder: the message names the file and the damage (a reinstall is the fix only for the package's files).
    dst = _model_copy(tmp_path)
    with open(model_dir() / "model.safetensors", "rb") as fh:
        (dst / "model.safetensors").write_bytes(fh.read(4096))
    with pytest.raises(ModelError) as exc:
        load_minilm(str(dst))
    msg = str(exc.value)
    assert msg.startswith(str(dst.resolve() / "model.safetensors")) and "truncated" in msg
    assert "\n" not in msg and isinstance(exc.value, ConfigError)


def test_missing_file_and_missing_package(tmp_path, monkeypatch):
    dst = _model_copy(tmp_path)
    with pytest.raises(ModelError, match=r"model\.safetensors: file missing"):
        load_minilm(str(dst))
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="package not installed; fix: pip install"):
        model_dir()
