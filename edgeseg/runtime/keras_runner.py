"""Run a ``.keras`` model (the float reference every compressed artifact is gated against)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg._keras import keras, tf
from edgeseg.config import Normalisation
from edgeseg.errors import RunError


def load_keras_model(path: str | Path, compile: bool = False, extra_objects: dict[str, Any] | None = None) -> Any:
    """Load an edgeseg ``.keras`` file with every custom layer/metric/loss it may reference."""
    from edgeseg.losses import LOSSES, get_loss
    from edgeseg.metrics import MeanImageMetric
    from edgeseg.models import custom_objects

    objects = {**custom_objects(), "MeanImageMetric": MeanImageMetric}
    objects.update({name: get_loss(name) for name in LOSSES.names()})
    objects.update(extra_objects or {})
    try:
        return keras.models.load_model(path, custom_objects=objects, compile=compile)
    except (OSError, ValueError) as e:
        raise RunError(f"{path}: cannot load Keras model ({str(e).splitlines()[0]})") from e


@dataclass
class KerasRunner:
    """Runner over an in-memory Keras model; batches go through a traced ``model(x)`` call."""

    model: Any
    path: Path
    normalisation: Normalisation = field(default_factory=Normalisation)
    name: str = "keras"

    def __post_init__(self) -> None:
        _, h, w, _ = self.model.input_shape
        self.input_size = (int(h), int(w))
        # model.predict builds a tf.data pipeline per call (~10x slower for one image);
        # a traced call with a fixed signature is the fair float reference.
        self._fn = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self._fn(tf.convert_to_tensor(x, tf.float32))
        return np.asarray(out, np.float32)


def load_keras(path: Path, normalisation: Normalisation | None, num_threads: int | None = None) -> KerasRunner:
    return KerasRunner(load_keras_model(path), Path(path), normalisation or Normalisation())
