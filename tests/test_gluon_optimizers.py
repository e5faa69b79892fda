"""fw_gluon's Adadelta, one update at a time, against the formula PyTorch and Keras use.

fw_gluon/optimizers.py computes Adadelta with one square root instead of two (the formula
regrouped, for speed; bench/README.md "Gluon's Adadelta on S0"). The cross-framework test
(tests/test_backends.py) compares whole networks' losses to 1e-4; this one holds a single update
of the real optimiser (run in the gluon venv by tests/probes/gluon_optimizer_step.py) to the
two-root formula in float64, element by element, to 1e-6: on a conv kernel, a matrix and a bias,
with zero and non-zero accumulators, gradients over six orders of magnitude, a learning rate
other than 1 (MXNet's own AdaDelta ignores it) and with and without weight decay (L2 added to
the gradient); and that the optimiser's state survives gluon.Trainer's save_states/load_states.
"""
import json

import numpy as np
import pytest

from conftest import run_json_in_env

PROBE = "tests/probes/gluon_optimizer_step.py"
SHAPES = {"conv": (8, 3, 3, 3), "matrix": (64, 50), "bias": (16,)}
RESCALE = 1 / 32     # gluon.Trainer.step(batch_size=32): the batch-mean gradient
RTOL = 1e-6


def adadelta_reference(weight, grad, acc_g, acc_delta, lr, rho, eps, wd, rescale):
    """torch.optim.Adadelta's update (weight decay as L2 on the gradient), in float64 from the
    gradient on: g = grad*rescale + wd*w in float32 as every framework forms it (where the two
    terms nearly cancel, float64 here would differ from any float32 optimiser by far more than
    the update's own rounding)."""
    g32 = np.float32(rescale) * grad
    if wd:
        g32 = g32 + np.float32(wd) * weight
    w, acc_g, acc_delta = (np.asarray(a, np.float64) for a in (weight, acc_g, acc_delta))
    g = g32.astype(np.float64)
    acc_g = rho * acc_g + (1 - rho) * g * g
    delta = np.sqrt(acc_delta + eps) / np.sqrt(acc_g + eps) * g
    acc_delta = rho * acc_delta + (1 - rho) * delta * delta
    return w - lr * delta, acc_g, acc_delta


def random_inputs(rng, weights_zero):
    """Per tensor: weight, gradient (1e-4..1e2, some exact zeros) and accumulators (the first
    step's zeros, and values around and far from epsilon)."""
    arrays = {}
    for key, shape in SHAPES.items():
        grad = rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 3, shape)
        grad[rng.random(shape) < 0.05] = 0.0
        accumulators = []
        for _ in range(2):
            acc = 10.0 ** rng.uniform(-10, 1, shape)
            acc[rng.random(shape) < 0.3] = 0.0
            accumulators.append(acc)
        weight = np.zeros(shape) if weights_zero else rng.uniform(-1e-2, 1e-2, shape)
        for name, value in (("weight", weight), ("grad", grad), ("state0", accumulators[0]),
                            ("state1", accumulators[1])):
            arrays[f"{key}/{name}"] = value.astype(np.float32)
    return arrays


@pytest.mark.parametrize("lr, wd, weights_zero", [(1.0, 0.0, True), (0.5, 0.0, True),
                                                  (0.5, 0.01, False)],
                         ids=["S0-settings", "lr-0.5", "lr-0.5-weight-decay"])
def test_one_adadelta_update_matches_the_formula(tmp_path, lr, wd, weights_zero):
    rho, eps = 0.95, 1e-7
    inputs = random_inputs(np.random.default_rng(3), weights_zero)
    np.savez(tmp_path / "in.npz", **inputs)
    optimizer = {"name": "adadelta", "learning_rate": lr, "rho": rho, "epsilon": eps,
                 "weight_decay": wd}
    result = run_json_in_env("gluon-cpu", [
        PROBE, "--optimizer", json.dumps(optimizer), "--rescale-grad", RESCALE,
        "--inputs", tmp_path / "in.npz", "--outputs", tmp_path / "out.npz", "--round-trip"],
        timeout=300)
    # Saving and loading the trainer's states (the harness does it around the warm-up step)
    # leaves the next steps exactly as they were.
    assert result["round_trip_identical"] is True
    out = np.load(tmp_path / "out.npz")
    for key in SHAPES:
        expected = adadelta_reference(*(inputs[f"{key}/{n}"] for n in
                                         ("weight", "grad", "state0", "state1")),
                                      lr=lr, rho=rho, eps=eps, wd=wd, rescale=RESCALE)
        new_weight, acc_g, acc_delta = expected
        for name, want in (("state0", acc_g), ("state1", acc_delta)):
            np.testing.assert_allclose(out[f"{key}/{name}"], want, rtol=RTOL, atol=0,
                                       err_msg=f"{key} {name} after one update (lr {lr}, wd {wd})")
        # The weight's step to RTOL, plus the one float32 rounding of the new weight (where the
        # step nearly cancels the weight, that rounding is larger than RTOL of the result).
        old = inputs[f"{key}/weight"].astype(np.float64)
        step, want_step = out[f"{key}/weight"] - old, new_weight - old
        allowed = RTOL * np.abs(want_step) + np.spacing(np.abs(new_weight).astype(np.float32))
        worst = np.argmax(np.abs(step - want_step) - allowed)
        assert np.all(np.abs(step - want_step) <= allowed), \
            (f"{key} weight step (lr {lr}, wd {wd}): {step.flat[worst]!r} instead of "
             f"{want_step.flat[worst]!r} at flat index {worst}")
        assert np.abs(want_step).max() > 0
        assert bool(out[f"{key}/grad_untouched"]), \
            f"{key}: the update changed the caller's gradient"
