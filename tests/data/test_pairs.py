"""Tests for edgeseg.data.pairs: layouts, auto-detection, errors, folder and seeded splits."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgeseg.data.pairs import LAYOUTS, Pair, PairScan, find_pairs, find_splits, split_pairs
from edgeseg.errors import ConfigError, DataError, UnknownNameError

RealPairs = list[tuple[Path, Path]]

# The ids the conftest layouts give to 4 real ISIC 2017 pairs.
ISIC_IDS = ("ISIC_0000000", "ISIC_0000001", "ISIC_0000002", "ISIC_0000003")
PH2_IDS = ("IMD002", "IMD003", "IMD004", "IMD006")

AUTO_ERROR = (
    "{root}: no image/mask pairs found; expected one of: "
    "generic (ROOT/images + ROOT/masks with matching stems), "
    "isic (*_Input/ISIC_x.jpg + *_GroundTruth/ISIC_x_segmentation.png), "
    "ph2 (IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp + IMDxxx/IMDxxx_lesion/IMDxxx_lesion.bmp)"
)


def test_modules_do_not_import_tensorflow() -> None:
    # The CLI's fast paths (checking a data folder) rely on this.
    code = (
        "import sys, edgeseg.data, edgeseg.data.pairs, edgeseg.data.decode; "
        "sys.exit('tensorflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- generic ----------------------------------------------------------------------------------


def test_generic_layout_pairs_by_stem(generic_root: Path, real_pairs: RealPairs) -> None:
    scan = find_pairs(generic_root)
    stems = [image.stem for image, _ in real_pairs]
    assert scan.layout == "generic"
    assert scan.root == generic_root
    assert scan.pairs == tuple(
        Pair(generic_root / "images" / f"{s}.jpg", generic_root / "masks" / f"{s}.png") for s in stems
    )
    assert [p.stem for p in scan.pairs] == sorted(stems) == stems
    assert scan.unpaired_images == scan.unpaired_masks == ()
    assert scan.summary() == f"4 pairs (generic layout) in {generic_root}"


def test_generic_accepts_mask_suffixes_and_any_case_extension(generic_root: Path) -> None:
    masks, images = generic_root / "masks", generic_root / "images"
    a, b, c, d = sorted(p.stem for p in images.iterdir())
    (masks / f"{a}.png").rename(masks / f"{a}_mask.png")
    (masks / f"{b}.png").rename(masks / f"{b}_segmentation.PNG")
    (images / f"{c}.jpg").rename(images / f"{c}.JPEG")
    scan = find_pairs(generic_root, "generic")
    assert [(p.image.name, p.mask.name) for p in scan.pairs] == [
        (f"{a}.jpg", f"{a}_mask.png"),
        (f"{b}.jpg", f"{b}_segmentation.PNG"),
        (f"{c}.JPEG", f"{c}.png"),
        (f"{d}.jpg", f"{d}.png"),
    ]


def test_unpaired_files_are_skipped_and_listed(generic_root: Path, real_pairs: RealPairs) -> None:
    image, mask = real_pairs[0]
    for name in ("extra_b.jpg", "extra_a.jpg"):
        shutil.copy(image, generic_root / "images" / name)
    shutil.copy(mask, generic_root / "masks" / "orphan.png")
    (generic_root / "images" / "notes.txt").write_text("not an image\n")
    (generic_root / "images" / "._extra_c.jpg").write_bytes(b"\x00\x05\x16\x07")  # macOS resource fork

    scan = find_pairs(generic_root)
    assert len(scan.pairs) == 4
    images = generic_root / "images"
    assert scan.unpaired_images == (images / "extra_a.jpg", images / "extra_b.jpg")
    assert scan.unpaired_masks == (generic_root / "masks" / "orphan.png",)
    assert scan.summary() == (
        f"4 pairs (generic layout) in {generic_root}; skipped 2 images without a mask "
        "(extra_a.jpg, extra_b.jpg) and 1 mask without an image (orphan.png)"
    )
    assert scan.summary(max_names=1) == (
        f"4 pairs (generic layout) in {generic_root}; skipped 2 images without a mask "
        "(extra_a.jpg, and 1 more) and 1 mask without an image (orphan.png)"
    )


def test_zero_pairs_names_the_layout_and_what_was_found(generic_root: Path) -> None:
    for mask in (generic_root / "masks").iterdir():
        mask.unlink()
    with pytest.raises(DataError) as e:
        find_pairs(generic_root)
    assert str(e.value) == (
        f"{generic_root}: 0 image/mask pairs in the generic layout (images/ has 4 files, masks/ has 0); "
        "expected ROOT/images + ROOT/masks with matching stems"
    )


def test_zero_pairs_with_mismatched_names_gives_an_example(generic_root: Path) -> None:
    for mask in (generic_root / "masks").iterdir():
        mask.rename(mask.with_name("label_" + mask.name))
    example = (
        r"; e\.g\. image isic2017_train_0001\.jpg has no mask and mask label_isic2017_train_0001\.png "
        r"has no image$"
    )
    with pytest.raises(DataError, match=r"masks/ has 4\); expected .*" + example):
        find_pairs(generic_root)


def test_duplicate_ids_raise(generic_root: Path) -> None:
    first = sorted((generic_root / "masks").iterdir())[0]
    shutil.copy(first, first.with_name(first.stem + "_mask.png"))
    with pytest.raises(DataError, match=r"masks .* and .*_mask\.png both belong to image .*; keep one"):
        find_pairs(generic_root)
    image = sorted((generic_root / "images").iterdir())[0]
    shutil.copy(image, image.with_suffix(".png"))
    with pytest.raises(DataError, match=rf"images .* have the same id '{image.stem}'"):
        find_pairs(generic_root)


# --- isic and ph2 -----------------------------------------------------------------------------


def test_isic_layout(isic_root: Path) -> None:
    scan = find_pairs(isic_root)
    inputs = isic_root / "ISIC2018_Task1-2_Training_Input"
    truth = isic_root / "ISIC2018_Task1_Training_GroundTruth"
    assert scan.layout == "isic"
    assert scan.pairs == tuple(Pair(inputs / f"{i}.jpg", truth / f"{i}_segmentation.png") for i in ISIC_IDS)
    # LICENSE.txt / ATTRIBUTION.txt and the superpixel map are neither pairs nor "unpaired".
    assert scan.unpaired_images == (inputs / "ISIC_0000099.jpg",)
    assert scan.unpaired_masks == ()
    assert scan.summary() == (
        f"4 pairs (isic layout) in {isic_root}; skipped 1 image without a mask (ISIC_0000099.jpg)"
    )


def test_isic_layout_without_masks_says_what_it_found(isic_root: Path) -> None:
    for mask in (isic_root / "ISIC2018_Task1_Training_GroundTruth").glob("*.png"):
        mask.unlink()
    with pytest.raises(DataError) as e:
        find_pairs(isic_root, "isic")
    assert str(e.value) == (
        f"{isic_root}: 0 image/mask pairs in the isic layout (ISIC2018_Task1-2_Training_Input/ has 5 images, "
        "ISIC2018_Task1_Training_GroundTruth/ has 0 masks); "
        "expected *_Input/ISIC_x.jpg + *_GroundTruth/ISIC_x_segmentation.png"
    )


def test_ph2_layout_inside_its_wrapper_folder(ph2_root: Path) -> None:
    scan = find_pairs(ph2_root)
    cases = ph2_root / "PH2 Dataset images"
    assert scan.layout == "ph2"
    assert scan.root == ph2_root
    assert scan.pairs == tuple(
        Pair(cases / i / f"{i}_Dermoscopic_Image" / f"{i}.bmp", cases / i / f"{i}_lesion" / f"{i}_lesion.bmp")
        for i in PH2_IDS
    )
    assert [p.stem for p in scan.pairs] == list(PH2_IDS)
    assert scan.unpaired_images == scan.unpaired_masks == ()  # IMDxxx_roi/ is ignored


def test_ph2_layout_at_the_case_level(ph2_root: Path) -> None:
    cases = ph2_root / "PH2 Dataset images"
    shutil.rmtree(cases / "IMD006" / "IMD006_lesion")
    scan = find_pairs(cases, "ph2")
    assert [p.stem for p in scan.pairs] == ["IMD002", "IMD003", "IMD004"]
    assert scan.unpaired_images == (cases / "IMD006" / "IMD006_Dermoscopic_Image" / "IMD006.bmp",)


@pytest.mark.parametrize(
    ("fixture", "layout"), [("generic_root", "generic"), ("isic_root", "isic"), ("ph2_root", "ph2")]
)
def test_auto_detects_each_layout_and_explicit_names_agree(
    request: pytest.FixtureRequest, fixture: str, layout: str
) -> None:
    root = request.getfixturevalue(fixture)
    auto = find_pairs(root)
    assert auto.layout == layout
    assert find_pairs(str(root), layout) == auto
    for other in sorted(set(LAYOUTS) - {layout}):
        with pytest.raises(DataError, match=rf"^{root}: not in the {other} layout; expected "):
            find_pairs(root, other)


# --- root errors ------------------------------------------------------------------------------


def test_unknown_layout_lists_the_choices(generic_root: Path) -> None:
    with pytest.raises(UnknownNameError) as e:
        find_pairs(generic_root, "isci")
    assert str(e.value) == (
        "unknown data layout 'isci'; choose one of: generic, isic, ph2. Did you mean 'isic'?"
    )
    with pytest.raises(UnknownNameError, match="choose one of: generic, isic, ph2"):
        find_splits(generic_root, "coco")


def test_missing_root_file_root_and_empty_root(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        find_pairs(tmp_path / "nope")
    assert str(e.value) == f"{tmp_path / 'nope'}: no such folder; check the path"
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match=r"file\.jpg: is a file; give the folder"):
        find_pairs(tmp_path / "file.jpg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as e:
        find_pairs(tmp_path / "empty")
    assert str(e.value) == AUTO_ERROR.format(root=tmp_path / "empty")


def test_split_root_given_to_find_pairs_hints_at_find_splits(shared_data: Path) -> None:
    root = shared_data / "isic2017"
    with pytest.raises(DataError) as e:
        find_pairs(root)
    assert str(e.value) == AUTO_ERROR.format(root=root) + (
        "; it holds a folder split (train/, validation/): scan it with find_splits"
    )


# --- real data --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def isic2018_scan(shared_data: Path) -> PairScan:
    return find_pairs(shared_data / "isic2018_task1_128")


def test_real_isic2018_folder_is_auto_detected(isic2018_scan: PairScan, shared_data: Path) -> None:
    root = shared_data / "isic2018_task1_128"
    assert isic2018_scan.layout == "isic"
    assert len(isic2018_scan.pairs) == 2694
    assert isic2018_scan.unpaired_images == isic2018_scan.unpaired_masks == ()
    assert isic2018_scan.summary() == f"2694 pairs (isic layout) in {root}"
    first = isic2018_scan.pairs[0]
    assert first == Pair(
        root / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000000.jpg",
        root / "ISIC2018_Task1_Training_GroundTruth" / "ISIC_0000000_segmentation.png",
    )
    assert all(p.mask.name == f"{p.stem}_segmentation.png" for p in isic2018_scan.pairs)
    assert [p.stem for p in isic2018_scan.pairs] == sorted(p.stem for p in isic2018_scan.pairs)


def test_real_isic2017_folder_split(shared_data: Path) -> None:
    splits = find_splits(shared_data / "isic2017")
    assert list(splits) == ["train", "validation", "test"]
    assert {k: len(v.pairs) for k, v in splits.items()} == {"train": 2000, "validation": 150, "test": 600}
    assert {v.layout for v in splits.values()} == {"generic"}
    assert splits["validation"].root == shared_data / "isic2017" / "validation"
    assert all(not v.unpaired_images and not v.unpaired_masks for v in splits.values())


def test_find_splits_normalises_val_and_falls_back_to_all(
    tmp_path: Path, generic_root: Path, isic_root: Path
) -> None:
    assert list(find_splits(generic_root)) == ["all"]
    assert find_splits(generic_root)["all"] == find_pairs(generic_root)

    split_root = tmp_path / "split"
    split_root.mkdir()
    shutil.copytree(isic_root, split_root / "train")
    shutil.copytree(generic_root, split_root / "val")
    splits = find_splits(split_root)
    assert list(splits) == ["train", "validation"]  # test/ is optional
    assert (splits["train"].layout, splits["validation"].layout) == ("isic", "generic")
    assert splits["validation"].root == split_root / "val"

    (split_root / "validation").mkdir()
    with pytest.raises(DataError, match=r"both validation/ and val/ exist; keep one validation folder"):
        find_splits(split_root)


# --- seeded split -----------------------------------------------------------------------------


def test_split_pairs_is_seeded_disjoint_and_complete(isic2018_scan: PairScan) -> None:
    pairs = isic2018_scan.pairs
    split = split_pairs(pairs, 0.15, 0.15, seed=0)
    assert list(split) == ["train", "validation", "test"]
    assert {k: len(v) for k, v in split.items()} == {"train": 1886, "validation": 404, "test": 404}
    stems = {k: {p.stem for p in v} for k, v in split.items()}
    train, val, test = stems["train"], stems["validation"], stems["test"]
    assert not (train & val or train & test or val & test)
    assert train | val | test == {p.stem for p in pairs}
    assert all(list(v) == sorted(v, key=lambda p: p.stem) for v in split.values())

    # Same seed, same split, whatever the input order; another seed, another split.
    assert split_pairs(tuple(reversed(pairs)), 0.15, 0.15, seed=0) == split
    assert split_pairs(pairs, 0.15, 0.15, seed=1)["validation"] != split["validation"]


def test_split_pairs_is_pinned(isic2018_scan: PairScan) -> None:
    # A changed split (code or numpy's generator) silently changes every reported score: pin one.
    split = split_pairs(isic2018_scan.pairs[:10], 0.2, 0.1, seed=0)
    assert {k: [p.stem for p in v] for k, v in split.items()} == {
        "train": [
            "ISIC_0000000", "ISIC_0000001", "ISIC_0000004", "ISIC_0000007", "ISIC_0000009",
            "ISIC_0000011", "ISIC_0000012",
        ],
        "validation": ["ISIC_0000006", "ISIC_0000008"],
        "test": ["ISIC_0000003"],
    }


def test_split_pairs_small_and_edge_cases(isic2018_scan: PairScan) -> None:
    three = isic2018_scan.pairs[:3]
    split = split_pairs(three, 0.1, 0.0, seed=3)
    assert (len(split["train"]), len(split["validation"]), split["test"]) == (2, 1, ())
    split = split_pairs(three, 0.1, 0.1, seed=3)
    assert [len(v) for v in split.values()] == [1, 1, 1]
    with pytest.raises(DataError, match=r"^only 2 image/mask pairs: too few to split"):
        split_pairs(isic2018_scan.pairs[:2], 0.1, 0.0, seed=0)
    with pytest.raises(DataError, match=r"^only 3 image/mask pairs: too few to split"):
        split_pairs(three, 0.5, 0.4, seed=0)  # 2 validation + 1 test leave no training pair
    for val, test in ((0.0, 0.1), (0.5, 0.5), (0.2, -0.1), (1.0, 0.0)):
        with pytest.raises(ConfigError, match="split fractions must leave training data"):
            split_pairs(three, val, test, seed=0)
