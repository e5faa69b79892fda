"""Probe for tests/test_gluon_optimizers.py: one update of fw_gluon's optimiser on given tensors.

Runs in the gluon venv. Reads --inputs (npz: per tensor `<k>/weight`, `<k>/grad` and the
optimiser state arrays `<k>/state0`, `<k>/state1`...), builds the optimiser exactly as the
Trainer does (fw_gluon.optimizers.make_optimizer, then mx.optimizer.create with the batch-mean
rescaling gluon.Trainer.step sets), makes one update per tensor with Optimizer.update, and
writes the weights and states after it to --outputs under the same names.
With --round-trip it also trains a small network with a gluon.Trainer using that optimiser:
one step, save_states (what fw_gluon/snapshots.py does around the warm-up step), two steps,
load_states, the same two steps; and reports whether the weights came out identical.

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
    parser.add_argument("--round-trip", action="store_true")
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
    result = {"tensors": keys}
    if args.round_trip:
        result["round_trip_identical"] = states_round_trip(name, kwargs, args.outputs.parent)
    print(json.dumps(result))


def states_round_trip(name, kwargs, folder):
    """Weights after two steps, then again after load_states and the same two steps: equal?"""
    import numpy as np
    import mxnet as mx
    from mxnet import autograd, gluon

    mx.random.seed(0)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(16, activation="relu", in_units=12), gluon.nn.Dense(3, in_units=16))
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), name, dict(kwargs), kvstore=None)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    rng = np.random.default_rng(0)
    batches = [(mx.nd.array(rng.standard_normal((8, 12))), mx.nd.array(rng.integers(0, 3, 8)))
               for _ in range(3)]

    def step(x, y):
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(x.shape[0])

    def weights():
        return [p.data().asnumpy() for p in net.collect_params().values()]

    step(*batches[0])
    saved = [p.data().copy() for p in net.collect_params().values()]
    trainer.save_states(str(folder / "trainer.states"))
    for batch in batches[1:]:
        step(*batch)
    first = weights()
    for p, value in zip(net.collect_params().values(), saved):
        p.set_data(value)
    trainer.load_states(str(folder / "trainer.states"))
    for batch in batches[1:]:
        step(*batch)
    return all(np.array_equal(a, b) for a, b in zip(first, weights()))


if __name__ == "__main__":
    main()
