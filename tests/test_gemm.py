"""Tests of bwkit.gemm (the lab 03 ladder) and bwkit.gemm_bench, on the CPU path (Triton interpreter)."""

import json
import re

import pytest
import torch

from bwkit import gemm, gemm_bench
from bwkit.inspect import _unwrap_triton
from bwkit.kit import runtime

TMA_STEPS = ("persistent_tma", "ws")
# independent tolerances: |c - ref| <= ATOL * sqrt(K) + RTOL * |ref| (C rounded to fp16/bf16/fp32)
RTOL = {torch.float32: 1e-6, torch.float16: 2e-3, torch.bfloat16: 8e-3}


def _reference(a, b):
    return a.double() @ b.double()


def _check(step_name, M, N, K, dtype, b_layout="kn"):
    """Run one step on fresh random operands with a NaN-poisoned output; compare with a float64 matmul."""
    step = gemm.ladder_step(step_name)
    dt = gemm.DTYPES[dtype]
    a = torch.randn(M, K).to(dt)
    b = torch.randn(K, N).to(dt) if b_layout == "kn" else torch.randn(N, K).to(dt).t()
    out_dtype = torch.float16 if dt == torch.float8_e4m3fn else dt
    c = torch.full((M, N), float("nan"), dtype=out_dtype)
    got = step.wrapper(a, b, out=c)
    assert got is c
    assert not torch.isnan(c).any(), f"{step_name}: unwritten (NaN) elements"
    ref = _reference(a, b)
    err = (c.double() - ref).abs()
    bound = 1e-5 * K**0.5 + RTOL[out_dtype] * ref.abs()
    assert bool((err <= bound).all()), f"{step_name} {dtype}: max err {float(err.max()):.3g}"
    return c, ref


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "fp8", "bf16"])
@pytest.mark.parametrize("step", [s.name for s in gemm.LADDER])
def test_every_step_every_dtype(step, dtype):
    if step == "naive":
        _check(step, 64, 32, 64, dtype)
    elif step in TMA_STEPS:
        _check(step, 70, 45, 48, dtype, b_layout="nk")     # ragged M, N; B as w.t() (TMA-legal for any N)
        _check(step, 40, 64, 32, dtype, b_layout="kn")     # B (K, N) row-major
    else:
        _check(step, 37, 53, 45, dtype)                     # ragged everything


def test_persistent_programs_loop_over_many_tiles():
    # 8 x 8 = 64 tiles of 32 x 32 on 4 interpreter "SMs": each program must visit 16 tiles
    for s in TMA_STEPS:
        _check(s, 256, 256, 32, "fp16", b_layout="nk")


def test_fp8_values_are_exact_products():
    # fp8 operands are small integers here: every product and sum is exact in fp32, so C must be exact
    a = torch.randint(-4, 5, (32, 64)).to(torch.float8_e4m3fn)
    b = torch.randint(-4, 5, (64, 32)).to(torch.float8_e4m3fn)
    ref = a.float() @ b.float()
    for s in gemm.LADDER:
        bb = b if s.name not in TMA_STEPS else b.t().contiguous().t()
        c = s.wrapper(a, bb, out_dtype=torch.float32)
        assert torch.equal(c, ref), s.name


def test_bf16_is_converted_under_the_interpreter():
    a = torch.randn(32, 64).to(torch.bfloat16)
    b = torch.randn(64, 32).to(torch.bfloat16)
    c = gemm.matmul_kloop(a, b)
    assert c.dtype == torch.bfloat16
    exact = (a.double() @ b.double()).to(torch.bfloat16)        # fp32 accumulation, then one bf16 rounding
    assert (c.float() - exact.float()).abs().max() <= 2 ** -7 * exact.float().abs().max()
    # and the raw interpreter bug is refused, not computed silently
    with pytest.raises(runtime.InterpreterBugError):
        runtime.guard_dot_dtypes(a, b)


def test_poisoned_output_catches_a_missing_tile():
    def short_grid(a, b, out):      # launches one program row too few: the last row-tile stays unwritten
        M, K = a.shape
        N = b.shape[1]
        gemm.matmul_kernel_kloop[(M // 32 - 1, N // 32)](a, b, out, M, N, K, a.stride(0), a.stride(1),
                                                         b.stride(0), b.stride(1), out.stride(0), out.stride(1),
                                                         BLOCK_M=32, BLOCK_N=32, BLOCK_K=32)
        return out

    with pytest.raises(AssertionError, match=r"1024 NaN"):
        gemm.check_matmul(short_grid, 64, 32, 32, "fp16", seed=0)
    r = gemm.check_matmul(gemm.matmul_kloop, 64, 32, 32, "fp16", seed=0)
    assert r["ok"] and r["nan"] == 0 and 0 < r["err_ratio"] <= 1


def test_check_matmul_catches_a_wrong_result():
    def transposed_b(a, b, out):    # classic mistake: multiplies by B^T (only possible when square)
        return gemm.matmul_kloop(a, b.t().contiguous(), out=out)

    with pytest.raises(AssertionError, match="max abs error"):
        gemm.check_matmul(transposed_b, 32, 32, 32, "fp32", seed=1)


def test_check_matmul_draws_fresh_inputs():
    c1 = []

    def spy(a, b, out):
        c1.append(a.clone())
        return gemm.matmul_kloop(a, b, out=out)

    gemm.check_matmul(spy, 32, 32, 32, "fp32")
    gemm.check_matmul(spy, 32, 32, 32, "fp32")
    assert not torch.equal(c1[0], c1[1])


@pytest.mark.parametrize("num_pid_m,num_pid_n,group_m", [(8, 5, 4), (7, 3, 4), (5, 6, 1), (3, 4, 8)])
def test_grouped_pid_order(num_pid_m, num_pid_n, group_m):
    got = [gemm.grouped_pid(t, num_pid_m, num_pid_n, group_m) for t in range(num_pid_m * num_pid_n)]
    expected = []               # independent model: walk groups of rows, column by column inside a group
    for g0 in range(0, num_pid_m, group_m):
        rows = range(g0, min(g0 + group_m, num_pid_m))
        for n in range(num_pid_n):
            expected += [(m, n) for m in rows]
    assert got == expected


def test_grouped_pid_refuses_a_tile_off_the_grid():
    assert gemm.grouped_pid(63, 8, 8, 4) == (7, 7)                       # the last tile
    for bad in (64, 100, -1):                                             # 100 once came back as (12, -1)
        with pytest.raises(ValueError, match=r"tile_id must be an int in \[0, 64\)"):
            gemm.grouped_pid(bad, 8, 8, 4)
    with pytest.raises(ValueError, match="GROUP_M must be a positive int"):
        gemm.grouped_pid(0, 8, 8, 0)
    with pytest.raises(ValueError, match="num_pid_n must be a positive int"):
        gemm.grouped_pid(0, 8, 0, 4)


def test_bad_inputs_raise_before_launch():
    a = torch.randn(32, 64, dtype=torch.float16)
    b = torch.randn(64, 32, dtype=torch.float16)
    with pytest.raises(ValueError, match="shape mismatch"):
        gemm.matmul_kloop(a, b[:32])
    with pytest.raises(TypeError, match="same dtype"):
        gemm.matmul_kloop(a, b.float())
    with pytest.raises(TypeError, match="supported"):
        gemm.matmul_kloop(a.to(torch.int32), b.to(torch.int32))
    with pytest.raises(ValueError, match="2-D"):
        gemm.matmul_kloop(a[0], b)
    with pytest.raises(ValueError, match="no unit stride"):
        gemm.matmul_kloop(torch.randn(64, 128, dtype=torch.float16)[::2, ::2], b)
    with pytest.raises(ValueError, match="power of two"):
        gemm.matmul_kloop(a, b, BLOCK_K=24)
    with pytest.raises(ValueError, match="no masks"):
        gemm.matmul_naive(a[:30], b)
    with pytest.raises(ValueError, match="loads all of K"):
        gemm.matmul_naive(a[:, :48], b[:48])
    with pytest.raises(ValueError, match="out must be a"):
        gemm.matmul_kloop(a, b, out=torch.empty(32, 31))
    with pytest.raises(ValueError, match="TMA needs B"):
        gemm.matmul_persistent_tma(torch.randn(32, 64, dtype=torch.float16), torch.randn(64, 33).half())
    with pytest.raises(ValueError, match="TMA needs a K-contiguous A"):
        gemm.matmul_ws(torch.randn(64, 32, dtype=torch.float16).t(), b)
    with pytest.raises(ValueError, match="unknown ladder step"):
        gemm.ladder_step("fastest")
    with pytest.raises(ValueError, match="unknown dtype"):
        gemm.gemm_signature("fp4")


def test_no_autotuning_on_cpu_or_at_import():
    assert gemm._TUNED == {}
    gemm.matmul_autotuned(torch.randn(40, 40), torch.randn(40, 40))
    assert gemm._TUNED == {}
    cfgs = gemm.autotune_configs("ws")
    assert len(cfgs) >= 4 and all({"BLOCK_M", "BLOCK_N", "BLOCK_K"} <= set(c.kwargs) for c in cfgs)


def test_gemm_signature_matches_every_kernel():
    sig = gemm.gemm_signature("fp8")
    assert sig["a_ptr"] == "*fp8e4nv" and sig["c_ptr"] == "*fp16" and sig["stride_am"] == "i32"
    assert gemm.gemm_signature(torch.float32)["c_ptr"] == "*fp32"
    for s in gemm.LADDER:
        names = set(_unwrap_triton(s.kernel).arg_names)
        assert names == set(sig) | set(s.constexprs), s.name


def _count(compiled, pattern):
    rx = re.compile(pattern)
    return sum(n for op, n in compiled.histogram().items() if rx.search(op))


def test_compile_only_shows_tensor_core_and_tma_instructions():
    k100 = gemm.compile_step("kloop", "fp16", "sm_100a")
    assert k100.ptx_target() == "sm_100a"
    assert _count(k100, r"^tcgen05\.mma") > 0 and _count(k100, r"^wgmma") == 0
    assert _count(k100, r"^cp\.async\.bulk\.tensor") == 0
    k90 = gemm.compile_step("kloop", "fp16", "sm_90a")
    assert _count(k90, r"^wgmma\.mma_async") > 0 and _count(k90, r"^tcgen05") == 0
    tma = gemm.compile_step("persistent_tma", "bf16", "sm_100a")
    assert _count(tma, r"^cp\.async\.bulk\.tensor.*shared::cta\.global") > 0
    ws = gemm.compile_step("ws", "bf16", "sm_100a")
    assert _count(ws, r"^setmaxnreg") > 0 and ws.metadata["num_warps"] > 8   # warp groups were added


def test_bench_cli_cpu_sweep(tmp_path, capsys):
    from bwkit.kit.cli import main

    rows = gemm_bench.run_cpu_sweep(dtypes=("fp16",), shapes=((32, 32, 32),), steps=["kloop", "ws"])
    assert [r["ok"] for r in rows] == [True, True]
    out = tmp_path / "g.json"
    import unittest.mock as um

    # (stubbed here, as this test is about the CLI's output and JSON: the block-scaled sweep runs for real in
    # test_scaled_gemm.py's test_compile_nvfp4_after_..., in this same process; bwkit.setup() keeps the
    # interpreter's language patches from leaking into the compile-only tests that run after it)
    with um.patch.object(gemm_bench, "run_cpu_sweep", lambda: rows), \
            um.patch.object(gemm_bench, "run_cpu_scaled_sweep", lambda: []):
        rc = main(["bench", "gemm", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "no CUDA GPU" in text and "✅ kloop" in text
    assert json.loads(out.read_text())["cpu_correctness"][0]["step"] == "kloop"


def test_fresh_and_launch_run_a_learner_kernel_on_a_poisoned_output():
    a, b = gemm.fresh(37, 53, 45, generator=torch.Generator().manual_seed(0))
    assert a.shape == (37, 45) and b.shape == (45, 53) and a.dtype == torch.float16 and a.device.type == "cpu"
    a2, _ = gemm.fresh(37, 53, 45, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, a2)                                    # a seeded generator reproduces them
    c, report = gemm.launch_report(gemm.matmul_kernel_kloop, a, b, (2, 2), BLOCK_M=32, BLOCK_N=32, BLOCK_K=16)
    atol, rtol = gemm.gemm_tolerance("fp16", 45)
    assert torch.allclose(c.double(), gemm.reference_matmul(a, b), atol=atol, rtol=rtol)
    assert report.checked and report.describe_unwritten("c_ptr") is None
    half = gemm.launch(gemm.matmul_kernel_kloop, a, b, (1, 2), BLOCK_M=32, BLOCK_N=32, BLOCK_K=16)
    assert torch.isnan(half[32:].float()).all() and not torch.isnan(half[:32].float()).any()   # poisoned rows
    with pytest.raises(ValueError, match=r"launch\(matmul_kernel_kloop\): shape mismatch.*must equal b.shape\[0\]"):
        gemm.launch(gemm.matmul_kernel_kloop, a, a, (1, 1), BLOCK_M=32, BLOCK_N=32, BLOCK_K=16)
    with pytest.raises(ValueError, match="a must be 2-D"):
        gemm.launch(gemm.matmul_kernel_kloop, a[0], b, (1, 1), BLOCK_M=32, BLOCK_N=32, BLOCK_K=16)


def test_launch_checks_its_operands_as_the_wrappers_do():
    """`launch_report` runs the wrappers' `_check_operands`: besides 2-D and K, the dtype, a unit stride, one
    device (the CPU in the interpreter) and the out dtype; C comes back NaN-poisoned where no program stored."""
    from bwkit.gemm import kernels

    a, b = gemm.fresh(32, 32, 32, generator=torch.Generator().manual_seed(0))
    run = lambda x, y, **kw: gemm.launch(gemm.matmul_kernel_kloop, x, y, (1, 1), BLOCK_M=32, BLOCK_N=32,  # noqa: E731
                                         BLOCK_K=16, **kw)
    with pytest.raises(TypeError, match="a must be a torch.Tensor"):
        run(a.tolist(), b)
    with pytest.raises(TypeError, match="a has dtype torch.float64"):
        run(a.double(), b.double())
    with pytest.raises(TypeError, match="same dtype"):
        run(a, b.float())
    with pytest.raises(ValueError, match="no unit stride"):
        run(a[:, ::2], b[::2])
    with pytest.raises(ValueError, match="empty operand"):
        run(a[:0], b)
    with pytest.raises(TypeError, match="out_dtype must be"):
        run(a, b, out_dtype=torch.int32)
    with pytest.raises(ValueError, match="the Triton interpreter runs on CPU tensors"):
        run(a.to("meta"), b.to("meta"))
    def message(fn, *ops):
        with pytest.raises((TypeError, ValueError)) as e:
            fn(*ops)
        return str(e.value)

    check = lambda x, y: kernels._check_operands(x, y, "launch(matmul_kernel_kloop)", torch.float16, None)  # noqa: E731
    for bad in ((a[0], b), (a, a[:16]), (a.double(), b.double()), (a[:, ::2], b[::2])):
        assert message(run, *bad) == message(check, *bad)                # the wrappers' messages, word for word
    c = run(a, b.t().contiguous().t())                                    # B as the transpose of a contiguous one
    assert not torch.isnan(c.float()).any()
    wide = torch.zeros(32, 48, dtype=torch.float16)
    c = run(a, b, out=wide[:, :32])                                       # C: 32 columns of a wider buffer
    assert c.data_ptr() == wide.data_ptr() and c.stride() == (48, 1)
    assert torch.allclose(c.double(), gemm.reference_matmul(a, b), atol=1e-2, rtol=1e-2)
    assert not wide[:, 32:].any()                                         # the padding is neither poisoned nor stored
    with pytest.raises(ValueError, match="unit column stride"):
        run(a, b, out=wide[:, :32].t())


def test_tile_order_and_wave_reuse():
    assert gemm.tile_order(2, 3) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert gemm.tile_order(3, 2, 2) == [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (2, 1)]
    assert gemm.tile_order(7, 5, 3) == [gemm.grouped_pid(t, 7, 5, 3) for t in range(35)]
    row, grp = gemm_bench.wave_reuse(64, 64, 132), gemm_bench.wave_reuse(64, 64, 132, 8)
    assert (len(row["a_strips"]), len(row["b_strips"])) == (3, 64) and row["loads"] == 67
    assert (len(grp["a_strips"]), len(grp["b_strips"])) == (8, 17) and grp["uses"] == 264
    with pytest.raises(ValueError, match="GROUP_M"):
        gemm.tile_order(4, 4, 0)


def test_ladder_model_and_charts():
    from bwkit import efficiency

    rows = {r["step"]: r for r in gemm_bench.ladder_model("B200")}
    assert list(rows) == list(gemm_bench.STEP_ADDS) and rows["naive"]["tflops"] is None
    assert all(r["kind"] == "model" for r in rows.values())
    p = efficiency.predict(8192, 8192, 8192, efficiency.Tile(128, 256, 64), "B200", "bf16")
    assert rows["ws"]["pct_of_peak"] == pytest.approx(p.pct_of_peak)          # warp specialization overlaps
    assert rows["ws"]["tflops"] > rows["persistent_tma"]["tflops"] > rows["kloop"]["tflops"]
    h200 = {r["step"]: r for r in gemm_bench.ladder_model("H200")}
    assert h200["ws"]["tflops"] == pytest.approx(h200["persistent_tma"]["tflops"])   # no WS on Hopper here
    assert all(r["kind"] in ("measured", "published") and r["source"] for r in gemm_bench.REFERENCE_POINTS)
    fig = gemm_bench.plot_ladder()
    assert len(fig.axes) == 2 and "H200" in fig.axes[0].get_title() and "B200" in fig.axes[1].get_title()
    gpu_rows = [{"name": n, "M": 8192, "tflops": t, "x_cublas": t / 700, "device": "a GPU", "dtype": "bf16"}
                for n, t in (("cublas", 700), ("grouped", 500), ("ws", 650))]
    fig = gemm_bench.plot_ladder(gpu_rows)
    assert "measured on a GPU" in fig.axes[0].get_title()
    fig = gemm_bench.plot_launch_order(8, 8, GROUP_M=4, wave=16)
    assert "2 A + 8 B" in fig.axes[0].get_title() and "4 A + 4 B" in fig.axes[1].get_title()
    import matplotlib.pyplot as plt

    plt.close("all")


def test_launch_configs_one_plan_per_step_dtype_and_target():
    import triton

    bf16 = gemm.launch_configs("autotuned", "bf16", "sm_90a")
    fp32 = gemm.launch_configs("autotuned", "fp32", "sm_90a")
    assert all(isinstance(c, triton.Config) for c in bf16 + fp32) and len(bf16) >= 3
    assert {"BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"} == set(bf16[0].kwargs)
    # fp32 operands take 4 bytes: shorter K slices or fewer stages than the 16-bit plan
    stage_bytes = lambda c, e: c.num_stages * (c.kwargs["BLOCK_M"] + c.kwargs["BLOCK_N"]) * c.kwargs["BLOCK_K"] * e  # noqa: E731
    assert max(stage_bytes(c, 4) for c in fp32) <= 232_448 < max(stage_bytes(c, 4) for c in bf16)
    assert gemm.autotune_configs("ws", "fp32", "sm_90a") == gemm.launch_configs("ws", "fp32", "sm_90a")
    assert gemm.launch_configs("ws", torch.float16, (10, 3)) == gemm.launch_configs("ws", "fp16", "sm_100a")  # B300
    assert gemm.launch_configs("kloop", "bf16", "sm_120a") == gemm.launch_configs("kloop", "bf16", "sm_120")
    assert "BLOCK_K" not in gemm.launch_configs("naive", "fp16", "sm_100a")[0].kwargs     # naive: BLOCK_K = K
    assert gemm.plan_target((9, 0)) == "sm_90a" and gemm.plan_target((12, 1)) == "sm_120"
    with pytest.raises(ValueError, match="no kernel plan for 'sm_80'"):
        gemm.launch_configs("ws", "bf16", "sm_80")
    with pytest.raises(ValueError, match=r"no kernel plan for \(8, 9\)"):
        gemm.plan_target((8, 9))
    with pytest.raises(ValueError, match="unknown dtype"):
        gemm.launch_configs("ws", "fp4", "sm_100a")
    with pytest.raises(ValueError, match="unknown ladder step"):
        gemm.launch_configs("fastest", "bf16", "sm_100a")
    rows = gemm.plan_table()
    assert len(rows) == 6 * 4 * 3 and rows[0]["configs"] == ["64x64xK s1 w4"]           # naive, fp32, sm_90a
    assert {"step": "ws", "dtype": "fp32", "target": "sm_90a"}.items() <= next(
        r for r in rows if r["step"] == "ws" and r["dtype"] == "fp32" and r["target"] == "sm_90a").items()


def test_the_autotune_key_covers_every_constexpr_that_changes_the_kernel():
    from bwkit.gemm import kernels

    for step in ("autotuned", "persistent_tma", "ws"):
        jit = _unwrap_triton(gemm.ladder_step(step).kernel)
        constexprs = {p.name for p in jit.params if p.is_constexpr}
        tuned = set(gemm.launch_configs(step, "bf16", "sm_100a")[0].kwargs)
        key = set(kernels._KEY + kernels._KEY_EXTRA[step])
        assert constexprs - tuned <= key, (step, constexprs - tuned - key)
        assert {"M", "N", "K", "stride_bk", "stride_bn"} <= key       # sizes and the B layout (unit strides)
    assert {"B_KMAJOR", "WARP_SPECIALIZE", "C_TMA", "NUM_SMS"} <= set(kernels._KEY_EXTRA["ws"])


def test_fixed_steps_take_the_plan_on_a_gpu_and_small_blocks_on_the_cpu(monkeypatch):
    from bwkit.gemm import kernels

    a = torch.empty(4, 4, dtype=torch.bfloat16)
    cpu = {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32, "num_warps": 4, "num_stages": 3}
    none = {"BLOCK_M": None, "BLOCK_N": None, "BLOCK_K": None}
    assert kernels._fixed_config("grouped", a, none, cpu) == (32, 32, 32, {"num_warps": 4, "num_stages": 3})
    monkeypatch.setattr(kernels.runtime, "interpreter_active", lambda: False)
    monkeypatch.setattr(kernels, "_device_target", lambda t: "sm_90a")
    c = gemm.launch_configs("grouped", "bf16", "sm_90a")[0]
    got = kernels._fixed_config("grouped", a, none, cpu)
    assert got == (c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.kwargs["BLOCK_K"],
                   {"num_warps": c.num_warps, "num_stages": c.num_stages})
    assert kernels._fixed_config("grouped", a, {**none, "BLOCK_K": 16}, cpu)[2] == 16        # given blocks win
    fp32 = gemm.launch_configs("kloop", "fp32", "sm_90a")[0]
    assert kernels._fixed_config("kloop", a.float(), none, cpu)[2] == fp32.kwargs["BLOCK_K"]


def test_compile_step_is_the_kernel_a_launch_compiles():
    k = gemm.compile_step("grouped", "bf16", "sm_90a")
    cfg = gemm.launch_configs("grouped", "bf16", "sm_90a")[0]
    assert k.metadata["shape"] == (8192, 8192, 8192) and k.metadata["b_layout"] == "kn"
    sig = k.metadata["signature"]
    assert sig["a_ptr"] == "*bf16/D" and sig["K"] == "i32/D" and sig["stride_am"] == "i32/D"
    assert "stride_ak" not in sig and "stride_bn" not in sig              # unit strides: constexprs, as in the JIT
    assert _count(k, r"^cp\.async\.(ca|cg)") > 0                           # pipelined: aligned 16-byte copies
    bk, bm, bn = cfg.kwargs["BLOCK_K"], cfg.kwargs["BLOCK_M"], cfg.kwargs["BLOCK_N"]
    assert k.metadata["shared"] == cfg.num_stages * (bm + bn) * bk * 2     # one A and one B slice per stage
    seed = gemm.compile_step("ws", "bf16", "sm_100a", shape=(16384, 17290, 16384))
    assert seed.metadata["signature"]["N"] == "i32" and seed.metadata["config"]["C_TMA"] is False
    assert seed.metadata["config"]["B_KMAJOR"] is True
    assert _count(seed, r"^cp\.async\.bulk\.tensor.*global\.shared") == 0          # no TMA store: C's rows unaligned
    with pytest.raises(ValueError, match="config index 9"):
        gemm.compile_step("ws", "bf16", "sm_100a", config=9)
    with pytest.raises(ValueError, match="power of two in"):
        gemm.compile_step("naive", "fp16", "sm_100a", shape=(64, 64, 512))
    with pytest.raises(ValueError, match="no kernel plan"):
        gemm.compile_step("kloop", "fp16", "sm_80")


def test_launch_specialization_follows_the_jit():
    import triton
    import triton.language as tl

    @triton.jit(do_not_specialize=["n_skip"])
    def kern(x_ptr, n, n_one, n_odd, n_skip, f, BLOCK: tl.constexpr):
        tl.store(x_ptr + tl.arange(0, BLOCK), tl.zeros((BLOCK,), tl.float32) + n + n_one + n_odd + n_skip + f)

    sig, consts, attrs = gemm.launch_specialization(
        kern, {"x_ptr": torch.float32, "n": 4096, "n_one": 1, "n_odd": 17, "n_skip": 32, "f": 0.5, "BLOCK": 16})
    assert sig == {"x_ptr": "*fp32", "n": "i32", "n_one": "constexpr", "n_odd": "i32", "n_skip": "i32", "f": "fp32",
                   "BLOCK": "constexpr"}
    assert consts == {"n_one": 1, "BLOCK": 16}
    assert set(attrs) == {(0,), (1,)} and attrs[(1,)] == [["tt.divisibility", 16]]   # n_skip: not specialized
    with pytest.raises(ValueError, match="missing argument"):
        gemm.launch_specialization(kern, {"x_ptr": torch.float32})
    k = gemm.compile_launch(kern, {"x_ptr": torch.float32, "n": 4096, "n_one": 1, "n_odd": 17, "n_skip": 32,
                                   "f": 0.5, "BLOCK": 16}, "sm_90a")
    assert k.ptx_target() == "sm_90a" and k.metadata["signature"]["n"] == "i32/D"


def test_the_plan_reads_its_constants_from_their_homes():
    from bwkit import hw
    from bwkit.gemm import kernels, plan
    from bwkit.pipeline import SMEM_BYTES_PER_SM

    assert plan.SMEM_LIMIT == {"sm_90a": SMEM_BYTES_PER_SM, "sm_100a": SMEM_BYTES_PER_SM, "sm_120": 101_376}
    assert SMEM_BYTES_PER_SM == 232_448
    assert plan._SMS == {"sm_90a": hw.SPECS["H200"].sms, "sm_100a": hw.SPECS["B200"].sms,
                         "sm_120": hw.SPECS["RTX 5090"].sms} == {"sm_90a": 132, "sm_100a": 148, "sm_120": 170}
    assert plan.default_constexprs("ws", "sm_100a")["NUM_SMS"] == 148
    assert plan._DTYPES == tuple(kernels.DTYPES) == ("fp32", "fp16", "bf16", "fp8")
    assert [plan._dtype_name(d) for d in kernels.DTYPES.values()] == list(kernels.DTYPES)
    assert plan._dtype_name("bf16") == "bf16"
    with pytest.raises(ValueError, match="unsupported dtype torch.float64; choose one of fp32, fp16, bf16, fp8"):
        plan._dtype_name(torch.float64)


def test_compile_launch_is_compile_triton_with_the_launch_attrs():
    """compile_launch = launch_specialization + bwkit.inspect.compile_triton(attrs=...): the same PTX and cubin."""
    from bwkit import inspect as bwi
    from bwkit.gemm import plan

    args = {**plan.step_args("kloop", "fp16", (512, 512, 512)), "BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32}
    k = plan.compile_launch(gemm.matmul_kernel_kloop, args, "sm_90a", 4, 3)
    sig, consts, attrs = plan.launch_specialization(gemm.matmul_kernel_kloop, args)
    assert attrs and consts["stride_ak"] == 1                      # unit strides are constexprs, as in the JIT
    direct = bwi.compile_triton(gemm.matmul_kernel_kloop, {n: t for n, t in sig.items() if t != "constexpr"}, consts,
                                "sm_90a", 4, 3, attrs=attrs)
    assert direct.ptx == k.ptx and direct.cubin == k.cubin
    assert k.metadata["signature"]["a_ptr"] == "*fp16/D" and k.metadata["constexprs"]["BLOCK_K"] == 32
    plain = bwi.compile_triton(gemm.matmul_kernel_kloop, {n: t for n, t in sig.items() if t != "constexpr"}, consts,
                               "sm_90a", 4, 3)
    assert plain.ptx != k.ptx                                      # without the divisibility attrs: another kernel
