"""Figures: per-run learning curves and the cross-framework comparison plots.

matplotlib (Agg) with seaborn's theme; one fixed colour per framework in every figure, units on
every axis. PNGs are written small (modest dpi, 256-colour palette, optimised) because the report
inlines them; comparison plots also get an SVG. Every file is written to a temporary name and
moved into place, so an interrupted job never leaves a truncated image. Not for tables or HTML.
"""
import io
import logging
import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend first)
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from PIL import Image  # noqa: E402

from alexbench.common import registry  # noqa: E402
from alexbench.common.atomic_files import write_atomically  # noqa: E402
from alexbench.reporting.stats import mean_ci  # noqa: E402

log = logging.getLogger(__name__)

FRAMEWORKS = list(registry.framework_names())
# One colour per framework (the registry's), the same in every figure.
FRAMEWORK_COLOURS = {name: f.colour for name, f in registry.FRAMEWORKS.items()}
FRAMEWORK_LABELS = {name: f.label for name, f in registry.FRAMEWORKS.items()}
HARDWARE_MARKERS = {"cpu": "o", "gpu": "^"}
DPI = 80

# Fixed file names of the comparison plots (stem -> what it shows); plot_comparisons.py writes
# <stem>.png and <stem>.svg for each, and the report embeds the PNGs in this order.
COMPARISON_PLOTS = {
    "train_time": "Training time (s) per framework and hardware, mean over seeds with 95% Student-t "
                  "interval; dots are single seeds.",
    "throughput": "Training throughput (images/s, steady state) per framework and hardware, mean over "
                  "seeds with 95% Student-t interval; dots are single seeds.",
    "test_accuracy": "Test accuracy per framework and hardware, mean over seeds with 95% Student-t "
                     "interval; dots are single seeds.",
    "accuracy_vs_time": "Test accuracy against training time, one marker per run (circle: CPU, "
                        "triangle: GPU).",
    "learning_curves": "Validation accuracy per epoch of the same workload overlaid across "
                       "frameworks, one line per seed.",
}


# Drawn only when some run measured energy from a hardware counter (NVML or RAPL).
OPTIONAL_PLOTS = {
    "energy_vs_accuracy": "Test accuracy against training-loop energy (J, from NVML on a GPU or "
                          "RAPL package energy on a CPU), one marker per run that has a counter "
                          "(circle: CPU, triangle: GPU).",
}


def set_theme() -> None:
    sns.set_theme(style="whitegrid", context="paper", font_scale=1.1)
    # SVG text stays text (searchable, editable, smaller) instead of outlines.
    matplotlib.rcParams["svg.fonttype"] = "none"


def save_figure(fig, png_path, svg: bool = False) -> list[Path]:
    """Write fig as an optimised palette PNG (and an SVG next to it); atomically; closes fig."""
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    image = Image.open(buffer).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    written = [png_path]
    write_atomically(png_path, lambda f: image.save(f, format="PNG", optimize=True), "wb")
    if svg:
        svg_path = png_path.with_suffix(".svg")
        write_atomically(svg_path, lambda f: fig.savefig(f, format="svg", bbox_inches="tight",
                                                         metadata={"Date": None}), "wb")
        written.append(svg_path)
    plt.close(fig)
    return written


# --- one run -----------------------------------------------------------------------------------

def run_title(identity: dict, status: str | None = None, smoke: bool = False) -> str:
    text = (f"{FRAMEWORK_LABELS.get(identity['framework'], identity['framework'])} · "
            f"{identity['dataset']} · {identity['model']} · {identity['hardware']} · seed {identity['seed']}")
    notes = ([status] if status and status != "ok" else []) + (["smoke run"] if smoke else [])
    return text + (f" ({', '.join(notes)})" if notes else "")


def plot_run_curves(history: list, title: str, out_png, validation: str = "test") -> list[Path]:
    """Accuracy and loss per epoch, train against validation, as one two-panel PNG."""
    set_theme()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(8.5, 3.2))
    val_label = "validation (test set)" if validation == "test" else f"validation ({validation})"
    frame = pd.DataFrame(history, columns=["epoch", "train_loss", "train_accuracy", "val_loss",
                                           "val_accuracy"])
    for ax, metric, label in ((ax_acc, "accuracy", "Accuracy (fraction correct)"),
                              (ax_loss, "loss", "Loss (cross-entropy)")):
        for split, style, name in (("train", "-", "train"), ("val", "--", val_label)):
            column = f"{split}_{metric}"
            ax.plot(frame["epoch"], pd.to_numeric(frame[column]), style, marker="o", markersize=3,
                    label=name, color="#333333" if split == "train" else "#0072B2")
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        # A diverged epoch has no finite loss: mark where training stopped making sense.
        for epoch in frame.loc[frame["train_loss"].isna(), "epoch"]:
            ax.axvline(epoch, color="#c62828", linestyle=":", linewidth=1.2)
            ax.text(epoch, 0.5, " loss not finite", color="#c62828", rotation=90, va="center",
                    ha="right", transform=ax.get_xaxis_transform(), fontsize="small")
        if len(frame):
            ax.set_xticks(_epoch_ticks(int(frame["epoch"].max())))
        else:
            ax.text(0.5, 0.5, "no completed epoch", ha="center", va="center", transform=ax.transAxes)
    ax_acc.legend(loc="best", fontsize="small")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, out_png)


def _epoch_ticks(last: int) -> list[int]:
    step = max(1, math.ceil(last / 10))
    return list(range(1, last + 1, step))


# --- comparisons -------------------------------------------------------------------------------

def _facets(n: int, width: float = 3.8, height: float = 3.0):
    cols = min(3, max(1, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.6), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _framework_legend(fig, frameworks, hardware=()) -> None:
    handles = [plt.Line2D([], [], color=FRAMEWORK_COLOURS.get(f, "grey"), marker="s", linestyle="",
                          markersize=9, label=FRAMEWORK_LABELS.get(f, f)) for f in frameworks]
    handles += [plt.Line2D([], [], color="grey", marker=HARDWARE_MARKERS.get(h, "s"), linestyle="",
                           markersize=7, label=h.upper()) for h in hardware]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False,
               bbox_to_anchor=(0.5, 1.0))


def _frameworks_in(perf: pd.DataFrame) -> list[str]:
    present = set(perf["framework"])
    return [f for f in FRAMEWORKS if f in present] + sorted(present - set(FRAMEWORKS))


def _experiment_label(experiment, titles: dict) -> str:
    title = titles.get(experiment)
    return f"{experiment}: {title}" if title else str(experiment)


def _wrap(text: str, width: int = 38) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join(lines + [line])


def precision_slot(hardware: str, precision) -> str:
    """An x-axis slot: 'CPU' for fp32 runs, 'CPU bf16' for the others, so precisions never merge."""
    fp32 = not isinstance(precision, str) or precision == "fp32"
    return hardware.upper() + ("" if fp32 else f" {precision}")


def plot_metric_by_framework(perf: pd.DataFrame, column: str, ylabel: str, out_png, titles: dict,
                             bars: bool = True) -> list[Path]:
    """One panel per experiment; x = hardware (and precision, where not fp32), one bar (or point)
    per framework with the mean over ok seeds and its 95% Student-t interval, single seeds as dots."""
    set_theme()
    perf = perf.assign(hardware=[precision_slot(h, p) for h, p in
                                 zip(perf["hardware"], perf.get("precision", ["fp32"] * len(perf)))])
    ok = perf[perf["status"] == "ok"].copy()
    experiments = sorted(perf["experiment"].dropna().unique())
    frameworks = _frameworks_in(perf)
    fig, axes = _facets(len(experiments))
    for ax, experiment in zip(axes, experiments):
        exp_ok = ok[ok["experiment"] == experiment]
        hardware = sorted(perf[perf["experiment"] == experiment]["hardware"].unique())
        # Slots only for the frameworks this experiment runs (colours stay global).
        exp_frameworks = _frameworks_in(perf[perf["experiment"] == experiment])
        width = 0.8 / max(1, len(exp_frameworks))
        for i, framework in enumerate(exp_frameworks):
            for j, hw in enumerate(hardware):
                sel = exp_ok[(exp_ok["framework"] == framework) & (exp_ok["hardware"] == hw)]
                values = pd.to_numeric(sel[column], errors="coerce").dropna() if column in sel else []
                x = j - 0.4 + width * (i + 0.5)
                colour = FRAMEWORK_COLOURS.get(framework, "grey")
                if len(values) == 0:
                    continue
                stats = mean_ci(list(values))
                err = None if math.isnan(stats.ci_low) else [[stats.mean - stats.ci_low],
                                                             [stats.ci_high - stats.mean]]
                if bars:
                    ax.bar(x, stats.mean, width * 0.9, color=colour, alpha=0.85)
                    ax.errorbar(x, stats.mean, yerr=err, color="black", capsize=3, linewidth=1)
                else:
                    ax.errorbar(x, stats.mean, yerr=err, color=colour, marker="D", markersize=6,
                                capsize=4, linewidth=1.5)
                ax.scatter([x] * len(values), values, s=10, color="black" if bars else colour,
                           zorder=3, edgecolors="white", linewidths=0.5)
        ax.set_xticks(range(len(hardware)))
        ax.set_xticklabels(hardware)
        ax.set_xlim(-0.6, len(hardware) - 0.4)
        ax.set_xlabel("Hardware")
        ax.set_ylabel(ylabel)
        ax.set_title(_wrap(_experiment_label(experiment, titles)), fontsize="small")
        if exp_ok.empty:
            ax.text(0.5, 0.5, "no completed run", ha="center", va="center", transform=ax.transAxes)
    _framework_legend(fig, frameworks)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, out_png, svg=True)


def plot_accuracy_vs_time(perf: pd.DataFrame, out_png, titles: dict) -> list[Path]:
    """Per experiment: test accuracy against training time, one marker per ok run."""
    set_theme()
    ok = perf[perf["status"] == "ok"]
    experiments = sorted(perf["experiment"].dropna().unique())
    frameworks = _frameworks_in(perf)
    fig, axes = _facets(len(experiments))
    for ax, experiment in zip(axes, experiments):
        sel = ok[ok["experiment"] == experiment]
        for (framework, hw), group in sel.groupby(["framework", "hardware"]):
            ax.scatter(pd.to_numeric(group["train_time_s"]), pd.to_numeric(group["test.accuracy"]),
                       color=FRAMEWORK_COLOURS.get(framework, "grey"),
                       marker=HARDWARE_MARKERS.get(hw, "s"), s=40, edgecolors="black", linewidths=0.4)
        if not sel.empty and pd.to_numeric(sel["train_time_s"]).min() > 0:
            times = pd.to_numeric(sel["train_time_s"])
            if times.max() / times.min() > 8:  # CPU and GPU differ by orders of magnitude
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        else:
            ax.text(0.5, 0.5, "no completed run", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("Training time (s)")
        ax.set_ylabel("Test accuracy")
        ax.set_title(_wrap(_experiment_label(experiment, titles)), fontsize="small")
    _framework_legend(fig, frameworks, sorted(perf["hardware"].unique()))
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, out_png, svg=True)


def plot_energy_vs_accuracy(perf: pd.DataFrame, out_png, titles: dict) -> list[Path]:
    """Per experiment: test accuracy against energy of the training loop, one marker per ok run
    with a measured energy; experiments without any are left out."""
    set_theme()
    ok = perf[perf["status"] == "ok"].copy()
    ok["_joules"] = pd.to_numeric(ok["energy.joules"], errors="coerce")
    ok = ok[ok["_joules"].notna()]
    experiments = sorted(ok["experiment"].dropna().unique())
    fig, axes = _facets(len(experiments))
    for ax, experiment in zip(axes, experiments):
        sel = ok[ok["experiment"] == experiment]
        for (framework, hw), group in sel.groupby(["framework", "hardware"]):
            ax.scatter(group["_joules"], pd.to_numeric(group["test.accuracy"]),
                       color=FRAMEWORK_COLOURS.get(framework, "grey"),
                       marker=HARDWARE_MARKERS.get(hw, "s"), s=40, edgecolors="black", linewidths=0.4)
        ax.set_xlabel("Energy of the training loop (J)")
        ax.set_ylabel("Test accuracy")
        ax.set_title(_wrap(_experiment_label(experiment, titles)), fontsize="small")
    _framework_legend(fig, _frameworks_in(ok), sorted(ok["hardware"].unique()))
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, out_png, svg=True)


def plot_learning_curves(runs, out_png, titles: dict) -> list[Path]:
    """Per workload (experiment x hardware): validation accuracy per epoch, one line per run,
    coloured by framework; diverged runs dashed."""
    set_theme()
    workloads = sorted({(r.experiment or "", r.hardware) for r in runs})
    frameworks = [f for f in FRAMEWORKS if any(r.framework == f for r in runs)]
    fig, axes = _facets(len(workloads))
    for ax, (experiment, hw) in zip(axes, workloads):
        drawn = 0
        for run in runs:
            if (run.experiment or "", run.hardware) != (experiment, hw) or not run.history:
                continue
            epochs = [row["epoch"] for row in run.history]
            acc = [row["val_accuracy"] if row["val_accuracy"] is not None else math.nan
                   for row in run.history]
            ax.plot(epochs, acc, color=FRAMEWORK_COLOURS.get(run.framework, "grey"), alpha=0.8,
                    linewidth=1.3, linestyle="--" if run.status != "ok" else "-", marker=".")
            drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "no history", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Validation accuracy")
        ax.set_title(_wrap(f"{_experiment_label(experiment, titles)} · {hw.upper()}"), fontsize="small")
        ax.xaxis.get_major_locator().set_params(integer=True)
    _framework_legend(fig, frameworks)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, out_png, svg=True)


def plot_comparisons(perf: pd.DataFrame, runs, out_dir, titles: dict) -> list[Path]:
    """All comparison plots under out_dir with the names in COMPARISON_PLOTS."""
    out_dir = Path(out_dir)
    written = []
    written += plot_metric_by_framework(perf, "train_time_s", "Training time (s)",
                                        out_dir / "train_time.png", titles)
    written += plot_metric_by_framework(perf, "throughput.train_images_per_s",
                                        "Training throughput (images/s)", out_dir / "throughput.png", titles)
    written += plot_metric_by_framework(perf, "test.accuracy", "Test accuracy",
                                        out_dir / "test_accuracy.png", titles, bars=False)
    written += plot_accuracy_vs_time(perf, out_dir / "accuracy_vs_time.png", titles)
    written += plot_learning_curves(runs, out_dir / "learning_curves.png", titles)
    if "energy.joules" in perf and pd.to_numeric(perf["energy.joules"], errors="coerce").notna().any():
        written += plot_energy_vs_accuracy(perf, out_dir / "energy_vs_accuracy.png", titles)
    return written
