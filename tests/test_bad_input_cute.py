"""Bad input to the CuTe DSL modules (cute_gemm, cute_common, cute_ladder, cute_ladder_nvfp4, ladder_bench).

Each row is a call a learner could make that used to compile a kernel the GPU cannot run (an NVFP4 ring over
227 KiB, an NVFP4 rung whose epilogue or scheduler the kernel ignores), return a meaningless number, or fail deep
in CuTe with a raw error. All are refused before anything compiles, so this file compiles no kernel.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import torch

from bwkit import cute_common as cc
from bwkit import cute_gemm as cg
from bwkit import cute_ladder as lad
from bwkit import cute_ladder_nvfp4 as l4
from bwkit import ladder_bench as lb

RUNG = lad.RUNGS[4]
R4 = l4.NVFP4_RUNG
A = torch.zeros(256, 64, dtype=torch.bfloat16)
NO_GPU = lb.gpu_reason() is not None

BAD = [
    # 3: the NVFP4 kernel's STAGES and its shared memory
    (lambda: cg.check_nvfp4_shapes(128, 128, 256, STAGES=7), ValueError,
     "NVFP4 STAGES=7 x tiles need 258048 bytes of shared memory; an sm_100a CTA has at most 232448"),
    (lambda: cg.compile_gemm_nvfp4(128, 256, 256, TILE_N=256, STAGES=5), ValueError, "need 276480 bytes"),
    (lambda: cg.compile_gemm_nvfp4(128, 128, 256, STAGES=1), ValueError, "NVFP4 STAGES must be between 2 and 8, got 1"),
    (lambda: cg.compile_gemm_nvfp4(128, 128, 256, STAGES=0), ValueError, "NVFP4 STAGES must be between 2 and 8, got 0"),
    (lambda: cg.gemm_nvfp4(None, None, None, None, 128, 128, 256, STAGES=7), ValueError, "NVFP4 STAGES=7"),
    (lambda: cg.check_nvfp4_shapes(128, 128, 256, STAGES=4.0), ValueError,
     "NVFP4 STAGES must be a positive int, got 4.0 (a float: pass 4)"),
    # 4: what the NVFP4 ladder kernel implements: the static scheduler and the TMA-store epilogue
    (lambda: l4.check_nvfp4_rung(128, 128, 256, replace(R4, scheduler="clc")), ValueError,
     "uses the static scheduler (scheduler='static'), got scheduler='clc'"),
    (lambda: l4.run_nvfp4(None, None, None, None, 128, 128, 256, rung=replace(R4, scheduler="clc")), ValueError,
     "static scheduler"),
    (lambda: l4.compile_nvfp4(128, 128, 256, replace(R4, epilogue="direct", acc_stages=1)), ValueError,
     "stores C by TMA (epilogue='tma'), got epilogue='direct'"),
    # 5: float (and text, None) sizes
    (lambda: cg.GemmConfig(TILE_N=128.0), ValueError, "GemmConfig.TILE_N must be a positive int, got 128.0 (a float"),
    (lambda: cg.GemmConfig(TILE_K=64.0), ValueError, "GemmConfig.TILE_K must be a positive int, got 64.0"),
    (lambda: cg.GemmConfig(STAGES=4.0), ValueError, "GemmConfig.STAGES must be a positive int, got 4.0"),
    (lambda: cg.GemmConfig(TILE_M=128.0), ValueError, "GemmConfig.TILE_M must be a positive int, got 128.0"),
    (lambda: cg.GemmConfig(STAGES="4"), ValueError,
     "GemmConfig.STAGES must be a positive int, got '4' (a number typed"),
    (lambda: cg.GemmConfig(TILE_K="64"), ValueError, "GemmConfig.TILE_K must be a positive int, got '64'"),
    (lambda: cg.GemmConfig(STAGES=None), ValueError, "GemmConfig.STAGES must be a positive int, got None"),
    (lambda: lad.Rung("x", "y", STAGES=6.0), ValueError, "rung x (y): STAGES must be a positive int, got 6.0"),
    (lambda: lad.Rung("x", "y", STAGES="6"), ValueError, "rung x (y): STAGES must be a positive int, got '6'"),
    (lambda: lad.Rung("x", "y", TILE_N=256.0), ValueError, "rung x (y): TILE_N must be a positive int, got 256.0"),
    (lambda: lad.Rung("x", "y", TILE_K="64"), ValueError, "rung x (y): TILE_K must be a positive int, got '64'"),
    (lambda: lad.Rung("x", "y", cta_group=2.0, cluster=(2, 2)), ValueError,
     "cta_group must be a positive int, got 2.0"),
    (lambda: cg.check_nvfp4_shapes(128, 128, 256, TILE_N=128.0), ValueError,
     "NVFP4 TILE_N must be a positive int, got 128.0"),
    # 6: Rung.cluster is a pair of positive ints
    (lambda: lad.Rung("x", "y", cluster=(2,)), ValueError, "cluster must be a pair of positive ints"),
    (lambda: lad.Rung("x", "y", cluster=2), ValueError, "cluster must be a pair of positive ints .* got 2$"),
    (lambda: lad.Rung("x", "y", cluster=None), ValueError, "cluster must be a pair of positive ints .* got None"),
    (lambda: lad.Rung("x", "y", cluster=(2.0, 1)), ValueError, r"cluster must be a pair .* got \(2\.0, 1\)"),
    # 10: meaningless numbers
    (lambda: cg.smem_bytes(cg.GemmConfig(), elem_bytes="2"), ValueError,
     "smem_bytes: elem_bytes must be a positive number, got '2'"),
    (lambda: cg.smem_bytes(cg.GemmConfig(), elem_bytes=0), ValueError, "elem_bytes must be a positive number, got 0"),
    (lambda: cg.smem_bytes(cg.GemmConfig(), elem_bytes=-2), ValueError, "elem_bytes must be a positive number, got -2"),
    (lambda: lad.max_active_clusters(RUNG, sms=0), ValueError,
     "max_active_clusters: sms must be a positive int, got 0"),
    (lambda: lad.max_active_clusters(RUNG, sms=-148), ValueError, "sms must be a positive int, got -148"),
    (lambda: lad.max_active_clusters(RUNG, sms=148.0), ValueError, "sms must be a positive int, got 148.0"),
    (lambda: lad.smem_bytes(R4), ValueError,
     "smem_bytes: rung 'nvfp4' is the NVFP4 rung .* bwkit.cute_ladder_nvfp4.nvfp4_smem_bytes"),
    (lambda: lad.tmem_columns(R4), ValueError, "tmem_columns: rung 'nvfp4' is the NVFP4 rung"),
    (lambda: lad.layout_budget(R4), ValueError, "layout_budget: rung 'nvfp4' is the NVFP4 rung"),
    (lambda: l4.nvfp4_smem_bytes(RUNG), ValueError,
     "nvfp4_smem_bytes: rung '5' has TILE_K=64, .* bwkit.cute_ladder.smem_bytes"),
    # 11: text quoted; the NVFP4 rung pointed at its own functions
    (lambda: cc.alloc_tmem(None, "128", 128), ValueError, r"columns, got '128'"),
    (lambda: lad.compile_rung(R4, 128, 128, 256), ValueError,
     "compile_rung: rung 'nvfp4' is the NVFP4 rung .* bwkit.cute_ladder_nvfp4.compile_nvfp4"),
    (lambda: lad.run_rung(R4, A, A), ValueError, "run_rung: rung 'nvfp4' is the NVFP4 rung .* run_nvfp4"),
    (lambda: lad.check_rung_shapes(128, 128, 256, R4), ValueError, "compile_nvfp4"),
    # 12: a dict, None, a name or a number where an object goes
    (lambda: cg.compile_gemm(256, 256, 64, config={"TILE_N": 128}), TypeError,
     r"compile_gemm: config must be a bwkit.cute_gemm.GemmConfig.*got dict.*cg.GemmConfig\(\*\*config\)"),
    (lambda: cg.compile_gemm(256, 256, 64, config=lad.RUNGS[0]), TypeError,
     "config must be a bwkit.cute_gemm.GemmConfig.*got Rung.*rung.gemm_config"),
    (lambda: cg.compile_gemm(256, 256, 64, config=None), TypeError, "got NoneType None; leave config out"),
    (lambda: cg.gemm_tcgen05(A, A, config=None), TypeError, "gemm_tcgen05: config must be"),
    (lambda: cg.gemm_tcgen05(A, A, config={"TILE_N": 128}), TypeError, "gemm_tcgen05: config must be"),
    (lambda: cg.check_gemm_shapes(256, 256, 64, None), TypeError, "check_gemm_shapes: config must be"),
    (lambda: cg.smem_bytes("default"), TypeError, "smem_bytes: config must be a bwkit.cute_gemm.GemmConfig"),
    (lambda: lad.run_rung("5", A, A), TypeError,
     r"run_rung: rung must be a bwkit.cute_ladder.Rung .*got str '5'; rung 5 is bwkit.cute_ladder.rung_by_name\('5'\)"),
    (lambda: lad.run_rung(5, A, A), TypeError, "run_rung: rung must be a bwkit.cute_ladder.Rung .*got int 5"),
    (lambda: lad.smem_bytes("3"), TypeError, r"smem_bytes: rung must be .*rung_by_name\('3'\)"),
    (lambda: lad.tmem_columns(3), TypeError, "tmem_columns: rung must be a bwkit.cute_ladder.Rung"),
    (lambda: lad.max_active_clusters("5"), TypeError, "max_active_clusters: rung must be a bwkit.cute_ladder.Rung"),
    (lambda: lad.layout_budget("5"), TypeError, "layout_budget: rung must be a bwkit.cute_ladder.Rung"),
    (lambda: lad.layout_budget(RUNG, dtype="BF16"), ValueError,
     r"layout_budget: dtype must be one of \['bf16', 'fp16'\], got 'BF16'"),
    (lambda: lad.make_tiled_mma("bf16", RUNG), TypeError,
     "make_tiled_mma: io_dtype must be a CuTe element type.* got 'bf16'"),
    (lambda: lad.rung_by_name(3), ValueError, r"unknown rung 3.*rung_by_name\('3'\)"),
    (lambda: l4.nvfp4_smem_bytes("nvfp4"), TypeError, "nvfp4_smem_bytes: rung must be .*NVFP4_RUNG"),
    (lambda: l4.check_nvfp4_rung(128, 128, 256, "nvfp4"), TypeError, "check_nvfp4_rung: rung must be .*NVFP4_RUNG"),
    (lambda: l4.compile_nvfp4(128, 128, 256, rung="nvfp4"), TypeError, "compile_nvfp4: rung must be .*NVFP4_RUNG"),
    (lambda: l4.run_nvfp4(None, None, None, None, 128, 128, 256, rung="nvfp4"), TypeError,
     "run_nvfp4: rung must be .*NVFP4_RUNG"),
    # 14: ladder_bench's shapes and rows
    (lambda: lb.fake_ladder(shape=8192), TypeError, r"fake_ladder: shape must be \(M, N, K\), three positive ints"),
    (lambda: lb.fake_ladder(shape=(8192, 8192)), ValueError, r"fake_ladder: shape must be \(M, N, K\).*\(2 items\)"),
    (lambda: lb.fake_ladder(shape=(0, 8192, 8192)), ValueError, "fake_ladder: M must be a positive int, got 0"),
    (lambda: lb.measure_ladder(shape=(8192, 8192)), ValueError, r"measure_ladder: shape must be \(M, N, K\)"),
    (lambda: list(lb.iter_ladder(nvfp4="no")), ValueError, "nvfp4 must be True or False, got 'no'"),
    (lambda: list(lb.iter_ladder(should_start=1)), TypeError, "iter_ladder: should_start must be None or a function"),
    (lambda: lb.check_rung("5"), TypeError, r"check_rung: rung must be .*rung_by_name\('5'\)"),
    (lambda: lb.check_rung(R4), ValueError, r"check_rung: rung 'nvfp4' is the NVFP4 rung.*check_nvfp4\(\)"),
    (lambda: lb.check_rung(RUNG, shapes=()), ValueError, "check_rung: shapes is empty"),
    (lambda: lb.check_rung(RUNG, shapes=(512, 1024)), ValueError, r"shapes must be a list of \(M, N, K\)"),
    (lambda: lb.check_rung(RUNG, dtype="bf16"), ValueError, "check_rung: dtype must be torch.bfloat16"),
    (lambda: lb.check_nvfp4(shapes=((256, 384, 0),)), ValueError, "check_nvfp4: K must be a positive int, got 0"),
    (lambda: lb.format_ladder(None), TypeError, "format_ladder: rows must be a LadderRow or a sequence of them"),
    (lambda: lb.format_ladder([{"rung": "1"}]), TypeError, "format_ladder: rows\\[0\\] must be a LadderRow"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_is_refused_by_name(call, exc, match):
    """`match` is a fragment of the message, or a regex over it."""
    with pytest.raises(exc) as e:
        call()
    msg = str(e.value)
    assert match in msg or re.search(match, msg), msg


def test_valid_input_still_passes():
    cg.check_nvfp4_shapes(128, 128, 256, STAGES=6)                     # 6 x 36864 B fits 227 KiB
    cg.check_nvfp4_shapes(128, 256, 256, TILE_N=256)                    # 4 x 55296 B
    l4.check_nvfp4_rung(128, 128, 256)
    l4.check_nvfp4_rung(128, 128, 256, replace(R4, acc_stages=1))
    assert lad.max_active_clusters(R4) == 148 and l4.nvfp4_smem_bytes() == 200704
    assert cg.smem_bytes(cg.GemmConfig(), elem_bytes=1) == 98304


def test_a_cluster_list_becomes_a_tuple():
    """A list used to make the rung unhashable (run_rung caches by rung) or fail the (1, 1) rules."""
    r = lad.Rung("x", "y", cta_group=2, cluster=[2, 2])
    assert r.cluster == (2, 2) and hash(r) == hash(lad.Rung("x", "y", cta_group=2, cluster=(2, 2)))
    assert lad.Rung("x", "y", cluster=[1, 1]).cluster == (1, 1)
    l4.check_nvfp4_rung(128, 128, 256, replace(R4, cluster=[1, 1]))


def test_fake_ladder_says_which_rungs_refuse_the_shape():
    """measure_ladder gives a rung that cannot take the shape a 'did not run' row; the dry run used to time it."""
    rows = {r.rung: r for r in lb.fake_ladder((128, 256, 64))}
    assert rows["1"].ms is not None and rows["1"].model_pct is not None
    for number in ("2", "3", "3-clc", "4", "5", "nvfp4"):
        r = rows[number]
        assert r.ms is None and r.tflops is None and r.model_pct is None and r.fake, number
        assert r.note.startswith("did not run: ValueError: ") and "FAKE" in r.note, number
    assert "is not a multiple of 256" in rows["2"].note and "K=64 is not a multiple of 256" in rows["nvfp4"].note


def test_format_ladder_takes_one_row():
    row = lb.fake_ladder((1024, 1024, 512))[0]
    assert lb.format_ladder(row) == lb.format_ladder([row])


@pytest.mark.skipif(not NO_GPU, reason="on a datacenter Blackwell GPU these run")
def test_the_gpu_checks_say_what_to_do_on_this_machine():
    with pytest.raises(RuntimeError, match=re.escape("check_rung runs kernels on a datacenter Blackwell GPU")) as e:
        lb.check_rung(RUNG)
    assert "compile_rung(rung, M, N, K)" in str(e.value) and "Found no NVIDIA driver" not in str(e.value)
    with pytest.raises(RuntimeError, match="check_nvfp4 runs kernels .*compile_nvfp4") as e:
        lb.check_nvfp4()
    assert "pass device='cpu'" not in str(e.value)
