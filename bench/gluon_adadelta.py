"""Where a Gluon training step on S0 goes: the network against the Adadelta update, per update.

Run with the gluon venv's python, from the repository root:

    .venvs/gluon-cpu/bin/python bench/gluon_adadelta.py --threads 2 --rounds 5 --steps 10

Builds the S0 network (alexnet-mnist, batch 32) exactly as the harness does (runtime.start_backend,
seed_everything, fw_gluon.loop.Trainer) and trains it on prepared random batches with several
optimisers in turn, interleaved round by round (so that a change in the machine's load hits all
of them alike), each with its own gluon.Trainer and state over the same network:

- `one-root`: fw_gluon.optimizers.AdaDeltaLR, what runs use (one square root per update);
- `two-root`: the previous AdaDeltaLR (in-place NDArray ops, the formula as written, two roots);
- `mxnet-builtin`: mx.optimizer.AdaDelta (the same formula only at lr 1 without weight decay,
  and it scales the caller's gradient in place: timed for comparison, never used);
- `sgd`: plain SGD (one fused pass per parameter): what the network alone costs.

Each step is timed in three synced parts: network (NHWC batch to the device, forward, loss,
backward), update (gluon.Trainer.step) and read-back (loss and accuracy to Python), and the whole.
Prints a table of medians and the busy cores of the rest of the machine, and one JSON line last.

With --ops it times single MXNet operators instead, on one array as large as all of S0's
parameters together (3,900,938 floats), each into a preallocated output unless named "new":
what one pass of the update costs (a cheap pass, a division, the square root, the fused
rmsprop_update kernel) against numpy's square root on the same data.
Not for: comparing frameworks (frameworks.py) or figures for the report.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from alexbench.harness import runtime  # noqa: E402  (stdlib only: before numpy and mxnet)
from alexbench.harness.settings import resolve_settings  # noqa: E402

VARIANT, CLASSES, BATCH = "alexnet-mnist", 10, 32
S0_ADADELTA = {"name": "adadelta", "learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7}
S0_SETTINGS = {"epochs": 1, "batch_size": BATCH, "optimizer": S0_ADADELTA, "validation": "test"}


def machine_busy_seconds():
    """CPU seconds every process on the machine has spent so far (/proc/stat, all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    times = os.times()
    return times.user + times.system


def register_two_root(mx):
    """The AdaDeltaLR that fw_gluon used before the one-root form: in-place ops, two roots."""

    @mx.optimizer.register
    class AdaDeltaTwoRoot(mx.optimizer.Optimizer):
        def __init__(self, rho=0.95, epsilon=1e-7, **kwargs):
            super().__init__(**kwargs)
            self.rho, self.epsilon = rho, epsilon

        def create_state(self, index, weight):
            return (mx.nd.zeros(weight.shape, weight.context),
                    mx.nd.zeros(weight.shape, weight.context))

        def update(self, index, weight, grad, state):
            self._update_count(index)
            lr = self._get_lr(index)
            grad = grad * self.rescale_grad
            acc_g, acc_delta = state
            acc_g *= self.rho
            acc_g += (1.0 - self.rho) * grad * grad
            delta = mx.nd.sqrt(acc_delta + self.epsilon)
            delta /= mx.nd.sqrt(acc_g + self.epsilon)
            delta *= grad
            acc_delta *= self.rho
            acc_delta += (1.0 - self.rho) * delta * delta
            weight -= lr * delta


def optimisers():
    """name -> (MXNet optimizer name, keyword arguments)."""
    from alexbench.fw_gluon.optimizers import make_optimizer
    adadelta = dict(learning_rate=1.0, rho=0.95, epsilon=1e-7)
    return {"one-root": make_optimizer(resolve_settings(S0_SETTINGS)["optimizer"]),
            "two-root": ("adadeltatworoot", adadelta),
            "mxnet-builtin": ("adadelta", adadelta),
            "sgd": ("sgd", {"learning_rate": 0.01})}


def timed_step(trainer, gluon_trainer, x, y, mx, autograd):
    """(network s, update s, read-back s) of one training step, synced between the parts."""
    mx.nd.waitall()
    t0 = time.perf_counter()
    xb, yb = trainer._inputs(x, y)
    with autograd.record():
        logits = trainer.model(xb)
        loss = trainer.loss_fn(logits, yb)
    loss.backward()
    mx.nd.waitall()
    t1 = time.perf_counter()
    gluon_trainer.step(xb.shape[0])
    mx.nd.waitall()
    t2 = time.perf_counter()
    correct = (logits.argmax(axis=1) == yb).sum()
    float(loss.mean().asscalar()), int(correct.asscalar())
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def time_ops(mx, np, repeats=15):
    """Median ms of single operators on one S0-sized float32 array (see the module doc)."""
    n = 3900938
    rng = np.random.default_rng(0)
    host = rng.random(n, dtype=np.float32) + 0.1
    a, b = mx.nd.array(host), mx.nd.array(rng.random(n, dtype=np.float32) + 0.1)
    out, state, zeros = mx.nd.zeros(n), mx.nd.ones(n), mx.nd.zeros(n)
    host_out = np.empty_like(host)
    ops = {"multiply by a scalar": lambda: mx.nd.contrib.quadratic(a, b=0.5, out=out),
           "multiply by a scalar, new array": lambda: mx.nd.contrib.quadratic(a, b=0.5),
           "a*x^2+b*x+c (contrib.quadratic)": lambda: mx.nd.contrib.quadratic(a, a=0.5, b=1.0,
                                                                             c=1e-7, out=out),
           "in-place add": lambda: out.__iadd__(b),
           "divide": lambda: mx.nd.elemwise_div(a, b, out=out),
           "square root (nd.sqrt)": lambda: mx.nd.sqrt(a, out=out),
           "rmsprop_update (one root, fused)": lambda: mx.nd.rmsprop_update(
               zeros, a, state, out=out, lr=1.0, gamma1=1.0, epsilon=0.0),
           "sgd_update (fused)": lambda: mx.nd.sgd_update(out, a, out=out, lr=0.0),
           "numpy square root, one thread": lambda: np.sqrt(host, out=host_out)}
    result = {}
    for name, op in ops.items():
        times = []
        for i in range(repeats + 3):
            mx.nd.waitall()
            start = time.perf_counter()
            op()
            mx.nd.waitall()
            if i >= 3:
                times.append(time.perf_counter() - start)
        result[name] = 1000 * float(np.median(times))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per optimiser per round")
    parser.add_argument("--only", nargs="+", default=None, help="optimiser names to time")
    parser.add_argument("--ops", action="store_true", help="time single operators instead")
    args = parser.parse_args(argv)

    backend = runtime.start_backend("gluon", args.threads)
    runtime.seed_everything(backend, 0)
    import numpy as np
    import mxnet as mx
    from mxnet import autograd, gluon

    if args.ops:
        busy0, own0, wall0 = machine_busy_seconds(), own_cpu_seconds(), time.monotonic()
        ops = time_ops(mx, np)
        other = max(0.0, ((machine_busy_seconds() - busy0) - (own_cpu_seconds() - own0))
                    / (time.monotonic() - wall0))
        for name, ms in ops.items():
            print(f"{name:<36}{ms:>8.2f} ms")
        print(f"other processes used {other:.2f} of {os.cpu_count()} cores meanwhile")
        print(json.dumps({"threads": args.threads, "other_cores": other, "ops_ms": ops}))
        return 0

    register_two_root(mx)
    settings = resolve_settings(S0_SETTINGS)
    trainer = backend.Trainer(VARIANT, CLASSES, settings, backend.select_device("cpu"))
    rng = np.random.default_rng(0)
    batches = [(rng.random((BATCH, 28, 28, 1), dtype=np.float32),
                rng.integers(0, CLASSES, BATCH).astype(np.int64)) for _ in range(args.steps)]
    chosen = {k: v for k, v in optimisers().items() if not args.only or k in args.only}
    trainers = {name: gluon.Trainer(trainer.model.collect_params(), opt, dict(kw), kvstore=None)
                for name, (opt, kw) in chosen.items()}
    for gluon_trainer in trainers.values():          # untimed: states, graphs, memory plans
        for x, y in batches[:2]:
            timed_step(trainer, gluon_trainer, x, y, mx, autograd)

    parts = {name: [] for name in trainers}
    busy0, own0, wall0 = machine_busy_seconds(), own_cpu_seconds(), time.monotonic()
    for _ in range(args.rounds):
        for name, gluon_trainer in trainers.items():
            for x, y in batches:
                parts[name].append(timed_step(trainer, gluon_trainer, x, y, mx, autograd))
    wall = time.monotonic() - wall0
    other = max(0.0, ((machine_busy_seconds() - busy0) - (own_cpu_seconds() - own0)) / wall)

    results = {}
    for name, rows in parts.items():
        a = 1000 * np.array(rows)
        total = a.sum(axis=1)
        results[name] = {"network_ms": float(np.median(a[:, 0])),
                         "update_ms": float(np.median(a[:, 1])),
                         "readback_ms": float(np.median(a[:, 2])),
                         "step_ms": float(np.median(total)),
                         "step_ms_p10_p90": [float(np.percentile(total, q)) for q in (10, 90)],
                         "images_per_s": BATCH / float(np.median(total)) * 1000}
    print(f"{'optimiser':<15}{'network ms':>11}{'update ms':>11}{'read ms':>9}{'step ms':>9}"
          f"{'p10-p90':>11}{'images/s':>10}")
    for name, r in results.items():
        p10, p90 = r["step_ms_p10_p90"]
        print(f"{name:<15}{r['network_ms']:>11.1f}{r['update_ms']:>11.1f}{r['readback_ms']:>9.1f}"
              f"{r['step_ms']:>9.1f}{f'{p10:.0f}-{p90:.0f}':>11}{r['images_per_s']:>10.1f}")
    print(f"other processes used {other:.2f} of {os.cpu_count()} cores meanwhile"
          + (" (BUSY: fewer free cores than threads, the figures say little)"
             if (os.cpu_count() or 1) - other < args.threads - 0.2 else ""))
    print(json.dumps({"threads": args.threads, "rounds": args.rounds, "steps": args.steps,
                      "other_cores": other, "mxnet": mx.__version__, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
