"""Run a TensorFlow SavedModel artifact through its ``serving_default`` signature."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg._keras import tf
from edgeseg.config import Normalisation
from edgeseg.errors import RunError


@dataclass
class SavedModelRunner:
    path: Path
    normalisation: Normalisation = field(default_factory=Normalisation)
    name: str = "savedmodel"

    def __post_init__(self) -> None:
        try:
            self._loaded: Any = tf.saved_model.load(str(self.path))
            self._fn = self._loaded.signatures["serving_default"]
        except (OSError, ValueError, KeyError) as e:
            raise RunError(f"{self.path}: not a loadable SavedModel with a serving_default signature ({e})") from None
        spec = next(iter(self._fn.structured_input_signature[1].values()))
        self._input = next(iter(self._fn.structured_input_signature[1]))
        self.input_size = (int(spec.shape[1]), int(spec.shape[2]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self._fn(**{self._input: tf.convert_to_tensor(x, tf.float32)})
        return np.asarray(next(iter(out.values())), np.float32)


def load_savedmodel(path: Path, normalisation: Normalisation | None, num_threads: int | None = None) -> SavedModelRunner:
    return SavedModelRunner(Path(path), normalisation or Normalisation())
