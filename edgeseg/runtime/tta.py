"""Test-time flip augmentation as a Runner wrapper, so evaluation, bench and the camera use it
without knowing: it averages the probabilities of the image and its flips (costing 2-4 calls)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.runtime.base import Runner

TTA_MODES = {"none": (), "h": ((2,),), "hv": ((2,), (1,), (1, 2))}


@dataclass
class FlipTTARunner:
    """Mean of ``runner`` over the identity and the flips of ``mode`` (``h``: horizontal;
    ``hv``: horizontal, vertical and both). Input/output as :class:`Runner`."""

    runner: Runner
    mode: str = "h"

    def __post_init__(self) -> None:
        if self.mode not in TTA_MODES or self.mode == "none":
            raise ConfigError(f"unknown flip TTA mode {self.mode!r}; choose one of: h, hv")
        self.name = f"{self.runner.name}+tta_{self.mode}"
        self.path = self.runner.path
        self.input_size = self.runner.input_size
        self.normalisation = self.runner.normalisation

    def __call__(self, x: np.ndarray) -> np.ndarray:
        total = self.runner(x).astype(np.float32)
        for axes in TTA_MODES[self.mode]:
            # Flip in, segment, flip the probabilities back, so every term is in the original frame.
            total += np.flip(self.runner(np.ascontiguousarray(np.flip(x, axes))), axes)
        return total / (1 + len(TTA_MODES[self.mode]))
