"""The bench's peak (issue 19): the theoretical peak's arithmetic from CPU flags, the peak kernels
as real LiteRT models, and the exit code of a bench with no measured row. No timing is asserted."""

import numpy as np
import pytest

from edgeseg.bench.peak import theoretical_peak


@pytest.mark.parametrize("flags, threads, fp32, int8", [
    # Zen 5: 16 fp32 lanes x 2 FMA units x 2 flops x 2 threads x 2 GHz; VNNI: 4 int8 MACs per lane.
    ({"avx2", "fma", "avx512f", "avx512_vnni"}, 2, 16 * 2 * 2 * 2 * 2.0, 16 * 2 * 4 * 2 * 2 * 2.0),
    # Zen 3: 8 lanes, 2 FMA units, no VNNI: 2 int8 MACs per lane (vpmaddubsw + vpmaddwd).
    ({"avx2", "fma"}, 1, 8 * 2 * 2 * 1 * 2.0, 8 * 2 * 2 * 2 * 1 * 2.0),
])
def test_theoretical_peak_from_flags(flags, threads, fp32, int8):
    p = theoretical_peak(flags, threads, clock_ghz=2.0)
    assert (p.fp32_gflops, p.int8_gops) == (pytest.approx(fp32), pytest.approx(int8))
    assert "physical cores" in p.assumptions and "2.000 GHz" in p.assumptions


def test_peak_kernels_compute_the_matmul():
    """The fp32 kernel is the matmul to float32 rounding (k products summed); the int8 one runs
    as int8 IO and its G(FL)OP count is 2mkn."""
    from ai_edge_litert.interpreter import Interpreter

    from edgeseg.bench.peak import matmul_tflite, time_matmul

    m, k, n = 8, 64, 16
    it = Interpreter(model_content=matmul_tflite(False, m, k, n))
    it.allocate_tensors()
    x = np.random.default_rng(0).standard_normal((m, k)).astype(np.float32)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    w = np.random.default_rng(0).standard_normal((k, n)).astype(np.float32) / np.sqrt(k)
    want = x.astype(np.float64) @ w.astype(np.float64)
    got = it.get_tensor(it.get_output_details()[0]["index"])
    assert np.abs(got - want).max() <= k * np.finfo(np.float32).eps * np.abs(x).max() * np.abs(w).max() * 4
    r = time_matmul(matmul_tflite(True, m, k, n), threads=1, min_runs=2, min_seconds=0)
    assert (r["dtype"], r["m"], r["k"], r["n"]) == ("int8", m, k, n) and r["best"] > 0


def test_bench_with_no_measured_row_exits_1(cli, tmp_path):
    fake = tmp_path / "not_a_model.tflite"
    fake.write_text("this is text, not a TFLite flatbuffer")
    r = cli("bench", fake, "-t", "1", "--no-frame", "--min-runs", "1", "--min-seconds", "0", "--out", tmp_path / "b")
    assert r.exit_code == 1, r.output
    assert "no row was measured" in r.stderr


def test_bench_help_says_what_exit_codes_mean(cli):
    r = cli("bench", "--help")
    assert r.exit_code == 0 and "Exit codes" in r.output and "no row measured" in r.output
