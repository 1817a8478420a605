"""CUDA C of the counter-based random kernels (part of :mod:`minigrad.kernels.cuda_src`)."""

from .cuda_src import RAW_KERNELS, RawKernelSource

# ------------------------------------------------------------------- counter-based random
# Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): ten
# rounds of two 32x32->64-bit products mixing a 128-bit counter with a 64-bit key. Group g of
# four 32-bit outputs is the block of counter (ctr + g, 0, 0) under key (key0, key1), so any
# element can be made by any thread, in any order, with the same result. The counter ctr (two
# uint32, low word first) lives in device memory: a draw reads it, and philox_advance then
# moves it past the groups used, so a draw is the same whether launched eagerly or replayed
# from a CUDA graph, and no host value is baked into a captured launch.
# Outputs: uniform in [0, 1) (float: the top 24 bits; double: 32 bits), or normal by the
# Box-Muller transform of consecutive pairs, computed in double and rounded to T.
PHILOX_M = (0xD2511F53, 0xCD9E8D57)
PHILOX_W = (0x9E3779B9, 0xBB67AE85)

_PHILOX_FILL = f"""
extern "C" __global__ void minigrad_philox_fill(
        T* __restrict__ out, const int n, const unsigned int key0, const unsigned int key1,
        const unsigned int* __restrict__ ctr, const int normal)
{{
    const int groups = (n + 3) / 4;
    const unsigned long long base = ((unsigned long long)ctr[1] << 32) | ctr[0];
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += step) {{
        const unsigned long long c64 = base + (unsigned long long)g;
        unsigned int c[4] = {{(unsigned int)c64, (unsigned int)(c64 >> 32), 0u, 0u}};
        unsigned int k0 = key0, k1 = key1;
        for (int r = 0; r < 10; ++r) {{
            const unsigned long long p0 = (unsigned long long){PHILOX_M[0]}u * c[0];
            const unsigned long long p1 = (unsigned long long){PHILOX_M[1]}u * c[2];
            const unsigned int n0 = (unsigned int)(p1 >> 32) ^ c[1] ^ k0;
            const unsigned int n2 = (unsigned int)(p0 >> 32) ^ c[3] ^ k1;
            c[1] = (unsigned int)p1;
            c[3] = (unsigned int)p0;
            c[0] = n0;
            c[2] = n2;
            k0 += {PHILOX_W[0]}u;
            k1 += {PHILOX_W[1]}u;
        }}
        T v[4];
        if (normal) {{
            for (int h = 0; h < 4; h += 2) {{
                const double u1 = ((double)c[h] + 1.0) * 2.3283064365386963e-10;  /* (0, 1] */
                const double u2 = (double)c[h + 1] * 2.3283064365386963e-10;      /* [0, 1) */
                const double rad = sqrt(-2.0 * log(u1));
                v[h] = (T)(rad * cos(6.283185307179586 * u2));
                v[h + 1] = (T)(rad * sin(6.283185307179586 * u2));
            }}
        }} else {{
            for (int h = 0; h < 4; ++h)
                v[h] = sizeof(T) == 4 ? (T)((float)(c[h] >> 8) * 5.9604644775390625e-08f)
                                      : (T)((double)c[h] * 2.3283064365386963e-10);
        }}
        for (int h = 0; h < 4; ++h) {{
            const long long i = g * 4 + h;
            if (i < n) out[i] = v[h];
        }}
    }}
}}
"""

# ctr += groups (64-bit, across the two words), by one thread
_PHILOX_ADVANCE = r"""
extern "C" __global__ void minigrad_philox_advance(unsigned int* ctr, const int groups)
{
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        const unsigned long long c = (((unsigned long long)ctr[1] << 32) | ctr[0])
            + (unsigned long long)(unsigned int)groups;
        ctr[0] = (unsigned int)c;
        ctr[1] = (unsigned int)(c >> 32);
    }
}
"""

RAW_KERNELS["philox_fill"] = RawKernelSource("minigrad_philox_fill", _PHILOX_FILL)
RAW_KERNELS["philox_advance"] = RawKernelSource("minigrad_philox_advance", _PHILOX_ADVANCE)
