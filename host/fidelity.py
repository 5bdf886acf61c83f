"""Fidelity study: MiniLM embedding cosine to float32 per number format, and L-Mul's per-multiply error."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hwgen.emulation import LMul, float8_e4m3fn, float8_e5m2
from hwgen.emulation.errors import ConfigError
from hwgen.host.quant_policy import lmul_format, parse_policy

__all__ = [
    "POLICIES",
    "SENTENCES",
    "fidelity_study",
    "lmul_error_stats",
    "lmul_claims",
    "regenerate",
    "study_rows",
    "write_report",
]

#: Fixed, varied English sentences (news, science, daily life, questions, lists, code talk).
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A systolic array multiplies matrices with a grid of processing elements.",
    "It rained all afternoon, so we stayed inside and played cards.",
    "Quantisation trades a little accuracy for much smaller and faster models.",
    "Where is the nearest train station?",
    "She finished the marathon in under four hours despite the heat.",
    "Transformers compute attention between every pair of tokens.",
    "Hello!",
    "The central bank raised interest rates by a quarter of a percentage point.",
    "My grandmother bakes the best apple pie in the whole village.",
    "Photosynthesis converts sunlight, water and carbon dioxide into sugar and oxygen.",
    "Can you recommend a good book about the history of mathematics?",
    "The meeting has been moved to Thursday at three o'clock.",
    "Volcanic eruptions can cool the planet for several years.",
    "He forgot his umbrella on the bus again.",
    "The new stadium will seat sixty thousand fans when it opens next spring.",
    "Please remove your shoes before entering the temple.",
    "A prime number has exactly two distinct divisors.",
    "The orchestra played Beethoven's ninth symphony to a sold-out hall.",
    "Our flight was delayed because of fog over the airport.",
    "Bees communicate the direction of flowers through a waggle dance.",
    "The recipe calls for two cups of flour, one egg and a pinch of salt.",
    "Electric cars are becoming cheaper every year.",
    "What time does the pharmacy close on Sundays?",
    "The detective noticed a faint smell of almonds in the room.",
    "Memory bandwidth, not arithmetic, limits most inference workloads.",
    "The children built a sandcastle with towers and a moat.",
    "Stock markets fell sharply after the surprising election result.",
    "I would like a cup of green tea without sugar, please.",
    "The glacier has retreated almost two kilometres since 1950.",
    "A good night's sleep improves memory and concentration.",
    "The software update fixed the bug that drained the battery.",
    "Mount Everest is the highest mountain above sea level.",
    "They adopted a shy grey cat from the local shelter.",
    "The museum displays dinosaur fossils found in the desert.",
    "Is it safe to swim in the lake after a thunderstorm?",
    "The committee rejected the proposal by a narrow margin.",
    "Fresh bread smells wonderful early in the morning.",
    "The telescope captured images of a galaxy billions of light years away.",
    "Learning a second language takes patience and daily practice.",
    "The river flooded the fields after a week of heavy rain.",
    "He scored the winning goal in the final minute of the match.",
    "The compiler reported an error on line forty-two.",
    "Tomatoes grow best in warm weather with plenty of sunlight.",
    "The ancient library held thousands of handwritten scrolls.",
    "Why do cats purr when they are content?",
    "The bridge was closed for repairs during the summer.",
    "Solar panels on the roof now cover most of our electricity use.",
    "The violinist practised the same passage for hours.",
    "A sudden gust of wind blew the papers off the desk.",
    "The hospital opened a new wing for children.",
    "Coffee prices rose after a poor harvest in Brazil.",
    "The robot vacuum got stuck under the sofa again.",
    "Ancient Romans built aqueducts to carry water into their cities.",
    "She speaks French, Spanish and a little Japanese.",
    "The train to Edinburgh leaves from platform nine.",
    "Vaccines train the immune system to recognise a pathogen.",
    "I can't find my keys anywhere; have you seen them?",
    "The startup raised twenty million dollars in its first funding round.",
    "Autumn leaves turned the park into a sea of red and gold.",
    "Floating-point numbers trade range against precision.",
    "The chef sharpened his knives before the dinner service.",
    "Wolves were reintroduced to the national park in 1995.",
    "Please send me the report by the end of the day.",
    "The lighthouse keeper watched the storm roll in from the sea.",
    "A balanced diet includes vegetables, grains and protein.",
    "The final exam covers everything from the first lecture onwards.",
    "Thousands of people marched through the city centre on Saturday.",
    "Good documentation saves hours of guesswork later.",
    "The kettle whistled while the toast burned.",
    "Satellites relay television signals across continents.",
    "Tell me a joke about penguins.",
]

#: (label, policy text) of the study. Weights and activations share a format; accumulation
#: is float32 in sequential order (int32 for INT8), products exact unless L-Mul.
POLICIES = [
    ("bf16", "w=bfloat16,a=bfloat16"),
    ("float8_e4m3fn", "w=float8_e4m3fn,a=float8_e4m3fn"),
    ("float8_e5m2", "w=float8_e5m2,a=float8_e5m2"),
    ("MXFP8 (e4m3)", "w=mxfp8_e4m3,a=mxfp8_e4m3"),
    ("MXFP6 (e2m3)", "w=mxfp6_e2m3,a=mxfp6_e2m3"),
    ("MXFP4", "w=mxfp4,a=mxfp4"),
    ("MXFP4 weights, e4m3 activations", "w=mxfp4,a=float8_e4m3fn"),
    ("INT8 (per-channel w, per-tensor a)", "w=int8,a=int8"),
    ("L-Mul m=3 (integer add)", "w=bfloat16,a=bfloat16,mul=lmul,lmul_m=3"),
    ("L-Mul m=3 (paper formula)", "w=bfloat16,a=bfloat16,mul=lmul-paper,lmul_m=3"),
    ("L-Mul m=4 (integer add)", "w=bfloat16,a=bfloat16,mul=lmul,lmul_m=4"),
    ("L-Mul m=4 (paper formula)", "w=bfloat16,a=bfloat16,mul=lmul-paper,lmul_m=4"),
    ("bf16, 2:4 pruned weights", "w=bfloat16,a=bfloat16,nm=2:4"),
    ("float8_e4m3fn, 2:4 pruned weights", "w=float8_e4m3fn,a=float8_e4m3fn,nm=2:4"),
]


def _cosines(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    num = (ref.astype(np.float64) * got).sum(axis=1)
    return num / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got.astype(np.float64), axis=1))


def fidelity_study(policies=None, sentences=None, progress: Callable[[str, int, int], None] | None = None):
    """Cosine similarity of quantised MiniLM embeddings to the float32 reference.

    Parameters
    ----------
    policies : list of (label, policy text), optional
        Default :data:`POLICIES`.
    sentences : list of str, optional
        Default :data:`SENTENCES`.
    progress : callable, optional
        ``progress(label, sentences_done, total)`` while each policy runs.

    Returns
    -------
    list of dict
        One row per policy: ``label``, ``policy`` (text), ``cosine_mean``, ``cosine_min``,
        ``cosine_p5`` (5th percentile), ``seconds`` (emulation time).
    """
    from hwgen.host.minilm import embed

    policies = POLICIES if policies is None else policies
    sentences = SENTENCES if sentences is None else sentences
    ref = embed(sentences, None)
    rows = []
    for label, text in policies:
        t0 = time.perf_counter()
        hook = (lambda _, done, total, lb=label: progress(lb, done, total)) if progress else None
        got = embed(sentences, parse_policy(text), progress=hook)
        cos = _cosines(ref, got)
        rows.append(
            {
                "label": label,
                "policy": text,
                "cosine_mean": float(cos.mean()),
                "cosine_min": float(cos.min()),
                "cosine_p5": float(np.percentile(cos, 5)),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
    return rows


def _rel_err(approx: np.ndarray, exact: np.ndarray) -> np.ndarray:
    return np.abs(approx - exact) / np.abs(exact)


def _sat_round(fmt, x: np.ndarray) -> np.ndarray:
    from dataclasses import replace

    return replace(fmt, overflow="saturate").quantise(x, dtype=np.float64)


def lmul_error_stats(pairs: int = 1_000_000, seed: int = 0) -> list[dict]:
    """Relative error of one multiplication, L-Mul against FP8, over random operand pairs.

    Operands have random signs and magnitudes log-uniform in [1/4, 4), so every
    product is a normal number of every format compared (precision, not range, is
    measured). Each method rounds the float64 operands to its format (nearest even),
    multiplies, and is compared with the exact product of the float64 operands.

    Returns
    -------
    list of dict
        ``method``, ``mean_rel_err``, ``median_rel_err``, ``max_rel_err`` (against the exact
        product of the float64 operands) and ``mean_rel_err_vs_rounded_operands`` (against
        the exact product of the operands after rounding: the multiplier's own error).
    """
    rng = np.random.default_rng(seed)
    x, y = (np.exp2(rng.uniform(-2, 2, pairs)) * rng.choice([-1.0, 1.0], pairs) for _ in range(2))
    exact = x * y
    methods = {}  # name -> (product, exact product of the operands as rounded to the method's format)
    for fmt in (float8_e4m3fn, float8_e5m2):
        rounded = _sat_round(fmt, x) * _sat_round(fmt, y)
        methods[f"{fmt.name} operands, exact product"] = (rounded, rounded)
        methods[f"{fmt.name} operands, product rounded to {fmt.name}"] = (_sat_round(fmt, rounded), rounded)
    for m in (3, 4):
        fmt = lmul_format(m)
        xa, ya = fmt.encode(x), fmt.encode(y)
        rounded = fmt.decode(xa, np.float64) * fmt.decode(ya, np.float64)
        methods[f"{fmt.name} operands, exact product"] = (rounded, rounded)
        for definition in ("integer_add", "formula"):
            methods[f"L-Mul m={m} ({definition})"] = (LMul(fmt, definition)(xa, ya, dtype=np.float64), rounded)
    rows = []
    for name, (approx, rounded) in methods.items():
        err = _rel_err(approx, exact)
        rows.append(
            {
                "method": name,
                "mean_rel_err": float(err.mean()),
                "median_rel_err": float(np.median(err)),
                "max_rel_err": float(err.max()),
                "mean_rel_err_vs_rounded_operands": float(_rel_err(approx, rounded).mean()),
            }
        )
    return rows


def lmul_claims(stats: list[dict]) -> list[dict]:
    """The paper's two claims checked against measured mean relative errors (True/False as measured)."""
    by = {r["method"]: r["mean_rel_err"] for r in stats}
    out = []
    for m, fp8, relation in ((4, "float8_e4m3fn", "<="), (3, "float8_e5m2", "<")):
        for definition in ("integer_add", "formula"):
            lm = by[f"L-Mul m={m} ({definition})"]
            for variant in ("exact product", f"product rounded to {fp8}"):
                ref = by[f"{fp8} operands, {variant}"]
                holds = lm <= ref if relation == "<=" else lm < ref
                out.append(
                    {
                        "claim": f"L-Mul m={m} ({definition}) mean error {relation} {fp8} ({variant})",
                        "lmul": lm,
                        "fp8": ref,
                        "holds": bool(holds),
                    }
                )
    return out


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _markdown(rows, stats, claims, n_sentences: int, pairs: int) -> str:
    lines = [
        "# MiniLM-L6 fidelity study",
        "",
        f"Cosine similarity of all-MiniLM-L6-v2 sentence embeddings to the float32 reference over "
        f"{n_sentences} sentences (`hwgen.host.fidelity.SENTENCES`); GEMMs bit-exact on the emulator, "
        "float32 sequential accumulation (int32 for INT8), other ops in float32.",
        "",
        "| format | policy | mean cosine | min cosine | 5th pct | seconds |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['label']} | `{r['policy']}` | {r['cosine_mean']:.6f} | {r['cosine_min']:.6f} | "
        f"{r['cosine_p5']:.6f} | {r['seconds']:.1f} |"
        for r in rows
    ]
    lines += [
        "",
        f"## Per-multiply relative error ({pairs:,} random pairs, |x|, |y| log-uniform in [1/4, 4))",
        "",
        "Errors against the exact product of the float64 operands; the last column is against the exact",
        "product of the operands after rounding to the method's format (the multiplier's own error).",
        "",
        "| method | mean | median | max | mean, multiplier only |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s['method']} | {s['mean_rel_err']:.5f} | {s['median_rel_err']:.5f} | {s['max_rel_err']:.5f} | "
        f"{s['mean_rel_err_vs_rounded_operands']:.5f} |"
        for s in stats
    ]
    lines += [
        "",
        "## The L-Mul paper's claims, as measured",
        "",
        "| claim | L-Mul | FP8 | holds |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {c['claim']} | {c['lmul']:.5f} | {c['fp8']:.5f} | {c['holds']} |" for c in claims]
    return "\n".join(lines) + "\n"


def write_report(folder, rows, stats, claims, n_sentences: int, pairs: int) -> list[Path]:
    """Write ``fidelity.md``, ``fidelity.csv``, ``lmul_error.csv`` and ``fidelity.json`` into ``folder``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "fidelity.md"
    md.write_text(_markdown(rows, stats, claims, n_sentences, pairs))
    _write_csv(out / "fidelity.csv", rows)
    _write_csv(out / "lmul_error.csv", stats)
    data = {"sentences": n_sentences, "pairs": pairs, "rows": rows, "lmul_error": stats, "claims": claims}
    (out / "fidelity.json").write_text(json.dumps(data, indent=2))
    return [md, out / "fidelity.csv", out / "lmul_error.csv", out / "fidelity.json"]


def regenerate(folder, sentences=None, policies=None, pairs: int = 1_000_000, progress=None) -> list[Path]:
    """Run the whole study and write its report into ``folder``; returns the files written."""
    sentences = SENTENCES if sentences is None else sentences
    rows = fidelity_study(policies, sentences, progress)
    stats = lmul_error_stats(pairs)
    return write_report(folder, rows, stats, lmul_claims(stats), len(sentences), pairs)


def study_rows(folder, regenerate: bool = False, console=None) -> list[dict]:
    """The study's rows (``label``, ``policy`` as a parsed Policy, ``policy_text``, ``cosine``, ...).

    Reads ``folder/fidelity.json``; runs the study first (with a rich progress bar on
    ``console``) when it is absent or ``regenerate`` is set.

    Raises
    ------
    ConfigError
        If the saved data is unreadable.
    """
    path = Path(folder) / "fidelity.json"
    if regenerate or not path.is_file():
        _regenerate_with_bar(folder, console)
    try:
        data = json.loads(path.read_text())
        rows = data["rows"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError("fidelity", str(path), f"a fidelity.json written by the study ({exc})") from None
    return [
        {**r, "policy_text": r["policy"], "policy": parse_policy(r["policy"]), "cosine": r["cosine_mean"]} for r in rows
    ]


def _regenerate_with_bar(folder, console=None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = len(SENTENCES) * len(POLICIES)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("fidelity study", total=total)
        index = {label: i for i, (label, _) in enumerate(POLICIES)}

        def progress(label: str, done: int, n: int) -> None:
            bar.update(task, completed=index[label] * n + done, description=f"fidelity: {label}")

        regenerate(folder, progress=progress)
