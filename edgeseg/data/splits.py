"""Which pairs are train / validation / test for a run, and the record of it in the run dir.

A folder split (``train/``, ``validation/``, ``test/``) is used as it is. Otherwise the pairs are
split with a seed. Either way the exact pair list is written to ``RUN/splits.json``, so a run can
be evaluated later on precisely the pairs it never trained on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edgeseg.config import DataConfig
from edgeseg.data.pairs import Pair, PairScan, find_splits, split_pairs
from edgeseg.errors import DataError
from edgeseg.io import write_json

Splits = dict[str, tuple[Pair, ...]]


def note_skipped(scans: dict[str, PairScan]) -> None:
    """Say on stderr which files a scan skipped (images without a mask and the reverse), as
    ``edgeseg data`` lists them: a command never silently uses fewer pairs than the folder holds."""
    for name, scan in scans.items():
        if scan.skipped:
            print(f"warning: {name + ': ' if name != 'all' else ''}{scan.summary()}", file=sys.stderr)


def make_splits(cfg: DataConfig) -> tuple[Splits, dict]:
    """Find the pairs under ``cfg.root`` and split them; returns (splits, description). Skipped
    files are noted on stderr (:func:`note_skipped`)."""
    scans = find_splits(cfg.root, cfg.layout)
    note_skipped(scans)
    if "all" in scans:
        scan = scans["all"]
        splits = split_pairs(scan.pairs, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
        info = {"source": "seeded", "seed": cfg.split_seed, "layout": scan.layout, "skipped": scan.summary()}
    else:
        splits = {name: scan.pairs for name, scan in scans.items()}
        info = {"source": "folders", "layout": next(iter(scans.values())).layout,
                "skipped": {name: scan.summary() for name, scan in scans.items()}}
    if cfg.limit:
        splits = {name: pairs[: cfg.limit] for name, pairs in splits.items()}
    return splits, info


def save_splits(path: str | Path, splits: Splits, info: dict) -> Path:
    return write_json(
        path,
        {**info, "splits": {k: [[str(p.image), str(p.mask)] for p in v] for k, v in splits.items()}},
    )


def load_splits(path: str | Path) -> Splits:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())["splits"]
    except (OSError, KeyError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot read the run's split record ({e})") from None
    return {k: tuple(Pair(Path(i), Path(m)) for i, m in v) for k, v in raw.items()}
