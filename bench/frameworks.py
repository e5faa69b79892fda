"""Benchmark: can alexbench's cross-framework CPU timings be trusted on this machine?

For each variant, trains the same fixed number of steps in each framework's venv
(bench/step_probe.py, run with `.venvs/<framework>-cpu/bin/python`) on byte-identical batches
and the experiment's own batch size and optimizer (config.yaml), then prints one table side by
side: median step time, images/s, CPU utilisation (process CPU time / wall time during the timed
steps: close to --threads when the framework really uses its threads), the input pipeline's
overhead (one epoch through harness/pipeline.prefetch_batches against the same steps on batches prepared
beforehand), the step-time ratio to the fastest framework, and how busy the rest of the machine
was meanwhile (other processes' CPU, in cores: when they leave fewer free cores than --threads,
the figures are not trustworthy and a warning says so).

    .venvs/dev/bin/python bench/frameworks.py --variants alexnet-mnist alexnet-lrn-32 \
        --batches 20 --threads 2 [--json out.json]

Not for: accuracy, or timings that go into the report (the workflow's runs make those).
"""
import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from alexbench.common import registry  # noqa: E402
from alexbench.harness import runtime  # noqa: E402
from alexbench.harness.settings import resolve_settings  # noqa: E402

log = logging.getLogger("alexbench.bench")
PROBE = ROOT / "bench" / "step_probe.py"
# The prepared image shape of each dataset (docs/design.md, data contract).
RAW_SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3),
              "imagenette-160": (256, 256, 3), "imagenette-320": (256, 256, 3)}
DEFAULT_VARIANTS = ("alexnet-mnist", "alexnet-lrn-32", "alexnet-d2l")
# alexnet-d2l's experiment uses 128 images per batch (several seconds a step on 2 cores): the
# default run trains it on smaller batches so that it stays within a few minutes.
DEFAULT_BATCH_SIZE = {"alexnet-d2l": 32}
# Slack for the probe's own helper threads and short system noise, in cores.
BUSY_SLACK_CORES = 0.2


def experiment_for(config, variant, optimizer=None):
    """(dataset, resolved settings) of the first experiment in config.yaml training `variant`."""
    for name, exp in config["experiments"].items():
        if exp["model"] == variant:
            settings = {"epochs": 1, "batch_size": exp["batch_size"],
                        "optimizer": optimizer or exp["optimizer"], "validation": "test"}
            return exp["dataset"], resolve_settings(settings)
    raise SystemExit(f"config.yaml: no experiment trains {variant!r}")


def machine_busy_seconds():
    """CPU seconds every process on the machine has spent so far (/proc/stat, all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_probe(framework, variant, raw_shape, settings, args):
    """The probe's JSON result plus `other_cores`: CPU the rest of the machine used meanwhile."""
    python = ROOT / ".venvs" / f"{framework}-cpu" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python}: missing; build the venv first (docs/design.md, Environments)")
    cmd = [str(python), str(PROBE), "--framework", framework, "--variant", variant,
           "--raw-shape", *map(str, raw_shape), "--settings", json.dumps(settings),
           "--batches", str(args.batches), "--warmup", str(args.warmup),
           "--repeats", str(args.repeats), "--threads", str(args.threads)]
    for item in args.env:
        cmd += ["--env", item]
    busy0, own0, wall0 = machine_busy_seconds(), children_cpu_seconds(), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - wall0
    other = (machine_busy_seconds() - busy0) - (children_cpu_seconds() - own0)
    if proc.returncode != 0:
        raise SystemExit(f"{framework} {variant}: probe failed (exit {proc.returncode}):\n"
                         f"{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["other_cores"] = max(0.0, other / wall)
    result["probe_wall_s"] = wall
    return result


def add_ratios(results):
    """Step time relative to the fastest framework of the same variant (1.00 = fastest)."""
    for variant in {r["variant"] for r in results}:
        rows = [r for r in results if r["variant"] == variant]
        fastest = min(r["median_step_ms"] for r in rows)
        for r in rows:
            r["step_ratio_to_fastest"] = r["median_step_ms"] / fastest


def oversubscribed(result, threads):
    """True when the rest of the machine left fewer free cores than the probe's threads."""
    return (os.cpu_count() or 1) - result["other_cores"] < threads - BUSY_SLACK_CORES


def format_table(results, threads):
    head = (f"{'variant':<16}{'framework':<10}{'batch':>6}{'step ms':>10}{'p10-p90 ms':>16}"
            f"{'images/s':>10}{'vs fastest':>11}{'CPU util':>10}{'pipeline':>10}{'other':>7}")
    lines = [head, "-" * len(head)]
    for r in results:
        p10, p90 = r["step_ms_p10_p90"]
        lines.append(
            f"{r['variant']:<16}{r['framework']:<10}{r['batch_size']:>6}{r['median_step_ms']:>10.1f}"
            f"{f'{p10:.0f}-{p90:.0f}':>16}{r['images_per_s']:>10.0f}"
            f"{r['step_ratio_to_fastest']:>10.2f}x{r['cpu_util']:>7.2f}/{threads:<2}"
            f"{r['pipeline_overhead_pct']:>+9.1f}%{r['other_cores']:>7.2f}")
    lines.append("step ms: median of the timed steps (synced); CPU util: process CPU s / wall s "
                 f"during them (ideal {threads}); pipeline: one epoch through "
                 "harness/pipeline.prefetch_batches vs the same steps on prepared batches; other: cores "
                 "the rest of the machine used meanwhile.")
    busy = [r for r in results if oversubscribed(r, threads)]
    if busy:
        lines.append(f"WARNING: other processes left fewer than {threads} free cores during "
                     + ", ".join(f"{r['framework']}/{r['variant']}" for r in busy)
                     + ": those timings are not trustworthy; rerun on a quiet machine.")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS),
                        choices=registry.MODELS)
    parser.add_argument("--frameworks", nargs="+", default=list(registry.framework_names()),
                        choices=registry.framework_names())
    parser.add_argument("--batches", type=int, default=20, help="timed steps per pass")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=1,
                        help="materialised + pipeline passes, alternated")
    parser.add_argument("--threads", type=int, default=runtime.default_threads())
    parser.add_argument("--batch-size", type=int, default=None,
                        help="override every variant's batch size (default: the experiment's, "
                        f"but {DEFAULT_BATCH_SIZE} unless given)")
    parser.add_argument("--optimizer", type=json.loads, default=None, metavar="JSON",
                        help="override every variant's optimizer, e.g. "
                        "'{\"name\": \"sgd\", \"learning_rate\": 0.01}'")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the probes (after the harness's own)")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    for name in ("batches", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    config = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    results = []
    for variant in args.variants:
        dataset, settings = experiment_for(config, variant, args.optimizer)
        settings["batch_size"] = args.batch_size or DEFAULT_BATCH_SIZE.get(
            variant, settings["batch_size"])
        for framework in args.frameworks:
            log.info("%s %s: %d steps of %d images", framework, variant, args.batches,
                     settings["batch_size"])
            r = run_probe(framework, variant, RAW_SHAPES[dataset], settings, args)
            r["optimizer"] = settings["optimizer"]["name"]
            results.append(r)
    add_ratios(results)
    print(format_table(results, args.threads))
    if args.json:
        document = {"machine": {"cpu_count": os.cpu_count(), "threads": args.threads,
                                "cpu": _cpu_model()}, "results": results}
        tmp = args.json.with_name(f".{args.json.name}.tmp")
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, args.json)
    return 0


def _cpu_model():
    from alexbench.common import hardware
    return hardware.cpu_model_name()


if __name__ == "__main__":
    sys.exit(main())
