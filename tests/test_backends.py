"""The three framework backends (fw_*/loop.py), each run for real in its own venv.

What is proven here, per framework: a training step lowers the loss on a fixed batch; the same
seed gives bit-identical results in two separate processes (and another seed does not);
select_device("gpu") without a GPU raises GPUUnavailableError instead of training on the CPU;
the trainable parameter count matches layer_specs. Across frameworks (the fairness proof): from
the same initial weights (Keras's, converted to PyTorch's and Gluon's layouts), SGD with
momentum and weight decay, Adam and Adadelta give the same losses step by step, and so does
Keras's step compiled by XLA (what a GPU run uses by default) and PyTorch's through torch.compile.

The probes live in tests/probes/backend_*.py; pytest itself never imports a framework.
"""
import json
import types

import pytest

from conftest import FRAMEWORKS, run_json_in_env
from alexbench.common import backend, hardware, registry

TRAIN_PROBE = "tests/probes/backend_train.py"
UPDATE_PROBE = "tests/probes/backend_update_rule.py"
STEPS = 3

# Strong enough to move the loss visibly in three steps: a decoupled or missing weight decay,
# or momentum applied differently, shows up far above float32 noise.
OPTIMIZERS = [
    {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.5, "nesterov": False},
    {"name": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
     "weight_decay": 0.01},
    {"name": "adadelta", "learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7, "weight_decay": 0.0},
]
# float32 kernels differ between frameworks (NHWC vs NCHW convolutions); SGD and Adadelta agree
# to ~1e-6, Adam's sign-like steps amplify that noise to ~1e-4 after three steps. A wrong
# epsilon placement in Adam alone was off by ~1e-2.
RELATIVE_TOLERANCE = {"sgd": 1e-4, "adam": 3e-4, "adadelta": 1e-4}


def train_probe(framework, seed):
    return run_json_in_env(f"{framework}-cpu", [TRAIN_PROBE, "--framework", framework,
                                                 "--seed", seed, "--steps", STEPS], timeout=300)


@pytest.fixture(scope="module", params=FRAMEWORKS)
def runs(request):
    """Three probe runs of one framework: seed 0 twice, seed 1 once."""
    framework = request.param
    return framework, [train_probe(framework, 0), train_probe(framework, 0), train_probe(framework, 1)]


def test_a_training_step_lowers_the_loss(runs):
    framework, (first, _, _) = runs
    losses = first["eval_losses"]
    assert losses[1] < losses[0], f"{framework}: one SGD step did not lower the loss: {losses}"
    assert losses[-1] < losses[1], f"{framework}: further steps did not lower the loss: {losses}"


def test_same_seed_gives_identical_results(runs):
    framework, (first, again, other_seed) = runs
    for key in ("eval_losses", "train_losses", "final_eval"):
        assert first[key] == again[key], f"{framework}: seed 0 twice differs in {key}"
    # ...and the seed is what decides: another seed starts from other weights.
    assert first["eval_losses"][0] != other_seed["eval_losses"][0], \
        f"{framework}: seeds 0 and 1 gave the same initial loss"


def test_parameter_count_matches_layer_specs(runs):
    framework, (first, _, _) = runs
    assert first["parameters"] == first["expected_parameters"], framework


# On a CPU each framework compiles its step as its own default does there: Keras's model.fit
# keeps XLA off without an accelerator, PyTorch runs eagerly, Gluon hybridizes.
CPU_STEP_COMPILER = {"keras": "tf.function", "pytorch": "eager",
                     "gluon": "hybridize(static_alloc, static_shape)"}


def test_the_step_is_compiled_as_the_framework_does_by_default(runs):
    framework, (first, _, _) = runs
    assert first["step_compiler"] == CPU_STEP_COMPILER[framework]


@pytest.mark.skipif(hardware.gpu_visible(), reason="a GPU is visible: a 'gpu' device is legitimate")
def test_gpu_request_without_gpu_raises(runs):
    framework, (first, _, _) = runs
    assert first["gpu"]["raised"] == "GPUUnavailableError", f"{framework}: {first['gpu']}"
    assert "never falls back to CPU" in first["gpu"]["message"]


# The same steps compiled another way, each checked against eager PyTorch too: Keras's with XLA,
# as a GPU run compiles them by default (`keras_jit_compile: true` forces it here), and
# PyTorch's through torch.compile (`torch_compile: true`).
COMPILED = {"keras-xla": ["--xla"], "pytorch-compiled": ["--torch-compile"]}


@pytest.fixture(scope="module")
def update_curves(tmp_path_factory):
    """{framework: {optimizer: [loss before, after step 1..STEPS]}} from shared initial weights."""
    import numpy as np
    work = tmp_path_factory.mktemp("update_rule")
    rng = np.random.default_rng(7)
    batch, weights = work / "batch.npz", work / "weights.npz"
    np.savez(batch, x=rng.random((16, 32, 32, 1), dtype=np.float32),
             y=rng.integers(0, 10, 16).astype(np.int64))
    curves = {}
    # keras first: it exports the shared initial weights.
    for name in [*FRAMEWORKS, *COMPILED]:
        framework = name.split("-")[0]
        args = [UPDATE_PROBE, "--framework", framework, "--batch", batch, "--weights", weights,
                "--optimizers", json.dumps(OPTIMIZERS), "--steps", STEPS]
        extra = {"keras": ["--export"], **COMPILED}.get(name, [])
        curves[name] = run_json_in_env(f"{framework}-cpu", args + extra, timeout=300)
    return curves


@pytest.mark.parametrize("optimizer", [o["name"] for o in OPTIMIZERS])
@pytest.mark.parametrize("framework", [f for f in FRAMEWORKS if f != "pytorch"] + list(COMPILED))
def test_update_rule_matches_pytorch(update_curves, framework, optimizer):
    import numpy as np
    reference = np.array(update_curves["pytorch"][optimizer])
    curve = np.array(update_curves[framework][optimizer])
    assert reference[-1] < reference[0] - 1e-3, f"{optimizer} barely moved the loss: {reference}"
    np.testing.assert_allclose(curve, reference, rtol=RELATIVE_TOLERANCE[optimizer], atol=0,
                               err_msg=f"{framework} vs pytorch, {optimizer}, losses before and "
                                       f"after each of {STEPS} steps from the same weights")


def test_the_compiled_probes_really_compiled(update_curves):
    compilers = {name: curves["step_compiler"] for name, curves in update_curves.items()}
    assert compilers == {**CPU_STEP_COMPILER, "keras-xla": "tf.function + XLA",
                         "pytorch-compiled": "torch.compile"}
    # The label alone would pass a Trainer that says torch.compile and steps the eager module
    # (their losses agree): TorchDynamo must have captured the steps. Eager captures nothing.
    assert update_curves["pytorch"]["dynamo"] == {"graphs": 0, "graph_breaks": {}}
    compiled = update_curves["pytorch-compiled"]["dynamo"]
    assert compiled["graphs"] >= 3, compiled  # training step, evaluation, optimiser step
    # The one break allowed is torch.optim's own: it calls torch._dynamo.graph_break() around
    # every step (Optimizer's _use_grad), so that the update compiles as one graph without
    # gradients. Any other would send part of every step back to eager Python. Its presence
    # shows that the optimiser's step went through Dynamo too (eager, it never breaks).
    assert list(compiled["graph_breaks"]) == ["Call to `torch._dynamo.graph_break()`"], compiled


# --- the declared interface (alexbench/common/backend.py) ---------------------------------------

@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_backend_implements_the_declared_interface(framework):
    result = run_json_in_env(registry.framework(framework).env_name("cpu"),
                             ["tests/probes/backend_interface.py", "--framework", framework],
                             timeout=300)
    assert result == {"framework": framework, "problems": []}


def test_the_interface_check_names_what_a_backend_lacks():
    class Trainer:
        parameters = 1

        def __init__(self, variant, num_classes, settings, device):
            pass

        def train_batch(self, images, labels):  # parameter names differ from the protocol's
            return 0.0, 0

    module = types.ModuleType("fw_demo.loop")
    module.FRAMEWORK = "demo"
    module.Trainer = Trainer
    module.configure_threads = lambda threads: None
    problems = backend.interface_problems(module)
    assert "fw_demo.loop: no function seed_framework" in problems
    assert "fw_demo.loop.Trainer: no method sync" in problems
    assert any("Trainer.train_batch('images', 'labels') should take ('x', 'y')" in p for p in problems)
    assert not any("configure_threads" in p for p in problems)
    with pytest.raises(backend.BackendInterfaceError, match="no function versions"):
        backend.check_backend(module)
