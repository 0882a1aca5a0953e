import numpy as np
import pytest

from edgeseg.config import AugmentConfig, Normalisation
from edgeseg.data.pairs import find_pairs
from edgeseg.data.pipeline import eval_dataset, load_arrays, steps_per_epoch, train_dataset
from edgeseg.errors import ConfigError


@pytest.fixture(scope="module")
def arrays(sample_root):
    pairs = find_pairs(sample_root / "validation").pairs
    return load_arrays(pairs, (64, 96))


def test_load_arrays_resizes_and_binarises(arrays):
    images, masks = arrays
    assert images.shape == (12, 64, 96, 3) and images.dtype == np.uint8
    assert masks.shape == (12, 64, 96, 1) and masks.dtype == np.uint8
    assert set(np.unique(masks)) == {0, 1}
    # Real lesions: ISIC 2017's mean lesion fraction is ~0.2.
    assert 0.05 < masks.mean() < 0.6


def _stream(images, masks, initial_epoch, epochs=3):
    ds = train_dataset(
        images, masks, batch_size=4, steps=2, augment_cfg=AugmentConfig(), normalisation=Normalisation(),
        seed=11, initial_epoch=initial_epoch, epochs=epochs,
    )
    return [(x.numpy(), y.numpy()) for x, y in ds]


def test_resumed_stream_replays_the_same_batches(arrays):
    images, masks = arrays
    full = _stream(images, masks, 0)
    resumed = _stream(images, masks, 1)
    assert len(full) == 6 and len(resumed) == 4  # 2 steps x 3 epochs; 2 x 2 after resuming
    for (xa, ya), (xb, yb) in zip(full[2:], resumed):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    # Different epochs see different orders / augmentations.
    assert not np.array_equal(full[0][0], full[2][0])


def test_train_batches_are_normalised(arrays):
    x, y = _stream(*arrays, 0, epochs=1)[0]
    assert x.shape == (4, 64, 96, 3) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert set(np.unique(y)) <= {0.0, 1.0}


def test_eval_dataset_in_order_without_augmentation(arrays):
    images, masks = arrays
    batches = list(eval_dataset(images, masks, batch_size=5, normalisation=Normalisation()))
    assert [len(b[0]) for b in batches] == [5, 5, 2]
    np.testing.assert_allclose(batches[0][0].numpy()[0], images[0] / 255.0, rtol=1e-6)


def test_steps_per_epoch():
    assert steps_per_epoch(48, 8) == 6
    assert steps_per_epoch(50, 8) == 6
    assert steps_per_epoch(48, 8, max_steps=2) == 2
    with pytest.raises(ConfigError, match="batch size 8 is larger than the 5"):
        steps_per_epoch(5, 8)
