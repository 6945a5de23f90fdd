"""The kit's Gluon GEMM ladder: Blackwell Tensor Cores driven by hand from Triton's Gluon, compiled on a CPU.

Modules: `model` (tile rules, budgets, the ring model, PTX readers; no Gluon import) and `kernels` (the
Gluon kernels, descriptors, compilation, launches).

Run it anywhere (compile-only: no GPU needed); `matmul` runs it on a datacenter Blackwell GPU (sm_100a)::

    import bwkit; bwkit.setup()                 # first, as in every lab
    from bwkit import gluon_gemm as gg
    k = gg.compile_step("ws")                   # bwkit.inspect.Compiled for sm_100a: k.ptx, k.sass(), k.metadata
    gg.kernel_facts(k)                          # instructions, threads, shared memory, TMEM columns, registers
    c = gg.matmul(a, b, step="ws")              # on a B200: a (M, K), b (N, K) bf16/fp16 CUDA tensors -> a @ b.T

Every kernel computes ``C = A @ B^T`` (A (M, K) and B (N, K) both K-major, like an ``nn.Linear`` weight; C (M, N)
row-major) one ``BLOCK_M x BLOCK_N`` tile at a time, with the FP32 accumulator in Tensor Memory (TMEM). The ladder
(`STEPS`, taught in lab 09), each step one delta over the previous one:

1. ``sync``: TMA loads one K slice into shared memory, ``tcgen05_mma`` multiplies it into TMEM; every copy and
   every MMA is waited for (one mbarrier per engine) before the next is issued.
2. ``pipelined``: a ring of ``STAGES`` slots with a *ready* and an *empty* mbarrier each: TMA runs STAGES - 1
   K slices ahead, each MMA frees its slot when it completes (``tcgen05_mma(..., mbarriers=[empty])``).
3. ``ws``: warp-specialized and persistent: a 1-warp TMA loader, a 1-warp MMA issuer and the 4-warp epilogue run
   as separate partitions (``gl.warp_specialize``); ``ACC_BUFFERS`` TMEM accumulators let the epilogue of one
   tile overlap the MMAs of the next.
4. ``nvfp4``: step 2 with packed FP4 operands and UE4M3 block scales: the scales travel by TMA, ``tcgen05_copy``
   moves them to TMEM and ``tcgen05_mma_scaled`` issues ``kind::mxf4nvf4.block_scale.block16``.

``wgmma`` is the Hopper (sm_90a) version of step 2: ``warpgroup_mma`` with the accumulator in registers.
Shared pieces live once: `issue_loads` (one K slice by TMA), `store_epilogue` (TMEM -> registers -> TMA store in
``EPI_N``-column slices), `alloc_ring` (slots and barriers), `descriptor_blocks` (every TMA descriptor's block,
used by both the compiler's signature and the launch). CPU models: `smem_bytes`, `max_stages`, `tmem_columns`
(through `bwkit.tensorcores.tmem_budget`), `ws_budget` (Triton's register split), `ring_phases` and
`simulate_ring` (mbarrier parity: progress, deadlock or race). Reading the output: `kernel_facts`, `facts_table`,
`which_step`, `mma_waited`.

Constraints, checked by `check_config` before compiling or launching (each message names its rule): BLOCK_M =
128 (one accumulator row per TMEM lane); BLOCK_N in {64, 128, 256} ({128, 256} for NVFP4); BLOCK_K x element
bytes in {32, 64, 128} (one swizzle row; NVFP4: BLOCK_K in {128, 256}); EPI_N a power of two from 16 to 128
dividing BLOCK_N; STAGES >= 2 for the rings; num_warps 4 or 8; ws: maxnreg <= 256 and WORKER_REGS a multiple
of 8 in [24, maxnreg] (setmaxnreg's range); the shared memory of `smem_bytes` <= 232,448 B
and the TMEM of `tmem_columns` <= 512 columns. Operands: K a multiple of 8 (16-byte TMA rows), contiguous.
"""

from bwkit.gluon_gemm.kernels import *  # noqa: F403 - the package re-exports both halves
from bwkit.gluon_gemm.kernels import __all__ as _kernels_all
from bwkit.gluon_gemm.model import *  # noqa: F403
from bwkit.gluon_gemm.model import __all__ as _model_all

__all__ = [*_model_all, *_kernels_all]
