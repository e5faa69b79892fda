"""How the report scales with the number of runs: aggregate + comparison plots + report.html on
generated run matrices of 10, 100 and 1,000 runs, timed step by step, with the page's size and
(when Chromium and playwright are at hand) how long it takes to load and whether it logs errors.

    .venvs/dev/bin/python bench/report_scale.py [--runs 10 100 1000] [--markdown bench/report_scale.md]

Runs are written through the real run contract by the test fixtures' writer
(tests/plugins/run_fixtures.py: plausible figures, history.csv of 10-12 epochs, env.txt), over
S0 (3 frameworks x cpu/gpu), D (3 x cpu/gpu) and S3 (2 frameworks, gpu) with as many seeds as it
takes. Each step runs as the workflow runs it: its script in the report venv, one process.
The machine's load is printed with each line: on a busy machine the times say little.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "workflow" / "scripts")]

from plugins.run_fixtures import base_config, experiment, write_run, write_run_table  # noqa: E402

REPORT_PYTHON = REPO / ".venvs" / "report" / "bin" / "python"
# (experiment, framework, dataset, model, hardware, epochs)
WORKLOADS = [("S0", fw, "mnist", "alexnet-mnist", hw, 12) for fw in ("keras", "gluon", "pytorch")
             for hw in ("cpu", "gpu")]
WORKLOADS += [("D", fw, "fashion_mnist", "alexnet-d2l", hw, 10) for fw in ("keras", "gluon", "pytorch")
              for hw in ("cpu", "gpu")]
WORKLOADS += [("S3", fw, "cifar10", "alexnet-224", "gpu", 10) for fw in ("gluon", "pytorch")]


def make_matrix(root: Path, n: int):
    runs_root = root / "results" / "runs"
    dirs = []
    for i in range(n):
        exp, fw, dataset, model, hw, epochs = WORKLOADS[i % len(WORKLOADS)]
        seed = i // len(WORKLOADS)
        kwargs = {"accuracy": 0.47} if exp == "S3" else {}
        dirs.append(write_run(runs_root, fw, dataset, model, hw, seed, experiment=exp, source=exp,
                              epochs=epochs, **kwargs))
    config = base_config({
        "S0": experiment("Keras MNIST 28x28 (alexnet-mnist)", ["keras", "gluon", "pytorch"], "alexnet-mnist",
                         "mnist", ["cpu", "gpu"], [0], 12, None, "S0"),
        "S3": experiment("Gluon CIFAR-10 at 224 (alexnet-224)", ["gluon", "pytorch"], "alexnet-224", "cifar10",
                         ["gpu"], [0], 10, None, "S3"),
    })
    config_path = root / "results" / "config.json"
    config_path.write_text(json.dumps(config))
    table = write_run_table(dirs, root / "results" / "runs.json")
    # write_run_table names the experiment from the dataset; say it per run instead.
    doc = json.loads(table.read_text())
    for row, run_dir in zip(doc["runs"], dirs):
        row["experiment"] = row["source"] = json.loads((run_dir / "metrics.json").read_text())["run"]["experiment"]
    table.write_text(json.dumps(doc))
    return config_path, table


def step(name, args, times):
    start = time.perf_counter()
    proc = subprocess.run([str(REPORT_PYTHON), *map(str, args)], cwd=REPO, capture_output=True, text=True)
    times[name] = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")


def browser_load(page_path: Path):
    """(seconds to the load event, console errors) in headless Chromium, or None without it."""
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        start = time.perf_counter()
        page.goto(page_path.resolve().as_uri(), wait_until="load")
        seconds = time.perf_counter() - start
        browser.close()
    return seconds, errors


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def measure(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"report-scale-{n}-") as tmp:
        root = Path(tmp)
        config, table = make_matrix(root, n)
        results = root / "results"
        times = {}
        step("aggregate", ["workflow/scripts/aggregate.py", "--config", config, "--runs", table,
                           "--performance", results / "performance.csv", "--summary", results / "summary.csv",
                           "--markdown", results / "performance.md", "--html-table", results / "performance.html"],
             times)
        step("plots", ["workflow/scripts/plot_comparisons.py", "--performance", results / "performance.csv",
                       "--config", config, "--runs", table, "--out-dir", results / "plots" / "comparison"], times)
        step("report", ["workflow/scripts/make_report.py", "--config", config, "--runs", table,
                        "--performance", results / "performance.csv", "--summary", results / "summary.csv",
                        "--plots-dir", results / "plots", "--out", results / "report.html"], times)
        size = (results / "report.html").stat().st_size
        loaded = browser_load(results / "report.html")
    return {"runs": n, **times, "total": sum(times.values()), "report_bytes": size,
            "browser_load_s": loaded[0] if loaded else None,
            "console_errors": len(loaded[1]) if loaded else None, "load_average": load_average()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--markdown", type=Path, help="append the table to this file")
    args = parser.parse_args(argv)
    header = ("| runs | aggregate (s) | plots (s) | report (s) | total (s) | report.html (MB) | "
              "Chromium load (s) | console errors | load average |")
    lines = [header, "|" + "--:|" * 8 + "---|"]
    print(header, flush=True)
    for n in args.runs:
        r = measure(n)
        load = "n/a" if r["browser_load_s"] is None else f"{r['browser_load_s']:.2f}"
        errors = "n/a" if r["console_errors"] is None else str(r["console_errors"])
        line = (f"| {n} | {r['aggregate']:.1f} | {r['plots']:.1f} | {r['report']:.1f} | {r['total']:.1f} | "
                f"{r['report_bytes'] / 1e6:.2f} | {load} | {errors} | {r['load_average']} |")
        lines.append(line)
        print(line, flush=True)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as f:
            f.write(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores:\n\n"
                    + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
