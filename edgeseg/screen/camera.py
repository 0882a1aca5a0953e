"""The camera loop: a reader thread keeps only the latest frame (a slow model drops frames
instead of building up lag), the main thread runs :class:`FrameProcessor` on it, and every
processed frame becomes one JSONL line (and a video frame with ``--save``).

Sources: a camera index, a video file, or a folder of images. File sources are paced at their
frame rate by default (``realtime``), so they behave like a camera; ``realtime=False`` hands
every frame to the model in turn (no drops), which is how results are compared with
``edgeseg predict``.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgeseg.data.decode import IMAGE_SUFFIXES
from edgeseg.errors import ConfigError, DataError, EdgesegError, RunError
from edgeseg.io import WriteError, current_umask, mkdirs, os_error_cause, remove_empty, write_error, write_image, write_json
from edgeseg.screen.process import STAGES, FrameProcessor, draw_overlay

CAMERA_PROBE = range(5)


class SourceError(DataError):
    """The source failed mid-stream; what was processed so far has been kept."""


@dataclass(frozen=True)
class CameraConfig:
    """Options of one camera session (saved in ``<jsonl>.summary.json`` with the summary)."""

    source: str = "0"
    headless: bool = False
    save: str | None = None  # annotated video path
    jsonl: str | None = None  # per-frame records (default: beside --save, or none)
    snapshot_every: int = 0
    snapshot_dir: str | None = None
    smooth: float = 0.0
    realtime: bool = True
    fps: float = 30.0  # pace of a folder of images (video files use their own)
    max_frames: int = 0  # 0: until the source ends


class Source:
    """Frames from a camera index, a video file or an image folder, as RGB uint8."""

    def __init__(self, spec: str, fps: float = 30.0) -> None:
        self.spec, self.kind = spec, "camera" if spec.isdigit() else "folder" if Path(spec).is_dir() else "video"
        self.expected: int | None = None
        self._files: list[Path] = []
        self._cap: Any = None
        if self.kind == "camera":
            self._cap = _open_camera(int(spec))
            self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 30.0
        elif self.kind == "folder":
            self._files = sorted(p for p in Path(spec).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise DataError(f"{spec}: no images in this folder")
            self.fps, self.expected = fps, len(self._files)
        else:
            if not Path(spec).is_file():
                raise DataError(f"{spec}: no such video file, folder or camera index")
            self._cap = cv2.VideoCapture(spec)
            if not self._cap.isOpened():
                raise DataError(f"{spec}: cannot open this video (unknown container or codec)")
            self.fps = self._cap.get(cv2.CAP_PROP_FPS) or fps
            n = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.expected = n if n > 0 else None
        self._i = 0

    def frames(self) -> Iterator[np.ndarray]:
        """Yield frames; raise SourceError if the source fails before its end."""
        if self.kind == "folder":
            for i, p in enumerate(self._files):
                bgr = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
                if bgr is None:
                    raise SourceError(f"{p}: frame {i} cannot be decoded")
                yield _to_rgb(bgr, f"{p}: frame {i}")
            return
        i = 0
        while True:
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                if i == 0:
                    raise SourceError(f"{self.spec}: no frame could be decoded")
                if self.kind == "camera":
                    raise SourceError(f"camera {self.spec} disconnected after {i} frames")
                if self.expected and i < self.expected - 1:  # some containers over-count by one
                    raise SourceError(f"{self.spec}: stream ended at frame {i} of {self.expected} (truncated or disconnected)")
                return
            yield _to_rgb(bgr, f"{self.spec}: frame {i}")
            i += 1

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()


def _to_rgb(bgr: np.ndarray, where: str) -> np.ndarray:
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise SourceError(f"{where}: unexpected frame shape {bgr.shape} {bgr.dtype} (expected H×W×3 uint8)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _open_camera(index: int) -> Any:
    cap = cv2.VideoCapture(index)
    if cap.isOpened():
        return cap
    cap.release()
    tried = sorted({index, *CAMERA_PROBE})
    found = []
    for i in tried:
        c = cv2.VideoCapture(i)
        if c.isOpened():
            found.append(i)
        c.release()
    raise DataError(f"camera {index} is not available (tried indices {', '.join(map(str, tried))}; "
                    f"{'available: ' + ', '.join(map(str, found)) if found else 'none opened'})")


@dataclass
class _Slot:
    frame: np.ndarray | None = None
    index: int = -1
    t_capture: float = 0.0
    done: bool = False
    error: BaseException | None = None


class LatestFrameReader:
    """A thread that reads the source and keeps only the newest frame.

    ``take()`` returns the newest frame not yet taken (waiting if needed) or None at the end.
    A frame replaced before it was taken counts as dropped. With ``realtime`` the source is
    paced at its frame rate (a file behaves like a camera); without it the reader waits for
    each frame to be taken (nothing is dropped).
    """

    def __init__(self, source: Source, realtime: bool = True, max_frames: int = 0) -> None:
        self.source, self.realtime, self.max_frames = source, realtime, max_frames
        self.read = self.dropped = 0
        self._slot = _Slot()
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edgeseg-capture", daemon=True)

    def start(self) -> LatestFrameReader:
        self._thread.start()
        return self

    def _run(self) -> None:
        period = 1.0 / self.source.fps if self.source.fps else 0.0
        t0 = time.perf_counter()
        try:
            for i, frame in enumerate(self.source.frames()):
                if self._stop.is_set() or (self.max_frames and i >= self.max_frames):
                    break
                if self.realtime and self.source.kind != "camera":
                    delay = t0 + i * period - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                with self._cv:
                    if not self.realtime:
                        self._cv.wait_for(lambda: self._slot.frame is None or self._stop.is_set())
                    if self._slot.frame is not None:
                        self.dropped += 1
                    self._slot.frame, self._slot.index, self._slot.t_capture = frame, i, time.perf_counter()
                    self.read += 1
                    self._cv.notify_all()
        except BaseException as e:  # handed to the consumer, which stops cleanly and reports it
            with self._cv:
                self._slot.error = e
        finally:
            with self._cv:
                self._slot.done = True
                self._cv.notify_all()

    def take(self) -> tuple[np.ndarray, int, float] | None:
        with self._cv:
            self._cv.wait_for(lambda: self._slot.frame is not None or self._slot.done)
            if self._slot.frame is None:
                if self._slot.error is not None:
                    raise self._slot.error
                return None
            out = (self._slot.frame, self._slot.index, self._slot.t_capture)
            self._slot.frame = None
            self._cv.notify_all()
            return out

    def stop(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        self._thread.join(timeout=5)
        self.source.close()


@dataclass
class CameraSummary:
    frames_read: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    seconds: float = 0.0
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    lag_ms: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def fps(self) -> float:
        return self.frames_processed / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fps": self.fps}

    def text(self) -> str:
        lines = [f"frames: {self.frames_read} read, {self.frames_processed} processed, {self.frames_dropped} dropped "
                 f"in {self.seconds:.1f} s ({self.fps:.1f} FPS processed)"]
        for stage, q in self.latency_ms.items():
            lines.append(f"  {stage:<12} p50 {q['p50']:7.1f} ms   p90 {q['p90']:7.1f} ms")
        if self.lag_ms:
            lines.append(f"  {'lag':<12} p50 {self.lag_ms['p50']:7.1f} ms   p90 {self.lag_ms['p90']:7.1f} ms   "
                         f"max {self.lag_ms['max']:.1f} ms (capture -> result)")
        return "\n".join(lines)


def run_camera(processor: FrameProcessor, cfg: CameraConfig) -> CameraSummary:
    """Run the loop until the source ends (or 'q' in the window). Outputs are flushed as they
    are written, so a failure mid-stream keeps everything up to it.

    Raises:
        SourceError / DataError: after stopping cleanly; ``summary`` is attached to the exception.
    """
    source = Source(cfg.source, cfg.fps)
    reader = LatestFrameReader(source, realtime=cfg.realtime, max_frames=cfg.max_frames).start()
    summary = CameraSummary()
    times: dict[str, list[float]] = {s: [] for s in ("capture_wait", *STAGES, "total")}
    lags: list[float] = []
    writer = jsonl = None
    snap_dir = Path(cfg.snapshot_dir) if cfg.snapshot_dir else None
    window = not cfg.headless
    start = time.perf_counter()
    shape: tuple[int, ...] | None = None
    error: EdgesegError | None = None
    # Folders this session creates for its outputs; removed again if they end up empty.
    made = [d for out in (cfg.jsonl, cfg.save) if out for d in (Path(out).parent, *Path(out).parent.parents) if not d.exists()]
    try:
        if cfg.jsonl:
            # Written under a hidden name and renamed when the session ends with at least one
            # frame: a session that fails at once leaves no empty file to block its rerun.
            jsonl = _Partial(Path(cfg.jsonl))
            summary.outputs["jsonl"] = cfg.jsonl
        fps = None
        last_draw: float | None = None
        while True:
            t_wait = time.perf_counter()
            try:
                item = reader.take()
            except EdgesegError as e:
                error = e
                break
            if item is None:
                break
            frame, index, t_cap = item
            waited = (time.perf_counter() - t_wait) * 1e3
            if shape is not None and frame.shape != shape:
                error = SourceError(f"{cfg.source}: frame {index} is {frame.shape}, earlier frames were {shape}")
                break
            try:  # preprocessing checks the frame; name the frame in the error
                result = processor(frame, draw=False)
            except DataError as e:
                error = SourceError(f"{cfg.source}: frame {index}: {e}")
                break
            shape = frame.shape
            # The panel is part of the drawing, so it can only show the previous frame's draw
            # time ("–" on the first frame); the processor's own "draw" (draw=False) is not one.
            shown = {"wait": waited, **{k: v for k, v in result.latency_ms.items() if k != "draw"}, "draw": last_draw}
            t_draw = time.perf_counter()
            overlay = draw_overlay(frame, result, fps, shown) if (window or cfg.save or snap_dir) else None
            result.latency_ms["draw"] = (time.perf_counter() - t_draw) * 1e3
            last_draw = result.latency_ms["draw"] if overlay is not None else None
            done = time.perf_counter()
            lags.append((done - t_cap) * 1e3)
            summary.frames_processed += 1
            total = waited + sum(result.latency_ms.values())
            fps = summary.frames_processed / (done - start)
            for k, v in {"capture_wait": waited, **result.latency_ms, "total": total}.items():
                times[k].append(v)
            if cfg.save and overlay is not None:
                if writer is None:
                    writer = VideoOut(Path(cfg.save), frame.shape, source.fps)
                    summary.outputs["video"] = cfg.save
                writer.write(cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
            record = {"frame": index, "t": round(done - start, 4), "lag_ms": round(lags[-1], 2),
                      "latency_ms": {"capture_wait": round(waited, 3), **{k: round(v, 3) for k, v in result.latency_ms.items()}},
                      **{k: v for k, v in result.record().items() if k not in ("latency_ms",)}}
            if jsonl:
                jsonl.write_line(json.dumps(record))
            snap = bool(snap_dir and cfg.snapshot_every and (summary.frames_processed - 1) % cfg.snapshot_every == 0)
            if window:
                key = _show(overlay)
                if key == ord("q"):
                    break
                snap = snap or key == ord("s")
            if snap:
                save_snapshot(snap_dir or Path("runs/camera/snapshots"), index, frame, result.mask, overlay, record)
    finally:
        reader.stop()
        summary.frames_read, summary.frames_dropped = reader.read, reader.dropped
        summary.seconds = time.perf_counter() - start
        # Keep what was written so far (each output whole), unless nothing was: then no file.
        try:
            if writer is not None and not writer.finish(keep=summary.frames_processed > 0):
                summary.outputs.pop("video", None)
        finally:
            if jsonl and not jsonl.finish(keep=summary.frames_processed > 0):
                summary.outputs.pop("jsonl", None)
            remove_empty(sorted(set(made), key=lambda d: len(d.parts), reverse=True))
        if window:
            cv2.destroyAllWindows()
        summary.latency_ms = {k: {"p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90))}
                              for k, v in times.items() if v}
        if lags:
            summary.lag_ms = {"p50": float(np.percentile(lags, 50)), "p90": float(np.percentile(lags, 90)), "max": max(lags)}
    if error is not None:
        summary.error = str(error)
        error.summary = summary  # type: ignore[attr-defined]
        raise error
    return summary


def save_snapshot(folder: Path, index: int, frame: np.ndarray, mask: np.ndarray, overlay: np.ndarray | None,
                  record: dict[str, Any]) -> None:
    """frame_<i>.png, mask_<i>.png (0/255, full frame), overlay_<i>.jpg and frame_<i>.json."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in ((f"frame_{index:06d}.png", frame), (f"mask_{index:06d}.png", mask * 255),
                      *(((f"overlay_{index:06d}.jpg", overlay),) if overlay is not None else ())):
        write_image(folder / name, arr)
    write_json(folder / f"frame_{index:06d}.json", record)


VIDEO_SUFFIXES = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}
MPEG4_MAX_SIDE = 8191  # MPEG-4 Part 2 codes each side in 13 bits: OpenCV's writer refuses 8192 and up


def check_video_path(path: Path, option: str = "--save") -> None:
    """Fail before any work on a video path whose container cannot be chosen, or that exists."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ConfigError(f"{option} {path}: needs a video file extension ({', '.join(VIDEO_SUFFIXES)}); "
                          f"{'it has none' if not path.suffix else repr(path.suffix) + ' is not one'}")
    if path.exists():
        raise RunError(f"{path} already exists; choose a new path (nothing is overwritten)")


class _Partial:
    """A text file written line by line under a hidden name, renamed onto ``dest`` by
    :meth:`finish`. A line is written whole or cut off again (a full disk can take half of it),
    so the kept file never ends in a torn line; a write error names ``dest``."""

    def __init__(self, dest: Path) -> None:
        self.dest, self.lines, self._good = dest, 0, 0
        mkdirs(dest.parent)
        try:
            self._fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=dest.suffix, dir=dest.parent)
        except OSError as e:
            raise write_error(dest, e) from None
        self.tmp = Path(tmp)

    def write_line(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError as e:
            os.ftruncate(self._fd, self._good)
            raise write_error(self.dest, e) from None
        self._good = os.lseek(self._fd, 0, os.SEEK_CUR)
        self.lines += 1

    def finish(self, keep: bool) -> bool:
        """Close; rename onto ``dest`` if ``keep`` and a line was written, else remove. Returns
        whether the file was kept."""
        os.close(self._fd)
        if not (keep and self.lines):
            self.tmp.unlink(missing_ok=True)
            return False
        if self.dest.exists():
            self.tmp.unlink(missing_ok=True)
            raise RunError(f"{self.dest} appeared while this session ran; kept nothing (nothing is overwritten)")
        os.chmod(self.tmp, 0o666 & ~current_umask())
        os.replace(self.tmp, self.dest)
        return True


class VideoOut:
    """An OpenCV video writer into a hidden temporary file, renamed onto ``path`` once the
    container is complete and readable; a failure says why (size, disk) rather than "no encoder"."""

    def __init__(self, path: Path, shape: tuple[int, ...], fps: float) -> None:
        check_video_path(path)
        h, w = shape[:2]
        codec = VIDEO_SUFFIXES[path.suffix.lower()]
        if codec == "mp4v" and max(h, w) > MPEG4_MAX_SIDE:
            raise DataError(f"--save {path}: frames of {w}x{h} are too large for MPEG-4 video (at most "
                            f"{MPEG4_MAX_SIDE} px a side); save as .avi (Motion JPEG) or use a smaller source")
        self.path, self.frames = path, 0
        mkdirs(path.parent)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
        except OSError as e:
            raise write_error(path, e) from None
        os.close(fd)
        self.tmp = Path(tmp)
        self._w = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*codec), float(fps or 30.0), (w, h))
        if not self._w.isOpened():
            self.tmp.unlink(missing_ok=True)
            cause = _free_space_cause(path.parent) or f"OpenCV has no {codec} encoder here"
            raise RunError(f"--save {path}: cannot write video ({cause})")

    def write(self, bgr: np.ndarray) -> None:
        self._w.write(bgr)
        self.frames += 1

    def finish(self, keep: bool) -> bool:
        """Close the container; if ``keep``, check it reads back with every frame and rename it
        into place. Returns whether the video was kept. Raises WriteError when it does not read back."""
        self._w.release()
        if not keep:
            self.tmp.unlink(missing_ok=True)
            return False
        cause = _free_space_cause(self.path.parent)  # a full disk: say so without probing a torn file
        if cause is None:
            cap = cv2.VideoCapture(str(self.tmp))
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
            cap.release()
            if n < self.frames:
                cause = f"the encoder wrote {n} of {self.frames} frames"
        if cause is not None:
            self.tmp.unlink(missing_ok=True)
            raise WriteError(f"{self.path}: cannot write video: {cause}")
        os.chmod(self.tmp, 0o666 & ~current_umask())
        os.replace(self.tmp, self.path)
        return True


def _free_space_cause(folder: Path) -> str | None:
    """OpenCV's writers report no errno; ask the file system whether it is full or read-only."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return os_error_cause(OSError(errno.EROFS, ""))
    if st.f_bavail * st.f_frsize < (1 << 20):
        return os_error_cause(OSError(errno.ENOSPC, ""))
    return None


def _show(overlay: np.ndarray | None) -> int:
    try:
        cv2.imshow("edgeseg camera (q quits, s saves a snapshot)", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        return cv2.waitKey(1) & 0xFF
    except cv2.error:
        raise RunError("cannot open a window here (no display or a headless OpenCV); use --headless --save out.mp4") from None
