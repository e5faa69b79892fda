"""Train one alexbench run (framework x dataset x model x hardware x seed) and write its run folder.

Thin entry point over alexbench.harness, called by path with a framework env's interpreter:

    train.py --framework keras --model alexnet-mnist --dataset mnist --hardware cpu --seed 0 \
             --experiment S0 --source S0 --data-dir resources/prepared/mnist \
             --out-dir results/runs/keras/mnist/alexnet-mnist/cpu/fp32/seed0 --settings '<JSON>' --threads 2

Writes env.txt, history.csv, optional weights and, last, metrics.json (docs/design.md,
"Training contract"). Exit status 0 on success (also for a diverged run, which metrics.json
records), 2 for bad arguments, 3 when a gpu run finds no GPU (no metrics.json is written).

The process dies with the process that started it (the job's shell, or Snakemake where the
rule execs this script): see alexbench.common.lifetime.
"""
import os
import sys
from pathlib import Path

PARENT_PID = os.getppid()  # first, before a parent's death could make this an orphan

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.common.lifetime import die_with_parent  # noqa: E402

die_with_parent(PARENT_PID)

from alexbench import harness  # noqa: E402  (stdlib-only at import: threads are set first)

if __name__ == "__main__":
    sys.exit(harness.main())
