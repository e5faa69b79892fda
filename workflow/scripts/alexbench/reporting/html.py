"""The report page: one self-contained results/report.html.

Everything is inline (CSS, a few lines of JS for sortable tables, images as data: URIs, the
config as run), so the file opens offline and makes no request of any kind. The first screen
answers "which framework is fastest on each workload, at what accuracy"; then the full table,
summary statistics, claims against measurements, comparison plots, per-run details and
provenance. Not for computing figures: it lays out what `tables`, `claims`, `plots` and
`provenance` produced.
"""
import base64
import json
import math
from pathlib import Path

import jinja2

from alexbench.reporting import claims, tables
from alexbench.reporting.plots import COMPARISON_PLOTS, FRAMEWORK_COLOURS, FRAMEWORK_LABELS

TEMPLATES = Path(__file__).resolve().parent / "templates"


def data_uri(path: Path) -> str:
    mime = {".png": "image/png", ".svg": "image/svg+xml"}[path.suffix]
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def fmt(value, digits: int = 4, thousands: bool = False) -> str:
    """Number for display; '' for missing/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,.{digits}f}" if thousands else f"{value:.{digits}f}"


def run_curve_path(plots_dir: Path, run) -> Path:
    """Where plot_run.py writes a run's curves (the lead's rule uses the same pattern)."""
    return (Path(plots_dir) / "runs" / run.framework / run.dataset / run.model / run.hardware
            / f"seed{run.seed}.png")


def comparison_plot_path(plots_dir: Path, stem: str) -> Path:
    return Path(plots_dir) / "comparison" / f"{stem}.png"


def _run_details(run, plots_dir: Path) -> dict:
    curve = run_curve_path(plots_dir, run)
    if run.status in ("ok", "diverged") and not curve.exists():
        raise FileNotFoundError(f"{curve}: curves of finished run {run.run_id} are missing "
                                "(run plot_run.py first)")
    m = run.metrics or {}
    return {"run": run, "metrics": m, "curve": data_uri(curve) if curve.exists() else None,
            "curve_file": str(curve),
            "epoch_times": ", ".join(f"{t:.1f}" for t in m.get("epoch_times_s", [])),
            "settings_json": json.dumps(m.get("settings", {}), indent=1, sort_keys=True),
            "versions_json": json.dumps(m.get("versions", {}), indent=1, sort_keys=True)}


def build_context(config: dict, perf, summary, runs, verdicts, plots_dir, provenance: dict) -> dict:
    plots_dir = Path(plots_dir)
    comparison = []
    for stem, caption in COMPARISON_PLOTS.items():
        path = comparison_plot_path(plots_dir, stem)
        if not path.exists():
            raise FileNotFoundError(f"{path}: comparison plot missing (run plot_comparisons.py first)")
        comparison.append({"stem": stem, "caption": caption, "src": data_uri(path)})
    titles = {name: exp.get("title", "") for name, exp in (config.get("experiments") or {}).items()}
    workloads = tables.headline(summary)
    for wl in workloads:
        wl["title"] = tables.experiment_title(config, wl["experiment"])
        wl["answer"] = headline_sentence(wl)
    counts = perf["status"].value_counts().to_dict()
    return {
        "config": config, "config_json": json.dumps(config, indent=2, sort_keys=True),
        "titles": titles, "workloads": workloads, "counts": counts, "n_runs": len(perf),
        "runs_table": tables.html_tables(perf, config, link_runs=True),
        "summary": summary.to_dict("records"), "verdicts": verdicts,
        "verdict_counts": _count(v.verdict for v in verdicts),
        "comparison": comparison, "details": [_run_details(r, plots_dir) for r in runs],
        "provenance": provenance, "colours": FRAMEWORK_COLOURS, "labels": FRAMEWORK_LABELS,
        "relative_metrics": claims.RELATIVE,
    }


def headline_sentence(workload: dict) -> str:
    """One sentence answering 'which framework is fastest here, at what accuracy'."""
    measured = [e for e in workload["ranking"] if e["n_ok"]]
    failed = [FRAMEWORK_LABELS.get(e["framework"], e["framework"]) for e in workload["ranking"] if not e["n_ok"]]
    if not measured:
        return "no framework completed a run."
    best = measured[0]
    name = FRAMEWORK_LABELS.get(best["framework"], best["framework"])
    text = (f"{name} is fastest: {fmt(best['train_time_s'], 1, True)} s, "
            f"{fmt(best['train_images_per_s'], 0, True)} images/s, test accuracy {fmt(best['test_accuracy'], 4)}")
    if len(measured) > 1:
        slowest = measured[-1]
        others = ", ".join(f"{FRAMEWORK_LABELS.get(e['framework'], e['framework'])} "
                           f"{fmt(e['test_accuracy'], 4)}" for e in measured[1:])
        text += (f"; {fmt(best['speedup_vs_slowest'], 2)}× the speed of the slowest "
                 f"({FRAMEWORK_LABELS.get(slowest['framework'], slowest['framework'])}); others' accuracy: {others}")
    if best["smoke"]:
        text += " (smoke run: timings not meaningful)"
    if best.get("subset"):
        text += " (subset: the first images of each split, not comparable with full runs)"
    if failed:
        text += f"; no completed run for {', '.join(failed)}"
    return text + "."


def _count(items) -> dict:
    out: dict = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def render(context: dict) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.filters["label"] = lambda f: FRAMEWORK_LABELS.get(f, f)
    return env.get_template("report.html.j2").render(**context)
