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

from alexbench.reporting import claims, precision, ranking, tables
from alexbench.reporting.plots import COMPARISON_PLOTS, FRAMEWORK_COLOURS, FRAMEWORK_LABELS, OPTIONAL_PLOTS

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
            / run.precision / f"seed{run.seed}.png")


def comparison_plot_path(plots_dir: Path, stem: str) -> Path:
    return Path(plots_dir) / "comparison" / f"{stem}.png"


def _run_details(run) -> dict:
    m = run.metrics or {}
    return {"run": run, "metrics": m,
            "epoch_times": ", ".join(f"{t:.1f}" for t in m.get("epoch_times_s", [])),
            "settings_json": json.dumps(m.get("settings", {}), indent=1, sort_keys=True),
            "versions_json": json.dumps(m.get("versions", {}), indent=1, sort_keys=True)}


def _short(value):
    """A history figure in 5 significant digits (null stays null): the page draws the curves
    from these, so they are kept small for reports of thousands of runs."""
    return None if value is None else float(f"{value:.5g}")


def curves_json(runs) -> str:
    """Every run's per-epoch history as one JSON object for the page's script, which draws a
    run's curves when its details are opened (no image per run: the page stays small)."""
    data = {}
    for run in runs:
        if not run.history:
            continue
        data[run.run_id] = {
            "validation": (run.metrics or {}).get("settings", {}).get("validation", "test"),
            **{key: [_short(row[col]) if key != "epoch" else row[col] for row in run.history]
               for key, col in (("epoch", "epoch"), ("train_accuracy", "train_accuracy"),
                                ("val_accuracy", "val_accuracy"), ("train_loss", "train_loss"),
                                ("val_loss", "val_loss"))}}
    # "</" would end the <script> element early; JSON allows the escaped form.
    return json.dumps(data, separators=(",", ":"), sort_keys=True).replace("</", "<\\/")


def detail_groups(runs) -> list:
    """[(experiment, [details])]: run details collapsed under their experiment."""
    groups: dict = {}
    for run in runs:
        groups.setdefault(run.experiment or "(no experiment)", []).append(_run_details(run))
    return sorted(groups.items())


def build_context(config: dict, perf, summary, runs, verdicts, plots_dir, provenance: dict,
                  comparison_dir=None) -> dict:
    plots_dir = Path(plots_dir)
    comparison = []
    for stem, caption in COMPARISON_PLOTS.items():
        path = (Path(comparison_dir) / f"{stem}.png" if comparison_dir
                else comparison_plot_path(plots_dir, stem))
        if not path.exists():
            raise FileNotFoundError(f"{path}: comparison plot missing (run plot_comparisons.py first)")
        comparison.append({"stem": stem, "caption": caption, "src": data_uri(path)})
    for stem, caption in OPTIONAL_PLOTS.items():  # drawn only when the runs have the data
        path = (Path(comparison_dir) if comparison_dir else plots_dir / "comparison") / f"{stem}.png"
        if path.exists():
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
        "comparison": comparison, "detail_groups": detail_groups(runs), "curves_json": curves_json(runs),
        "provenance": provenance, "colours": FRAMEWORK_COLOURS, "labels": FRAMEWORK_LABELS,
        "relative_metrics": claims.RELATIVE, "ranking_test": ranking.TEST_NAME,
        "precision_rows": precision.comparison(summary),
        "skipped_precisions": config.get("skipped_precisions") or {},
    }


def headline_sentence(workload: dict) -> str:
    """One sentence answering 'which framework is fastest here, at what accuracy'."""
    return ranking.sentence(workload)


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
