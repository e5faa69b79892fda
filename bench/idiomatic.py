"""Benchmark: does the harness cost a framework anything against its own idiomatic training loop?

For each variant and framework, runs bench/idiomatic_probe.py in the framework's venv twice per
repeat, once through alexbench's harness (what a workflow run does) and once the way the
framework's documentation trains (Keras model.fit, a plain PyTorch loop, a hybridized Gluon
Trainer loop), alternating the two so that drift of the machine hits both alike, on the same
prepared batches, optimiser and intra-op threads. Prints the median images/s of each and the
ratio harness / idiomatic (1.00 = no harness tax), and warns when other processes were busy.

    .venvs/dev/bin/python bench/idiomatic.py --variants alexnet-mnist alexnet-lrn-32 alexnet-d2l \
        --threads 2 --repeats 3 [--deterministic false] [--json out.json]

Not for: accuracy, or figures for the report (the workflow's runs make those).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from frameworks import (DEFAULT_BATCH_SIZE, RAW_SHAPES, ROOT, children_cpu_seconds,  # noqa: E402
                        experiment_for, machine_busy_seconds, oversubscribed)

from alexbench.common import registry  # noqa: E402

PROBE = ROOT / "bench" / "idiomatic_probe.py"
# Images per timed pass: enough steps to time, few enough for minutes per variant on 2 cores.
IMAGES = {"alexnet-mnist": 2048, "alexnet-lrn-32": 2048, "alexnet-d2l": 256}


def run_probe(framework, variant, mode, settings, args):
    python = ROOT / ".venvs" / f"{registry.framework(framework).env_name('cpu')}" / "bin" / "python"
    dataset = settings.pop("_dataset")
    cmd = [str(python), str(PROBE), "--framework", framework, "--variant", variant, "--mode", mode,
           "--raw-shape", *map(str, RAW_SHAPES[dataset]), "--settings", json.dumps(settings),
           "--count", str(args.images or IMAGES.get(variant, 512)), "--epochs", str(args.epochs),
           "--threads", str(args.threads)]
    settings["_dataset"] = dataset
    busy0, own0, wall0 = machine_busy_seconds(), children_cpu_seconds(), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - wall0
    if proc.returncode != 0:
        raise SystemExit(f"{framework} {variant} {mode}: probe failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    other = (machine_busy_seconds() - busy0) - (children_cpu_seconds() - own0)
    result["other_cores"] = max(0.0, other / wall)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(IMAGES), choices=registry.MODELS)
    parser.add_argument("--frameworks", nargs="+", default=list(registry.framework_names()),
                        choices=registry.framework_names())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1, help="timed passes per probe")
    parser.add_argument("--images", type=int, help="images per pass (default: per variant)")
    parser.add_argument("--deterministic", type=lambda v: v.lower() == "true", default=True,
                        help="the harness's deterministic mode (true/false)")
    parser.add_argument("--json", type=Path, help="also write every probe's result here")
    args = parser.parse_args(argv)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())

    rows, raw = [], []
    for variant in args.variants:
        dataset, settings = experiment_for(config, variant)
        settings["batch_size"] = DEFAULT_BATCH_SIZE.get(variant, settings["batch_size"])
        settings["deterministic"] = args.deterministic
        settings["_dataset"] = dataset
        for framework in args.frameworks:
            found = {"harness": [], "idiomatic": []}
            for _ in range(args.repeats):
                for mode in ("harness", "idiomatic"):
                    result = run_probe(framework, variant, mode, settings, args)
                    raw.append(result)
                    found[mode].append(result)
            harness = statistics.median(r["images_per_s"] for r in found["harness"])
            idiomatic = statistics.median(r["images_per_s"] for r in found["idiomatic"])
            busy = any(oversubscribed(r, args.threads) for r in found["harness"] + found["idiomatic"])
            rows.append((variant, framework, settings["batch_size"], harness, idiomatic, busy))
            print(f"{variant:<16}{framework:<10}{settings['batch_size']:>6}{harness:>12.1f}"
                  f"{idiomatic:>12.1f}{harness / idiomatic:>9.2f}{'  BUSY' if busy else ''}",
                  flush=True)
    print(f"\n{'variant':<16}{'framework':<10}{'batch':>6}{'harness':>12}{'idiomatic':>12}{'ratio':>9}")
    for variant, framework, batch, harness, idiomatic, busy in rows:
        print(f"{variant:<16}{framework:<10}{batch:>6}{harness:>12.1f}{idiomatic:>12.1f}"
              f"{harness / idiomatic:>9.2f}{'  BUSY' if busy else ''}")
    print(f"images/s, median of {args.repeats} alternating passes; ratio = harness / idiomatic "
          f"(1.00: no harness tax); threads {args.threads}; harness deterministic={args.deterministic}; "
          f"{os.cpu_count()} cores.")
    if any(r[-1] for r in rows):
        print("WARNING: other processes left fewer free cores than --threads during the rows "
              "marked BUSY: rerun on a quiet machine.")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
