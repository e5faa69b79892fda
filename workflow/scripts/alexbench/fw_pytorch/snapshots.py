"""Undo the harness's warm-up step: everything a training step changes, taken before it and put
back after it (weights, optimiser state, random state), so the timed run starts from the
initial state exactly.

PyTorch: full copies of the state dicts (no recipe trick as in fw_keras/snapshots.py: the
copies are small next to S1's Keras peak).
"""
import copy

import torch


def take(model, optimizer, device):
    state = {"model": copy.deepcopy(model.state_dict()),
             "optimizer": copy.deepcopy(optimizer.state_dict()),
             "cpu_rng": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def put_back(model, optimizer, device, state) -> None:
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["cpu_rng"])
    if "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], device)
