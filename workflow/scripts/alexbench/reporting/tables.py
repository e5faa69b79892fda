"""Tables from collected runs: the per-run performance table, the per-workload summary with
Student-t intervals, the headline "fastest framework per workload", and their Markdown/HTML forms.

Input is a list of `runs.Run`; output is pandas DataFrames and strings. Not for reading files
(`runs`), claims (`claims`) or page layout (`html`).
"""
import html
import json
import math

import pandas as pd

from alexbench.common import registry
from alexbench.reporting import ranking
from alexbench.reporting.runs import framework_rank, precision_rank
from alexbench.reporting.stats import finite, mean_ci

IDENTITY = ["experiment", "framework", "dataset", "model", "hardware", "precision", "seed"]
GROUP = ["experiment", "framework", "dataset", "model", "hardware", "precision"]
# (summary column stem, performance.csv column) of the figures summarised over seeds.
SUMMARISED = [("test_accuracy", "test.accuracy"), ("train_time_s", "train_time_s"),
              ("train_images_per_s", "throughput.train_images_per_s")]
FRAMEWORK_NAMES = {name: f.label for name, f in registry.FRAMEWORKS.items()}
# Package names whose versions describe each framework, in the order shown.
FRAMEWORK_PACKAGES = {name: list(f.packages) for name, f in registry.FRAMEWORKS.items()}


def flatten(document: dict, prefix: str = "") -> dict:
    """Nested dict -> {dotted.name: value}; lists become JSON strings (one CSV cell each)."""
    flat = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        elif isinstance(value, dict):
            flat[name] = None
        elif isinstance(value, list):
            flat[name] = json.dumps(value)
        else:
            flat[name] = value
    return flat


def performance_frame(runs) -> pd.DataFrame:
    """One row per expected run: identity, status, failure reason and every metrics.json field.

    metrics.json's own `run.*` fields are folded into the identity columns (they are checked
    equal to the folder's when read); `status` is ok/diverged from metrics.json, or
    failed/missing for runs without one.
    """
    rows = []
    for run in runs:
        row = {"run_id": run.run_id, "experiment": run.experiment, "framework": run.framework,
               "dataset": run.dataset, "model": run.model, "hardware": run.hardware,
               "precision": run.precision, "seed": run.seed, "status": run.status, "failure_reason": run.failure_reason,
               "run_dir": str(run.run_dir)}
        if run.metrics:
            flat = flatten(run.metrics)
            row["source"] = flat.pop("run.source")
            for key in [k for k in flat if k.startswith("run.")]:
                flat.pop(key)
            flat.pop("status")
            row.update(flat)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if "source" not in frame:
        frame["source"] = None
    # Failed runs leave holes; keep integer and boolean fields integral/boolean in the CSV
    # (pandas would otherwise turn 12 into 12.0 next to a missing value).
    for column in frame.columns:
        values = [row[column] for row in rows if row.get(column) is not None]
        if values and all(isinstance(v, bool) for v in values):
            frame[column] = frame[column].astype("boolean")
        elif values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            frame[column] = frame[column].astype("Int64")
    return frame


# Columns kept as text when performance.csv is read back ("1.10" must not become 1.1).
TEXT_PREFIXES = ("versions.", "device.name", "device.hostname", "run_id", "failure_reason",
                 "run_dir", "started_at", "finished_at", "timing_definition", "weights_file",
                 "settings.validation", "settings.optimizer.name", "experiment", "source",
                 "epoch_times_s")


def read_performance(path) -> pd.DataFrame:
    """performance.csv as written by aggregate.py, with version and name columns kept as text."""
    header = pd.read_csv(path, nrows=0).columns
    frame = pd.read_csv(path, dtype={c: str for c in header if c.startswith(TEXT_PREFIXES)})
    for column in ("framework", "dataset", "model", "hardware", "status"):
        if column not in frame:
            raise ValueError(f"{path}: column {column!r} is missing; was it written by aggregate.py?")
    if "precision" not in frame:  # written before precision joined the identity: all fp32
        frame["precision"] = registry.DEFAULT_PRECISION
    return frame


def _ok(perf: pd.DataFrame) -> pd.DataFrame:
    return perf[perf["status"] == "ok"]


def summary_frame(perf: pd.DataFrame) -> pd.DataFrame:
    """Per experiment x framework x dataset x model x hardware: seed counts, and mean, sd and 95%
    Student-t interval of test accuracy, training time and training throughput over the 'ok' runs
    (diverged, failed and missing runs are counted, not averaged)."""
    rows = []
    for key, group in perf.groupby(GROUP, sort=True, dropna=False):
        row = dict(zip(GROUP, key))
        ok = _ok(group)
        row.update(n_runs=len(group), n_ok=len(ok), n_diverged=int((group["status"] == "diverged").sum()),
                   n_failed=int(group["status"].isin(["failed", "missing"]).sum()),
                   seeds=" ".join(str(s) for s in sorted(ok["seed"])))
        names = ok["device.name"].dropna().unique() if "device.name" in ok else []
        row["device"] = ", ".join(sorted(names))
        row["smoke"] = bool(any(_is_true(v) for v in ok["smoke"])) if "smoke" in ok else False
        row["subset"] = bool(any(is_subset(r) for _, r in ok.iterrows()))
        for stem, column in SUMMARISED:
            values = pd.to_numeric(ok[column], errors="coerce") if column in ok else []
            stats = mean_ci(list(values))
            row.update({f"{stem}_mean": stats.mean, f"{stem}_sd": stats.sd,
                        f"{stem}_ci95_low": stats.ci_low, f"{stem}_ci95_high": stats.ci_high})
        # The per-seed times themselves (in seed order), for the ranking's Welch test.
        times = pd.to_numeric(ok.sort_values("seed")["train_time_s"], errors="coerce") \
            if "train_time_s" in ok else []
        row["train_time_s_values"] = json.dumps(finite(times))
        rows.append(row)
    frame = pd.DataFrame(rows)
    order = frame["framework"].map(framework_rank) if len(frame) else []
    precision_order = frame["precision"].map(precision_rank) if len(frame) else []
    frame = frame.assign(_order=order, _precision=precision_order).sort_values(
        ["experiment", "dataset", "model", "hardware", "_precision", "_order"], kind="stable")
    return frame.drop(columns=["_order", "_precision"]).reset_index(drop=True)


def framework_version(row) -> str:
    """'keras 3.15.1, tensorflow 2.21.0' from versions.framework_detail, else versions.framework."""
    names = FRAMEWORK_PACKAGES.get(row.get("framework"), [])
    parts = [f"{n} {row[f'versions.framework_detail.{n}']}" for n in names
             if _present(row.get(f"versions.framework_detail.{n}"))]
    if parts:
        return ", ".join(parts)
    version = row.get("versions.framework")
    return str(version) if _present(version) else ""


def is_subset(row) -> bool:
    """Whether a performance row (flattened metrics.json) was trained on a config `subset`."""
    return any(_present(row.get(f"subset.{split}")) for split in ("train", "test"))


def _present(value) -> bool:
    return value is not None and value is not pd.NA and not (isinstance(value, float) and math.isnan(value))


def _text(value) -> str:
    return str(value) if _present(value) else ""


def _is_true(value) -> bool:
    # performance.csv read back gives True/False/NaN (numpy bools), fresh frames Python bools.
    return _present(value) and str(value) == "True"


def _fmt(value, digits: int) -> str:
    if not _present(value):
        return ""
    return f"{float(value):.{digits}f}"


def _fmt_int(value) -> str:
    return f"{int(value):,}" if _present(value) else ""


def uses_system_allocator(r) -> bool:
    """A run on TensorFlow that trained with `tf_allocator: system` (slower, for memory). Runs
    written before the setting existed used it too, but recorded nothing and are not labelled."""
    return r.get("settings.tf_allocator") == "system" and registry.reads_tf_allocator(r["framework"])


def compiler_label(r) -> str:
    """" (XLA)" for a Keras run whose step XLA compiled (model.fit's default on a GPU),
    " (torch.compile)" for a PyTorch run that chose it; "" for each framework's usual step."""
    compiler = _text(r.get("step_compiler"))
    if "XLA" in compiler:
        return " (XLA)"
    return " (torch.compile)" if compiler == "torch.compile" else ""


# Columns of the README-style table: (header, formatter of a performance row).
TABLE_COLUMNS = [
    ("Framework", lambda r: FRAMEWORK_NAMES.get(r["framework"], r["framework"])),
    ("Framework version", framework_version),
    ("Python version", lambda r: _text(r.get("versions.python"))),
    ("Hardware", lambda r: _text(r.get("device.name")) or r["hardware"]),
    ("Precision", lambda r: precision_label(r.get("precision"))),
    ("Seed", lambda r: str(r["seed"])),
    ("Status", lambda r: r["status"] + (" (smoke)" if _is_true(r.get("smoke")) else "")
     + (" (subset)" if is_subset(r) else "")
     + (" (deterministic)" if _is_true(r.get("settings.deterministic")) else "")
     + (" (system allocator)" if uses_system_allocator(r) else "")
     + compiler_label(r)),
    ("Training time (s)", lambda r: _fmt(r.get("train_time_s"), 1)),
    ("Test loss", lambda r: _fmt(r.get("test.loss"), 4)),
    ("Test accuracy", lambda r: _fmt(r.get("test.accuracy"), 4)),
    ("Throughput (images/s)", lambda r: _fmt(r.get("throughput.train_images_per_s"), 1)),
    ("Epochs", lambda r: _fmt_int(r.get("epochs_completed"))),
    ("Parameters", lambda r: _fmt_int(r.get("parameters"))),
]


# Shown only when some run measured energy (a GPU with NVML, a CPU with readable RAPL).
ENERGY_COLUMN = ("Energy (J)", lambda r: _fmt(r.get("energy.joules"), 0))


def precision_label(name) -> str:
    """The registry's label ('bf16 mixed'); fp32 where the column is absent (older tables)."""
    name = name if isinstance(name, str) and name else registry.DEFAULT_PRECISION
    return registry.PRECISIONS[name].label if name in registry.PRECISIONS else name


def has_energy(perf: pd.DataFrame) -> bool:
    return "energy.joules" in perf and pd.to_numeric(perf["energy.joules"], errors="coerce").notna().any()


# Only experiments that publish top-5 (alexnet-2012) get the column, next to top-1.
TOP5_COLUMN = ("Test top-5 accuracy", lambda r: _fmt(r.get("test.top5_accuracy"), 4))


def table_columns(group: pd.DataFrame, energy: bool = False) -> list:
    """TABLE_COLUMNS, plus top-5 after top-1 where any run of the experiment reports it, plus
    energy at the end when `energy` (some run of the report measured it)."""
    columns = list(TABLE_COLUMNS)
    if "test.top5_accuracy" in group and group["test.top5_accuracy"].notna().any():
        at = [h for h, _ in TABLE_COLUMNS].index("Test accuracy") + 1
        columns = columns[:at] + [TOP5_COLUMN] + columns[at:]
    return columns + ([ENERGY_COLUMN] if energy else [])


def experiment_title(config: dict, experiment) -> str:
    exp = (config.get("experiments") or {}).get(experiment) or {}
    title = exp.get("title")
    return f"{experiment}: {title}" if title else str(experiment)


def readme_tables(perf: pd.DataFrame, config: dict):
    """[(experiment title, header list, rows of cell strings, run ids)] in the seed S0 README
    style: one table per experiment, rows numbered from 1."""
    tables = []
    energy = has_energy(perf)
    for experiment, group in perf.groupby("experiment", sort=True, dropna=False):
        columns = table_columns(group, energy)
        header = ["#"] + [h for h, _ in columns]
        rows = [[str(i)] + [fmt(row) for _, fmt in columns]
                for i, row in enumerate((r for _, r in group.iterrows()), start=1)]
        tables.append((experiment_title(config, experiment), header, rows, list(group["run_id"])))
    return tables


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(perf: pd.DataFrame, config: dict, summary: pd.DataFrame | None = None) -> str:
    """performance.md: a heading and a README-style table per experiment, ready to paste; with
    `summary`, each table is followed by its ranking (`ranking.sentence`) per workload."""
    out = ["# alexbench: measured performance", ""]
    experiments = [e for e, _ in perf.groupby("experiment", sort=True, dropna=False)]
    for experiment, (title, header, rows, _) in zip(experiments, readme_tables(perf, config)):
        out += [f"## {title}", "", "| " + " | ".join(header) + " |",
                "|" + "|".join("--:" if h in NUMERIC_HEADERS or h == "#" else "---"
                               for h in header) + "|"]
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        out.append("")
        if summary is not None:
            out += ["Ranking (" + ranking.TEST_NAME + ", p < 0.05):", ""]
            out += ranking_lines(summary, experiment) + [""]
    return "\n".join(out)


NUMERIC_HEADERS = {"Training time (s)", "Test loss", "Test accuracy", "Throughput (images/s)",
                   "Epochs", "Parameters", "Seed", "Energy (J)"}


def html_tables(perf: pd.DataFrame, config: dict, link_runs: bool = False) -> str:
    """The README-style tables as HTML (<h3> + <table> per experiment). With `link_runs` the
    '#' cell links to the run's details (#run-<run_id>) inside report.html."""
    parts = []
    for title, header, rows, run_ids in readme_tables(perf, config):
        head = "".join(f'<th class="{"num" if h in NUMERIC_HEADERS else ""}">{html.escape(h)}</th>'
                       for h in header)
        body = []
        for row, run_id in zip(rows, run_ids):
            cells = []
            for h, cell in zip(header, row):
                text = html.escape(cell)
                if h == "#" and link_runs:
                    text = f'<a href="#run-{html.escape(run_id)}">{text}</a>'
                cls = "num" if h in NUMERIC_HEADERS or h == "#" else ""
                if h == "Status":
                    cls = f"status-{html.escape(cell.split()[0])}"
                cells.append(f'<td class="{cls}">{text}</td>')
            body.append(f'<tr data-run="{html.escape(run_id)}">{"".join(cells)}</tr>')
        parts.append(f"<h3>{html.escape(title)}</h3>\n<table class=\"runs sortable\">"
                     f"<thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>")
    return "\n".join(parts)


def html_document(perf: pd.DataFrame, config: dict) -> str:
    """performance.html: the tables as a small standalone page (no external resources)."""
    style = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}"
             "th,td{border:1px solid #ccc;padding:.25em .5em}td.num{text-align:right}"
             "th{background:#f0f0f0}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>alexbench: measured performance</title><style>{style}</style></head><body>\n"
            "<h1>alexbench: measured performance</h1>\n" + html_tables(perf, config) + "\n</body></html>\n")


def headline(summary: pd.DataFrame) -> list[dict]:
    """Per workload (experiment x dataset x model x hardware x precision): frameworks in order of
    mean training time over ok seeds (each precision ranked on its own), with throughput, accuracy and the ranking claim the seeds support
    (`ranking.annotate`); frameworks without an ok run come last with their failure counts."""
    workloads = []
    keys = ["experiment", "dataset", "model", "hardware", "precision"]
    if "precision" not in summary:  # a summary.csv from before precision joined: all fp32
        summary = summary.assign(precision=registry.DEFAULT_PRECISION)
    summary = summary.assign(_precision=summary["precision"].map(precision_rank))
    for key, group in summary.sort_values(["experiment", "dataset", "model", "hardware", "_precision"],
                                          kind="stable").groupby(keys, sort=False, dropna=False):
        measured = group[group["n_ok"] > 0].sort_values("train_time_s_mean", kind="stable")
        unmeasured = group[group["n_ok"] == 0]
        entries = []
        slowest = measured["train_time_s_mean"].max() if len(measured) else math.nan
        for _, row in measured.iterrows():
            entries.append({"framework": row["framework"], "label": _label(row["framework"]),
                            "n_ok": int(row["n_ok"]),
                            "n_runs": int(row["n_runs"]), "device": row["device"],
                            "train_time_s": row["train_time_s_mean"],
                            "train_time_values": _values(row.get("train_time_s_values")),
                            "train_images_per_s": row["train_images_per_s_mean"],
                            "test_accuracy": row["test_accuracy_mean"],
                            "test_accuracy_sd": row["test_accuracy_sd"],
                            "speedup_vs_slowest": slowest / row["train_time_s_mean"]
                            if row["train_time_s_mean"] else math.nan,
                            "smoke": bool(row["smoke"]), "subset": bool(row.get("subset"))})
        verdict = ranking.annotate(entries)
        for _, row in unmeasured.iterrows():
            entries.append({"framework": row["framework"], "label": _label(row["framework"]),
                            "n_ok": 0, "n_runs": int(row["n_runs"]),
                            "device": "", "train_time_s": math.nan, "train_time_values": [],
                            "train_images_per_s": math.nan,
                            "test_accuracy": math.nan, "test_accuracy_sd": math.nan,
                            "speedup_vs_slowest": math.nan, "smoke": False, "subset": False,
                            "p_vs_best": math.nan, "claim": "no completed run"})
        workloads.append({"experiment": key[0], "dataset": key[1], "model": key[2],
                          "hardware": key[3], "precision": key[4],
                          "precision_label": precision_label(key[4]), "ranking": entries, **verdict})
    return workloads


def _label(framework) -> str:
    return FRAMEWORK_NAMES.get(framework, framework)


def _values(cell) -> list[float]:
    """summary.csv's train_time_s_values (a JSON list) back to floats; [] when absent."""
    if isinstance(cell, list):
        return [float(v) for v in cell]
    return [float(v) for v in json.loads(cell)] if isinstance(cell, str) and cell else []


def ranking_lines(summary: pd.DataFrame, experiment) -> list[str]:
    """Markdown bullets: the ranking sentence of each workload of one experiment."""
    return [f"- **{wl['hardware'].upper()}**{_precision_suffix(wl)} ({wl['dataset']}, {wl['model']}): "
            f"{ranking.sentence(wl)}" for wl in headline(summary) if wl["experiment"] == experiment]


def _precision_suffix(workload) -> str:
    return "" if workload["precision"] == registry.DEFAULT_PRECISION else f" {workload['precision']}"
