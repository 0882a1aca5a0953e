"""The MediaPipe Tasks drop-in: a uint8-IO copy of an int8-IO phone model, with TFLite Model
Metadata for an image segmenter, gated and shipped beside the int8-IO artifact.

MediaPipe's ImageSegmenter accepts uint8 or float32 input only. The metadata is written by
MediaPipe's own (maintained) writer, which cannot live in edgeseg's environment (STACK.md: absl-py
and numpy pins), so it runs in ``.venv-mediapipe`` (``make mediapipe-venv``) through
``tools/mediapipe/mp_tool.py``. See docs/mediapipe.md.

    .venv/bin/python -m edgeseg.export.mediapipe [INT8IO_DIR] [--data ../shared/data/isic2017]

writes ``<export>/tflite_static_wi8_ai8_uint8io/`` (model.tflite with metadata, model.metadata.json,
manifest.json whose sha256 is of the final file, golden/).
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgeseg.config import Normalisation
from edgeseg.defaults import REPO
from edgeseg.errors import EdgesegError, RunError
from edgeseg.formats import MODEL_FORMATS

MP_PYTHON = REPO / ".venv-mediapipe" / "bin" / "python"
MP_TOOL = REPO / "tools" / "mediapipe" / "mp_tool.py"
LABEL = "lesion"
# The graph ends in its own sigmoid (LOGISTIC): MediaPipe must apply no further activation, or
# every probability p would come out as sigmoid(p) (0.5 -> 0.62).
ACTIVATION = "none"


def mediapipe_python() -> Path:
    """The MediaPipe environment's interpreter. Raises RunError when it has not been built."""
    if not MP_PYTHON.is_file():
        raise RunError(f"{MP_PYTHON}: no MediaPipe environment; build it with `make mediapipe-venv`")
    return MP_PYTHON


def mediapipe_version() -> str:
    out = subprocess.run([str(mediapipe_python()), "-c", "from importlib.metadata import version; print(version('mediapipe'))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def norm_mean_std(norm: Normalisation) -> tuple[float, float]:
    """edgeseg's ``x = pixel * scale + offset`` as MediaPipe's ``x = (pixel - mean) / std``."""
    return 0.0 - norm.offset / norm.scale, 1.0 / norm.scale  # 0.0 - x: no "-0.0" in the metadata


def _tool(*args: str) -> None:
    r = subprocess.run([str(mediapipe_python()), str(MP_TOOL), *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RunError(f"{MP_TOOL.name} {args[0]}: " + ((r.stderr.strip().splitlines() or ["failed"])[-1]))


def add_segmenter_metadata(src: Path, dest: Path, norm: Normalisation) -> dict[str, Any]:
    """Write ``dest``: ``src`` with image-segmenter metadata (one label, the real normalisation,
    activation none); returns what was written, for the manifest."""
    mean, std = norm_mean_std(norm)
    _tool("write", str(src), str(dest), "--label", LABEL, "--mean", repr(mean), "--std", repr(std),
          "--activation", ACTIVATION)
    return {"writer": f"mediapipe {mediapipe_version()} metadata_writers.image_segmenter", "labels": [LABEL],
            "activation": ACTIVATION, "norm_mean": [mean], "norm_std": [std], "json": dest.with_suffix(".metadata.json").name}


def segment(model: Path, image: Path, out_npy: Path) -> Path:
    """MediaPipe Tasks' ImageSegmenter on ``image``: its confidence mask, float32 (H, W), as .npy."""
    _tool("segment", str(model), str(image), str(out_npy))
    return out_npy


def ship_uint8io(int8_dir: Path, data: Path, split: str = "validation") -> Path:
    """Write the uint8-IO artifact beside ``int8_dir`` (an int8-IO TFLite artifact folder), gated
    on ``data``'s ``split`` against the export's ``tflite_fp32`` (the float model's conversion;
    its Keras source need not be here). Returns the new folder.

    Raises:
        RunError: no MediaPipe environment, a missing or failing source, or a failed gate.
    """
    import json

    from edgeseg.artifact import Manifest, TensorSpec, atomic_folder, read_manifest, sha256_file, size_bytes, write_manifest
    from edgeseg.data.pairs import find_splits
    from edgeseg.evaluate import evaluate
    from edgeseg.export.golden import write_golden
    from edgeseg.export.retype import uint8_io_copy
    from edgeseg.gates import budget_for, gate, load_budgets
    from edgeseg.postprocess import PostprocessConfig
    from edgeseg.runtime import load_runner
    from edgeseg.runtime.tflite_runner import TFLiteRunner
    from edgeseg.screen.hints import HintConfig

    name = MODEL_FORMATS.get("tflite").filename
    src = int8_dir / name
    m = read_manifest(src)
    if m is None or m.input.dtype != "int8":
        raise RunError(f"{int8_dir}: not an int8-IO TFLite artifact with a manifest")
    ref_file = int8_dir.parent / "tflite_fp32" / name
    if not ref_file.is_file():
        raise RunError(f"{ref_file}: the float reference the gate needs is missing")
    label = int8_dir.name.replace("_int8io", "_uint8io")
    dest = int8_dir.parent / label
    mediapipe_python()  # fail before any work
    with atomic_folder(dest) as tmp:
        plain = uint8_io_copy(src, tmp / ".plain.tflite")
        file = tmp / name
        meta = add_segmenter_metadata(plain, file, m.input_normalisation())
        plain.unlink()
        runner = TFLiteRunner(file, m.input_normalisation())
        golden = json.loads((int8_dir / "golden" / "golden.json").read_text())
        post = PostprocessConfig(**(m.postprocess or {}))
        hints = HintConfig(**(m.hints or {}))
        write_golden(tmp, runner, _repo_path(golden["source_image"]), post, hints)
        pairs = find_splits(data)[split].pairs
        ref = evaluate(load_runner(ref_file), pairs, keep_masks=True)
        cand = evaluate(runner, pairs, keep_masks=True)
        g = gate(ref, cand, artifact=label, format="tflite", recipe=m.recipe, size_bytes=size_bytes(file),
                 reference_name=str(ref_file.relative_to(REPO)), split=split, budget=budget_for(m.recipe, load_budgets()))
        if not g.passed:
            raise RunError(f"{label}: gate failed (Dice drop {g.dice_drop:+.4f} > budget {g.budget})")
        q_in, q_out = m.input, m.output
        manifest = dataclasses.replace(
            m, file=name, sha256=sha256_file(file), size_bytes=size_bytes(file),
            input=TensorSpec(q_in.name, q_in.shape, "uint8", q_in.scale, int(q_in.zero_point) + 128),
            output=TensorSpec(q_out.name, q_out.shape, "uint8", q_out.scale, int(q_out.zero_point) + 128),
            export_config={"target": label, "strategy": "uint8-IO copy of the int8-IO artifact (edgeseg.export.retype)",
                           "derived_from": {"artifact": int8_dir.name, "sha256": m.sha256},
                           "options": {**m.export_config.get("options", {}), "io": "uint8"},
                           "tflite_metadata": meta,
                           "command": f"python -m edgeseg.export.mediapipe {int8_dir.relative_to(REPO)} --data {data} --split {split}"},
            gate=g.to_dict(), created=Manifest.__dataclass_fields__["created"].default_factory(),
        )
        write_manifest(tmp, manifest)
    return dest


def _repo_path(p: str) -> Path:
    q = Path(p)
    return q if q.is_absolute() else (REPO / q)


def main(argv: list[str] | None = None) -> int:
    from edgeseg.defaults import DEFAULT_ARTIFACT

    ap = argparse.ArgumentParser(prog="python -m edgeseg.export.mediapipe", description=__doc__.splitlines()[0])
    ap.add_argument("int8_dir", nargs="?", type=Path, default=DEFAULT_ARTIFACT.parent)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "isic2017")
    ap.add_argument("--split", default="validation")
    a = ap.parse_args(argv)
    try:
        print(ship_uint8io(a.int8_dir.resolve(), a.data, a.split))
    except EdgesegError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
