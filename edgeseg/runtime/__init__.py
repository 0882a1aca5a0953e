"""One Runner interface for every model format (Keras now; TFLite and ONNX register here too)."""

from edgeseg.runtime.base import RUNNERS, Runner, load_runner

__all__ = ["RUNNERS", "Runner", "load_runner"]
