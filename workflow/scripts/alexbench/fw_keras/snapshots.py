"""Undo the harness's warm-up step: everything a training step changes (weights, dropout
seed-generator states, optimiser variables), taken before it and put back after it.

Memory: a large variable that still equals its seeded initial draw (models.SeededDraw), or all
(+0.0) zeros, is recorded as that recipe instead of a copy (verified block by block, so put_back
writes back exactly the same bits); everything else is copied. S1's fc1 kernel is 3.5 GB.
"""
import numpy as np

from alexbench.fw_keras.models import adopt_numpy, aligned_empty

# A variable of at least this size that still holds its seeded initial draw or zeros is not
# copied: put_back redraws it.
SNAPSHOT_BY_RECIPE_BYTES = 64 * 2**20
SNAPSHOT_BLOCK_ELEMENTS = 1 << 22


def take(model, optimizer):
    """model.variables includes Keras's SeedGenerator states, so a warm-up step undone by
    put_back leaves the dropout random stream where it was, as in fw_pytorch."""
    draws = getattr(model, "initial_draws", {})
    return ([_variable_state(v, draws.get(v.path)) for v in model.variables],
            [_variable_state(v, None) for v in optimizer.variables])


def put_back(model, optimizer, state) -> None:
    weights, optimizer_vars = state
    for var, saved in zip(model.variables, weights):
        _restore_variable(var, saved)
    for var, saved in zip(optimizer.variables, optimizer_vars):
        _restore_variable(var, saved)


def _variable_blocks(variable):
    """(first row, numpy block) over axis 0 of a variable, read a block at a time."""
    value = getattr(variable, "value", variable)
    shape = [int(d) for d in variable.shape]
    rows = max(1, SNAPSHOT_BLOCK_ELEMENTS // max(1, int(np.prod(shape[1:], dtype=np.int64))))
    for start in range(0, shape[0], rows):
        yield start, value[start:start + rows].numpy()


def _variable_state(variable, draw):
    """("draw", SeededDraw) / ("zeros", None) for a large variable that holds exactly that,
    else ("copy", numpy copy)."""
    nbytes = int(np.prod(variable.shape, dtype=np.int64)) * np.dtype(variable.dtype).itemsize
    if variable.shape and nbytes >= SNAPSHOT_BY_RECIPE_BYTES:
        if draw is not None and all(
                np.array_equal(got.view(np.uint8), want.view(np.uint8))
                for (_, got), (_, want) in zip(_variable_blocks(variable),
                                               draw.blocks(variable.shape, SNAPSHOT_BLOCK_ELEMENTS))):
            return ("draw", draw)
        if not any(block.view(np.uint8).any() for _, block in _variable_blocks(variable)):
            return ("zeros", None)
    return ("copy", variable.numpy().copy())


def _restore_variable(variable, saved) -> None:
    # The variable takes over the new array's memory (adopt_numpy): no full-size copies. Slice
    # assignment would avoid even that one array, but it switches TensorFlow's variable to
    # copy-on-read, which copies the whole kernel on every later read.
    kind, value = saved
    if kind == "draw":
        variable.assign(adopt_numpy(value.draw(variable.shape)))
    elif kind == "zeros":
        zeros = aligned_empty(tuple(int(d) for d in variable.shape), np.dtype(variable.dtype))
        zeros.fill(0)
        variable.assign(adopt_numpy(zeros))
    else:
        variable.assign(value)
