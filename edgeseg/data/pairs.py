"""Find image/mask pairs on disk in one of a few registered folder layouts, and split them.

Only paths are handled here; :mod:`edgeseg.data.decode` reads the pixels. Neither module imports
TensorFlow: the CLI checks a data folder with them in well under a second.

Layouts (``LAYOUTS``, tried by ``auto`` in name order):

- ``generic``: ``ROOT/images/<stem>.<ext>`` + ``ROOT/masks/<stem>[_mask|_segmentation].<ext>``
- ``isic``: the official ISIC download, ``*_Input/ISIC_x.jpg`` + ``*_GroundTruth/ISIC_x_segmentation.png``
  (the 2016/2017 downloads' ``*_Data`` input folders are accepted too)
- ``ph2``: the official PH2 download, ``IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp`` +
  ``IMDxxx/IMDxxx_lesion/IMDxxx_lesion.bmp``, optionally inside ``PH2 Dataset images/``

Files pair by id (the image's stem). Unpaired files are skipped and listed by
:meth:`PairScan.summary`; two files claiming the same id raise, since picking one would be a guess.
"""

from __future__ import annotations

import abc

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeseg.data.images import image_files
from edgeseg.errors import ConfigError, DataError
from edgeseg.registry import Registry

# Sub-folder names of a folder split; the first name of each entry is the split's key.
SPLIT_FOLDERS: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "validation": ("validation", "val"),
    "test": ("test",),
}


@dataclass(frozen=True)
class Pair:
    """One image file and its lesion-mask file (paths only; ``decode.read_pair`` reads them)."""

    image: Path
    mask: Path

    @property
    def stem(self) -> str:
        """The image's id: its file name without suffix, e.g. ``ISIC_0000000`` or ``IMD002``."""
        return self.image.stem


@dataclass(frozen=True)
class PairScan:
    """The result of scanning one folder.

    Attributes:
        root: the folder as given.
        layout: the layout's registered name.
        pairs: the pairs found, sorted by stem (never empty: a scan with no pairs raises).
        unpaired_images: images without a mask, skipped, sorted.
        unpaired_masks: masks without an image, skipped, sorted.
    """

    root: Path
    layout: str
    pairs: tuple[Pair, ...]
    unpaired_images: tuple[Path, ...] = ()
    unpaired_masks: tuple[Path, ...] = ()

    @property
    def skipped(self) -> int:
        """How many files were skipped (unpaired images and masks)."""
        return len(self.unpaired_images) + len(self.unpaired_masks)

    def summary(self, max_names: int = 5) -> str:
        """One line, e.g. ``120 pairs (isic layout) in ROOT; skipped 2 images without a mask
        (a.jpg, b.jpg) and 1 mask without an image (c.png)``; at most ``max_names`` file names
        are listed per kind."""
        text = f"{_count(len(self.pairs), 'pair')} ({self.layout} layout) in {self.root}"
        skipped = []
        if self.unpaired_images:
            skipped.append(
                f"{_count(len(self.unpaired_images), 'image')} without a mask"
                f"{_names(self.unpaired_images, max_names)}"
            )
        if self.unpaired_masks:
            skipped.append(
                f"{_count(len(self.unpaired_masks), 'mask')} without an image"
                f"{_names(self.unpaired_masks, max_names)}"
            )
        if skipped:
            text += "; skipped " + " and ".join(skipped)
        return text


@dataclass(frozen=True)
class Layout(abc.ABC):
    """A folder convention for image/mask pairs (subclasses implement ``detect`` and ``scan``).

    Attributes:
        name: the registered name (also written into :attr:`PairScan.layout`).
        describe: the expected layout in a few words, for error messages.
        mask_suffixes: stem endings a mask may carry after its image's stem (case-insensitive).
    """

    name: str
    describe: str
    mask_suffixes: tuple[str, ...] = ()

    @abc.abstractmethod
    def detect(self, root: Path) -> bool:
        """True when ``root``'s folders look like this layout (files are not checked)."""

    @abc.abstractmethod
    def scan(self, root: Path) -> PairScan:
        """Pair the files under ``root``; raises :class:`DataError` when no pair is found."""

    def _match(self, root: Path, images: list[Path], masks: list[Path], found: str) -> PairScan:
        """Pair ``images`` with ``masks`` by stem; ``found`` says what was there, for errors."""
        by_stem: dict[str, Path] = {}
        for image in images:
            if image.stem in by_stem:
                raise DataError(
                    f"{root}: images {by_stem[image.stem]} and {image} have the same id "
                    f"{image.stem!r}; keep one of them"
                )
            by_stem[image.stem] = image
        mask_of: dict[str, Path] = {}
        unpaired_masks = []
        for mask in masks:
            key = self._mask_key(mask.stem, by_stem)
            if key is None:
                unpaired_masks.append(mask)
            elif key in mask_of:
                raise DataError(
                    f"{root}: masks {mask_of[key]} and {mask} both belong to image {by_stem[key]}; "
                    "keep one of them"
                )
            else:
                mask_of[key] = mask
        pairs = tuple(Pair(by_stem[s], mask_of[s]) for s in sorted(mask_of))
        unpaired_images = tuple(sorted(p for s, p in by_stem.items() if s not in mask_of))
        if not pairs:
            example = ""
            if images and masks:
                example = f"; e.g. image {images[0].name} has no mask and mask {masks[0].name} has no image"
            raise DataError(
                f"{root}: 0 image/mask pairs in the {self.name} layout ({found}); "
                f"expected {self.describe}{example}"
            )
        return PairScan(root, self.name, pairs, unpaired_images, tuple(sorted(unpaired_masks)))

    def _mask_key(self, stem: str, images: dict[str, Path]) -> str | None:
        """The image stem a mask belongs to, or None."""
        if stem in images:
            return stem
        for suffix in self.mask_suffixes:
            if stem.lower().endswith(suffix.lower()) and stem[: -len(suffix)] in images:
                return stem[: -len(suffix)]
        return None


@dataclass(frozen=True)
class GenericLayout(Layout):
    """``ROOT/images/`` + ``ROOT/masks/``, pairing by stem."""

    def detect(self, root: Path) -> bool:
        return (root / "images").is_dir() and (root / "masks").is_dir()

    def scan(self, root: Path) -> PairScan:
        images, masks = image_files(root / "images"), image_files(root / "masks")
        found = f"images/ has {_count(len(images), 'file')}, masks/ has {len(masks)}"
        return self._match(root, images, masks, found)


@dataclass(frozen=True)
class IsicLayout(Layout):
    """The official ISIC challenge download (2016-2018 Task 1 / Part 1).

    Every input folder is paired with every ground-truth folder: ISIC ids are unique across
    training, validation and test, so a root holding several of them pairs correctly.
    """

    def detect(self, root: Path) -> bool:
        return bool(self._inputs(root)) and bool(self._ground_truths(root))

    def scan(self, root: Path) -> PairScan:
        inputs, truths = self._inputs(root), self._ground_truths(root)
        # *_superpixels.png are ISIC 2017's per-image superpixel maps, not images to segment.
        images = [p for d in inputs for p in image_files(d) if not p.stem.endswith("_superpixels")]
        masks = [p for d in truths for p in image_files(d)]
        found = (
            f"{', '.join(d.name + '/' for d in inputs)} {_has(len(inputs))} {_count(len(images), 'image')}, "
            f"{', '.join(d.name + '/' for d in truths)} {_has(len(truths))} {_count(len(masks), 'mask')}"
        )
        return self._match(root, images, masks, found)

    @staticmethod
    def _inputs(root: Path) -> list[Path]:
        # 2018 names them *_Input; 2016 and 2017 name them *_Data.
        return _subdirs(root, lambda n: n.lower().endswith(("_input", "_data")))

    @staticmethod
    def _ground_truths(root: Path) -> list[Path]:
        return _subdirs(root, lambda n: n.lower().endswith("_groundtruth"))


# "PH2 Dataset images", "PH2_Dataset_images", "ph2-dataset-images", ...
_PH2_WRAPPER = re.compile(r"ph2[\s_-]*dataset[\s_-]*images", re.IGNORECASE)


@dataclass(frozen=True)
class Ph2Layout(Layout):
    """The official PH2 download: one folder per case; ``IMDxxx_roi/`` and other files are ignored."""

    def detect(self, root: Path) -> bool:
        return bool(self._image_dirs(self._base(root)))

    def scan(self, root: Path) -> PairScan:
        base = self._base(root)
        images = [p for d in self._image_dirs(base) for p in image_files(d)]
        masks = [p for d in sorted(base.glob("*/*_lesion")) if d.is_dir() for p in image_files(d)]
        found = f"{_count(len(images), 'dermoscopic image')}, {_count(len(masks), 'lesion mask')}"
        return self._match(root, images, masks, found)

    @staticmethod
    def _base(root: Path) -> Path:
        # The PH2 archive unpacks to PH2Dataset/ with the cases one level down.
        wrappers = _subdirs(root, lambda n: _PH2_WRAPPER.fullmatch(n) is not None)
        return wrappers[0] if len(wrappers) == 1 else root

    @staticmethod
    def _image_dirs(base: Path) -> list[Path]:
        return [d for d in sorted(base.glob("*/*_Dermoscopic_Image")) if d.is_dir()]


LAYOUTS: Registry[Layout] = Registry("data layout")
LAYOUTS.add(
    "generic",
    GenericLayout(
        "generic", "ROOT/images + ROOT/masks with matching stems", mask_suffixes=("_mask", "_segmentation")
    ),
)
LAYOUTS.add(
    "isic",
    IsicLayout(
        "isic", "*_Input/ISIC_x.jpg + *_GroundTruth/ISIC_x_segmentation.png", mask_suffixes=("_segmentation",)
    ),
)
LAYOUTS.add(
    "ph2",
    Ph2Layout(
        "ph2",
        "IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp + IMDxxx/IMDxxx_lesion/IMDxxx_lesion.bmp",
        mask_suffixes=("_lesion",),
    ),
)


def find_pairs(root: str | Path, layout: str = "auto") -> PairScan:
    """Scan ``root`` in ``layout`` (``auto``: the first registered layout, by name, it matches).

    Raises:
        UnknownNameError: ``layout`` is neither ``auto`` nor a registered name.
        DataError: ``root`` is missing or not a folder, matches no layout (or not the one asked
            for), or the layout's folders hold no pair.
    """
    chosen = None if layout == "auto" else LAYOUTS.get(layout)  # a bad name fails before any disk access
    root = Path(root)
    _check_folder(root)
    if chosen is None:
        chosen = _detect(root)
    elif not chosen.detect(root):
        raise DataError(f"{root}: not in the {chosen.name} layout; expected {chosen.describe}")
    return chosen.scan(root)


def find_splits(root: str | Path, layout: str = "auto") -> dict[str, PairScan]:
    """Scan a folder split, or the whole folder.

    If ``root`` has ``train/`` and ``validation/`` (or ``val/``) sub-folders, and optionally
    ``test/``, each is scanned with :func:`find_pairs` and the result has the keys ``train``,
    ``validation`` (also for ``val/``) and, if present, ``test``. Otherwise the result is
    ``{"all": find_pairs(root, layout)}``, to be split with :func:`split_pairs`.
    """
    if layout != "auto":
        LAYOUTS.get(layout)
    root = Path(root)
    _check_folder(root)
    folders = _split_folders(root)
    if folders is None:
        return {"all": find_pairs(root, layout)}
    return {split: find_pairs(folder, layout) for split, folder in folders.items()}


def split_pairs(
    pairs: Sequence[Pair], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, tuple[Pair, ...]]:
    """Split pairs at random, reproducibly, into ``train``, ``validation`` and ``test``.

    The pairs are sorted by stem first, so the input order does not matter; then
    ``numpy.random.default_rng(seed).permutation`` picks ``max(1, round(n * val_fraction))``
    validation pairs, then ``round(n * test_fraction)`` test pairs (at least 1 when
    ``test_fraction > 0``; none when it is 0), and the rest train. Each split is sorted by stem.

    Raises:
        ConfigError: fractions outside ``0 < val``, ``0 <= test``, ``val + test < 1``.
        DataError: fewer than 3 pairs, or no training pair would be left.
    """
    if not (0 < val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(
            f"split fractions must leave training data: val={val_fraction}, test={test_fraction}"
        )
    ordered = sorted(pairs, key=lambda p: (p.stem, str(p.image), str(p.mask)))  # so input order cannot change the split
    n = len(ordered)
    n_val = max(1, round(n * val_fraction))
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    n_train = n - n_val - n_test
    if n < 3 or n_train < 1:
        raise DataError(
            f"only {_count(n, 'image/mask pair')}: too few to split into train, validation "
            f"({n_val}) and test ({n_test}); add data, lower the fractions, or give a folder split"
        )
    order = np.random.default_rng(seed).permutation(n)
    cuts = {
        "train": order[n_val + n_test :],
        "validation": order[:n_val],
        "test": order[n_val : n_val + n_test],
    }
    return {name: tuple(sorted((ordered[i] for i in idx), key=_by_stem)) for name, idx in cuts.items()}


def _by_stem(pair: Pair) -> str:
    return pair.stem


def _detect(root: Path) -> Layout:
    for name in LAYOUTS:
        layout = LAYOUTS.get(name)
        if layout.detect(root):
            return layout
    expected = ", ".join(f"{name} ({LAYOUTS.get(name).describe})" for name in LAYOUTS)
    hint = ""
    if _split_folders(root) is not None:
        hint = "; it holds a folder split (train/, validation/): scan it with find_splits"
    elif (root / "train").is_dir():
        hint = (
            "; it has a train/ folder: a folder split needs train/ and validation/ (or val/), "
            "optionally test/, each holding one layout"
        )
    raise DataError(f"{root}: no image/mask pairs found; expected one of: {expected}{hint}")


def _split_folders(root: Path) -> dict[str, Path] | None:
    found: dict[str, Path] = {}
    for split, names in SPLIT_FOLDERS.items():
        present = [root / n for n in names if (root / n).is_dir()]
        if len(present) > 1:
            raise DataError(
                f"{root}: both {' and '.join(p.name + '/' for p in present)} exist; keep one {split} folder"
            )
        if present:
            found[split] = present[0]
    if "train" not in found or "validation" not in found:
        return None
    return found


def _check_folder(root: Path) -> None:
    if not root.exists():
        raise DataError(f"{root}: no such folder; check the path")
    if not root.is_dir():
        raise DataError(f"{root}: is a file; give the folder that holds the images and masks")


def _subdirs(root: Path, keep: Callable[[str], bool]) -> list[Path]:
    return sorted(d for d in root.iterdir() if d.is_dir() and keep(d.name))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _has(n: int) -> str:
    return "has" if n == 1 else "have"


def _names(paths: Iterable[Path], max_names: int) -> str:
    paths = list(paths)
    if max_names <= 0:
        return ""
    shown = ", ".join(p.name for p in paths[:max_names])
    if len(paths) > max_names:
        shown += f", and {len(paths) - max_names} more"
    return f" ({shown})"
