"""MiniLM-L6 embeddings of 256 sentences on the emulator (FP8; exact or float32 accumulation) vs float32 NumPy."""

import argparse
import os
import sys
import time
from pathlib import Path

# On a busy machine (load >= cores) use single-threaded BLAS unless the caller chose: with other
# jobs running, OpenBLAS's spinning threads made the float32 reference's GEMMs 8x slower (19 s vs 2.2 s).
if "OPENBLAS_NUM_THREADS" not in os.environ and os.getloadavg()[0] >= (os.cpu_count() or 1):
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.host.fidelity import SENTENCES
from hwgen.host.minilm import embed, load_minilm

__all__ = ["CONFIGS", "main", "sentences"]

#: (label, policy text or None for the float32 reference, target seconds or None).
CONFIGS = [
    ("float32 NumPy reference", None, None),
    ("FP8 e4m3, exact accumulation", "w=float8_e4m3fn,a=float8_e4m3fn,acc=exact", 10.0),
    ("FP8 e4m3, float32 sequential", "w=float8_e4m3fn,a=float8_e4m3fn,acc=float32,order=sequential", 60.0),
]


def sentences(n: int) -> list[str]:
    """``n`` distinct sentences: the fidelity set, then pairs of its sentences joined."""
    base = list(SENTENCES)
    out = base[:n]
    i = 0
    while len(out) < n:
        out.append(f"{base[i % len(base)]} {base[(7 * i + 3) % len(base)]}")
        i += 1
    return out


def _time(label, policy, texts, bar) -> tuple[float, float, np.ndarray]:
    """Wall and CPU seconds (all threads of this process) of one embedding run."""
    task = bar.add_task(label, total=len(texts))
    t0, c0 = time.perf_counter(), time.process_time()
    emb = embed(texts, policy, progress=lambda _, done, __: bar.update(task, completed=done))
    return time.perf_counter() - t0, time.process_time() - c0, emb


def main(argv=None) -> int:
    """Run the benchmark; print the table. Exit status 0 (targets are reported, not enforced)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=256, help="number of sentences (default 256)")
    args = parser.parse_args(argv)
    console = Console()
    texts = sentences(args.sentences)
    model = load_minilm()  # loading (~1 s) is not part of any timing
    tokens = sum(len(t) for t in model.token_ids(texts))
    results = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        for label, policy, target in CONFIGS:
            results.append((label, target, *_time(label, policy, texts, bar)))
    ref_s, ref = results[0][2], results[0][4]
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    load = os.getloadavg()[0]
    title = f"MiniLM-L6 embeddings: {len(texts)} sentences, {tokens} tokens (BLAS threads {threads}, load {load:.1f})"
    table = Table(title=title)
    for col in ("configuration", "wall s", "CPU s", "x float32", "target (wall)", "min cosine vs float32"):
        table.add_column(col, justify="left" if col == "configuration" else "right")
    for label, target, wall, cpu, emb in results:
        cos = float((emb * ref).sum(axis=1).min())
        verdict = "" if target is None else f"<= {target:.0f} s " + ("ok" if wall <= target else "MISSED")
        table.add_row(label, f"{wall:.2f}", f"{cpu:.2f}", f"{wall / ref_s:.1f}", verdict, f"{cos:.5f}")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
