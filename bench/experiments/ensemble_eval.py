"""Score the mean probability of several models, through ``edgeseg.evaluate`` like ``edgeseg eval``.

    .venv/bin/python bench/experiments/ensemble_eval.py SPLIT MODEL [MODEL ...] [--data ../shared/data/isic2017]

The models must share an input size and normalisation (e.g. the ported ``.keras`` files of
``port_torch_unet.py``).
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("split", help="split to score (e.g. validation)")
    ap.add_argument("models", nargs="+", help="runs or model files (.keras, .tflite, .onnx)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/isic2017"),
                    help="data folder with the split (default ../shared/data/isic2017)")
    a = ap.parse_args()
    pairs = find_splits(a.data)[a.split].pairs
    runner = MeanRunner([load_runner(m) for m in a.models])
    print(format_table(evaluate(runner, pairs).scores))


if __name__ == "__main__":
    main()
