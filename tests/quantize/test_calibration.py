import numpy as np
import pytest

from edgeseg.config import Normalisation
from edgeseg.data.pairs import find_splits
from edgeseg.errors import ConfigError, DataError
from edgeseg.quantize.calibration import calibration_array, select_calibration


@pytest.fixture(scope="module")
def splits(sample_root):
    return {k: v.pairs for k, v in find_splits(sample_root).items()}


def test_drawn_from_train_only_seeded_and_reproducible(splits):
    with pytest.warns(UserWarning, match="only 10 calibration images"):
        a = select_calibration(splits, 10, seed=1, eval_split="validation")
    with pytest.warns(UserWarning):
        b = select_calibration(splits, 10, seed=1, eval_split="validation")
    with pytest.warns(UserWarning):
        c = select_calibration(splits, 10, seed=2, eval_split="validation")
    train = {p.image for p in splits["train"]}
    assert a == b and a != c and set(a) <= train and len(set(a)) == 10


def test_calibrating_on_the_eval_split_is_an_error(splits, sample_root):
    with pytest.raises(ConfigError, match="cannot evaluate on 'train'"):
        select_calibration(splits, 10, seed=0, eval_split="train")
    with pytest.raises(ConfigError, match="evaluation split"):
        select_calibration(splits, 10, seed=0, eval_split="validation", calib_dir=sample_root / "validation")


def test_empty_calibration_folder(splits, tmp_path):
    with pytest.raises(DataError, match="no images"):
        select_calibration(splits, 10, seed=0, eval_split="validation", calib_dir=tmp_path)


def test_calibration_array_is_normalised_model_input(splits):
    with pytest.warns(UserWarning):
        images = select_calibration(splits, 3, seed=0, eval_split="validation")
    arr = calibration_array(images, (64, 96), Normalisation())
    assert arr.shape == (3, 64, 96, 3) and arr.dtype == np.float32 and 0 <= arr.min() and arr.max() <= 1
