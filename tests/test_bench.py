import json
from types import SimpleNamespace

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
    assert bench.relative_error(torch.tensor([[3.0, 4.5]], dtype=torch.bfloat16), ref) == pytest.approx(0.1)
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


# -- the shared helpers of the GPU checks (bwkit.bench and benchmarks/gpu_check_util.py), proven on the CPU ---------

def test_relative_error_is_float64_on_outs_device_and_moe_shares_it():
    from bwkit import moe

    ref = torch.ones(8, dtype=torch.float64)
    out = ref * (1 + 1e-10)                                   # lost in float32, kept in float64
    assert bench.relative_error(out, ref) == pytest.approx(1e-10, rel=1e-3)
    assert bench.relative_error(out.float(), ref.float()) == 0.0     # float32 inputs: their own rounding only
    y, r = torch.randn(5, 7, dtype=torch.bfloat16), torch.randn(5, 7)
    expected = float((y.double() - r.double()).norm() / r.double().norm())
    assert bench.relative_error(y, r) == expected == moe.relative_error(y, r)   # lab 07's printed numbers
    assert isinstance(bench.relative_error(y, r), float)
    assert bench.relative_error(torch.tensor([1.0, float("nan")]), torch.ones(2)) != 0.0   # nan: never "close"


class _FakeCuda:
    """torch.cuda on a CPU machine, for time_fn's CUDA branch: events on a fake clock, every call logged."""

    def __init__(self, monkeypatch):
        self.log, self.clock = [], 0.0
        fake = self

        class Event:
            def __init__(self, enable_timing=False):
                assert enable_timing
                self.t = None

            def record(self):
                fake.log.append("record")
                self.t = fake.clock

            def elapsed_time(self, end):
                return end.t - self.t

        class Flush:
            def zero_(self):
                fake.log.append("flush")

        real_empty = torch.empty

        def empty(*shape, device=None, **kw):
            if device == "cuda":
                assert shape == (256 * 2**20,) and kw["dtype"] == torch.uint8
                fake.log.append("alloc flush")
                return Flush()
            return real_empty(*shape, device=device, **kw)

        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.delenv("BWKIT_FORCE_CPU", raising=False)      # the GPU path, as bwkit.setup() takes it there
        monkeypatch.setenv("TRITON_INTERPRET", "0")
        monkeypatch.setattr(torch.cuda, "Event", Event)
        monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: self.log.append("sync"))
        monkeypatch.setattr(torch.cuda, "_sleep", lambda cycles: self.log.append(f"sleep {cycles}"))
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H200")
        monkeypatch.setattr(torch, "empty", empty)

    def kernel(self, ms: float):
        """A 'kernel' that logs its call and advances the fake GPU clock by `ms`."""
        def fn():
            self.log.append("fn")
            self.clock += ms
        return fn


def test_time_fn_cuda_branch_events_and_flush(monkeypatch):
    """The CUDA branch of time_fn with torch.cuda faked: warm-up, one sync, the flush buffer, per rep
    flush -> start event -> fn -> end event, one sync; the medians of the event times."""
    cuda = _FakeCuda(monkeypatch)
    t = bench.time_fn(cuda.kernel(2.0), warmup=3, reps=4)
    assert cuda.log == ["fn"] * 3 + ["sync", "alloc flush"] + ["flush", "record", "fn", "record"] * 4 + ["sync"]
    assert (t.clock, t.device, t.reps, t.is_cpu) == ("cuda-events", "NVIDIA H200", 4, False)
    assert t.median_ms == t.min_ms == t.p20_ms == t.p80_ms == pytest.approx(2.0)
    r = bench.gemm_result("mm", 8192, 8192, 8192, t, precision="bf16")
    assert r.pct_peak == pytest.approx(100 * r.tflops / 989)      # a CUDA timing: % of the H200 peak
    cuda.log.clear()
    bench.time_fn(cuda.kernel(1.0), warmup=0, reps=1, flush_l2=False)
    assert cuda.log == ["sync", "record", "fn", "record", "sync"]


@pytest.mark.parametrize("env", [{"BWKIT_FORCE_CPU": "1"}, {"TRITON_INTERPRET": "1"}])
def test_time_fn_takes_the_host_clock_where_bwkit_takes_the_cpu_path(monkeypatch, env):
    """A GPU that bwkit.setup() put on the CPU path (BWKIT_FORCE_CPU=1 after a broken CUDA install; the
    interpreter on a GPU without a kernel plan): lab 00 times its CPU tensors, so time_fn's default clock is the
    host's, not CUDA events (which timed a CPU matmul under the GPU's name, or raised on a broken install)."""
    cuda = _FakeCuda(monkeypatch)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    t = bench.time_fn(lambda: sum(range(2000)), warmup=1, reps=3)
    assert (t.clock, t.is_cpu, cuda.log) == ("host (CPU)", True, [])
    assert bench.time_fn(cuda.kernel(2.0), warmup=0, reps=1, device="cuda").clock == "cuda-events"


def test_time_fn_head_start_and_time_kernel(monkeypatch):
    """time_fn(head_start=True): the CUDA sequence with a torch.cuda._sleep queued before each start event, the
    same statistics; gpu_check_util.time_kernel (gemm and moe checks) is exactly that, on 'cuda'."""
    _benchmarks()
    import gpu_check_util as u

    cuda = _FakeCuda(monkeypatch)
    times = iter([3.0, 1.0, 2.0, 5.0, 4.0] * 3)

    def varied():
        fn = cuda.kernel(0.0)
        return lambda: (fn(), setattr(cuda, "clock", cuda.clock + next(times)))

    t_fn = bench.time_fn(varied(), warmup=0, reps=5)
    fn_log, cuda.log = cuda.log, []
    t_hs = bench.time_fn(varied(), warmup=0, reps=5, head_start=True)
    assert [e for e in cuda.log if not e.startswith("sleep")] == fn_log
    assert cuda.log.count("sleep 200000") == 5
    assert cuda.log[:6] == ["sync", "alloc flush", "flush", "sleep 200000", "record", "fn"]
    assert t_hs == t_fn
    assert (t_hs.median_ms, t_hs.min_ms, t_hs.p20_ms, t_hs.p80_ms) == pytest.approx((3.0, 1.0, 1.8, 4.2))
    hs_log, cuda.log = cuda.log, []
    t_k = u.time_kernel(varied(), reps=5, warmup=0)
    assert cuda.log == hs_log and t_k == t_hs
    cuda.log.clear()
    assert u.time_kernel(cuda.kernel(1.5), reps=1, warmup=2).median_ms == pytest.approx(1.5)
    assert cuda.log[:3] == ["fn", "fn", "sync"]                     # the 2 warm-ups asked for, then one sync
    with pytest.raises(ValueError, match="head_start=True.*CUDA clock"):
        bench.time_fn(lambda: None, device="cpu", head_start=True)


def test_cublas_baseline_and_cell():
    torch.manual_seed(0)
    a, b, r = bench.cublas_baseline(16, 24, 32, warmup=0, reps=2, device="cpu")
    torch.manual_seed(0)
    a2, b2 = torch.randn(16, 32, dtype=torch.bfloat16), torch.randn(24, 32, dtype=torch.bfloat16)
    assert torch.equal(a, a2) and torch.equal(b, b2) and a.dtype == torch.bfloat16   # A (M, K), B (N, K)
    assert (r.name, r.shape, r.flops, r.precision, r.timing.reps) == ("cuBLAS", {"M": 16, "N": 24, "K": 32},
                                                                      2 * 16 * 24 * 32, "bf16", 2)
    _, b3, r3 = bench.cublas_baseline(4, 8, 16, torch.float16, name="cuBLAS a @ b.t()", precision="tf32", warmup=0,
                                      reps=1, device="cpu")
    assert b3.dtype == torch.float16 and (r3.name, r3.precision) == ("cuBLAS a @ b.t()", "tf32")
    assert [bench.cell(v) for v in (None, "ok", 4096, 2.25, 1.0)] == ["-", "ok", "4096", "2.2", "1.0"]
    assert bench.cell(3.14159, ".3f") == "3.142" and bench.cell(-1.5, "+.1f") == "-1.5"


def test_gpu_check_shape_arguments():
    import argparse

    _benchmarks()
    import gpu_check_util as u

    assert u.parse_shape(" 8192x768x4096 ") == (8192, 768, 4096)
    assert u.parse_shapes("1x2x3,4x5x6") == [(1, 2, 3), (4, 5, 6)]
    for bad in ("8192", "1x2x3x4", "axbxc"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not MxNxK"):
            u.parse_shape(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="'4x5' is not MxNxK"):
        u.parse_shapes("1x2x3,4x5")
    import gpu_check_cute_ladder
    import gpu_check_near_peak

    ladder = u.Check("l", "l", 5, argv=["--shape", "256x512x64"], add_args=gpu_check_cute_ladder._args)
    near = u.Check("n", "n", 5, argv=["--shapes", "256x512x64,8x8x8"], add_args=gpu_check_near_peak._args)
    assert ladder.args.shape == (256, 512, 64) and near.args.shapes == [(256, 512, 64), (8, 8, 8)]


def _cpu_dense_case(M, N, K, dtype):
    a, b = torch.randn(M, K).to(dtype), torch.randn(N, K).to(dtype)
    return a, b, a.float() @ b.float().t()


def test_check_dense_rows_tolerances_and_budget(tmp_path, monkeypatch, capsys):
    """gpu_check_util.check_dense (lab 05's and lab 09's dense rows) on CPU tensors: one row per shape x dtype (x
    GEMM), bf16 / fp16 tolerances from DENSE_TOL, nothing started once the budget is spent."""
    _benchmarks()
    import gpu_check_cute
    import gpu_check_gluon
    import gpu_check_util as u

    monkeypatch.setattr(u, "dense_case", _cpu_dense_case)
    assert u.DENSE_TOL == {"bf16": 8e-3, "fp16": 1e-3}
    chk = u.Check("dense", "dense rows", 60, argv=["--out", str(tmp_path / "d.json")])
    chk.table(["kernel", "step", "dtype", "shape", "rel err", "tol", "ok"])
    seen = []

    def mm(a, b):
        seen.append(a.dtype)
        return (a.float() @ b.float().t()).to(a.dtype)

    assert gpu_check_cute._check_dense(chk, SimpleNamespace(gemm_tcgen05=mm), [(32, 48, 64), (16, 16, 32)])
    gg = SimpleNamespace(matmul=lambda a, b, step: mm(a, b) if step == "sync" else torch.zeros(a.shape[0], b.shape[0]))
    assert not gpu_check_gluon._check_dense(chk, gg, ("sync", "ws"), [(32, 48, 64)])
    rows = json.loads((tmp_path / "d.json").read_text())["rows"]
    got = [(r.get("kernel"), r.get("step"), r["dtype"], r["shape"], r["tol"], r["ok"]) for r in rows]
    assert got == [("dense tcgen05", None, "bf16", "32x48x64", "0.008", "✅"),
                   ("dense tcgen05", None, "fp16", "32x48x64", "0.001", "✅"),
                   ("dense tcgen05", None, "bf16", "16x16x32", "0.008", "✅"),
                   ("dense tcgen05", None, "fp16", "16x16x32", "0.001", "✅"),
                   (None, "sync", "bf16", "32x48x64", "0.008", "✅"), (None, "ws", "bf16", "32x48x64", "0.008", "❌"),
                   (None, "sync", "fp16", "32x48x64", "0.001", "✅"), (None, "ws", "fp16", "32x48x64", "0.001", "❌")]
    assert seen == [torch.bfloat16, torch.float16] * 3
    monkeypatch.setattr(chk, "spent", lambda need=0.0: True)
    assert u.check_dense(chk, mm, [(8, 8, 8)], kernel="k") is True and len(chk.rows) == 8
    assert "[budget spent: dense bf16 8x8x8 not checked]" in capsys.readouterr().out


def test_cute_and_gluon_timings_use_the_cublas_baseline(tmp_path, monkeypatch):
    """time_dense (lab 05) and time_best (lab 09) with `bench` on CPU tensors: the cuBLAS row, then the kit's
    kernel on the same operands, its ratio to cuBLAS."""
    _benchmarks()
    import gpu_check_cute
    import gpu_check_gluon
    import gpu_check_util as u

    calls = []

    def cpu_baseline(M, N, K, dtype, **kw):                # the shape asked for recorded, 64^3 on the CPU run
        calls.append((M, N, K, dtype, kw))
        return bench.cublas_baseline(64, 64, 64, dtype, device="cpu", **kw)

    cpu_bench = SimpleNamespace(cublas_baseline=cpu_baseline, time_fn=bench.time_fn, gemm_result=bench.gemm_result,
                                relative_error=bench.relative_error)
    cfg = SimpleNamespace(TILE_M=128, TILE_N=256, TILE_K=64, STAGES=4)
    cg = SimpleNamespace(GemmConfig=lambda **kw: cfg, gemm_tcgen05=lambda a, b, c=None: a @ b.t())
    chk = u.Check("t", "t", 60, argv=["--out", str(tmp_path / "t.json")])
    chk.table(gpu_check_cute.COLUMNS)
    assert gpu_check_cute.time_dense(chk, cg, cpu_bench, False) > 0
    gg = SimpleNamespace(matmul=lambda a, b, step: a @ b.t())
    assert gpu_check_gluon.time_best(chk, gg, cpu_bench, "ws") > 0
    assert [c[:4] for c in calls] == [(8192, 8192, 8192, torch.bfloat16)] * 2
    assert [c[4]["name"] for c in calls] == ["cuBLAS torch.matmul(a, b.t())", "cuBLAS a @ b.t()"]
    assert all((c[4]["warmup"], c[4]["reps"]) == (3, 10) for c in calls)
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert [r.get("kernel", r.get("step")) for r in rows] == ["cuBLAS torch.matmul(a, b.t())",
                                                              "kit tcgen05 128x256x64 s4", "cuBLAS", "ws"]
    assert rows[1]["rel err"] == "0.0e+00" and rows[0]["x cuBLAS"] == rows[2]["x cuBLAS"] == 1.0


class _CpuTorch:
    """The real torch for a GPU check's injected `torch`: its 'cuda' tensors on the CPU, torch.cuda a stub."""

    def __init__(self):
        self.cuda = SimpleNamespace(synchronize=lambda: None, empty_cache=lambda: None,
                                    get_device_name=lambda i=0: "NVIDIA H200", get_device_capability=lambda i=0: (9, 0))
        self.backends = SimpleNamespace(cuda=SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False)))

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def randn(*shape, device=None, **kw):
        return torch.randn(*shape, **kw)


def test_gpu_check_gemm_rows_from_bench(tmp_path, monkeypatch):
    """gpu_check_gemm's ladder and NVFP4 rows, with time_fn's CUDA branch on a fake clock (torch.cuda faked) and
    tiny shapes on the CPU: TFLOP/s, x cuBLAS and % peak as bench.gemm_result / percent_of_peak give them, the
    peak precision from gemm_bench.PEAK_PRECISION, every rep of time_kernel with its head start."""
    _benchmarks()
    import gpu_check_gemm as g
    import gpu_check_util as u

    from bwkit import gemm_bench, hw

    cuda = _FakeCuda(monkeypatch)
    ms = {"cuBLAS": 1.0, "ws": 0.5}
    monkeypatch.setattr(g, "SQUARE", (32, 48, 64))
    monkeypatch.setattr(g, "SEED", (16, 24, 32))
    def timed_mm(name):
        def fn(a, b, **kw):
            cuda.clock += ms.get(name, 2.0)
            return torch.matmul(a, b)
        return fn

    cfg = SimpleNamespace(kwargs={"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 64}, num_warps=8, num_stages=3)
    tuned = SimpleNamespace(get=lambda key: SimpleNamespace(best_config=cfg))      # every autotuner chose `cfg`
    gemm = SimpleNamespace(ladder_step=lambda k: SimpleNamespace(wrapper=timed_mm(k)), _TUNED=tuned,
                           plan_target=lambda cap: "sm_90a", launch_configs=lambda k, dt, t: [cfg],
                           matmul_grouped=lambda a, b, **kw: timed_mm("grouped")(a, b))
    cpu_torch = _CpuTorch()
    real_matmul = torch.matmul

    def cublas(a, b):
        cuda.clock += 1.0
        return real_matmul(a, b)

    cpu_torch.matmul = cublas
    chk = u.Check("g", "g", 600, argv=["--out", str(tmp_path / "g.json")])
    spec = hw.get_spec("H200")
    best = g.run_ladder(chk, spec, cpu_torch, gemm)
    rows = json.loads((tmp_path / "g.json").read_text())["rows"]
    assert [(r["kernel"], r["dtype"]) for r in rows] == [(k, dt) for k, dt, _, _ in g.plan_rows()]
    for r, (kernel, dt, shape, _) in zip(rows, g.plan_rows(), strict=True):
        M, N, K = shape
        want_ms = 1.0 if kernel == "cuBLAS" else ms.get(kernel, 2.0)
        assert r["ms"] == pytest.approx(want_ms)
        assert r["TFLOP/s"] == pytest.approx(2 * M * N * K / (want_ms * 1e-3) / 1e12)
        assert r["x cuBLAS"] == pytest.approx(1.0 / want_ms)
        assert r["% peak"] == pytest.approx(100 * r["TFLOP/s"] / spec.peak_tflops[gemm_bench.PEAK_PRECISION[dt]])
        assert r["rel err"] == "0.0e+00"
    assert {r["config"] for r in rows} == {"-", "tuned 128x256x64 s3 w8", "128x256x64 s3 w8"}
    assert best == pytest.approx(2.0)                      # ws at 0.5 ms vs cuBLAS at 1 ms, bf16 SQUARE
    assert {k: gemm_bench.PEAK_PRECISION[k] for k in ("bf16", "fp16", "fp32")} == {"bf16": "bf16", "fp16": "bf16",
                                                                                   "fp32": "tf32"}
    sleeps = [e for e in cuda.log if e.startswith("sleep")]
    assert len(sleeps) == 10 * len(rows)                   # 10 reps per row, each with its head start
    # the NVFP4 rows: the contenders timed the same way, % of the fp4 peak of the spec for this device
    fns = {"nvfp4 triton (tl.dot_scaled)": (cuda.kernel(0.25), "fp4"), "bf16 torch.matmul": (cuda.kernel(1.0), "bf16")}
    monkeypatch.setattr(gemm_bench, "nvfp4_contenders", lambda n: (fns, None))
    rt = SimpleNamespace(is_blackwell_dc=True, gpu_name="NVIDIA B200", memory_gib=180.0, sm_count=148)
    g.run_nvfp4(chk, rt, cpu_torch)
    b200 = hw.spec_for_device(rt.gpu_name, rt.memory_gib, rt.sm_count)
    n4 = json.loads((tmp_path / "g.json").read_text())["rows"][len(rows):]
    assert [r["kernel"] for r in n4] == list(fns)
    for r, want_ms in zip(n4, (0.25, 1.0), strict=True):
        assert r["ms"] == pytest.approx(want_ms) and r["TFLOP/s"] == pytest.approx(2 * 32**3 / want_ms / 1e9)
        assert r["% peak"] == pytest.approx(100 * r["TFLOP/s"] / b200.peak_tflops[r["dtype"]])


def test_gpu_check_moe_rows_from_bench(tmp_path, monkeypatch):
    """gpu_check_moe's rows with time_kernel on a fake clock (torch.cuda faked): loop / fused ms, x loop, rel err."""
    _benchmarks()
    import gpu_check_moe as gm

    import bwkit
    from bwkit import moe, moe_kernels

    cuda = _FakeCuda(monkeypatch)
    monkeypatch.setattr(bwkit, "setup", lambda quiet=True: SimpleNamespace(can_time=True, gpu_name="NVIDIA H200",
                                                                           arch=(9, 0)))
    monkeypatch.setattr(gm, "_layer", lambda name, torch, moe: (torch.ones(4, 8),))

    def loop(x):
        cuda.clock += 3.0
        return x

    def fused(x):
        cuda.clock += 1.5
        return x * (1 + 1e-3)

    monkeypatch.setattr(moe, "experts_grouped", loop)
    monkeypatch.setattr(moe_kernels, "fused_moe", fused)
    assert gm.main(["--out", str(tmp_path / "m.json"), "--budget", "600"]) == 0
    rows = json.loads((tmp_path / "m.json").read_text())["rows"]
    assert [r["layer"] for r in rows] == ["SMALL", "mid"]
    for r in rows:
        assert (r["loop ms"], r["fused ms"], r["x loop"], r["rel err"]) == (pytest.approx(3.0), pytest.approx(1.5),
                                                                            pytest.approx(2.0), "1.0e-03")
    assert sum(e.startswith("sleep") for e in cuda.log) == 2 * 2 * 10   # 2 layers x 2 timings x 10 reps
    assert cuda.log.count("fn") == 0 and "alloc flush" in cuda.log


def test_ladder_rows_one_at_a_time_and_the_scripts_budget(tmp_path, monkeypatch, capsys):
    """ladder_bench.iter_ladder / measure_ladder and gpu_check_cute_ladder.measure on CPU tensors (the rungs,
    the model and the NVFP4 row stubbed): cuBLAS first, each rung checked then timed against it, a rung that
    fails is a row saying why; the script checks at CHECK_SHAPES[:1], cuts notes to 300 characters and starts
    nothing past its budget."""
    _benchmarks()
    import functools

    import gpu_check_cute_ladder as script
    import gpu_check_util as u

    from bwkit import cute_ladder
    from bwkit import ladder_bench as lb

    rungs = [SimpleNamespace(number=i, name=f"rung{i}") for i in (1, 2, 3)]
    checked = []

    def check_rung(rung, shapes=lb.CHECK_SHAPES):
        checked.append((rung.number, shapes))
        if rung.number == 2:
            raise RuntimeError("x" * 400)
        return 1e-3

    monkeypatch.setattr(lb, "gpu_reason", lambda: None)
    monkeypatch.setattr(lb, "variants", lambda: [(r, f"rung {r.number}") for r in rungs])
    monkeypatch.setattr(lb, "check_rung", check_rung)
    monkeypatch.setattr(lb, "_model", lambda rung, shape, precision="bf16": 42.0)
    monkeypatch.setattr(lb, "_measure_nvfp4", lambda shape, reps, warmup: lb.LadderRow("nvfp4", "n", shape, 0.0))
    monkeypatch.setattr(cute_ladder, "run_rung", lambda rung, a, b: a @ b.t())
    monkeypatch.setattr(bench, "cublas_baseline", functools.partial(bench.cublas_baseline, device="cpu"))
    shape = (64, 64, 64)
    rows = lb.measure_ladder(shape, reps=2, warmup=0)
    assert [r.rung for r in rows] == ["cuBLAS", 1, 2, 3, "nvfp4"] and rows[0].vs_baseline == 1.0
    assert checked == [(1, lb.CHECK_SHAPES), (2, lb.CHECK_SHAPES), (3, lb.CHECK_SHAPES)]
    assert rows[1].rel_err == 1e-3 and rows[1].model_pct == 42.0 and rows[1].tflops > 0 and rows[1].ms > 0
    assert rows[2].ms is None and rows[2].note == "did not run: RuntimeError: " + "x" * 400
    assert len(lb.measure_ladder(shape, reps=1, warmup=0, nvfp4=False)) == 4
    checked.clear()
    chk = u.Check("l", "l", 600, argv=["--out", str(tmp_path / "l.json")])
    chk.table(script.COLUMNS)
    rows = script.measure(chk, lb, shape, 1, 0, True)
    assert [r.rung for r in rows] == ["cuBLAS", 1, 2, 3, "nvfp4"]
    assert checked == [(n, lb.CHECK_SHAPES[:1]) for n in (1, 2, 3)] and len(rows[2].note) == 300
    assert [r["rung"] for r in json.loads((tmp_path / "l.json").read_text())["rows"]] == ["cuBLAS", 1, 2, 3, "nvfp4"]
    monkeypatch.setattr(chk, "spent", lambda need=0.0: True)
    capsys.readouterr()
    assert [r.rung for r in script.measure(chk, lb, shape, 1, 0, True)] == ["cuBLAS"]
    out = capsys.readouterr().out
    assert all(f"rung {n} not started]" in out for n in (1, 2, 3))
    monkeypatch.setattr(lb, "gpu_reason", lambda: "no CUDA GPU is visible")
    with pytest.raises(RuntimeError, match="needs a datacenter Blackwell GPU"):
        lb.measure_ladder()


def test_relative_error_refuses_broadcasting_and_a_zero_reference():
    with pytest.raises(ValueError, match="same shape"):
        bench.relative_error(torch.ones(3, 1), torch.ones(3))          # would broadcast to 3 x 3 and say 0.0
    with pytest.raises(ValueError, match="all zeros"):
        bench.relative_error(torch.ones(3), torch.zeros(3))            # would say inf
    with pytest.raises(TypeError, match="ref must be a torch.Tensor"):
        bench.relative_error(torch.ones(3), [1.0, 1.0, 1.0])


def test_gemm_result_refuses_what_is_not_a_timing_and_a_zero_time():
    with pytest.raises(TypeError, match="timing must be a bwkit.bench.Timing"):
        bench.gemm_result("mm", 64, 64, 64, 1.0)
    zero = bench.Timing(0.0, 0.0, 0.0, 0.0, 5, "host (CPU)", "cpu")
    with pytest.raises(ValueError, match="median time must be > 0 ms"):
        bench.gemm_result("mm", 64, 64, 64, zero)


_SIM_CHECK = r'''
import os, sys, types
for k in ("BWKIT_FORCE_CPU", "TRITON_INTERPRET"):
    os.environ.pop(k, None)
import torch
props = types.SimpleNamespace(name="NVIDIA A100-SXM4-80GB", major=8, minor=0, multi_processor_count=108,
                              total_memory=80 * 2**30)
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
torch.cuda.get_device_properties = lambda i=0: props
torch.cuda.get_device_capability = lambda i=0: (8, 0)
torch.cuda.get_device_name = lambda i=0: props.name
sys.path.insert(0, sys.argv[1])
for name in ("gpu_check_gemm", "gpu_check_moe"):
    print(name, "rc", __import__(name).main(["--out", os.path.join(sys.argv[2], name + ".json")]))
'''


def test_gpu_checks_skip_a_gpu_without_a_kernel_plan(tmp_path):
    """On a simulated A100 bwkit.setup() switches the interpreter on; gpu_check_gemm imported triton before
    setup() and raised, gpu_check_moe blamed TRITON_INTERPRET. Both now skip (rc 0) and say why."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-c", _SIM_CHECK, str(root / "benchmarks"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    out = res.stdout
    assert "gpu_check_gemm rc 0" in out and "gpu_check_moe rc 0" in out, out + res.stderr[-2000:]
    assert out.count("skipped: needs a GPU with a kernel plan (bwkit has none for sm_80") == 2, out


def test_check_never_replaces_something_that_is_not_a_regular_file(tmp_path, capsys):
    """`--out /dev/null` (run as root) had the atomic write replace the device with a regular file; a FIFO stands
    for it here: it stays a FIFO, and the check says it did not write."""
    import os
    import stat

    _benchmarks()
    import gpu_check_util as u

    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    chk = u.Check("demo", "a demo", default_budget_s=5, argv=["--out", str(fifo)])
    chk.row(kernel="x", ms=1.0)
    assert chk.done() == 0
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert "it is not a regular file" in capsys.readouterr().out
