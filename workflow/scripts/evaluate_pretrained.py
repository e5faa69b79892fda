"""Evaluate published weights (converted .npz) in one framework on a prepared test split.

Thin entry point over alexbench.pretrained.evaluate, called by path with a framework env's
interpreter; see that module for the arguments. Writes env.txt, logits.npy and, last,
metrics.json. Exit status 0 on success, 2 for bad arguments, 3 when a gpu run finds no GPU.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.pretrained import evaluate  # noqa: E402  (stdlib-only at import: threads are set first)

if __name__ == "__main__":
    sys.exit(evaluate.main())
