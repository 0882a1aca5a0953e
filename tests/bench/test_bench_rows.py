"""Bench rows are dataclasses with a status enum (STYLE 10), and reporting works on rows alone:
the table, the floor and the comparison need no measurement. Figures here are written by hand."""

import json
from dataclasses import fields

from edgeseg.bench.measure import BenchRow, Status
from edgeseg.bench.report import compare, floor_failures, markdown_table


def _row(artifact="a", runtime="tflite", status=Status.OK, p50=None, dice=None, **kw):
    return BenchRow(artifact=artifact, file=f"/x/{artifact}/model.tflite", sha256="s" + artifact, recipe="fp32",
                    runtime=runtime, threads=1, batch=1, status=status, p50_ms=p50, dice=dice, **kw)


def test_a_row_is_one_json_line_with_the_status_as_its_word():
    row = _row(status=Status.UNSUPPORTED, reason="no GPU")
    d = json.loads(json.dumps(row.to_dict()))
    assert list(d) == [f.name for f in fields(BenchRow)]
    assert d["status"] == "not supported here" and d["reason"] == "no GPU" and not row.ok
    assert [s.value for s in Status] == ["ok", "export failed", "not supported here", "run failed"]


def test_the_table_shows_every_row_and_its_status():
    table = markdown_table([_row("fast", p50=2.0, dice=0.86, std_ms=0.1, mean_ms=2.1),
                            _row("broken", status=Status.RUN_FAILED, reason="RuntimeError: bad file")])
    lines = table.splitlines()
    assert lines[0].startswith("| artifact | runtime |") and len(lines) == 4
    assert "| fast | tflite | 1 | 1 | ok | 2.0 |" in lines[2] and "2.1 ±0.1" in lines[2] and "0.8600" in lines[2]
    assert "| broken | tflite | 1 | 1 | run failed | – |" in lines[3] and lines[3].endswith("RuntimeError: bad file |")


def test_floor_and_compare_read_rows_only(tmp_path):
    rows = [_row("good", p50=4.0, dice=0.86), _row("weak", p50=2.0, dice=0.50), _row("nodice", p50=3.0),
            _row("failed", status=Status.RUN_FAILED, dice=0.1)]
    assert floor_failures(rows, 0.8) == ["weak (Dice 0.5000)", "nodice (no gate Dice)"]
    old = tmp_path / "results.jsonl"
    old.write_text("\n".join(json.dumps({**r.to_dict(), "p50_ms": 8.0}) for r in rows[:2]) + "\n")
    got = {c["artifact"]: c["speedup"] for c in compare(rows, old)}
    assert got == {"good": 2.0, "weak": 4.0}
