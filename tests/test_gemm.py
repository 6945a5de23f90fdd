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
