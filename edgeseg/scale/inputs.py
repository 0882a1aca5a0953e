"""What a scale job reads: image paths or URIs from a folder, a glob, or a list file.

Paths may be local or URIs that pyarrow's filesystems read (``s3://``, ``gs://``, ``hdfs://``,
``file://``), so the workers of a cluster read shared storage directly; the driver only lists
names. Nothing here decodes pixels.

List files: ``.txt`` (one path a line; blank lines and ``#`` comments skipped), ``.csv`` and
``.parquet`` (a column ``image`` or ``path``, else the first column; an optional ``mask`` column
pairs each image with its expert mask).
"""

from __future__ import annotations

import csv
import glob as globlib
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edgeseg.data.decode import IMAGE_SUFFIXES
from edgeseg.errors import DataError

LIST_SUFFIXES = (".txt", ".csv", ".parquet")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_COLLAPSED_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/+(?=[^/])")


@dataclass(frozen=True)
class Item:
    """One image of a job.

    Attributes:
        key: its output name (``masks/<key>.png``), unique within the job: the file stem, with a
            short hash of the full path added when two inputs share a stem.
        path: the image, a local path or a URI.
        mask: its expert mask (path or URI), or None.
    """

    key: str
    path: str
    mask: str | None = None


def is_uri(text: str) -> bool:
    return bool(_URI.match(text))


def restore_uri(text: str) -> str:
    """Undo what ``pathlib.Path`` does to a URI given on the command line (``s3://b/k`` becomes
    ``s3:/b/k``); ``file:`` URIs come back as ``file:///abs/path``. Other text is unchanged."""
    if is_uri(text) or len(text) > 1 and text[1] == ":":  # keep Windows drive letters alone
        return text
    m = _COLLAPSED_URI.match(text)
    if not m:
        return text
    rest = text[m.end():]
    return f"file:///{rest}" if m.group(1).lower() == "file" else f"{m.group(1)}://{rest}"


def _fs(uri: str):  # noqa: ANN202  (pyarrow types stay out of the signatures)
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{uri}: cannot open this URI ({' '.join(str(e).split())[:200]})") from None


def read_bytes(path: str) -> bytes:
    """The bytes of a local file or a URI.

    Raises:
        DataError: missing or unreadable (the path is named).
    """
    try:
        if is_uri(path):
            fs, inner = _fs(path)
            with fs.open_input_stream(inner) as f:
                return f.read()
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not an image file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({' '.join(str(e).split())[:200]})") from None


def _list_dir(root: str) -> list[str]:
    """Image files directly in a folder (an ``images/`` sub-folder is used if present), sorted."""
    if is_uri(root):
        import pyarrow.fs as pafs

        fs, inner = _fs(root)
        sub = f"{inner.rstrip('/')}/images"
        if fs.get_file_info(sub).type == pafs.FileType.Directory:
            inner, root = sub, f"{root.rstrip('/')}/images"
        infos = fs.get_file_info(pafs.FileSelector(inner, recursive=False))
        prefix = root.rstrip("/")
        names = sorted(i.base_name for i in infos if i.type == pafs.FileType.File)
        return [f"{prefix}/{n}" for n in names if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES]
    path = Path(root)
    if (path / "images").is_dir():
        path = path / "images"
    return [str(p) for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


def _read_list(path: str) -> list[tuple[str, str | None]]:
    """(image, mask or None) rows of a .txt/.csv/.parquet list file."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".txt":
        lines = read_bytes(path).decode("utf-8").splitlines()
        return [(s, None) for s in (ln.strip() for ln in lines) if s and not s.startswith("#")]
    if suffix == ".csv":
        rows = list(csv.reader(io.StringIO(read_bytes(path).decode("utf-8"))))
        if not rows:
            return []
        header = [h.strip().lower() for h in rows[0]]
        if "image" in header or "path" in header:
            columns = {name: [r[header.index(name)].strip() if len(r) > header.index(name) else "" for r in rows[1:]]
                       for name in header}
        else:  # no header: paths in the first column
            columns = {"path": [r[0].strip() for r in rows if r]}
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(io.BytesIO(read_bytes(path)))
        except (pa.ArrowException, OSError) as e:
            raise DataError(f"{path}: not a readable Parquet file ({' '.join(str(e).split())[:200]})") from None
        columns = {name.lower(): [None if v is None else str(v) for v in table.column(name).to_pylist()]
                   for name in table.column_names}
    if not columns:
        raise DataError(f"{path}: the list has no columns")
    image_col = next((c for c in ("image", "path") if c in columns), next(iter(columns)))
    masks = columns.get("mask")
    out = []
    for i, image in enumerate(columns[image_col]):
        if image:
            out.append((image, (masks[i] or None) if masks else None))
    return out


def resolve_inputs(spec: str) -> list[tuple[str, str | None]]:
    """The (image, mask or None) pairs named by ``spec``, in a stable order.

    ``spec`` is a folder (its images, sorted), a glob (``*``, ``?`` or ``[``; local paths only;
    matches sorted), a list file (``.txt``/``.csv``/``.parquet``; its order kept), or one image.
    Relative paths inside a local list file are taken relative to the list's folder.

    Raises:
        DataError: nothing matches, the folder has no images, or the list is empty or unreadable.
    """
    spec = restore_uri(str(spec))
    suffix = PurePosixPath(spec.split("?")[0]).suffix.lower()
    if not is_uri(spec) and any(c in spec for c in "*?["):
        found = sorted(p for p in globlib.glob(spec, recursive=True)
                       if Path(p).is_file() and Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise DataError(f"{spec}: the pattern matches no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return [(p, None) for p in found]
    if suffix in LIST_SUFFIXES:
        rows = _read_list(spec)
        if not rows:
            raise DataError(f"{spec}: the list names no images")
        if not is_uri(spec):
            base = Path(spec).parent
            fix = lambda p: p if p is None or is_uri(p) or Path(p).is_absolute() else str(base / p)  # noqa: E731
            rows = [(fix(i), fix(m)) for i, m in rows]
        return rows
    if is_uri(spec):
        import pyarrow.fs as pafs

        fs, inner = _fs(spec)
        kind = fs.get_file_info(inner).type
        if kind == pafs.FileType.File:
            return [(spec, None)]
        if kind != pafs.FileType.Directory:
            raise DataError(f"{spec}: no such file or folder")
    else:
        path = Path(spec)
        if path.is_file():
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{spec}: not an image or a list file (use {', '.join(LIST_SUFFIXES)} "
                                f"or an image: {', '.join(sorted(IMAGE_SUFFIXES))})")
            return [(spec, None)]
        if not path.is_dir():
            raise DataError(f"{spec}: no such file, folder or pattern")
    files = _list_dir(spec)
    if not files:
        raise DataError(f"{spec}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return [(f, None) for f in files]


def make_items(pairs: list[tuple[str, str | None]]) -> list[Item]:
    """Items with unique output keys; the same input list always gives the same keys."""
    stems = [PurePosixPath(p).stem for p, _ in pairs]
    seen = Counter(stems)
    items = []
    for (path, mask), stem in zip(pairs, stems):
        key = stem if seen[stem] == 1 else f"{stem}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"
        items.append(Item(key, path, mask))
    dup = [k for k, n in Counter(i.path for i in items).items() if n > 1]
    if dup:
        raise DataError(f"{dup[0]}: listed {sum(1 for i in items if i.path == dup[0])} times; each image once")
    return items
