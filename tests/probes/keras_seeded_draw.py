"""Probe: fw_keras's memory-saving initialiser and snapshot-by-recipe, on small shapes.

Run in the keras venv by tests/test_keras_memory.py. Prints one JSON line: whether SeededDraw is
seeded (same seed, same bits; other seed, other bits) and independent of its block size, the
bounds and moments of its uniform and normal draws, and a snapshot/step/restore round trip of a
real Trainer with the recipe threshold lowered so that its kernels are snapshotted as recipes.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.harness import runtime  # noqa: E402  (stdlib only)
from alexbench.harness.settings import resolve_settings  # noqa: E402


def main():
    loop = runtime.start_backend("keras", 1)
    runtime.seed_everything(loop, 0)
    import numpy as np
    from alexbench.fw_keras import snapshots
    from alexbench.fw_keras.models import SeededDraw

    shape = (300, 7, 11)
    uniform = SeededDraw("uniform", 0.25, seed=7)
    full = uniform.draw(shape)
    blocks = np.concatenate([b for _, b in uniform.blocks(shape, block_elements=100)])
    normal = SeededDraw("normal", 0.5, seed=7).draw(shape)
    out = {
        "same_seed_equal": bool(np.array_equal(full, SeededDraw("uniform", 0.25, seed=7).draw(shape))),
        "other_seed_equal": bool(np.array_equal(full, SeededDraw("uniform", 0.25, seed=8).draw(shape))),
        "blocks_equal_whole": bool(np.array_equal(full, blocks)),
        "tensor_equal_whole": bool(np.array_equal(uniform(shape).numpy(), full)),
        "dtype": str(full.dtype),
        "uniform": {"min": float(full.min()), "max": float(full.max()),
                    "mean": float(full.mean()), "std": float(full.std())},
        "normal": {"mean": float(normal.mean()), "std": float(normal.std())},
    }

    snapshots.SNAPSHOT_BY_RECIPE_BYTES = 4096  # every kernel of alexnet-mnist but conv1 is larger
    settings = resolve_settings({"epochs": 1, "batch_size": 8, "validation": "test",
                                         "optimizer": {"name": "sgd", "learning_rate": 0.1}})
    trainer = loop.Trainer("alexnet-mnist", 10, settings, loop.select_device("cpu"))
    before = [v.numpy().copy() for v in trainer.model.variables]
    state = trainer.snapshot()
    rng = np.random.default_rng(0)
    trainer.train_batch(rng.random((8, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 8))
    changed = sum(not np.array_equal(b, v.numpy()) for b, v in zip(before, trainer.model.variables))
    after_step = trainer.snapshot()  # the trained kernels no longer match their draws: copies
    trainer.restore(state)
    out["snapshot_kinds"] = sorted({kind for kind, _ in state[0]})
    out["kinds_after_step"] = sorted({kind for kind, _ in after_step[0]})
    out["variables_changed_by_step"] = int(changed)
    out["restored_bitwise"] = all(np.array_equal(b, v.numpy())
                                  for b, v in zip(before, trainer.model.variables))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
