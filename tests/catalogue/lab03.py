"""Lab 03 (the Triton GEMM ladder): wrong answers as learners write them, and correct ones in other forms.

The kernel exercises run every variant in the Triton interpreter through the memory-safe launch: an unmasked
store or a K tail read past A must come back as a named diagnosis, never as a dead kernel.
"""

from catalogue import Right, Wrong

_NAIVE_HEAD = """
@triton.jit
def my_matmul_kernel_naive(a_ptr, b_ptr, c_ptr, M, N, K,
                           stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                           BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
"""
_KLOOP_HEAD = """
@triton.jit
def my_matmul_kernel_kloop(a_ptr, b_ptr, c_ptr, M, N, K,
                           stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                           BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
"""

CATALOGUE = {
    "03.1": [
        Wrong("B's strides swapped", _NAIVE_HEAD + """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bn + offs_n[None, :] * stride_bk)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, tl.dot(a, b).to(tl.float16))
""", "swapped B's strides"),
        Wrong("C stored transposed", _NAIVE_HEAD + """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn)
    acc = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * stride_cn + offs_n[None, :] * stride_cm, acc.to(c_ptr.dtype.element_ty))
""", "stored the tile transposed"),
        Wrong("A's strides swapped", _NAIVE_HEAD + """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_ak + offs_k[None, :] * stride_am)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn)
    acc = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty))
""", "swapped A's strides"),
        Wrong("both program ids from axis 0", _NAIVE_HEAD + """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(0)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn)
    acc = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty))
""", "not where the grid puts them"),
        Wrong("BLOCK_M used for the column offsets", _NAIVE_HEAD + """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_M + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn)
    acc = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty))
""", "not where the grid puts them"),
        Wrong("program ids swapped (pid_m from axis 1)", _NAIVE_HEAD + """
    pid_m = tl.program_id(1)
    pid_n = tl.program_id(0)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn)
    acc = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty))
""", "not where the grid puts them"),
        Wrong("row-major strides hard-coded", _NAIVE_HEAD + """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * K + offs_k[None, :])
    b = tl.load(b_ptr + offs_k[:, None] * N + offs_n[None, :])
    acc = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * N + offs_n[None, :], acc.to(c_ptr.dtype.element_ty))
""", "hard-coded row-major strides"),
        Wrong("C's strides hard-coded only", _NAIVE_HEAD + """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn)
    acc = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * N + offs_n[None, :], acc.to(c_ptr.dtype.element_ty))
""", "row-major strides for C"),
        Wrong("B's strides hard-coded only", _NAIVE_HEAD + """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b = tl.load(b_ptr + offs_k[:, None] * N + offs_n[None, :])
    acc = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty))
""", "hard-coded row-major strides"),
        Wrong("a program offset on offs_k", _NAIVE_HEAD + """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = pid_m * BLOCK_K + tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn)
    acc = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty))
""", "offs_k = tl.arange(0, BLOCK_K) with no program offset"),
        Right("explicit accumulator, pointer blocks named", _NAIVE_HEAD + """
    row0 = tl.program_id(axis=0) * BLOCK_M
    col0 = tl.program_id(axis=1) * BLOCK_N
    rows = row0 + tl.arange(0, BLOCK_M)
    cols = col0 + tl.arange(0, BLOCK_N)
    ks = tl.arange(0, BLOCK_K)
    a_block = a_ptr + rows[:, None] * stride_am + ks[None, :] * stride_ak
    b_block = b_ptr + ks[:, None] * stride_bk + cols[None, :] * stride_bn
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    acc = tl.dot(tl.load(a_block), tl.load(b_block), acc)
    tl.store(c_ptr + rows[:, None] * stride_cm + cols[None, :] * stride_cn, acc.to(tl.float16))
"""),
        Right("fp32 accumulator stored as is (tl.store converts)", _NAIVE_HEAD + """
    offs_m = tl.arange(0, BLOCK_M) + tl.program_id(0) * BLOCK_M
    offs_n = tl.arange(0, BLOCK_N) + tl.program_id(1) * BLOCK_N
    offs_k = tl.arange(0, BLOCK_K)
    a = tl.load(a_ptr + (offs_m * stride_am)[:, None] + (offs_k * stride_ak)[None, :])
    b = tl.load(b_ptr + (offs_k * stride_bk)[:, None] + (offs_n * stride_bn)[None, :])
    tl.store(c_ptr + (offs_m * stride_cm)[:, None] + (offs_n * stride_cn)[None, :], tl.dot(a, b))
"""),
    ],
    "03.2": [
        Wrong("elements, not bytes", """
def naive_operand_bytes(BLOCK_M, BLOCK_N, K, elem_bytes):
    return BLOCK_M * K + K * BLOCK_N
""", "forgot the element size"),
        Wrong("only the A strip", """
def naive_operand_bytes(BLOCK_M, BLOCK_N, K, elem_bytes):
    return BLOCK_M * K * elem_bytes
""", "only A's strip"),
        Wrong("the C tile", """
def naive_operand_bytes(BLOCK_M, BLOCK_N, K, elem_bytes):
    return BLOCK_M * BLOCK_N * elem_bytes
""", "C tile"),
        Wrong("bits", """
def naive_operand_bytes(BLOCK_M, BLOCK_N, K, elem_bytes):
    return (BLOCK_M + BLOCK_N) * K * elem_bytes * 8
""", "in bits"),
        Wrong("MiB", """
def naive_operand_bytes(BLOCK_M, BLOCK_N, K, elem_bytes):
    return (BLOCK_M * K + K * BLOCK_N) * elem_bytes / 2**20
""", "in MiB"),
        Wrong("kB", """
def naive_operand_bytes(BLOCK_M, BLOCK_N, K, elem_bytes):
    return (BLOCK_M * K + K * BLOCK_N) * elem_bytes / 1000
""", "in kB"),
        Wrong("2 bytes (fp16) hard-coded", """
def naive_operand_bytes(BLOCK_M, BLOCK_N, K, elem_bytes):
    return 2 * (BLOCK_M * K + K * BLOCK_N)
""", "hard-coded 2 bytes"),
        Right("numpy int64", """
import numpy as np
def naive_operand_bytes(BLOCK_M, BLOCK_N, K, elem_bytes):
    return np.int64(BLOCK_M + BLOCK_N) * K * elem_bytes
"""),
        Right("two strips added up", """
def naive_operand_bytes(BLOCK_M, BLOCK_N, K, elem_bytes):
    a_strip = BLOCK_M * K * elem_bytes
    b_strip = K * BLOCK_N * elem_bytes
    return a_strip + b_strip
"""),
    ],
    "03.3": [
        Wrong("accumulator overwritten each trip", _KLOOP_HEAD + """
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, tl.cdiv(K, BLOCK_K)):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=c_mask)
""", "only the last K slice"),
        Wrong("an fp16 accumulator (C is fp16 anyway)", _KLOOP_HEAD + """
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float16)
    for k0 in range(0, tl.cdiv(K, BLOCK_K)):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc += tl.dot(a, b).to(tl.float16)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc, mask=c_mask)
""", "rounded to fp16 on every trip"),
        Wrong("tl.dot's out_dtype fp16", _KLOOP_HEAD + """
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float16)
    for k0 in range(0, tl.cdiv(K, BLOCK_K)):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc += tl.dot(a, b, out_dtype=tl.float16)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc, mask=c_mask)
""", "rounded to fp16 on every trip"),
        Wrong("masked loads without other=0.0", _KLOOP_HEAD + """
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, tl.cdiv(K, BLOCK_K)):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K))
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N))
        acc = tl.dot(a, b, acc)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=c_mask)
""", "a load without other=0.0"),
        Wrong("store without its mask", _KLOOP_HEAD + """
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k0 in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty))
""", "your store has no mask"),
        Wrong("loads masked at the M/N edges only (no K tail)", _KLOOP_HEAD + """
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k0 in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak, mask=offs_m[:, None] < M,
                    other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn, mask=offs_n[None, :] < N,
                    other=0.0)
        acc = tl.dot(a, b, acc)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=c_mask)
""", "K tail"),
        Wrong("floor trip count", _KLOOP_HEAD + """
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k0 in range(0, K // BLOCK_K):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=c_mask)
""", "floor"),
        Wrong("K index never advances", _KLOOP_HEAD + """
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k0 in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        kk = offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=c_mask)
""", "does not advance"),
        Wrong("pointers not moved along K", _KLOOP_HEAD + """
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0.0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=c_mask)
""", "does not advance"),
        Wrong("kk = k0 + offs_k with k0 counting trips", _KLOOP_HEAD + """
    acc = tl.zeros((BLOCK_M, BLOCK_N), tl.float32)
    for k0 in range(0, tl.cdiv(K, BLOCK_K)):
        kk = k0 + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))
""", "the K slices overlap"),
        Wrong("range(0, K, BLOCK_K) and k0 * BLOCK_K", _KLOOP_HEAD + """
    acc = tl.zeros((BLOCK_M, BLOCK_N), tl.float32)
    for k0 in range(0, K, BLOCK_K):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))
""", "only the first K slice is counted"),
        Wrong("store mask on the rows only", _KLOOP_HEAD + """
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k0 in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=offs_m[:, None] < M)
""", "does not match C's edges"),
        Wrong("no load masks at all", _KLOOP_HEAD + """
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k0 in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn)
        acc = tl.dot(a, b, acc)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=c_mask)
""", "K tail"),
        Wrong("store mask compares the columns with M", _KLOOP_HEAD + """
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k0 in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        kk = k0 * BLOCK_K + offs_k
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < M)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=c_mask)
""", "does not match C's edges"),
        Right("pointers advanced, k_left masks (the library's step 2)", _KLOOP_HEAD + """
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k in range(0, (K + BLOCK_K - 1) // BLOCK_K):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0.0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))
"""),
        Right("tl.zeros, tl.cdiv and tl.range", _KLOOP_HEAD + """
    m_ok = offs_m < M
    n_ok = offs_n < N
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in tl.range(0, tl.cdiv(K, BLOCK_K)):
        kk = k0 * BLOCK_K + offs_k
        k_ok = kk < K
        a = tl.load(a_ptr + offs_m[:, None] * stride_am + kk[None, :] * stride_ak, mask=m_ok[:, None] & k_ok[None, :],
                    other=0)
        b = tl.load(b_ptr + kk[:, None] * stride_bk + offs_n[None, :] * stride_bn, mask=k_ok[:, None] & n_ok[None, :],
                    other=0)
        acc += tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn, acc, mask=m_ok[:, None] & n_ok[None, :])
"""),
    ],
    "03.4": [
        Wrong("elements, not bytes", """
def tile_read_bytes(M, N, K, BLOCK_M, BLOCK_N, elem_bytes):
    return (M // BLOCK_M) * (N // BLOCK_N) * (BLOCK_M * K + K * BLOCK_N)
""", "forgot the element size"),
        Wrong("each operand once", """
def tile_read_bytes(M, N, K, BLOCK_M, BLOCK_N, elem_bytes):
    return (M * K + K * N) * elem_bytes
""", "each operand once"),
        Wrong("only the A strips", """
def tile_read_bytes(M, N, K, BLOCK_M, BLOCK_N, elem_bytes):
    tiles = (M // BLOCK_M) * (N // BLOCK_N)
    return tiles * BLOCK_M * K * elem_bytes
""", "one operand strip per tile"),
        Wrong("tiles along M only", """
def tile_read_bytes(M, N, K, BLOCK_M, BLOCK_N, elem_bytes):
    return (M // BLOCK_M) * (BLOCK_M * K + K * BLOCK_N) * elem_bytes
""", "one axis only"),
        Right("A re-read N/BLOCK_N times, B re-read M/BLOCK_M times", """
def tile_read_bytes(M, N, K, BLOCK_M, BLOCK_N, elem_bytes):
    return (M * K * (N // BLOCK_N) + K * N * (M // BLOCK_M)) * elem_bytes
"""),
        Right("numpy int64", """
import numpy as np
def tile_read_bytes(M, N, K, BLOCK_M, BLOCK_N, elem_bytes):
    tiles = np.int64(M // BLOCK_M) * (N // BLOCK_N)
    return tiles * (BLOCK_M + BLOCK_N) * K * elem_bytes
"""),
    ],
    "03.5": [
        Wrong("row-major", """
def my_grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M):
    return tile_id // num_pid_n, tile_id % num_pid_n
""", "row-major"),
        Wrong("last group assumed full", """
def my_grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M):
    per_group = GROUP_M * num_pid_n
    first_m = (tile_id // per_group) * GROUP_M
    return first_m + (tile_id % per_group) % GROUP_M, (tile_id % per_group) // GROUP_M
""", "real height"),
        Wrong("(pid_n, pid_m) returned", """
def my_grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M):
    per_group = GROUP_M * num_pid_n
    first_m = (tile_id // per_group) * GROUP_M
    rows = min(num_pid_m - first_m, GROUP_M)
    return (tile_id % per_group) // rows, first_m + (tile_id % per_group) % rows
""", "(pid_n, pid_m)"),
        Wrong("group size from the wrong side of the grid", """
def my_grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M):
    per_group = GROUP_M * num_pid_m
    first_m = (tile_id // per_group) * GROUP_M
    rows = min(num_pid_m - first_m, GROUP_M)
    return first_m + (tile_id % per_group) % rows, (tile_id % per_group) // rows
""", "not GROUP_M * num_pid_m"),
        Wrong("tile_id % group_size_m (no % num_pid_in_group)", """
def my_grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M):
    num_pid_in_group = GROUP_M * num_pid_n
    group_id = tile_id // num_pid_in_group
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + (tile_id % group_size_m)
    pid_n = (tile_id % num_pid_in_group) // group_size_m
    return pid_m, pid_n
""", "tile_id % rows"),
        Right("walk the groups", """
def my_grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M):
    t = 0
    for first in range(0, num_pid_m, GROUP_M):
        h = min(GROUP_M, num_pid_m - first)
        for n in range(num_pid_n):
            for m in range(first, first + h):
                if t == tile_id:
                    return m, n
                t += 1
"""),
        Right("divmod", """
def my_grouped_pid(tile_id, num_pid_m, num_pid_n, GROUP_M):
    group, p = divmod(tile_id, GROUP_M * num_pid_n)
    first = group * GROUP_M
    height = min(GROUP_M, num_pid_m - first)
    col, row = divmod(p, height)
    return [first + row, col]
"""),
    ],
    "03.6": [
        Wrong("counted tiles", """
def wave_strips(pids, num_sms):
    return len(pids[:num_sms])
""", "counted tiles"),
        Wrong("only A strips", """
def wave_strips(pids, num_sms):
    return len({m for m, n in pids[:num_sms]})
""", "only A strips"),
        Wrong("union of the two sets", """
def wave_strips(pids, num_sms):
    wave = pids[:num_sms]
    return len({m for m, _ in wave} | {n for _, n in wave})
""", "union of the row-tile and column-tile sets"),
        Wrong("only B strips", """
def wave_strips(pids, num_sms):
    return len(set(n for _, n in pids[:num_sms]))
""", "only B strips"),
        Wrong("whole launch", """
def wave_strips(pids, num_sms):
    return len({m for m, n in pids}) + len({n for m, n in pids})
""", "whole launch"),
        Wrong("multiplied", """
def wave_strips(pids, num_sms):
    wave = pids[:num_sms]
    return len(set(m for m, _ in wave)) * len(set(n for _, n in wave))
""", "multiplied the two counts"),
        Right("numpy unique", """
import numpy as np
def wave_strips(pids, num_sms):
    w = np.array(pids[:num_sms])
    return len(np.unique(w[:, 0])) + len(np.unique(w[:, 1]))
"""),
        Right("a loop", """
def wave_strips(pids, num_sms):
    rows, cols = [], []
    for i in range(min(num_sms, len(pids))):
        m, n = pids[i]
        if m not in rows:
            rows.append(m)
        if n not in cols:
            cols.append(n)
    return len(rows) + len(cols)
"""),
    ],
    "03.7": [
        Wrong("rounded up", """
import math
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, smem_bytes):
    return math.ceil(smem_bytes / ((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes))
""", "rounded up"),
        Wrong("true division", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, smem_bytes):
    return smem_bytes / ((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes)
""", "floor-divide"),
        Wrong("element size forgotten", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, smem_bytes):
    return smem_bytes // ((BLOCK_M + BLOCK_N) * BLOCK_K)
""", "forgot the element size"),
        Wrong("only the B slice", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, smem_bytes):
    stage = BLOCK_N * BLOCK_K * elem_bytes
    return smem_bytes // stage
""", "only one operand's slice"),
        Right("numpy int64", """
import numpy as np
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, smem_bytes):
    return np.int64(smem_bytes) // np.int64((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes)
"""),
        Right("math.floor", """
import math
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, smem_bytes):
    return int(math.floor(smem_bytes / ((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes)))
"""),
    ],
    "03.8": [
        Wrong("floor for the waves", """
import math
def wave_efficiency(M, N, BLOCK_M, BLOCK_N, num_sms):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    return tiles / ((tiles // num_sms) * num_sms)
""", "floor for the waves"),
        Wrong("floor for the ragged tiles", """
import math
def wave_efficiency(M, N, BLOCK_M, BLOCK_N, num_sms):
    tiles = (M // BLOCK_M) * (N // BLOCK_N)
    return tiles / (math.ceil(tiles / num_sms) * num_sms)
""", "ragged tiles"),
        Wrong("number of waves", """
import math
def wave_efficiency(M, N, BLOCK_M, BLOCK_N, num_sms):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    return math.ceil(tiles / num_sms)
""", "number of waves"),
        Wrong("upside down", """
import math
def wave_efficiency(M, N, BLOCK_M, BLOCK_N, num_sms):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    return math.ceil(tiles / num_sms) * num_sms / tiles
""", "upside down"),
        Wrong("waves as tiles // num_sms + 1", """
import math
def wave_efficiency(M, N, BLOCK_M, BLOCK_N, num_sms):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    waves = tiles // num_sms + 1          # the last, partial wave
    return tiles / (waves * num_sms)
""", "one wave too many"),
        Wrong("integer division", """
import math
def wave_efficiency(M, N, BLOCK_M, BLOCK_N, num_sms):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    return tiles // (math.ceil(tiles / num_sms) * num_sms)
""", "integer division (//)"),
        Wrong("a percentage", """
import math
def wave_efficiency(M, N, BLOCK_M, BLOCK_N, num_sms):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    waves = math.ceil(tiles / num_sms)
    return 100 * tiles / (waves * num_sms)
""", "that is a percentage"),
        Right("numpy float32", """
import numpy as np
def wave_efficiency(M, N, BLOCK_M, BLOCK_N, num_sms):
    tiles = np.ceil(np.float32(M) / BLOCK_M) * np.ceil(np.float32(N) / BLOCK_N)
    waves = np.ceil(tiles / np.float32(num_sms))
    return np.float32(tiles / (waves * num_sms))
"""),
        Right("integer ceil", """
def wave_efficiency(M, N, BLOCK_M, BLOCK_N, num_sms):
    tiles = -(-M // BLOCK_M) * -(-N // BLOCK_N)
    full, rest = divmod(tiles, num_sms)
    waves = full + (1 if rest else 0)
    return tiles / (waves * num_sms)
"""),
    ],
    "03.9": [
        Wrong("ld.global", 'tile_copy_instruction = "ld.global"', "step 1 loads"),
        Wrong("tcgen05.cp", 'tile_copy_instruction = "tcgen05.cp"', "Tensor Memory"),
        Wrong("wgmma", 'tile_copy_instruction = "wgmma.mma_async"', "Hopper's MMA"),
        Wrong("TMA, not an option", 'tile_copy_instruction = "TMA"', "not one of"),
        Right("capitalised", 'tile_copy_instruction = "CP.ASYNC.BULK.TENSOR"'),
        Right("padded", 'tile_copy_instruction = " cp.async.bulk.tensor "'),
    ],
}
