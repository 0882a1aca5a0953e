"""A uint8-IO copy of an int8-IO full-integer TFLite model, bit for bit the same model inside.

MediaPipe Tasks' ImageSegmenter takes uint8 or float32 input only, and refuses the int8-IO phone
model. A uint8 tensor with zero point ``z + 128`` and the same scale holds the same real values as
an int8 tensor with zero point ``z``, with ``u = q + 128`` exactly. So the copy gets a new uint8
input feeding one QUANTIZE op (uint8 -> int8, a pure shift) into the old int8 input, and the old
int8 output feeding one QUANTIZE op (int8 -> uint8) into a new uint8 output: the layout the TFLite
converter itself writes for ``inference_input_type=tf.uint8``, without re-converting (or needing)
the Keras model. Every weight and every other op is untouched.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from edgeseg.errors import RunError
from edgeseg.io import atomic_path


def uint8_io_copy(src: str | Path, dest: str | Path) -> Path:
    """Write ``dest``: ``src`` (int8 input and output tensors) with uint8 input and output.

    Raises:
        RunError: ``src`` does not have exactly int8 inputs and outputs with per-tensor quantization.
    """
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(src))
    if len(model.subgraphs) != 1:
        raise RunError(f"{src}: expected one subgraph, found {len(model.subgraphs)}")
    sg = model.subgraphs[0]
    for idx in (*sg.inputs, *sg.outputs):
        t = sg.tensors[idx]
        q = t.quantization
        if t.type != fb.TensorType.INT8 or q is None or q.scale is None or len(q.scale) != 1:
            raise RunError(f"{src}: tensor {t.name!r} is not a per-tensor int8 input/output; "
                           "a uint8-IO copy needs an int8-IO full-integer model")
    quantize = _opcode(model, fb)
    renamed: dict[int, int] = {}
    new_ops_in, new_ops_out = [], []
    for idx in sg.inputs:
        u = _uint8_twin(sg, idx, fb)
        renamed[idx] = u
        new_ops_in.append(_quantize_op(quantize, u, idx, fb))
    for idx in sg.outputs:
        u = _uint8_twin(sg, idx, fb)
        renamed[idx] = u
        new_ops_out.append(_quantize_op(quantize, idx, u, fb))
    sg.operators = new_ops_in + list(sg.operators) + new_ops_out
    sg.inputs = np.array([renamed[i] for i in sg.inputs], np.int32)
    sg.outputs = np.array([renamed[i] for i in sg.outputs], np.int32)
    for sig in model.signatureDefs or []:
        for t in (*(sig.inputs or []), *(sig.outputs or [])):
            t.tensorIndex = renamed.get(t.tensorIndex, t.tensorIndex)
    with atomic_path(dest) as tmp:
        flatbuffer_utils.write_model(model, str(tmp))
    return Path(dest)


def _opcode(model, fb) -> int:  # noqa: ANN001
    for i, oc in enumerate(model.operatorCodes):
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == fb.BuiltinOperator.QUANTIZE:
            oc.version = max(oc.version, 2)  # version 2: int8/uint8 requantize
            return i
    oc = fb.OperatorCodeT()
    oc.builtinCode = oc.deprecatedBuiltinCode = fb.BuiltinOperator.QUANTIZE
    oc.version = 2
    model.operatorCodes.append(oc)
    return len(model.operatorCodes) - 1


def _uint8_twin(sg, idx: int, fb) -> int:  # noqa: ANN001
    """Append a uint8 tensor holding the same real values as int8 tensor ``idx``."""
    old = sg.tensors[idx]
    t = copy.deepcopy(old)
    t.type = fb.TensorType.UINT8
    t.buffer = 0  # no data: an activation
    t.quantization.zeroPoint = np.asarray(old.quantization.zeroPoint, np.int64) + 128
    old.name = (old.name.decode() if isinstance(old.name, bytes) else old.name) + "_int8"
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def _quantize_op(opcode: int, src: int, dst: int, fb):  # noqa: ANN001, ANN202
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode, np.array([src], np.int32), np.array([dst], np.int32)
    op.builtinOptionsType, op.builtinOptions = fb.BuiltinOptions.QuantizeOptions, fb.QuantizeOptionsT()
    return op
