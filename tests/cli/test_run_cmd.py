"""``hwgen run`` and ``hwgen report``: defaults, the per-layer table, embeddings, layer runs, one-line errors."""

import json

import pytest

from hwgen.cli.main import main


def _one_line_error(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("hwgen: error:"), err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--model", "gpt5"], ("--model", "gpt5", "minilm, decoder")),
        (["--formats", "w=int7"], ("int7", "int8")),
        (["--target", "tpu:4x4"], ("tpu:4x4", "systolic:RxC")),
        (["--target", "systolic:4x4:zz"], ("--target", "dataflow=zz", "ws, is, os, auto")),
        (["--backend", "gpu"], ("--backend", "emulator", "rtl", "device")),
        (["--backend", "device"], ("--device", "device URL")),
        (["--backend", "rtl"], ("--layer",)),
        (
            ["--target", "pim:1ch"],
            ("pim:1ch", "fits layer layer0.ffn.up", "rows per bank"),
        ),  # MiniLM's weights exceed one channel
        (["--tokens", "9999"], ("--tokens", "9999")),
        (["--scratchpad", "64,256"], ("--scratchpad", "W,A,O")),
        (["--layer", "layer9.attn.q", "--text", "hi"], ("--layer", "layer0.attn.q")),
        (["--sentences", "/nonexistent/file.txt"], ("--sentences",)),
        (["--target", "systolic:4x4:os", "--programs", "--text", "hi"], ("ws, is or auto",)),  # the top has no os
        (
            [
                "--target",
                "pim:16ch",
                "--layer",
                "layer0.attn.q",
                "--text",
                "hi",
                "--formats",
                "w=int8,a=int8,acc=int16",
            ],
            ("--formats", "int32 accumulator"),
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, words):
    _one_line_error(capsys, ["run", *argv], *words)


def test_device_too_small_for_a_tile_is_one_line_exit_2(capsys):
    _one_line_error(
        capsys,
        ["run", "--target", "systolic:16x16:ws", "--scratchpad", "8,8,8", "--text", "hi"],
        "--scratchpad",
        "W depth >= rows (16)",
    )


def test_default_run_prints_table_and_cosine(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "run.json"
    assert main(["run", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "layer0.attn.q" in text and "cosine vs float32" in text and "Horowitz" in text
    data = json.loads(out.read_text())
    assert data["target"] == "systolic:16x16:ws"
    gemms = [r for r in data["layers"] if r["kind"] == "gemm"]
    assert len(gemms) == 6 * 8 and all(r["top_cycles"] > r["cycles"] > 0 for r in gemms)
    cos = data["embeddings"]["cosine"]
    assert len(cos) == 4 and min(cos) > 0.9  # int8 MiniLM stays close to float32


def test_layer_on_emulator_programs_is_bit_exact(capsys, tmp_path):
    out = tmp_path / "layer.json"
    argv = ["run", "--target", "systolic:8x8:auto", "--layer", "layer0.attn.q", "--text", "a cat", "--json", str(out)]
    assert main(argv) == 0
    run = json.loads(out.read_text())["layer_run"]
    assert run["bit_exact"] and run["measured_cycles"] == run["predicted_cycles"] > 0
    assert "bit-exact" in capsys.readouterr().out


def test_other_targets_map_minilm(tmp_path):
    from hwgen.host.targets import parse_target

    for text in ("sparse:16:2:4", "bitslice:4x4", "pim:16ch", "prefill=systolic:16x16:auto,decode=pim:16ch"):
        out = tmp_path / "t.json"
        assert main(["run", "--target", text, "--no-run", "--tokens", "8", "--json", str(out)]) == 0
        data = json.loads(out.read_text())
        q = next(r for r in data["layers"] if r["name"] == "layer0.attn.q")
        target = parse_target(text)
        single = getattr(target, "prefill", target)  # MiniLM is all prefill
        flow = (single.pick_dataflow(8, 384, 384, ("ws", "is")),) if single.kind == "systolic" else ()  # on the top
        assert q["target"] == str(single) and q["cycles"] == single.cycles(8, 384, 384, *flow)
        assert "embeddings" not in data


def test_device_backend_runs_a_layer_through_the_driver(tmp_path):
    out = tmp_path / "dev.json"
    url = "emulated://?rows=4&cols=4&w_depth=16&a_depth=32&o_depth=32"
    argv = ["run", "--backend", "device", "--device", url, "--layer", "layer0.ffn.down", "--text", "Hi."]
    assert main([*argv, "--columns", "6", "--json", str(out)]) == 0
    run = json.loads(out.read_text())["layer_run"]
    assert run["shape"][1:] == [1536, 6] and run["bit_exact"] and run["cycle_error"] == 0


def test_report_plots(tmp_path):
    from hwgen.host.minilm import load_minilm, minilm_graph
    from hwgen.host.report import analyse, plot_accuracy_energy, plot_roofline, plot_utilisation
    from hwgen.host.targets import parse_target

    perfs = analyse(minilm_graph(load_minilm(), 16).workloads(), parse_target("systolic:8x8:auto"))
    paths = [plot_roofline(perfs, tmp_path / "r.png"), plot_utilisation(perfs, tmp_path / "u.png")]
    paths.append(plot_accuracy_energy([{"label": "int8", "cosine": 0.98, "energy_uj": 12.0}], tmp_path / "a.png"))
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_decoder_prefill_and_decode_on_mixed_target(tmp_path):
    out = tmp_path / "dec.json"
    target = "prefill=systolic:8x8:auto,decode=pim:4ch"
    argv = ["run", "--model", "decoder", "--target", target, "--tokens", "8", "--context", "16", "--json", str(out)]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    prefill = {r["name"]: r for r in data["phases"]["prefill"]}
    decode = {r["name"]: r for r in data["phases"]["decode"]}
    assert (
        prefill["layer0.attn.q"]["target"] == "systolic:8x8:auto" and prefill["layer0.attn.q"]["shape"] == "1x8x128x128"
    )
    assert decode["layer0.attn.q"]["target"].startswith("pim:4ch") and decode["layer0.attn.qk"]["shape"] == "4x1x32x17"
    gen = data["generation"]
    assert gen["logits_cosine"] > 0.99 and 0 <= gen["tokens_equal"] <= gen["steps"]


def test_report_writes_plots_from_a_fidelity_study(tmp_path, capsys):
    from hwgen.host import fidelity

    policies = [("INT8", "w=int8,a=int8"), ("MXFP4", "w=mxfp4,a=mxfp4")]
    fidelity.regenerate(tmp_path / "fid", sentences=["Hello there.", "A cat sat."], policies=policies, pairs=1000)
    argv = ["report", "--fidelity", str(tmp_path / "fid"), "--out", str(tmp_path / "out"), "--tokens", "8"]
    assert main(argv) == 0
    for name in ("roofline.png", "utilisation.png", "accuracy_energy.png"):
        assert (tmp_path / "out" / name).read_bytes()[:4] == b"\x89PNG"
    points = json.loads((tmp_path / "out" / "accuracy_energy.json").read_text())
    assert [p["label"] for p in points] == ["INT8", "MXFP4"]
    assert points[1]["energy_uj"] < points[0]["energy_uj"]  # 4-bit weights move fewer bytes
    assert "fidelity.md" in capsys.readouterr().out


def test_report_bad_target_is_one_line_exit_2(capsys):
    _one_line_error(capsys, ["report", "--target", "systolic:0x4"], "--target", "rows=0")
