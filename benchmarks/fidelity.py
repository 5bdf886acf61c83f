"""Regenerate the MiniLM fidelity study (cosine to float32 per format, L-Mul per-multiply error) into a folder."""

import argparse
import os
import sys
import time
from pathlib import Path

# Single-threaded BLAS unless the caller says otherwise (see minilm_speed.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.host.fidelity import POLICIES, SENTENCES, regenerate

__all__ = ["main"]


def main(argv=None) -> int:
    """Run the study and write ``fidelity.md``, ``fidelity.csv``, ``lmul_error.csv``, ``fidelity.json``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="build/fidelity", help="output folder (default build/fidelity)")
    parser.add_argument("--sentences", type=int, default=len(SENTENCES), help="use the first N sentences")
    parser.add_argument("--pairs", type=int, default=1_000_000, help="random operand pairs for L-Mul errors")
    parser.add_argument("--only", nargs="*", help="policy labels to run (substring match); default all")
    args = parser.parse_args(argv)
    if not 1 <= args.sentences <= len(SENTENCES):
        parser.error(f"--sentences={args.sentences} is not allowed; allowed: 1..{len(SENTENCES)}")
    policies = [p for p in POLICIES if not args.only or any(o in p[0] for o in args.only)]
    if not policies:
        parser.error(f"--only {args.only} matches no policy; allowed: {', '.join(p[0] for p in POLICIES)}")
    texts = SENTENCES[: args.sentences]
    console = Console()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    index = {label: i for i, (label, _) in enumerate(policies)}
    t0 = time.perf_counter()
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("fidelity study", total=len(texts) * len(policies))

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, completed=index[label] * total + done, description=f"fidelity: {label}")

        files = regenerate(args.out, texts, policies, args.pairs, progress)
    console.print(files[0].read_text())
    for f in files:
        console.print(f"wrote {f}")
    console.print(f"study took {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
