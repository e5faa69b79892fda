"""Load converted BVLC AlexNet weights into one framework and print its logits (last stdout line,
JSON). Used by tests/test_pretrained.py; not a benchmark.

    python tests/probes/pretrained_probe.py {keras|gluon|pytorch} --weights w.npz --images x.npy --out logits.npy

--images: uint8 RGB (N, 256, 256, 3), as prepared Imagenette images are. The logits come from
the same path the evaluation uses: caffe_input.caffe_batch, then fw_<framework>/pretrained.py.
"""
import argparse
import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.harness import runtime  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("framework")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--images", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    backend = runtime.start_backend(args.framework, 1)
    import numpy as np
    from alexbench.pretrained import caffe_input, convert

    pretrained = importlib.import_module(f"alexbench.fw_{args.framework}.pretrained")
    device = backend.select_device("cpu")
    layers, _ = convert.load(args.weights)
    model = pretrained.build_pretrained_model(layers, device)
    x = caffe_input.caffe_batch(np.load(args.images, allow_pickle=False))
    logits = pretrained.logits(model, x, device)
    np.save(args.out, logits, allow_pickle=False)
    print(json.dumps({"framework": args.framework, "parameters": pretrained.parameter_count(model),
                      "shape": list(logits.shape)}))
