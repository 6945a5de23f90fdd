import pytest
import torch
import triton
import triton.language as tl

from bwkit import inspect as bwi


@triton.jit
def tile_dot_kernel(a_ptr, b_ptr, c_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    a = tl.load(a_ptr + offs[:, None] * BLOCK + offs[None, :])
    b = tl.load(b_ptr + offs[:, None] * BLOCK + offs[None, :])
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
    acc += tl.dot(a, b)
    tl.store(c_ptr + offs[:, None] * BLOCK + offs[None, :], acc)


SIG = {"a_ptr": "*fp16", "b_ptr": "*fp16", "c_ptr": "*fp32"}


@pytest.fixture(scope="module")
def compiled():
    return {t: bwi.compile_triton(tile_dot_kernel, SIG, {"BLOCK": 128}, target=t)
            for t in ("sm_80", "sm_90a", "sm_100a", "sm_120")}


def test_targets_and_generations(compiled):
    assert compiled["sm_80"].ptx_target() == "sm_80"
    assert compiled["sm_90a"].ptx_target() == "sm_90a"
    assert compiled["sm_100a"].ptx_target() == "sm_100a"
    assert compiled["sm_120"].ptx_target() == "sm_120a"


def test_blackwell_uses_tcgen05(compiled):
    h = compiled["sm_100a"].histogram()
    assert any(op.startswith("tcgen05.mma") for op in h), sorted(h)
    assert any(op.startswith("tcgen05.alloc") for op in h)
    assert not any("wgmma" in op for op in h)
    sass = compiled["sm_100a"].histogram("sass", depth=1)
    assert sass["UTCHMMA"] > 0


def test_hopper_uses_wgmma_and_ampere_mma_sync(compiled):
    assert any(op.startswith("wgmma.mma_async") for op in compiled["sm_90a"].histogram())
    assert any(op.startswith("mma.sync") for op in compiled["sm_80"].histogram())
    # consumer Blackwell has no tcgen05: it falls back to warp-level mma.sync
    h120 = compiled["sm_120"].histogram()
    assert any(op.startswith("mma.sync") for op in h120) and not any("tcgen05" in op for op in h120)
    assert compiled["sm_90a"].histogram("sass", depth=1)["HGMMA"] > 0


def test_compare_and_grep(compiled):
    table = bwi.compare_histograms({t: c.histogram() for t, c in compiled.items()},
                                   {"tcgen05.mma": r"^tcgen05\.mma", "wgmma": r"^wgmma\.mma_async"})
    assert table["tcgen05.mma"]["sm_100a"] > 0 and table["tcgen05.mma"]["sm_90a"] == 0
    assert table["wgmma"]["sm_90a"] > 0 and table["wgmma"]["sm_100a"] == 0
    assert bwi.grep(compiled["sm_100a"].ptx, r"tcgen05\.alloc")


def test_kernel_still_runs_after_compiling(compiled):
    """Compiling under the interpreter must not break running kernels afterwards."""
    a = torch.randn(128, 128).half()
    b = torch.randn(128, 128).half()
    c = torch.empty(128, 128, device="cuda" if torch.cuda.is_available() else "cpu")
    if c.is_cuda:
        a, b = a.cuda(), b.cuda()
    tile_dot_kernel[(1,)](a, b, c, BLOCK=128)
    torch.testing.assert_close(c.cpu(), (a.float() @ b.float()).cpu(), atol=1e-2, rtol=1e-2)


def test_bad_target_lists_supported():
    with pytest.raises(ValueError, match="sm_80, sm_90a, sm_100a, sm_120"):
        bwi.compile_triton(tile_dot_kernel, SIG, {"BLOCK": 16}, target="sm_89")


def test_bad_signature():
    with pytest.raises(ValueError, match="no argument"):
        bwi.compile_triton(tile_dot_kernel, {**SIG, "x_ptr": "*fp32"}, {"BLOCK": 16})
    with pytest.raises(ValueError, match="BLOCK"):
        bwi.compile_triton(tile_dot_kernel, SIG, {})
    with pytest.raises(TypeError):
        bwi.compile_triton(lambda x: x, SIG)


def test_histogram_parsing():
    ptx = """
    .version 8.7
    .target sm_100a
    // comment
    $L__BB0_1:
    @%p1 tcgen05.mma.cta_group::1.kind::f16 [%r1], %rd2, %rd3, %r4, p;
    ld.global.v4.b32 {%r1, %r2, %r3, %r4}, [%rd1];
    ld.global.v4.b32 {%r1, %r2, %r3, %r4}, [%rd1+16];
    ret;
    """
    h = bwi.histogram(ptx)
    assert h == {"tcgen05.mma.cta_group::1.kind::f16": 1, "ld.global.v4.b32": 2, "ret": 1}
    assert bwi.histogram(ptx, depth=1) == {"tcgen05": 1, "ld": 2, "ret": 1}
    sass = "        /*0010*/                   UTCHMMA gdesc[UR4], gdesc[UR6], tmem[UR8] ;  /* 0x0 */\n" \
           "        /*0020*/              @P0  HMMA.16816.F32 R4, R8, R12, R4 ;  /* 0x0 */"
    assert bwi.histogram(sass, "sass") == {"UTCHMMA": 1, "HMMA.16816.F32": 1}
    with pytest.raises(ValueError, match="kind"):
        bwi.histogram(ptx, kind="sas")


def test_tools_ship_with_triton():
    assert bwi.find_tool("nvdisasm").exists() and bwi.find_tool("cuobjdump").exists()
    with pytest.raises(ValueError, match="known"):
        bwi.find_tool("nvcc")
    with pytest.raises(ValueError):
        bwi.disassemble(b"")


def test_compile_cute_target_check():
    with pytest.raises(ValueError, match="sm_100a"):
        bwi.compile_cute(lambda: None, target="sm_90a")


def test_resource_usage_reads_the_cubin(compiled):
    k = compiled["sm_100a"]
    res = bwi.resource_usage(k)
    assert set(res) == {"REG", "STACK", "SHARED", "LOCAL"} and 0 < res["REG"] <= 255 and res["LOCAL"] == 0
    assert bwi.resource_usage(k.cubin) == res                     # the cubin bytes give the same
    assert k._resources == res                                     # cached on the Compiled (no second cuobjdump)
    res["REG"] = -1
    assert bwi.resource_usage(k)["REG"] > 0                        # a copy: the cache is not the caller's dict
    with pytest.raises(ValueError, match="resource_usage needs the cubin as non-empty bytes"):
        bwi.resource_usage(b"")


def test_resource_usage_takes_the_largest_kernel_and_needs_a_register_count(monkeypatch):
    two = """Resource usage:
 Common:
  GLOBAL:0
 Function small:
  REG:40 STACK:0 SHARED:1024 LOCAL:0 CONSTANT[0]:900 TEXTURE:0 SURFACE:0 SAMPLER:0
 Function big:
  REG:128 STACK:16 SHARED:0 LOCAL:8 CONSTANT[0]:900 TEXTURE:0 SURFACE:0 SAMPLER:0
"""
    monkeypatch.setattr(bwi, "_cuobjdump", lambda cubin, flag, what: two)
    assert bwi.resource_usage(b"x") == {"REG": 128, "STACK": 16, "SHARED": 1024, "LOCAL": 8}
    monkeypatch.setattr(bwi, "_cuobjdump", lambda cubin, flag, what: "Resource usage:\n Common:\n  GLOBAL:0\n")
    with pytest.raises(RuntimeError, match="no register count"):
        bwi.resource_usage(b"x")


def test_count_matching_is_what_compare_histograms_counts(compiled):
    h = compiled["sm_100a"].histogram()
    n = bwi.count_matching(h, r"^tcgen05\.mma")
    assert n == sum(v for op, v in h.items() if op.startswith("tcgen05.mma")) > 0
    assert bwi.compare_histograms({"k": h}, {"mma": r"^tcgen05\.mma"}) == {"mma": {"k": n}}
    assert bwi.count_matching(h, r"^wgmma") == 0


def test_compile_triton_takes_attrs():
    """attrs (tt.divisibility, as a launch specializes) reach the compiler: aligned pointers vectorize the loads."""
    sig = {"a_ptr": "*fp16", "b_ptr": "*fp16", "c_ptr": "*fp32"}
    plain = bwi.compile_triton(tile_dot_kernel, sig, {"BLOCK": 64}, target="sm_90a")
    div = bwi.compile_triton(tile_dot_kernel, sig, {"BLOCK": 64}, target="sm_90a",
                             attrs={(i,): [["tt.divisibility", 16]] for i in range(3)})
    assert div.ptx != plain.ptx and set(div.metadata) == set(plain.metadata) == {"num_warps", "num_stages",
                                                                                 "shared", "name"}
