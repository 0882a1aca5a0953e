import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.postprocess import PostprocessConfig, draw_outline, fill_holes, keep_largest_component, postprocess, resize_prob


def test_largest_component_keeps_only_the_biggest():
    m = np.zeros((6, 6), np.uint8)
    m[0:3, 0:3] = 1  # 9 px
    m[5, 5] = 1  # 1 px
    out = keep_largest_component(m)
    assert out.sum() == 9 and out[5, 5] == 0


def test_fill_holes_fills_enclosed_only():
    m = np.zeros((5, 7), np.uint8)
    m[0:5, 0:5] = 1
    m[2, 2] = 0  # enclosed hole
    m[0, 6] = 0  # background at the border stays
    out = fill_holes(m)
    assert out[2, 2] == 1 and out[0, 6] == 0 and out.sum() == 25


def test_threshold_and_opening():
    prob = np.zeros((9, 9), np.float32)
    prob[2:7, 2:7] = 0.9
    prob[0, 8] = 0.8  # a speck
    assert postprocess(prob, PostprocessConfig(threshold=0.95)).sum() == 0
    assert postprocess(prob).sum() == 26
    assert postprocess(prob, PostprocessConfig(open_px=1))[0, 8] == 0
    with pytest.raises(ConfigError):
        PostprocessConfig(threshold=1.5)


def test_resize_prob_and_outline():
    prob = np.zeros((4, 4), np.float32)
    prob[:, 2:] = 1.0
    big = resize_prob(prob, (8, 8))
    assert big.shape == (8, 8) and big[0, 0] == 0 and big[0, 7] == 1
    image = np.zeros((20, 20, 3), np.uint8)
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 1
    out = draw_outline(image, mask, color=(0, 255, 0), thickness=1)
    assert out[5, 5:15, 1].min() > 150  # the (anti-aliased) outline runs along the mask edge
    assert out[10, 10].tolist() == [0, 0, 0]  # the inside is untouched
    assert image.max() == 0  # the input is not modified
