"""Tests for edgeseg.data.decode: every format and mode to RGB uint8, mask binarisation, errors.

Each case writes a real ISIC image or mask in one format/mode and checks the exact result
(lossless formats) or closeness to the original (JPEG, palette).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from edgeseg.data.decode import IMAGE_SUFFIXES, read_image, read_mask, read_pair
from edgeseg.data.pairs import Pair
from edgeseg.errors import DataError

RealPairs = list[tuple[Path, Path]]
# A real ISIC 2018 mask, 128x128: the wrong size for the 256x192 ISIC 2017 images.
ISIC2018_MASK = "isic2018_task1_128/ISIC2018_Task1_Training_GroundTruth/ISIC_0000000_segmentation.png"


def _luma(rgb: np.ndarray) -> np.ndarray:
    return np.array(Image.fromarray(rgb).convert("L"))


def _gray3(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)


def _rgba(rgb: np.ndarray) -> Image.Image:
    # A varying alpha, so compositing (instead of dropping alpha) would change the pixels.
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1]).astype(np.uint8), (rgb.shape[0], 1))
    return Image.fromarray(np.dstack([rgb, alpha]))


def _check_rgb(out: np.ndarray, shape: tuple[int, int]) -> None:
    assert out.dtype == np.uint8 and out.shape == (*shape, 3)
    assert out.flags.c_contiguous and out.flags.writeable


# (name, file name, writer: real RGB -> saved file, expected: real RGB -> decoded RGB) for lossless cases.
Writer = Callable[[np.ndarray, Path], None]
LOSSLESS_IMAGES: list[tuple[str, str, Writer, Callable[[np.ndarray], np.ndarray]]] = [
    ("png_rgb", "x.png", lambda a, p: Image.fromarray(a).save(p), lambda a: a),
    ("bmp_rgb", "x.bmp", lambda a, p: Image.fromarray(a).save(p), lambda a: a),
    ("tiff_rgb", "x.tif", lambda a, p: Image.fromarray(a).save(p), lambda a: a),
    ("png_rgba_drops_alpha", "x.png", lambda a, p: _rgba(a).save(p), lambda a: a),
    ("tiff_cmyk", "x.tiff", lambda a, p: Image.fromarray(a).convert("CMYK").save(p), lambda a: a),
    ("png_l", "x.png", lambda a, p: Image.fromarray(_luma(a)).save(p), lambda a: _gray3(_luma(a))),
    (
        "png_la",
        "x.png",
        lambda a, p: Image.fromarray(_luma(a)).convert("LA").save(p),
        lambda a: _gray3(_luma(a)),
    ),
    (
        # Mode I;16: the 8-bit luma scaled by 257 to the full 16-bit range reads back exactly.
        "png_16bit_gray",
        "x.png",
        lambda a, p: Image.fromarray(_luma(a).astype(np.uint16) * 257).save(p),
        lambda a: _gray3(_luma(a)),
    ),
    (
        "tiff_16bit_gray",
        "x.tiff",
        lambda a, p: Image.fromarray(_luma(a).astype(np.uint16) * 257).save(p),
        lambda a: _gray3(_luma(a)),
    ),
    (
        # Big-endian 16-bit TIFF opens as mode I;16B.
        "tiff_16bit_gray_big_endian",
        "x.tif",
        lambda a, p: Image.fromarray((_luma(a).astype(np.uint16) * 257).astype(">u2")).save(p),
        lambda a: _gray3(_luma(a)),
    ),
    (
        "tiff_float_0_1",
        "x.tif",
        lambda a, p: Image.fromarray(_luma(a).astype(np.float32) / 255).save(p),
        lambda a: _gray3(_luma(a)),
    ),
]


@pytest.mark.parametrize(
    ("name", "filename", "write", "expected"), LOSSLESS_IMAGES, ids=[c[0] for c in LOSSLESS_IMAGES]
)
def test_lossless_formats_read_exactly(
    tmp_path: Path, real_image: np.ndarray, name: str, filename: str, write: Writer, expected: Callable
) -> None:
    path = tmp_path / filename
    write(real_image, path)
    out = read_image(path)
    _check_rgb(out, real_image.shape[:2])
    np.testing.assert_array_equal(out, expected(real_image))


def test_sixteen_bit_modes_open_as_expected(tmp_path: Path, real_image: np.ndarray) -> None:
    # Guards the cases above: they must really exercise Pillow's 16-bit modes.
    for fn, dtype, mode in (("a.png", "<u2", "I;16"), ("b.tif", "<u2", "I;16"), ("c.tif", ">u2", "I;16B")):
        Image.fromarray((_luma(real_image).astype(np.uint16) * 257).astype(dtype)).save(tmp_path / fn)
        with Image.open(tmp_path / fn) as im:
            assert im.mode == mode


def test_sixteen_bit_is_rescaled_not_clipped(tmp_path: Path, real_image: np.ndarray) -> None:
    gray16 = _luma(real_image).astype(np.uint16) * 257
    # round(v / 257): 128/257 rounds down, 129/257 up, 65535 is white; clipping would give 255 for all > 255.
    gray16[0, :5] = [0, 128, 129, 32896, 65535]
    Image.fromarray(gray16).save(tmp_path / "x.png")
    out = read_image(tmp_path / "x.png")
    assert out[0, :5, 0].tolist() == [0, 0, 1, 128, 255]
    np.testing.assert_array_equal(out[1:], _gray3(_luma(real_image))[1:])


def test_jpeg_is_rgb_in_the_right_channel_order(real_pairs: RealPairs, real_image: np.ndarray) -> None:
    import cv2

    path = real_pairs[0][0]
    out = read_image(path)
    _check_rgb(out, (192, 256))
    np.testing.assert_array_equal(out, real_image)
    # OpenCV decodes BGR; flipped, it agrees to within decoder rounding (a BGR mix-up would not).
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert np.abs(out.astype(int) - bgr[:, :, ::-1].astype(int)).mean() < 1.0
    assert np.abs(out.astype(int) - bgr.astype(int)).mean() > 5.0


def test_palette_image_goes_through_its_palette(tmp_path: Path, real_image: np.ndarray) -> None:
    quantized = Image.fromarray(real_image).quantize(64)
    quantized.save(tmp_path / "x.png")
    with Image.open(tmp_path / "x.png") as im:
        assert im.mode == "P"
    out = read_image(tmp_path / "x.png")
    _check_rgb(out, real_image.shape[:2])
    np.testing.assert_array_equal(out, np.array(quantized.convert("RGB")))
    assert np.abs(out.astype(int) - real_image.astype(int)).mean() < 4.0


def test_jpeg_grayscale_and_bilevel(tmp_path: Path, real_image: np.ndarray, real_mask: np.ndarray) -> None:
    Image.fromarray(_luma(real_image)).save(tmp_path / "g.jpg", quality=95)
    out = read_image(tmp_path / "g.jpg")
    _check_rgb(out, real_image.shape[:2])
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 0] == out[..., 2]).all()
    assert np.abs(out[..., 0].astype(int) - _luma(real_image).astype(int)).mean() < 2.0
    Image.fromarray(real_mask).convert("1").save(tmp_path / "b.bmp")
    np.testing.assert_array_equal(read_image(tmp_path / "b.bmp"), _gray3(real_mask))


# --- masks ------------------------------------------------------------------------------------


def _palette_mask(mask01: np.ndarray, palette: list[int]) -> Image.Image:
    im = Image.fromarray(mask01.astype(np.uint8), "L").convert("P")
    im.putpalette(palette + [0] * (768 - len(palette)))
    return im


MASK_WRITERS: list[tuple[str, str, Callable[[np.ndarray], Image.Image]]] = [
    ("png_0_255", "m.png", lambda m: Image.fromarray(m)),
    ("png_0_1", "m.png", lambda m: Image.fromarray(m // 255)),
    ("bmp_mode_1", "m.bmp", lambda m: Image.fromarray(m).convert("1")),
    ("png_rgb_white", "m.png", lambda m: Image.fromarray(_gray3(m))),
    # Coloured annotations count in any channel (the maximum over R, G, B is used).
    ("png_rgb_red", "m.png", lambda m: Image.fromarray(np.dstack([m, 0 * m, 0 * m]))),
    ("png_rgb_green", "m.png", lambda m: Image.fromarray(np.dstack([0 * m, m, 0 * m]))),
    ("png_rgba", "m.png", lambda m: Image.fromarray(np.dstack([m, m, m, np.full_like(m, 255)]))),
    ("png_la", "m.png", lambda m: Image.fromarray(m).convert("LA")),
    ("png_palette_0_1", "m.png", lambda m: _palette_mask(m // 255, [0, 0, 0, 255, 255, 255])),
    # Index 0 is white here: the palette, not the raw index, says where the lesion is.
    ("png_palette_inverted", "m.png", lambda m: _palette_mask(1 - m // 255, [255, 255, 255, 0, 0, 0])),
    ("png_palette_voc_red", "m.png", lambda m: _palette_mask(m // 255, [0, 0, 0, 128, 0, 0])),
    ("png_16bit_0_65535", "m.png", lambda m: Image.fromarray(m.astype(np.uint16) * 257)),
    ("png_16bit_0_1", "m.png", lambda m: Image.fromarray((m // 255).astype(np.uint16))),
    ("tiff_16bit_0_255", "m.tif", lambda m: Image.fromarray(m.astype(np.uint16))),
    ("tiff_float_0_1", "m.tif", lambda m: Image.fromarray(m.astype(np.float32) / 255)),
]


@pytest.mark.parametrize(("name", "filename", "make"), MASK_WRITERS, ids=[c[0] for c in MASK_WRITERS])
def test_masks_in_every_encoding_give_the_same_binary_mask(
    tmp_path: Path, real_mask: np.ndarray, name: str, filename: str, make: Callable
) -> None:
    make(real_mask).save(tmp_path / filename)
    out = read_mask(tmp_path / filename)
    assert out.dtype == np.uint8 and out.shape == real_mask.shape
    np.testing.assert_array_equal(out, (real_mask == 255).astype(np.uint8))
    assert 0.05 < out.mean() < 0.95  # the real lesion, not an empty or full mask


def test_real_mask_files(real_pairs: RealPairs, real_mask: np.ndarray, shared_data: Path) -> None:
    np.testing.assert_array_equal(read_mask(real_pairs[0][1]), real_mask // 255)
    out = read_mask(shared_data / ISIC2018_MASK)
    assert out.shape == (128, 128) and set(np.unique(out)) == {0, 1}


def test_mask_threshold_is_above_127(tmp_path: Path, real_mask: np.ndarray) -> None:
    # A soft mask: background 127 stays 0, lesion 128 becomes 1.
    soft = np.where(real_mask == 255, 128, 127).astype(np.uint8)
    Image.fromarray(soft).save(tmp_path / "soft.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "soft.png"), real_mask // 255)
    # All-zero and all-lesion masks are legal.
    Image.fromarray(np.zeros_like(real_mask)).save(tmp_path / "empty.png")
    assert read_mask(tmp_path / "empty.png").sum() == 0
    Image.fromarray(np.ones_like(real_mask)).save(tmp_path / "full.png")
    assert read_mask(tmp_path / "full.png").min() == 1


def test_jpeg_compressed_mask_is_thresholded(tmp_path: Path, real_mask: np.ndarray) -> None:
    Image.fromarray(real_mask).save(tmp_path / "m.jpg", quality=75)
    out = read_mask(tmp_path / "m.jpg")
    with Image.open(tmp_path / "m.jpg") as im:
        np.testing.assert_array_equal(out, (np.array(im) > 127).astype(np.uint8))
    assert (out == real_mask // 255).mean() > 0.99  # JPEG noise only moves edge pixels


# --- pairs and errors -------------------------------------------------------------------------


def test_read_pair(real_pairs: RealPairs, real_image: np.ndarray, real_mask: np.ndarray) -> None:
    image, mask = read_pair(Pair(*real_pairs[0]))
    np.testing.assert_array_equal(image, real_image)
    np.testing.assert_array_equal(mask, real_mask // 255)


def test_read_pair_size_mismatch_names_both_files(real_pairs: RealPairs, shared_data: Path) -> None:
    image = real_pairs[0][0]  # 256x192
    mask = shared_data / ISIC2018_MASK
    with pytest.raises(DataError) as e:
        read_pair(Pair(image, mask))
    assert str(e.value) == (
        f"image {image} is 256x192 but mask {mask} is 128x128 (WxH); pairs must have the same size (resize the mask to its image, or drop the pair)"
    )


@pytest.mark.parametrize("fraction", [0.5, 0.9])
@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_truncated_files_raise(
    tmp_path: Path, real_pairs: RealPairs, fraction: float, fmt: str
) -> None:
    source = real_pairs[0][0] if fmt == "jpg" else real_pairs[0][1]
    data = source.read_bytes()
    path = tmp_path / f"cut.{fmt}"
    path.write_bytes(data[: int(len(data) * fraction)])
    for reader in (read_image, read_mask):
        with pytest.raises(DataError) as e:
            reader(path)
        assert str(e.value).startswith(f"{path}: corrupt or truncated image (")
        assert "\n" not in str(e.value)


def test_truncated_jpeg_raises_even_if_someone_enabled_load_truncated(
    tmp_path: Path, real_pairs: RealPairs, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = real_pairs[0][0].read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.warns(RuntimeWarning, match="LOAD_TRUNCATED_IMAGES"):
        with pytest.raises(DataError, match=r"cut\.jpg: corrupt or truncated image"):
            read_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_not_an_image_missing_and_folder(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("this is a text file, not a JPEG\n")
    with pytest.raises(DataError) as e:
        read_image(text)
    assert str(e.value) == f"{text}: not a readable image (cannot identify image file); replace it with a JPEG/PNG/BMP/TIFF or remove it"
    with pytest.raises(DataError) as e:
        read_mask(tmp_path / "missing.png")
    assert str(e.value) == f"{tmp_path / 'missing.png'}: no such file"
    with pytest.raises(DataError, match="is a folder, not an image file"):
        read_image(tmp_path)


def test_image_suffixes() -> None:
    assert IMAGE_SUFFIXES == frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
