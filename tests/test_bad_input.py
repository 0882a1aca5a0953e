"""The bad-input corpus of issue 17: every case ends in exit 2 (or the code ``--help`` documents),
one ``error:`` line naming the file or option and the cause, no traceback, and nothing
half-written (no 0-byte file, no hidden temporary file or folder) under the output.

Inputs are tiny and real: the embedded ISIC sample, the shipped artifact, one tiny run. The run
is trained with a relative ``--data`` so that evaluating it from another folder is a case too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeseg.defaults import DEFAULT_ARTIFACT

needs_shipped = pytest.mark.skipif(not DEFAULT_ARTIFACT.is_file(), reason="the shipped model (edgeseg.defaults.SHIPPED) is missing")


# --- shared inputs (module scope: one tiny run for the whole corpus) ---------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad_input")


@pytest.fixture(scope="module")
def data(copy_pairs, base) -> Path:
    """6 real validation pairs in the generic layout (read-only use; corrupting cases copy it)."""
    return copy_pairs(base / "data")


@pytest.fixture(scope="module")
def frames(data) -> Path:
    """Three real images as a folder of camera frames."""
    root = data.parent / "frames"
    root.mkdir()
    for img in sorted((data / "images").iterdir())[:3]:
        shutil.copy(img, root)
    return root


@pytest.fixture(scope="module")
def run(sample_root, base, cli) -> Path:
    """A tiny run trained from ``work/`` with the relative ``--data sample``."""
    work = base / "work"
    shutil.copytree(sample_root, work / "sample")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        r = cli("train", "--data", "sample", "--model", "unet_w025", "--size", "64x96", "--epochs", "1",
                "--max-steps", "1", "--limit", "4", "--batch-size", "4", "--project", "runs", "--name", "rel")
    assert r.exit_code == 0, r.output
    return work / "runs" / "rel"


@dataclass
class Env:
    """What a case builds its command from."""

    tmp: Path
    data: Path
    frames: Path
    run: Path | None = None

    def file(self, name: str, content: bytes | str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def corrupt_data(self, how: str) -> tuple[Path, Path]:
        """A copy of the data with one pair spoiled: (data root, the spoiled file)."""
        root = self.tmp / "data"
        shutil.copytree(self.data, root)
        img = sorted((root / "images").iterdir())[1]
        if how == "text":
            img.write_text("this is not a JPEG")
            return root, img
        if how == "truncated":
            img.write_bytes(img.read_bytes()[: img.stat().st_size // 2])
            return root, img
        mask = root / "masks" / f"{img.stem}.png"
        Image.open(mask).resize((128, 96)).save(mask)
        return root, mask

    def shipped_copy(self, spoil: str) -> Path:
        """A copy of the shipped artifact's folder, spoiled; returns its model file."""
        folder = self.tmp / "artifact"
        shutil.copytree(DEFAULT_ARTIFACT.parent, folder)
        model = folder / DEFAULT_ARTIFACT.name
        manifest = folder / "manifest.json"
        if spoil == "tampered":
            b = bytearray(model.read_bytes())
            b[len(b) // 2] ^= 0xFF
            model.write_bytes(bytes(b))
        elif spoil == "manifest":
            manifest.write_text('{"format": "tflite", "recipe": ')
        elif spoil == "ungated":
            m = json.loads(manifest.read_text())
            m["gate"] = None  # what an export killed before its gate leaves
            manifest.write_text(json.dumps(m))
        return model


@pytest.fixture()
def env(tmp_path, data, frames) -> Env:
    return Env(tmp_path, data, frames)


@pytest.fixture()
def env_run(env, run) -> Env:
    env.run = run
    return env


def assert_nothing_half_written(root: Path) -> None:
    """No 0-byte file and no hidden temporary file or folder anywhere under ``root``."""
    if not root.exists():
        return
    bad = [str(p.relative_to(root)) for p in root.rglob("*")
           if p.name.startswith(".") or (p.is_file() and p.stat().st_size == 0)]
    assert bad == [], bad


def check(cli, args, needles, code=2, out: Path | None = None):
    """Run the command in-process; assert the exit code, the one-line error and a clean output."""
    result = cli(*args)
    assert result.exit_code == code, result.output
    cli.assert_clean_error(result, *needles)
    if out is not None:
        assert_nothing_half_written(out)
    return result


# --- the corpus: (id, build(env) -> (args, needles[, code])) ----------------------------------
# Each build returns the command line and what its one error line must contain. Needles are the
# file or option and the cause, never the whole message (the wording may improve).


def _wrong_path(e):
    return ["train", "--data", e.tmp / "nope", "--project", e.tmp / "runs"], ["nope", "no such folder"]


def _empty_folder(e):
    (e.tmp / "empty").mkdir()
    return ["train", "--data", e.tmp / "empty", "--project", e.tmp / "runs"], ["empty", "expected one of"]


def _non_image(e):
    root, bad = e.corrupt_data("text")
    return ["train", "--data", root, "--project", e.tmp / "runs"], [bad.name, "not a readable image"]


def _truncated(e):
    root, bad = e.corrupt_data("truncated")
    return ["train", "--data", root, "--project", e.tmp / "runs"], [bad.name, "truncated"]


def _size_mismatch(e):
    root, bad = e.corrupt_data("mismatch")
    return ["train", "--data", root, "--project", e.tmp / "runs"], [bad.name, "size"]


def _eval_non_image(e):
    root, bad = e.corrupt_data("text")
    return ["eval", DEFAULT_ARTIFACT, "--data", root, "--out", e.tmp / "ev"], [bad.name, "not a readable image"]


def _predict_truncated(e):
    root, bad = e.corrupt_data("truncated")
    return ["predict", DEFAULT_ARTIFACT, root / "images", e.tmp / "pred"], [bad.name, "truncated"]


CASES = {
    "wrong-path": _wrong_path,
    "empty-folder": _empty_folder,
    "unknown-model": lambda e: (["train", "--model", "unet_w03", "--project", e.tmp], ["unknown model 'unet_w03'", "unet_w025"]),
    "unknown-loss": lambda e: (["train", "--loss", "dicey", "--project", e.tmp], ["unknown loss 'dicey'", "bce_dice"]),
    "non-image-train": _non_image,
    "non-image-eval": _eval_non_image,
    "truncated-train": _truncated,
    "truncated-predict": _predict_truncated,
    "image-mask-size-mismatch": _size_mismatch,
    "missing-run-resume": lambda e: (["train", "--resume", e.tmp / "gone"], ["gone", "no such run directory"]),
    "missing-run-eval": lambda e: (["eval", e.tmp / "gone", "--data", e.data], ["gone"]),
    "missing-run-export": lambda e: (["export", e.tmp / "gone"], ["gone"]),
    "corrupt-keras": lambda e: (["eval", e.file("m.keras", b"PK\x03\x04 not a zip"), "--data", e.data,
                                 "--out", e.tmp / "ev"], ["m.keras"]),
    "corrupt-tflite": lambda e: (["predict", e.file("m.tflite", os.urandom(4096)), e.data, e.tmp / "pred"], ["m.tflite"]),
    "corrupt-onnx": lambda e: (["eval", e.file("m.onnx", os.urandom(4096)), "--data", e.data, "--out", e.tmp / "ev"],
                               ["m.onnx"]),
    "tampered-sha256": lambda e: (["predict", e.shipped_copy("tampered"), e.data, e.tmp / "pred"],
                                  ["model.tflite", "does not match its manifest"]),
    "corrupt-manifest": lambda e: (["eval", e.shipped_copy("manifest"), "--data", e.data, "--out", e.tmp / "ev"],
                                   ["manifest.json", "not a valid edgeseg manifest"]),
    "ungated-eval": lambda e: (["eval", e.shipped_copy("ungated"), "--data", e.data, "--out", e.tmp / "ev"],
                               ["model.tflite", "never gated", "--allow-ungated"]),
    "ungated-predict": lambda e: (["predict", e.shipped_copy("ungated"), e.data, e.tmp / "pred"],
                                  ["model.tflite", "never gated", "--allow-ungated"]),
    "ungated-camera": lambda e: (["camera", e.shipped_copy("ungated"), "--source", e.frames, "--headless",
                                  "--save", e.tmp / "cam" / "s.mp4"], ["model.tflite", "never gated"]),
    "ungated-bench": lambda e: (["bench", e.shipped_copy("ungated"), "--threads", "1", "--no-frame", "--out", e.tmp / "b"],
                                ["model.tflite", "never gated"]),
    "video-that-isnt": lambda e: (["camera", DEFAULT_ARTIFACT, "--source", e.file("clip.mp4", "not a video"), "--headless",
                                   "--save", e.tmp / "cam" / "s.mp4"], ["clip.mp4"]),
    "camera-save-no-extension": lambda e: (["camera", DEFAULT_ARTIFACT, "--source", e.frames, "--headless",
                                            "--save", e.tmp / "cam" / "session"], ["--save", "session", "extension"]),
    "size-huge-train": lambda e: (["train", "--size", "100000x100000", "--project", e.tmp], ["--size", "100000x100000"]),
    "size-huge-bench": lambda e: (["bench", DEFAULT_ARTIFACT, "--size", "100000x100000", "--out", e.tmp / "b"],
                                  ["--size", "100000x100000"]),
    "artifact-folder-as-model": lambda e: (["eval", DEFAULT_ARTIFACT.parent, "--data", e.data, "--out", e.tmp / "ev"],
                                           [DEFAULT_ARTIFACT.parent.name, DEFAULT_ARTIFACT.name]),
    "artifact-folder-as-predict-model": lambda e: (["predict", DEFAULT_ARTIFACT.parent, e.data, e.tmp / "pred"],
                                                   [DEFAULT_ARTIFACT.name]),
}


@needs_shipped
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clean_line(case, env, cli):
    args, needles, *code = CASES[case](env)
    check(cli, args, needles, *code, out=env.tmp)


# --- cases on the tiny run ---------------------------------------------------------------------


def test_a_run_with_relative_data_evaluates_from_another_folder(env_run, cli, monkeypatch):
    config = json.loads((env_run.run / "config.json").read_text())
    assert Path(config["data"]["root"]).is_absolute(), config["data"]["root"]
    elsewhere = env_run.tmp / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("eval", env_run.run, "--limit", "2", "--out", env_run.tmp / "ev")
    assert result.exit_code == 0, result.output
    assert (env_run.tmp / "ev" / "metrics.json").is_file()


def test_export_refuses_a_huge_size_before_any_work(env_run, cli):
    check(cli, ["export", env_run.run, "--size", "100000x100000", "--out", env_run.tmp / "ex"], ["--size", "100000x100000"],
          out=env_run.tmp)
    assert not (env_run.tmp / "ex").exists()


def test_an_ungated_artifact_is_accepted_only_when_asked(env, cli):
    model = env.shipped_copy("ungated")
    result = cli("predict", model, env.data / "images", env.tmp / "pred", "--allow-ungated")
    assert result.exit_code == 0, result.output
    assert len(list((env.tmp / "pred").glob("*_mask.png"))) == 6


def test_bench_without_a_measured_row_fails_naming_the_file(env_run, cli):
    """A text file named .tflite, a foreign .onnx, a truncated .keras: no row, exit 1 (``bench --help``)."""
    from edgeseg.run import RunDir

    keras = RunDir(env_run.run).best_model().read_bytes()
    files = [env_run.file("text.tflite", "not a model\n"), env_run.file("foreign.onnx", os.urandom(2048)),
             env_run.file("half.keras", keras[: len(keras) // 2])]
    result = cli("bench", *files, "--threads", "1", "--min-runs", "1", "--min-seconds", "0", "--warmup", "0",
                 "--no-frame", "--out", env_run.tmp / "bench")
    assert result.exit_code == 1, result.output
    cli.assert_clean_error(result, "no row was measured", "text.tflite")
    for f in files:
        assert f.stem in result.stdout
    assert_nothing_half_written(env_run.tmp / "bench")


# --- outputs that cannot be written: one line naming the path and the cause, nothing left -----


@contextlib.contextmanager
def _tmpfs(where: Path, size_kb: int, free_kb: int | None = None, readonly: bool = False):
    """A small tmpfs at ``where`` (``free_kb`` left free by a filler file, or mounted read-only);
    skips the test where mounting is not allowed (not root, no tmpfs)."""
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size_kb}k" + (",ro" if readonly else "")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({(r.stderr or r.stdout).strip() or 'mount failed'}): a full or "
                    "read-only disk needs one (run as root)")
    try:
        if free_kb is not None:
            with open(where / "filler", "wb") as f:  # fill to the brim, then give back free_kb
                with contextlib.suppress(OSError):
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
            os.truncate(where / "filler", max(0, (where / "filler").stat().st_size - free_kb * 1024))
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _out_cmd(cmd: str, e: Env, out: Path) -> list:
    """``cmd`` writing its output at ``out`` (a folder; the camera's video goes inside it)."""
    return {
        "predict": ["predict", DEFAULT_ARTIFACT, e.data / "images", out],
        "eval": ["eval", DEFAULT_ARTIFACT, "--data", e.data, "--out", out],
        "camera": ["camera", DEFAULT_ARTIFACT, "--source", e.frames, "--headless", "--every-frame",
                   "--save", out / "session.mp4"],
    }[cmd]


OUT_CMDS = ("predict", "eval", "camera")


@needs_shipped
@pytest.mark.parametrize("cmd", OUT_CMDS)
def test_output_parent_that_is_a_file(cmd, env, cli):
    blocker = env.file("blocker", "a file, not a folder")
    check(cli, _out_cmd(cmd, env, blocker / "out"), ["blocker", "is a file, not a folder"], out=env.tmp)


@needs_shipped
@pytest.mark.parametrize("cmd", OUT_CMDS)
def test_output_name_too_long(cmd, env, cli):
    check(cli, _out_cmd(cmd, env, env.tmp / ("n" * 300)), ["n" * 40, "too long"], out=env.tmp)


@needs_shipped
@pytest.mark.parametrize("cmd", OUT_CMDS)
def test_read_only_output_folder(cmd, env, cli):
    if os.geteuid() != 0:  # a plain user cannot write a 0555 folder; root needs a read-only mount
        ro = env.tmp / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        ctx = contextlib.nullcontext(ro)
    else:
        ctx = _tmpfs(env.tmp / "ro", 64, readonly=True)
    with ctx as ro:
        check(cli, _out_cmd(cmd, env, ro / "out"), [str(ro / "out"), "read-only" if os.geteuid() == 0 else "permission"],
              out=ro)


# Free space that runs out part-way: after the first files, before the last (outputs of 6 images).
PART_KB = {"predict": 48, "eval": 12, "camera": 48}


@needs_shipped
@pytest.mark.parametrize("part", [False, True], ids=["no-space", "part-way"])
@pytest.mark.parametrize("cmd", OUT_CMDS)
def test_full_disk(cmd, part, env, cli):
    """Out of space before the first byte or part-way: one line naming the path and the cause; no
    0-byte, partial or temporary file (the camera keeps its JSONL up to the failure, each line whole)."""
    with _tmpfs(env.tmp / "full", 1024, free_kb=PART_KB[cmd] if part else 0) as full:
        check(cli, _out_cmd(cmd, env, full / "out"), [str(full / "out"), "no space left"], out=full)
        left = [p for p in full.rglob("*") if p.is_file() and p.name != "filler"]
        if cmd != "camera":
            assert not (full / "out").exists(), left
        for p in left:
            assert p.suffix == ".jsonl", left
            assert all(json.loads(line)["frame"] >= 0 for line in p.read_text().splitlines())


# --- needs a real process: PIL's warning would be caught by pytest in-process ------------------


@needs_shipped
def test_a_10000_square_image_is_one_clean_error(env):
    big = env.tmp / "in" / "big.png"
    big.parent.mkdir()
    Image.fromarray(np.zeros((10000, 10000), np.uint8)).save(big)  # 100 Mpx: over PIL's bomb limit
    proc = subprocess.run([sys.executable, "-m", "edgeseg.cli", "predict", DEFAULT_ARTIFACT, big, env.tmp / "pred"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [x for x in proc.stderr.splitlines() if x.strip() and "XNNPACK" not in x]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "big.png" in lines[0], lines
    assert "Traceback" not in proc.stderr and "DecompressionBomb" not in proc.stderr.replace(lines[0], "")
    assert not (env.tmp / "pred").exists()
