"""The training harness and the framework backends, for real, on tiny prepared data.

Each framework test calls workflow/scripts/train.py (or a probe driving the backend directly)
with that framework's venv interpreter: real PyTorch / Keras / Gluon, real files. The harness's
framework-free parts (settings, schedule, input pipeline) are tested in this process.
"""
import json
import signal
import subprocess
import time

import jsonschema
import numpy as np
import pytest

from alexbench.common import flops, hardware, prepared, run_contract
from alexbench.harness import peak, pipeline, schedule as schedules, settings as harness_settings
from conftest import REPO, env_python, run_in_env, run_json_in_env

TRAIN = REPO / "workflow" / "scripts" / "train.py"
PROBE = REPO / "tests" / "probes" / "train_one_step.py"
FRAMEWORKS = ["pytorch", "keras", "gluon"]
METRICS_SCHEMA = json.loads(run_contract.METRICS_SCHEMA.read_text())


def settings(**overrides):
    base = {"epochs": 2, "batch_size": 16, "validation": "test", "target_accuracy": None,
            "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
            "lr_schedule": None, "max_train_images": None, "max_test_images": None,
            "smoke": False, "save_weights": False}
    base.update(overrides)
    return base


def train_args(framework, data_dir, out_dir, run_settings, model="alexnet-mnist", seed=0,
               hardware_kind="cpu", peak_cache=None):
    return [TRAIN, "--framework", framework, "--model", model, "--dataset", "mnist",
            "--hardware", hardware_kind, "--seed", seed, "--experiment", "T", "--source", "S0",
            "--data-dir", data_dir, "--out-dir", out_dir, "--settings", json.dumps(run_settings),
            "--threads", 2, *(["--peak-cache", peak_cache] if peak_cache else [])]


def train(framework, data_dir, out_dir, run_settings, **kwargs):
    proc = run_in_env(f"{framework}-cpu", train_args(framework, data_dir, out_dir, run_settings,
                                                     **kwargs), timeout=240)
    return json.loads((out_dir / "metrics.json").read_text()), proc


# --- real training runs, one per framework ------------------------------------------------------

@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_two_epoch_run_writes_a_valid_run_contract(framework, prepared_data, tmp_path):
    data = prepared_data("mnist", 64, 32)
    out = tmp_path / "run"
    metrics, proc = train(framework, data, out,
                          settings(max_train_images=48, smoke=True, save_weights=True,
                                   target_accuracy=0.01), peak_cache=tmp_path / "peaks")
    jsonschema.Draft202012Validator(METRICS_SCHEMA).validate(metrics)
    assert run_contract.read_metrics(out / "metrics.json") == metrics
    assert metrics["status"] == "ok" and metrics["smoke"] is True
    assert metrics["run"] == {"experiment": "T", "source": "S0", "framework": framework,
                              "dataset": "mnist", "model": "alexnet-mnist", "hardware": "cpu",
                              "seed": 0}
    assert metrics["settings"]["train_images"] == 48          # max_train_images applied
    assert metrics["settings"]["val_images"] == metrics["settings"]["test_images"] == 32
    assert metrics["epochs_completed"] == 2 and len(metrics["epoch_times_s"]) == 2
    assert sum(metrics["epoch_times_s"]) <= metrics["train_time_s"]
    assert metrics["throughput"]["train_images_per_s"] > 0
    assert metrics["throughput"]["eval_images_per_s"] > 0
    assert 0 <= metrics["test"]["accuracy"] <= 1 and metrics["test"]["top5_accuracy"] is None
    assert metrics["device"]["threads"] == 2 and metrics["device"]["name"]
    assert metrics["versions"]["driver"] is None
    # target 0.01 is reached after the first epoch: its end is the time to target
    assert metrics["time_to_target_s"] == pytest.approx(metrics["epoch_times_s"][0], rel=0.05,
                                                        abs=0.05)
    assert metrics["memory"]["peak_rss_mb"] > 50 and metrics["memory"]["peak_gpu_mb"] is None
    # Model FLOP utilisation against this host's peak, measured once and cached.
    compute = metrics["compute"]
    assert compute["training_flops_per_image"] == flops.training_flops("alexnet-mnist", 10)
    assert compute["peak_source"] == "measured" and compute["peak_gflops"] > 1
    assert compute["achieved_gflops"] == pytest.approx(
        compute["training_flops_per_image"] * metrics["throughput"]["train_images_per_s"] / 1e9)
    assert compute["mfu"] == pytest.approx(compute["achieved_gflops"] / compute["peak_gflops"])
    assert len(list((tmp_path / "peaks").glob(f"*-{framework}-cpu-fp32-2t.json"))) == 1
    # Where the training batches' time went: inside the loop, never more than the loop.
    breakdown = metrics["time_breakdown"]
    assert breakdown["step_s"] > 0 and breakdown["data_wait_s"] >= 0
    assert breakdown["step_s"] + breakdown["data_wait_s"] <= metrics["train_time_s"]
    history = run_contract.read_history(out / "history.csv")
    assert [row["epoch"] for row in history] == [1, 2]
    assert [row["epoch_time_s"] for row in history] == metrics["epoch_times_s"]
    assert history[-1]["val_loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-4)
    assert (out / metrics["weights_file"]).stat().st_size > 1000
    freeze = (out / "env.txt").read_text()
    assert {"pytorch": "torch==", "keras": "keras==", "gluon": "mxnet=="}[framework] in freeze
    epoch_lines = [line for line in proc.stderr.splitlines() if " epoch " in line]
    assert len(epoch_lines) == 2 and "epoch 2/2 train_loss=" in epoch_lines[1]
    # Provenance: the commit the code came from and the checksums meta.json records.
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    assert metrics["provenance"]["git_commit"] == (head.stdout.strip() if head.returncode == 0 else "unknown")
    assert metrics["provenance"]["git_dirty"] in (True, False, None)
    meta_sources = json.loads((data / "meta.json").read_text())["sources"]
    assert metrics["provenance"]["inputs"] == meta_sources and len(meta_sources) == 4
    # Energy: RAPL where this machine exposes it, else null with the reason (never an estimate).
    joules, reason = metrics["energy"]["joules"], metrics["energy"]["reason"]
    assert (joules is not None and joules > 0 and reason is None) or (joules is None and reason)


def test_alexnet_2012_on_imagenette_like_data_publishes_top5(prepared_data, tmp_path):
    # The 60 M-parameter network at 227x227 with random crops and flips: PyTorch only (cost).
    data = prepared_data("imagenette", 16, 8)
    metrics, _ = train("pytorch", data, tmp_path / "run",
                       settings(epochs=1, batch_size=8, optimizer={
                           "name": "sgd", "learning_rate": 0.01, "momentum": 0.9,
                           "weight_decay": 0.0005},
                           lr_schedule={"name": "reduce_on_plateau", "factor": 0.1,
                                        "patience": 2}),
                       model="alexnet-2012")
    jsonschema.Draft202012Validator(METRICS_SCHEMA).validate(metrics)
    assert metrics["parameters"] > 50_000_000
    assert metrics["test"]["top5_accuracy"] >= metrics["test"]["accuracy"]
    assert metrics["settings"]["optimizer"]["weight_decay"] == 0.0005
    assert metrics["settings"]["lr_schedule"] == {"name": "reduce_on_plateau", "factor": 0.1,
                                                  "patience": 2}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_same_seed_gives_identical_results_and_another_seed_does_not(framework, prepared_data,
                                                                     tmp_path):
    data = prepared_data("mnist", 64, 32)
    # Deterministic mode: the promise is exact repetition (the default fast path is seeded too,
    # but does not promise it).
    run_settings = settings(validation="holdout:0.25", deterministic=True)
    first, _ = train(framework, data, tmp_path / "a", run_settings)
    again, _ = train(framework, data, tmp_path / "b", run_settings)
    other, _ = train(framework, data, tmp_path / "c", run_settings, seed=1)
    assert first["settings"]["train_images"] == 48 and first["settings"]["val_images"] == 16

    def results(metrics, run):
        history = run_contract.read_history(run / "history.csv")
        return ([(r["train_loss"], r["train_accuracy"], r["val_loss"], r["val_accuracy"])
                 for r in history], metrics["test"])

    assert results(first, tmp_path / "a") == results(again, tmp_path / "b")
    assert results(first, tmp_path / "a") != results(other, tmp_path / "c")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_one_step_lowers_the_loss_and_snapshot_restore_undoes_a_step(framework, prepared_data):
    data = prepared_data("mnist", 64, 32)
    result = run_json_in_env(f"{framework}-cpu", [
        PROBE, "--framework", framework, "--data-dir", data, "--model", "alexnet-lrn-32",
        "--settings", json.dumps(settings(optimizer={"name": "sgd", "learning_rate": 0.05}))],
        timeout=240)
    assert result["framework"] == framework
    assert result["loss_after_step"] < result["loss_before"]
    assert result["loss_after_warmup"] != result["loss_before"]   # the warm-up step did change it
    assert result["loss_restored"] == pytest.approx(result["loss_before"], rel=1e-6)
    assert result["top1"] <= result["top5"] <= result["batch"]
    assert result["lr"] == pytest.approx(0.05) and result["lr_after_set"] == pytest.approx(0.005)
    assert "'gpu' run was requested" in result["gpu"]   # the backend refuses too, not only the harness
    assert result["peak_gpu_mb"] is None


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_exploding_learning_rate_stops_the_run_as_diverged(framework, prepared_data, tmp_path):
    # Plain SGD at 1e12 sends the weights to inf within a couple of steps, so the loss is NaN.
    data = prepared_data("mnist", 64, 32)
    out = tmp_path / "run"
    metrics, proc = train(framework, data, out,
                          settings(epochs=5, optimizer={"name": "sgd", "learning_rate": 1e12}))
    jsonschema.Draft202012Validator(METRICS_SCHEMA).validate(metrics)
    assert metrics["status"] == "diverged"
    assert metrics["epochs_completed"] < 5
    assert metrics["test"] == {"loss": None, "accuracy": None, "top5_accuracy": None}
    assert len(run_contract.read_history(out / "history.csv")) == metrics["epochs_completed"]
    assert "training loss became" in proc.stderr and "status diverged" in proc.stderr


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_gpu_run_without_a_gpu_fails_clearly_and_writes_no_metrics(framework, prepared_data,
                                                                   tmp_path):
    assert not hardware.gpu_visible(), "this test needs a machine without a GPU"
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")  # stale file from an earlier run: must go
    proc = run_in_env(f"{framework}-cpu",
                      train_args(framework, prepared_data("mnist", 64, 32), out, settings(),
                                 hardware_kind="gpu"), timeout=240, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "'gpu' run was requested" in proc.stderr
    assert "never falls back to CPU" in proc.stderr
    assert not (out / "metrics.json").exists()
    failure = json.loads((out / "failure.json").read_text())
    assert failure["error_type"] == "GPUUnavailableError" and "no GPU is visible" in failure["message"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_killed_run_leaves_no_metrics(framework, prepared_data, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    log = (tmp_path / "train.log").open("w")
    args = train_args(framework, prepared_data("mnist", 64, 32), out, settings(epochs=500))
    proc = subprocess.Popen([str(env_python(f"{framework}-cpu")), *map(str, args)], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not (out / "history.csv").exists() or \
                not run_contract.read_history(out / "history.csv"):
            assert proc.poll() is None, (tmp_path / "train.log").read_text()
            assert time.monotonic() < deadline, "no epoch finished within 180 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert not (out / "metrics.json").exists()
    assert len(run_contract.read_history(out / "history.csv")) < 500
    # A kill during a write can leave the hidden temp file, never a partial file under a real name.
    leftovers = {p.name for p in out.iterdir()} - {"env.txt", "history.csv"}
    assert all(name.startswith(".") and name.endswith(".tmp") for name in leftovers), leftovers


# --- framework-free parts of the harness --------------------------------------------------------

def test_settings_are_resolved_with_one_table_of_optimizer_defaults():
    resolved = harness_settings.resolve_settings(json.dumps(
        {"epochs": 1, "batch_size": 8, "validation": "test",
         "optimizer": {"name": "adadelta", "learning_rate": 1}}))
    assert resolved["optimizer"] == {"name": "adadelta", "learning_rate": 1.0, "rho": 0.95,
                                     "epsilon": 1e-7, "weight_decay": 0.0}
    assert resolved["lr_schedule"] is None and resolved["smoke"] is False


@pytest.mark.parametrize("bad,named", [
    ({"batch_size": 8, "validation": "test", "optimizer": {"name": "sgd", "learning_rate": 1}},
     "epochs"),
    ({"epochs": 1, "batch_size": 8, "validation": "test", "optimizer": {"name": "sgd",
      "learning_rate": 1}, "epoch": 3}, "epoch"),
    ({"epochs": 1, "batch_size": 0, "validation": "test", "optimizer": {"name": "sgd",
      "learning_rate": 1}}, "batch_size"),
    ({"epochs": 1, "batch_size": 8, "validation": "test", "optimizer": {"name": "rmsprop",
      "learning_rate": 1}}, "rmsprop"),
    ({"epochs": 1, "batch_size": 8, "validation": "test", "optimizer": {"name": "sgd",
      "learning_rate": 1, "beta_1": 0.9}}, "beta_1"),
    ({"epochs": 1, "batch_size": 8, "validation": "test", "optimizer": {"name": "sgd",
      "learning_rate": 1}, "lr_schedule": {"name": "cosine"}}, "lr_schedule"),
])
def test_bad_settings_fail_by_name(bad, named):
    with pytest.raises(harness_settings.SettingsError, match=named):
        harness_settings.resolve_settings(json.dumps(bad))


def test_reduce_on_plateau_follows_keras_semantics():
    schedule = schedules.ReduceOnPlateau(factor=0.1, patience=2)
    lrs, lr = [], 1.0
    for val_loss in [1.0, 0.9, 0.95, 0.91, 0.92, 0.5, 0.6, 0.6]:
        lr = schedule.step(val_loss, lr)
        lrs.append(lr)
    assert lrs == pytest.approx([1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.1, 0.01])


@pytest.mark.parametrize("spec,expected", [("holdout:0.2", 20), ("holdout:5", 5)])
def test_holdout_is_seeded_disjoint_and_sized(spec, expected):
    train_idx, val_idx = prepared.holdout_indices(100, spec, seed=3)
    assert len(val_idx) == expected and len(train_idx) == 100 - expected
    assert sorted(set(train_idx) | set(val_idx)) == list(range(100))
    assert np.array_equal(val_idx, prepared.holdout_indices(100, spec, seed=3)[1])
    assert not np.array_equal(val_idx, prepared.holdout_indices(100, spec, seed=4)[1])
    assert prepared.holdout_indices(100, "test", seed=3)[1] is None


def test_holdout_count_keeps_its_share_on_a_smoke_subset():
    # S1's 'holdout:5000' of CIFAR-10's 50,000 in smoke mode (256 images): 10%, not an error.
    train_idx, val_idx = prepared.holdout_indices(256, "holdout:5000", seed=0, full_count=50000)
    assert len(val_idx) == 26 and len(train_idx) == 230
    with pytest.raises(ValueError, match="holdout:5000"):
        prepared.holdout_indices(256, "holdout:5000", seed=0)


@pytest.mark.parametrize("spec", ["holdout:1.5", "holdout:100", "holdout:", "val", "holdout:x"])
def test_bad_validation_spec_is_named(spec):
    with pytest.raises(ValueError, match="settings.validation"):
        prepared.holdout_indices(100, spec, seed=0)


def test_input_pipeline_yields_every_example_once_in_the_given_order(prepared_data):
    split = prepared.open_prepared(prepared_data("mnist", 64, 32)).train
    order = np.random.default_rng(0).permutation(50)
    batches = list(pipeline.prefetch_batches(split, order, 16, "alexnet-mnist", True,
                                            np.random.default_rng(1)))
    assert [len(y) for _, y in batches] == [16, 16, 16, 2]     # the remainder is kept
    assert all(x.dtype == np.float32 and x.shape[1:] == (28, 28, 1) for x, _ in batches)
    for b, (x, y) in enumerate(batches):
        idx = np.sort(order[16 * b:16 * (b + 1)])
        assert np.array_equal(y, split.labels[idx])
        assert np.allclose(x, split.images[idx] / 255.0)


def test_input_pipeline_passes_errors_on_and_stops_when_abandoned(prepared_data):
    split = prepared.open_prepared(prepared_data("mnist", 64, 32)).train
    with pytest.raises(ValueError, match="alexnet-2012"):   # 28x28x1 cannot feed a 227x227x3 net
        list(pipeline.prefetch_batches(split, np.arange(64), 16, "alexnet-2012", True,
                                      np.random.default_rng(0)))
    batches = pipeline.prefetch_batches(split, np.arange(64), 1, "alexnet-mnist", False, None)
    next(batches)
    batches.close()  # what a diverged epoch does: the producer thread must end, not block
    import threading
    assert not [t for t in threading.enumerate() if t.name == "input-pipeline"]


def test_prepared_folder_errors_name_the_file(prepared_data, tmp_path):
    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(prepared_data("mnist", 64, 32), broken)
    np.save(broken / "test-labels.npy", np.zeros(31, dtype=np.int64))
    with pytest.raises(prepared.PreparedDataError, match="test-labels.npy"):
        prepared.open_prepared(broken)
    np.save(broken / "test-labels.npy", np.full(32, 10, dtype=np.int64))
    with pytest.raises(prepared.PreparedDataError, match="test-labels.npy.*outside 0..9"):
        prepared.open_prepared(broken)
    np.save(broken / "train-images.npy", np.zeros((64, 28, 28, 1), dtype=np.float32))
    with pytest.raises(prepared.PreparedDataError, match="train-images.npy.*uint8"):
        prepared.open_prepared(broken)
    (broken / "meta.json").unlink()
    with pytest.raises(prepared.PreparedDataError, match="meta.json"):
        prepared.open_prepared(broken)


def test_the_peak_is_measured_once_per_host_env_precision_and_threads(tmp_path):
    class Backend:  # counts calls; the real GEMMs are timed in the run test above
        calls = []

        def peak_matmul_gflops(self, device, size, precision="fp32"):
            Backend.calls.append(precision)
            return 123.0 if precision == "fp32" else 456.0

    first = peak.peak_gflops(Backend(), "cpu", tmp_path, "keras-cpu", 2)
    again = peak.peak_gflops(Backend(), "cpu", tmp_path, "keras-cpu", 2)
    other_threads = peak.peak_gflops(Backend(), "cpu", tmp_path, "keras-cpu", 1)
    assert (first["source"], again["source"], other_threads["source"]) == ("measured", "cached", "measured")
    assert first["gflops"] == again["gflops"] == 123.0 and Backend.calls == ["fp32", "fp32"]
    # A bf16 run is measured against the bfloat16 matmul, cached under its own key.
    bf16 = peak.peak_gflops(Backend(), "cpu", tmp_path, "keras-cpu", 2, "bf16")
    assert bf16 == {"gflops": 456.0, "matrix_size": peak.MATRIX_SIZE, "source": "measured"}
    assert peak.peak_gflops(Backend(), "cpu", tmp_path, "keras-cpu", 2, "bf16")["source"] == "cached"
    assert "-bf16-2t.json" in str(peak.cache_path(tmp_path, "keras-cpu", "bf16", 2))
    assert peak.peak_gflops(Backend(), "cpu", None, "keras-cpu", 2) is None


def test_deterministic_mode_and_the_allocator_are_the_user_s_choice_and_recorded(prepared_data,
                                                                                tmp_path):
    # The default is each framework's fast path (seeded) on TensorFlow's own allocator;
    # deterministic mode and the system allocator are opted into.
    data = prepared_data("mnist", 64, 32)
    chosen, _ = train("keras", data, tmp_path / "chosen",
                      settings(epochs=1, max_train_images=32, smoke=True, deterministic=True,
                               tf_allocator="system"))
    assert chosen["status"] == "ok" and chosen["settings"]["deterministic"] is True
    assert chosen["settings"]["tf_allocator"] == "system"
    default, _ = train("keras", data, tmp_path / "default", settings(epochs=1, max_train_images=32,
                                                                     smoke=True))
    assert default["status"] == "ok" and default["settings"]["deterministic"] is False
    assert default["settings"]["tf_allocator"] == "tensorflow"


def test_torch_compile_is_the_user_s_choice_and_recorded(prepared_data, tmp_path, monkeypatch):
    # A real torch.compile (Inductor builds C++ here): the run trains, saves the module's own
    # weights, and records the choice and what the step was; eager is PyTorch's default.
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor-cache"))  # cold
    data = prepared_data("mnist", 64, 32)
    compiled, _ = train("pytorch", data, tmp_path / "compiled",
                        settings(epochs=1, max_train_images=48, smoke=True, save_weights=True,
                                 torch_compile=True))
    assert compiled["status"] == "ok" and compiled["settings"]["torch_compile"] is True
    assert compiled["step_compiler"] == "torch.compile"
    assert compiled["test"]["loss"] > 0 and compiled["throughput"]["train_images_per_s"] > 0
    probe = ("import sys, torch; state = torch.load(sys.argv[1]);"
             "print(sum(k.startswith('_orig_mod.') for k in state), len(state))")
    prefixed, keys = run_in_env("pytorch-cpu", ["-c", probe, tmp_path / "compiled" /
                                                compiled["weights_file"]]).stdout.split()
    assert (int(prefixed), int(keys) > 0) == (0, True)  # loadable into the plain model
    again, _ = train("pytorch", data, tmp_path / "again",
                     settings(epochs=1, max_train_images=48, smoke=True, torch_compile=True))
    assert again["test"] == compiled["test"]  # Inductor's kernels and dropout repeat per seed
    default, _ = train("pytorch", data, tmp_path / "default",
                       settings(epochs=1, max_train_images=32, smoke=True))
    assert default["settings"]["torch_compile"] is False and default["step_compiler"] == "eager"
    # Inductor's C++ compilers run outside the training process: a cold cache makes it compile,
    # and the run counts them; eager training starts no process.
    assert compiled["memory"]["peak_child_processes_mb"] > 50, compiled["memory"]
    assert default["memory"]["peak_child_processes_mb"] == 0


def test_keras_jit_compile_is_the_user_s_choice_and_recorded(prepared_data, tmp_path):
    # "auto" (the default) keeps XLA off on a CPU, as model.fit does; true turns it on, except
    # under op determinism, where Keras itself keeps it off (and the run records what it did).
    data = prepared_data("mnist", 64, 32)
    found = {}
    for name, overrides in {"auto": {}, "xla": {"keras_jit_compile": True},
                            "xla-deterministic": {"keras_jit_compile": True,
                                                  "deterministic": True}}.items():
        metrics, _ = train("keras", data, tmp_path / name,
                           settings(epochs=1, max_train_images=32, smoke=True, **overrides))
        assert metrics["status"] == "ok", name
        found[name] = (metrics["settings"]["keras_jit_compile"], metrics["step_compiler"])
    assert found == {"auto": ("auto", "tf.function"), "xla": (True, "tf.function + XLA"),
                     "xla-deterministic": (True, "tf.function")}


def test_the_determinism_switches_are_set_only_in_deterministic_mode(monkeypatch):
    from alexbench.harness import runtime
    for name in runtime.DETERMINISM_ENV:
        monkeypatch.setenv(name, "stale")
    monkeypatch.setattr(runtime.os, "environ", dict(runtime.os.environ))
    runtime.set_runtime_env(3, deterministic=False)
    assert not set(runtime.DETERMINISM_ENV) & set(runtime.os.environ)
    assert runtime.os.environ["OMP_NUM_THREADS"] == "3"
    runtime.set_runtime_env(2, deterministic=True)
    assert all(runtime.os.environ[k] == v for k, v in runtime.DETERMINISM_ENV.items())


def test_numpy_s_blas_gets_one_thread_and_the_frameworks_get_threads(monkeypatch):
    # numpy's BLAS serves only the input pipeline's background thread (runtime.PRE_IMPORT_ENV)
    from alexbench.harness import runtime
    monkeypatch.setattr(runtime.os, "environ", dict(runtime.os.environ, OPENBLAS_NUM_THREADS="8"))
    runtime.set_runtime_env(3, deterministic=False)
    assert all(runtime.os.environ[name] == "3" for name in runtime.THREAD_ENV_VARS)
    assert runtime.os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert runtime.os.environ["VECLIB_MAXIMUM_THREADS"] == "1"
    assert not {"OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"} & set(runtime.THREAD_ENV_VARS)


def test_torch_compile_gets_as_many_compiler_workers_as_the_run_has_threads():
    # Inductor's default is one worker process per core of the machine (up to 32): on a large
    # node that is far beyond the run's cores and its memory request (memory_fit.py).
    probe = ("import sys; sys.path.insert(0, 'workflow/scripts');"
             "from alexbench.harness import runtime; runtime.set_runtime_env(3, False);"
             "import torch._inductor.config as inductor; print(inductor.compile_threads)")
    assert run_in_env("pytorch-cpu", ["-c", probe]).stdout.split()[-1] == "3"


def test_numpy_starts_no_blas_workers_in_a_job():
    # The env above, read by the real numpy of a job venv: its OpenBLAS starts no worker thread
    # (with two BLAS threads it starts one, which spins after each resize; bench/pipeline_cpu.py).
    # The second case (two BLAS threads, as before) shows the count sees a worker when one runs.
    probe = ("import os, sys; sys.path.insert(0, 'workflow/scripts');"
             "from alexbench.harness import runtime; runtime.set_runtime_env(2, False);"
             "os.environ.update({'OPENBLAS_NUM_THREADS': a for a in sys.argv[1:]}); import numpy;"
             "print(len(os.listdir('/proc/self/task')))")
    job = int(run_in_env("pytorch-cpu", ["-c", probe]).stdout)
    two_blas_threads = int(run_in_env("pytorch-cpu", ["-c", probe, "2"]).stdout)
    assert (job, two_blas_threads) == (1, 2)


def test_tensorflow_s_allocator_switch_is_set_only_for_the_system_allocator(monkeypatch):
    from alexbench.harness import runtime
    monkeypatch.setenv("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "stale")
    monkeypatch.setattr(runtime.os, "environ", dict(runtime.os.environ))
    runtime.set_runtime_env(2, deterministic=False)  # the default: TensorFlow's own pool
    assert "TF_ONEDNN_USE_SYSTEM_ALLOCATOR" not in runtime.os.environ
    runtime.set_runtime_env(2, deterministic=False, tf_allocator="system")
    assert runtime.os.environ["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"] == "1"
    with pytest.raises(ValueError, match="'jemalloc' is not one of"):
        runtime.set_runtime_env(2, tf_allocator="jemalloc")


def test_the_schemas_offer_the_allocators_the_runtime_knows():
    from alexbench import workflow_config
    from alexbench.common import registry
    from alexbench.harness import runtime
    assert sorted(runtime.TF_ALLOCATOR_ENV) == sorted(registry.TF_ALLOCATORS)
    settings_schema = run_contract.load_schema(REPO / "workflow/schemas/settings.schema.json")
    metrics_schema = run_contract.load_schema(run_contract.METRICS_SCHEMA)
    config_schema = workflow_config.load_schema()
    offered = [settings_schema["properties"]["tf_allocator"],
               metrics_schema["properties"]["settings"]["properties"]["tf_allocator"],
               config_schema["properties"]["experiments"]["additionalProperties"]["properties"]
               ["tf_allocator"]]
    assert all(node["enum"] == list(registry.TF_ALLOCATORS) for node in offered)
    assert all(node.get("default", registry.DEFAULT_TF_ALLOCATOR) == registry.DEFAULT_TF_ALLOCATOR
               for node in offered)
