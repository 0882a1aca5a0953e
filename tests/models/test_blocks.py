"""Hand-computed tests of the building blocks: channel rounding and SegNet's mask unpooling."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg._keras import keras
from edgeseg.models import MaxUnpool, PoolIndexMask, custom_objects, round_channels


def _pool_mask_unpool(x: np.ndarray, values: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Run x through maxpool -> PoolIndexMask -> MaxUnpool(values or the pooled maxima)."""
    pooled = keras.layers.MaxPooling2D(2)(x)
    mask = PoolIndexMask(2)([x, pooled])
    unpooled = MaxUnpool(2)([pooled if values is None else values, mask])
    return pooled.numpy(), mask.numpy(), unpooled.numpy()


@pytest.mark.parametrize(
    ("channels", "expected"),
    [(16.0, 16), (64 * 0.25, 16), (1024 * 0.25, 256), (6.4, 8), (100.0, 104), (44.0, 48)],
)
def test_round_channels(channels: float, expected: int) -> None:
    assert round_channels(channels) == expected


def test_unpool_puts_each_max_back_at_its_argmax() -> None:
    channel0 = np.array(
        [
            [1, 5, 2, 0],
            [3, 4, 7, 6],
            [9, 0, 1, 2],
            [2, 8, 3, 4],
        ],
        np.float32,
    )
    # Channel 1 is the negation, so its maxima sit elsewhere: channels must not mix.
    x = np.stack([channel0, -channel0], axis=-1)[None]  # (1, 4, 4, 2)

    pooled, mask, unpooled = _pool_mask_unpool(x)

    np.testing.assert_array_equal(pooled[0, ..., 0], [[5, 7], [9, 4]])
    np.testing.assert_array_equal(pooled[0, ..., 1], [[-1, 0], [0, -1]])
    expected_mask0 = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], np.float32)
    expected_mask1 = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]], np.float32)
    np.testing.assert_array_equal(mask[0, ..., 0], expected_mask0)
    np.testing.assert_array_equal(mask[0, ..., 1], expected_mask1)
    np.testing.assert_array_equal(
        unpooled[0, ..., 0], [[0, 5, 0, 0], [0, 0, 7, 0], [9, 0, 0, 0], [0, 0, 0, 4]]
    )
    np.testing.assert_array_equal(
        unpooled[0, ..., 1], [[-1, 0, 0, 0], [0, 0, 0, 0], [0, 0, -1, 0], [0, 0, 0, 0]]
    )

    # Decoder values (not the maxima themselves) land at the same positions.
    decoded = np.array([[10, 20], [30, 40]], np.float32)[None, ..., None]
    _, _, unpooled = _pool_mask_unpool(x[..., :1], decoded)
    np.testing.assert_array_equal(
        unpooled[0, ..., 0], [[0, 10, 0, 0], [0, 0, 20, 0], [30, 0, 0, 0], [0, 0, 0, 40]]
    )


def test_unpool_ties_land_in_every_max_position() -> None:
    # Documented behaviour: a window of equal values (e.g. ReLU zeros) keeps every position,
    # unlike MaxPoolWithArgmax which keeps the first.
    x = np.array([[0, 0, 3, 3], [0, 0, 1, 2]], np.float32)[None, ..., None]  # (1, 2, 4, 1)
    decoded = np.array([[7, 8]], np.float32)[None, ..., None]
    _, mask, unpooled = _pool_mask_unpool(x, decoded)
    np.testing.assert_array_equal(mask[0, ..., 0], [[1, 1, 1, 1], [1, 1, 0, 0]])
    np.testing.assert_array_equal(unpooled[0, ..., 0], [[7, 7, 8, 8], [7, 7, 0, 0]])


def test_unpool_rejects_channel_mismatch() -> None:
    x = keras.Input((4, 4, 8))
    mask = keras.Input((8, 8, 16))
    with pytest.raises(ValueError, match="feature map has 8 channels but the pool mask has 16"):
        MaxUnpool(2, name="dec2_unpool")([x, mask])


def test_custom_layers_config_round_trip() -> None:
    assert custom_objects() == {"PoolIndexMask": PoolIndexMask, "MaxUnpool": MaxUnpool}
    for layer in (PoolIndexMask(3, name="m"), MaxUnpool(3, name="u")):
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
        assert config["name"] == layer.name
    assert PoolIndexMask(3).get_config()["pool_size"] == 3
    assert MaxUnpool(3).get_config()["size"] == 3
    # Registered, so .keras files name them "edgeseg>..." and load without custom_objects.
    assert keras.utils.get_registered_object("edgeseg>PoolIndexMask") is PoolIndexMask
    assert keras.utils.get_registered_object("edgeseg>MaxUnpool") is MaxUnpool
