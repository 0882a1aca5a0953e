"""Crash safety of ``edgeseg export`` by fault injection: the process is ended (``os._exit``, no
cleanup) at each export write boundary in turn, then the export is run again. Whatever the kill
left, no artifact without a gate result is accepted, ``gates.json`` exists whenever an artifact
claims to be complete, no hidden temporary folder survives the re-run, and the re-run's artifacts
equal an uninterrupted export's (the same file sha256: the TFLite writer is deterministic, and the
same gate verdict).

The boundaries are learnt from an uninterrupted export (``EDGESEG_FAULT_TRACE``, see
:mod:`edgeseg.faults`), never listed here. Training's boundaries: ``tests/test_crash_safety.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgeseg.artifact import MANIFEST, read_manifest
from edgeseg.errors import RunError
from edgeseg.faults import FAULT_EXIT

EXPORT = ("-f", "tflite", "-q", "fp32", "--limit", "2")
# Checked on every `make test`: the kill the issue found (during the gate: a model file with a
# valid sha256 and no gate result). Every other boundary runs under -m slow.
FAST = "export.gated@1"
# What the gate decides (latency is measured, so it differs from run to run).
VERDICT = ("artifact", "format", "recipe", "size_bytes", "gzip_bytes", "split", "n_images", "dice", "iou",
           "dice_drop", "iou_drop", "mask_agreement", "budget", "passed")


def _kill(run: Path, fault: str) -> None:
    """An export in a process of its own, ended at ``fault``."""
    proc = subprocess.run([sys.executable, "-m", "edgeseg.cli", "export", str(run), *EXPORT],
                          env={**os.environ, "EDGESEG_FAULT_AT": fault}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == FAULT_EXIT, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def source(tiny_run):
    """A tiny finished run with no export yet; each case exports into its own copy."""
    return tiny_run("export_source").path


def _copy(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, symlinks=True)  # checkpoints/current is a relative link
    return dest


def _rerun(run: Path, cli) -> None:
    """An uninterrupted export, in this process (only a kill needs a process of its own)."""
    result = cli("export", run, *EXPORT)
    assert result.exit_code == 0, result.output[-3000:]


@pytest.fixture(scope="module")
def reference(source, tmp_path_factory, cli):
    """An uninterrupted export, and the write boundaries it passed (in order)."""
    root = tmp_path_factory.mktemp("export_ref")
    run = _copy(source, root / "run")
    trace = root / "trace.txt"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGESEG_FAULT_TRACE", str(trace))
        _rerun(run, cli)
    return run / "export", trace.read_text().split()


def _artifacts(folder: Path) -> dict[str, dict]:
    """Each artifact folder's manifest (read raw: a killed export may have left it ungated)."""
    return {m.parent.name: json.loads(m.read_text()) for m in sorted(folder.glob(f"*/{MANIFEST}"))}


def _hidden(run: Path) -> list[str]:
    return [str(p.relative_to(run)) for p in run.rglob(".*") if p.name != ".lock"]


def _check_what_the_kill_left(folder: Path, cli, sample_root: Path, via_cli: bool) -> None:
    """No ungated artifact is accepted; a complete one has its gates.json beside it."""
    for name, manifest in _artifacts(folder).items():
        model = folder / name / manifest["file"]
        if manifest.get("gate") is None:
            with pytest.raises(RunError, match="never gated"):
                read_manifest(model)
            if via_cli:  # the commands a user would point at it
                cli.assert_clean_error(cli("eval", model, "--data", sample_root, "--limit", "2",
                                           "--out", folder.parent / "ev"), model.name, "never gated", "--allow-ungated")
                cli.assert_clean_error(cli("predict", model, sample_root / "test" / "images", folder.parent / "pred"),
                                       model.name, "never gated")
        else:
            gates = folder / "gates.json"
            assert gates.is_file(), f"{name} claims to be complete but {folder} has no gates.json"
            assert name in [r["artifact"] for r in json.loads(gates.read_text())["results"]]


def _kill_and_rerun(source: Path, root: Path, fault: str, cli, sample_root: Path, via_cli: bool) -> Path:
    run = _copy(source, root / "run")
    _kill(run, fault)
    killed = run / "export"
    _check_what_the_kill_left(killed, cli, sample_root, via_cli)
    _rerun(run, cli)
    assert _hidden(run) == []
    return run / "export-2"


def _assert_same_export(ref: Path, new: Path) -> None:
    a, b = _artifacts(ref), _artifacts(new)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name]["sha256"] == b[name]["sha256"], name
        assert {k: a[name]["gate"][k] for k in VERDICT} == {k: b[name]["gate"][k] for k in VERDICT}, name
    ga, gb = (json.loads((f / "gates.json").read_text()) for f in (ref, new))
    assert ga["complete"] and gb["complete"] and ga["passed"] == gb["passed"]


def test_a_kill_during_the_gate_leaves_nothing_accepted_and_reruns_exactly(reference, source, tmp_path, cli, sample_root):
    ref, trace = reference
    assert FAST in trace  # still a boundary the export passes
    new = _kill_and_rerun(source, tmp_path, FAST, cli, sample_root, via_cli=True)
    _assert_same_export(ref, new)


@pytest.mark.slow
def test_a_kill_at_every_export_boundary_leaves_nothing_accepted(reference, source, tmp_path, cli, sample_root):
    ref, trace = reference
    assert {t.partition("@")[0] for t in trace} >= {"export.written", "export.gated", "export.recorded",
                                                      "export.complete", "export.tables"}, trace
    failures = []
    for fault in trace:
        try:
            _assert_same_export(ref, _kill_and_rerun(source, tmp_path / fault, fault, cli, sample_root, via_cli=False))
        except AssertionError as e:
            failures.append((fault, str(e)[:300]))
    print(f"\n{len(trace)} export boundaries killed and re-run, {len(failures)} failed")
    assert failures == []
