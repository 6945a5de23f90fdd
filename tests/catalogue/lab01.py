"""Lab 01 (Tensor Cores): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

CATALOGUE = {
    "01.1": [
        Wrong("no BLOCK_M check: M=256 on one CTA accepted", """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    needed = BLOCK_N * acc_buffers
    return max(32, 1 << (needed - 1).bit_length())
""", "M=256 needs a CTA pair"),
        Wrong("bytes: 4 bytes per fp32 element", """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise ValueError("one CTA has M = 64 or 128")
    needed = BLOCK_N * 4 * acc_buffers          # bytes of one accumulator row
    return max(32, 1 << (needed - 1).bit_length())
""", "TMEM columns counted in bytes"),
        Wrong("no power-of-two rounding", """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise ValueError("bad BLOCK_M")
    return max(32, BLOCK_N * acc_buffers)
""", "rounds up to a power of two"),
        Wrong("assert instead of raise", """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    assert BLOCK_M in (64, 128), "one CTA: M is 64 or 128"
    needed = BLOCK_N * acc_buffers
    return max(32, 1 << (needed - 1).bit_length())
""", "not assert"),
        Wrong("each buffer rounded separately", """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise ValueError(BLOCK_M)
    one = max(32, 1 << (BLOCK_N - 1).bit_length())
    return one * acc_buffers
""", "round the total"),
        Wrong("M=64 taken as half the columns", """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise ValueError(BLOCK_M)
    needed = BLOCK_N * acc_buffers * BLOCK_M // 128
    return max(32, 1 << (needed - 1).bit_length())
""", "M=64 still takes N columns"),
        Wrong("double buffering forgotten", """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise ValueError(BLOCK_M)
    return max(32, 1 << (BLOCK_N - 1).bit_length())
""", "acc_buffers multiplies"),
        Wrong("only M=128 allowed", """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M != 128:
        raise ValueError("tcgen05 needs 128 rows")
    needed = BLOCK_N * acc_buffers
    return max(32, 1 << (needed - 1).bit_length())
""", "M=64 is a legal 1-CTA MMA"),
        Right("loop doubling", """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M != 64 and BLOCK_M != 128:
        raise ValueError(f"{BLOCK_M} rows need a CTA pair or are not an MMA")
    cols = 32
    while cols < BLOCK_N * acc_buffers:
        cols *= 2
    return cols
"""),
        Right("log2 and ceil", """
import math
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in {64, 128}:
        raise ValueError("one CTA: M in {64, 128}")
    return int(2 ** max(5, math.ceil(math.log2(BLOCK_N * acc_buffers))))
"""),
        Wrong('bit_length of n, not n - 1', """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise ValueError(BLOCK_M)
    needed = BLOCK_N * acc_buffers
    return max(32, 1 << needed.bit_length())       # next power of two
""", 'exact power of two is already a legal allocation'),
        Wrong('rounded to a multiple of 32', """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise ValueError(BLOCK_M)
    needed = BLOCK_N * acc_buffers
    return max(32, (needed + 31) // 32 * 32)       # allocation granularity: 32 columns
""", 'not any multiple of 32'),
        Wrong('only M > 128 refused', """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M > 128:
        raise ValueError("M=256 needs a CTA pair")
    needed = BLOCK_N * acc_buffers
    return max(32, 1 << (needed - 1).bit_length())
""", 'M=32 is no tcgen05.mma shape either'),
        Wrong('bare NotImplementedError for bad M', """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise NotImplementedError        # CTA pairs are not supported
    needed = BLOCK_N * acc_buffers
    return max(32, 1 << (needed - 1).bit_length())
""", 'NotImplementedError says a feature is missing'),
        Wrong('TypeError for bad M', """
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise TypeError(f"unsupported BLOCK_M={BLOCK_M}")
    needed = BLOCK_N * acc_buffers
    return max(32, 1 << (needed - 1).bit_length())
""", 'TypeError is for a wrong type'),
        Wrong('nearest power of two', """
import math
def tmem_alloc_columns(BLOCK_M, BLOCK_N, acc_buffers):
    if BLOCK_M not in (64, 128):
        raise ValueError(BLOCK_M)
    return max(32, 2 ** round(math.log2(BLOCK_N * acc_buffers)))
""", 'not to the nearest power of two'),
    ],
    "01.2": [
        Wrong("K from the element's own width", """
def mmas_per_k_step(BLOCK_K, kind, element):
    bits = {"f16": 16, "bf16": 16, "tf32": 32, "e4m3": 8, "e5m2": 8, "e2m3": 6, "e3m2": 6, "e2m1": 4}[element]
    return BLOCK_K // (256 // bits)
""", "still occupies a byte"),
        Wrong("tf32 counted as 16 bits", """
def mmas_per_k_step(BLOCK_K, kind, element):
    bits = {"f16": 16, "tf32": 16, "f8f6f4": 8, "mxf8f6f4": 8, "mxf4": 4, "mxf4nvf4": 4}[kind]
    return BLOCK_K // (256 // bits)
""", "tf32 elements are 32 bits"),
        Wrong("returns K, not the count", """
def mmas_per_k_step(BLOCK_K, kind, element):
    bits = {"f16": 16, "tf32": 32, "f8f6f4": 8, "mxf8f6f4": 8, "mxf4": 4, "mxf4nvf4": 4}[kind]
    return 256 // bits
""", "that is K per instruction"),
        Wrong("mxf4 in byte containers too", """
def mmas_per_k_step(BLOCK_K, kind, element):
    k = {"f16": 16, "tf32": 8, "f8f6f4": 32, "mxf8f6f4": 32, "mxf4": 32, "mxf4nvf4": 32}[kind]
    return BLOCK_K // k
""", "pack two FP4 per byte"),
        Wrong("K=16 for everything", """
def mmas_per_k_step(BLOCK_K, kind, element):
    return BLOCK_K // 16        # like the fp16 GEMM of step 2
""", "every kind reads 256 bits"),
        Right("table of K per kind", """
K_OF = {"f16": 16, "tf32": 8, "f8f6f4": 32, "mxf8f6f4": 32, "mxf4": 64, "mxf4nvf4": 64}
def mmas_per_k_step(BLOCK_K, kind, element):
    return BLOCK_K // K_OF[kind]
"""),
        Right("bits through if/elif", """
def mmas_per_k_step(BLOCK_K, kind, element):
    if kind == "tf32":
        bits = 32
    elif kind == "f16":
        bits = 16
    elif kind.startswith("mxf4"):
        bits = 4
    else:
        bits = 8                       # f8f6f4 / mxf8f6f4: one byte per element, whatever it is
    return BLOCK_K * bits // 256
"""),
        Wrong('every mx kind packs FP4', """
def mmas_per_k_step(BLOCK_K, kind, element):
    if kind == "tf32":
        bits = 32
    elif kind == "f16":
        bits = 16
    elif kind.startswith("mx") and element == "e2m1":
        bits = 4                       # block-scaled FP4 is packed
    else:
        bits = 8
    return BLOCK_K * bits // 256
""", 'still occupies a byte'),
        Wrong('integer division first', """
def mmas_per_k_step(BLOCK_K, kind, element):
    bits = {"f16": 16, "tf32": 32, "f8f6f4": 8, "mxf8f6f4": 8, "mxf4": 4, "mxf4nvf4": 4}[kind]
    return BLOCK_K // 256 * bits
""", 'BLOCK_K // 256 is 0'),
        Wrong('32 where 256 bits are meant', """
def mmas_per_k_step(BLOCK_K, kind, element):
    bits = {"f16": 16, "tf32": 32, "f8f6f4": 8, "mxf8f6f4": 8, "mxf4": 4, "mxf4nvf4": 4}[kind]
    return BLOCK_K * bits // 32        # 32 bytes of operand per row
""", 'bits and bytes mixed'),
    ],
    "01.3": [
        Wrong("all four warps counted", """
def predict_mma_per_k_step():
    per_warp = (64 // 16) * (64 // 8) * (64 // 16)
    return {"sm_80": 4 * per_warp, "sm_90a": 8, "sm_100a": 4, "sm_120": 4 * per_warp}
""", "not of all 4"),
        Wrong("one wgmma per K slice", """
def predict_mma_per_k_step():
    return {"sm_80": 128, "sm_90a": 64 // 16, "sm_100a": 4, "sm_120": 128}
""", "wgmma is m64"),
        Wrong("whole-kernel tcgen05 count", """
def predict_mma_per_k_step():
    return {"sm_80": 128, "sm_90a": 8, "sm_100a": 8, "sm_120": 128}     # 8 tcgen05.mma in the histogram
""", "peeled first iteration"),
        Wrong("sm_120 taken for tcgen05", """
def predict_mma_per_k_step():
    return {"sm_80": 128, "sm_90a": 8, "sm_100a": 4, "sm_120": 4}       # Blackwell is Blackwell
""", "sm_120 (consumer Blackwell) has no tcgen05"),
        Wrong("targets misspelled", """
def predict_mma_per_k_step():
    return {"sm80": 128, "sm90": 8, "sm100": 4, "sm120": 128}
""", "the keys are the four targets"),
        Right("computed from the shapes", """
def predict_mma_per_k_step():
    k16 = 64 // 16
    warp = (128 // 2 // 16) * (128 // 2 // 8) * k16
    return {"sm_80": warp, "sm_120": warp, "sm_90a": (128 // 64) * k16, "sm_100a": k16}
"""),
        Right("floats", """
def predict_mma_per_k_step():
    return dict(sm_80=128.0, sm_90a=8.0, sm_100a=4.0, sm_120=128.0)
"""),
        Wrong('wgmma taken as n64', """
def predict_mma_per_k_step():
    return {"sm_80": 128, "sm_90a": (128 // 64) * (128 // 64) * (64 // 16), "sm_100a": 4, "sm_120": 128}
""", 'one m64n128k16 covers'),
        Wrong('mma.sync taken as k8', """
def predict_mma_per_k_step():
    per_warp = (64 // 16) * (64 // 8) * (64 // 8)
    return {"sm_80": per_warp, "sm_90a": 8, "sm_100a": 4, "sm_120": per_warp}
""", 'm16n8k16 (K=16 per instruction'),
        Wrong('sm_120 taken for Hopper-like', """
def predict_mma_per_k_step():
    return {"sm_80": 128, "sm_90a": 8, "sm_100a": 4, "sm_120": 8}      # a newer chip: warpgroup MMA
""", 'has no wgmma either'),
        Wrong('wgmma without the K slices', """
def predict_mma_per_k_step():
    return {"sm_80": 128, "sm_90a": 128 // 64, "sm_100a": 4, "sm_120": 128}
""", 'four k16 slices for wgmma too'),
    ],
    "01.4": [
        Wrong("scales ignored", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    return (formats.decode(a_codes, "e2m1") @ formats.decode(b_codes, "e2m1")).float()
""", "scale factors were not applied"),
        Wrong("scale codes used as numbers", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    av = formats.decode(a_codes, "e2m1").double() * sf_a.double().repeat_interleave(16, 1)
    bv = formats.decode(b_codes, "e2m1").double() * sf_b.double().repeat_interleave(16, 1).T
    return (av @ bv).float()
""", "decode them (UE4M3)"),
        Wrong("MX block size 32", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    av = formats.decode(a_codes, "e2m1").double() * formats.decode(sf_a, "ue4m3").double().repeat_interleave(32, 1)
    bv = formats.decode(b_codes, "e2m1").double() * formats.decode(sf_b, "ue4m3").double().repeat_interleave(32, 1).T
    return (av @ bv).float()
""", "NVFP4 blocks hold 16"),
        Wrong("block size 32, cropped to fit", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    sa = formats.decode(sf_a, "ue4m3").double().repeat_interleave(32, 1)[:, :64]
    sb = formats.decode(sf_b, "ue4m3").double().repeat_interleave(32, 1)[:, :64]
    return ((formats.decode(a_codes, "e2m1").double() * sa) @ (formats.decode(b_codes, "e2m1").double() * sb.T)).float()
""", "NVFP4 blocks hold 16"),
        Wrong("scales decoded as UE8M0", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    av = formats.decode(a_codes, "e2m1").double() * formats.decode(sf_a, "ue8m0").double().repeat_interleave(16, 1)
    bv = formats.decode(b_codes, "e2m1").double() * formats.decode(sf_b, "ue8m0").double().repeat_interleave(16, 1).T
    return (av @ bv).float()
""", "not UE8M0"),
        Wrong("sf_b not transposed", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    av = formats.decode(a_codes, "e2m1").double() * formats.decode(sf_a, "ue4m3").double().repeat_interleave(16, 1)
    bv = formats.decode(b_codes, "e2m1").double() * formats.decode(sf_b, "ue4m3").double().repeat_interleave(16, 1)
    return (av @ bv).float()
""", "transpose it"),
        Wrong("bfloat16 operands and D, to save memory", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    sa = formats.decode(sf_a, "ue4m3").repeat_interleave(16, dim=1)
    sb = formats.decode(sf_b, "ue4m3").repeat_interleave(16, dim=1)
    a = (formats.decode(a_codes, "e2m1") * sa).to(torch.bfloat16)
    b = (formats.decode(b_codes, "e2m1") * sb.T).to(torch.bfloat16)
    return a @ b
""", "return D as float32"),
        Wrong("D cast to half at the end", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    sa = formats.decode(sf_a, "ue4m3").repeat_interleave(16, dim=1)
    sb = formats.decode(sf_b, "ue4m3").repeat_interleave(16, dim=1)
    return ((formats.decode(a_codes, "e2m1") * sa) @ (formats.decode(b_codes, "e2m1") * sb.T)).half()
""", "return D as float32"),
        Right("float32 throughout", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    sa = formats.decode(sf_a, "ue4m3").repeat_interleave(16, dim=1)
    sb = formats.decode(sf_b, "ue4m3").repeat_interleave(16, dim=1)
    return (formats.decode(a_codes, "e2m1") * sa) @ (formats.decode(b_codes, "e2m1") * sb.T)
"""),
        Right("block by block with numpy", """
import numpy as np
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    a = formats.decode(a_codes, "e2m1").numpy().astype(np.float64)
    b = formats.decode(b_codes, "e2m1").numpy().astype(np.float64)
    sa = formats.decode(sf_a, "ue4m3").numpy().astype(np.float64)
    sb = formats.decode(sf_b, "ue4m3").numpy().astype(np.float64)
    d = np.zeros((a.shape[0], b.shape[1]))
    for j in range(4):
        blk = slice(16 * j, 16 * j + 16)
        d += (a[:, blk] @ b[blk, :]) * sa[:, j:j + 1] * sb[:, j][None, :]
    return torch.from_numpy(d.astype(np.float32))
"""),
        Wrong('repeat instead of repeat_interleave', """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    sa = formats.decode(sf_a, "ue4m3").double().repeat(1, 16)
    sb = formats.decode(sf_b, "ue4m3").double().repeat(1, 16)
    return ((formats.decode(a_codes, "e2m1").double() * sa) @ (formats.decode(b_codes, "e2m1").double() * sb.T)).float()
""", 'repeat(1, 16) tiles the 4 scales'),
        Wrong("B's scales forgotten", """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    sa = formats.decode(sf_a, "ue4m3").double().repeat_interleave(16, 1)
    return ((formats.decode(a_codes, "e2m1").double() * sa) @ formats.decode(b_codes, "e2m1").double()).float()
""", 'sf_b was not applied'),
        Wrong('divided by the scales', """
def my_mma_nvfp4(a_codes, sf_a, b_codes, sf_b):
    sa = formats.decode(sf_a, "ue4m3").double().repeat_interleave(16, 1)
    sb = formats.decode(sf_b, "ue4m3").double().repeat_interleave(16, 1)
    return ((formats.decode(a_codes, "e2m1").double() / sa) @ (formats.decode(b_codes, "e2m1").double() / sb.T)).float()
""", 'you divided'),
    ],
    "01.5": [
        Wrong("latency only", """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return math.ceil(load_latency_ns / mma_ns)
""", "counts only the wait"),
        Wrong("latency over MMA, plus one", """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return math.ceil(load_latency_ns / mma_ns) + 1
""", "leaves out the transfer"),
        Wrong("slot freed when the data lands", """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return math.ceil((load_latency_ns + transfer_ns) / mma_ns)
""", "stays busy during the MMA"),
        Wrong("round to nearest", """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return round((load_latency_ns + transfer_ns + mma_ns) / mma_ns)
""", "round up"),
        Wrong("not rounded", """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return (load_latency_ns + transfer_ns + mma_ns) / mma_ns
""", "whole number of stages"),
        Wrong("int() truncates", """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return int((load_latency_ns + transfer_ns + mma_ns) / mma_ns)
""", "round up"),
        Right("floor division trick", """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return int(-(-(load_latency_ns + transfer_ns + mma_ns) // mma_ns))
"""),
        Right("count until covered", """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    cycle = load_latency_ns + transfer_ns + mma_ns     # one slot: load, land, be read
    s = 1
    while s * mma_ns < cycle - 1e-9:
        s += 1
    return s
"""),
        Wrong('floor + 1', """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return int((load_latency_ns + transfer_ns + mma_ns) // mma_ns) + 1     # round up
""", 'floor + 1 is math.ceil only'),
        Wrong('divided by the transfer time', """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return math.ceil((load_latency_ns + transfer_ns + mma_ns) / transfer_ns)
""", 'divide by mma_ns'),
        Wrong('a ceil per term', """
def stages_to_hide_latency(load_latency_ns, transfer_ns, mma_ns):
    return math.ceil(load_latency_ns / mma_ns) + math.ceil(transfer_ns / mma_ns) + 1
""", 'a ceil per term'),
    ],
    "01.6": [
        Wrong("wgmma taken for Blackwell", """
def name_generations():
    return {"X": "Hopper", "Y": "Ampere", "Z": "Blackwell"}
""", "wgmma (warpgroup MMA) is Hopper's"),
        Wrong("targets instead of names", """
def name_generations():
    return {"X": "sm_100a", "Y": "sm_80", "Z": "sm_90a"}
""", "not the target"),
        Wrong("mma.sync taken for Hopper", """
def name_generations():
    return {"X": "Blackwell", "Y": "Hopper", "Z": "Ampere"}
""", "mma.sync + ldmatrix is Ampere's"),
        Wrong("a name that is not an option", """
def name_generations():
    return {"X": "Blackwell (datacenter)", "Y": "Ampere", "Z": "Hopper"}
""", "write exactly one of"),
        Right("lower case", """
def name_generations():
    return {"X": "blackwell", "Y": "ampere", "Z": "hopper"}
"""),
        Right("from the instructions seen", """
def name_generations():
    seen = {"X": "tcgen05.mma", "Y": "mma.sync", "Z": "wgmma.mma_async"}
    gen = {"mma.sync": "Ampere", "wgmma.mma_async": "Hopper", "tcgen05.mma": "Blackwell"}
    return {label: gen[op] for label, op in seen.items()}
"""),
        Wrong('release order', """
def name_generations():
    return {"X": "Ampere", "Y": "Hopper", "Z": "Blackwell"}
""", 'all three labels are wrong'),
        Wrong('a list in label order', """
def name_generations():
    return ["Blackwell", "Ampere", "Hopper"]
""", 'return a dict {label: generation}'),
    ],
    "01.7": [
        Wrong("the pair's rows not split", """
def tmem_footprint_per_cta(M, N, cta_group):
    return M, N
""", "a CTA pair splits M"),
        Wrong("the pair splits N", """
def tmem_footprint_per_cta(M, N, cta_group):
    return M // cta_group, N // cta_group      # two CTAs share the columns
""", "splits M, not N"),
        Wrong("columns in bytes", """
def tmem_footprint_per_cta(M, N, cta_group):
    return M // cta_group, N * 4               # fp32 = 4 bytes
""", "counted in bytes"),
        Wrong("(columns, rows)", """
def tmem_footprint_per_cta(M, N, cta_group):
    return N, M // cta_group
""", "(rows, columns) in that order"),
        Wrong("M=64 as half the columns", """
def tmem_footprint_per_cta(M, N, cta_group):
    rows = M // cta_group
    return rows, N * rows // 128
""", "M=64 still takes N columns"),
        Right("a list", """
def tmem_footprint_per_cta(M, N, cta_group):
    return [M // cta_group, N]
"""),
        Right("numpy, with the per-CTA rows spelled out", """
import numpy as np
def tmem_footprint_per_cta(M, N, cta_group):
    rows = np.int64(128 if M == 256 and cta_group == 2 else M)
    return (rows, np.int64(N * 32 // 32))
"""),
        Wrong('the 32-column minimum', """
def tmem_footprint_per_cta(M, N, cta_group):
    return M // cta_group, max(32, N)          # TMEM is allocated in 32-column units
""", "the 32-column minimum is tcgen05.alloc's"),
        Wrong('M halved on one CTA too', """
def tmem_footprint_per_cta(M, N, cta_group):
    return M // 2, N
""", 'only a CTA pair splits M'),
        Wrong('columns counted in bits', """
def tmem_footprint_per_cta(M, N, cta_group):
    return M // cta_group, N * 32              # 32 bits per fp32 value
""", 'a TMEM column is 32 bits wide'),
        Wrong('the pair doubles the columns', """
def tmem_footprint_per_cta(M, N, cta_group):
    return M // cta_group, N * cta_group
""", 'not N x cta_group'),
        Wrong('one number: the TMEM cells', """
def tmem_footprint_per_cta(M, N, cta_group):
    return (M // cta_group) * N
""", 'return the pair (rows, columns)'),
    ],
}
