"""Benchmark: how much CPU does the input pipeline take from the framework, per batch?

The harness prepares batches in a background thread (harness/pipeline.py) while the framework
computes on `threads` cores, so whatever CPU the pipeline uses is taken from the framework on a
machine whose cores it fills. This runs `prefetch_batches` alone, one process per measurement in
a framework's venv, for each variant (its experiment's dataset shape and batch size from
config.yaml), with a consumer that sleeps instead of training, and reports the process's CPU time
per batch: with the harness's environment (runtime.set_runtime_env: numpy's BLAS on one thread)
and with numpy's BLAS on `threads` threads, as the harness ran it before.

    .venvs/dev/bin/python bench/pipeline_cpu.py --threads 2 [--variants ...] [--env pytorch-cpu]

CPU time, unlike wall time, hardly depends on what else the machine runs, so this needs no quiet
machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from alexbench.common import registry  # noqa: E402  (stdlib only: a child sets threads first)
from alexbench.harness import runtime  # noqa: E402

STEP_SECONDS = 0.2  # the sleeping consumer's step; the pipeline stays a few batches ahead


def pipeline_cpu_ms(raw_shape, batch_size, variant, batches):
    """CPU ms per batch this process spends preparing `batches` training batches."""
    import numpy as np
    from alexbench.common.prepared import Split
    from alexbench.harness.pipeline import prefetch_batches

    rng = np.random.default_rng(0)
    count = batch_size * batches
    split = Split(rng.integers(0, 256, (count, *raw_shape), dtype=np.uint8),
                  rng.integers(0, 10, count))
    cpu0 = time.process_time()
    for _ in prefetch_batches(split, np.arange(count), batch_size, variant, True,
                              np.random.default_rng(1)):
        time.sleep(STEP_SECONDS)
    return 1e3 * (time.process_time() - cpu0) / batches


def child(args):
    runtime.set_runtime_env(args.threads, deterministic=False)
    if args.child == "blas-threads":
        for name in ("OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
            os.environ[name] = str(args.threads)
    print(json.dumps(pipeline_cpu_ms(args.raw_shape, args.batch_size, args.variants[0],
                                     args.batches)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(registry.MODELS),
                        choices=registry.MODELS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, default=8, help="batches per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="processes per cell (median)")
    parser.add_argument("--env", default="pytorch-cpu", help="the venv whose numpy runs it")
    parser.add_argument("--child", choices=("harness", "blas-threads"), help=argparse.SUPPRESS)
    parser.add_argument("--raw-shape", type=int, nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    import yaml  # the dev venv's; a child runs in a framework venv without it
    from frameworks import DEFAULT_BATCH_SIZE, RAW_SHAPES, experiment_for

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    python = ROOT / ".venvs" / args.env / "bin" / "python"
    print(f"{'variant':<19}{'batch':>6}{'harness ms':>12}{f'BLAS x{args.threads} ms':>14}")
    for variant in args.variants:
        dataset, settings = experiment_for(config, variant)
        batch_size = DEFAULT_BATCH_SIZE.get(variant, settings["batch_size"])
        found = {}
        for mode in ("harness", "blas-threads"):
            found[mode] = statistics.median(json.loads(subprocess.run(
                [str(python), __file__, "--child", mode, "--variants", variant,
                 "--threads", str(args.threads), "--batches", str(args.batches),
                 "--raw-shape", *map(str, RAW_SHAPES[dataset]), "--batch-size", str(batch_size)],
                check=True, capture_output=True, text=True, cwd=ROOT).stdout)
                for _ in range(args.repeats))
        print(f"{variant:<19}{batch_size:>6}{found['harness']:>12.1f}"
              f"{found['blas-threads']:>14.1f}", flush=True)
    print(f"CPU ms the input pipeline used per training batch (median of {args.repeats} "
          f"processes, {args.env}), numpy's BLAS on one thread (the harness) and on "
          f"{args.threads}; the consumer slept {STEP_SECONDS:.1f} s per batch instead of training.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
