"""Lab 05 (CuTe DSL): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

CATALOGUE = {
    "05.1": [
        Wrong("blocks row-major", """
blocked_8x8 = L.Layout(((4, 2), (4, 2)), ((4, 32), (1, 16)))
""", "blocks are stored row-major"),
        Wrong("column-major inside a block", """
blocked_8x8 = L.Layout(((4, 2), (4, 2)), ((1, 16), (4, 32)))
""", "inside a block your elements are column-major"),
        Wrong("a plain row-major matrix", """
blocked_8x8 = L.Layout((8, 8), (8, 1))
""", "plain row-major"),
        Wrong("flat rank-4 layout", """
blocked_8x8 = L.Layout((4, 2, 4, 2), (4, 16, 1, 32))
""", "must have the shape ((4,2),(4,2))"),
        Wrong("block strides in the inner sub-modes", """
blocked_8x8 = L.Layout(((4, 2), (4, 2)), ((16, 4), (32, 1)))
""", "wrong sub-modes"),
        Right("strides written as products", """
blocked_8x8 = L.Layout(((4, 2), (4, 2)), ((4, 4 * 4), (1, 2 * 16)))
"""),
        Right("a function of coordinates", """
def blocked_8x8(i, j):
    return 16 * (i // 4 + 2 * (j // 4)) + 4 * (i % 4) + j % 4
"""),
        Right("built by CuTe", """
blocked_8x8 = L.run_cute(lambda: cute.make_layout(((4, 2), (4, 2)), stride=((4, 16), (1, 32))))
"""),
    ],
    "05.2": [
        Wrong("repeat first", """
my_complement = L.Layout((2, 4), (12, 1))
""", "you put the repeat first"),
        Wrong("span of 16", """
my_complement = L.Layout((4, 2), (1, 16))
""", "3 x 4 = 12"),
        Wrong("only the holes of one copy", """
my_complement = L.Layout(4, 1)
""", "only the holes"),
        Wrong("3:4 and its complement together", """
my_complement = L.Layout((3, 4, 2), (4, 1, 12))
""", "covers the whole of [0, 24)"),
        Wrong("step 2's complement copied", """
my_complement = L.Layout((2, 3), (1, 8))
""", "complement of 4:2"),
        Right("asked CuTe", """
my_complement = L.run_cute(lambda: cute.complement(cute.make_layout(3, stride=4), 24))
"""),
        Right("nested first mode", """
my_complement = L.Layout(((2, 2), 2), ((1, 2), 12))
"""),
        Right("bwkit's plain-Python complement", """
my_complement = L.complement(L.Layout(3, 4), 24)
"""),
    ],
    "05.3": [
        Wrong("tile shape swapped", """
def tile_8x8(tile_m, tile_n):
    return L.run_cute(lambda: cute.zipped_divide(cute.make_layout((8, 8), stride=(8, 1)), (tile_n, tile_m)))
""", "swapped"),
        Wrong("logical_divide", """
def tile_8x8(tile_m, tile_n):
    return L.run_cute(lambda: cute.logical_divide(cute.make_layout((8, 8), stride=(8, 1)),
                                                  (cute.make_layout(tile_m), cute.make_layout(tile_n))))
""", "you used logical_divide"),
        Wrong("tiled_divide", """
def tile_8x8(tile_m, tile_n):
    return L.run_cute(lambda: cute.tiled_divide(cute.make_layout((8, 8), stride=(8, 1)), (tile_m, tile_n)))
""", "tiled_divide"),
        Wrong("CuTe called outside a JIT function", """
def tile_8x8(tile_m, tile_n):
    return cute.zipped_divide(cute.make_layout((8, 8), stride=(8, 1)), (tile_m, tile_n))
""", "inside a JIT function"),
        Wrong("always 4x2", """
def tile_8x8(tile_m, tile_n):
    return L.run_cute(lambda: cute.zipped_divide(cute.make_layout((8, 8), stride=(8, 1)), (4, 2)))
""", "ignores tile_m and tile_n"),
        Wrong("column-major matrix", """
def tile_8x8(tile_m, tile_n):
    return L.run_cute(lambda: cute.zipped_divide(cute.make_layout((8, 8), stride=(1, 8)), (tile_m, tile_n)))
""", "column-major matrix"),
        Wrong("the tiler as one layout", """
def tile_8x8(tile_m, tile_n):
    return L.run_cute(lambda: cute.zipped_divide(cute.make_layout((8, 8), stride=(8, 1)),
                                                 cute.make_layout((tile_m, tile_n))))
""", "the tiler is the tuple (tile_m, tile_n)"),
        Right("a tiler of layouts", """
def tile_8x8(tile_m, tile_n):
    return L.run_cute(lambda: cute.zipped_divide(cute.make_layout((8, 8), stride=(8, 1)),
                                                 (cute.make_layout(tile_m), cute.make_layout(tile_n))))
"""),
        Right("written by hand", """
def tile_8x8(tile_m, tile_n):
    return L.Layout(((tile_m, tile_n), (8 // tile_m, 8 // tile_n)), ((8, 1), (8 * tile_m, tile_n)))
"""),
    ],
    "05.4": [
        Wrong("row-major index", """
epilogue_tv = L.Layout((128, 32), (32, 1))
""", "row-major index"),
        Wrong("value stride 32", """
epilogue_tv = L.Layout((128, 32), (1, 32))
""", "not 32"),
        Wrong("(value, thread) order", """
epilogue_tv = L.Layout((32, 128), (128, 1))
""", "modes are swapped"),
        Wrong("strides swapped", """
epilogue_tv = L.Layout((128, 32), (128, 1))
""", "strides are swapped"),
        Right("threads grouped by warp", """
epilogue_tv = L.Layout(((32, 4), 32), ((1, 32), 128))
"""),
        Right("a function of (thread, value)", """
epilogue_tv = lambda t, v: t + 128 * v
"""),
        Right("built by CuTe", """
epilogue_tv = L.run_cute(lambda: cute.make_layout((128, 32), stride=(1, 128)))
"""),
    ],
    "05.5": [
        Wrong("no swizzle", """
def swizzled_chunk(r, c):
    return c
""", "no swizzle"),
        Wrong("rotation by the row", """
def swizzled_chunk(r, c):
    return (c + r) % 8
""", "rotation (c + r)"),
        Wrong("XOR with the whole row", """
def swizzled_chunk(r, c):
    return c ^ r
""", "whole row number"),
        Wrong("byte offset", """
def swizzled_chunk(r, c):
    return 16 * (c ^ (r % 8))
""", "byte offset"),
        Wrong("rotation the other way", """
def swizzled_chunk(r, c):
    return (c - r) % 8
""", "(c - r)"),
        Right("mask instead of modulo", """
def swizzled_chunk(r, c):
    return (c ^ r) & 0b111
"""),
        Right("bwkit's swizzle on the byte address", """
def swizzled_chunk(r, c):
    return L.swizzle(128 * r + 16 * c, 3, 4, 3) % 128 // 16
"""),
        Right("numpy integers", """
import numpy as np
def swizzled_chunk(r, c):
    return np.bitwise_xor(np.int64(c), np.int64(r) & 7)
"""),
    ],
    "05.6": [
        Wrong("forgot the 2 bytes", """
stage_bytes = (128 + 128) * 64
max_stages = 232448 // stage_bytes
""", "half a stage"),
        Wrong("only A", """
stage_bytes = 128 * 64 * 2
max_stages = 232448 // stage_bytes
""", "half a stage"),
        Wrong("the default TILE_N", """
stage_bytes = (128 + 256) * 64 * 2
max_stages = 232448 // stage_bytes
""", "TILE_N = 256"),
        Wrong("rounded up", """
import math
stage_bytes = (128 + 128) * 64 * 2
max_stages = math.ceil(232448 / stage_bytes)
""", "round down"),
        Wrong("true division", """
stage_bytes = (128 + 128) * 64 * 2
max_stages = 232448 / stage_bytes
""", "floor division"),
        Wrong("KiB as 1000 bytes", """
stage_bytes = (128 + 128) * 64 * 2
max_stages = 227 * 1000 // stage_bytes
""", "227 x 1024"),
        Wrong("4-byte elements", """
stage_bytes = (128 + 128) * 64 * 4
max_stages = 232448 // stage_bytes
""", "twice a stage"),
        Wrong("TILE_K = 128", """
stage_bytes = (128 + 128) * 128 * 2
max_stages = 227 * 1024 // stage_bytes
""", "twice a stage"),
        Wrong("the C tile counted in a stage", """
stage_bytes = (128 * 64 + 128 * 64 + 128 * 128) * 2
max_stages = 232448 // stage_bytes
""", "twice a stage"),
        Wrong("stage bytes in kB", """
stage_bytes = (128 + 128) * 64 * 2 / 1000
max_stages = 232448 // ((128 + 128) * 64 * 2)
""", "in kB"),
        Wrong("one stage kept spare", """
stage_bytes = (128 + 128) * 64 * 2
max_stages = 232448 // stage_bytes - 1
""", "no stage is kept spare"),
        Right("from bwkit.cute_gemm", """
stage_bytes = cg.smem_bytes(cg.GemmConfig(TILE_N=128, STAGES=2)) // 2
max_stages = 227 * 1024 // stage_bytes
"""),
        Right("numpy ints and int()", """
import numpy as np
stage_bytes = np.int64(2 * 64 * (128 + 128))
max_stages = int(232448 / stage_bytes)
"""),
    ],
    "05.7": [
        Wrong("BF16 output", """
my_kernel = cg.compile_gemm(1024, 1024, 1024, config=cg.GemmConfig(TILE_N=128, STAGES=6, EPI_N=16))
""", "pass dtype='fp16'"),
        Wrong("default EPI_N", """
my_kernel = cg.compile_gemm(1024, 1024, 1024, dtype="fp16", config=cg.GemmConfig(TILE_N=128, STAGES=6))
""", "EPI_N=16"),
        Wrong("TILE_N 64", """
my_kernel = cg.compile_gemm(1024, 1024, 1024, dtype="fp16", config=cg.GemmConfig(TILE_N=64, STAGES=6, EPI_N=16))
""", "TILE_N is not 128"),
        Wrong("default STAGES", """
my_kernel = cg.compile_gemm(1024, 1024, 1024, dtype="fp16", config=cg.GemmConfig(TILE_N=128, EPI_N=16))
""", "STAGES=6"),
        Wrong("kept the PTX text", """
my_kernel = cg.compile_gemm(1024, 1024, 1024, dtype="fp16", config=cg.GemmConfig(TILE_N=128, STAGES=6, EPI_N=16)).ptx
""", "Compiled object itself"),
        Wrong("the NVFP4 kernel", """
my_kernel = cg.compile_gemm_nvfp4(1024, 1024, 1024)
""", "NVFP4 kernel"),
        Right("keywords in another order", """
my_kernel = cg.compile_gemm(M=1024, N=1024, K=1024, dtype="fp16", config=cg.GemmConfig(EPI_N=16, STAGES=6, TILE_N=128))
"""),
        Right("dataclasses.replace, another size", """
import dataclasses
cfg = dataclasses.replace(cg.GemmConfig(), TILE_N=128, STAGES=6, EPI_N=16)
my_kernel = cg.compile_gemm(2048, 2048, 2048, "fp16", cfg)
"""),
    ],
    "05.8": [
        Wrong("kind without the block size", """
def mma_kind(ptx):
    m = re.search(r"tcgen05\\.mma\\.cta_group::\\d\\.kind::(\\w+)", ptx)
    return m.group(1) if m else "none"
""", "add the scale block size"),
        Wrong("every qualifier", """
def mma_kind(ptx):
    m = re.search(r"tcgen05\\.mma\\.cta_group::\\d\\.kind::([\\w.:]+)", ptx)
    return m.group(1) if m else "none"
""", "collector qualifier"),
        Wrong("block_scale kept", """
def mma_kind(ptx):
    m = re.search(r"tcgen05\\.mma\\.cta_group::\\d\\.kind::(\\w+)((?:\\.block_scale\\.block\\d+)?)", ptx)
    return m.group(1) + m.group(2) if m else "none"
""", "leave out 'block_scale'"),
        Wrong("no match not handled", """
def mma_kind(ptx):
    m = re.search(r"tcgen05\\.mma\\.cta_group::\\d\\.kind::(\\w+)(?:\\.block_scale\\.(block\\d+))?", ptx)
    return m.group(1) + ("." + m.group(2) if m.group(2) else "")
""", "return 'none' then"),
        Wrong("optional block group concatenated", """
def mma_kind(ptx):
    m = re.search(r"tcgen05\\.mma\\.cta_group::\\d\\.kind::(\\w+)(?:\\.block_scale\\.(block\\d+))?", ptx)
    if m is None:
        return "none"
    return m.group(1) + "." + m.group(2)
""", "the block size is optional"),
        Wrong("the lab's two answers", """
def mma_kind(ptx):
    return "mxf4nvf4.block16" if "block_scale" in ptx else "f16"
""", "one of the lab's two answers"),
        Wrong("the whole kind:: token", """
def mma_kind(ptx):
    m = re.search(r"kind::\\w+", ptx)
    return m.group(0) if m else "none"
""", "drop the 'kind::' prefix"),
        Wrong("the last MMA", """
def mma_kind(ptx):
    found = re.findall(r"tcgen05\\.mma\\.cta_group::\\d\\.kind::(\\w+)(?:\\.block_scale\\.(block\\d+))?", ptx)
    if not found:
        return "none"
    kind, block = found[-1]
    return kind + ("." + block if block else "")
""", "the last tcgen05.mma"),
        Wrong("'.16' without the word block", """
def mma_kind(ptx):
    m = re.search(r"tcgen05\\.mma\\.cta_group::\\d\\.kind::(\\w+)(?:\\.block_scale\\.block(\\d+))?", ptx)
    if m is None:
        return "none"
    return m.group(1) + ("." + m.group(2) if m.group(2) else "")
""", "with the word 'block'"),
        Wrong("cta_group::1 hard-coded", """
def mma_kind(ptx):
    m = re.search(r"tcgen05\\.mma\\.cta_group::1\\.kind::(\\w+)(?:\\.block_scale\\.(block\\d+))?", ptx)
    if m is None:
        return "none"
    return m.group(1) + ("." + m.group(2) if m.group(2) else "")
""", "cta_group::2"),
        Wrong("an empty string for no MMA", """
def mma_kind(ptx):
    m = re.search(r"tcgen05\\.mma\\.cta_group::\\d\\.kind::(\\w+)(?:\\.block_scale\\.(block\\d+))?", ptx)
    if m is None:
        return ""
    return m.group(1) + ("." + m.group(2) if m.group(2) else "")
""", "return the string 'none'"),
        Right("split the first line", """
def mma_kind(ptx):
    for line in ptx.splitlines():
        words = line.split()
        if words and words[0].startswith("tcgen05.mma."):
            parts = words[0].split(".")
            kind = next(p for p in parts if p.startswith("kind::"))[len("kind::"):]
            block = [p for p in parts if p.startswith("block") and p[5:].isdigit()]
            return kind + ("." + block[0] if block else "")
    return "none"
"""),
        Right("finditer and named groups", """
def mma_kind(ptx):
    pattern = re.compile(r"tcgen05\\.mma\\.cta_group::[12]\\.kind::(?P<kind>[a-z0-9]+)"
                         r"(\\.block_scale\\.(?P<b>block\\d+))?")
    for m in pattern.finditer(ptx):
        return m["kind"] + (f".{m['b']}" if m["b"] else "")
    return "none"
"""),
    ],
}
