"""The six variants are the same network in Keras, Gluon and PyTorch, and match layer_specs.

Pure-Python checks of layer_specs run here; each framework is checked by one run of
tests/probes/model_probe.py in its own venv (all variants at once, because importing a
framework is slow). alexnet-cifar-256 (~901 M parameters) is counted from the real layer objects
built without memory; its forward pass runs only with ALEXBENCH_TEST_BIG_MODELS=1 (3.6 GB of
weights per framework).
"""
import math
import os

import numpy as np
import pytest

from alexbench.common import layer_specs
from alexbench.common.layer_specs import Conv, Dense
from conftest import FRAMEWORKS, run_json_in_env

BIG_MODELS = os.environ.get("ALEXBENCH_TEST_BIG_MODELS") == "1"


# --- layer_specs in pure Python -----------------------------------------------------------

def test_published_parameter_counts():
    assert layer_specs.count_parameters("alexnet-d2l", 10) == 46_764_746  # d2l.ai's figure
    assert layer_specs.count_parameters("alexnet-2012", 1000) == 60_965_224  # "about 60 M"
    assert layer_specs.count_parameters("alexnet-2012", 10) < layer_specs.count_parameters("alexnet-2012", 1000)


def test_shape_arithmetic_of_the_seeds():
    shapes = {v: dict(layer_specs.output_shapes(v, 10)) for v in layer_specs.MODEL_NAMES}
    assert shapes["alexnet-cifar-256"]["pool3"] == (29, 29, 256)  # the flatten seeds.md names
    assert shapes["alexnet-cifar-256"]["flatten"] == (29 * 29 * 256,)
    assert shapes["alexnet-d2l"]["flatten"] == (6400,)
    assert shapes["alexnet-2012"]["conv1"] == (55, 55, 96)
    assert shapes["alexnet-2012"]["pool3"] == (6, 6, 256)
    assert shapes["alexnet-224"]["conv5"] == (4, 4, 256)
    assert shapes["alexnet-mnist"]["pad1"] == (30, 30, 1)
    assert shapes["alexnet-mnist"]["pool3"] == (3, 3, 256)
    assert shapes["alexnet-lrn-32"]["conv5"] == (7, 7, 64)
    for v in layer_specs.MODEL_NAMES:
        assert layer_specs.output_shapes(v, 7)[-1][1] == (7,)


def test_initialisation_schemes():
    def inits(variant):
        return {r.layer.name: r.init for r in layer_specs.resolve(variant, 10) if r.init}
    d2l = inits("alexnet-d2l")
    assert d2l["fc1"].weight_dist == "uniform"
    assert d2l["fc1"].weight_scale == pytest.approx(math.sqrt(6 / (6400 + 4096)))
    # conv: fans count the receptive field; grouped convs see in_channels / groups inputs
    assert d2l["conv2"].weight_scale == pytest.approx(math.sqrt(6 / (25 * 96 + 25 * 256)))
    s3 = inits("alexnet-224")
    assert s3["fc3"].weight_scale == pytest.approx(math.sqrt(2.24 / ((4096 + 10) / 2)))
    s4 = inits("alexnet-2012")
    assert {n for n, i in s4.items() if i.bias == 1.0} == {"conv2", "conv4", "conv5", "fc1", "fc2"}
    assert all(i.weight_dist == "normal" and i.weight_scale == 0.01 for i in s4.values())
    assert all(i.bias == 0.0 for i in inits("alexnet-mnist").values())


def test_descriptions_name_seed_and_fixes():
    assert "S1" in layer_specs.describe("alexnet-cifar-256")
    assert "cross-entropy" in layer_specs.describe("alexnet-cifar-256")
    assert "test batch" in layer_specs.describe("alexnet-cifar-256")
    assert "no ReLU on the output layer" in layer_specs.describe("alexnet-224")
    for v in layer_specs.MODEL_NAMES:
        last = layer_specs.get_variant(v).layers[-1]
        assert isinstance(last, Dense) and not last.relu, v


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="alexnet-9999"):
        layer_specs.count_parameters("alexnet-9999", 10)
    with pytest.raises(ValueError, match="num_classes"):
        layer_specs.resolve("alexnet-d2l", 0)


# --- each framework against the spec -------------------------------------------------------

LRN_INPUT = (np.random.default_rng(5).standard_normal((2, 4, 3, 9)) * 3).astype(np.float32)


@pytest.fixture(scope="module")
def lrn_input_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lrn") / "x.npy"
    np.save(path, LRN_INPUT)
    return path


_PROBE_RESULTS = {}


def _run_probe(framework, lrn_input_file):
    """One probe run per framework per session, shared by the per-framework and cross checks."""
    if framework not in _PROBE_RESULTS:
        args = ["tests/probes/model_probe.py", framework, "--lrn-input", lrn_input_file]
        _PROBE_RESULTS[framework] = run_json_in_env(
            f"{framework}-cpu", args + (["--big"] if BIG_MODELS else []), timeout=600)
    return _PROBE_RESULTS[framework]


@pytest.fixture(scope="module", params=FRAMEWORKS)
def probe(request, lrn_input_file):
    return _run_probe(request.param, lrn_input_file)


@pytest.fixture(scope="module")
def all_probes(lrn_input_file):
    return {fw: _run_probe(fw, lrn_input_file) for fw in FRAMEWORKS}


def _expected_weight_shapes(variant):
    shapes = []
    for r in layer_specs.resolve(variant, 10):
        if isinstance(r.layer, Conv):
            k = r.layer.kernel
            shapes.append((r.layer.name, [k, k, r.in_channels // r.layer.groups, r.layer.filters]))
        elif isinstance(r.layer, Dense):
            shapes.append((r.layer.name, [r.in_units, r.units]))
    return shapes


@pytest.mark.parametrize("variant", layer_specs.MODEL_NAMES)
def test_parameter_count_and_weight_shapes_match_spec(probe, variant):
    info = probe["variants"][variant]
    assert info["parameters"] == layer_specs.count_parameters(variant, 10)
    if "parameters_built" in info:
        assert info["parameters_built"] == info["parameters"]
    expected = _expected_weight_shapes(variant)
    got = info["weight_shapes"]
    assert [s for _, s in got] == [s for _, s in expected], probe["framework"]
    assert all(name.endswith(spec_name) for (name, _), (spec_name, _) in zip(got, expected))


@pytest.mark.parametrize("variant", layer_specs.MODEL_NAMES)
def test_forward_gives_logits_per_class(probe, variant):
    info = probe["variants"][variant]
    if variant == "alexnet-cifar-256" and not BIG_MODELS:
        pytest.skip("~901 M parameters: set ALEXBENCH_TEST_BIG_MODELS=1 to run its forward pass")
    assert info["output_shape"] == [2, 10]
    assert info["output_finite"] and info["output_distinct"]
    assert info["description"] == layer_specs.describe(variant)


@pytest.mark.parametrize("variant", layer_specs.MODEL_NAMES)
def test_initial_weights_follow_the_spec(probe, variant):
    info = probe["variants"][variant]
    if "init" not in info:
        pytest.skip("not built for real (see ALEXBENCH_TEST_BIG_MODELS)")
    inits = [r.init for r in layer_specs.resolve(variant, 10) if r.init]
    assert len(info["init"]) == len(inits)
    for layer, init in zip(info["init"], inits):
        numel = math.prod(layer["shape"])
        assert layer["b_min"] == layer["b_max"] == init.bias, layer["name"]
        if init.weight_dist == "uniform":
            assert layer["w_absmax"] <= init.weight_scale * (1 + 1e-6), layer["name"]
            expected_std = init.weight_scale / math.sqrt(3)
        else:
            expected_std = init.weight_scale
        if numel >= 2000:  # enough draws for the sample std to be within a few percent
            assert layer["w_std"] == pytest.approx(expected_std, rel=0.08), layer["name"]
            assert abs(layer["w_mean"]) < 0.1 * expected_std, layer["name"]


def lrn_reference(x, depth_radius, bias, alpha, beta):
    """TensorFlow's definition, channels last, in float64."""
    x = x.astype(np.float64)
    sq = x ** 2
    channels = x.shape[-1]
    sums = np.stack([sq[..., max(0, c - depth_radius):min(channels, c + depth_radius + 1)].sum(-1)
                     for c in range(channels)], axis=-1)
    return x / (bias + alpha * sums) ** beta


def test_lrn_matches_tensorflow_formula(probe):
    for case in probe["lrn"]:
        got = np.asarray(case["output"])
        ref = lrn_reference(LRN_INPUT, *case["params"])
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{probe['framework']} LRN{case['params']}")
        # the reference itself must be sensitive to alpha, or this test proves nothing
        assert np.abs(ref - LRN_INPUT).max() > 1e-4


def test_frameworks_agree_on_parameters_and_lrn(all_probes):
    keras, gluon, pytorch = (all_probes[fw] for fw in FRAMEWORKS)
    for variant in layer_specs.MODEL_NAMES:
        counts = {fw: all_probes[fw]["variants"][variant]["parameters"] for fw in FRAMEWORKS}
        assert len(set(counts.values())) == 1, (variant, counts)
    for k, g, p in zip(keras["lrn"], gluon["lrn"], pytorch["lrn"]):
        np.testing.assert_allclose(np.asarray(g["output"]), np.asarray(k["output"]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(p["output"]), np.asarray(k["output"]), rtol=1e-5, atol=1e-6)


def test_caffe_lrn_replaces_only_the_lrn_settings():
    own = layer_specs.resolve("alexnet-2012", 1000)
    caffe = layer_specs.resolve("alexnet-2012", 1000, layer_specs.CAFFE_ALEXNET_LRN)
    assert [r.output_shape for r in own] == [r.output_shape for r in caffe]
    assert sum(r.parameters for r in caffe) == 60_965_224
    lrns = [r.layer for r in caffe if isinstance(r.layer, layer_specs.LRN)]
    assert [(l.name, l.depth_radius, l.bias, l.alpha, l.beta) for l in lrns] == [
        ("lrn1", 2, 1.0, 2e-5, 0.75), ("lrn2", 2, 1.0, 2e-5, 0.75)]
    # the variant itself keeps the paper's k = 2, alpha 1e-4
    assert {(r.layer.bias, r.layer.alpha) for r in own if isinstance(r.layer, layer_specs.LRN)} == {(2.0, 1e-4)}
