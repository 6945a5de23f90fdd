"""bwkit.cute_gemm: the kit's CuTe DSL GEMMs compile for sm_100a on a CPU and contain the Blackwell instructions.

Running the kernels needs a B200 (benchmarks/gpu_check_cute.py); here we check compilation, the PTX/SASS, the
scale-factor layout the NVFP4 kernel reads, and the input validation.
"""

import re

import pytest
import torch

from bwkit import cute_gemm as cg
from bwkit import formats as F
from bwkit import layouts as L


@pytest.fixture(scope="module")
def dense():
    return cg.compile_gemm(1024, 1024, 512)


@pytest.fixture(scope="module")
def dense_small_tile():
    return cg.compile_gemm(256, 256, 128, dtype="fp16", config=cg.GemmConfig(TILE_N=128, STAGES=3, EPI_N=16))


@pytest.fixture(scope="module")
def nvfp4():
    return cg.compile_gemm_nvfp4(512, 512, 512)


def _count(rx: str, ptx: str) -> int:
    return len(re.findall(rx, ptx))


def test_dense_ptx_has_blackwell_instructions(dense):
    assert dense.ptx_target() == "sm_100a"
    for what, rx in cg.EXPECTED_PTX.items():
        assert _count(rx, dense.ptx) > 0, f"missing {what}"
    assert "wgmma" not in dense.ptx and "mxf4" not in dense.ptx
    # the TMA copies are 2-D tile loads completing on an mbarrier (transaction count)
    assert _count(r"cp\.async\.bulk\.tensor\.2d\.shared::cta\.global\.tile\.mbarrier::complete_tx", dense.ptx) > 0
    # one tcgen05.ld of 32 lanes x 32 columns per epilogue chunk (EPI_N = 32)
    assert _count(r"tcgen05\.ld\.sync\.aligned\.32x32b\.x32\.b32", dense.ptx) > 0
    assert _count(r"cvt\.rn\.bf16x2\.f32", dense.ptx) > 0


def test_dense_sass(dense):
    sass = dense.histogram("sass", depth=1)
    assert sass["UTCHMMA"] > 0 and sass["UTMALDG"] > 0 and sass["LDTM"] > 0


def test_dense_config_changes_the_code(dense_small_tile):
    ptx = dense_small_tile.ptx
    assert _count(r"tcgen05\.mma\.cta_group::1\.kind::f16", ptx) > 0
    assert _count(r"tcgen05\.ld\.sync\.aligned\.32x32b\.x16\.b32", ptx) > 0     # EPI_N = 16
    assert _count(r"cvt\.rn\.f16x2\.f32", ptx) > 0 and "bf16" not in ptx          # fp16 output


def test_nvfp4_ptx_has_block_scaled_mma(nvfp4):
    assert nvfp4.ptx_target() == "sm_100a"
    for what, rx in cg.EXPECTED_PTX_NVFP4.items():
        assert _count(rx, nvfp4.ptx) > 0, f"missing {what}"
    assert "kind::f16" not in nvfp4.ptx
    assert nvfp4.histogram("sass", depth=1)["UTCCP"] > 0


def test_nvfp4_scale_layout_matches_bwkit_formats():
    """The layout the kernel reads scales with == bwkit.formats.to_blocked_scales, on every (row, K) coordinate."""
    import cutlass.utils.blockscaled_layout as bsl

    M, K = 256, 512                        # 2 row tiles of 128, K/16 = 32 scales = 8 K-atoms of 4
    lay = L.run_cute(lambda: bsl.tile_atom_to_shape_SF((M, K, 1), cg.SF_VEC))
    sf = torch.arange(M * (K // 16), dtype=torch.int32).reshape(M, K // 16)  # scale (m, kb) holds its own id
    blocked = F.to_blocked_scales(sf)
    for m in range(M):
        for k in range(0, K, 8):
            assert int(blocked[lay((m, k, 0))]) == m * (K // 16) + k // 16, (m, k)


def test_smem_bytes_by_hand():
    assert cg.smem_bytes(cg.GemmConfig()) == 4 * (128 + 256) * 64 * 2 == 196608
    assert cg.smem_bytes(cg.GemmConfig(TILE_N=128, STAGES=6)) == 6 * 256 * 64 * 2


@pytest.mark.parametrize("mnk, rule", [
    ((100, 256, 64), "M=100 is not a multiple of TILE_M=128"),
    ((128, 200, 64), "N=200 is not a multiple of TILE_N=256"),
    ((128, 256, 96), "K=96 is not a multiple of TILE_K=64"),
    ((0, 256, 64), "M must be a positive int"),
])
def test_dense_bad_shapes(mnk, rule):
    with pytest.raises(ValueError, match=re.escape(rule)):
        cg.compile_gemm(*mnk)


def test_bad_configs_and_dtypes():
    with pytest.raises(ValueError, match="TILE_M must be 128"):
        cg.GemmConfig(TILE_M=64)
    with pytest.raises(ValueError, match="TILE_N must be one of"):
        cg.GemmConfig(TILE_N=96)
    with pytest.raises(ValueError, match="TILE_K"):
        cg.GemmConfig(TILE_K=32)
    with pytest.raises(ValueError, match="EPI_N"):
        cg.GemmConfig(TILE_N=64, EPI_N=128)
    with pytest.raises(ValueError, match="227 KiB"):
        cg.check_gemm_shapes(128, 256, 64, cg.GemmConfig(STAGES=8))
    from bwkit.pipeline import SMEM_BYTES_PER_SM

    cg.check_gemm_shapes(128, 256, 64, cg.GemmConfig(STAGES=4))              # 4 x 384 x 64 x 2 B fits 227 KiB
    assert cg.smem_bytes(cg.GemmConfig(STAGES=4)) <= SMEM_BYTES_PER_SM < cg.smem_bytes(cg.GemmConfig(STAGES=5))
    with pytest.raises(ValueError, match="dtype must be one of"):
        cg.compile_gemm(128, 256, 64, dtype="fp8")
    with pytest.raises(ValueError, match="K % 256 == 0"):
        cg.compile_gemm_nvfp4(128, 128, 128)
    with pytest.raises(ValueError, match="TILE_N must be 128 or 256"):
        cg.check_nvfp4_shapes(128, 128, 256, TILE_N=64)


def test_wrappers_check_before_launch():
    a = torch.zeros(128, 64, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="N=128 is not a multiple of TILE_N=256"):
        cg.gemm_tcgen05(a, torch.zeros(128, 64, dtype=torch.bfloat16))
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        cg.gemm_tcgen05(torch.zeros(128, 64, dtype=torch.bfloat16), torch.zeros(256, 64, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="bf16 or fp16"):
        cg.gemm_tcgen05(torch.zeros(128, 64), torch.zeros(256, 64))
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        cg.gemm_nvfp4(torch.zeros(128, 128, dtype=torch.uint8), torch.zeros(128, 128, dtype=torch.uint8),
                      torch.zeros(128 * 16, dtype=torch.uint8), torch.zeros(128 * 16, dtype=torch.uint8),
                      128, 128, 256)


def test_nvfp4_operands_from_bwkit_formats_pass_validation():
    """bwkit.formats' packed codes and blocked scales have exactly the shapes gemm_nvfp4 wants (then: no GPU)."""
    M, N, K = 128, 256, 512
    qa, qb = F.quantize(torch.randn(M, K), "nvfp4"), F.quantize(torch.randn(N, K), "nvfp4")
    args = [F.pack_fp4(qa.codes), F.pack_fp4(qb.codes), F.to_blocked_scales(qa.scales), F.to_blocked_scales(qb.scales)]
    with pytest.raises(ValueError, match="a_fp4 is on cpu"):
        cg.gemm_nvfp4(*args, M, N, K)
    with pytest.raises(ValueError, match="sfa must be a uint8 tensor of 128"):
        cg.gemm_nvfp4(args[0], args[1], args[2][:-1], args[3], M, N, K)
    with pytest.raises(ValueError, match=r"a_fp4 has shape \(128, 512\), expected \(128, 256\)"):
        cg.gemm_nvfp4(qa.codes, args[1], args[2], args[3], M, N, K)
    fp8 = [t.view(torch.float8_e4m3fn) for t in args[2:]]                  # float8_e4m3fn scales: the same bytes
    cg.check_nvfp4_operands(*args[:2], *fp8, M, N, K)
    with pytest.raises(ValueError, match="a_fp4 is on cpu"):
        cg.gemm_nvfp4(*args[:2], *fp8, M, N, K)
    with pytest.raises(ValueError, match="sfb must be contiguous"):
        cg.check_nvfp4_operands(*args[:3], torch.zeros(2 * args[3].numel(), dtype=torch.uint8)[::2], M, N, K)
