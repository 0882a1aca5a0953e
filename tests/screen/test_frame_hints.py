"""The frame contract and the screening hints, on real ISIC images."""

import cv2
import numpy as np
import pytest

from edgeseg.config import Normalisation
from edgeseg.data.decode import read_image
from edgeseg.errors import DataError
from edgeseg.screen.frame import CropBox, crop_box, frame_mask, preprocess_frame
from edgeseg.screen.hints import HintConfig, fired, measures, screening_hints


@pytest.mark.parametrize("frame, expected", [
    ((720, 1280), CropBox(0, 160, 720, 960)),    # 16:9 landscape -> 4:3 centre
    ((1280, 720), CropBox(370, 0, 540, 720)),    # portrait -> letterbox rows
    ((192, 256), CropBox(0, 0, 192, 256)),       # already the model's aspect
    ((767, 1022), CropBox(0, 0, 766, 1022)),     # ISIC-like, off by one row
])
def test_crop_box_is_the_centred_box_with_the_model_aspect(frame, expected):
    assert crop_box(frame, (192, 256)) == expected


@pytest.fixture(scope="module")
def image(sample_root):
    return read_image(sorted((sample_root / "test" / "images").glob("*.jpg"))[0])


def test_preprocess_crops_resizes_and_normalises(image):
    wide = np.concatenate([np.zeros((image.shape[0], 300, 3), np.uint8), image,
                           np.zeros((image.shape[0], 300, 3), np.uint8)], axis=1)
    x, small, box = preprocess_frame(wide, (96, 128), Normalisation())
    assert x.shape == (1, 96, 128, 3) and x.dtype == np.float32 and small.shape == (96, 128, 3)
    assert box.w * 96 <= box.h * 128 and box.x > 0          # the black side bars are cut away
    np.testing.assert_allclose(x[0], small / 255.0, atol=1e-7)


def test_frame_mask_lands_inside_the_crop(image):
    box = CropBox(10, 40, 96, 128)
    prob = np.zeros((48, 64), np.float32)
    prob[10:30, 20:40] = 0.9
    mask, prob_crop = frame_mask(prob, box, (120, 220))
    assert prob_crop.shape == (96, 128) and mask.shape == (120, 220)
    ys, xs = np.nonzero(mask)
    assert ys.min() >= box.y + 18 and ys.max() < box.y + 62 and xs.min() >= box.x + 38 and xs.max() < box.x + 82
    assert not mask[:box.y].any() and not mask[:, :box.x].any()


@pytest.mark.parametrize("corrupt", [lambda a: a[..., 0], lambda a: a.astype(np.float32),
                                     lambda a: a[..., :2], lambda a: a[:4, :4]])
def test_unexpected_frames_are_rejected(image, corrupt):
    bad = corrupt(image)
    with pytest.raises(DataError, match="unexpected frame"):
        preprocess_frame(bad, (96, 128), Normalisation())


def _hints(small, prob, **cfg):
    return fired(screening_hints(measures(small, prob, 0.5), HintConfig(**cfg)))


def test_a_sharp_well_lit_centred_lesion_fires_no_hint(image):
    _, small, _ = preprocess_frame(image, (96, 128), Normalisation())
    prob = np.zeros((96, 128), np.float32)
    prob[30:70, 40:90] = 0.9
    assert _hints(small, prob) == []


def test_each_hint_fires_on_the_condition_it_names(image):
    _, small, _ = preprocess_frame(image, (96, 128), Normalisation())
    centred = np.zeros((96, 128), np.float32)
    centred[30:70, 40:90] = 0.9
    assert "blurry" in _hints(cv2.GaussianBlur(small, (0, 0), 3), centred)
    assert _hints((small * 0.15).astype(np.uint8), centred) == ["too_dark"]
    assert "overexposed" in _hints(np.clip(small.astype(int) + 150, 0, 255).astype(np.uint8), centred)
    edge = np.zeros_like(centred)
    edge[:, :60] = 0.9
    assert _hints(small, edge) == ["touches_border"]
    tiny = np.zeros_like(centred)
    tiny[45:50, 60:66] = 0.9
    assert _hints(small, tiny) == ["too_small"]
    assert _hints(small, np.zeros_like(centred)) == ["no_lesion"]


def test_every_hint_records_its_value_and_threshold(image):
    _, small, _ = preprocess_frame(image, (96, 128), Normalisation())
    hints = screening_hints(measures(small, np.zeros((96, 128), np.float32), 0.5))
    assert [h["name"] for h in hints] == ["blurry", "too_dark", "overexposed", "touches_border", "too_small", "no_lesion"]
    assert all({"value", "threshold", "direction", "fired", "message"} <= set(h) for h in hints)


def test_inconsistent_hint_thresholds_are_refused():
    from edgeseg.errors import ConfigError

    with pytest.raises(ConfigError):
        HintConfig(dark_max_mean=230.0)
