"""Which files are images: the one suffix table and the one folder lister.

Data layouts, prediction, calibration folders and the camera's still-image source all list
images through here, so they agree on what an image file is.
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.errors import DataError

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
"""File suffixes (lower case) treated as images or masks."""


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (by suffix, any case), sorted; [] if it is missing."""
    if not folder.is_dir():
        return []
    # Dot files include macOS "._x.jpg" resource forks, which have an image suffix but no image.
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def list_images(path: str | Path) -> list[Path]:
    """Image files of a folder (sorted; an ``images/`` sub-folder is used if present), or one file.

    Raises:
        DataError: no such path, or a folder without images.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder")
    if (path / "images").is_dir():
        path = path / "images"
    files = image_files(path)
    if not files:
        raise DataError(f"{path}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return files
