"""bwkit.kit.interp: memory-safe interpreter launches (checked before memory is touched, restored after)."""

import pytest
import torch
import triton
import triton.language as tl

from bwkit import gemm
from bwkit.kit import interp, runtime

pytestmark = pytest.mark.skipif(not runtime.interpreter_active(), reason="the checks run in the Triton interpreter")


@triton.jit
def _kloop_variant(a_ptr, b_ptr, c_ptr, M, N, K, stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                   STORE_MASK: tl.constexpr, K_MASK: tl.constexpr, HALF_N: tl.constexpr, SWAP_C: tl.constexpr):
    """Lab 03's K loop with switches for the classic mistakes (store mask, K-tail mask, half of C, C transposed)."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k0 in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        kk = k0 * BLOCK_K + offs_k
        if K_MASK:
            a_mask = (offs_m[:, None] < M) & (kk[None, :] < K)
            b_mask = (kk[:, None] < K) & (offs_n[None, :] < N)
        else:
            a_mask = offs_m[:, None] < M
            b_mask = offs_n[None, :] < N
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak, mask=a_mask, other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn, mask=b_mask, other=0.0)
        acc = tl.dot(a, b, acc)
    if SWAP_C:
        c_ptrs = c_ptr + offs_m[:, None] * stride_cn + offs_n[None, :] * stride_cm
    else:
        c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    n_limit = N // 2 if HALF_N else N
    if STORE_MASK:
        tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=(offs_m[:, None] < M) & (offs_n[None, :] < n_limit))
    else:
        tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty))


@triton.jit
def _stub(x_ptr, BLOCK: tl.constexpr):
    raise NotImplementedError("Exercise 99.1: write your code here")


@triton.jit
def _bf16_dot(a_ptr, c_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    a = tl.load(a_ptr + offs[:, None] * BLOCK + offs[None, :])
    tl.store(c_ptr + offs[:, None] * BLOCK + offs[None, :], tl.dot(a, a))


def _launch(M=37, N=53, K=45, *, block=(32, 32, 16), out=None, **switches):
    flags = {"STORE_MASK": True, "K_MASK": True, "HALF_N": False, "SWAP_C": False, **switches}
    g = torch.Generator().manual_seed(0)
    a, b = gemm.random_operands(M, N, K, "fp16", generator=g)
    c = torch.full((M, N), float("nan"), dtype=torch.float16) if out is None else out
    bm, bn, bk = block
    grid = (triton.cdiv(M, bm), triton.cdiv(N, bn))
    args = (a, b, c, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1))
    return a, b, c, grid, args, {"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, **flags}


def _builder_is_clean() -> bool:
    from triton.runtime import interpreter as it

    return not any(k.startswith("create_") for k in it.interpreter_builder.__dict__)


def test_missing_store_mask_is_a_clear_error_not_a_crash():
    a, b, c, grid, args, meta = _launch(STORE_MASK=False)
    with pytest.raises(interp.OutOfBoundsAccess) as e:
        interp.safe_launch(_kloop_variant, grid, *args, **meta)
    msg, d = str(e.value), e.value.details
    assert msg.startswith("store to c_ptr out of bounds in program (0, 1): columns 53–63 of C lie outside the 37×53 "
                          "tensor — your store has no mask")
    assert d["op"] == "store" and d["arg"] == "c_ptr" and d["mask"] == "missing" and d["shape"] == [37, 53]
    assert d["first"][0] == [0, 53] and d["cols"] == [53, 63] and d["rows"] is None and d["program"][:2] == [0, 1]
    assert _builder_is_clean()


def test_rows_past_the_end_are_caught_before_they_are_written():
    """A 1-D store past the end of its tensor: nothing behind it is touched, and the error names the elements."""
    @triton.jit
    def fill(y_ptr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(y_ptr + offs, offs.to(tl.float32))

    backing = torch.zeros(96)
    y = backing[:50]
    with pytest.raises(interp.OutOfBoundsAccess, match=r"elements 50–63 of Y lie outside the 50-element tensor"):
        interp.safe_launch(fill, (2,), y, BLOCK=32)
    assert torch.equal(backing[32:], torch.zeros(64)), "the failing program must not have written anything"
    assert torch.equal(y[:32], torch.arange(32.0))


def test_missing_k_tail_mask_is_an_out_of_bounds_read_with_coordinates():
    a, b, c, grid, args, meta = _launch(K_MASK=False)
    with pytest.raises(interp.OutOfBoundsAccess) as e:
        interp.safe_launch(_kloop_variant, grid, *args, **meta)
    d = e.value.details
    assert "load from a_ptr out of bounds in program (0, 0): columns 45–47 of A lie outside the 37×45 tensor" in \
        str(e.value) and "your mask does not cover them" in str(e.value)
    assert d["op"] == "load" and d["arg"] == "a_ptr" and d["mask"] == "incomplete" and d["first"][0] == [0, 45]
    assert d["out_axes"] == [1] and d["count"] == 32 * 3


def test_a_correct_kernel_gives_the_unchecked_result():
    a, b, c, grid, args, meta = _launch()
    report = interp.safe_launch(_kloop_variant, grid, *args, **meta)
    checked = c.clone()
    c.fill_(float("nan"))
    _kloop_variant[grid](*args, **meta)
    assert torch.equal(checked, c) and not torch.isnan(c).any()
    assert report.checked and report.accesses == 4 * (3 * 2 + 1)
    assert report.describe_unwritten("c_ptr") is None and report.stored == {"c_ptr"}
    report.require_written("c_ptr")
    ref = gemm.reference_matmul(a, b)
    atol, rtol = gemm.gemm_tolerance("fp16", 45)
    assert torch.allclose(c.double(), ref, atol=atol, rtol=rtol)


def test_unwritten_tiles_are_reported_apart_from_bad_reads():
    a, b, c, grid, args, meta = _launch(HALF_N=True)
    report = interp.safe_launch(_kloop_variant, grid, *args, **meta)
    miss = report.unwritten("c_ptr")
    assert miss.shape == (37, 53) and miss[:, 26:].all() and not miss[:, :26].any()
    assert torch.isnan(c[:, 26:].float()).all()
    text = report.describe_unwritten("c_ptr", tile=(32, 32))
    assert text == "columns 26–52 of C (37×53) were never written (tiles (0, 0), (0, 1), (1, 0), (1, 1) of 32×32)"
    with pytest.raises(interp.UnwrittenOutput) as e:
        report.require_written("c_ptr", tile=(32, 32))
    assert e.value.details["unwritten"] == 37 * 27 and e.value.details["first"] == [0, 26]
    assert "OutOfBounds" not in type(e.value).__name__
    with pytest.raises(KeyError, match="not a tensor argument"):
        report.unwritten("d_ptr")


def test_a_transposed_store_is_named():
    a, b, c, grid, args, meta = _launch(M=32, N=64, K=16, block=(16, 32, 16), SWAP_C=True)
    with pytest.raises(interp.OutOfBoundsAccess, match="walks C transposed") as e:
        interp.safe_launch(_kloop_variant, grid, *args, **meta)
    assert e.value.details["transposed"] is True


def test_nothing_stays_patched_and_compiling_still_works():
    a, b, c, grid, args, meta = _launch(STORE_MASK=False)
    with pytest.raises(interp.OutOfBoundsAccess):
        interp.safe_launch(_kloop_variant, grid, *args, **meta)
    assert _builder_is_clean()
    k = gemm.compile_step("kloop", "fp16", "sm_90a")
    assert "wgmma.mma_async" in " ".join(k.histogram())
    a, b, c, grid, args, meta = _launch()
    interp.safe_launch(_kloop_variant, grid, *args, **meta)     # and the interpreter still runs
    assert _builder_is_clean() and not torch.isnan(c).any()


def test_the_unsolved_stub_surfaces_as_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 99.1"):
        interp.safe_launch(_stub, (1,), torch.zeros(4), BLOCK=4)
    assert _builder_is_clean()


def test_bf16_dots_are_refused_with_the_fix_on_every_learner_path():
    a = torch.randn(16, 16).to(torch.bfloat16)
    with pytest.raises(runtime.InterpreterBugError, match="11584") as e:
        interp.safe_launch(_bf16_dot, (1,), a, torch.empty(16, 16), BLOCK=16)
    assert "float16 or float32" in str(e.value) and _builder_is_clean()
    with pytest.raises(runtime.InterpreterBugError, match="float16 or float32"):
        gemm.launch(gemm.matmul_kernel_naive, a, a, (1, 1), BLOCK_M=16, BLOCK_N=16, BLOCK_K=16)
    c = torch.empty(16, 16)
    interp.safe_launch(_bf16_dot, (1,), a.half(), c, BLOCK=16)      # fp16 is the fix
    assert torch.allclose(c.double(), a.double() @ a.double(), atol=1e-2, rtol=1e-3)


def test_on_a_gpu_it_is_a_plain_launch(monkeypatch):
    calls = []

    class Fake:
        arg_names = ["x_ptr", "BLOCK"]
        __name__ = "fake"

        def __getitem__(self, grid):
            return lambda *a, **k: calls.append((grid, a, k))

    monkeypatch.setattr(runtime, "interpreter_active", lambda: False)
    report = interp.safe_launch(Fake(), (3,), "x", BLOCK=8)
    assert calls == [((3,), ("x",), {"BLOCK": 8})] and not report.checked
    with pytest.raises(TypeError, match="@triton.jit kernel"):
        interp.safe_launch(print, (1,))


def test_overhead_reports_both_launches():
    """`interp.overhead` times the same launch plain and checked (the speed itself: benchmarks/bench_interp.py)."""
    a, b, c, grid, args, meta = _launch()
    r = interp.overhead(_kloop_variant, grid, *args, repeats=1, **meta)
    assert set(r) == {"plain_s", "checked_s", "ratio"} and r["plain_s"] > 0 and r["checked_s"] > 0
    assert r["ratio"] == pytest.approx(r["checked_s"] / r["plain_s"])


def test_overhead_refuses_an_out_of_bounds_kernel_before_any_plain_launch():
    """overhead() launched plain first: a store past the end corrupted the heap and the process died (SIGSEGV)
    after the error; the checked launch now comes first, so nothing is written past the tensor."""
    a, b, c, grid, args, meta = _launch(STORE_MASK=False)
    backing = torch.full((c.numel() + 4096,), 7.0, dtype=c.dtype)
    c2 = backing[:c.numel()].view(c.shape)
    args = (a, b, c2, *args[3:])
    with pytest.raises(interp.OutOfBoundsAccess, match="store to c_ptr out of bounds"):
        interp.overhead(_kloop_variant, grid, *args, repeats=1, **meta)
    assert torch.equal(backing[c.numel():], torch.full((4096,), 7.0, dtype=c.dtype)), "written past the tensor"


@pytest.mark.parametrize("step,layout", [("naive", "kn"), ("kloop", "kn"), ("grouped", "kn"),
                                         ("persistent_tma", "kn"), ("persistent_tma", "nk"), ("ws", "nk")])
def test_the_library_kernels_pass_the_checks(step, layout):
    """No false alarms: every ladder step (pointer blocks, transposed B views, TMA descriptors) runs clean."""
    M, N, K = (64, 64, 64) if step == "naive" else (70, 48, 48)
    a, b = gemm.random_operands(M, N, K, "fp16", generator=torch.Generator().manual_seed(1), b_layout=layout)
    c = torch.full((M, N), float("nan"), dtype=torch.float16)
    with interp.memory_checks({"a_ptr": a, "b_ptr": b, "c_ptr": c}, step) as report:
        gemm.ladder_step(step).wrapper(a, b, out=c)
    assert report.accesses > 0 and report.describe_unwritten("c_ptr") is None
    # a K-major B tile read through a descriptor over w (N, K) walks b = w.t() "transposed": a note, not an error
    assert report.transposed == ({("load", "b_ptr")} if layout == "nk" and step != "naive" else set())
    atol, rtol = gemm.gemm_tolerance("fp16", K)
    assert torch.allclose(c.double(), gemm.reference_matmul(a, b), atol=atol, rtol=rtol)
    assert _builder_is_clean()


def test_block_scaled_kernels_pass_the_checks():
    from bwkit import formats as F
    from bwkit import scaled_gemm as sg

    for scheme, fn in (("mxfp4", sg.mxfp4_matmul), ("mxfp8_e4m3", sg.mxfp8_matmul), ("nvfp4", sg.nvfp4_matmul)):
        a_q, w_q = F.quantize(torch.randn(24, 128), scheme), F.quantize(torch.randn(20, 128), scheme)
        with interp.memory_checks({}, scheme) as report:       # no tensors named: nothing to attribute, no alarms
            c = fn(a_q, w_q)
        assert report.checked and torch.allclose(c, sg.emulated_matmul(a_q, w_q), rtol=1e-5, atol=1e-4)


@triton.jit
def _masked_copy(x_ptr, y_ptr, n, BLOCK: tl.constexpr, OTHER: tl.constexpr):
    """y[i] = x[i] for i < n, loaded with a mask; OTHER: pass other=0 (else the masked lanes are undefined)."""
    offs = tl.arange(0, BLOCK)
    if OTHER:
        x = tl.load(x_ptr + offs, mask=offs < n, other=0)
    else:
        x = tl.load(x_ptr + offs, mask=offs < n)
    tl.store(y_ptr + offs, x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int32])
def test_masked_load_without_other_reads_nan_in_a_checked_launch(dtype):
    """Triton leaves the masked lanes of a load without `other=` undefined; a checked launch reads NaN there (the
    plain interpreter reads 0, which passed a K loop that forgot other=0.0), other=... still wins, ints read 0."""
    x = torch.arange(1, 17, dtype=dtype)
    for other in (False, True):
        y = torch.full((16,), 7, dtype=dtype)
        interp.safe_launch(_masked_copy, (1,), x, y, 10, BLOCK=16, OTHER=other)
        assert torch.equal(y[:10], x[:10])
        if dtype.is_floating_point and not other:
            assert torch.isnan(y[10:]).all()
        else:
            assert (y[10:] == 0).all()
        plain = torch.full((16,), 7, dtype=dtype)
        _masked_copy[(1,)](x, plain, 10, BLOCK=16, OTHER=other)
        assert (plain[10:] == 0).all(), "outside a checked launch the interpreter is unchanged"


@triton.jit
def _load_cols_from(x_ptr, y_ptr, COL0, stride0, ROWS: tl.constexpr, COLS: tl.constexpr):
    """y = x[0:ROWS, COL0:COL0 + COLS] of a row-major x, no mask (COL0 past the last column wraps into next rows)."""
    r = tl.arange(0, ROWS)
    c = COL0 + tl.arange(0, COLS)
    x = tl.load(x_ptr + r[:, None] * stride0 + c[None, :])
    tl.store(y_ptr + r[:, None] * COLS + tl.arange(0, COLS)[None, :], x)


def test_a_column_past_the_end_is_also_named_as_columns():
    """x[0:4, 8:16] of a 4x8 tensor decodes from the addresses as rows 1-4 (row 4 outside): the report also gives
    the reading with the rows in range, columns 8-15 of rows 0-3, since an offs_k past K looks like the next row."""
    x, y = torch.zeros(4, 8), torch.zeros(4, 8)
    with pytest.raises(interp.OutOfBoundsAccess) as e:
        interp.safe_launch(_load_cols_from, (1,), x, y, 8, 8, ROWS=4, COLS=8)
    assert "rows 4 of X lie outside the 4×8 tensor" in str(e.value)
    assert "or columns 8–15 of rows 0–3: a column past 7 wraps into the next row" in str(e.value)
    y2 = torch.zeros(8, 8)
    with pytest.raises(interp.OutOfBoundsAccess) as e:      # rows really past the end: no other reading
        interp.safe_launch(_load_cols_from, (1,), torch.zeros(4, 8), y2, 0, 8, ROWS=8, COLS=8)
    assert "rows 4–7 of X" in str(e.value) and "wraps" not in str(e.value)
    with pytest.raises(interp.OutOfBoundsAccess) as e:      # rows 2-5 of a 4-row X (a block past the last row):
        interp.safe_launch(_load_cols_from, (1,), torch.zeros(4, 8), y, 16, 8, ROWS=4, COLS=8)
    assert "rows 4–5 of X" in str(e.value) and "wraps" not in str(e.value)   # no reading with far-off columns


def test_masked_lanes_of_bf16_and_fp16_loads_read_nan():
    """The interpreter holds bf16 as uint16: its NaN is a bit pattern, not np.nan (a plain fill read 0)."""
    for dtype in (torch.float16, torch.bfloat16):
        x, y = torch.ones(16, dtype=dtype), torch.zeros(16, dtype=dtype)
        interp.safe_launch(_masked_copy, (1,), x, y, 10, BLOCK=16, OTHER=False)
        assert (y[:10] == 1).all() and torch.isnan(y[10:]).all(), (dtype, y)


@triton.jit
def _forever(x):
    return _forever(x)


@triton.jit
def _recursing_kernel(a_ptr, b_ptr, c_ptr, M, N, K, stride_am, stride_ak, stride_bk, stride_bn, stride_cm,
                      stride_cn, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    offs = tl.arange(0, BLOCK_M)
    tl.store(c_ptr + offs, _forever(offs).to(tl.float16))


def test_a_helper_that_calls_itself_is_a_short_error_not_a_dead_kernel():
    """Triton's interpreter wraps a nested helper's error again at every call level and its text doubles each
    time: a self-calling helper filled gigabytes before the recursion limit. In a checked launch it is one line."""
    from triton.runtime import interpreter as ti

    before = ti.InterpretedFunction.__dict__["__call__"]
    a, b = gemm.fresh(16, 16, 16)
    with pytest.raises(ti.InterpreterError, match="RecursionError") as e:
        gemm.launch(_recursing_kernel, a, b, (1, 1), BLOCK_M=16, BLOCK_N=16, BLOCK_K=16)
    assert len(str(e.value)) < 500
    assert ti.InterpretedFunction.__dict__["__call__"] is before          # unpatched after the launch
