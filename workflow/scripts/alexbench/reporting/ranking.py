"""Which framework is fastest on a workload, claimed only when the seeds support it.

A workload's frameworks are ordered by mean training time over their 'ok' seeds. The first is
called fastest only when Welch's t-test (two-sided, unequal variances, on the per-seed training
times) separates it from every other framework at p < 0.05; frameworks it does not separate
from are "tied with" it. With fewer than two seeds for any framework of the workload there is
no spread to test against: "single run, no ranking claim". Input: the per-framework entries
that `tables.headline` builds (with `train_time_values`); output: the same entries annotated,
and the one-sentence answer of the report's first screen. Not for reading files or layout.
"""
import math

from alexbench.reporting.stats import SIGNIFICANCE, welch_p

TEST_NAME = "Welch's t-test on per-seed training time"
SINGLE_RUN = "single run, no ranking claim"


def annotate(entries: list[dict]) -> dict:
    """Annotate measured entries (sorted fastest first) in place with `p_vs_best` and `claim`;
    return the workload's {'status', 'fastest', 'tied_with', 'p_max'}.

    status: 'fastest' (supported), 'tied', 'single' (a framework has one seed), 'alone' (one
    framework measured, nothing to rank), 'none' (nothing measured).
    """
    if not entries:
        return {"status": "none", "fastest": None, "tied_with": [], "p_max": math.nan}
    best = entries[0]
    best.update(p_vs_best=math.nan, claim="")
    if len(entries) == 1:
        return {"status": "alone", "fastest": None, "tied_with": [], "p_max": math.nan}
    if any(len(e["train_time_values"]) < 2 for e in entries):
        for e in entries:
            e.update(p_vs_best=math.nan, claim=SINGLE_RUN)
        return {"status": "single", "fastest": None, "tied_with": [], "p_max": math.nan}
    tied = []
    for e in entries[1:]:
        p = welch_p(best["train_time_values"], e["train_time_values"])
        e["p_vs_best"] = p
        if p < SIGNIFICANCE:
            e["claim"] = f"slower than {best['label']} ({format_p(p)})"
        else:
            e["claim"] = f"tied with {best['label']} ({format_p(p)})"
            tied.append(e)
    p_max = max(e["p_vs_best"] for e in entries[1:])
    if tied:
        best["claim"] = "tied with " + ", ".join(f"{e['label']} ({format_p(e['p_vs_best'])})"
                                                 for e in tied)
        return {"status": "tied", "fastest": None, "tied_with": [e["framework"] for e in tied],
                "p_max": p_max}
    best["claim"] = f"fastest ({format_p(p_max, '≤')} against every other)"
    return {"status": "fastest", "fastest": best["framework"], "tied_with": [], "p_max": p_max}


def format_p(p: float, relation: str = "=") -> str:
    """'p = 0.412', 'p ≤ 0.003' (relation '≤'), 'p < 0.001'."""
    if math.isnan(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p {relation} {p:.3f}"


def _num(value, digits: int) -> str:
    return "" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def spread(entry: dict) -> str:
    """'12.3 s over 3 seeds, 11.9–12.8 s' or '12.3 s, 1 seed': the mean and the seeds' range."""
    values = entry["train_time_values"]
    text = f"{_num(entry['train_time_s'], 1)} s"
    if len(values) > 1:
        return text + f" over {len(values)} seeds, {_num(min(values), 1)}–{_num(max(values), 1)} s"
    return text + f", {len(values)} seed"


def sentence(workload: dict) -> str:
    """One sentence answering 'which framework is fastest here, at what accuracy', saying when
    the seeds do not support an answer."""
    measured = [e for e in workload["ranking"] if e["n_ok"]]
    failed = [e["label"] for e in workload["ranking"] if not e["n_ok"]]
    if not measured:
        return "no framework completed a run."
    best, status = measured[0], workload["status"]
    accuracy = ", ".join(f"{e['label']} {_num(e['test_accuracy'], 4)}" for e in measured)
    if status == "alone":
        text = f"only {best['label']} ran: {spread(best)}, test accuracy {_num(best['test_accuracy'], 4)}"
    elif status == "single":
        times = "; ".join(f"{e['label']} {spread(e)}" for e in measured)
        text = f"{SINGLE_RUN} ({times}); test accuracy: {accuracy}"
    elif status == "tied":
        tied = [e for e in measured if e["framework"] in workload["tied_with"]]
        text = (f"no supported winner: {best['label']} ({spread(best)}) is tied with "
                + ", ".join(f"{e['label']} ({spread(e)}; {format_p(e['p_vs_best'])})" for e in tied)
                + f" by {TEST_NAME} (p ≥ {SIGNIFICANCE}); test accuracy: {accuracy}")
    else:
        slowest = measured[-1]
        text = (f"{best['label']} is fastest: {spread(best)}, "
                f"{_num(best['train_images_per_s'], 0)} images/s, "
                f"{_num(best['speedup_vs_slowest'], 2)}× the speed of the slowest "
                f"({slowest['label']}, {spread(slowest)}); {TEST_NAME}: {format_p(workload['p_max'], '≤')} "
                f"against every other framework; test accuracy: {accuracy}")
    if best["smoke"]:
        text += " (smoke run: timings not meaningful)"
    if best.get("subset"):
        text += " (subset: the first images of each split, not comparable with full runs)"
    if failed:
        text += f"; no completed run for {', '.join(failed)}"
    return text + "."
