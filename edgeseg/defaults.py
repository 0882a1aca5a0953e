"""The shipped default model: what ``predict``, ``camera``, ``bench`` and ``serve-web`` use
when no model is given."""

from __future__ import annotations

from pathlib import Path

from edgeseg.errors import RunError
from edgeseg.formats import format_of

REPO = Path(__file__).resolve().parents[1]
# The phone model (issue 15: ImageNet-initialised MobileNetV2 U-Net, ISIC 2017 test Dice 0.8535
# int8); the U-Net family keeps its own reference export beside it.
SHIPPED = REPO / "export" / "mnv2_unet"
UNET_REFERENCE = REPO / "export" / "unet_w025"
# The phone model first; the float file is the fallback for runtimes without int8 kernels.
DEFAULT_ARTIFACT = SHIPPED / "tflite_static_wi8_ai8_int8io" / "model.tflite"


def default_artifact(search: Path = Path("runs")) -> Path:
    """The shipped int8 TFLite, else the newest exported on-device artifact (TFLite, ONNX) under
    ``search``.

    Raises:
        RunError: neither exists.
    """
    if DEFAULT_ARTIFACT.is_file():
        return DEFAULT_ARTIFACT
    manifests = sorted(search.glob("**/export*/*/manifest.json"), key=lambda p: p.stat().st_mtime)
    for m in reversed(manifests):
        models = [f for f in m.parent.iterdir() if (fmt := format_of(f)) is not None and fmt.on_device]
        if models:
            return models[0]
    raise RunError(f"no model given, no shipped model at {DEFAULT_ARTIFACT} and no export under {search}/; "
                   "pass a model or run `edgeseg export`")
