"""Atomic file writes: a crash never leaves a half-written artifact behind."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError


class WriteError(EdgesegError):
    """An output could not be written (full disk, read-only folder, a parent that is a file, a name
    too long); the message names the path and the cause, and nothing half-written is left."""


# What the file system says, with what to do about it; the rest print os.strerror.
_CAUSES = {
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
    errno.EFBIG: "file too large for this file system or the process's file-size limit",
    errno.EROFS: "read-only file system; write elsewhere",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENAMETOOLONG: "file name too long; choose a shorter path",
    errno.ENOTDIR: "a parent of this path is a file, not a folder",
    errno.EISDIR: "is a folder",
    errno.EEXIST: "already exists",
    errno.ENOENT: "no such file or folder",
    errno.EIO: "input/output error (a failing disk or a lost network mount)",
}
# Errors that are about the machine's files, not a bug: the CLI prints them as one line, exit 2.
ENVIRONMENT_ERRNOS = frozenset(_CAUSES)


def os_error_cause(e: BaseException) -> str:
    """The cause of an OSError in words; h5py and Keras put the errno into the message text."""
    code = getattr(e, "errno", None)
    if not code:
        m = re.search(r"errno\s*=?\s*(\d+)|\[Errno (\d+)\]", str(e))
        code = int(m.group(1) or m.group(2)) if m else None
    if code:
        return _CAUSES.get(code, os.strerror(code))
    text = " ".join(str(e).split())
    return text[:200] if text else type(e).__name__


def os_error_code(e: BaseException) -> int | None:
    code = getattr(e, "errno", None)
    if code:
        return code
    m = re.search(r"errno\s*=?\s*(\d+)|\[Errno (\d+)\]", str(e))
    return int(m.group(1) or m.group(2)) if m else None


def write_error(dest: str | os.PathLike, e: BaseException) -> WriteError:
    """One line naming ``dest`` (or, for a parent that is a file, that parent) and the cause."""
    dest = Path(dest)
    if os_error_code(e) == errno.ENOTDIR:
        blocker = next((p for p in dest.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return WriteError(f"{dest}: cannot write: {blocker} is a file, not a folder")
    return WriteError(f"{dest}: cannot write: {os_error_cause(e)}")


def _about(e: OSError, tmp: Path) -> bool:
    """Whether ``e`` is about the temporary path (or names no file): then it is ``dest``'s error."""
    name = getattr(e, "filename", None)
    if name is None:
        return True
    name = Path(os.fsdecode(name))
    return name == tmp or tmp in name.parents


def mkdirs(path: str | os.PathLike) -> Path:
    """``mkdir -p`` whose failure is a :class:`WriteError` naming ``path``."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # the path itself is a file: say so, not "already exists"
        raise WriteError(f"{path}: cannot write into it: it is a file, not a folder") from None
    except OSError as e:
        raise write_error(path, e) from None
    return path


@contextlib.contextmanager
def made_dirs(path: str | os.PathLike) -> Iterator[Path]:
    """``mkdir -p path`` for the body; if the body fails, the folders it made are removed again
    when empty, so a failed command leaves no empty folder behind."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]  # deepest first
    mkdirs(path)
    try:
        yield path
    except BaseException:
        remove_empty(missing)
        raise


def remove_empty(folders: list[Path]) -> None:
    """rmdir each folder that is empty (pass the deepest first, so emptied parents go too)."""
    for p in folders:
        try:
            p.rmdir()
        except OSError:
            continue


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str | None = None, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path in ``dest``'s folder; rename it onto ``dest`` only on success.

    ``suffix`` defaults to ``dest``'s full suffix (``.weights.h5``, not ``.h5``), since some
    writers (Keras, OpenCV) choose the format from the file name. The file is flushed to disk
    before the rename (``fsync``), so even a power cut leaves the old file or the whole new one.

    Raises:
        WriteError: the folder or the file cannot be written (an OSError of the temporary file,
            or of an unnamed write, is reported under ``dest``); the temporary file is removed.
    """
    dest = Path(dest)
    with made_dirs(dest.parent):
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{dest.name}.", suffix=suffix if suffix is not None else "".join(dest.suffixes), dir=dest.parent
            )
        except OSError as e:
            raise write_error(dest, e) from None
        os.close(fd)
        with _replace_on_success(Path(tmp), dest, fsync) as tmp_path:
            yield tmp_path


@contextlib.contextmanager
def _replace_on_success(tmp_path: Path, dest: Path, fsync: bool) -> Iterator[Path]:
    try:
        try:
            yield tmp_path
            if tmp_path.exists():
                # mkstemp creates 0600 files; give the artifact the permissions a plain open() would.
                os.chmod(tmp_path, 0o666 & ~current_umask())
                if fsync and tmp_path.is_file():
                    _fsync(tmp_path)
            os.replace(tmp_path, dest)
        except OSError as e:
            if not _about(e, tmp_path):
                raise  # about another file (e.g. a copy's source): its own name is the right one
            raise write_error(dest, e) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it becomes ``dest`` in one rename, on failure
    it is removed, so a reader sees the whole folder or none of it.

    ``dest`` must not exist, or be an empty folder (which the rename replaces).

    Raises:
        WriteError: ``dest`` holds files, or the folder cannot be written.
    """
    dest = Path(dest)
    if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
        raise WriteError(f"{dest} already exists and is not empty; choose a new folder (nothing is overwritten)")
    with made_dirs(dest.parent):
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        except OSError as e:
            raise write_error(dest, e) from None
        with _rename_dir_on_success(tmp, dest) as tmp:
            yield tmp


@contextlib.contextmanager
def _rename_dir_on_success(tmp: Path, dest: Path) -> Iterator[Path]:
    try:
        try:
            yield tmp
            os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700 folders
            fsync_tree(tmp)
            os.replace(tmp, dest)  # rename(2) replaces an empty folder
        except WriteError as e:  # name the user's path, not the hidden temporary folder
            raise WriteError(str(e).replace(str(tmp), str(dest))) from None
        except OSError as e:
            if not _about(e, tmp):
                raise
            raise write_error(dest, e) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: str | os.PathLike) -> None:
    """fsync every file under ``folder`` and the folders themselves (before renaming it into place)."""
    folder = Path(folder)
    for p in sorted(folder.rglob("*"), reverse=True):
        if p.is_file() and not p.is_symlink():
            _fsync(p)
    fsync_dir(folder)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(dest: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def write_image(path: str | os.PathLike, rgb_or_gray: Any) -> Path:
    """Write an RGB ``(H, W, 3)`` or gray ``(H, W)`` uint8 image, encoded by ``path``'s suffix.

    Encoded in memory, then written atomically: a full disk is an OSError with its cause, where
    ``cv2.imwrite`` would only return False.
    """
    import cv2

    path = Path(path)
    arr = rgb_or_gray if rgb_or_gray.ndim == 2 else cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2BGR)
    try:
        ok, buf = cv2.imencode(path.suffix, arr)
    except cv2.error:
        ok = False
    if not ok:
        raise WriteError(f"{path}: cannot encode a {arr.shape[1]}x{arr.shape[0]} image as {path.suffix or 'an image without a suffix'}")
    write_bytes(path, buf.tobytes())
    return path


def write_text(dest: str | os.PathLike, text: str) -> Path:
    return write_bytes(dest, text.encode("utf-8"))


def write_json(dest: str | os.PathLike, obj: Any) -> Path:
    return write_text(dest, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def next_free_path(path: str | os.PathLike) -> Path:
    """``path`` if it does not exist yet, else ``path-2``, ``path-3``, ...: earlier runs and
    reports are never overwritten."""
    path = Path(path)
    candidate, i = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{i}")
        i += 1
    return candidate


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
