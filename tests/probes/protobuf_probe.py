"""Cross-check alexbench's .caffemodel reader and writer against Google's protobuf library, in the
keras env (TensorFlow brings protobuf). The messages are declared here from Caffe's caffe.proto
field numbers (only the fields used), through descriptor_pb2, without protoc.

    python tests/probes/protobuf_probe.py parse FILE          # JSON summary of a file we wrote
    python tests/probes/protobuf_probe.py write FILE --style layer|layers   # a net for our reader

`write` makes a small net: conv1 (2 x 3 x 3 x 3 weights, 2 biases) and fc8 (4 x 5, 4) with
values 0, 1, 2, ... (weights) and -1, -2, ... (biases). Prints one JSON line.
"""
import argparse
import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def _field(msg, name, number, ftype, label=F.LABEL_OPTIONAL, type_name=None, packed=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if packed is not None:
        f.options.packed = packed


def caffe_messages():
    fd = descriptor_pb2.FileDescriptorProto(name="caffe_subset.proto", package="caffe", syntax="proto2")
    shape = fd.message_type.add(name="BlobShape")
    _field(shape, "dim", 1, F.TYPE_INT64, F.LABEL_REPEATED, packed=True)
    blob = fd.message_type.add(name="BlobProto")
    _field(blob, "shape", 7, F.TYPE_MESSAGE, type_name=".caffe.BlobShape")
    _field(blob, "data", 5, F.TYPE_FLOAT, F.LABEL_REPEATED, packed=True)
    for i, n in enumerate(("num", "channels", "height", "width"), start=1):
        _field(blob, n, i, F.TYPE_INT64)
    layer = fd.message_type.add(name="LayerParameter")
    _field(layer, "name", 1, F.TYPE_STRING)
    _field(layer, "type", 2, F.TYPE_STRING)
    _field(layer, "blobs", 7, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".caffe.BlobProto")
    v1 = fd.message_type.add(name="V1LayerParameter")
    _field(v1, "name", 4, F.TYPE_STRING)
    _field(v1, "type", 5, F.TYPE_INT32)  # an enum on the wire is a varint, as an int32 is
    _field(v1, "blobs", 6, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".caffe.BlobProto")
    net = fd.message_type.add(name="NetParameter")
    _field(net, "name", 1, F.TYPE_STRING)
    _field(net, "layer", 100, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".caffe.LayerParameter")
    _field(net, "layers", 2, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".caffe.V1LayerParameter")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("caffe.NetParameter"))


def summary(net):
    layers = []
    for kind, items in (("layer", net.layer), ("layers", net.layers)):
        for layer in items:
            blobs = [{"shape": list(b.shape.dim) if b.HasField("shape")
                      else [b.num, b.channels, b.height, b.width],
                      "count": len(b.data), "sum": float(sum(b.data)), "first": float(b.data[0]) if b.data else None}
                     for b in layer.blobs]
            layers.append({"kind": kind, "name": layer.name, "type": layer.type, "blobs": blobs})
    return {"name": net.name, "layers": layers}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("parse", "write"))
    parser.add_argument("file")
    parser.add_argument("--style", default="layer")
    args = parser.parse_args()
    Net = caffe_messages()
    if args.mode == "parse":
        net = Net()
        with open(args.file, "rb") as f:
            net.ParseFromString(f.read())
        print(json.dumps(summary(net)))
        return 0
    net = Net(name="AlexNet")
    specs = (("conv1", "Convolution", 4, [2, 3, 3, 3], [2]), ("fc8", "InnerProduct", 14, [4, 5], [4]))
    for name, type_name, code, w_shape, b_shape in specs:
        layer = net.layer.add(name=name, type=type_name) if args.style == "layer" else \
            net.layers.add(name=name, type=code)
        for shape, values in ((w_shape, None), (b_shape, -1)):
            count = 1
            for d in shape:
                count *= d
            blob = layer.blobs.add()
            blob.data.extend([float(i) for i in range(count)] if values is None
                             else [-float(i + 1) for i in range(count)])
            if args.style == "layer":
                blob.shape.dim.extend(shape)
            else:
                padded = [1] * (4 - len(shape)) + shape
                blob.num, blob.channels, blob.height, blob.width = padded
    with open(args.file, "wb") as f:
        f.write(net.SerializeToString())
    print(json.dumps({"written": args.file}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
