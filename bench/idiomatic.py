"""Benchmark: does the harness cost a framework anything against its own idiomatic training loop?

For each variant and framework, runs bench/idiomatic_probe.py in the framework's venv twice per
repeat, once through alexbench's harness (what a workflow run does) and once the way the
framework's documentation trains (Keras model.fit, a plain PyTorch loop, a hybridized Gluon
Trainer loop), alternating the two (each repeat starting with the next one) so that drift of the
machine hits both alike, on the same
prepared batches, optimiser and intra-op threads. Prints the median images/s of each and the
ratio harness / idiomatic (1.00 = no harness tax), and warns when other processes were busy.
With --workflow it also runs the workflow's own training job on the same images (harness/run.py
as train.py runs it) and prints its images/s as its metrics.json reports them, and the ratio
workflow / harness: is what the report shows what bench/ measures? With --determinism-cost it
also runs the harness in deterministic mode and prints deterministic / fast (below 1.00: what
`deterministic: true` costs that framework). With --bf16 it also runs the harness in bf16 mixed
precision and prints bf16 / fp32 (the speed-up; needs a CPU with avx512_bf16 or amx_bf16).
With --allocator-cost it also runs the harness with `tf_allocator: system` and prints system /
tensorflow (below 1.00: what the system allocator costs; Keras only reads it).
With --same-process it instead runs, per variant and framework, one process that alternates
blocks of the harness, the harness on batches prepared beforehand and the idiomatic loop
(--repeats blocks each), and prints their medians and ratios to the idiomatic loop: the machine's
drift between processes cannot blur a few per cent there. With --keras-no-autotune it also times Keras's model.fit with tf.data's autotuning off and prints
harness / that: the ratio without model.fit's multi-second stalls on small machines (README).
With --compilers it instead times, per variant, the harness's step as PyTorch and Keras compile it
by default on a CPU (eager; tf.function) against the other way (torch.compile, which
`torch_compile: true` chooses; XLA, which a Keras GPU run uses), in one process each.

    .venvs/dev/bin/python bench/idiomatic.py --variants alexnet-mnist alexnet-lrn-32 alexnet-d2l \
        --threads 2 --repeats 3 [--deterministic true] [--workflow] [--determinism-cost] \
        [--bf16] [--allocator-cost] [--keras-no-autotune] [--same-process] [--compilers] \
        [--json out.json]

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
from idiomatic_probe import OTHER_COMPILER, backend_name  # noqa: E402  (stdlib at import)

PROBE = ROOT / "bench" / "idiomatic_probe.py"
# Images per timed pass: enough steps to time, few enough for minutes per variant on 2 cores.
IMAGES = {"alexnet-mnist": 2048, "alexnet-lrn-32": 2048, "alexnet-d2l": 256}


def run_probe(framework, variant, mode, settings, args):
    if mode == "deterministic":  # the harness again, in deterministic mode
        result = run_probe(framework, variant, "harness", {**settings, "deterministic": True}, args)
        return {**result, "mode": mode}
    if mode == "bf16":  # the harness again, in bf16 mixed precision
        result = run_probe(framework, variant, "harness", {**settings, "precision": "bf16"}, args)
        return {**result, "mode": mode}
    if mode == "system-allocator":  # the harness again, with malloc/free for TensorFlow
        result = run_probe(framework, variant, "harness", {**settings, "tf_allocator": "system"},
                           args)
        return {**result, "mode": mode}
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


def applies(mode, framework):
    """Whether a mode measures anything for `framework`: only TensorFlow reads tf_allocator, only
    Keras trains through tf.data."""
    if mode in ("system-allocator", "idiomatic-no-autotune"):
        return registry.reads_tf_allocator(framework)
    return True


def pair_ratios(found):
    """harness / idiomatic of each repeat's pair: their spread shows what the median hides."""
    return [h["images_per_s"] / i["images_per_s"]
            for h, i in zip(found["harness"], found["idiomatic"])]


def row_text(row, columns=()):
    variant, framework, batch, median, pairs, busy = row
    text = (f"{variant:<16}{framework:<10}{batch:>6}{median['harness']:>12.1f}"
            f"{median['idiomatic']:>12.1f}{median['harness'] / median['idiomatic']:>9.2f}"
            f"{spread(pairs):>12}")
    if "workflow" in median:
        text += f"{median['workflow']:>12.1f}{median['workflow'] / median['harness']:>11.2f}"
    if "deterministic" in median:
        text += f"{median['deterministic']:>12.1f}{median['deterministic'] / median['harness']:>9.2f}"
    if "bf16" in median:
        text += f"{median['bf16']:>12.1f}{median['bf16'] / median['harness']:>10.2f}"
    if "system-allocator" in median:
        system = median["system-allocator"]
        text += f"{system:>12.1f}{system / median['harness']:>10.2f}"
    elif "system-allocator" in columns:
        text += " " * 22
    if "idiomatic-no-autotune" in median:
        no_autotune = median["idiomatic-no-autotune"]
        text += f"{no_autotune:>12.1f}{median['harness'] / no_autotune:>9.2f}"
    return text + ("  BUSY" if busy else "")


def variant_settings(config, variant, deterministic):
    """The variant's experiment settings as every probe gets them (the bench's batch size, the
    harness's deterministic mode), with the dataset under "_dataset" for run_probe."""
    dataset, settings = experiment_for(config, variant)
    settings["batch_size"] = DEFAULT_BATCH_SIZE.get(variant, settings["batch_size"])
    settings["deterministic"] = deterministic
    settings["_dataset"] = dataset
    return settings


SAME_PROCESS_MODES = ("harness", "harness-prepared", "idiomatic")


def same_process_table(args, config):
    """--same-process: one probe per variant and framework, its blocks' medians and ratios."""
    print(f"{'variant':<16}{'framework':<10}{'batch':>6}{'harness':>12}{'prepared':>12}"
          f"{'idiomatic':>12}{'h/idiom':>9}{'prep/idiom':>11}{'pairs':>12}")
    for variant, framework, settings, result in one_process_probes(args, config, "same-process",
                                                                   args.frameworks):
        rates = result["rates"]
        median = {mode: statistics.median(rates[mode]) for mode in SAME_PROCESS_MODES}
        pairs = [h / i for h, i in zip(rates["harness"], rates["idiomatic"])]
        print(f"{variant:<16}{framework:<10}{settings['batch_size']:>6}"
              + "".join(f"{median[mode]:>12.1f}" for mode in SAME_PROCESS_MODES)
              + f"{median['harness'] / median['idiomatic']:>9.2f}"
              f"{median['harness-prepared'] / median['idiomatic']:>11.2f}{spread(pairs):>12}"
              + ("  BUSY" if oversubscribed(result, args.threads) else ""), flush=True)
    print(f"images/s, median of {args.repeats} blocks per mode in one process, alternating; "
          "harness: the harness's steps over its pipeline; prepared: its steps on batches "
          "prepared beforehand; h/idiom, prep/idiom: against the idiomatic loop; pairs: "
          f"lowest-highest harness/idiomatic of one round; threads {args.threads}.")
    return 0


def one_process_probes(args, config, mode, frameworks):
    """(variant, framework, settings, result) of one `mode` probe per variant and framework,
    each timing --repeats blocks per way in one process; all results go to --json at the end."""
    raw = []
    for variant in args.variants:
        settings = variant_settings(config, variant, args.deterministic)
        for framework in frameworks:
            result = run_probe(framework, variant, mode, settings,
                               argparse.Namespace(**{**vars(args), "epochs": args.repeats}))
            raw.append(result)
            yield variant, framework, settings, result
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))


def spread(ratios) -> str:
    """'lowest-highest' of per-round ratios."""
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def compilers_table(args, config):
    """--compilers: per variant, PyTorch and Keras each in one process, the harness's step as
    the harness compiles it on a CPU against the other way (idiomatic_probe.OTHER_COMPILER)."""
    print(f"{'variant':<16}{'framework':<10}{'batch':>6}{'usual':>12}{'other':>12}"
          f"{'other/usual':>12}{'pairs':>12}  step compilers")
    frameworks = [f for f in args.frameworks if backend_name(f) in OTHER_COMPILER]
    for variant, framework, settings, result in one_process_probes(args, config, "compilers",
                                                                   frameworks):
        (usual, usual_rates), (other, other_rates) = result["rates"].items()
        median_usual, median_other = map(statistics.median, (usual_rates, other_rates))
        pairs = [o / u for o, u in zip(other_rates, usual_rates)]
        print(f"{variant:<16}{framework:<10}{settings['batch_size']:>6}{median_usual:>12.1f}"
              f"{median_other:>12.1f}{median_other / median_usual:>12.2f}{spread(pairs):>12}"
              f"  {usual} / {other}"
              + ("  BUSY" if oversubscribed(result, args.threads) else ""), flush=True)
    print(f"images/s of the harness's step on batches prepared beforehand, median of "
          f"{args.repeats} blocks per step compiler in one process, alternating; usual: as the "
          "harness compiles it on a CPU; other: PyTorch's torch.compile (torch_compile: true), "
          "Keras's XLA (keras_jit_compile: true); pairs: lowest-highest other/usual of one "
          f"round; threads {args.threads}. Gluon has no other step compiler and is left out.")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(IMAGES), choices=registry.MODELS)
    parser.add_argument("--frameworks", nargs="+", default=list(registry.framework_names()),
                        choices=registry.framework_names())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1, help="timed passes per probe")
    parser.add_argument("--images", type=int, help="images per pass (default: per variant)")
    parser.add_argument("--deterministic", type=lambda v: v.lower() == "true", default=False,
                        help="the harness's deterministic mode (true/false; default false, "
                        "as config.yaml)")
    parser.add_argument("--workflow", action="store_true",
                        help="also time the workflow's training job (1 + --epochs epochs)")
    parser.add_argument("--determinism-cost", action="store_true",
                        help="also time the harness in deterministic mode (against --deterministic "
                        "false)")
    parser.add_argument("--bf16", action="store_true",
                        help="also time the harness in bf16 mixed precision (speed-up over fp32)")
    parser.add_argument("--allocator-cost", action="store_true",
                        help="also time the harness with tf_allocator: system (against TensorFlow's "
                        "own allocator, the default)")
    parser.add_argument("--keras-no-autotune", action="store_true",
                        help="also time Keras's model.fit with tf.data's autotuning off (no "
                        "stalls) and print harness / that")
    parser.add_argument("--same-process", action="store_true",
                        help="instead: harness, harness on prepared batches and the idiomatic loop "
                        "in one process, --repeats alternating blocks each")
    parser.add_argument("--compilers", action="store_true",
                        help="instead: PyTorch eager against torch.compile, Keras without XLA "
                        "against with, the harness's step in one process per variant")
    parser.add_argument("--json", type=Path, help="also write every probe's result here")
    args = parser.parse_args(argv)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())

    if args.determinism_cost and args.deterministic:
        parser.error("--determinism-cost compares deterministic mode with the fast path: "
                     "leave --deterministic false")
    if args.same_process:
        return same_process_table(args, config)
    if args.compilers:
        return compilers_table(args, config)
    modes = ("harness", "idiomatic") + (("workflow",) if args.workflow else ()) \
        + (("deterministic",) if args.determinism_cost else ()) + (("bf16",) if args.bf16 else ()) \
        + (("system-allocator",) if args.allocator_cost else ()) \
        + (("idiomatic-no-autotune",) if args.keras_no_autotune else ())
    rows, raw = [], []
    for variant in args.variants:
        settings = variant_settings(config, variant, args.deterministic)
        for framework in args.frameworks:
            ran = [mode for mode in modes if applies(mode, framework)]
            found = {mode: [] for mode in ran}
            for repeat in range(args.repeats):
                # Each repeat starts one mode later, so no mode always runs first (or second)
                # and a machine that slows in a rhythm cannot favour one side.
                for mode in ran[repeat % len(ran):] + ran[:repeat % len(ran)]:
                    result = run_probe(framework, variant, mode, settings, args)
                    raw.append(result)
                    found[mode].append(result)
            median = {mode: statistics.median(r["images_per_s"] for r in found[mode])
                      for mode in ran}
            busy = any(oversubscribed(r, args.threads) for mode in ran for r in found[mode])
            rows.append((variant, framework, settings["batch_size"], median, pair_ratios(found),
                         busy))
            print(row_text(rows[-1], modes), flush=True)
    workflow_head = f"{'workflow':>12}{'wf/harness':>11}" if args.workflow else ""
    extra_head = f"{'determ.':>12}{'det/fast':>9}" if args.determinism_cost else ""
    extra_head += f"{'bf16':>12}{'bf16/fp32':>10}" if args.bf16 else ""
    extra_head += f"{'sys.alloc':>12}{'sys/tf':>10}" if args.allocator_cost else ""
    extra_head += f"{'fit,no-at':>12}{'h/no-at':>9}" if args.keras_no_autotune else ""
    print(f"\n{'variant':<16}{'framework':<10}{'batch':>6}{'harness':>12}{'idiomatic':>12}"
          f"{'ratio':>9}{'pairs':>12}{workflow_head}{extra_head}")
    for row in rows:
        print(row_text(row, modes))
    print(f"images/s, median of {args.repeats} alternating passes; ratio = harness / idiomatic "
          f"(1.00: no harness tax); pairs: lowest-highest ratio of one repeat's two probes; "
          f"threads {args.threads}; harness deterministic={args.deterministic}; "
          f"{os.cpu_count()} cores.")
    if args.workflow:
        print("workflow: the training job's own figure (metrics.json throughput, epochs 2..N); "
              "wf/harness = workflow / harness.")
    if args.determinism_cost:
        print("determ.: the harness in deterministic mode; det/fast = determ. / harness "
              "(below 1.00: the cost of deterministic: true).")
    if args.bf16:
        print("bf16: the harness in bf16 mixed precision; bf16/fp32 = bf16 / harness (the speed-up).")
    if args.allocator_cost:
        print("sys.alloc: the harness with tf_allocator: system; sys/tf = sys.alloc / harness "
              "(below 1.00: its cost; only Keras reads the setting).")
    if args.keras_no_autotune:
        print("fit,no-at: Keras's model.fit with tf.data's autotuning off (a tf.data pipeline of "
              "the same arrays); h/no-at = harness / fit,no-at (Keras only).")
    if any(r[-1] for r in rows):
        print("WARNING: other processes left fewer free cores than --threads during the rows "
              "marked BUSY: rerun on a quiet machine.")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
