"""The report stage on fixture run folders: tables, statistics, claim verdicts, missing/failed runs,
bad run files, plots and the self-contained report.html.

The fixture (tests/plugins/run_fixtures.py) is a 20-run matrix written through the real run
contract: S0 with keras/gluon/pytorch on cpu and gpu, seeds 0-2 (gluon/gpu/fp32/seed2 failed,
pytorch/cpu/fp32/seed1 diverged) and S3 with gluon/pytorch on gpu. The entry points run in the report
venv, as the workflow runs them.
"""
import json
import math
import re

import pandas as pd
import pytest
from PIL import Image

from alexbench.common import run_contract, run_table
from alexbench.reporting import claims, plots, runs, stats, tables
from conftest import run_in_env
from plugins.run_fixtures import (CPU_NAME, GPU_NAME, aggregate_args, base_config, experiment,
                                  fixture_identity, log_for, write_run_table,
                                  run_dir_for, write_failed_log, write_run, RunMatrix)

REPORT_SIZE_LIMIT_BYTES = 3 * 1024 * 1024


# --- statistics --------------------------------------------------------------------------------

@pytest.mark.parametrize("df, expected", [(1, 12.706204736174698), (2, 4.302652729911275),
                                          (4, 2.7764451051977987), (9, 2.2621571627409915),
                                          (30, 2.0422724563012373)])
def test_t_quantile_matches_published_tables(df, expected):
    assert stats.t_quantile(0.975, df) == pytest.approx(expected, rel=1e-8)


def test_welch_p_matches_the_textbook_formula():
    # Welch: t = (ma - mb) / sqrt(va/na + vb/nb), df by Welch-Satterthwaite; two-sided p.
    from scipy.stats import t as student_t
    a, b = [10.0, 11.0, 12.0], [12.0, 14.0, 16.0, 15.0]
    ma, mb = sum(a) / 3, sum(b) / 4
    va = sum((x - ma) ** 2 for x in a) / 2
    vb = sum((x - mb) ** 2 for x in b) / 3
    se2 = va / 3 + vb / 4
    t = (ma - mb) / math.sqrt(se2)
    df = se2 ** 2 / ((va / 3) ** 2 / 2 + (vb / 4) ** 2 / 3)
    assert stats.welch_p(a, b) == pytest.approx(2 * student_t.sf(abs(t), df), rel=1e-10)
    assert math.isnan(stats.welch_p([1.0], [2.0, 3.0]))          # one seed: nothing to test
    assert stats.welch_p([5.0, 5.0], [5.0, 5.0]) == 1.0           # identical, no spread: a tie
    assert stats.welch_p([5.0, 5.0], [6.0, 6.0]) == 0.0           # different, no spread


def _entries(**times):
    return [{"framework": f, "label": f.title(), "train_time_values": v, "n_ok": len(v),
             "train_time_s": sum(v) / len(v), "train_images_per_s": 100.0, "test_accuracy": 0.9,
             "speedup_vs_slowest": 1.0, "smoke": False} for f, v in times.items()]


def test_ranking_calls_fastest_only_when_welch_separates_it_from_every_other():
    from alexbench.reporting import ranking
    clear = _entries(gluon=[10.0, 10.2, 9.9], pytorch=[20.0, 20.5, 19.8], keras=[30.0, 30.1, 29.7])
    verdict = ranking.annotate(clear)
    assert verdict["status"] == "fastest" and verdict["fastest"] == "gluon"
    assert clear[1]["claim"] == "slower than Gluon (p < 0.001)"
    # The demo case: PyTorch's seeds at 49.0, 27.7 and 36.0 s overlap Gluon's.
    overlap = _entries(gluon=[30.1, 31.5, 29.0], pytorch=[49.0, 27.7, 36.0])
    verdict = ranking.annotate(overlap)
    assert verdict["status"] == "tied" and verdict["fastest"] is None and verdict["tied_with"] == ["pytorch"]
    assert overlap[0]["claim"].startswith("tied with Pytorch (p = 0.")
    workload = {"ranking": overlap, **verdict}
    text = ranking.sentence(workload)
    assert "tied with Pytorch" in text and "fastest" not in text
    assert "over 3 seeds, 27.7–49.0 s" in text   # the spread, not only the mean
    single = _entries(gluon=[10.0], pytorch=[20.0, 21.0])
    verdict = ranking.annotate(single)
    assert verdict["status"] == "single"
    assert ranking.sentence({"ranking": single, **verdict}).startswith("single run, no ranking claim")


def test_mean_ci_of_a_known_triple_matches_hand_computation():
    result = stats.mean_ci([0.990, 0.992, 0.994])
    # mean 0.992; sd = sqrt((0.002^2 + 0 + 0.002^2) / 2) = 0.002; half = t(0.975, 2) * 0.002 / sqrt(3)
    half = 4.302652729911275 * 0.002 / math.sqrt(3)
    assert result.n == 3
    assert result.mean == pytest.approx(0.992, abs=1e-12)
    assert result.sd == pytest.approx(0.002, rel=1e-9)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.992 - half, 0.992 + half), rel=1e-9)


def test_mean_ci_of_one_seed_has_no_spread_and_drops_missing_values():
    single = stats.mean_ci([0.5, None, float("nan")])
    assert single.n == 1 and single.mean == 0.5
    assert math.isnan(single.sd) and math.isnan(single.ci_low) and math.isnan(single.ci_high)
    assert stats.mean_ci([]).n == 0


# --- tables from the fixture matrix -----------------------------------------------------------

def test_performance_csv_has_one_row_per_expected_run_with_status(built_report):
    perf = pd.read_csv(built_report.results / "performance.csv")
    assert len(perf) == 20
    assert perf["status"].value_counts().to_dict() == {"ok": 18, "failed": 1, "diverged": 1}
    failed = perf[perf["status"] == "failed"].iloc[0]
    assert (failed["framework"], failed["hardware"], failed["seed"]) == ("gluon", "gpu", 2)
    assert "CUDA out of memory" in failed["failure_reason"]
    diverged = perf[perf["status"] == "diverged"].iloc[0]
    assert (diverged["framework"], diverged["hardware"], diverged["seed"]) == ("pytorch", "cpu", 1)
    assert diverged["epochs_completed"] == 3
    # Every metrics.json field flattened with dotted names; lists as JSON strings.
    for column in ("versions.framework_detail.tensorflow", "device.name", "settings.optimizer.rho",
                   "throughput.train_images_per_s", "test.accuracy", "memory.peak_rss_mb",
                   "time_to_target_s", "timing_definition", "started_at"):
        assert column in perf.columns, column
    keras0 = perf[perf["run_id"] == "keras-mnist-alexnet-mnist-gpu-fp32-seed0"].iloc[0]
    metrics = run_contract.read_metrics(built_report.matrix.root / "results/runs/keras/mnist/"
                                        "alexnet-mnist/gpu/fp32/seed0/metrics.json")
    assert json.loads(keras0["epoch_times_s"]) == metrics["epoch_times_s"]
    assert keras0["train_time_s"] == metrics["train_time_s"]
    assert keras0["device.name"] == GPU_NAME
    # Integers stay integers next to a failed run's empty cells.
    text = (built_report.results / "performance.csv").read_text()
    assert ",12,32,adadelta," in text and ",12.0,32.0," not in text


def test_summary_statistics_match_hand_computed_values(built_report):
    summary = pd.read_csv(built_report.results / "summary.csv")
    row = summary[(summary["experiment"] == "S0") & (summary["framework"] == "keras")
                  & (summary["hardware"] == "gpu")].iloc[0]
    # keras/gpu epoch times: 40 s x (1 + 0.02 * noise), first epoch x 1.15, noise 0, +1, -1 per seed.
    times = [round(40 * (1 + 0.02 * n) * 1.15, 3) + 11 * round(40 * (1 + 0.02 * n), 3) for n in (0, 1, -1)]
    mean = sum(times) / 3
    sd = math.sqrt(sum((t - mean) ** 2 for t in times) / 2)
    half = 4.302652729911275 * sd / math.sqrt(3)
    assert (row["n_runs"], row["n_ok"], row["n_failed"], row["n_diverged"]) == (3, 3, 0, 0)
    assert row["train_time_s_mean"] == pytest.approx(mean, rel=1e-6)
    assert row["train_time_s_sd"] == pytest.approx(sd, rel=1e-6)
    assert row["train_time_s_ci95_low"] == pytest.approx(mean - half, rel=1e-6)
    assert row["train_time_s_ci95_high"] == pytest.approx(mean + half, rel=1e-6)
    assert row["test_accuracy_mean"] == pytest.approx((0.9925 + 0.9930 + 0.9920) / 3)
    # Failed and diverged seeds are counted, not averaged.
    gluon_gpu = summary[(summary["framework"] == "gluon") & (summary["hardware"] == "gpu")
                        & (summary["experiment"] == "S0")].iloc[0]
    assert (gluon_gpu["n_runs"], gluon_gpu["n_ok"], gluon_gpu["n_failed"]) == (3, 2, 1)
    assert gluon_gpu["test_accuracy_mean"] == pytest.approx((0.9915 + 0.9920) / 2)
    torch_cpu = summary[(summary["framework"] == "pytorch") & (summary["hardware"] == "cpu")].iloc[0]
    assert (torch_cpu["n_ok"], torch_cpu["n_diverged"], str(torch_cpu["seeds"])) == (2, 1, "0 2")
    single = summary[summary["experiment"] == "S3"].iloc[0]
    assert single["n_ok"] == 1 and math.isnan(single["test_accuracy_sd"])


def test_markdown_table_follows_the_s0_readme_columns(built_report):
    md = (built_report.results / "performance.md").read_text()
    lines = md.splitlines()
    header = ("| # | Framework | Framework version | Python version | Hardware | Precision | Seed | Status | "
              "Training time (s) | Test loss | Test accuracy | Throughput (images/s) | Epochs | Parameters |")
    assert lines.count(header) == 2  # one table per experiment (S0, S3)
    assert "## S0: Keras, MNIST 28x28 (alexnet-mnist)" in lines
    assert (f"| 1 | Keras | keras 3.15.1, tensorflow 2.21.0 | 3.11.9 | {CPU_NAME} | fp32 | 0 | ok | 4981.5 | "
            "0.0310 | 0.9925 | 146.3 | 12 | 1,890,890 |") in lines
    # The failed run keeps its row: identity and status, no figures.
    assert "| 15 | MXNet Gluon |  |  | gpu | fp32 | 2 | failed |  |  |  |  |  |  |" in lines
    assert any("| PyTorch | torch 2.13.0 | 3.11.9 |" in ln and "| diverged |" in ln and "| 3 |" in ln
               for ln in lines)
    rows = [ln for ln in lines if re.match(r"\| \d+ \|", ln)]
    assert len(rows) == 20


def test_top5_column_only_where_an_experiment_reports_top5():
    from alexbench.reporting import tables
    s4 = pd.DataFrame([{"framework": f, "seed": 0, "status": "ok", "hardware": "cpu",
                        "test.accuracy": 0.5, "test.top5_accuracy": t5}
                       for f, t5 in (("pytorch", 0.81), ("keras", 0.8), ("gluon", 0.79))])
    headers = [h for h, _ in tables.table_columns(s4)]
    assert headers.index("Test top-5 accuracy") == headers.index("Test accuracy") + 1
    assert [tables.TOP5_COLUMN[1](r) for _, r in s4.iterrows()] == ["0.8100", "0.8000", "0.7900"]
    s0 = s4.assign(**{"test.top5_accuracy": None})
    assert "Test top-5 accuracy" not in [h for h, _ in tables.table_columns(s0)]


def test_html_table_is_the_same_table(built_report):
    page = (built_report.results / "performance.html").read_text()
    assert page.count("<tr data-run=") == 20
    assert page.count("<table") == 2
    assert ">Training time (s)</th>" in page and ">4981.5</td>" in page
    assert "http" not in page  # standalone: nothing fetched


def test_without_allow_missing_a_missing_run_stops_aggregation_naming_it(run_matrix):
    proc = run_in_env("report", aggregate_args(run_matrix), check=False)
    assert proc.returncode == 1
    assert "gluon/mnist/alexnet-mnist/gpu/fp32/seed2/metrics.json is missing" in proc.stderr
    assert "--allow-missing" in proc.stderr
    assert not (run_matrix.root / "results" / "performance.csv").exists()


def test_allow_missing_lists_failed_and_missing_runs_with_reasons(run_matrix):
    results = run_matrix.root / "results"
    # A run whose job never started (no folder at all), and one that crashed leaving only its log.
    never_ran = run_dir_for(results / "runs", "keras", "mnist", "alexnet-mnist", "cpu", 7)
    log_only = run_dir_for(results / "runs", "pytorch", "mnist", "alexnet-mnist", "gpu", 7)
    write_failed_log(log_only, "cuDNN error: CUDNN_STATUS_INTERNAL_ERROR")
    # The harness's own refusal: an ERROR record and exit status 3, no traceback.
    no_gpu = run_dir_for(results / "runs", "gluon", "mnist", "alexnet-mnist", "gpu", 7)
    harness_log = log_for(no_gpu)
    harness_log.parent.mkdir(parents=True, exist_ok=True)
    harness_log.write_text("2025-11-25 10:00:00,123 INFO threads: 2\n2025-11-25 10:00:00,456 ERROR "
                           "no GPU visible: nvidia-smi -L and /proc/driver/nvidia list none\n")
    # A log without any error (job killed before it wrote one) leaves the run 'missing'.
    quiet = run_dir_for(results / "runs", "keras", "mnist", "alexnet-mnist", "gpu", 7)
    log_for(quiet).parent.mkdir(parents=True, exist_ok=True)
    log_for(quiet).write_text("2025-11-25 10:00:00,123 INFO threads: 2\n")
    run_matrix.run_dirs += [never_ran, log_only, no_gpu, quiet]
    run_matrix.config["experiments"]["S0"]["seeds"].append(7)
    run_matrix.config_path.write_text(json.dumps(run_matrix.config))
    run_in_env("report", aggregate_args(run_matrix, "--allow-missing"))
    perf = pd.read_csv(results / "performance.csv").set_index("run_id")
    assert len(perf) == 24
    assert perf.loc["gluon-mnist-alexnet-mnist-gpu-fp32-seed7", "status"] == "failed"
    assert "ERROR no GPU visible" in perf.loc["gluon-mnist-alexnet-mnist-gpu-fp32-seed7", "failure_reason"]
    assert perf.loc["keras-mnist-alexnet-mnist-gpu-fp32-seed7", "status"] == "missing"
    assert "no error in" in perf.loc["keras-mnist-alexnet-mnist-gpu-fp32-seed7", "failure_reason"]
    assert perf.loc["keras-mnist-alexnet-mnist-cpu-fp32-seed7", "status"] == "missing"
    assert "never ran" in perf.loc["keras-mnist-alexnet-mnist-cpu-fp32-seed7", "failure_reason"]
    assert perf.loc["keras-mnist-alexnet-mnist-cpu-fp32-seed7", "experiment"] == "S0"
    assert perf.loc["pytorch-mnist-alexnet-mnist-gpu-fp32-seed7", "status"] == "failed"
    assert "RuntimeError: cuDNN error" in perf.loc["pytorch-mnist-alexnet-mnist-gpu-fp32-seed7", "failure_reason"]
    assert perf.loc["gluon-mnist-alexnet-mnist-gpu-fp32-seed2", "status"] == "failed"
    md = (results / "performance.md").read_text()
    assert md.count("| missing |") == 2 and md.count("| failed |") == 3


@pytest.mark.parametrize("allow_missing", [False, True])
def test_a_metrics_file_breaking_the_schema_stops_aggregation_naming_file_and_field(run_matrix, allow_missing):
    bad = run_matrix.run_dirs[4] / "metrics.json"
    doc = json.loads(bad.read_text())
    doc["test"]["accuracy"] = 1.7
    bad.write_text(json.dumps(doc))
    proc = run_in_env("report", aggregate_args(run_matrix, *(["--allow-missing"] if allow_missing else [])),
                      check=False)
    assert proc.returncode == 1
    assert str(bad) in proc.stderr and "$.test.accuracy" in proc.stderr
    assert not (run_matrix.root / "results" / "performance.csv").exists()


def test_a_metrics_file_in_the_wrong_folder_is_rejected(tmp_path):
    runs_root = tmp_path / "results" / "runs"
    run_dir = write_run(runs_root, "keras", seed=0)
    moved = run_dir_for(runs_root, "keras", "mnist", "alexnet-mnist", "cpu", 5)
    run_dir.rename(moved)
    entry = run_table.TableEntry(fixture_identity(moved), moved, log_for(moved), True)
    with pytest.raises(ValueError, match=r"seed5/metrics.json: field run says .*'seed': 0"):
        runs.read_run(entry)


def test_a_bf16_run_in_an_fp32_folder_is_rejected(tmp_path):
    run_dir = write_run(tmp_path / "results" / "runs", "keras", seed=0, precision="bf16")
    moved = run_dir_for(tmp_path / "results" / "runs", "keras", "mnist", "alexnet-mnist", "cpu", 0)
    moved.parent.mkdir(parents=True)
    run_dir.rename(moved)
    entry = run_table.TableEntry(fixture_identity(moved), moved, log_for(moved), True)
    with pytest.raises(ValueError, match=r"fp32/seed0/metrics.json: field run says .*'precision': 'bf16'"):
        runs.read_run(entry)


# --- claims ----------------------------------------------------------------------------------

def _claims_csv(built_report):
    return pd.read_csv(built_report.results / "claims.csv")


def _verdict(frame, **where):
    sel = frame
    for key, value in where.items():
        sel = sel[sel[key] == value]
    assert len(sel) == 1, where
    return sel.iloc[0]


def test_claim_verdicts_on_the_fixture_matrix(built_report):
    frame = _claims_csv(built_report)
    # S0's claim names keras only: no gluon/pytorch rows; one row per hardware and metric.
    assert set(frame[frame["experiment"] == "S0"]["framework"]) == {"keras"}
    assert len(frame[frame["experiment"] == "S0"]) == 2 * 3
    # D has published claims but no run in this matrix: not listed at all.
    assert set(frame["experiment"]) == {"S0", "S3"}
    acc = _verdict(frame, experiment="S0", hardware="gpu", metric="test_accuracy")
    assert acc["verdict"] == "reproduced" and acc["measured"] == pytest.approx(0.9925)
    time_gpu = _verdict(frame, experiment="S0", hardware="gpu", metric="train_time_s")
    assert time_gpu["verdict"] == "reproduced" and "tolerance ±25%" in time_gpu["reason"]
    time_cpu = _verdict(frame, experiment="S0", hardware="cpu", metric="train_time_s")
    assert time_cpu["verdict"] == "not comparable"
    assert time_cpu["reason"] == f"different hardware: published on {GPU_NAME}, measured on {CPU_NAME}"
    # Accuracy does not depend on the device: comparable on the CPU too.
    assert _verdict(frame, experiment="S0", hardware="cpu", metric="test_accuracy")["verdict"] == "reproduced"
    # S3 published after epoch 9 of 10: read from history.csv at epoch 9.
    s3_acc = _verdict(frame, experiment="S3", metric="test_accuracy")
    history = run_contract.read_history(built_report.results / "runs/gluon/cifar10/alexnet-224/gpu/fp32/seed0/history.csv")
    assert s3_acc["measured"] == pytest.approx(history[8]["val_accuracy"])
    assert s3_acc["verdict"] == "reproduced" and "epoch 9" in s3_acc["reason"]
    s3_train = _verdict(frame, experiment="S3", metric="train_accuracy")
    assert s3_train["verdict"] == "not reproduced" and "> 0.02" in s3_train["reason"]
    s3_time = _verdict(frame, experiment="S3", metric="epoch_time_s")
    assert s3_time["verdict"] == "not comparable" and "did not state its hardware" in s3_time["reason"]


def _one_workload(tmp_path, claim, tolerance=None, **run_kwargs):
    runs_root = tmp_path / "results" / "runs"
    published = {"reference": "test", "claims": [claim], "tolerance": tolerance or {}}
    config = base_config({"S0": experiment("t", ["keras"], "alexnet-mnist", "mnist", ["gpu"], [0, 1], 12,
                                           published, "S0")})
    failed = run_kwargs.pop("failed_seeds", ())
    dirs = [write_run(runs_root, "keras", hardware="gpu", seed=s,
                      failed="boom" if s in failed else None, **run_kwargs) for s in (0, 1)]
    collected = runs.collect_runs(write_run_table(dirs), allow_missing=True)
    return claims.evaluate_claims(config, collected)


GPU_CLAIM = {"framework": "keras", "hardware": GPU_NAME, "epochs": 12,
             "dataset": "mnist", "model": "alexnet-mnist", "batch_size": 32,
             "metrics": {"test_accuracy": 0.99, "train_images_per_s": 1500.0}}


def test_claims_of_a_smoke_run_are_not_comparable(tmp_path):
    verdicts = _one_workload(tmp_path, GPU_CLAIM, smoke=True)
    assert {v.verdict for v in verdicts} == {"not comparable"}
    assert all(v.reason.startswith("smoke run") for v in verdicts)


def test_claims_after_more_epochs_than_trained_are_not_comparable(tmp_path):
    verdicts = _one_workload(tmp_path, GPU_CLAIM, epochs=10)
    acc = [v for v in verdicts if v.metric == "test_accuracy"][0]
    assert acc.verdict == "not comparable"
    assert acc.reason == "fewer epochs: run trained 10, published after 12"


def test_claims_of_failed_runs_are_not_comparable(tmp_path):
    verdicts = _one_workload(tmp_path, GPU_CLAIM, failed_seeds=(0, 1))
    assert {v.verdict for v in verdicts} == {"not comparable"}
    assert all(v.reason.startswith("run failed: seed 0: failed (RuntimeError: boom)") for v in verdicts)
    assert all(v.measured is None for v in verdicts)


def test_claims_of_diverged_runs_are_not_comparable(tmp_path):
    verdicts = _one_workload(tmp_path, GPU_CLAIM, status="diverged", epochs_completed=4)
    assert {v.verdict for v in verdicts} == {"not comparable"}
    assert "seed 1: diverged after 4 epochs" in verdicts[0].reason


def test_claim_tolerances_absolute_for_accuracy_relative_for_throughput(tmp_path):
    # Seeds 0 and 1: accuracy 0.9925 and 0.9930; throughput 1500.0 and 1470.59 images/s.
    tolerance = {"test_accuracy": 0.005, "train_images_per_s": 0.25}
    near = dict(GPU_CLAIM, metrics={"test_accuracy": 0.99275 + 0.0049, "train_images_per_s": 1485.3 * 1.3})
    far = dict(GPU_CLAIM, metrics={"test_accuracy": 0.99275 + 0.0051, "train_images_per_s": 1485.3 * 1.36})
    v_near = {v.metric: v for v in _one_workload(tmp_path / "a", near, tolerance)}
    v_far = {v.metric: v for v in _one_workload(tmp_path / "b", far, tolerance)}
    assert v_near["test_accuracy"].measured == pytest.approx(0.99275)
    assert v_near["test_accuracy"].verdict == "reproduced"            # 0.0049 <= 0.005, absolute
    assert v_far["test_accuracy"].verdict == "not reproduced"         # 0.0051 > 0.005
    assert v_near["train_images_per_s"].verdict == "reproduced"       # -23% of published, within 25%
    assert v_far["train_images_per_s"].verdict == "not reproduced"    # -26.5%
    assert "-26%" in v_far["train_images_per_s"].reason or "−26%" in v_far["train_images_per_s"].reason


def test_device_names_match_loosely_but_not_across_models():
    assert claims.same_device("Tesla V100", "Tesla V100-SXM2-16GB")
    assert claims.same_device("NVIDIA GeForce MX250", "GeForce MX250")
    assert not claims.same_device("NVIDIA GeForce MX250", "NVIDIA GeForce RTX 3090")
    assert not claims.same_device("Tesla V100", "Tesla V1000")


# --- plots -----------------------------------------------------------------------------------

def _has_colour(png, hex_colour, tolerance=12):
    target = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    colours = Image.open(png).convert("RGB").getcolors(maxcolors=1 << 16)
    return any(all(abs(c - t) <= tolerance for c, t in zip(rgb, target)) and n > 20 for n, rgb in colours)


# One axis label (with its unit) each comparison plot must carry; SVG keeps text as text.
AXIS_LABELS = {"train_time": "Training time (s)", "throughput": "Training throughput (images/s)",
               "test_accuracy": "Test accuracy", "accuracy_vs_time": "Training time (s)",
               "learning_curves": "Validation accuracy"}


def test_comparison_plots_exist_with_one_colour_per_framework(built_report):
    out = built_report.results / "plots" / "comparison"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in plots.COMPARISON_PLOTS for ext in ("png", "svg"))
    for stem in plots.COMPARISON_PLOTS:
        png = out / f"{stem}.png"
        width, height = Image.open(png).size
        assert 300 < width < 1400 and 200 < height < 1000, (stem, width, height)
        for framework, colour in plots.FRAMEWORK_COLOURS.items():
            assert _has_colour(png, colour), f"{stem}.png lacks {framework}'s colour {colour}"
        svg = (out / f"{stem}.svg").read_text()
        assert AXIS_LABELS[stem] in svg, f"{stem}.svg: axis label {AXIS_LABELS[stem]!r} missing"


def test_plot_run_cli_draws_accuracy_and_loss(built_report, tmp_path):
    run_dir = built_report.matrix.diverged
    out = tmp_path / "curves.png"
    run_in_env("report", ["workflow/scripts/plot_run.py", "--run-dir", run_dir, "--out", out])
    image = Image.open(out)
    assert image.size[0] > 500 and image.size[1] > 200
    assert out.stat().st_size < 60_000
    proc = run_in_env("report", ["workflow/scripts/plot_run.py", "--run-dir", built_report.matrix.failed,
                                 "--out", tmp_path / "none.png"], check=False)
    assert proc.returncode == 1 and "metrics.json" in proc.stderr
    assert not (tmp_path / "none.png").exists()


# --- report.html -----------------------------------------------------------------------------

def test_report_is_self_contained_and_small(built_report):
    page = built_report.report.read_text()
    size = built_report.report.stat().st_size
    print(f"report.html for a 20-run matrix: {size / 1024:.0f} kB")
    assert size < REPORT_SIZE_LIMIT_BYTES
    # No external reference of any kind: every image inline, no links/scripts/styles fetched.
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page)
    assert "@import" not in page and "url(" not in page
    # Only the comparison plots are images; each run's curves are drawn in the page from its
    # own numbers (one JSON block), so the page grows by a few hundred bytes per run, not a PNG.
    assert page.count('src="data:image/png;base64,') == len(plots.COMPARISON_PLOTS)
    curves = json.loads(re.search(r'<script type="application/json" id="run-curves">(.*?)</script>',
                                  page, re.S).group(1))
    history = run_contract.read_history(built_report.results / "runs/keras/mnist/alexnet-mnist/gpu/fp32/seed0/history.csv")
    assert curves["keras-mnist-alexnet-mnist-gpu-fp32-seed0"]["val_accuracy"] == [round(r["val_accuracy"], 5) for r in history]
    assert len(curves) == 20  # the failed run keeps the two epochs it logged
    assert page.count('<details class="experiment"') == 2  # S0 and S3, collapsed
    # One table row and one details section per run, linked by anchor.
    assert page.count("<tr data-run=") == 20
    for run_dir in built_report.matrix.run_dirs:
        anchor = f"run-{fixture_identity(run_dir).run_id}"
        assert f'id="{anchor}"' in page and f'href="#{anchor}"' in page


def test_report_headline_names_the_fastest_framework_per_workload(built_report):
    page = built_report.report.read_text()
    headline = page[page.index('<section id="headline">'):page.index('<section id="runs">')]
    rows = re.findall(r"<tr>(.*?)</tr>", headline, re.S)
    fastest = [r for r in rows if "(fastest)" in r]
    # S0 cpu and S0 gpu: PyTorch's fixture epoch times are clearly the smallest (2% seed noise);
    # S3 has one seed per framework: no ranking claim.
    assert len(fastest) == 2
    assert "PyTorch (fastest)" in fastest[0] and "PyTorch (fastest)" in fastest[1]
    assert "4,330.3" in fastest[0]  # mean of the two ok pytorch cpu seeds; the diverged one is left out
    assert "fastest (p ≤ 0.003 against every other)" in fastest[0] and "Welch&#39;s t-test" in headline
    answers = headline[:headline.index("<table")]
    assert "single run, no ranking claim" in answers
    assert " seeds, " in answers  # the spread in the sentence


def test_performance_md_states_the_ranking_and_its_test(built_report):
    md = (built_report.results / "performance.md").read_text()
    assert "Ranking (Welch's t-test on per-seed training time, p < 0.05):" in md
    assert "PyTorch is fastest:" in md and "single run, no ranking claim" in md


def test_claims_list_every_mismatch_with_the_run(tmp_path):
    # S0's claim is on MNIST: an S0 run overridden to Fashion-MNIST with batch 64 in bf16 is not
    # comparable, for each reason, even for accuracy.
    runs_root = tmp_path / "results" / "runs"
    claim = dict(GPU_CLAIM, precision="fp32")
    config = base_config({"S0": experiment("t", ["keras"], "alexnet-mnist", "fashion_mnist", ["gpu"], [0], 12,
                                           {"reference": "t", "claims": [claim], "tolerance": {}}, "S0")})
    run_dir = write_run(runs_root, "keras", dataset="fashion_mnist", hardware="gpu", seed=0,
                        precision="bf16")
    metrics = run_contract.read_metrics(run_dir / "metrics.json")
    metrics["settings"].update(batch_size=64)
    run_contract.write_metrics(run_dir, metrics)
    verdicts = claims.evaluate_claims(config, runs.collect_runs(write_run_table([run_dir], experiment="S0")))
    acc = [v for v in verdicts if v.metric == "test_accuracy"][0]
    assert acc.verdict == "not comparable"
    assert acc.reason == ("different dataset: published with mnist, run with fashion_mnist; "
                          "different batch size: published with 32, run with 64; "
                          "different precision: published with fp32, run with bf16")
    # Trained 12 epochs on the claim's dataset and settings: comparable again.
    ok_dir = write_run(tmp_path / "b" / "results" / "runs", "keras", hardware="gpu", seed=0)
    config["experiments"]["S0"]["dataset"] = "mnist"
    verdicts = claims.evaluate_claims(config, runs.collect_runs(write_run_table([ok_dir])))
    assert [v for v in verdicts if v.metric == "test_accuracy"][0].verdict == "reproduced"


def test_report_provenance_and_claims(built_report):
    page = built_report.report.read_text()
    prov = page[page.index('<section id="provenance">'):]
    assert "9.27.1" in prov
    assert "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609" in prov
    assert "2.21.0" in prov and "1.9.1" in prov and "2.13.0" in prov
    assert re.search(r"Git commit</td><td><code>([0-9a-f]{40}|unknown)</code>", prov)
    claims_html = page[page.index('<section id="claims">'):page.index('<section id="plots">')]
    for verdict in ("reproduced", "not-reproduced", "not-comparable"):
        assert f'class="verdict-{verdict}"' in claims_html


def test_make_report_refuses_a_stale_performance_table(built_report, tmp_path):
    results = built_report.results
    matrix = built_report.matrix
    args = ["workflow/scripts/make_report.py", "--config", matrix.config_path,
            "--performance", results / "performance.csv", "--summary", results / "summary.csv",
            "--plots-dir", results / "plots"]
    args += ["--runs", write_run_table(matrix.run_dirs[:-1], path=tmp_path / "runs.json")]
    proc = run_in_env("report", args + ["--out", tmp_path / "r.html"], check=False)
    assert proc.returncode == 1 and "only in the table: ['pytorch-cifar10-alexnet-224-gpu-fp32-seed0']" in proc.stderr
    assert not (tmp_path / "r.html").exists()


# --- Snakemake report captions -----------------------------------------------------------------

def test_snakemake_report_captions_render_as_one_sentence(repo):
    """Each caption renders the way Snakemake does it (Jinja2 with the job's wildcards, then
    docutils) without a warning, and is one sentence."""
    import docutils.core
    import jinja2

    class Wildcards:
        framework, dataset, model, hardware, seed = "keras", "mnist", "alexnet-mnist", "cpu", "0"

    captions = sorted((repo / "workflow" / "report").glob("*.rst"))
    assert {p.name for p in captions} >= {"run_curves.rst", "comparison.rst", "performance.rst",
                                          "summary.rst", "report.rst"}
    for path in captions:
        text = jinja2.Template(path.read_text()).render(snakemake=type("S", (), {"wildcards": Wildcards}))
        assert "{{" not in text
        parts = docutils.core.publish_parts(text, writer="html",
                                            settings_overrides={"report_level": 2, "halt_level": 2})
        assert parts["body"].count("<p>") == 1, path.name
        if path.name != "workflow.rst":
            assert text.strip().count(". ") == 0 and text.strip().endswith("."), f"{path.name}: one sentence"
    assert "keras training alexnet-mnist on mnist (cpu, seed 0)" in jinja2.Template(
        (repo / "workflow/report/run_curves.rst").read_text()).render(snakemake=type("S", (), {"wildcards": Wildcards}))


def test_claims_of_a_subset_run_are_not_comparable_and_its_rows_say_subset(tmp_path):
    runs_root = tmp_path / "results" / "runs"
    published = {"reference": "test", "claims": [GPU_CLAIM], "tolerance": {}}
    config = base_config({"S0": experiment("t", ["keras"], "alexnet-mnist", "mnist", ["gpu"], [0, 1], 12,
                                           published, "S0")})
    dirs = [write_run(runs_root, "keras", hardware="gpu", seed=s) for s in (0, 1)]
    for run_dir in dirs:  # trained on a config `subset`, as workflow_config passes it on
        path = run_dir / "metrics.json"
        metrics = json.loads(path.read_text())
        metrics["subset"] = {"train": 12000, "test": 2000}
        path.write_text(json.dumps(metrics))
    collected = runs.collect_runs(write_run_table(dirs), allow_missing=True)
    verdicts = claims.evaluate_claims(config, collected)
    assert {v.verdict for v in verdicts} == {"not comparable"}
    assert all(v.reason.startswith("subset run") for v in verdicts)
    perf = tables.performance_frame(collected)
    assert [dict(tables.TABLE_COLUMNS)["Status"](row) for _, row in perf.iterrows()] == ["ok (subset)"] * 2
    assert tables.summary_frame(perf)["subset"].tolist() == [True]


def test_runs_in_deterministic_mode_are_labelled(tmp_path):
    runs_root = tmp_path / "results" / "runs"
    dirs = [write_run(runs_root, "keras", seed=s) for s in (0, 1)]
    path = dirs[0] / "metrics.json"  # seed 0 opted into deterministic mode, seed 1 did not
    metrics = json.loads(path.read_text())
    metrics["settings"]["deterministic"] = True
    path.write_text(json.dumps(metrics))
    perf = tables.performance_frame(runs.collect_runs(write_run_table(dirs), allow_missing=True))
    status = dict(tables.TABLE_COLUMNS)["Status"]
    assert sorted(status(row) for _, row in perf.iterrows()) == ["ok", "ok (deterministic)"]


def test_keras_runs_on_the_system_allocator_are_labelled(tmp_path):
    # Only TensorFlow reads tf_allocator: a PyTorch run that records it is not labelled.
    runs_root = tmp_path / "results" / "runs"
    dirs = [write_run(runs_root, framework, seed=s)
            for framework in ("keras", "pytorch") for s in (0, 1)]
    for folder in (dirs[0], dirs[2]):  # seed 0 of each chose the system allocator
        path = folder / "metrics.json"
        metrics = json.loads(path.read_text())
        metrics["settings"]["tf_allocator"] = "system"
        path.write_text(json.dumps(metrics))
    perf = tables.performance_frame(runs.collect_runs(write_run_table(dirs), allow_missing=True))
    status = dict(tables.TABLE_COLUMNS)["Status"]
    labels = {(row["framework"], int(row["seed"])): status(row) for _, row in perf.iterrows()}
    assert labels == {("keras", 0): "ok (system allocator)", ("keras", 1): "ok",
                      ("pytorch", 0): "ok", ("pytorch", 1): "ok"}


def test_runs_compiled_by_xla_or_torch_compile_are_labelled(tmp_path):
    runs_root = tmp_path / "results" / "runs"
    dirs = [write_run(runs_root, framework, hardware="gpu", seed=s)
            for framework in ("keras", "pytorch") for s in (0, 1, 2)]
    compilers = ("tf.function + XLA", "tf.function", None, "torch.compile", "eager", None)
    for folder, compiler in zip(dirs, compilers):
        metrics = run_contract.read_metrics(folder / "metrics.json")
        metrics.pop("step_compiler", None)  # seed 2: a run from before it was recorded
        if compiler:
            metrics["step_compiler"] = compiler
        run_contract.write_metrics(folder, metrics)
    perf = tables.performance_frame(runs.collect_runs(write_run_table(dirs), allow_missing=True))
    status = dict(tables.TABLE_COLUMNS)["Status"]
    labels = {(row["framework"], int(row["seed"])): status(row) for _, row in perf.iterrows()}
    assert labels == {("keras", 0): "ok (XLA)", ("keras", 1): "ok", ("keras", 2): "ok",
                      ("pytorch", 0): "ok (torch.compile)", ("pytorch", 1): "ok",
                      ("pytorch", 2): "ok"}


# --- energy ----------------------------------------------------------------------------------

def test_energy_column_and_plot_appear_when_a_run_has_a_counter(tmp_path):
    runs_root = tmp_path / "results" / "runs"
    config = base_config({"S0": experiment("t", ["keras", "pytorch"], "alexnet-mnist", "mnist", ["gpu"],
                                           [0], 12, None, "S0")})
    dirs = []
    for framework, joules in (("keras", 51234.4), ("pytorch", None)):
        run_dir = write_run(runs_root, framework, hardware="gpu", seed=0)
        metrics = run_contract.read_metrics(run_dir / "metrics.json")
        metrics["energy"] = {"joules": joules, "to_target_joules": None, "source": "nvml" if joules else None,
                             "scope": "the whole GPU 0 (NVIDIA H200), all processes on it" if joules else None,
                             "reason": None if joules else "NVML has no energy counter for this GPU: Not Supported"}
        run_contract.write_metrics(run_dir, metrics)
        dirs.append(run_dir)
    config_path = tmp_path / "results" / "config.json"
    config_path.write_text(json.dumps(config))
    results = tmp_path / "results"
    table = write_run_table(dirs)
    args = ["workflow/scripts/aggregate.py", "--config", config_path, "--runs", table]
    run_in_env("report", args + ["--performance", results / "performance.csv", "--summary", results / "summary.csv",
                                 "--markdown", results / "performance.md", "--html-table", results / "performance.html"])
    md = (results / "performance.md").read_text()
    assert "| Energy (J) |" in md and "| 51234 |" in md
    run_in_env("report", ["workflow/scripts/plot_comparisons.py", "--performance", results / "performance.csv",
                          "--config", config_path, "--runs", table,
                          "--out-dir", results / "comparison"])
    svg = (results / "comparison" / "energy_vs_accuracy.svg").read_text()
    assert "Energy of the training loop (J)" in svg
    assert _has_colour(results / "comparison" / "energy_vs_accuracy.png", plots.FRAMEWORK_COLOURS["keras"])


def test_no_energy_column_or_plot_without_a_counter(built_report):
    assert "Energy (J)" not in (built_report.results / "performance.md").read_text()
    assert not (built_report.results / "plots" / "comparison" / "energy_vs_accuracy.png").exists()


# --- the precision axis ----------------------------------------------------------------------------

def test_the_report_sets_bf16_beside_fp32_per_workload_and_framework(tmp_path):
    """D in Keras and PyTorch, two seeds, fp32 and bf16: bf16 epochs take half the time (so twice
    the images/s) at one point less accuracy. The summary and the ranking keep the precisions
    apart, the run table labels the bf16 rows, and the Precision section shows 2.00x and -1.00."""
    runs_root = tmp_path / "results" / "runs"
    run_dirs = []
    for framework in ("keras", "pytorch"):
        for precision, epoch_time, accuracy in (("fp32", 100.0, 0.90), ("bf16", 50.0, 0.89)):
            for seed in (0, 1):
                run_dirs.append(write_run(runs_root, framework, "fashion_mnist", "alexnet-d2l",
                                          "cpu", seed, experiment="D", source="D", epochs=3,
                                          epoch_time_s=epoch_time, accuracy=accuracy,
                                          precision=precision))
    config = base_config({})
    # What the demo leaves out on a CPU without bfloat16 (common.smk, precision_plan.apply)
    config["skipped_precisions"] = {"bf16 on gpu": "left out: bf16 needs native bfloat16 on the GPU"}
    config_path = tmp_path / "results" / "config.json"
    config_path.write_text(json.dumps(config))
    matrix = RunMatrix(tmp_path, config, config_path, run_dirs, None, None)
    results = tmp_path / "results"
    run_in_env("report", aggregate_args(matrix))
    perf = pd.read_csv(results / "performance.csv")
    assert sorted(perf["precision"].unique()) == ["bf16", "fp32"]
    assert "keras-fashion_mnist-alexnet-d2l-cpu-bf16-seed0" in set(perf["run_id"])
    summary = pd.read_csv(results / "summary.csv")
    assert len(summary) == 4 and set(summary["n_ok"]) == {2}  # never fp32 and bf16 seeds together
    md = (results / "performance.md").read_text()
    assert "- **CPU** bf16 (fashion_mnist, alexnet-d2l):" in md
    assert "| bf16 mixed |" in md and "| fp32 |" in md

    run_table = results / "runs.json"
    run_in_env("report", ["workflow/scripts/plot_comparisons.py", "--performance", results / "performance.csv",
                          "--config", config_path, "--runs", run_table,
                          "--out-dir", results / "plots" / "comparison"])
    report = results / "report.html"
    run_in_env("report", ["workflow/scripts/make_report.py", "--config", config_path,
                          "--performance", results / "performance.csv", "--summary", results / "summary.csv",
                          "--plots-dir", results / "plots", "--runs", run_table,
                          "--snakemake-version", "9.27.1", "--out", report])
    page = report.read_text()
    section = page[page.index('<section id="precision">'):]
    section = section[:section.index("</section>")]
    rows = re.findall(r"<tr><td>D<br>.*?</tr>", section, re.S)
    assert len(rows) == 2  # Keras and PyTorch
    for row in rows:
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert cells[3] == "bf16 mixed" and cells[6] == "2.00×"
        assert cells[7] == "0.9000" and cells[8] == "0.8900" and cells[9] == "-1.00"
    assert "bf16 on gpu: left out: bf16 needs native bfloat16 on the GPU" in section


def test_a_bf16_summary_row_without_an_fp32_twin_has_no_speed_up():
    from alexbench.reporting import precision
    assert precision.comparison(pd.DataFrame()) == []
    summary = pd.DataFrame([{"experiment": "D", "dataset": "d", "model": "m", "hardware": "cpu",
                             "framework": "keras", "precision": "bf16", "n_ok": 1, "smoke": True,
                             "train_images_per_s_mean": 10.0, "test_accuracy_mean": 0.5}])
    row, = precision.comparison(summary)  # bf16 without an fp32 twin: figures, no speed-up
    assert row["images_per_s"] == 10.0 and math.isnan(row["speedup"]) and row["fp32_n_ok"] == 0
