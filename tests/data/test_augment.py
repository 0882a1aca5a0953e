import numpy as np
import pytest

from edgeseg._keras import tf
from edgeseg.config import AugmentConfig
from edgeseg.data.augment import augment
from edgeseg.data.decode import read_pair
from edgeseg.data.pairs import find_pairs

NO_PHOTO = AugmentConfig(brightness=0.0, contrast=0.0)
NO_GEOMETRY = AugmentConfig(rotation=0.0, zoom=0.0, shear=0.0, hflip=False, vflip=False)


@pytest.fixture(scope="module")
def real_pair(sample_root):
    pair = find_pairs(sample_root / "train").pairs[3]
    image, mask = read_pair(pair)
    return tf.constant(image, tf.float32) / 255.0, tf.constant(mask[..., None], tf.float32)


def _seed(i):
    return tf.constant([7, i], tf.int64)


def test_geometry_moves_image_and_mask_together(real_pair):
    _, mask = real_pair
    # Feed the mask itself as the "image": after the joint transform, the image channel must
    # threshold back to exactly the transformed mask, for many random draws.
    as_image = tf.repeat(mask, 3, axis=-1)
    moved = 0
    for i in range(8):
        img, m = augment(as_image, mask, _seed(i), NO_PHOTO)
        np.testing.assert_array_equal((img.numpy()[..., 0] > 0.5), m.numpy()[..., 0] > 0.5)
        moved += int(not np.array_equal(m.numpy(), mask.numpy()))
    assert moved >= 7  # geometry really changed the mask


def test_real_pair_shapes_ranges_and_binary_mask(real_pair):
    image, mask = real_pair
    img, m = augment(image, mask, _seed(1), AugmentConfig(brightness=0.5, contrast=0.5))
    assert img.shape == image.shape and m.shape == mask.shape
    assert img.dtype == tf.float32 and m.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(img)) and float(tf.reduce_max(img)) <= 1.0
    assert set(np.unique(m.numpy())) <= {0.0, 1.0}
    # A lesion that covers part of the frame stays a sizeable region after augmentation.
    assert 0.2 < m.numpy().mean() / mask.numpy().mean() < 5


def test_stateless_seed_determinism(real_pair):
    image, mask = real_pair
    a = augment(image, mask, _seed(3), AugmentConfig())
    b = augment(image, mask, _seed(3), AugmentConfig())
    c = augment(image, mask, _seed(4), AugmentConfig())
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())


def test_photometric_changes_image_only(real_pair):
    image, mask = real_pair
    img, m = augment(image, mask, _seed(5), NO_GEOMETRY)
    np.testing.assert_array_equal(m.numpy(), mask.numpy())
    assert not np.allclose(img.numpy(), image.numpy())


def test_disabled_is_identity(real_pair):
    image, mask = real_pair
    img, m = augment(image, mask, _seed(0), AugmentConfig(enabled=False))
    assert img is image and m is mask


def test_flip_only_is_an_exact_mirror(real_pair):
    image, mask = real_pair
    cfg = AugmentConfig(rotation=0, zoom=0, shear=0, vflip=False, brightness=0, contrast=0)
    flipped = [augment(image, mask, _seed(i), cfg) for i in range(6)]
    mirrored = mask.numpy()[:, ::-1]
    kinds = {("same" if np.array_equal(m.numpy(), mask.numpy()) else "mirror" if np.array_equal(m.numpy(), mirrored) else "other") for _, m in flipped}
    assert kinds == {"same", "mirror"}


COLOUR_ONLY = AugmentConfig(rotation=0, zoom=0, shear=0, hflip=False, vflip=False, brightness=0, contrast=0,
                            saturation=0.3, hue=0.05)


def test_colour_jitter_changes_colour_not_grey_or_mask(real_pair):
    image, mask = real_pair
    # Saturation and hue act on chroma: a real image changes, its mask does not, and a neutral
    # grey version of the same image (zero chroma) passes through unchanged.
    changed = 0
    grey = tf.repeat(tf.reduce_mean(image, axis=-1, keepdims=True), 3, axis=-1)
    for i in range(4):
        img, m = augment(image, mask, _seed(i), COLOUR_ONLY)
        np.testing.assert_array_equal(m.numpy(), mask.numpy())
        changed += int(np.abs(img.numpy() - image.numpy()).max() > 0.01)
        g, _ = augment(grey, mask, _seed(i), COLOUR_ONLY)
        np.testing.assert_allclose(g.numpy(), grey.numpy(), atol=1e-5)
    assert changed == 4
    # Brightness is left alone: the per-pixel max channel (HSV value) is preserved.
    img, _ = augment(image, mask, _seed(9), COLOUR_ONLY)
    np.testing.assert_allclose(img.numpy().max(-1), image.numpy().max(-1), atol=1e-5)

