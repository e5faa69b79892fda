"""bench/idiomatic.py end to end on a small workload, in the real PyTorch venv: the probes run in
rotating order (no mode always first), the table's ratio is harness / idiomatic of the printed
medians, and the probes remove the folders they make.

Only that the benchmark works is tested here; its figures are read on a quiet machine (bench/).
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, env_python


def test_idiomatic_bench_rotates_its_probes_and_cleans_up(tmp_path):
    env_python("pytorch-cpu")  # fails clearly when the test command has not built it
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    raw_file = tmp_path / "raw.json"
    proc = subprocess.run(
        [sys.executable, "bench/idiomatic.py", "--variants", "alexnet-mnist", "--frameworks",
         "pytorch", "--images", "64", "--repeats", "2", "--workflow", "--json", str(raw_file)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, "TMPDIR": str(scratch)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]

    raw = json.loads(raw_file.read_text())
    assert [r["mode"] for r in raw] == ["harness", "idiomatic", "workflow",
                                        "idiomatic", "workflow", "harness"]
    assert all(r["images"] == 64 and r["images_per_s"] > 0 for r in raw)

    row = [line for line in proc.stdout.splitlines() if line.startswith("alexnet-mnist")][-1]
    _, framework, _, harness, idiomatic, ratio, pairs, *_ = row.split()
    assert framework == "pytorch"
    assert float(ratio) == pytest.approx(float(harness) / float(idiomatic), abs=0.006)
    lowest, highest = map(float, pairs.split("-"))
    assert lowest <= float(ratio) <= highest or lowest == pytest.approx(highest, abs=0.01)
    # (torch keeps a compiler cache of its own there, torchinductor_<user>: not the bench's)
    assert list(scratch.glob("alexbench-*")) == [], "a probe left its folder behind"
