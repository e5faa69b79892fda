"""Mixed precision the Keras way: a dtype policy for the model's layers.

bf16: keras's "mixed_bfloat16" policy (https://keras.io/api/mixed_precision/policy/): every layer
computes in bfloat16 and keeps its variables in float32 (the master weights the optimiser
updates); no loss scaling, since bfloat16 has float32's exponent range. Where float32 stays:
- the logits are cast to float32 before softmax cross-entropy (the trainer does it; Keras's
  mixed-precision guide asks for a float32 softmax, and alexbench's models end in logits with the
  softmax inside the loss);
- LRN: TensorFlow's LRN op has no bfloat16 CPU kernel (only float and half), so the LRN layer
  always computes in float32 (fw_keras/lrn.py), its input cast up and its output back down by
  the next layer.
fp32: the "float32" policy. The policy is set only while the model is built (model_policy), so
nothing outside the model changes.
"""
import contextlib

import keras
import tensorflow as tf

POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16"}
DTYPES = {"fp32": tf.float32, "bf16": tf.bfloat16}


@contextlib.contextmanager
def model_policy(precision: str):
    """Build layers under `precision`'s dtype policy; the previous global policy afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def matmul_dtype(precision: str):
    """The dtype of the peak matmul's operands (the denominator of FLOP utilisation)."""
    return DTYPES[precision]
