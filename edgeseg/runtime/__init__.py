"""One Runner interface for every model format: Keras, SavedModel, TFLite and ONNX, chosen by suffix (``RUNNERS``)."""

from edgeseg.runtime.base import RUNNERS, Runner, load_runner

__all__ = ["RUNNERS", "Runner", "load_runner"]
