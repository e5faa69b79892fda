"""Undo the harness's warm-up step: the parameters and the gluon.Trainer's state (optimiser, its
slots and update counts), taken before it and put back after it.

MXNet has no API to read its random state back, so unlike fw_pytorch and fw_keras the warm-up
step's dropout draws are not undone: a run starts one batch further on in the (seeded, hence
still reproducible) random stream.
"""
import tempfile
from pathlib import Path


def take(model, trainer):
    weights = {name: p.data().copy() for name, p in model.collect_params().items()}
    with tempfile.TemporaryDirectory() as tmp:
        states = Path(tmp) / "trainer.states"
        trainer.save_states(str(states))
        return weights, states.read_bytes()


def put_back(model, trainer, state) -> None:
    weights, trainer_states = state
    for name, p in model.collect_params().items():
        p.set_data(weights[name])
    with tempfile.TemporaryDirectory() as tmp:
        states = Path(tmp) / "trainer.states"
        states.write_bytes(trainer_states)
        trainer.load_states(str(states))
