"""Score the mean probability of several models, through ``edgeseg.evaluate`` like ``edgeseg eval``.

    .venv/bin/python bench/experiments/ensemble_eval.py SPLIT MODEL [MODEL ...]

The models must share an input size and normalisation (e.g. the ported ``.keras`` files of
``port_torch_unet.py``); the data is ``../shared/data/isic2017``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from edgeseg.data.pairs import find_splits
from edgeseg.evaluate import evaluate, format_table
from edgeseg.runtime import Runner, load_runner


class MeanRunner:
    """A Runner whose probabilities are the mean of its members'."""

    def __init__(self, members: list[Runner]) -> None:
        first = members[0]
        if any(m.input_size != first.input_size or m.normalisation != first.normalisation for m in members):
            sys.exit("the models differ in input size or normalisation")
        self.members = members
        self.name = f"mean of {len(members)}"
        self.path = Path(first.path)
        self.input_size = first.input_size
        self.normalisation = first.normalisation

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m(x) for m in self.members], axis=0)


def main(split: str, *models: str) -> None:
    pairs = find_splits("../shared/data/isic2017")[split].pairs
    runner = MeanRunner([load_runner(m) for m in models])
    print(format_table(evaluate(runner, pairs).scores))


if __name__ == "__main__":
    main(*sys.argv[1:])
