"""Fidelity study pieces: the sentence set, cosine rows on a tiny subset, L-Mul error statistics, the report."""

import json

import numpy as np

from hwgen.host.fidelity import (
    POLICIES,
    SENTENCES,
    fidelity_study,
    lmul_claims,
    lmul_error_stats,
    study_rows,
    write_report,
)
from hwgen.host.quant_policy import Policy, parse_policy


def test_sentences_and_policies_are_fixed_and_valid():
    assert len(SENTENCES) >= 64 and len(set(SENTENCES)) == len(SENTENCES)
    assert len({s.split()[0] for s in SENTENCES}) > 30  # varied openings, not one template
    labels = [label for label, _ in POLICIES]
    assert len(set(labels)) == len(labels)
    for _, text in POLICIES:
        assert isinstance(parse_policy(text), Policy)


def test_study_rows_on_two_sentences_order_formats_sensibly():
    policies = [("bf16", "w=bfloat16,a=bfloat16"), ("e5m2", "w=float8_e5m2,a=float8_e5m2")]
    seen = []
    rows = fidelity_study(policies, SENTENCES[:2], lambda label, done, total: seen.append((label, done, total)))
    by = {r["label"]: r for r in rows}
    assert 0.999 < by["bf16"]["cosine_min"] <= by["bf16"]["cosine_mean"] < 1.0 + 1e-6
    assert by["e5m2"]["cosine_mean"] < by["bf16"]["cosine_mean"]  # 2 mantissa bits lose more than 7
    assert ("e5m2", 2, 2) in seen


def test_lmul_error_stats_measure_what_the_formats_imply():
    stats = {r["method"]: r for r in lmul_error_stats(20000, seed=1)}
    e4m3 = stats["float8_e4m3fn operands, exact product"]
    # Two operands rounded to nearest with 3 fraction bits: each within 2**-4 relative.
    assert 0.01 < e4m3["mean_rel_err"] < e4m3["max_rel_err"] <= (1 + 2**-4) ** 2 - 1 + 1e-12
    assert stats["float9_e5m3 operands, exact product"]["mean_rel_err"] == e4m3["mean_rel_err"]  # same values
    for m in (3, 4):
        lm = stats[f"L-Mul m={m} (integer_add)"]
        assert lm["mean_rel_err"] > stats[f"float{6 + m}_e5m{m} operands, exact product"]["mean_rel_err"]
        assert lm["max_rel_err"] < 0.5
    claims = lmul_claims(list(stats.values()))
    assert len(claims) == 8 and all(isinstance(c["holds"], bool) for c in claims)


def test_report_files_and_study_rows_round_trip(tmp_path):
    rows = [{"label": "bf16", "policy": "w=bfloat16,a=bfloat16", "cosine_mean": 0.9999, "cosine_min": 0.9998,
             "cosine_p5": 0.9998, "seconds": 1.0}]  # fmt: skip
    stats = lmul_error_stats(1000)
    files = write_report(tmp_path, rows, stats, lmul_claims(stats), 1, 1000)
    assert [f.name for f in files] == ["fidelity.md", "fidelity.csv", "lmul_error.csv", "fidelity.json"]
    md = files[0].read_text()
    assert "| bf16 | `w=bfloat16,a=bfloat16` | 0.999900 |" in md and "L-Mul m=4 (formula)" in md
    assert json.loads(files[3].read_text())["rows"][0]["label"] == "bf16"
    back = study_rows(tmp_path)
    assert back[0]["cosine"] == 0.9999 and isinstance(back[0]["policy"], Policy)
    assert np.isclose(back[0]["cosine_min"], 0.9998)
