"""Evidence: can MXNet 1.9.1's AMP (mxnet.contrib.amp) TRAIN each alexbench variant in bfloat16 on CPU?

Run in the gluon venv (it imports MXNet):

    OMP_NUM_THREADS=1 .venvs/gluon-cpu/bin/python bench/gluon_bf16_probe.py [--variants ...] [--json out.json]

For each variant it builds the project's own Gluon network (fw_gluon/models.py) after
`amp.init(target_dtype="bfloat16")`, hybridizes it, and takes a few SGD steps on one fixed random
batch, recording per variant: whether forward, backward and the update ran; the dtypes of the
parameters and their gradients (fp32 master weights need float32 for both); whether the hybridized
graph really casts Convolution/FullyConnected inputs to bfloat16 (amp_cast nodes in the graph);
and the loss per step beside a float32 run from the same weights and batch (it trains when every
bf16 loss is finite and within TOLERANCE of float32's: the trajectory, not whether it falls, since
alexnet-2012 with its paper initialisation rises in float32 too on one random batch). docs/precision.md summarises the
result; common/registry.py refuses what failed.

Not for: speed (bench/frameworks.py), or anything the workflow runs.
"""
import argparse
import json
import os
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

import numpy as np  # noqa: E402
import mxnet as mx  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402
from mxnet.contrib import amp  # noqa: E402

from alexbench.common import layer_specs  # noqa: E402

STEPS = 4
TOLERANCE = 0.05  # relative; bfloat16 keeps 8 significant bits (about 0.4% per rounding)
BATCH = 4


def cpu_flags():
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return sorted(flags & {"avx512_bf16", "amx_bf16", "avx512f"})


def batch(variant, seed=0):
    h, w, c = layer_specs.input_shape(variant)
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, c, h, w), dtype=np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.float32)
    return mx.nd.array(x), mx.nd.array(y)


def train_steps(model, x, y, steps):
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": 0.01}, kvstore=None)
    losses = []
    for _ in range(steps):
        with autograd.record():
            out = model(x)
            loss = loss_fn(out, y)
        loss.backward()
        trainer.step(x.shape[0])
        losses.append(float(loss.mean().asscalar()))
    return losses, out


def probe(variant, build_model):
    found = {"variant": variant}
    x, y = batch(variant)
    try:
        mx.random.seed(0)
        model = build_model(variant, 10)
        model.hybridize(static_alloc=True, static_shape=True)
        losses, out = train_steps(model, x, y, STEPS)
        mx.nd.waitall()
        params = model.collect_params()
        found["param_dtypes"] = sorted({str(np.dtype(p.dtype)) for p in params.values()})
        found["grad_dtypes"] = sorted({np.dtype(p.grad().dtype).name for p in params.values()
                                       if p.grad_req != "null"})
        found["logits_dtype"] = "bfloat16" if out.dtype == amp.amp.bfloat16 else np.dtype(out.dtype).name
        # tojson drops amp_cast nodes unless told not to (MXNet 1.9).
        graph = json.loads(model._cached_graph[1].tojson(remove_amp_cast=False))
        casts = [n for n in graph["nodes"] if n["op"] in ("amp_cast", "amp_multicast")]
        found["bf16_casts"] = sum(1 for n in casts if "bfloat16" in json.dumps(n.get("attrs", {})))
        found["losses"] = losses
        found["ok"] = bool(all(np.isfinite(losses))) and found["bf16_casts"] > 0 and \
            found["param_dtypes"] == ["float32"] and found["grad_dtypes"] == ["float32"]
    except Exception as e:  # the evidence is the error itself
        found["ok"] = False
        found["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300]}"
        found["traceback_tail"] = traceback.format_exc().strip().splitlines()[-3:]
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=[v for v in layer_specs.MODEL_NAMES
                                                           if v != "alexnet-cifar-256"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from alexbench.fw_gluon.models import build_model
    # float32 first (amp.init rewrites MXNet's operator functions for the whole process), from
    # the same seeded weights, for the first-step loss gap.
    fp32 = {}
    for variant in args.variants:
        mx.random.seed(0)
        model = build_model(variant, 10)
        model.hybridize(static_alloc=True, static_shape=True)
        fp32[variant] = train_steps(model, *batch(variant), STEPS)[0]
    amp.init(target_dtype="bfloat16")  # before the bf16 models are built (MXNet's AMP guide)
    results = []
    for variant in args.variants:
        r = probe(variant, build_model)
        r["fp32_losses"] = fp32[variant]
        if r.get("losses"):
            gaps = [abs(a - b) / abs(b) for a, b in zip(r["losses"], fp32[variant])]
            r["max_rel_gap"] = max(gaps)
            r["ok"] = r["ok"] and r["max_rel_gap"] <= TOLERANCE
        print(json.dumps(r), flush=True)
        results.append(r)
    doc = {"mxnet": mx.__version__, "cpu_flags": cpu_flags(),
           "mkldnn": mx.runtime.Features().is_enabled("MKLDNN"), "results": results}
    print(json.dumps({k: v for k, v in doc.items() if k != "results"}))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
