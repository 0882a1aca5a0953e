"""The one Keras import point of edgeseg.

tensorflow-model-optimization 0.8.1 only understands Keras 2 models, so every model is built with
``tf_keras``. ``TF_USE_LEGACY_KERAS`` must be set before TensorFlow is first imported, otherwise
``tf.keras`` (used inside tfmot and tf2onnx) resolves to Keras 3 and pruning/QAT raise.

Usage::

    from edgeseg._keras import keras, tf
"""

from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
# TF's C++ start-up chatter (CUDA probing, CPU feature notes) drowns the CLI's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")



def _import_quietly():  # noqa: ANN202
    """Import TF with its C++ start-up chatter (absl pre-init warnings, CUDA probing on machines
    without a GPU) sent to /dev/null; it would bury the CLI's one-line errors. Python-level
    import errors still raise normally. ``EDGESEG_TF_LOGS=1`` keeps the chatter."""
    if os.environ.get("EDGESEG_TF_LOGS") == "1":
        import tensorflow as tf
        import tf_keras as keras

        return tf, keras
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf
        import tf_keras as keras

        tf.config.list_physical_devices()  # device probing happens here, still silenced
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf, keras


tf, keras = _import_quietly()

if not keras.__version__.startswith("2."):  # pragma: no cover - guards a broken environment
    raise ImportError(f"edgeseg needs tf_keras 2.x, found {keras.__version__}")

__all__ = ["keras", "tf"]
