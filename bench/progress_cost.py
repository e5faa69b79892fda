"""What the per-batch progress call (alexbench.common.progress) costs next to a training step.

    .venvs/dev/bin/python bench/progress_cost.py [--calls 1000000]
        [--metrics results/runs/.../metrics.json ...] [--step-ms 65]

Times `Progress.batch` between lines (one clock read, one comparison: what nearly every batch
pays) and, separately, the cost of producing one line; then prints, for each step time given
(from runs' metrics.json: batch_size / train_images_per_s, or --step-ms), the share of the step
the progress code takes, with one line per 10 s amortised. The budget is 0.5%.
Stdlib only; it needs no framework.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from alexbench.common.progress import INTERVAL_S, Progress  # noqa: E402

BUDGET = 0.005


def per_call_seconds(calls: int) -> float:
    """Seconds per Progress.batch call when no line is due (the common case)."""
    progress = Progress(epochs=1, batches=calls, interval_s=1e9, emit=lambda text: None)
    progress.start_epoch(1)
    best = float("inf")
    for _ in range(3):  # best of three: the machine may be busy
        start = time.perf_counter()
        for b in range(1, calls + 1):
            progress.batch(b, b)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def per_line_seconds(lines: int = 2000) -> float:
    """Seconds to format and emit one line (through a logger that drops it, plus a stream)."""
    import io
    import logging
    logging.getLogger("alexbench.train").addHandler(logging.NullHandler())
    progress = Progress(epochs=3, batches=1000, interval_s=0.0, terminal=io.StringIO())
    progress.start_epoch(1)
    start = time.perf_counter()
    for b in range(1, lines + 1):
        progress.batch(b, b * 32)
    return (time.perf_counter() - start) / lines


def step_times(args) -> list[tuple[str, float]]:
    steps = [(f"--step-ms {ms:g}", ms / 1000.0) for ms in args.step_ms]
    for path in args.metrics:
        metrics = json.loads(Path(path).read_text())
        ips = metrics["throughput"]["train_images_per_s"]
        if ips:
            steps.append((f"{metrics['run']['framework']} {metrics['run']['model']} ({path})",
                          metrics["settings"]["batch_size"] / ips))
    return steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--metrics", nargs="*", default=[], help="runs' metrics.json files")
    parser.add_argument("--step-ms", type=float, nargs="*", default=[],
                        help="step times in ms (e.g. from bench/frameworks.py)")
    args = parser.parse_args(argv)
    call = per_call_seconds(args.calls)
    line = per_line_seconds()
    print(f"Progress.batch between lines: {call * 1e9:.0f} ns per call; one line: {line * 1e6:.1f} us")
    worst = 0.0
    for name, step in step_times(args):
        share = (call + line * step / INTERVAL_S) / step
        worst = max(worst, share)
        print(f"{name}: step {step * 1e3:.1f} ms -> progress {share:.5%} of the step")
    if worst > BUDGET:
        print(f"OVER BUDGET: {worst:.3%} > {BUDGET:.1%}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
