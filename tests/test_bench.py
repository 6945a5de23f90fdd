import json

import pytest
import torch

from bwkit import bench


def test_cpu_timing_is_labelled():
    if torch.cuda.is_available():
        pytest.skip("GPU machine")
    t = bench.time_fn(lambda: torch.ones(64, 64) @ torch.ones(64, 64), warmup=1, reps=5)
    assert t.clock == "host (CPU)" and t.is_cpu and t.reps == 5
    assert 0 < t.min_ms <= t.p20_ms <= t.median_ms <= t.p80_ms
    r = bench.gemm_result("mm", 64, 64, 64, t, precision="bf16")
    assert r.pct_peak is None  # never a % of a GPU peak for a CPU timing
    assert "CPU timing" in r.summary()
    assert r.flops == 2 * 64**3
    assert r.tflops == pytest.approx(2 * 64**3 / (t.median_ms * 1e-3) / 1e12)


def test_percent_of_peak_and_device_match():
    assert bench.percent_of_peak(495.0, "H100 SXM", "bf16") == pytest.approx(100 * 495 / 989)
    assert bench.spec_for_device("NVIDIA H200").name == "H200"
    assert bench.spec_for_device("NVIDIA H100 80GB HBM3").name == "H100 SXM"
    assert bench.spec_for_device("NVIDIA B200").name == "B200"
    assert bench.spec_for_device("Tesla T4") is None


def test_gpu_result_pct_peak_from_timing():
    t = bench.Timing(1.0, 0.9, 1.1, 0.9, 10, "cuda-events", "NVIDIA H200")
    r = bench.gemm_result("mm", 8192, 8192, 8192, t, precision="bf16")
    assert r.tflops == pytest.approx(2 * 8192**3 / 1e-3 / 1e12)
    assert r.pct_peak == pytest.approx(100 * r.tflops / 989)
    assert t.spread == pytest.approx(0.2)


def test_save_and_load_json(tmp_path):
    t = bench.Timing(2.0, 1.9, 2.1, 1.8, 5, "host (CPU)", "CPU (x86_64)")
    p = bench.save_json([bench.gemm_result("mm", 8, 8, 8, t)], tmp_path / "r.json")
    data = bench.load_json(p)
    assert data["metadata"]["torch"] == torch.__version__
    assert data["results"][0]["shape"] == {"M": 8, "N": 8, "K": 8}
    assert data["results"][0]["timing"]["clock"] == "host (CPU)"
    (tmp_path / "bad.json").write_text(json.dumps({"x": 1}))
    with pytest.raises(ValueError, match="not a bwkit results file"):
        bench.load_json(tmp_path / "bad.json")


def test_bad_inputs():
    with pytest.raises(TypeError):
        bench.time_fn(3)
    with pytest.raises(ValueError, match="reps"):
        bench.time_fn(lambda: None, reps=0)
    with pytest.raises(ValueError, match="K must be"):
        bench.gemm_flops(1, 1, -1)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            bench.time_fn(lambda: None, device="cuda")


def _benchmarks():
    import sys
    from pathlib import Path

    here = str(Path(__file__).resolve().parents[1] / "benchmarks")
    if here not in sys.path:
        sys.path.insert(0, here)


def test_gpu_check_rows_print_as_they_come_and_json_is_rewritten(tmp_path, capsys, monkeypatch):
    _benchmarks()
    import gpu_check_util as u

    monkeypatch.setenv("BWKIT_CHECK_BUDGET_S", "30")
    chk = u.Check("demo", "a demo", default_budget_s=5, argv=["--dry-run", "--out", str(tmp_path / "d.json")])
    assert chk.budget_s == 30 and chk.dry and not chk.spent(1) and chk.spent(31)
    chk.table(["kernel", "ms"])
    chk.row(kernel="k1", ms=1.25)
    first = json.loads((tmp_path / "d.json").read_text())          # written after the first row already
    assert first["rows"][0] == {"kernel": "k1", "ms": 1.25, "fake": True, "t_s": first["rows"][0]["t_s"]}
    assert first["metadata"]["dry_run"] is True
    chk.row(kernel="k2", ms=2.5)
    assert chk.done() == 0
    out = capsys.readouterr().out
    assert "DRY RUN: every timing below is FAKE" in out and "| k1 | 1.2 FAKE |" in out and "| k2 | 2.5 FAKE |" in out
    assert len(json.loads((tmp_path / "d.json").read_text())["rows"]) == 2
    real = u.Check("demo", "a demo", default_budget_s=5, argv=["--budget", "7", "--out", str(tmp_path / "r.json")])
    assert real.budget_s == 7 and not real.dry
    assert real.skipped("nvidia-cutlass-dsl") == 0
    assert "demo: skipped: needs nvidia-cutlass-dsl" in capsys.readouterr().out


def test_gpu_check_accuracy_rows_judge_error_and_finiteness(tmp_path, capsys, monkeypatch):
    """The GPU checks' accuracy rows (`Check.accuracy`, `rel_error`), on CPU tensors: the same code runs on CUDA."""
    _benchmarks()
    import gpu_check_util as u

    ref = torch.tensor([[3.0, 4.0]])
    assert u.rel_error(torch.tensor([[3.0, 4.5]], dtype=torch.bfloat16), ref) == pytest.approx(0.1)
    chk = u.Check("acc", "accuracy rows", default_budget_s=5, argv=["--out", str(tmp_path / "a.json")])
    chk.table(["kernel", "rel err", "tol", "ok"])
    assert chk.accuracy(torch.tensor([[3.0, 4.5]]), ref, 0.2, kernel="close") is True
    assert chk.accuracy(torch.tensor([[3.0, 4.5]]), ref, 0.05, kernel="too far") is False
    assert chk.accuracy(torch.tensor([[3.0, float("nan")]]), ref, 1e9, kernel="nan") is False
    rows = json.loads((tmp_path / "a.json").read_text())["rows"]
    assert [(r["kernel"], r["rel err"], r["tol"], r["ok"]) for r in rows[:2]] == [
        ("close", "1.00e-01", "0.2", "✅"), ("too far", "1.00e-01", "0.05", "❌")]
    assert rows[2]["ok"] == "❌" and "| too far | 1.00e-01 | 0.05 | ❌ |" in capsys.readouterr().out
    # the NVFP4 rows: one per shape, the GEMM called on the case's operands and its M, N, K
    calls = []
    monkeypatch.setattr(u, "nvfp4_case", lambda M, N, K: (["codes"], torch.ones(M, N)))

    def gemm(*args):
        calls.append(args)
        return torch.full((args[1], args[2]), 1.0 if len(calls) == 1 else 1.5)

    assert u.check_nvfp4(chk, gemm, [(2, 3, 64), (4, 5, 64)], 0.1, kernel="nvfp4") is False
    assert calls == [("codes", 2, 3, 64), ("codes", 4, 5, 64)]
    assert [(r["shape"], r["ok"]) for r in json.loads((tmp_path / "a.json").read_text())["rows"][3:]] == [
        ("2x3x64", "✅"), ("4x5x64", "❌")]


def test_gpu_check_gemm_dry_run_and_the_budget_table(tmp_path, capsys):
    _benchmarks()
    import gpu_check
    import gpu_check_gemm

    assert gpu_check_gemm.main(["--dry-run", "--out", str(tmp_path / "g.json")]) == 0
    data = json.loads((tmp_path / "g.json").read_text())
    assert len(data["rows"]) == len(gpu_check_gemm.plan_rows()) + 3 and all(r["fake"] for r in data["rows"])
    assert {r["dtype"] for r in data["rows"]} == {"bf16", "fp16", "fp32", "fp4"}
    assert any(r["shape"] == "16384x17290x16384" for r in data["rows"])
    # the whole gpu_check.py fits 5 minutes with margin; the two registered late checks are in it
    assert sum(b for *_, b in gpu_check.CHECKS) + 15 <= gpu_check.TOTAL_S <= 300 - 10
    names = [c[0] for c in gpu_check.CHECKS]
    assert {"gpu_check_gluon.py", "gpu_check_cute_ladder.py", "gpu_check_moe.py"} <= set(names)
    assert gpu_check.main(["--bogus"]) == 2
