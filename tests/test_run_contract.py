"""The run contract module: its stdlib validator agrees with jsonschema on the real schemas, and
metrics.json / history.csv are written atomically, read back identically, and rejected by name.
"""
import copy
import json
import math
import os

import jsonschema
import pytest

from alexbench.common import run_contract

METRICS_SCHEMA = json.loads(run_contract.METRICS_SCHEMA.read_text())
HISTORY_SCHEMA = json.loads(run_contract.HISTORY_ROW_SCHEMA.read_text())


def valid_metrics():
    return {
        "schema_version": 1,
        "run": {"experiment": "S0", "source": "S0", "framework": "pytorch", "dataset": "mnist",
                "model": "alexnet-mnist", "hardware": "cpu", "seed": 0},
        "status": "ok",
        "smoke": True,
        "versions": {"framework": "2.13.0", "framework_detail": {"torch": "2.13.0"},
                     "python": "3.11.7", "numpy": "2.4.6", "cuda": None, "cudnn": None,
                     "driver": None},
        "device": {"kind": "cpu", "name": "AMD EPYC", "threads": 2, "hostname": "vm"},
        "settings": {"epochs": 2, "batch_size": 16,
                     "optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9},
                     "lr_schedule": None, "validation": "test", "train_images": 64,
                     "val_images": 32, "test_images": 32, "deterministic": True},
        "parameters": 3900938,
        "epochs_completed": 2,
        "train_time_s": 1.5,
        "epoch_times_s": [0.8, 0.7],
        "throughput": {"train_images_per_s": 300.0, "eval_images_per_s": None},
        "test": {"loss": 0.5, "accuracy": 0.9, "top5_accuracy": None},
        "target_accuracy": 0.99,
        "time_to_target_s": None,
        "memory": {"peak_rss_mb": 400.0, "peak_gpu_mb": None},
        "timing_definition": "wall time of all epochs",
        "weights_file": None,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:00+00:00",
        "provenance": {"git_commit": "0" * 40, "git_dirty": False,
                       "inputs": {"train-images-idx3-ubyte.gz": "a" * 64}},
    }


def mutate(path, value):
    """A copy of valid_metrics() with the dotted `path` set to value (DELETE removes it)."""
    doc = valid_metrics()
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


DELETE = object()

# (dotted path, new value): every keyword of the subset, and its type corner cases.
MUTATIONS = [
    ("schema_version", 2),                     # const
    ("schema_version", True),                  # const: true is not 1
    ("status", "crashed"),                     # enum
    ("run.framework", "tensorflow"),           # nested enum
    ("run.seed", -1),                          # minimum
    ("run.seed", 1.5),                         # integer
    ("run.seed", True),                        # bool is not an integer
    ("run.seed", 3.0),                         # 3.0 IS an integer in JSON Schema (valid)
    ("run", DELETE),                           # required
    ("run.model", DELETE),                     # nested required
    ("run.extra", "x"),                        # additionalProperties false
    ("surprise", 1),                           # top-level additionalProperties false
    ("versions.cuda", 12),                     # type list [string, null]
    ("versions.framework_detail.mxnet", 1),    # additionalProperties as a schema
    ("versions.framework_detail.mxnet", "1.9.1"),  # ... valid
    ("device.threads", 0),                     # minimum 1
    ("test.accuracy", 1.5),                    # maximum
    ("test.accuracy", -0.1),                   # minimum
    ("test.accuracy", None),                   # nullable (valid)
    ("epoch_times_s", [0.5, "slow"]),          # items type
    ("epoch_times_s", [0.5, -1.0]),            # items minimum
    ("epoch_times_s", "0.5"),                  # array type
    ("settings.optimizer", {"name": "sgd"}),   # nested required inside an open object
    ("settings.optimizer.nesterov", False),    # extra key allowed in an open object (valid)
    ("settings.lr_schedule", {"name": "reduce_on_plateau"}),  # object or null (valid)
    ("smoke", "yes"),                          # boolean
    ("memory.peak_rss_mb", 10),                # int is a number (valid)
    ("timing_definition", None),               # string, not nullable
    ("provenance", DELETE),                    # optional: older run folders lack it (valid)
    ("provenance.git_dirty", "yes"),           # boolean or null
    ("provenance.inputs.f", 5),                # checksums are strings
    ("provenance.git_commit", DELETE),         # required inside provenance
]


@pytest.mark.parametrize("path,value", MUTATIONS, ids=[f"{p}={v!r}" for p, v in MUTATIONS])
def test_validator_agrees_with_jsonschema(path, value):
    doc = mutate(path, value)
    reference_ok = jsonschema.Draft202012Validator(METRICS_SCHEMA).is_valid(doc)
    ours = run_contract.validation_errors(doc, METRICS_SCHEMA)
    assert (not ours) == reference_ok, ours
    if ours:
        # The error names the field that broke (its last path component at least).
        assert path.split(".")[-1] in " ".join(ours) or path.split(".")[0] in " ".join(ours)


def test_valid_document_passes_both():
    assert jsonschema.Draft202012Validator(METRICS_SCHEMA).is_valid(valid_metrics())
    assert run_contract.validation_errors(valid_metrics(), METRICS_SCHEMA) == []


@pytest.mark.parametrize("row,ok", [
    ({"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.8, "val_loss": None,
      "val_accuracy": None, "epoch_time_s": 1.0, "learning_rate": 0.01}, True),
    ({"epoch": 0, "train_loss": 0.5, "train_accuracy": 0.8, "val_loss": 0.4,
      "val_accuracy": 0.9, "epoch_time_s": 1.0, "learning_rate": 0.01}, False),
    ({"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.8, "val_loss": 0.4,
      "val_accuracy": 0.9, "epoch_time_s": 1.0}, False),
    ({"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.8, "val_loss": 0.4,
      "val_accuracy": 0.9, "epoch_time_s": 1.0, "learning_rate": 0.01, "extra": 1}, False),
])
def test_history_row_validator_agrees_with_jsonschema(row, ok):
    assert jsonschema.Draft202012Validator(HISTORY_SCHEMA).is_valid(row) is ok
    assert (not run_contract.validation_errors(row, HISTORY_SCHEMA)) is ok


def test_write_then_read_metrics_round_trips(tmp_path):
    path = run_contract.write_metrics(tmp_path, valid_metrics())
    assert path == tmp_path / "metrics.json"
    assert run_contract.read_metrics(path) == valid_metrics()
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temp file left


def test_invalid_metrics_are_not_written(tmp_path):
    with pytest.raises(ValueError, match=r"run\.framework"):
        run_contract.write_metrics(tmp_path, mutate("run.framework", "caffe"))
    assert list(tmp_path.iterdir()) == []


def test_non_finite_numbers_are_refused(tmp_path):
    # NaN would make metrics.json invalid JSON; the harness must write null instead.
    with pytest.raises(ValueError, match=r"test\.loss"):
        run_contract.write_metrics(tmp_path, mutate("test.loss", math.nan))
    assert list(tmp_path.iterdir()) == []


def test_read_metrics_names_file_and_field(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(mutate("throughput.train_images_per_s", "fast")))
    with pytest.raises(ValueError) as err:
        run_contract.read_metrics(path)
    assert str(path) in str(err.value)
    assert "throughput.train_images_per_s" in str(err.value)


def test_read_metrics_rejects_broken_json_by_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{"schema_version": 1, ')
    with pytest.raises(ValueError, match="not valid JSON") as err:
        run_contract.read_metrics(path)
    assert str(path) in str(err.value)
    path.write_text(json.dumps(valid_metrics()).replace('"loss": 0.5', '"loss": NaN'))
    with pytest.raises(ValueError, match="NaN"):
        run_contract.read_metrics(path)


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    run_contract.write_metrics(tmp_path, valid_metrics())
    before = (tmp_path / "metrics.json").read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    doc = valid_metrics()
    doc["status"] = "diverged"
    with pytest.raises(OSError):
        run_contract.write_metrics(tmp_path, doc)
    assert (tmp_path / "metrics.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_history_round_trips_with_nulls(tmp_path):
    rows = [{"epoch": 1, "train_loss": 0.1 + 0.2, "train_accuracy": 0.5, "val_loss": None,
             "val_accuracy": None, "epoch_time_s": 3, "learning_rate": 1.0},
            {"epoch": 2, "train_loss": 1e-9, "train_accuracy": 1.0, "val_loss": 0.25,
             "val_accuracy": 0.75, "epoch_time_s": 2.5, "learning_rate": None}]
    path = run_contract.write_history(tmp_path, rows)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(HISTORY_SCHEMA["properties"])
    assert len(lines) == 3
    back = run_contract.read_history(path)
    assert back == rows
    assert isinstance(back[0]["epoch"], int)


def test_history_rejects_bad_rows_by_name(tmp_path):
    row = {"epoch": 1, "train_loss": 0.1, "train_accuracy": 0.5, "val_loss": 0.2,
           "val_accuracy": 0.5, "epoch_time_s": -1.0, "learning_rate": 1.0}
    with pytest.raises(ValueError, match="epoch_time_s"):
        run_contract.write_history(tmp_path, [row])
    assert list(tmp_path.iterdir()) == []
    path = tmp_path / "history.csv"
    path.write_text(",".join(HISTORY_SCHEMA["properties"]) + "\n1,0.1,0.5,0.2,0.5,,1.0\n")
    with pytest.raises(ValueError) as err:
        run_contract.read_history(path)
    assert str(path) in str(err.value) and "epoch_time_s" in str(err.value)
    path.write_text("epoch,loss\n1,0.1\n")
    with pytest.raises(ValueError, match="header"):
        run_contract.read_history(path)


def test_schema_dir_points_at_the_repo_schemas(repo):
    assert run_contract.SCHEMA_DIR == repo / "workflow" / "schemas"
    assert run_contract.history_columns()[0] == "epoch"
