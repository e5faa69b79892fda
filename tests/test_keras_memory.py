"""fw_keras's memory savings keep the semantics: seeded, block-independent draws with the
spec's distribution, and a snapshot that records untouched kernels as their seeded recipe and
still restores every weight bit for bit. Runs tests/probes/keras_seeded_draw.py (~15 s)."""
import math

import pytest

from conftest import run_json_in_env


@pytest.fixture(scope="module")
def probe():
    return run_json_in_env("keras-cpu", ["tests/probes/keras_seeded_draw.py"], timeout=300)


def test_seeded_draw_is_deterministic_and_independent_of_block_size(probe):
    assert probe["same_seed_equal"] and not probe["other_seed_equal"]
    assert probe["blocks_equal_whole"] and probe["tensor_equal_whole"]
    assert probe["dtype"] == "float32"


def test_seeded_draw_has_the_spec_distribution(probe):
    u = probe["uniform"]  # U(-0.25, 0.25) on 23,100 draws
    assert -0.25 <= u["min"] < -0.249 and 0.249 < u["max"] <= 0.25
    assert abs(u["mean"]) < 0.005
    assert u["std"] == pytest.approx(0.25 / math.sqrt(3), rel=0.02)
    n = probe["normal"]  # N(0, 0.5^2)
    assert abs(n["mean"]) < 0.01 and n["std"] == pytest.approx(0.5, rel=0.02)


def test_snapshot_by_recipe_restores_every_weight_exactly(probe):
    assert "draw" in probe["snapshot_kinds"]            # kernels were not copied ...
    assert probe["variables_changed_by_step"] > 0        # ... the step did change weights ...
    assert "draw" not in probe["kinds_after_step"]      # ... trained kernels are not recipes ...
    assert probe["restored_bitwise"]                     # ... and restore() undid it exactly
