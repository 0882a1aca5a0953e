"""Decode image and mask files into numpy arrays, with Pillow; no TensorFlow.

Pillow, not OpenCV: ``cv2.imread`` fills the missing part of a truncated JPEG with grey and
returns it as if whole, while Pillow raises. A broken training file must stop the run with its
name, never train on grey. Every failure is a one-line :class:`DataError` naming the file.

EXIF orientation is not applied (unlike ``cv2.imread``): masks carry no EXIF, so an image and
its mask only line up in their stored pixel grids. Multi-frame files give their first frame.
"""

from __future__ import annotations

import re
import struct
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from edgeseg.errors import DataError

from edgeseg.data.images import IMAGE_SUFFIXES  # noqa: F401  (re-exported: decode's callers list files too)

if TYPE_CHECKING:
    from edgeseg.data.pairs import Pair

_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
# What decoding a damaged file raises inside Pillow and its codecs.
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, Image.DecompressionBombError
)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3) uint8`` RGB.

    - RGB as stored; grayscale (``L``, ``1``) replicated to 3 channels; palette (``P``, ``PA``)
      through its palette; ``CMYK``, ``YCbCr``, ``LAB``, ``HSV`` by Pillow's conversion.
    - Alpha (``RGBA``, ``LA``, ``PA``) is dropped, not composited: the colour channels are used as
      stored, whatever the alpha says.
    - 16-bit (``I;16``, ``I;16B``, ``I``) is rescaled, not clipped: ``round(v / 257)``, so
      0..65535 maps onto 0..255 and ``v * 257`` reads back as ``v``. (Pillow itself reads 16-bit
      *RGB* PNGs as 8-bit RGB, keeping the high byte.)
    - 32-bit float (``F``) is taken as [0, 1] if its maximum is at most 1, else as [0, 255]; clipped.

    Raises:
        DataError: missing file, not an image, corrupt or truncated data, or an unknown mode.
    """
    path = Path(path)
    with _load(path) as im:
        if im.mode in _SIXTEEN_BIT:
            gray = _sixteen_to_eight(np.asarray(im))
        elif im.mode == "F":
            gray = _float_to_eight(np.asarray(im))
        elif im.mode == "L":
            gray = np.asarray(im)
        elif im.mode == "RGB":
            return np.array(im)
        else:
            return np.array(_convert(im, path, "RGB"))
    return np.repeat(gray[:, :, None], 3, axis=2)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask file as ``(H, W) uint8`` in {0, 1} (1 = lesion).

    The file is first reduced to one channel of raw values: grayscale as stored; colour masks
    (RGB, RGBA, palette through its palette, CMYK, ...) take the maximum over the colour
    channels, so a white, red or green annotation all count; alpha is ignored; ``1`` is 0/255;
    ``F`` is scaled to 8 bit as in :func:`read_image`. Then, with ``m`` the largest value:

    - ``m <= 1`` (a 0/1 mask of any bit depth, or an empty one): lesion where ``value > 0``;
    - ``m <= 255`` (8-bit, or a 16-bit file holding 8-bit values): lesion where ``value > 127``;
    - ``m > 255`` (16-bit range): the 8-bit rule on the 8-bit-scaled values,
      ``round(value / 257) > 127``, i.e. ``value > 32767``.

    So 0/255, 0/1 and 0/65535 masks of the same lesion give the same array.

    Raises:
        DataError: as :func:`read_image`.
    """
    path = Path(path)
    with _load(path) as im:
        if im.mode in _SIXTEEN_BIT or im.mode == "L":
            values = np.asarray(im)
        elif im.mode == "F":
            values = _float_to_eight(np.asarray(im))
        elif im.mode in ("LA", "La"):
            values = np.asarray(im.getchannel(0))
        else:
            values = np.asarray(_convert(im, path, "RGB")).max(axis=2)
    top = int(values.max()) if values.size else 0
    if top <= 1:
        lesion = values > 0
    elif top <= 255:
        lesion = values > 127
    else:
        lesion = values > 32767
    return lesion.astype(np.uint8)


def read_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair as ``((H, W, 3) uint8 RGB, (H, W) uint8 in {0, 1})``.

    Raises:
        DataError: either file is unreadable, or their sizes differ (both files are named).
    """
    image = read_image(pair.image)
    mask = read_mask(pair.mask)
    if image.shape[:2] != mask.shape:
        (h, w), (mh, mw) = image.shape[:2], mask.shape
        raise DataError(
            f"image {pair.image} is {w}x{h} but mask {pair.mask} is {mw}x{mh} (WxH); "
            "pairs must have the same size (resize the mask to its image, or drop the pair)"
        )
    return image, mask


def _load(path: Path) -> Image.Image:
    """Open and fully decode ``path`` (the caller closes it), mapping failures to DataError."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Some libraries switch this global on; then Pillow pads a truncated file with grey, silently.
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        warnings.warn(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES was True; edgeseg turned it off so that truncated "
            "images raise instead of decoding as grey",
            RuntimeWarning,
            stacklevel=3,
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns (two raw lines) between its pixel limit and twice it: refuse the
            # file with one line instead, as it does above twice the limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (*_DECODE_ERRORS, Image.DecompressionBombWarning) as e:
        raise _decode_error(path, e) from None
    try:
        im.load()  # Image.open reads only the header: a truncated body fails here, or never
    except _DECODE_ERRORS as e:
        im.close()
        raise _decode_error(path, e) from None
    return im


def _decode_error(path: Path, e: BaseException) -> DataError:
    if isinstance(e, FileNotFoundError):
        return DataError(f"{path}: no such file")
    if isinstance(e, IsADirectoryError):
        return DataError(f"{path}: is a folder, not an image file")
    if isinstance(e, PermissionError):
        return DataError(f"{path}: cannot read the file (permission denied)")
    if isinstance(e, UnidentifiedImageError):
        return DataError(f"{path}: not a readable image (cannot identify image file); replace it with a JPEG/PNG/BMP/TIFF or remove it")
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        pixels = next(iter(re.findall(r"\((\d+) pixels\)", str(e))), None)
        return DataError(f"{path}: image too large to decode safely ({f'{int(pixels):,} pixels, ' if pixels else ''}"
                         f"Pillow's limit is {Image.MAX_IMAGE_PIXELS:,}); downscale it")
    detail = str(e).splitlines()[0] if str(e) else type(e).__name__
    return DataError(f"{path}: corrupt or truncated image ({detail}); re-copy the file or remove the pair")


def _convert(im: Image.Image, path: Path, mode: str) -> Image.Image:
    try:
        return im.convert(mode)
    except ValueError:
        raise DataError(
            f"{path}: unsupported image mode {im.mode!r}; save it as 8-bit RGB or grayscale"
        ) from None


def _sixteen_to_eight(values: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint16/int32 in [0, 65535] -> uint8 ``round(v / 257)``, exact in integers."""
    v = np.clip(values.astype(np.int64), 0, 65535)
    # 257 is odd, so v / 257 is never exactly .5 and +128 rounds to nearest.
    return ((v + 128) // 257).astype(np.uint8)


def _float_to_eight(values: np.ndarray) -> np.ndarray:
    """``(H, W)`` float32 in [0, 1] (if max <= 1) or [0, 255] -> uint8, NaN as 0."""
    v = np.nan_to_num(values.astype(np.float64), nan=0.0)
    if v.size and v.max() <= 1.0:
        v = v * 255.0
    return np.rint(np.clip(v, 0.0, 255.0)).astype(np.uint8)
