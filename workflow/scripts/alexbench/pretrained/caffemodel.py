"""Read (and, for the demo and tests, write) the BVLC AlexNet .caffemodel: a Caffe NetParameter
in the protobuf wire format, checked layer by layer against the table the weights must fill.

The field numbers are Caffe's own (src/caffe/proto/caffe.proto; docs/pretrained-weights.md):
- NetParameter: layer = 100 (LayerParameter, current), layers = 2 (V1LayerParameter, the format
  of 2014-era files such as bvlc_alexnet.caffemodel). A file holding both is refused, as Caffe
  refuses it.
- LayerParameter: name = 1, type = 2 (string), blobs = 7.
- V1LayerParameter: name = 4, type = 5 (enum: CONVOLUTION 4, INNER_PRODUCT 14), blobs = 6, and
  layer = 1 for the even older V0LayerParameter (name = 1, type = 2 string, blobs = 50).
- BlobProto: shape = 7 (BlobShape: dim = 1, packed int64), data = 5 (float, packed or not),
  double_data = 8 (refused: the weights are float), legacy num/channels/height/width = 1..4.
A legacy 4-D blob matches an expected shape padded with leading 1s (V1 files store the fc
weights as 1x1xOUTxIN and biases as 1x1x1xN), the rule Caffe's Blob::ShapeEquals applies.

Bounded memory: the file is walked, never read whole; each blob's floats are read once, straight
into their array, and `iter_checked_layers` hands over one layer at a time (the largest, fc6, is
151 MB). Refusals raise CaffeModelError naming the file and the layer.

Not for: converting to .npz (convert.py) or building framework models.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexbench.common import layer_specs
from alexbench.common.atomic_files import write_atomically
from alexbench.pretrained import protobuf_wire as wire

MODEL = "alexnet-2012"
NUM_CLASSES = 1000
# Caffe's layer names (models/bvlc_alexnet/deploy.prototxt) -> layer_specs' names.
CAFFE_TO_SPEC = {"conv1": "conv1", "conv2": "conv2", "conv3": "conv3", "conv4": "conv4",
                 "conv5": "conv5", "fc6": "fc1", "fc7": "fc2", "fc8": "fc3"}
V1_TYPES = {4: "Convolution", 14: "InnerProduct"}  # V1LayerParameter.LayerType values we use
V0_TYPES = {"conv": "Convolution", "innerproduct": "InnerProduct"}  # upgrade_proto.cpp's names


class CaffeModelError(ValueError):
    """The file is not the expected Caffe model; the message names the file and the layer."""


@dataclass(frozen=True)
class ExpectedLayer:
    caffe_name: str
    spec_name: str
    caffe_type: str            # "Convolution" or "InnerProduct"
    shapes: tuple              # (weights shape in Caffe's layout, bias shape)


@dataclass
class Blob:
    shape: tuple
    legacy: bool               # shape from num/channels/height/width instead of BlobShape
    data: np.ndarray           # float32, flat


@dataclass
class Layer:
    name: str
    type: str
    blobs: list


def expected_table(model: str = MODEL, num_classes: int = NUM_CLASSES) -> list[ExpectedLayer]:
    """The weighted layers of `model` in Caffe's layout: conv weights (out, in/groups, kh, kw),
    inner-product weights (out, in), biases (out,). Derived from layer_specs, so the table and
    the models the weights go into cannot disagree."""
    spec_to_caffe = {v: k for k, v in CAFFE_TO_SPEC.items()}
    table = []
    for r in layer_specs.resolve(model, num_classes):
        spec = r.layer
        if isinstance(spec, layer_specs.Conv):
            shapes = ((spec.filters, r.in_channels // spec.groups, spec.kernel, spec.kernel),
                      (spec.filters,))
            kind = "Convolution"
        elif isinstance(spec, layer_specs.Dense):
            shapes, kind = ((r.units, r.in_units), (r.units,)), "InnerProduct"
        else:
            continue
        table.append(ExpectedLayer(spec_to_caffe[spec.name], spec.name, kind, shapes))
    return table


# --- reading --------------------------------------------------------------------------------

def _read_blob_shape(reader: wire.Reader) -> tuple:
    sub = reader.sub_reader()
    dims = []
    while not sub.at_end():
        field, wire_type = sub.read_tag()
        if field == 1 and wire_type == wire.LENGTH_DELIMITED:
            dims += sub.read_packed_varints()
        elif field == 1 and wire_type == wire.VARINT:
            dims.append(sub.read_varint())
        else:
            sub.skip(wire_type)
    return tuple(dims)


def _read_blob(reader: wire.Reader) -> Blob:
    sub = reader.sub_reader()
    legacy = [0, 0, 0, 0]
    has_legacy, shape, chunks = False, None, []
    while not sub.at_end():
        field, wire_type = sub.read_tag()
        if field in (1, 2, 3, 4) and wire_type == wire.VARINT:
            legacy[field - 1], has_legacy = sub.read_varint(), True
        elif field == 5 and wire_type == wire.LENGTH_DELIMITED:
            chunks.append(sub.read_packed_floats())
        elif field == 5 and wire_type == wire.FIXED32:
            chunks.append(sub.read_unpacked_floats(5))
        elif field == 7 and wire_type == wire.LENGTH_DELIMITED:
            shape = _read_blob_shape(sub)
        elif field == 8:
            raise wire.WireFormatError("blob holds double-precision data (double_data); the "
                                       "published weights are float32")
        else:
            sub.skip(wire_type)  # diff, double_diff, fields of later Caffe versions
    data = chunks[0] if len(chunks) == 1 else (
        np.concatenate(chunks) if chunks else np.empty(0, "<f4"))
    if shape is not None:
        return Blob(shape, False, data)
    return Blob(tuple(legacy) if has_legacy else (), True, data)


# (name field, type field, blobs field, type is an enum) per layer message kind
_LAYER_FIELDS = {"layer": (1, 2, 7, False), "layers": (4, 5, 6, True), "v0": (1, 2, 50, False)}


def _read_layer(sub: wire.Reader, kind: str, index: int, claimed_end=None) -> Layer:
    """The layer message `sub` reads. `claimed_end`: where the message says it ends when that is
    past the end of the file; it is still read as far as it goes, so the error names the layer."""
    name_field, type_field, blobs_field, type_is_enum = _LAYER_FIELDS[kind]
    layer = Layer(name=f"#{index}", type="", blobs=[])
    try:
        while not sub.at_end():
            field, wire_type = sub.read_tag()
            if field == name_field and wire_type == wire.LENGTH_DELIMITED:
                layer.name = sub.read_string()
            elif field == type_field and type_is_enum and wire_type == wire.VARINT:
                code = sub.read_varint()
                layer.type = V1_TYPES.get(code, f"V1 type {code}")
            elif field == type_field and not type_is_enum and wire_type == wire.LENGTH_DELIMITED:
                layer.type = sub.read_string()
                if kind == "v0":
                    layer.type = V0_TYPES.get(layer.type, layer.type)
            elif field == blobs_field and wire_type == wire.LENGTH_DELIMITED:
                layer.blobs.append(_read_blob(sub))
            elif kind == "layers" and field == 1 and wire_type == wire.LENGTH_DELIMITED:
                inner = _read_layer(sub.sub_reader(), "v0", index)  # a V1 layer wrapping a V0 one
                layer.name = inner.name if layer.name.startswith("#") else layer.name
                layer.type = layer.type or inner.type
                layer.blobs += inner.blobs
            else:
                sub.skip(wire_type)
        if claimed_end is not None:
            raise wire.WireFormatError(f"the layer claims bytes up to {claimed_end}, but the "
                                       f"file ends at byte {sub.end}: truncated")
    except wire.WireFormatError as e:
        raise wire.WireFormatError(f"layer {layer.name!r}: {e}") from None
    return layer


def iter_layers(path):
    """Yield every layer of the NetParameter in `path` (in file order), blobs read in full."""
    path = Path(path)
    seen_kinds = set()
    with open(path, "rb") as f:
        reader = wire.Reader.for_file(f)
        if reader.end == 0:
            raise CaffeModelError(f"{path}: empty file, not a Caffe model")
        index = 0
        try:
            while not reader.at_end():
                field, wire_type = reader.read_tag()
                kind = {100: "layer", 2: "layers"}.get(field)
                if kind and wire_type == wire.LENGTH_DELIMITED:
                    seen_kinds.add(kind)
                    if len(seen_kinds) > 1:
                        raise CaffeModelError(f"{path}: holds both 'layer' and 'layers' (V1) "
                                              "fields; Caffe refuses such a file too")
                    index += 1
                    length = reader.read_varint()
                    start = reader.position
                    end = min(start + length, reader.end)
                    claimed = start + length if start + length > reader.end else None
                    yield _read_layer(wire.Reader(reader.stream, end), kind, index, claimed)
                else:
                    reader.skip(wire_type)
        except wire.WireFormatError as e:
            raise CaffeModelError(f"{path}: not a well-formed Caffe model: {e}") from None


def _matches(blob: Blob, expected: tuple) -> bool:
    if not blob.legacy:
        return tuple(blob.shape) == tuple(expected)
    return tuple(blob.shape) == (1,) * (4 - len(expected)) + tuple(expected)


def check_layer(path, layer: Layer, expected: ExpectedLayer) -> tuple:
    """(weights, bias) of `layer` in the expected shapes; CaffeModelError naming it otherwise."""
    where = f"{path}: layer {layer.name!r}"
    if layer.type != expected.caffe_type:
        raise CaffeModelError(f"{where} has type {layer.type or 'unset'!r}, expected "
                              f"{expected.caffe_type!r}")
    if len(layer.blobs) != 2:
        raise CaffeModelError(f"{where} holds {len(layer.blobs)} blob(s), expected 2 "
                              "(weights and bias)")
    arrays = []
    for blob, shape, role in zip(layer.blobs, expected.shapes, ("weights", "bias")):
        if not _matches(blob, shape):
            raise CaffeModelError(f"{where}: {role} blob has shape {tuple(blob.shape)}"
                                  f"{' (legacy num/channels/height/width)' if blob.legacy else ''}"
                                  f", expected {shape}")
        if blob.data.size != math.prod(shape):
            raise CaffeModelError(f"{where}: {role} blob declares shape {shape} but holds "
                                  f"{blob.data.size} values, expected {math.prod(shape)}")
        if not np.isfinite(blob.data).all():
            raise CaffeModelError(f"{where}: {role} blob holds NaN or infinite values")
        arrays.append(blob.data.reshape(shape))
    return tuple(arrays)


def iter_checked_layers(path, table=None):
    """Yield (ExpectedLayer, weights, bias) for each weighted layer of `path`, in file order,
    after checking it against `table` (default: expected_table()). Raises CaffeModelError naming
    the layer for an unknown or repeated weighted layer, a wrong type, blob count or shape, and
    at the end for expected layers the file lacks. Layers without blobs (ReLU, LRN, pooling,
    dropout, data, loss) carry nothing to check and are passed over."""
    table = {e.caffe_name: e for e in (table or expected_table())}
    done = set()
    for layer in iter_layers(path):
        if not layer.blobs:
            continue
        expected = table.get(layer.name)
        if expected is None:
            raise CaffeModelError(f"{path}: layer {layer.name!r} holds weights but is not in the "
                                  f"expected table ({', '.join(table)})")
        if layer.name in done:
            raise CaffeModelError(f"{path}: layer {layer.name!r} appears twice")
        weights, bias = check_layer(path, layer, expected)
        done.add(layer.name)
        yield expected, weights, bias
    missing = [name for name in table if name not in done]
    if missing:
        raise CaffeModelError(f"{path}: missing layer(s) {', '.join(missing)} "
                              "(truncated, or not the BVLC AlexNet model)")


# --- writing (synthetic models for the demo and the tests) ---------------------------------

def _blob_parts(array: np.ndarray, legacy: bool, packed: bool) -> list:
    shape = tuple(int(d) for d in array.shape)
    parts = []
    if legacy:
        padded = (1,) * (4 - len(shape)) + shape
        parts.append(b"".join(wire.encode_varint_field(i + 1, d) for i, d in enumerate(padded)))
    if packed:
        parts += wire.packed_floats_parts(5, array)
    else:
        parts.append(wire.unpacked_floats_bytes(5, array))
    if not legacy:
        parts += wire.message_parts(7, [wire.encode_packed_varints(1, shape)])
    return parts


def layer_parts(name: str, caffe_type: str, arrays, style: str = "layers",
                legacy_shapes: bool | None = None, packed: bool = True) -> list:
    """One layer of a NetParameter as bytes pieces (array data uncopied).

    style "layer": LayerParameter in NetParameter field 100; "layers": V1LayerParameter in
    field 2 (the 2014 format). legacy_shapes defaults to True for "layers"."""
    legacy = (style == "layers") if legacy_shapes is None else legacy_shapes
    if style == "layer":
        head = wire.encode_string_field(1, name) + wire.encode_string_field(2, caffe_type)
        blob_field, net_field = 7, 100
    elif style == "layers":
        codes = {v: k for k, v in V1_TYPES.items()}
        codes.update({"Data": 5, "ReLU": 18, "LRN": 15, "Pooling": 17, "Dropout": 6,
                      "SoftmaxWithLoss": 21, "Accuracy": 1})
        head = wire.encode_string_field(4, name) + wire.encode_varint_field(5, codes[caffe_type])
        blob_field, net_field = 6, 2
    else:
        raise ValueError(f"style must be 'layer' or 'layers', got {style!r}")
    parts = [head]
    for array in arrays:
        parts += wire.message_parts(blob_field, _blob_parts(array, legacy, packed))
    return wire.message_parts(net_field, parts)


def write_caffemodel(path, layers, net_name: str = "AlexNet", style: str = "layers",
                     legacy_shapes: bool | None = None, packed: bool = True) -> Path:
    """Write a NetParameter of `layers` ((name, caffe type, [arrays]) in order, an iterable that
    may produce each layer's arrays only when asked) atomically to `path`."""
    def write(f):
        f.write(wire.encode_string_field(1, net_name))
        for name, caffe_type, arrays in layers:
            for part in layer_parts(name, caffe_type, arrays, style, legacy_shapes, packed):
                f.write(part)
    return write_atomically(path, write, mode="wb")


# Caffe's train_val.prototxt order, with the layers that hold no weights.
BVLC_ALEXNET_LAYERS = (
    ("data", "Data"), ("conv1", "Convolution"), ("relu1", "ReLU"), ("norm1", "LRN"),
    ("pool1", "Pooling"), ("conv2", "Convolution"), ("relu2", "ReLU"), ("norm2", "LRN"),
    ("pool2", "Pooling"), ("conv3", "Convolution"), ("relu3", "ReLU"), ("conv4", "Convolution"),
    ("relu4", "ReLU"), ("conv5", "Convolution"), ("relu5", "ReLU"), ("pool5", "Pooling"),
    ("fc6", "InnerProduct"), ("relu6", "ReLU"), ("drop6", "Dropout"), ("fc7", "InnerProduct"),
    ("relu7", "ReLU"), ("drop7", "Dropout"), ("fc8", "InnerProduct"), ("accuracy", "Accuracy"),
    ("loss", "SoftmaxWithLoss"))


def synthetic_layers(seed: int, table=None):
    """(name, type, [weights, bias]) in BVLC AlexNet's layer order with seeded random weights:
    He-normal weights (std sqrt(2 / fan_in)) keep activations of a ReLU net at the input's
    scale, so the logits of a test image are well spread; biases U(-0.1, 0.1). One layer's arrays
    at a time (a generator)."""
    table = {e.caffe_name: e for e in (table or expected_table())}
    rng = np.random.default_rng([seed, 2012])
    for name, caffe_type in BVLC_ALEXNET_LAYERS:
        expected = table.get(name)
        if expected is None:
            yield name, caffe_type, []
            continue
        w_shape, b_shape = expected.shapes
        fan_in = math.prod(w_shape[1:])
        weights = rng.standard_normal(w_shape, dtype=np.float32)
        weights *= np.float32(math.sqrt(2.0 / fan_in))
        bias = rng.uniform(-0.1, 0.1, b_shape).astype(np.float32)
        yield name, caffe_type, [weights, bias]
