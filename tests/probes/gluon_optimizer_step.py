"""Probe for tests/test_gluon_optimizers.py: one update of fw_gluon's optimiser on given tensors.

Runs in the gluon venv. Reads --inputs (npz: per tensor `<k>/weight`, `<k>/grad` and the
optimiser state arrays `<k>/state0`, `<k>/state1`...), builds the optimiser exactly as the
Trainer does (fw_gluon.optimizers.make_optimizer, then mx.optimizer.create with the batch-mean
rescaling gluon.Trainer.step sets), makes one update per tensor with Optimizer.update, and
writes the weights and states after it to --outputs under the same names.

    python tests/probes/gluon_optimizer_step.py --optimizer '{"name": "adadelta", ...}' \
        --rescale-grad 0.03125 --inputs in.npz --outputs out.npz
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.harness import runtime  # noqa: E402  (stdlib only)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", required=True, help="resolved optimizer settings (JSON)")
    parser.add_argument("--rescale-grad", required=True, type=float)
    parser.add_argument("--inputs", required=True, type=Path)
    parser.add_argument("--outputs", required=True, type=Path)
    args = parser.parse_args(argv)

    runtime.start_backend("gluon", 1)
    import numpy as np
    import mxnet as mx
    from alexbench.fw_gluon.optimizers import make_optimizer

    name, kwargs = make_optimizer(json.loads(args.optimizer))
    optimizer = mx.optimizer.create(name, rescale_grad=args.rescale_grad, **kwargs)
    inputs = np.load(args.inputs)
    keys = sorted({k.split("/")[0] for k in inputs.files})
    out = {}
    for index, key in enumerate(keys):
        weight = mx.nd.array(inputs[f"{key}/weight"])
        grad = mx.nd.array(inputs[f"{key}/grad"])
        state = optimizer.create_state(index, weight)
        state = state if isinstance(state, (tuple, list)) else (state,)
        for i, array in enumerate(state):
            array[:] = mx.nd.array(inputs[f"{key}/state{i}"])
        grad_before = grad.asnumpy()
        optimizer.update(index, weight, grad, state)
        out[f"{key}/weight"] = weight.asnumpy()
        for i, array in enumerate(state):
            out[f"{key}/state{i}"] = array.asnumpy()
        out[f"{key}/grad_untouched"] = np.array(np.array_equal(grad.asnumpy(), grad_before))
    np.savez(args.outputs, **out)
    print(json.dumps({"tensors": keys}))


if __name__ == "__main__":
    main()
