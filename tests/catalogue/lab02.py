"""Lab 02 (number formats): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

_ROUND_OK = """
def round_e2m1(x):
    a = min(abs(x), 6.0)
    best = 0
    for c in range(1, 8):
        d, db = abs(a - E2M1_GRID[c]), abs(a - E2M1_GRID[best])
        if d < db or (d == db and c % 2 == 0):
            best = c
    return -E2M1_GRID[best] if x < 0 else E2M1_GRID[best]
"""

CATALOGUE = {
    "02.1": [
        Wrong("the normal formula everywhere", """
def e2m1_value(code):
    s, e, m = code >> 3, (code >> 1) & 3, code & 1
    mag = (1 + m / 2) * 2.0 ** (e - 1)
    return -mag if s else mag
""", "no implicit leading 1"),
        Wrong("no bias", """
def e2m1_value(code):
    s, e, m = code >> 3, (code >> 1) & 3, code & 1
    mag = m / 2 if e == 0 else (1 + m / 2) * 2.0 ** e
    return -mag if s else mag
""", "forgot the bias"),
        Wrong("mantissa bit worth 1", """
def e2m1_value(code):
    s, e, m = code >> 3, (code >> 1) & 3, code & 1
    mag = m * 2.0 ** 0 if e == 0 else (1 + m) * 2.0 ** (e - 1)
    return -mag if s else mag
""", "worth 1/2"),
        Wrong("sign bit ignored", """
def e2m1_value(code):
    e, m = (code >> 1) & 3, code & 1
    return m / 2 if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
""", "bit 3 is the sign"),
        Wrong("code 1000 decoded as +0", """
def e2m1_value(code):
    s, e, m = code >> 3, (code >> 1) & 3, code & 1
    mag = m / 2 if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
    return -mag if s and mag else mag         # no "-0"
""", "code 1000 is -0.0"),
        Wrong("subnormal exponent -bias", """
def e2m1_value(code):
    s, e, m = code >> 3, (code >> 1) & 3, code & 1
    mag = (m / 2) * 2.0 ** (0 - 1) if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
    return -mag if s else mag
""", "smallest normal exponent"),
        Wrong("fields read as s m e e", """
def e2m1_value(code):
    s, m, e = code >> 3, (code >> 2) & 1, code & 3
    mag = m / 2 if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
    return -mag if s else mag
""", "the bits are s e e m"),
        Right("ldexp and a sign factor", """
import math
def e2m1_value(code):
    sign = -1.0 if code & 0b1000 else 1.0
    e, m = (code >> 1) & 0b11, code & 1
    if e == 0:
        return sign * math.ldexp(m, -1)
    return sign * math.ldexp(2 + m, e - 2)
"""),
        Right("table of the 8 magnitudes, numpy scalar", """
import numpy as np
def e2m1_value(code):
    mags = [m / 2 if e == 0 else (1 + m / 2) * 2 ** (e - 1) for e in range(4) for m in range(2)]
    return np.float32(-mags[code & 7] if code >= 8 else mags[code & 7])
"""),
        Wrong('exponent bits not shifted', """
def e2m1_value(code):
    s, e, m = code >> 3, code & 0b110, code & 1
    mag = m / 2 if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
    return -mag if s else mag
""", 'shift the exponent bits down'),
        Wrong('sign the wrong way round', """
def e2m1_value(code):
    s, e, m = code >> 3, (code >> 1) & 3, code & 1
    mag = m / 2 if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
    return (-1) ** (1 - s) * mag
""", 'the sign is inverted'),
        Wrong('bias 2', """
def e2m1_value(code):
    s, e, m = code >> 3, (code >> 1) & 3, code & 1
    bias = 2
    mag = (m / 2) * 2.0 ** (1 - bias) if e == 0 else (1 + m / 2) * 2.0 ** (e - bias)
    return -mag if s else mag
""", 'bias is 1, not 2'),
        Wrong('subnormal as m', """
def e2m1_value(code):
    s, e, m = code >> 3, (code >> 1) & 3, code & 1
    mag = float(m) if e == 0 else (1 + m / 2) * 2.0 ** (e - 1)
    return -mag if s else mag
""", 'a subnormal is 0.m'),
    ],
    "02.2": [
        Wrong("negative values that round to 0 lose the sign", """
def round_e2m1(x):
    a = min(abs(x), 6.0)
    best = min(range(8), key=lambda c: (abs(a - E2M1_GRID[c]), c % 2))
    if best == 0:
        return 0.0
    return -E2M1_GRID[best] if x < 0 else E2M1_GRID[best]
""", "-0.1 rounds to -0.0"),
        Wrong("NaN above the largest value", """
import math
def round_e2m1(x):
    if abs(x) > 6:
        return float("nan")          # not representable
    best = min(range(8), key=lambda c: (abs(abs(x) - E2M1_GRID[c]), c % 2))
    return math.copysign(E2M1_GRID[best], x)
""", "came back as NaN/inf"),
        Wrong("exponent/mantissa rounding, no clamp", """
import math
def round_e2m1(x):
    a = abs(x)
    if a == 0:
        return 0.0
    e = max(math.floor(math.log2(a)), 0)          # subnormals share the exponent of 1
    q = round(a / 2 ** e * 2) / 2 * 2 ** e         # one mantissa bit; round() is ties-to-even
    return math.copysign(q, x)
""", "must saturate"),
        Wrong("ties away from zero", """
def round_e2m1(x):
    a = min(abs(x), 6.0)
    best = min(range(8), key=lambda c: (abs(a - E2M1_GRID[c]), -c))
    return -E2M1_GRID[best] if x < 0 else E2M1_GRID[best]
""", "not away from zero"),
        Wrong("min() keeps the first neighbour", """
def round_e2m1(x):
    v = min(E2M1_GRID, key=lambda g: abs(min(abs(x), 6.0) - g))
    return -v if x < 0 else v
""", "min() keeps the first"),
        Wrong("truncation", """
def round_e2m1(x):
    a = min(abs(x), 6.0)
    v = max(g for g in E2M1_GRID if g <= a)
    return -v if x < 0 else v
""", "truncated"),
        Wrong("sign dropped", """
def round_e2m1(x):
    a = min(abs(x), 6.0)
    best = 0
    for c in range(1, 8):
        d, db = abs(a - E2M1_GRID[c]), abs(a - E2M1_GRID[best])
        if d < db or (d == db and c % 2 == 0):
            best = c
    return E2M1_GRID[best]
""", "sign was lost"),
        Wrong("returns the code", """
def round_e2m1(x):
    a = min(abs(x), 6.0)
    best = 0
    for c in range(1, 8):
        d, db = abs(a - E2M1_GRID[c]), abs(a - E2M1_GRID[best])
        if d < db or (d == db and c % 2 == 0):
            best = c
    return best
""", "not its code"),
        Right("round() per binade", """
def round_e2m1(x):
    a = abs(x)
    if a < 2:
        q = round(a * 2) / 2          # step 0.5; round() ties to even = even code here
    elif a < 4:
        q = float(round(a))           # step 1
    else:
        q = round(a / 2) * 2.0        # step 2
    q = min(q, 6.0)
    return -q if x < 0 else q
"""),
        Right("numpy argmin with an explicit tie rule", """
import numpy as np
def round_e2m1(x):
    grid = np.array(E2M1_GRID)
    d = np.abs(min(abs(x), 6.0) - grid)
    ties = np.flatnonzero(d == d.min())
    code = ties[0] if len(ties) == 1 else ties[ties % 2 == 0][0]
    return float(np.copysign(grid[code], x))
"""),
        Wrong('round(2x) / 2 in every binade', """
def round_e2m1(x):
    a = min(abs(x), 6.0)
    q = round(a * 2) / 2               # step 0.5, ties to even
    return -q if x < 0 else q
""", 'not on the E2M1 grid'),
        Wrong('saturation drops the sign', """
def round_e2m1(x):
    if abs(x) >= 6:
        return 6.0
    best = min(range(8), key=lambda c: (abs(abs(x) - E2M1_GRID[c]), c % 2))
    return -E2M1_GRID[best] if x < 0 else E2M1_GRID[best]
""", 'gives -6.0, not 6.0'),
        Wrong('ties to the odd code', """
def round_e2m1(x):
    a = min(abs(x), 6.0)
    best = min(range(8), key=lambda c: (abs(a - E2M1_GRID[c]), c % 2 == 0))
    return -E2M1_GRID[best] if x < 0 else E2M1_GRID[best]
""", 'you sent them to the odd one'),
        Wrong('rounded up', """
def round_e2m1(x):
    a = min(abs(x), 6.0)
    v = min(g for g in E2M1_GRID if g >= a)
    return -v if x < 0 else v
""", 'rounded up'),
    ],
    "02.3": [
        Wrong("ceil", """
def mx_shared_exponent(amax, emax_elem):
    return math.ceil(math.log2(amax)) - emax_elem
""", "ceil instead of floor"),
        Wrong("round", """
def mx_shared_exponent(amax, emax_elem):
    return round(math.log2(amax)) - emax_elem
""", "round where floor is meant"),
        Wrong("int() truncation", """
def mx_shared_exponent(amax, emax_elem):
    return int(math.log2(amax)) - emax_elem
""", "int() truncates"),
        Wrong("emax forgotten", """
def mx_shared_exponent(amax, emax_elem):
    return math.floor(math.log2(amax))
""", "forgot to subtract emax_elem"),
        Wrong("the scale, not the exponent", """
def mx_shared_exponent(amax, emax_elem):
    return 2.0 ** (math.floor(math.log2(amax)) - emax_elem)
""", "that is the scale 2^e"),
        Wrong("the E8M0 code", """
def mx_shared_exponent(amax, emax_elem):
    return math.floor(math.log2(amax)) - emax_elem + 127
""", "E8M0 code"),
        Wrong("RCEIL instead", """
def mx_shared_exponent(amax, emax_elem):
    max_elem = {2: 6.0, 4: 28.0, 8: 448.0, 15: 57344.0}[emax_elem]
    return math.ceil(math.log2(amax / max_elem))
""", "that is RCEIL"),
        Right("frexp", """
import math
def mx_shared_exponent(amax, emax_elem):
    _, e = math.frexp(amax)          # amax = m * 2^e with m in [0.5, 1)
    return e - 1 - emax_elem
"""),
        Right("numpy", """
import numpy as np
def mx_shared_exponent(amax, emax_elem):
    return int(np.floor(np.log2(np.float64(amax)))) - emax_elem
"""),
        Wrong("frexp's exponent as is", """
def mx_shared_exponent(amax, emax_elem):
    _, e = math.frexp(amax)
    return e - emax_elem
""", 'one more than floor(log2 amax)'),
        Wrong("E2M1's emax hard-coded", """
def mx_shared_exponent(amax, emax_elem):
    return math.floor(math.log2(amax)) - 2       # E2M1: emax = 2
""", "2 is E2M1's only"),
        Wrong('natural log', """
def mx_shared_exponent(amax, emax_elem):
    return math.floor(math.log(amax)) - emax_elem
""", 'use math.log2'),
    ],
    "02.4": [
        Wrong("MX blocks of 32", """
def nvfp4_block_scales(x):
    s_enc = torch.tensor(448.0 * 6.0) / x.abs().max()
    return F.round_to_format(x.reshape(-1, 32).abs().amax(1) * s_enc / 6.0, "ue4m3")
""", "NVFP4 blocks hold 16 (4 block scales for 64 values)"),
        Wrong("no tensor scale", """
def nvfp4_block_scales(x):
    return F.round_to_format(x.reshape(-1, 16).abs().amax(1) / 6.0, "ue4m3")
""", "left out the tensor-level S_enc"),
        Wrong("S_enc = 448 / amax", """
def nvfp4_block_scales(x):
    s_enc = 448.0 / x.abs().max()
    return F.round_to_format(x.reshape(-1, 16).abs().amax(1) * s_enc / 6.0, "ue4m3")
""", "not 448 / amax"),
        Wrong("S_enc per block", """
def nvfp4_block_scales(x):
    amax_b = x.reshape(-1, 16).abs().amax(1)
    s_enc = 448.0 * 6.0 / amax_b
    return F.round_to_format(amax_b * s_enc / 6.0, "ue4m3")
""", "amax of the whole tensor"),
        Wrong("codes instead of values", """
def nvfp4_block_scales(x):
    s_enc = torch.tensor(448.0 * 6.0) / x.abs().max()
    return F.encode(x.reshape(-1, 16).abs().amax(1) * s_enc / 6.0, "ue4m3")
""", "not their UE4M3 codes"),
        Wrong("the / 6 forgotten", """
def nvfp4_block_scales(x):
    s_enc = torch.tensor(448.0 * 6.0) / x.abs().max()
    return F.round_to_format(x.reshape(-1, 16).abs().amax(1) * s_enc, "ue4m3")
""", "the / 6 is missing"),
        Right("a loop over blocks", """
def nvfp4_block_scales(x):
    s_enc = torch.tensor(2688.0, dtype=torch.float32) / x.abs().max()
    out = []
    for i in range(0, x.numel(), 16):
        out.append(F.round_to_format(x[i:i + 16].abs().max() * s_enc / 6.0, "ue4m3"))
    return torch.stack(out)
"""),
        Right("encode then decode", """
def nvfp4_block_scales(x):
    s_enc = torch.tensor(448.0 * 6.0) / x.abs().max()
    blocks = x.view(x.numel() // 16, 16)
    return F.decode(F.encode(blocks.abs().max(dim=1).values * s_enc / 6.0, "ue4m3"), "ue4m3")
"""),
        Wrong('no abs', """
def nvfp4_block_scales(x):
    s_enc = torch.tensor(448.0 * 6.0) / x.max()
    return F.round_to_format(x.reshape(-1, 16).amax(1) * s_enc / 6.0, "ue4m3")
""", 'take .abs() before the max'),
        Wrong('the decode scale', """
def nvfp4_block_scales(x):
    s_dec = x.abs().max() / (448.0 * 6.0)
    return F.round_to_format(x.reshape(-1, 16).abs().amax(1) * s_dec / 6.0, "ue4m3")
""", 'is the decode scale'),
        Wrong('keepdim=True', """
def nvfp4_block_scales(x):
    s_enc = torch.tensor(448.0 * 6.0) / x.abs().max()
    amax_b = x.reshape(-1, 16).abs().amax(dim=1, keepdim=True)
    return F.round_to_format(amax_b * s_enc / 6.0, "ue4m3")
""", 'return a 1-D tensor'),
        Wrong('not rounded to E4M3', """
def nvfp4_block_scales(x):
    s_enc = torch.tensor(448.0 * 6.0) / x.abs().max()
    return x.reshape(-1, 16).abs().amax(1) * s_enc / 6.0
""", 'round the scales to UE4M3'),
        Wrong('divided back by S_enc', """
def nvfp4_block_scales(x):
    s_enc = torch.tensor(448.0 * 6.0) / x.abs().max()
    sf = F.round_to_format(x.reshape(-1, 16).abs().amax(1) * s_enc / 6.0, "ue4m3")
    return sf / s_enc                  # in the data's units
""", 'not divided by S_enc'),
    ],
    "02.5": [
        Wrong("mxfp4 floor", 'answer_025 = "mxfp4 floor"', "mxfp4 floor:"),
        Wrong("mxfp4 rceil", 'answer_025 = "mxfp4 rceil"', "mxfp4 rceil:"),
        Wrong("not an option", 'answer_025 = "NVFP4 (E4M3 scales)"', "not one of the options"),
        Right("capitalised", 'answer_025 = "NVFP4"'),
        Right("padded", 'answer_025 = " nvfp4 "'),
    ],
    "02.6": [
        Wrong("element 0 in the high nibble", """
def pack_pairs(codes):
    return (codes[..., 0::2] << 4) | codes[..., 1::2]
""", "LOW nibble"),
        Wrong("shift by 8", """
def pack_pairs(codes):
    return codes[..., 0::2] | (codes[..., 1::2] << 8)
""", "shift by 4"),
        Wrong("the two halves", """
def pack_pairs(codes):
    n = codes.shape[-1] // 2
    return codes[..., :n] | (codes[..., n:] << 4)
""", "not its two halves"),
        Wrong("along the rows", """
def pack_pairs(codes):
    return codes[0::2] | (codes[1::2] << 4)
""", "not along the rows"),
        Wrong("flattened", """
def pack_pairs(codes):
    flat = codes.flatten()
    return flat[0::2] | (flat[1::2] << 4)
""", "keep the leading dimensions"),
        Right("multiply and add", """
def pack_pairs(codes):
    return (codes[..., 1::2].int() * 16 + codes[..., 0::2].int()).to(torch.uint8)
"""),
        Right("reshape into pairs, numpy", """
import numpy as np
def pack_pairs(codes):
    c = codes.numpy().reshape(*codes.shape[:-1], -1, 2)
    return (c[..., 0] | (c[..., 1] << 4)).astype(np.uint8)
"""),
        Wrong('2-D indexing', """
def pack_pairs(codes):
    return codes[:, 0::2] | (codes[:, 1::2] << 4)
""", 'index the last dimension with ...'),
        Wrong('+ before << (precedence)', """
def pack_pairs(codes):
    return codes[..., 0::2] + codes[..., 1::2] << 4
""", 'operator precedence'),
        Wrong('& instead of |', """
def pack_pairs(codes):
    return codes[..., 0::2] & (codes[..., 1::2] << 4)
""", '& keeps only the bits both have'),
        Wrong("multiply and add, left in int32", """
def pack_pairs(codes):
    return codes[..., 1::2].int() * 16 + codes[..., 0::2].int()
""", "one uint8 byte per pair"),
        Wrong("widened to int64 to be safe", """
def pack_pairs(codes):
    c = codes.long()
    return c[..., 0::2] | (c[..., 1::2] << 4)
""", "one uint8 byte per pair"),
    ],
    "02.7": [
        Wrong("row-major", """
def scale_offset(m, kb, n_kb):
    return m * n_kb + kb
""", "plain row-major"),
        Wrong("16-byte and 4-byte slots swapped", """
def scale_offset(m, kb, n_kb):
    n_ktiles = -(-n_kb // 4)
    return (m // 128) * n_ktiles * 512 + (kb // 4) * 512 + (m % 32) * 4 + ((m % 128) // 32) * 16 + kb % 4
""", "you swapped them"),
        Wrong("n_ktiles rounded down", """
def scale_offset(m, kb, n_kb):
    n_ktiles = n_kb // 4
    return (m // 128) * n_ktiles * 512 + (kb // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + kb % 4
""", "ceil(n_kb / 4)"),
        Wrong("no tile offset", """
def scale_offset(m, kb, n_kb):
    return (m % 32) * 16 + ((m % 128) // 32) * 4 + kb % 4
""", "left out the tile index"),
        Wrong("n_ktiles as n_kb // 4 + 1", """
def scale_offset(m, kb, n_kb):
    n_ktiles = n_kb // 4 + 1              # round up
    return (m // 128) * n_ktiles * 512 + (kb // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + kb % 4
""", "one K tile too many"),
        Wrong("32-row group not wrapped", """
def scale_offset(m, kb, n_kb):
    n_ktiles = -(-n_kb // 4)
    return (m // 128) * n_ktiles * 512 + (kb // 4) * 512 + (m % 32) * 16 + (m // 32) * 4 + kb % 4
""", "(m % 128) // 32"),
        Right("divmod, step by step", """
import math
def scale_offset(m, kb, n_kb):
    tile_m, r = divmod(m, 128)
    group, lane = divmod(r, 32)
    tile_k, col = divmod(kb, 4)
    tile = tile_m * math.ceil(n_kb / 4) + tile_k
    return 512 * tile + 16 * lane + 4 * group + col
"""),
        Right("bit operations", """
def scale_offset(m, kb, n_kb):
    n_ktiles = (n_kb + 3) >> 2
    return (((m >> 7) * n_ktiles + (kb >> 2)) << 9) | ((m & 31) << 4) | (((m >> 5) & 3) << 2) | (kb & 3)
"""),
        Wrong('n_ktiles = round(n_kb / 4)', """
def scale_offset(m, kb, n_kb):
    n_ktiles = round(n_kb / 4)
    return (m // 128) * n_ktiles * 512 + (kb // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + kb % 4
""", 'round() rounds a quarter tile down'),
        Wrong('n_ktiles rounded half up', """
def scale_offset(m, kb, n_kb):
    n_ktiles = int(n_kb / 4 + 0.5)
    return (m // 128) * n_ktiles * 512 + (kb // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + kb % 4
""", 'round() rounds a quarter tile down'),
        Wrong('row blocks one tile apart', """
def scale_offset(m, kb, n_kb):
    return (m // 128) * 512 + (kb // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + kb % 4
""", 'multiply m // 128 by it'),
        Wrong('n_ktiles = n_kb', """
def scale_offset(m, kb, n_kb):
    return (m // 128) * n_kb * 512 + (kb // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + kb % 4
""", 'not n_kb'),
    ],
    "02.8": [
        Wrong("floor of the ratio", """
def mx_shared_exponent_rceil(amax, max_elem):
    return math.floor(math.log2(amax / max_elem))
""", "RCEIL rounds up"),
        Wrong("the OCP rule", """
def mx_shared_exponent_rceil(amax, max_elem):
    emax = math.floor(math.log2(max_elem))
    return math.floor(math.log2(amax)) - emax
""", "OCP's FLOOR rule"),
        Wrong("round", """
def mx_shared_exponent_rceil(amax, max_elem):
    return round(math.log2(amax / max_elem))
""", "round where ceil is meant"),
        Wrong("no division", """
def mx_shared_exponent_rceil(amax, max_elem):
    return math.ceil(math.log2(amax))
""", "divide amax by max_elem"),
        Wrong("ratio upside down", """
def mx_shared_exponent_rceil(amax, max_elem):
    return math.ceil(math.log2(max_elem / amax))
""", "upside down"),
        Wrong("int() truncation", """
def mx_shared_exponent_rceil(amax, max_elem):
    return int(math.log2(amax / max_elem))
""", "int() truncates"),
        Right("frexp, exact", """
import math
def mx_shared_exponent_rceil(amax, max_elem):
    m, e = math.frexp(amax / max_elem)      # ratio = m * 2^e, m in [0.5, 1)
    return e - 1 if m == 0.5 else e
"""),
        Right("search the smallest power of two", """
def mx_shared_exponent_rceil(amax, max_elem):
    e = -140
    while amax / 2.0 ** e > max_elem:
        e += 1
    return e
"""),
        Wrong("frexp's exponent", """
def mx_shared_exponent_rceil(amax, max_elem):
    return math.frexp(amax / max_elem)[1]        # ratio = m * 2^e, m in [0.5, 1): e rounds up
""", "frexp's exponent (or floor + 1)"),
        Wrong('floor + 1', """
def mx_shared_exponent_rceil(amax, max_elem):
    return math.floor(math.log2(amax / max_elem)) + 1
""", "frexp's exponent (or floor + 1)"),
        Wrong("E2M1's max hard-coded", """
def mx_shared_exponent_rceil(amax, max_elem):
    return math.ceil(math.log2(amax / 6.0))
""", "6 is E2M1's only"),
        Wrong('max_elem truncated to an int', """
def mx_shared_exponent_rceil(amax, max_elem):
    return math.ceil(math.log2(amax / int(max_elem)))
""", 'max_elem is a float'),
    ],
}
