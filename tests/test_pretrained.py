"""The published BVLC AlexNet weights: the .caffemodel reader and writer, the refusals, the .npz
conversion, and each framework's loaded model against an independent numpy forward pass.

Known weights in, known logits out: a synthetic .caffemodel in the real wire format and the full
layer table (seeded random weights, 244 MB, written once per session) is converted and loaded
into each framework's alexnet-2012; its logits on a few 256x256 images are compared with
tests/caffe_reference.py, which runs the Caffe net from its own copy of the definitions. Wire
format edge cases and refusals use a small layer table (alexnet-lrn-32's), where a file is KBs.
"""
import hashlib
import json
import math

import numpy as np
import pytest

import caffe_reference
from alexbench.common import layer_specs
from alexbench.pretrained import caffe_input, caffemodel as cm, convert, protobuf_wire as wire
from conftest import FRAMEWORKS, run_json_in_env

SMALL = "alexnet-lrn-32"


def small_table():
    return cm.expected_table(SMALL, 10)


def small_layers(seed=0):
    """(name, type, arrays) for the small table, plus weightless layers around them."""
    layers = [("data", "Data", [])]
    for name, kind, arrays in cm.synthetic_layers(seed, small_table()):
        if arrays:
            layers += [(name, kind, arrays), (f"relu_{name}", "ReLU", [])]
    return layers + [("loss", "SoftmaxWithLoss", [])]


def read_small(path):
    return {e.caffe_name: (w, b) for e, w, b in cm.iter_checked_layers(path, small_table())}


# --- the wire format ---------------------------------------------------------------------------

def test_varints_and_tags_follow_the_protobuf_encoding_examples():
    # protobuf.dev/programming-guides/encoding: 150 -> 96 01, 300 -> ac 02; field 1 varint tag 08
    assert wire.encode_varint(150) == b"\x96\x01"
    assert wire.encode_varint(300) == b"\xac\x02"
    assert wire.encode_tag(1, wire.VARINT) == b"\x08"
    assert wire.encode_tag(100, wire.LENGTH_DELIMITED) == b"\xa2\x06"  # NetParameter.layer
    assert wire.encode_varint(-1) == b"\xff" * 9 + b"\x01"


def test_a_hand_encoded_v1_net_is_read(tmp_path):
    # NetParameter{layers(2){name(4) "fc8", type(5) INNER_PRODUCT=14,
    #   blobs(6){num 1 channels 1 height 2 width 3, data(5) packed 6 floats},
    #   blobs(6){width(4) 2, data(5) unpacked 2 floats}}}
    w = np.arange(6, dtype="<f4")
    blob1 = b"\x08\x01\x10\x01\x18\x02\x20\x03" + b"\x2a\x18" + w.tobytes()
    blob2 = b"\x20\x02" + b"\x2d" + np.float32(7).tobytes() + b"\x2d" + np.float32(8).tobytes()
    layer = b"\x22\x03fc8" + b"\x28\x0e" + b"\x32" + bytes([len(blob1)]) + blob1 + b"\x32" + \
        bytes([len(blob2)]) + blob2
    path = tmp_path / "hand.caffemodel"
    path.write_bytes(b"\x0a\x07AlexNet" + b"\x12" + bytes([len(layer)]) + layer)
    (only,) = list(cm.iter_layers(path))
    assert (only.name, only.type) == ("fc8", "InnerProduct")
    assert only.blobs[0].legacy and only.blobs[0].shape == (1, 1, 2, 3)
    np.testing.assert_array_equal(only.blobs[0].data, w)
    assert only.blobs[1].shape == (0, 0, 0, 2)
    np.testing.assert_array_equal(only.blobs[1].data, [7, 8])


@pytest.mark.parametrize("style, legacy, packed", [
    ("layers", True, True),      # the 2014 format of bvlc_alexnet.caffemodel
    ("layer", False, True),      # current Caffe
    ("layer", True, False),      # legacy shapes and unpacked floats in the current message
    ("layers", False, False),
])
def test_written_models_read_back_exactly(tmp_path, style, legacy, packed):
    path = cm.write_caffemodel(tmp_path / "m.caffemodel", small_layers(), style=style,
                               legacy_shapes=legacy, packed=packed)
    got = read_small(path)
    for name, _, arrays in small_layers():
        if arrays:
            np.testing.assert_array_equal(got[name][0], arrays[0])
            np.testing.assert_array_equal(got[name][1], arrays[1])
    assert set(got) == {e.caffe_name for e in small_table()}


def test_unpacked_floats_are_read_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(wire, "UNPACKED_BLOCK_RECORDS", 7)  # many blocks, ragged last one
    path = cm.write_caffemodel(tmp_path / "m.caffemodel", small_layers(), style="layer",
                               packed=False)
    got = read_small(path)
    expected = dict((n, a) for n, _, a in small_layers() if a)
    for name, (w, b) in got.items():
        np.testing.assert_array_equal(w, expected[name][0])


def test_the_expected_table_is_bvlc_alexnets():
    # models/bvlc_alexnet/deploy.prototxt, written out: (out, in/group, kh, kw) and (out, in)
    table = {e.caffe_name: e.shapes[0] for e in cm.expected_table()}
    assert table == {"conv1": (96, 3, 11, 11), "conv2": (256, 48, 5, 5), "conv3": (384, 256, 3, 3),
                     "conv4": (384, 192, 3, 3), "conv5": (256, 192, 3, 3), "fc6": (4096, 9216),
                     "fc7": (4096, 4096), "fc8": (1000, 4096)}
    total = sum(math.prod(s) for e in cm.expected_table() for s in e.shapes)
    assert total == layer_specs.count_parameters("alexnet-2012", 1000) == 60_965_224


def test_caffe_lrn_in_tensorflows_convention():
    lrn = layer_specs.CAFFE_ALEXNET_LRN
    assert (lrn.depth_radius, lrn.bias, lrn.beta) == (2, 1.0, 0.75)
    assert lrn.alpha == pytest.approx(1e-4 / 5)
    x = np.random.default_rng(3).standard_normal((1, 7, 2, 2)) * 40
    ours = x / (lrn.bias + lrn.alpha * np.stack(
        [(x[:, max(0, c - 2):c + 3] ** 2).sum(1) for c in range(7)], 1)) ** lrn.beta
    np.testing.assert_allclose(ours, caffe_reference.lrn(x), rtol=1e-12)


# --- refusals ----------------------------------------------------------------------------------

def _refused(tmp_path, layers, match, **write):
    src = cm.write_caffemodel(tmp_path / "src" / "bad.caffemodel", layers, **write)
    out_dir = tmp_path / "out"
    with pytest.raises(cm.CaffeModelError, match=match) as info:
        convert.convert(src, out_dir / "w.npz", table=small_table())
    assert "bad.caffemodel" in str(info.value)
    assert not out_dir.exists() or list(out_dir.iterdir()) == [], "a refused file left output behind"
    return str(info.value)


def _replace(layers, name, new):
    return [new if n == name else (n, t, a) for n, t, a in layers]


def test_a_mis_shaped_layer_is_refused_by_name(tmp_path):
    layers = small_layers()
    w, b = dict((n, a) for n, _, a in layers if a)["conv2"]
    ungrouped = np.zeros((w.shape[0], w.shape[1] * 2) + w.shape[2:], np.float32)
    _refused(tmp_path, _replace(layers, "conv2", ("conv2", "Convolution", [ungrouped, b])),
             r"layer 'conv2': weights blob has shape \(64, 64, 3, 3\).*expected \(64, 32, 3, 3\)")


def test_a_layer_with_an_unknown_name_is_refused_by_name(tmp_path):
    layers = small_layers()
    arrays = dict((n, a) for n, _, a in layers if a)["fc8"]
    _refused(tmp_path, _replace(layers, "fc8", ("fc8_flickr", "InnerProduct", arrays)),
             r"layer 'fc8_flickr' holds weights but is not in the expected table")


def test_a_missing_layer_a_repeated_layer_a_wrong_type_and_blob_count_are_refused(tmp_path):
    layers = small_layers()
    arrays = dict((n, a) for n, _, a in layers if a)
    _refused(tmp_path / "a", [x for x in layers if x[0] != "fc7"], r"missing layer\(s\) fc7")
    _refused(tmp_path / "b", layers + [("conv1", "Convolution", arrays["conv1"])],
             r"layer 'conv1' appears twice")
    _refused(tmp_path / "c", _replace(layers, "fc6", ("fc6", "Convolution", arrays["fc6"])),
             r"layer 'fc6' has type 'Convolution', expected 'InnerProduct'")
    _refused(tmp_path / "d", _replace(layers, "conv3", ("conv3", "Convolution", arrays["conv3"][:1])),
             r"layer 'conv3' holds 1 blob\(s\), expected 2")
    nan = arrays["conv4"][0].copy()
    nan[0, 0, 0, 0] = np.nan
    _refused(tmp_path / "e", _replace(layers, "conv4", ("conv4", "Convolution", [nan, arrays["conv4"][1]])),
             r"layer 'conv4': weights blob holds NaN")


@pytest.mark.parametrize("keep", [0.999, 0.6, 0.2, 0.0005])
def test_a_truncated_file_is_refused_and_leaves_nothing(tmp_path, keep):
    full = cm.write_caffemodel(tmp_path / "full.caffemodel", small_layers()).read_bytes()
    src = tmp_path / "src" / "bad.caffemodel"
    src.parent.mkdir()
    src.write_bytes(full[:max(1, int(len(full) * keep))])
    out_dir = tmp_path / "out"
    with pytest.raises(cm.CaffeModelError, match="bad.caffemodel") as info:
        convert.convert(src, out_dir / "w.npz", table=small_table())
    assert "truncated" in str(info.value) or "missing layer" in str(info.value)
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_a_truncated_full_model_names_the_layer_it_broke_in(tmp_path, full_model):
    src = tmp_path / "bvlc_alexnet.caffemodel"
    with open(full_model.caffemodel, "rb") as f_in, open(src, "wb") as f_out:
        f_out.write(f_in.read(150_000_000))  # inside fc6's 151 MB of weights
    with pytest.raises(cm.CaffeModelError, match=r"layer 'fc6'.*truncated"):
        convert.convert(src, tmp_path / "out" / "w.npz")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_not_a_caffemodel_is_refused(tmp_path):
    for name, data in (("empty", b""), ("text", b"<html>404 Not Found</html>\n" * 3),
                       ("zeros", b"\x00" * 64)):
        path = tmp_path / f"{name}.caffemodel"
        path.write_bytes(data)
        with pytest.raises(cm.CaffeModelError, match=f"{name}.caffemodel"):
            list(cm.iter_checked_layers(path, small_table()))


# --- the converted file ------------------------------------------------------------------------

def test_npz_holds_float32_and_uint8_only_and_loads_without_pickle(full_model):
    with np.load(full_model.npz, allow_pickle=False) as npz:
        dtypes = {npz[k].dtype for k in npz.files}
    assert dtypes == {np.dtype(np.float32), np.dtype(np.uint8)}
    layers, meta = convert.load(full_model.npz)
    assert meta["source_sha256"] == hashlib.sha256(full_model.caffemodel.read_bytes()).hexdigest()
    assert meta["input"]["channels"] == "BGR" and meta["input"]["mean_bgr"] == [104.0, 116.7, 122.7]
    for caffe_name, (w, b) in full_model.weights.items():
        spec_name = cm.CAFFE_TO_SPEC[caffe_name]
        np.testing.assert_array_equal(layers[spec_name][0], w)
        np.testing.assert_array_equal(layers[spec_name][1], b)


def test_a_tampered_npz_is_refused_by_array_name(tmp_path, full_model):
    layers, meta = convert.load(full_model.npz)
    arrays = {f"{n}.{r}": a for n, pair in layers.items() for r, a in zip(("weights", "bias"), pair)}
    arrays["fc2.bias"] = arrays["fc2.bias"][:10]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(convert.WeightsFileError, match=r"'fc2.bias'"):
        convert.load(tmp_path / "bad.npz")


def test_caffe_input_is_a_bgr_centre_crop_minus_the_mean():
    images = np.zeros((1, 256, 256, 3), np.uint8)
    images[0, 14, 14] = (200, 100, 50)      # R, G, B at the crop's top-left corner
    images[0, 13, 13] = (255, 255, 255)     # outside the centre crop
    x = caffe_input.caffe_batch(images)
    assert x.shape == (1, 227, 227, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, 0], [50 - 104.0, 100 - 116.7, 200 - 122.7], rtol=1e-6)
    np.testing.assert_allclose(x[0, 1, 1], [-104.0, -116.7, -122.7], rtol=1e-6)
    np.testing.assert_allclose(x.transpose(0, 3, 1, 2), caffe_reference.caffe_input(images), atol=1e-4)


# --- known weights in, known logits out, in every framework ---------------------------------

def test_reference_is_sensitive_to_each_conversion(full_model, probe_images):
    """The comparisons below can fail: each conversion done wrong moves the logits by far more
    than the 1e-3 tolerance (channel order, fc6 flatten order, group split, Caffe's LRN)."""
    ref = full_model.reference_logits
    w = full_model.weights
    variants = {"RGB input": lambda x, ww: (x[..., ::-1], ww),
                "HWC flatten": lambda x, ww: (x, {**ww, "fc6": (
                    ww["fc6"][0].reshape(4096, 256, 6, 6).transpose(0, 2, 3, 1).reshape(4096, -1),
                    ww["fc6"][1])}),
                "groups swapped": lambda x, ww: (x, {**ww, "conv2": (
                    np.concatenate([ww["conv2"][0][128:], ww["conv2"][0][:128]]), ww["conv2"][1])})}
    for label, change in variants.items():
        x, ww = change(probe_images, w)
        wrong = caffe_reference.forward(np.ascontiguousarray(x), ww)
        assert _relative_error(wrong, ref).max() > 1e-2, label
    assert len(set(ref.argmax(1))) > 1, "the probe images must not all give one class"


def _relative_error(a, b):
    """Per image: the largest logit difference relative to the image's largest logit."""
    return np.abs(a - b).max(axis=1) / np.abs(b).max(axis=1)


@pytest.fixture(scope="module")
def framework_logits(full_model, probe_images_file, tmp_path_factory):
    out = {}
    folder = tmp_path_factory.mktemp("logits")
    for fw in FRAMEWORKS:
        path = folder / f"{fw}.npy"
        info = run_json_in_env(f"{fw}-cpu", ["tests/probes/pretrained_probe.py", fw, "--weights",
                                             full_model.npz, "--images", probe_images_file,
                                             "--out", path], timeout=600)
        assert info["parameters"] == 60_965_224
        out[fw] = np.load(path, allow_pickle=False)
    return out


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_framework_logits_match_the_numpy_caffe_net(framework, framework_logits, full_model):
    got, ref = framework_logits[framework], full_model.reference_logits
    assert got.shape == ref.shape == (len(ref), 1000)
    assert _relative_error(got, ref).max() < 1e-4, framework
    np.testing.assert_array_equal(got.argmax(1), ref.argmax(1))


def test_the_three_frameworks_agree(framework_logits):
    keras, gluon, pytorch = (framework_logits[fw] for fw in FRAMEWORKS)
    for other in (gluon, pytorch):
        assert _relative_error(other, keras).max() < 1e-3
        np.testing.assert_array_equal(other.argmax(1), keras.argmax(1))


# --- figures, agreement and the report section -------------------------------------------------

def test_accuracy_figures_count_1000_way_and_10_way_hits():
    from alexbench.pretrained.evaluate import accuracy_figures
    indices = [0, 217, 482]                    # three "dataset classes" and their ImageNet indices
    logits = np.zeros((3, 1000), np.float32)
    logits[0, 0] = 5                           # top-1 right
    logits[1, [900, 901, 902, 903, 217]] = [9, 8, 7, 6, 5]   # top-5 right, and best of the three
    logits[2, 999], logits[2, 217] = 9, 1      # wrong everywhere: 217 beats 482 among the three
    labels = np.array([0, 1, 2])
    top1, top5, ten = accuracy_figures(logits, np.asarray(indices)[labels], indices, labels)
    assert (top1, top5, ten) == (pytest.approx(1 / 3), pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_agreement_applies_the_issues_criterion():
    from alexbench.pretrained import agreement
    rng = np.random.default_rng(0)
    base = rng.standard_normal((1000, 1000)).astype(np.float32) * 10
    close = base * np.float32(1 + 1e-6)
    doc = agreement.compare({"pytorch": base, "keras": close, "gluon": base.copy()})
    assert doc["agree"] and doc["identical_top1_min"] == 1.0 and len(doc["pairs"]) == 3
    far = base + np.float32(0.02) * np.abs(base).max(axis=1, keepdims=True)  # 2e-3 relative shift
    assert not agreement.compare({"pytorch": base, "keras": far})["agree"]
    flipped = base.copy()
    for i in range(2):                         # 2 of 1000 images change their top-1: 99.8%
        row = flipped[i]
        row[np.argsort(row)[-2]] = row.max() + 1
    doc = agreement.compare({"pytorch": base, "keras": flipped})
    assert doc["identical_top1_min"] == pytest.approx(0.998) and not doc["agree"]


def _evaluation_metrics(framework, top1, images_per_s):
    return {"schema_version": 1,
            "run": {"weights": "bvlc_alexnet", "framework": framework, "dataset": "imagenette-320",
                    "model": "alexnet-2012", "hardware": "cpu"},
            "smoke": False,
            "versions": {"framework": "1.0", "python": "3.11.9", "numpy": "2.0", "cuda": None,
                         "cudnn": None, "driver": None},
            "device": {"kind": "cpu", "name": "Test CPU", "threads": 2},
            "settings": {"batch_size": 50, "images": 3925, "preprocessing": "caffe",
                         "weights_sha256": "0" * 64},
            "parameters": 60_965_224, "eval_time_s": 3925 / images_per_s,
            "throughput": {"eval_images_per_s": images_per_s},
            "test": {"top1_accuracy": top1, "top5_accuracy": 0.9, "accuracy_10way": 0.97},
            "memory": {"peak_rss_mb": 900.0, "peak_gpu_mb": None},
            "timing_definition": "t", "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": "2026-01-01T00:01:00+00:00"}


def test_published_weights_section_sets_bvlcs_figures_beside_each_framework(tmp_path):
    import jinja2
    from alexbench.pretrained import contract
    from alexbench.reporting import html, published_weights
    run_dirs = []
    for fw, top1, ips in (("pytorch", 0.7312, 41.5), ("keras", 0.7311, 35.25), ("gluon", None, None)):
        run_dir = tmp_path / "results" / "pretrained" / fw / "imagenette-320" / "alexnet-2012" / "cpu"
        run_dir.mkdir(parents=True)
        if top1 is not None:
            contract.write_metrics(run_dir, _evaluation_metrics(fw, top1, ips))
        run_dirs.append(run_dir)
    with pytest.raises(Exception, match="top1_accuracy"):
        contract.write_metrics(tmp_path, {**_evaluation_metrics("keras", 1.5, 1.0)})
    agreement_path = tmp_path / "results" / "pretrained" / "agreement" / "imagenette-320" / "alexnet-2012" / "cpu.json"
    agreement_path.parent.mkdir(parents=True)
    agreement_path.write_text(json.dumps({
        "frameworks": ["pytorch", "keras"], "images": 3925, "identical_top1_min": 0.9995,
        "max_relative_difference": 2.5e-6, "agree": True,
        "criterion": {"identical_top1_min": 0.999, "max_relative_difference": 1e-3},
        "pairs": [{"a": "pytorch", "b": "keras", "identical_top1": 0.9995,
                   "max_relative_difference": 2.5e-6, "within_tolerance": 1.0}]}))
    config = {"weights": {"bvlc_alexnet": {"dataset": "imagenette-320", "published": {
        "reference": "BVLC readme", "dataset": "ILSVRC2012 val", "top1_accuracy": 0.571,
        "top5_accuracy": 0.802}}}}
    section = published_weights.build_section(config, run_dirs, [agreement_path])
    assert published_weights.build_section(config, [], []) is None
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(html.TEMPLATES),
                             undefined=jinja2.StrictUndefined, autoescape=True)
    env.filters["fmt"] = html.fmt
    env.filters["label"] = lambda f: f.capitalize()
    page = env.get_template("published_weights.html.j2").render(
        published_weights=section, colours={})
    assert "not comparable: 10-class subset of the same val distribution" in page
    assert "57.1%" in page and "80.2%" in page
    assert "0.7312" in page and "41.5" in page and "35.2" in page   # top-1 and images/s per framework
    assert "missing" in page                                       # gluon's evaluation did not run
    assert "99.95%" in page and "2.5e-06" in page and "agree" in page


def test_a_v0_layer_inside_a_v1_layer_is_read(tmp_path):
    # The oldest format: NetParameter.layers(2){ layer(1){ name(1) type(2) "innerproduct" blobs(50) } }
    w = np.arange(4, dtype="<f4")
    blob = b"\x20\x04" + b"\x2a\x10" + w.tobytes()             # width 4, packed data
    v0 = b"\x0a\x03fc8" + b"\x12\x0cinnerproduct" + b"\x92\x03" + bytes([len(blob)]) + blob
    v1 = b"\x0a" + bytes([len(v0)]) + v0
    path = tmp_path / "v0.caffemodel"
    path.write_bytes(b"\x12" + bytes([len(v1)]) + v1)
    (layer,) = list(cm.iter_layers(path))
    assert (layer.name, layer.type, layer.blobs[0].shape) == ("fc8", "InnerProduct", (0, 0, 0, 4))
    np.testing.assert_array_equal(layer.blobs[0].data, w)


def test_the_convert_command_refuses_a_model_of_another_table_naming_the_layer(tmp_path):
    from conftest import run_in_env
    src = cm.write_caffemodel(tmp_path / "small.caffemodel", small_layers())
    out = tmp_path / "out" / "bvlc_alexnet.npz"
    proc = run_in_env("report", ["workflow/scripts/convert_caffemodel.py", "--caffemodel", src,
                                 "--out", out], check=False, timeout=300)
    assert proc.returncode == 1
    assert ("small.caffemodel: layer 'conv1': weights blob has shape (32, 1, 3, 3) (legacy "
            "num/channels/height/width), expected (96, 3, 11, 11)") in proc.stderr
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


# --- against Google's protobuf library (in the keras env, which has it) ----------------------

@pytest.mark.parametrize("style", ["layer", "layers"])
def test_protobuf_parses_what_we_write(tmp_path, style):
    path = cm.write_caffemodel(tmp_path / "m.caffemodel", small_layers(), style=style)
    parsed = run_json_in_env("keras-cpu", ["tests/probes/protobuf_probe.py", "parse", path], timeout=300)
    weighted = [(n, a) for n, _, a in small_layers() if a]
    got = [layer for layer in parsed["layers"] if layer["blobs"]]
    assert parsed["name"] == "AlexNet" and [g["name"] for g in got] == [n for n, _ in weighted]
    assert {layer["kind"] for layer in parsed["layers"]} == {style}
    for layer, (name, arrays) in zip(got, weighted):
        for blob, array in zip(layer["blobs"], arrays):
            expected_shape = list(array.shape)
            if style == "layers":
                expected_shape = [1] * (4 - array.ndim) + expected_shape
            assert blob["shape"] == expected_shape, name
            assert blob["count"] == array.size and blob["first"] == float(array.flat[0])
            assert blob["sum"] == pytest.approx(float(array.astype(np.float64).sum()), rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("style", ["layer", "layers"])
def test_we_read_what_protobuf_writes(tmp_path, style):
    path = tmp_path / "pb.caffemodel"
    run_json_in_env("keras-cpu", ["tests/probes/protobuf_probe.py", "write", path, "--style", style],
                    timeout=300)
    table = [cm.ExpectedLayer("conv1", "conv1", "Convolution", ((2, 3, 3, 3), (2,))),
             cm.ExpectedLayer("fc8", "fc3", "InnerProduct", ((4, 5), (4,)))]
    got = {e.caffe_name: (w, b) for e, w, b in cm.iter_checked_layers(path, table)}
    np.testing.assert_array_equal(got["conv1"][0], np.arange(54, dtype=np.float32).reshape(2, 3, 3, 3))
    np.testing.assert_array_equal(got["conv1"][1], [-1, -2])
    np.testing.assert_array_equal(got["fc8"][0], np.arange(20, dtype=np.float32).reshape(4, 5))
    np.testing.assert_array_equal(got["fc8"][1], [-1, -2, -3, -4])
