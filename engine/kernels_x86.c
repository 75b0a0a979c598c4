/* kernels_x86.c: AVX-512 (VNNI) and AVX2 kernels behind the dispatch tables
 * of kernels.h.  Compiled on x86 only; every function carries its own target
 * attribute so the baseline build needs no -march flag and the code only runs
 * after cpu.c has checked the CPU.
 *
 * What each family does (see kernels.h for the contract):
 *  - conv / fc as GEMM: (M = n*out_h*out_w rows) x (K = k_h*k_w*in_c) times
 *    (K x out_c).  Weights packed once into 64-column panels (4 vectors of
 *    16 lanes); a 6-row x 64-column register tile (24 accumulators).  int8:
 *    vpdpbusd on 4-k groups (u8 activations broadcast, s8 weights packed as
 *    [k/4][col][4]); float: FMA with the activation broadcast.  1x1 stride-1
 *    convs read input rows in place; other convs gather each 6-row tile's
 *    patches (padded taps = the input zero point, so the folded bias holds;
 *    float gathers only border patches and reads the rest in place).
 *    Bias, requantization (TFLite double rounding, exact; ReLU6 layers in
 *    float32 with an exact fallback, rq_float) and the activation clamp are
 *    fused into the tile's epilogue.  A uint8 model's weight zero
 *    point is folded into the weights where w - w_zp fits in int8, with a
 *    fix-up per outlier tap (struct qfix); otherwise per-row sums.
 *  - full convs with short kernel rows (k_w*in_c <= 16 values: the 3x3x3
 *    stem) skip the gather: int8 repacks each output row's input rows once
 *    into columns so a patch is K contiguous bytes (qdirect_run; AVX2:
 *    widened to int16, qgemm2_direct); float reads each kernel row of a
 *    patch in place as one run of the input row (fdirect_run); a tile's
 *    pixels one stride apart.
 *  - depthwise (multiplier 1).  int8 3x3 (VNNI, qdw3): each input row is
 *    interleaved once into tap-ready 4-byte groups (three columns and a 0)
 *    in a per-thread ring of rows, so an output block is 12 vpdpbusd
 *    straight from three ring rows, requantized with rq_apply (9 ops;
 *    ReLU6 layers: rq_float, 5);
 *    the weights are w - w_zp clamped to int8, outlier taps' excess in
 *    byte 3 of the groups (one column a channel) or in extra passes.  Other kernel
 *    sizes up to 5x5 and 7x7 maps with many channels (qdw4): four taps' bytes
 *    interleaved per step with unpacks, then vpdpbusd.  Without VNNI: u8
 *    widened to int16, two taps interleaved, vpmaddwd.  float: a pointer per
 *    tap (padded taps point at zeros), FMA, 16 channels a vector.
 *  - residual ADD: TFLite's quantized ADD, 16 lanes at a time.
 *  - fused float block (AVX-512 tables): expand 1x1 -> depthwise 3x3 ->
 *    project 1x1 [-> residual ADD] output row by output row, the expanded
 *    rows in a per-thread ring, with the GEMM tiles and depthwise sweeps
 *    above (same floats as the layers run one by one).
 * Shapes a family does not handle fast (depthwise multiplier != 1, ...) are
 * handed to the portable table from inside, with its own pack.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>

#include "cpu.h"
#include "kernels.h"
#include "quant.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define TVNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma")))
#define TAVX2 __attribute__((target("avx2,fma")))
#define TAVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define TVBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,avx2,fma")))
#define TAMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,amx-tile,amx-int8")))
#define INL static inline __attribute__((always_inline))

#define MR 6          /* rows of a full-width (64-column) GEMM tile */
#define RMAX 24       /* rows of the narrowest (16-column) tile */
#define PANEL 64      /* columns of a weight panel (4 zmm vectors) */
#define ROWCHUNK 48   /* rows of a task (8 tiles) */


/* Tile rows for a tile of nv 16-column vectors: 24 accumulators either way,
 * so narrow layers (16-32 output channels) still amortize each weight load. */
static inline int rows_for(int nv)
{
    return nv == 1 ? 24 : nv == 2 ? 12 : nv == 3 ? 8 : 6;
}

/* The first left lanes of 16, 32 or 64 (all when left is at least that): a
 * load's or store's tail mask. */
static inline __mmask16 lanes16(int left)
{
    return left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
}

static inline __mmask32 lanes32(int left)
{
    return left >= 32 ? ~(__mmask32)0 : ((__mmask32)1 << left) - 1;
}

static inline __mmask64 lanes64(size_t left)
{
    return left >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << left) - 1;
}

/* d clamped to int8 (a weight minus its zero point; the excess goes elsewhere). */
static inline int clamp_s8(int d)
{
    return d < -128 ? -128 : d > 127 ? 127 : d;
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}


/* Every pack starts with this header; the rest of the allocation follows. */
enum { PK_C = 1, PK_QGEMM, PK_FGEMM, PK_QDW, PK_FDW, PK_QDW4, PK_QDW3, PK_QGEMM2, PK_QAMX };

struct xpack {
    int kind;
    void *c_packed;     /* PK_C: the portable table's pack */
    size_t c_scratch;
};

/* Zeroed, 64-byte aligned (large packs on huge pages: mnet_alloc_big). */
static void *x_alloc(size_t size)
{
    return mnet_alloc_big(size);
}

/* The float weight blocks under MNET_HUGE_MIN (about 7 MB of v2's, ~50
 * blocks on 4 KiB pages each) share 2 MiB huge-page chunks instead, so the
 * weights an image streams through span a few TLB entries: blocks are cut
 * in order from the current chunk, whose header counts the live ones; a
 * chunk goes when its last block does.  Blocks of MNET_HUGE_MIN or more keep
 * their own pages (2 MiB aligned: offset 0 in their chunk, which no shared
 * block has).  Packing is load time only: a spin lock does. */
#define POOL_CHUNK ((size_t)2 << 20)
struct pool_chunk {
    size_t used; /* bytes handed out, header included */
    int live;    /* blocks not yet freed */
};
static struct pool_chunk *pool_cur;
static atomic_flag pool_lock = ATOMIC_FLAG_INIT;

static void *x_alloc_shared(size_t size)
{
    size = mnet_round_up(size, 64);
    if (size >= MNET_HUGE_MIN)
        return x_alloc(size);
    while (atomic_flag_test_and_set_explicit(&pool_lock, memory_order_acquire))
        ;
    struct pool_chunk *c = pool_cur;
    if (!c || c->used + size > POOL_CHUNK) {
        c = mnet_alloc_big(POOL_CHUNK); /* zeroed: blocks are never reused */
        if (c) { /* the old one (if any) still has live blocks: their last free frees it */
            c->used = 64;
            pool_cur = c;
        }
    }
    void *p = NULL;
    if (c) {
        p = (char *)c + c->used;
        c->used += size;
        c->live++;
    }
    atomic_flag_clear_explicit(&pool_lock, memory_order_release);
    return p;
}

static void x_free_shared(void *p)
{
    uintptr_t off = (uintptr_t)p & (POOL_CHUNK - 1);
    if (!off) {
        free(p); /* NULL or a block of its own */
        return;
    }
    struct pool_chunk *c = (struct pool_chunk *)((uintptr_t)p - off);
    while (atomic_flag_test_and_set_explicit(&pool_lock, memory_order_acquire))
        ;
    if (!--c->live) {
        if (c == pool_cur)
            pool_cur = NULL; /* its used bytes are not zero any more */
        free(c);
    }
    atomic_flag_clear_explicit(&pool_lock, memory_order_release);
}

/* Hand the layer to the portable kernels, keeping their pack inside ours. */
static int q_fallback(struct mnet_qconv *l, int max_batch, int threads, int dw)
{
    struct xpack *p = x_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    struct mnet_qconv tmp = *l;
    tmp.packed = NULL;
    int rc = dw ? mnet_kernels_c.qdw_prepare(&tmp, max_batch, threads)
                : mnet_kernels_c.qconv_prepare(&tmp, max_batch, threads);
    if (rc) {
        free(p);
        return rc;
    }
    p->kind = PK_C;
    p->c_packed = tmp.packed;
    p->c_scratch = tmp.scratch_bytes;
    l->packed = p;
    l->scratch_bytes = tmp.scratch_bytes;
    return 0;
}

static int f_fallback(struct mnet_fconv *l, int max_batch, int threads, int dw)
{
    struct xpack *p = x_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    struct mnet_fconv tmp = *l;
    tmp.packed = NULL;
    int rc = dw ? mnet_kernels_c.fdw_prepare(&tmp, max_batch, threads)
                : mnet_kernels_c.fconv_prepare(&tmp, max_batch, threads);
    if (rc) {
        free(p);
        return rc;
    }
    p->kind = PK_C;
    p->c_packed = tmp.packed;
    p->c_scratch = tmp.scratch_bytes;
    l->packed = p;
    l->scratch_bytes = tmp.scratch_bytes;
    return 0;
}

/* A GEMM's tasks: row chunk ch x panel group gi (task ch * groups + gi). */
struct split {
    size_t M, unit;     /* rows; chunk bounds fall on multiples of unit */
    long units, chunks;
    int groups;
};

/* Rows in chunks of about ROWCHUNK, as many chunks as a multiple of the
 * threads and spread evenly over whole units, so the static schedule gives
 * each thread the same rows (at batch 1 with 2 threads, fixed 48-row chunks
 * gave one thread 61% of a 14x14 map); the panels into groups when there
 * are too few chunks to feed every thread.  Small M (7x7 maps, fully
 * connected at batch 1) is one chunk, so each weight panel is streamed
 * once.  unit: the tile rows of the narrowest panel (a multiple of MR), so
 * no chunk ends in a partial tile it could have filled. */
static struct split task_split(size_t M, size_t unit, int panels, int threads)
{
    struct split s = { M, unit, (long)((M + unit - 1) / unit), 1, 1 };
    if (M > 4 * ROWCHUNK) {
        s.chunks = (long)((M + ROWCHUNK - 1) / ROWCHUNK);
        s.chunks = (s.chunks + threads - 1) / threads * threads;
        s.chunks = s.chunks < s.units ? s.chunks : s.units;
    }
    while (s.groups < panels && s.chunks * s.groups < 4L * threads)
        s.groups *= 2;
    s.groups = s.groups < panels ? s.groups : panels;
    return s;
}

/* Task t of a GEMM with `panels` panels: panels [*p0, *p1) over rows
 * [*m0, *m1) (at most 4 * ROWCHUNK of them). */
static void split_task(const struct split *s, long t, int panels, int *p0, int *p1, size_t *m0,
                       size_t *m1)
{
    const long ch = t / s->groups;
    const int gi = (int)(t % s->groups);
    const size_t end = (size_t)(s->units * (ch + 1) / s->chunks) * s->unit;
    *p0 = panels * gi / s->groups;
    *p1 = panels * (gi + 1) / s->groups;
    *m0 = (size_t)(s->units * ch / s->chunks) * s->unit;
    *m1 = end < s->M ? end : s->M;
}

/* Float tile rows for nv 16-column vectors: few enough row pointers to stay
 * in general registers (rows_for's 12 rows of 2 vectors spilled them to
 * vector registers, and each move back takes an FMA port), still at least 8
 * accumulator chains for the FMA latency. */
static inline int frows_for(int nv)
{
    return nv == 1 ? 12 : nv == 2 ? 8 : nv == 3 ? 8 : 6;
}

/* The split unit of a GEMM whose narrowest panel has tiles of rm rows,
 * rounded to a multiple of MR (8-row tiles: 24). */
static size_t gemm_unit(int rm)
{
    return rm % MR ? (size_t)rm * MR / 2 : (size_t)rm;
}

/* The narrowest (last) panel's 16-column vectors of a GEMM with N columns. */
static int last_nv(int N)
{
    return ((N - 1) % PANEL) / 16 + 1;
}

/* The next layer's weights (mnet_qconv.pf) over a GEMM's tasks: task t
 * brings lines [t * per, t * per + per) of them into its L2 (each thread its
 * part), q lines per full row tile (its first `tiles`): at most one per k
 * step, on every 2^sh-th k step (up to 8 apart), so the prefetches spread
 * over the tile rather than taking every fill buffer at once.  Set up once
 * per run from one task's full tiles (the others have about as many; one
 * with fewer leaves the end of its lines alone). */
struct pfshare {
    const char *at;
    long lines, per, tiles;
    int q, sh;
};

/* What one tile prefetches: line i of at on k step i << sh, for k < lim. */
struct pfnext {
    const char *at;
    int lim, sh;
};

static struct pfshare pf_share(const void *pf, size_t bytes, long tasks, long tiles, int ksteps)
{
    struct pfshare s = { pf, 0, 0, 0, 0, 0 };
    if (!pf || !bytes || tiles <= 0 || ksteps <= 0)
        return s;
    s.lines = (long)((bytes + 63) / 64);
    s.per = (s.lines + tasks - 1) / tasks;
    const long q = (s.per + tiles - 1) / tiles;
    s.q = q < ksteps ? (int)q : ksteps;
    s.tiles = (s.per + s.q - 1) / s.q;
    while (s.sh < 3 && (long)s.q << (s.sh + 1) <= ksteps)
        s.sh++;
    return s;
}

/* Task t's full tile j (counted from 0 in the order they run), j < tiles. */
static struct pfnext pf_tile(const struct pfshare *s, long t, long j)
{
    struct pfnext x = { s->at, 0, 0 };
    const long first = t * s->per + j * s->q, end = t * s->per + s->per;
    const long left = (end < s->lines ? end : s->lines) - first;
    if (left > 0) {
        x.at = s->at + (size_t)first * 64;
        x.lim = (int)(left < s->q ? left : s->q) << s->sh;
        x.sh = s->sh;
    }
    return x;
}

/* ======================= requantization (AVX-512) ======================= */

/* MultiplyByQuantizedMultiplier(a, m, shift) per lane, TFLite's double
 * rounding, exactly, for m in [0, 2^31) (the kernel contract):
 *  - SaturatingRoundingDoublingHighMul(a, m) == floor((a*m + 2^30) / 2^31)
 *    (m >= 0 excludes INT32_MIN^2);
 *  - RoundingDivideByPOT(x, e) (ties away from zero) ==
 *    floor((x + 2^(e-1) - [x < 0]) / 2^e) for e > 0, x for e == 0.
 * The nudge rides in the 64-bit sum: rnd = 2^30 + 2^(e-1) * 2^31, and
 * [x < 0] is taken from a: for e > 0 they differ only when x == 0 > a,
 * where (2^(e-1) - 1) >> e == 2^(e-1) >> e == 0.
 * The accumulator starts at bias + 2^31 (mod 2^32; vpdpbusd and vpaddd
 * wrap, and the fix-ups and row corrections are additive), so it holds
 * u = a + 2^31 in [0, 2^32) for every int32 a: vpmuludq by 2m (< 2^32) plus
 * a 64-bit constant R gives 2(a*m + rnd) - 2^32 [e > 0] exactly
 * (mod 2^64), whose high dword is (a*m + rnd) >> 31 with its - [a < 0]
 * already taken for a >= 0: R = 2 rnd - 2^32 m - 2^32 [e > 0].  The high
 * dwords of the even and odd products land in their lanes with one
 * vpermt2d; subtracting srai(u, 31) = -[a >= 0] (masked to the lanes with
 * e > 0) leaves x + nudge - [a < 0], then the arithmetic shift by e:
 * 9 vector operations, 2 of them on the shift port.  Layers with a left
 * shift or a lane with e = 0 (rare) take two more masks (gen). */
enum { RQ_BIAS, RQ_MF, RQ_CF, RQ_ME, RQ_MO, RQ_RE, RQ_RO, RQ_RSH, RQ_ROWS }; /* MF, CF: rq_float */
enum { RQ_NEGM, RQ_LSH, RQ_GROWS }; /* only read by gen layers: apart, out of L1 */
#define RQ_V (RQ_ROWS * 16) /* int32 per 16-lane vector */
#define RQ_G (RQ_GROWS * 16)
#define RQ_BYTES(nvec) ((size_t)(nvec) * (RQ_V + RQ_G) * sizeof(int32_t))

struct rq {
    int32_t *q;         /* [vector][RQ_ROWS][16] */
    int32_t *g;         /* [vector][RQ_GROWS][16] */
    int gen;            /* some lane shifts left or has e = 0 */
    int fl;             /* rq_float first (rq_plain): the bias row holds bias, not bias + 2^31 */
};

/* rq_float's margin E: its estimate is within 3.02 * 2^-16 of the exact value
 * (see rq_float), so floor(t + E) with |error| < E is exact unless the
 * estimate's fraction is below 2E. */
#define RQ_E 0x1p-14f

/* nvec vectors' constants at `at` (RQ_BYTES(nvec), zeroed, 64-byte aligned).
 * Padding lanes get rq_float's constant 0.5, never ambiguous. */
static void rq_place(struct rq *r, void *at, size_t nvec)
{
    r->q = at;
    r->g = r->q + nvec * RQ_V;
    r->gen = 0;
    r->fl = 0;
    for (size_t v = 0; v < nvec; v++)
        for (int lane = 0; lane < 16; lane++)
            ((float *)r->q)[v * RQ_V + RQ_CF * 16 + lane] = 0.5f;
}

/* Lane `lane` of vector `vec`.  Lanes never set (zeros) are padding: their
 * results are not stored, and they must not set gen. */
static void rq_set(struct rq *r, size_t vec, int lane, int32_t bias, int32_t mult, int32_t shift)
{
    int32_t *q = r->q + vec * RQ_V, *g = r->g + vec * RQ_G;
    int32_t lsh = shift > 0 ? shift : 0, e = shift > 0 ? 0 : -shift;
    uint64_t rnd = ((uint64_t)1 << 30) + (e > 0 ? (uint64_t)1 << (e + 30) : 0);
    uint64_t r64 = 2 * rnd - ((uint64_t)(uint32_t)mult << 32) - (e > 0 ? (uint64_t)1 << 32 : 0);
    q[RQ_BIAS * 16 + lane] = (int32_t)((uint32_t)bias + 0x80000000u);
    q[(lane % 2 ? RQ_MO : RQ_ME) * 16 + lane / 2 * 2] = (int32_t)(2 * (uint32_t)mult);
    ((int64_t *)(q + (lane % 2 ? RQ_RO : RQ_RE) * 16))[lane / 2] = (int64_t)r64;
    q[RQ_RSH * 16 + lane] = e;
    /* rq_float: t = (a*m + rnd') / 2^(31+e), rnd' = 2^30 + 2^(30+e) the two
     * roundings' nudges for a >= 0 (rnd without the - [a < 0]) */
    ((float *)q)[RQ_MF * 16 + lane] = (float)ldexp((double)mult, -31 - e);
    ((float *)q)[RQ_CF * 16 + lane] = (float)(ldexp(1.0, -1 - e) + 0.5 + RQ_E);
    g[RQ_NEGM * 16 + lane] = e > 0 ? -1 : 0;
    g[RQ_LSH * 16 + lane] = lsh;
    r->gen |= lsh > 0 || e == 0; /* (mult 0, shift 0: a flushed tiny scale) */
}

/* The output zero point folded into lane `lane`'s rounding constant (e > 0
 * lanes only): (x + zp * 2^e) >> e == (x >> e) + zp exactly while
 * x + zp * 2^e stays in int32 (the caller bounds the accumulator).  The
 * epilogue then drops its zp add. */
static void rq_add_zp(struct rq *r, size_t vec, int lane, int32_t zp)
{
    int32_t *q = r->q + vec * RQ_V;
    int e = q[RQ_RSH * 16 + lane];
    uint64_t *r64 = (uint64_t *)(q + (lane % 2 ? RQ_RO : RQ_RE) * 16) + lane / 2;
    *r64 += (uint64_t)(uint32_t)zp << (e + 32); /* mod 2^64: the high dword gains zp * 2^e */
}

/* One vector's constants at buf (RQ_BYTES(1), zeroed, 64-byte aligned),
 * every lane alike: lanes 0-1 (one of each parity) set, then copied
 * (rq_set's two ldexp per lane took 0.5 us a call of the ADD). */
static void rq_uniform(struct rq *r, int32_t *buf, int32_t bias, int32_t mult, int32_t shift)
{
    rq_place(r, buf, 1);
    for (int lane = 0; lane < 2; lane++)
        rq_set(r, 0, lane, bias, mult, shift);
    for (int row = 0; row < RQ_ROWS + RQ_GROWS; row++)
        for (int lane = 2; lane < 16; lane++)
            buf[row * 16 + lane] = buf[row * 16 + lane % 2];
}

/* The biased accumulator a tile starts from: vector vec's bias + 2^31. */
INL const int32_t *rq_bias(const struct rq *r, size_t vec)
{
    return r->q + vec * RQ_V + RQ_BIAS * 16;
}

/* u = a + 2^31 (the biased accumulator) of vector vec -> the requantized a. */
T512 INL __m512i rq_apply(__m512i u, const struct rq *r, size_t vec, int gen)
{
    const int32_t *q = r->q + vec * RQ_V, *g = r->g + vec * RQ_G;
    const __m512i top = _mm512_set1_epi32(INT32_MIN);
    if (gen) /* a << lsh (wrapping), on the unbiased value */
        u = _mm512_xor_si512(_mm512_sllv_epi32(_mm512_xor_si512(u, top), _mm512_load_si512(g + RQ_LSH * 16)), top);
    __m512i t = _mm512_srai_epi32(u, 31);
    if (gen)
        t = _mm512_and_si512(t, _mm512_load_si512(g + RQ_NEGM * 16));
    __m512i ev = _mm512_mul_epu32(u, _mm512_load_si512(q + RQ_ME * 16));
    __m512i od = _mm512_mul_epu32(_mm512_shuffle_epi32(u, _MM_PERM_DDBB), _mm512_load_si512(q + RQ_MO * 16));
    ev = _mm512_add_epi64(ev, _mm512_load_si512(q + RQ_RE * 16));
    od = _mm512_add_epi64(od, _mm512_load_si512(q + RQ_RO * 16));
    /* lane i: the high dword of ev's qword i/2 (even i), of od's (odd i) */
    const __m512i hi = _mm512_set_epi32(31, 15, 29, 13, 27, 11, 25, 9, 23, 7, 21, 5, 19, 3, 17, 1);
    __m512i x = _mm512_permutex2var_epi32(ev, hi, od);
    return _mm512_srav_epi32(_mm512_sub_epi32(x, t), _mm512_load_si512(q + RQ_RSH * 16));
}

/* A plain layer (out_zp 0, out_min 0: every ReLU6 layer) without gen lanes
 * (e > 0, no left shift) takes rq_float first: only a >= 0 needs exactness
 * there (a < 0 gives <= 0, clamped to 0).  Its accumulators then start at
 * the bias itself (rq_vecs adds the 2^31 for rq_apply when it falls back). */
static void rq_plain(struct rq *r, size_t nvec, int plain)
{
    if (r->gen || !plain)
        return;
    for (size_t v = 0; v < nvec; v++)
        for (int lane = 0; lane < 16; lane++)
            r->q[v * RQ_V + RQ_BIAS * 16 + lane] ^= INT32_MIN;
    r->fl = 1;
}

/* A plain layer's unbiased accumulator a -> floor(y), y = fma(float(a), M,
 * C + E) (mf, cf: its vector's RQ_MF and RQ_CF rows, kept in registers by
 * callers that store bytes) for the exact t = a*M + C (M, C of rq_set; for
 * a >= 0 rq_apply's result is floor(t)).  Where t is in [-1, 257], float(a)
 * and M each err by 2^-24 relative (|a*M| < 258: 1.008 * 2^-16 each), C + E
 * by 2^-25 and the fma by half an ulp of 256: |y - E - t| < 3.02 * 2^-16 <
 * E = 4 * 2^-16 (both roundings are to nearest whatever MXCSR says), so
 * floor(y) == floor(t) unless frac(y) < 2E -- those lanes leave *ok
 * (about 2^-13 of them; E = 2^-13 sent twice as many to rq_apply).
 * Outside [-1, 257] the error stays relative and the clamp decides;
 * M < 2^-e <= 1/2 keeps y < 2^30 (no conversion overflow).  Large y
 * (>= 2^11) has a coarse fraction and leaves *ok more often: exact still,
 * only slower (a hostile image can at worst make a layer take rq_apply). */
T512 INL __m512i rq_float_mc(__m512i a, __m512 mf, __m512 cf, __mmask16 *ok)
{
    const int rn = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    __m512 y = _mm512_fmadd_round_ps(_mm512_cvt_roundepi32_ps(a, rn), mf, cf, rn);
    *ok = _mm512_mask_cmp_ps_mask(*ok, _mm512_reduce_ps(y, _MM_FROUND_TO_NEG_INF), _mm512_set1_ps(2 * RQ_E),
                                  _CMP_GE_OQ);
    return _mm512_cvt_roundps_epi32(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}

/* rq_float_mc with vector vec's constants (RQ_MF, RQ_CF). */
T512 INL __m512i rq_float(__m512i a, const struct rq *r, size_t vec, __mmask16 *ok)
{
    const float *q = (const float *)(r->q + vec * RQ_V);
    return rq_float_mc(a, _mm512_load_ps(q + RQ_MF * 16), _mm512_load_ps(q + RQ_CF * 16), ok);
}

/* rq_float's fallback, where some lane of a[0..n) was ambiguous: y[j] =
 * rq_apply of a[j] (vector vec + j % nv; rq_float layers keep bias, not
 * bias + 2^31, in their bias row). */
T512 INL void rq_float_exact(const struct rq *r, int n, int nv, size_t vec, const __m512i *a, __m512i *y)
{
    mnet_rq_fallbacks++;
    for (int j = 0; j < n; j++)
        y[j] = rq_apply(_mm512_xor_si512(a[j], _mm512_set1_epi32(INT32_MIN)), r, vec + (size_t)(j % nv), 0);
}

/* y[j] = the requantized accumulator a[j] of vector vec + j % nv, j < n:
 * rq_float when the layer has it (fl: r->fl, a constant where the caller
 * knows it) and no lane of the n is ambiguous (one predictable branch),
 * else rq_apply. */
T512 INL void rq_vecs(const struct rq *r, int fl, int n, int nv, size_t vec, const __m512i *a, __m512i *y)
{
    if (fl) {
        __mmask16 ok = 0xFFFF;
        for (int j = 0; j < n; j++)
            y[j] = rq_float(a[j], r, vec + (size_t)(j % nv), &ok);
        if (__builtin_expect(ok != 0xFFFF, 0))
            rq_float_exact(r, n, nv, vec, a, y);
        return;
    }
    for (int j = 0; j < n; j++)
        y[j] = rq_apply(a[j], r, vec + (size_t)(j % nv), r->gen);
}

/* Whether rq_apply is exact for every |a| <= amax with zp folded in
 * (rq_add_zp; 0: not).  Its high dword is x + 2^(e-1) + zp * 2^e - [a < 0]
 * for e > 0, x = SRDHM(a, m) in [-amax, (amax * m + 2^30) >> 31], and must
 * not leave int32 (only accumulators near 2^31, a hostile bias, make it);
 * without a right shift nothing is added (zp is never folded there). */
static int rq_fits(int64_t amax, int32_t mult, int32_t shift, int32_t zp)
{
    const int e = -shift;
    if (e <= 0)
        return zp == 0;
    if (e > 31 || amax > INT32_MAX)
        return 0;
    int64_t xmax = (amax * mult + ((int64_t)1 << 30)) >> 31, z = (int64_t)zp << e;
    return xmax + ((int64_t)1 << (e - 1)) + z <= INT32_MAX && z - amax - 1 >= INT32_MIN;
}

/* A bound on channel c's |accumulator| for u8 inputs: |bias - in_zp * sum
 * (w - w_zp)| + 255 * sum |w - w_zp| (weights [oc][K], depthwise [K][C]). */
static int64_t q_amax(const struct mnet_qconv *l, int dw, int c)
{
    const int C = l->g.out_c, K = dw ? l->g.k_h * l->g.k_w : l->g.k_h * l->g.k_w * l->g.in_c;
    int64_t s = 0, a = 0;
    for (int k = 0; k < K; k++) {
        int64_t d = (int64_t)l->w[dw ? (size_t)k * C + c : (size_t)c * K + k] - l->w_zp;
        s += d;
        a += 255 * llabs((long long)d);
    }
    return a + llabs((long long)((int64_t)l->bias[c] - l->in_zp * s));
}

/* The kernel contract's m in [0, 2^31), and rq_apply exact for every
 * accumulator the layer can reach; a layer outside them goes to the
 * portable kernels. */
static int rq_ok(const struct mnet_qconv *l, int dw)
{
    for (int c = 0; c < l->g.out_c; c++)
        if (l->mult[c] < 0 || !rq_fits(q_amax(l, dw, c), l->mult[c], l->shift[c], 0))
            return 0;
    return 1;
}

/* out_zp + four requantized vectors, clamped to [lo, hi], as bytes in the
 * order of two rounds of in-lane packs.  zp and the clamp run on 32 words /
 * 64 bytes after saturating packs: every step is monotone and saturates far
 * outside [0, 255], so the bytes equal the 32-bit clamp(v + zp, lo, hi). */
T512 INL __m512i pack_zp_clamp(__m512i a0, __m512i a1, __m512i a2, __m512i a3, int32_t zp,
                               int32_t lo, int32_t hi)
{
    const __m512i z = _mm512_set1_epi16((short)zp);
    __m512i p01 = _mm512_adds_epi16(_mm512_packs_epi32(a0, a1), z);
    __m512i p23 = _mm512_adds_epi16(_mm512_packs_epi32(a2, a3), z);
    __m512i y = _mm512_packus_epi16(p01, p23);
    return _mm512_min_epu8(_mm512_max_epu8(y, _mm512_set1_epi8((char)lo)), _mm512_set1_epi8((char)hi));
}

/* 64 bytes x through the 256-byte table t: vpermi2b over each 128-entry
 * half, merged on x's top bit. */
TVBMI INL __m512i lut256(const uint8_t *t, __m512i x)
{
    __m512i lo = _mm512_permutex2var_epi8(_mm512_loadu_si512(t), x, _mm512_loadu_si512(t + 64));
    __m512i hi = _mm512_permutex2var_epi8(_mm512_loadu_si512(t + 128), x, _mm512_loadu_si512(t + 192));
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi);
}

/* ======================= quantized ADD (AVX-512) ======================= */

/* TFLite's ADD, exactly: out = clamp(out_zp + mbqm(sa + sb, om, os)) with
 * sa = RoundingDivideByPOT(SRDHM(x << ls, m), e), x = a - a_zp (and sb
 * alike).  Each side in 32-bit lanes without 64-bit products: with
 * D = 2^(31-ls) and N = log2(D) + e, the two roundings are one floor,
 *   sa = floor((x*m + D/2 + D*2^(e-1) - D*[x < 0]) / 2^N)   (e > 0; e = 0:
 * floor((x*m + D/2) / D)), because floor(floor(y/D)/2^e) = floor(y/(D 2^e))
 * and SRDHM's result is negative exactly when x is (x < 0 with result 0
 * rounds to 0 either way).  Over the byte a (x = a - a_zp) and with
 * m = mh*2^N + ml and the constant C = D/2 + D*2^(e-1) - a_zp*m =
 * ch*2^N + cl (0 <= cl < 2^N): sa = a*mh + ch + ((a*ml + cl - D*[x<0]) >> N),
 * the products as vpmaddwd of the words (a, 128a) by (mh % 128, mh / 128)
 * and (ml % 128, ml / 128), which fit for 9 <= N <= 22 (real layers: 12).
 * The ch of both sides and rq_apply's 2^31 are one constant (the rq bias),
 * the output rescale is rq_apply.  About 30 vector operations per 16 lanes
 * instead of 45 with three 64-bit MultiplyByQuantizedMultipliers. */
struct qaddk {
    int32_t rqbuf[RQ_BYTES(1) / 4] __attribute__((aligned(64)));
    uint8_t res[2][256] __attribute__((aligned(64))); /* VBMI: r_i of each byte, see qadd_tables */
    int32_t lw[2], lbias;                             /* their words (c0, c1), the constant */
    struct rq rq;                                 /* output rescale; bias: ch_a + ch_b */
    int32_t wh[2], wl[2], cl[2], d[2], zp[2], n[2]; /* side 0: a, 1: b */
    int32_t out_zp, out_min, out_max;
};

static int qadd_side(struct qaddk *k, int i, int32_t zp, int32_t mult, int32_t shift, int ls,
                     int64_t *ch, int64_t *amax)
{
    const int e = -shift, N = 31 - ls + e;
    if (shift > 0 || mult < 0 || ls < 0 || ls > 30 || N < 9 || N > 22 || zp < 0 || zp > 255)
        return -ENOTSUP;
    const int64_t D = (int64_t)1 << (31 - ls);
    const int64_t C = D / 2 + (e > 0 ? D << (e - 1) : 0) - (int64_t)zp * mult;
    const int32_t mh = mult >> N, ml = mult & ((1 << N) - 1);
    *ch += C >> N;
    *amax += ((int64_t)255 << ls >> e) + 1; /* |sa| (|x| <= 255) */
    k->cl[i] = (int32_t)(C & (((int64_t)1 << N) - 1));
    k->wh[i] = (mh & 127) | (mh >> 7) << 16;
    k->wl[i] = (ml & 127) | (ml >> 7) << 16;
    k->d[i] = e > 0 ? (int32_t)D : 0;
    k->zp[i] = zp;
    k->n[i] = N;
    return 0;
}

/* -ENOTSUP: parameters outside the fast form (the portable ADD then). */
static int qadd_prep(struct qaddk *k, const struct mnet_qbinary *p)
{
    int64_t ch = 0, amax = 0;
    memset(k, 0, sizeof *k);
    if (qadd_side(k, 0, p->a_zp, p->a_mult, p->a_shift, p->left_shift, &ch, &amax) ||
        qadd_side(k, 1, p->b_zp, p->b_mult, p->b_shift, p->left_shift, &ch, &amax) || p->out_mult < 0 ||
        !rq_fits(amax, p->out_mult, p->out_shift, 0))
        return -ENOTSUP;
    /* the bias wraps mod 2^32 like the vector lanes' sums */
    rq_uniform(&k->rq, k->rqbuf, (int32_t)(uint32_t)(uint64_t)ch, p->out_mult, p->out_shift);
    k->out_zp = p->out_zp;
    k->out_min = p->out_min;
    k->out_max = p->out_max;
    return 0;
}

/* sa (side i) of the bytes zero-extended in x's lanes, mod 2^32. */
T512 INL __m512i qadd_side_vec(const struct qaddk *k, int i, __m512i x)
{
    const __m512i a = _mm512_or_si512(x, _mm512_slli_epi32(x, 23)); /* words (x, 128 x) */
    __m512i t = _mm512_add_epi32(_mm512_madd_epi16(a, _mm512_set1_epi32(k->wl[i])), _mm512_set1_epi32(k->cl[i]));
    t = _mm512_mask_sub_epi32(t, _mm512_cmplt_epu32_mask(x, _mm512_set1_epi32(k->zp[i])), t,
                              _mm512_set1_epi32(k->d[i]));
    return _mm512_add_epi32(_mm512_madd_epi16(a, _mm512_set1_epi32(k->wh[i])),
                            _mm512_srav_epi32(t, _mm512_set1_epi32(k->n[i])));
}

/* mbqm(sa + sb, out) of the bytes zero-extended in xa's and xb's lanes. */
T512 INL __m512i qadd_vec(const struct qaddk *k, __m512i xa, __m512i xb)
{
    __m512i u = _mm512_add_epi32(qadd_side_vec(k, 0, xa), qadd_side_vec(k, 1, xb));
    return rq_apply(_mm512_add_epi32(u, _mm512_load_si512(rq_bias(&k->rq, 0))), &k->rq, 0, k->rq.gen);
}

/* ADD of 64 bytes a and b: group j of each 128-bit lane's dwords takes bytes
 * 4j..4j+3 of the lane, the order pack_zp_clamp puts them back in. */
T512 INL __m512i qadd_bytes(const struct qaddk *k, __m512i a, __m512i b)
{
    const __m512i ctl = _mm512_set4_epi32((int)0x80808003, (int)0x80808002, (int)0x80808001, (int)0x80808000);
    __m512i y[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m512i c = _mm512_add_epi32(ctl, _mm512_set1_epi32(4 * j));
        y[j] = qadd_vec(k, _mm512_shuffle_epi8(a, c), _mm512_shuffle_epi8(b, c));
    }
    return pack_zp_clamp(y[0], y[1], y[2], y[3], k->out_zp, k->out_min, k->out_max);
}

/* count bytes: out = ADD(a, b) (out may be a). */
T512 static void qadd_span(const struct qaddk *k, const uint8_t *a, const uint8_t *b, uint8_t *out,
                           size_t count)
{
    for (size_t off = 0; off < count; off += 64) {
        size_t left = count - off;
        __mmask64 m = lanes64(left);
        __m512i y = qadd_bytes(k, _mm512_maskz_loadu_epi8(m, a + off), _mm512_maskz_loadu_epi8(m, b + off));
        _mm512_mask_storeu_epi8(out + off, m, y);
    }
}

/* With AVX512_VBMI + VNNI each side's sa (a function of one byte a, a
 * table too wide for byte lookups: it spans 2^28 on real files) is split as
 * sa = a*K + r(a) - rmin, K the rounded slope, r - rmin in [0, span] a byte
 * table; when the two spans sum to <= 255 the two lookups (vpermi2b over
 * the 128-entry halves, merged on the top bit) add as bytes.  a*K is one
 * vpdpwssd of the words (a, 256 (a - 128)) (a shuffle puts a in bytes 0
 * and 3, an xor flips byte 3's top bit) by (K % 256, K / 256): a*K - 2^15
 * (K / 256).  The constants, rmin and the rq bias make one dword.  About
 * 90 operations per 64 bytes instead of 150; -ENOTSUP: the spans do not
 * fit (qadd_span then). */
T512 static int qadd_tables(struct qaddk *k)
{
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    __m512i v[16];
    int64_t c = (uint32_t)k->rq.q[RQ_BIAS * 16], span = 0;
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 16; j++) /* sa - ch_i, exact (|sa| < 2^29) */
            v[j] = qadd_side_vec(k, i, _mm512_add_epi32(iota, _mm512_set1_epi32(16 * j)));
        const int64_t K = llround((_mm512_cvtsi512_si32(_mm512_alignr_epi32(v[15], v[15], 15)) -
                                   _mm512_cvtsi512_si32(v[0])) / 255.0);
        if (K < 0 || K >= (1 << 22)) /* a*K < 2^30: r in int32 */
            return -ENOTSUP;
        __m512i lo = _mm512_set1_epi32(INT32_MAX), hi = _mm512_set1_epi32(INT32_MIN);
        for (int j = 0; j < 16; j++) {
            const __m512i x = _mm512_add_epi32(iota, _mm512_set1_epi32(16 * j));
            v[j] = _mm512_sub_epi32(v[j], _mm512_mullo_epi32(x, _mm512_set1_epi32((int32_t)K)));
            lo = _mm512_min_epi32(lo, v[j]);
            hi = _mm512_max_epi32(hi, v[j]);
        }
        const int32_t rmin = _mm512_reduce_min_epi32(lo);
        for (int j = 0; j < 16; j++)
            _mm_store_si128((__m128i *)(k->res[i] + 16 * j),
                            _mm512_cvtepi32_epi8(_mm512_sub_epi32(v[j], _mm512_set1_epi32(rmin))));
        span += (int64_t)_mm512_reduce_max_epi32(hi) - rmin;
        c += rmin + 32768 * (K >> 8);
        k->lw[i] = (int32_t)((K & 255) | (K >> 8) << 16);
    }
    if (span > 255)
        return -ENOTSUP;
    k->lbias = (int32_t)(uint32_t)c;
    return 0;
}

/* Group j's dword i of each 128-bit lane takes the lane's byte 4i + j, so
 * r's bytes reach their dwords by vpdpbusd (weight 1 on byte j): no
 * shuffles; pack_zp_clamp's bytes are then transposed 4x4 in each lane. */
TVBMI static void qadd_span_vbmi(const struct qaddk *k, const uint8_t *a, const uint8_t *b, uint8_t *out,
                                 size_t count)
{
    /* byte 4i in bytes 0 and 3 of dword i; the transpose */
    const __m512i dup = _mm512_set4_epi32(0x0C80800C, 0x08808008, 0x04808004, 0x00808000);
    const __m512i tr = _mm512_set4_epi32(0x0F0B0703, 0x0E0A0602, 0x0D090501, 0x0C080400);
    const __m512i flip = _mm512_set1_epi32(INT32_MIN), wa = _mm512_set1_epi32(k->lw[0]);
    const __m512i wb = _mm512_set1_epi32(k->lw[1]), c = _mm512_set1_epi32(k->lbias);
    for (size_t off = 0; off < count; off += 64) {
        __mmask64 m = lanes64(count - off);
        __m512i xa = _mm512_maskz_loadu_epi8(m, a + off), xb = _mm512_maskz_loadu_epi8(m, b + off);
        __m512i r = _mm512_add_epi8(lut256(k->res[0], xa), lut256(k->res[1], xb)), y[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m512i g = _mm512_add_epi32(dup, _mm512_set1_epi32(j | j << 24));
            __m512i u = _mm512_dpbusd_epi32(c, r, _mm512_set1_epi32(1 << 8 * j));
            u = _mm512_dpwssd_epi32(u, _mm512_xor_si512(_mm512_shuffle_epi8(xa, g), flip), wa);
            u = _mm512_dpwssd_epi32(u, _mm512_xor_si512(_mm512_shuffle_epi8(xb, g), flip), wb);
            y[j] = rq_apply(u, &k->rq, 0, k->rq.gen);
        }
        __m512i o = pack_zp_clamp(y[0], y[1], y[2], y[3], k->out_zp, k->out_min, k->out_max);
        _mm512_mask_storeu_epi8(out + off, m, _mm512_shuffle_epi8(o, tr));
    }
}

/* vbmi: the lookup form (the CPU has AVX512_VBMI). */
T512 static void qadd_run(const struct mnet_qbinary *p, size_t count, const uint8_t *a, const uint8_t *b,
                          uint8_t *out, int threads, int vbmi)
{
    struct qaddk k;
    if (qadd_prep(&k, p)) {
        mnet_kernels_c.qadd_run(p, count, a, b, out, threads);
        return;
    }
    if (vbmi)
        vbmi = !qadd_tables(&k);
    const size_t step = 4096;
    const long spans = (long)((count + step - 1) / step);
    if (threads <= 1 || count <= 16384) { /* an inactive parallel region still costs libgomp's team */
        if (vbmi)
            qadd_span_vbmi(&k, a, b, out, count);
        else
            qadd_span(&k, a, b, out, count);
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < spans; i++) {
        size_t off = (size_t)i * step, n = count - off < step ? count - off : step;
        if (vbmi)
            qadd_span_vbmi(&k, a + off, b + off, out + off, n);
        else
            qadd_span(&k, a + off, b + off, out + off, n);
    }
}

T512 static void x512_qadd_run(const struct mnet_qbinary *p, size_t count, const uint8_t *a,
                               const uint8_t *b, uint8_t *out, int threads)
{
    qadd_run(p, count, a, b, out, threads, 0);
}

/* The VNNI table's ADD: CPUs with VNNI but no VBMI (Cascade Lake) keep the
 * arithmetic form. */
T512 static void vnni_qadd_run(const struct mnet_qbinary *p, size_t count, const uint8_t *a,
                               const uint8_t *b, uint8_t *out, int threads)
{
    qadd_run(p, count, a, b, out, threads, mnet_cpu_avx512vbmi());
}

/* ================= quantized MUL and byte tables (AVX-512) ================= */

/* TFLite's MUL with b broadcast (mnet_c_qmul_bcast): out = clamp(out_zp +
 * mbqm((a - a_zp) * (b - b_zp), om, os)), 16 lanes at a time with rq_apply
 * as the rescale (|product| <= 255^2: rq_fits holds for every multiplier
 * the plan makes).  MobileNetV3's squeeze-excite scales each pixel's C
 * channels by a (1, 1, C) vector; the portable loop took ~20 cycles an
 * element there (v3-small: half its time). */
struct qmulk {
    int32_t rqbuf[RQ_BYTES(1) / 4] __attribute__((aligned(64)));
    struct rq rq;
    int32_t a_zp, b_zp, out_zp, out_min, out_max;
};

/* -ENOTSUP: a rescale rq_apply does not take (the portable MUL then). */
static int qmul_prep(struct qmulk *k, const struct mnet_qbinary *p)
{
    memset(k, 0, sizeof *k);
    if (p->out_mult < 0 || !rq_fits(255 * 255, p->out_mult, p->out_shift, 0))
        return -ENOTSUP;
    rq_uniform(&k->rq, k->rqbuf, 0, p->out_mult, p->out_shift);
    k->a_zp = p->a_zp;
    k->b_zp = p->b_zp;
    k->out_zp = p->out_zp;
    k->out_min = p->out_min;
    k->out_max = p->out_max;
    return 0;
}

/* count elements of a times b, b repeating every `period` elements (0: b
 * is one scalar). */
T512 static void qmul_span(const struct qmulk *k, const uint8_t *a, const uint8_t *b, size_t period,
                           uint8_t *out, size_t count)
{
    const __m512i azp = _mm512_set1_epi32(k->a_zp), bzp = _mm512_set1_epi32(k->b_zp);
    const __m512i ozp = _mm512_set1_epi32(k->out_zp), lo = _mm512_set1_epi32(k->out_min);
    const __m512i hi = _mm512_set1_epi32(k->out_max), bias = _mm512_load_si512(rq_bias(&k->rq, 0));
    const __m512i bs = _mm512_sub_epi32(_mm512_set1_epi32(b[0]), bzp);
    const size_t run = period ? period : count;
    for (size_t r0 = 0; r0 < count; r0 += run)
        for (size_t i = 0; i < run; i += 16) {
            const __mmask16 m = lanes16((int)(run - i < 16 ? run - i : 16));
            __m512i x = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, a + r0 + i)), azp);
            __m512i y = bs;
            if (period)
                y = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, b + i)), bzp);
            __m512i v = rq_apply(_mm512_add_epi32(_mm512_mullo_epi32(x, y), bias), &k->rq, 0, k->rq.gen);
            v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, ozp), lo), hi);
            _mm512_mask_cvtepi32_storeu_epi8(out + r0 + i, m, v);
        }
}

T512 static void x512_qmul_run(const struct mnet_qbinary *p, int n, size_t inner, const uint8_t *a,
                               const uint8_t *b, size_t b_inner, size_t b_batch_stride, uint8_t *out,
                               int threads)
{
    struct qmulk k;
    if (qmul_prep(&k, p)) {
        mnet_c_qmul_bcast(p, n, inner, a, b, b_inner, b_batch_stride, out, threads);
        return;
    }
    /* tasks of whole periods of b, about 4 KiB each */
    const size_t period = b_inner == 1 ? 0 : b_inner, run = period ? period : inner;
    const size_t runs = inner / run, per = run >= 4096 ? 1 : 4096 / run;
    const long tasks = (long)((runs + per - 1) / per), total = (long)n * tasks;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && (size_t)n * inner > 16384)
    for (long t = 0; t < total; t++) {
        const size_t img = (size_t)(t / tasks), r0 = (size_t)(t % tasks) * per;
        const size_t r1 = r0 + per < runs ? r0 + per : runs, off = img * inner + r0 * run;
        qmul_span(&k, a + off, b + img * b_batch_stride, period, out + off, (r1 - r0) * run);
    }
}

TVBMI static void lut_span_vbmi(const uint8_t lut[256], const uint8_t *in, uint8_t *out, size_t count)
{
    for (size_t off = 0; off < count; off += 64) {
        const __mmask64 m = lanes64(count - off);
        _mm512_mask_storeu_epi8(out + off, m, lut256(lut, _mm512_maskz_loadu_epi8(m, in + off)));
    }
}

/* Byte tables (hard-swish, ...) with VBMI: 64 bytes in 5 operations
 * instead of a load and a store each (112x112x16 hard-swish 0.124 ms). */
static void vnni_lut_run(const uint8_t lut[256], size_t count, const uint8_t *in, uint8_t *out,
                         int threads)
{
    if (!mnet_cpu_avx512vbmi()) {
        mnet_c_lut_u8(lut, count, in, out, threads);
        return;
    }
    const size_t step = 16384;
    const long spans = (long)((count + step - 1) / step);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count > 2 * step)
    for (long i = 0; i < spans; i++) {
        const size_t off = (size_t)i * step;
        lut_span_vbmi(lut, in + off, out + off, count - off < step ? count - off : step);
    }
}

/* ======================= int8 GEMM (VNNI) ======================= */

/* A uint8 model's weight zero point folded into the weights: packed
 * w' = clamp(w - w_zp, -128, 127), so the sum needs no w_zp * sum(x) per
 * row.  Real files have only 1-2 taps per layer (an outlier weight at the
 * far end of the range, e.g. 0 with zero point 140) where w - w_zp leaves
 * int8; each becomes a fix-up: its excess e = (w - w_zp) - w' times the
 * row's byte k, added to that column: one more vpdpbusd per row on the
 * 4-byte group holding byte k, with weights that are e at that byte of that
 * column and 0 elsewhere (e = 128, from w_zp -128, takes two: 127 and 1). */
struct qfix {
    int32_t off, v; /* group's byte offset in the row (direct: in the pixel's patch), vector */
};
#define MAXFIX 8 /* per panel; more and the row sums are cheaper */

struct qgemm {
    struct xpack h;
    int K, K4, N, panels;
    int pw;             /* 1x1 stride 1: rows read in place */
    int direct;         /* short kernel rows (the stem): qdirect_run */
    size_t ldk;         /* bytes per gathered row (K rounded up to 64; direct: the repacked row) */
    size_t tscratch;    /* scratch bytes per thread: gathered rows, then row corrections */
    int8_t *w;          /* panels: [panel][k4][nv*16][4] */
    struct rq rq;       /* [panel][4]: after the weights */
    int32_t w_zp, out_zp, out_min, out_max; /* w_zp 0 once folded */
    int zp_in;          /* out_zp is in the rq constants (rq_add_zp) */
    int half;           /* 17-24 columns: qgemm_half's layout (see there) */
    int clamp;          /* [out_min, out_max] narrower than the bytes */
    struct qfix *fix;   /* folded w_zp: panel pan's fix-ups are [fix0[pan], fix0[pan+1]) */
    int8_t *fixw;       /* [fix-up][16][4]: its weights (one block with fix and fix0) */
    int32_t *fix0;      /* [panels + 1] */
};

/* A full conv whose kernel rows are runs of at most 16 input bytes (the
 * 3x3x3 stem: 9) goes to the direct kernel (qdirect_run): gathering its tiny
 * patches costs more than their dot products. */
static int direct_ok(const struct mnet_conv_geom *g)
{
    return !mnet_conv_is_pointwise(g) && g->dil_w == 1 && g->k_w * g->in_c <= 16;
}

/* Where weight k = (ky, kx, c) goes in a direct patch: (kx, ky, c). */
static int direct_k(const struct mnet_conv_geom *g, int k)
{
    return k / g->in_c % g->k_w * g->k_h * g->in_c + k / (g->k_w * g->in_c) * g->in_c + k % g->in_c;
}

static int vnni_qconv_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    int K = g->k_h * g->k_w * g->in_c;
    if (K > (1 << 14) || g->depth_multiplier > 1 || !rq_ok(l, 0))
        return q_fallback(l, max_batch, threads, 0);
    struct qgemm *p = x_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->h.kind = PK_QGEMM;
    p->K = K;
    p->K4 = (K + 3) / 4;
    p->N = g->out_c;
    p->panels = (g->out_c + PANEL - 1) / PANEL;
    p->pw = mnet_conv_is_pointwise(g);
    p->ldk = mnet_round_up((size_t)p->K4 * 4, 64);
    p->direct = direct_ok(g) && K <= 64; /* K <= 64: the range the repacked rows are tested on */
    const int cb = g->k_h * g->in_c; /* direct: bytes of a repacked column */
    if (p->direct) {
        /* the repacked row (direct_repack): its columns, tile rows past the
         * last pixel and a 64-byte store's overrun; then an in_zp row */
        size_t cols = (size_t)(g->out_w - 1) * g->stride_w + g->k_w + RMAX * g->stride_w;
        p->ldk = mnet_round_up(cols * cb + 128, 64) + mnet_round_up((size_t)g->in_w * g->in_c, 64);
    }
    size_t ncol = (size_t)p->panels * PANEL;
    /* Fold w_zp into the weights when every panel needs at most MAXFIX
     * fix-ups (K >= 4: a fix-up's 4-byte group stays inside the row). */
    int fold = l->w_zp != 0 && (p->direct || K >= 4), nfix = 0;
    for (int pan = 0; fold && pan < p->panels; pan++) {
        int fixes = 0, c1 = pan * PANEL + PANEL < p->N ? pan * PANEL + PANEL : p->N;
        for (int oc = pan * PANEL; oc < c1; oc++)
            for (int k = 0; k < K; k++) {
                int d = l->w[(size_t)oc * K + k] - l->w_zp;
                fixes += (d < -128 || d > 127) + (d > 254);
            }
        fold = fixes <= MAXFIX;
        nfix += fixes;
    }
    p->half = p->pw && p->N > 16 && p->N <= 24 && K % 8 == 0 && (fold || l->w_zp == 0);
    size_t nw = (size_t)p->panels * p->K4 * PANEL * 4; /* a multiple of 64 */
    p->w = x_alloc(nw + RQ_BYTES(ncol / 16));
    if (fold)
        p->fixw = x_alloc((size_t)nfix * (64 + sizeof *p->fix) + (size_t)(p->panels + 1) * sizeof *p->fix0);
    if (!p->w || (fold && !p->fixw)) {
        free(p->w);
        free(p->fixw);
        free(p);
        return -ENOMEM;
    }
    rq_place(&p->rq, p->w + nw, ncol / 16);
    /* out_zp into the rounding constants when every lane shifts right and
     * rq_apply stays exact with it for any input */
    p->zp_in = 1;
    for (int oc = 0; oc < p->N && p->zp_in; oc++)
        p->zp_in = l->shift[oc] < 0 && rq_fits(q_amax(l, 0, oc), l->mult[oc], l->shift[oc], l->out_zp);
    struct qfix *fix = NULL;
    if (fold) {
        fix = (struct qfix *)(p->fixw + (size_t)nfix * 64);
        p->fix0 = (int32_t *)(fix + nfix);
        p->fix0[0] = 0;
    }
    for (int oc = 0; oc < p->N; oc++) {
        int pan = oc / PANEL, col = oc % PANEL;
        int nv = (p->N - pan * PANEL + 15) / 16;
        nv = nv > 4 ? 4 : nv;
        /* Panels of 4 and 2 vectors in the order pack_zp_clamp restores:
         * vector v, lane l is column 16 * (l / 4) + 4 * v + l % 4 (4), or
         * 8 * (l / 4) + 4 * v + l % 4 (2) */
        int pos = nv == 4   ? col / 4 % 4 * 16 + col / 16 * 4 + col % 4
                  : nv == 2 ? col / 4 % 2 * 16 + col / 8 * 4 + col % 4
                            : col;
        if (p->half) /* the lane of its accumulator (qgemm_half) */
            pos = col < 16 ? col : 16 + 2 * (col - 16);
        int8_t *dst = p->w + (size_t)pan * p->K4 * PANEL * 4;
        if (fold && col == 0)
            p->fix0[pan + 1] = p->fix0[pan];
        for (int k = 0; k < K; k++) {
            /* direct: k = (ky, kx, c) goes to the patch's (kx, ky, c) */
            int kp = p->direct ? direct_k(g, k) : k;
            int wv = l->w[(size_t)oc * K + k];
            if (fold) {
                int d = wv - l->w_zp;
                wv = clamp_s8(d);
                /* the group read: in place, never past the row's end */
                int kk = kp, off = kk & ~3;
                if (!p->direct && off + 4 > K)
                    off = K - 4;
                for (int e = d - wv; e; e -= e > 127 ? 127 : e) {
                    int i = p->fix0[pan + 1]++;
                    fix[i] = (struct qfix){ off, pos / 16 };
                    p->fixw[(size_t)i * 64 + pos % 16 * 4 + kk - off] = (int8_t)(e > 127 ? 127 : e);
                }
            }
            if (p->half) /* [k / 8][vector][lane][4], lane pos + (k / 4) % 2 of vector 2 */
                dst[(size_t)k / 8 * 192 + (col < 16 ? (k / 4 % 2 * 16 + pos) : 16 + pos + k / 4 % 2) * 4 +
                    k % 4] = (int8_t)wv;
            else
                dst[((size_t)(kp / 4) * nv * 16 + pos) * 4 + kp % 4] = (int8_t)wv;
        }
        /* half: vector 0 columns 0-15, vector 1 columns 16-23 twice (two rows) */
        for (int twice = 0; twice <= (p->half && col >= 16); twice++) {
            const int v = p->half ? col >= 16 : pos / 16, lane = p->half ? col % 16 + 8 * twice : pos % 16;
            rq_set(&p->rq, (size_t)pan * 4 + v, lane, l->bias_folded[oc], l->mult[oc], l->shift[oc]);
            if (p->zp_in)
                rq_add_zp(&p->rq, (size_t)pan * 4 + v, lane, l->out_zp);
        }
    }
    rq_plain(&p->rq, ncol / 16, l->out_zp == 0 && l->out_min == 0); /* the clamp does out_max */
    if (p->half) /* vector 3's bias row: where the paired accumulators start */
        for (int i = 0; i < 16; i++)
            p->rq.q[3 * RQ_V + RQ_BIAS * 16 + i] = i % 2 ? 0 : p->rq.q[RQ_V + RQ_BIAS * 16 + i / 2];
    p->fix = nfix ? fix : NULL; /* none: the tiles without fix-up code */
    p->w_zp = fold ? 0 : l->w_zp;
    p->out_zp = l->out_zp;
    p->out_min = l->out_min;
    p->out_max = l->out_max;
    p->clamp = l->out_min > 0 || l->out_max < 255;
    l->packed = p;
    /* w_zp * sum(x) of a task's rows (at most 4 * ROWCHUNK, see task_split)
     * or of a direct output row's pixels, computed once per task or row
     * instead of once per tile and panel. */
    const size_t ncorr = p->direct ? (size_t)g->out_w : 4 * ROWCHUNK;
    p->tscratch = (p->pw ? 0 : p->direct ? p->ldk : RMAX * p->ldk) +
                  (p->w_zp ? mnet_round_up(ncorr * sizeof(int32_t), 64) : 0);
    l->scratch_bytes = (size_t)(threads > 0 ? threads : 1) * p->tscratch;
    (void)max_batch;
    return 0;
}

/* corr[r] = w_zp * (sum of the K bytes of row r) for `rows` rows `stride`
 * bytes apart: vpsadbw per row, then eight rows' qword sums reduced together
 * (a transpose-add tree) instead of one horizontal reduction per row. */
T512 static void row_corr(const uint8_t *x, size_t stride, int K, size_t rows, int32_t w_zp,
                          int32_t *corr)
{
    const __mmask64 tail = K % 64 ? ((__mmask64)1 << (K % 64)) - 1 : ~(__mmask64)0;
    for (size_t r0 = 0; r0 < rows; r0 += 8) {
        __m512i v[8];
        for (int j = 0; j < 8; j++) {
            const uint8_t *row = x + (r0 + j < rows ? r0 + j : r0) * stride;
            __m512i s = _mm512_setzero_si512();
            int k = 0;
            for (; k + 64 < K; k += 64)
                s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_loadu_si512(row + k), _mm512_setzero_si512()));
            v[j] = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(tail, row + k),
                                                       _mm512_setzero_si512()));
        }
        __m512i t[4];
        for (int j = 0; j < 4; j++)
            t[j] = _mm512_add_epi64(_mm512_unpacklo_epi64(v[2 * j], v[2 * j + 1]),
                                    _mm512_unpackhi_epi64(v[2 * j], v[2 * j + 1]));
        __m512i u0 = _mm512_add_epi64(_mm512_shuffle_i64x2(t[0], t[1], 0x88),
                                      _mm512_shuffle_i64x2(t[0], t[1], 0xDD));
        __m512i u1 = _mm512_add_epi64(_mm512_shuffle_i64x2(t[2], t[3], 0x88),
                                      _mm512_shuffle_i64x2(t[2], t[3], 0xDD));
        __m512i w = _mm512_add_epi64(_mm512_shuffle_i64x2(u0, u1, 0x88), _mm512_shuffle_i64x2(u0, u1, 0xDD));
        __m256i c = _mm256_mullo_epi32(_mm512_cvtepi64_epi32(w), _mm256_set1_epi32(w_zp));
        size_t n = rows - r0 < 8 ? rows - r0 : 8;
        _mm256_mask_storeu_epi32(corr + r0, (__mmask8)((1u << n) - 1), c);
    }
}

/* acc += u8(a) . s8(w) per 4-byte group.  Inline asm because GCC 12's
 * intrinsic copies the accumulator around every instruction. */
#define DPBUSD(acc, a, w) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w))

/* One 4-byte group of the tile at byte off of each row: row r is rows[r],
 * or base + r * sx when rows is NULL (the direct kernel's pixels one stride
 * apart; inlined with a constant NULL, the choice costs nothing); tail != 0
 * reads only the K % 4 bytes left. */
TVNNI INL void qgemm_step(__m512i acc[RMAX][4], int RM, int NV, const uint8_t *const *rows,
                          const uint8_t *base, size_t sx, size_t off, const int8_t *wk,
                          __mmask16 tail)
{
    __m512i w[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++)
        if (v < NV)
            w[v] = _mm512_load_si512(wk + v * 64);
#pragma GCC unroll 24
    for (int r = 0; r < RMAX; r++) {
        if (r >= RM)
            break;
        const uint8_t *x = (rows ? rows[r] : base + r * sx) + off;
        __m512i a;
        if (tail) {
            a = _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(tail, x));
        } else {
            int32_t a32;
            memcpy(&a32, x, 4);
            a = _mm512_set1_epi32(a32);
        }
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            if (v < NV)
                DPBUSD(acc[r][v], a, w[v]);
    }
}

/* The accumulators of an RM x (NV*16) tile start at the folded bias + 2^31. */
TVNNI INL void qgemm_init(const struct qgemm *p, int RM, int NV, __m512i acc[RMAX][4], int col0)
{
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        __m512i b = v < NV ? _mm512_load_si512(rq_bias(&p->rq, (size_t)col0 / 16 + v)) : _mm512_setzero_si512();
#pragma GCC unroll 24
        for (int r = 0; r < RMAX; r++)
            if (r < RM)
                acc[r][v] = b;
    }
}

/* pack_zp_clamp for the GEMM: its zp add and clamp only where they are not
 * already done (zp_in) or no-ops (the bytes' own range: every MobileNet
 * layer) -- 3 operations per 64 bytes instead of 7. */
TVNNI INL __m512i pack_gemm(const struct qgemm *p, __m512i a0, __m512i a1, __m512i a2, __m512i a3)
{
    __m512i p01 = _mm512_packs_epi32(a0, a1), p23 = _mm512_packs_epi32(a2, a3);
    if (!p->zp_in) {
        const __m512i z = _mm512_set1_epi16((short)p->out_zp);
        p01 = _mm512_adds_epi16(p01, z);
        p23 = _mm512_adds_epi16(p23, z);
    }
    __m512i y = _mm512_packus_epi16(p01, p23);
    if (p->clamp)
        y = _mm512_min_epu8(_mm512_max_epu8(y, _mm512_set1_epi8((char)p->out_min)),
                            _mm512_set1_epi8((char)p->out_max));
    return y;
}

/* 64 bytes already in row order as G rows (G = 2: 32 bytes each, G = 4: 16)
 * at o, o + ldo, ..., lanes m of each; rows from `left` on are not stored. */
T512 INL void store_rows(__m512i b, int G, uint8_t *o, size_t ldo, __mmask32 m, int left)
{
    if (G == 2) {
        _mm256_mask_storeu_epi8(o, m, _mm512_castsi512_si256(b));
        if (left > 1)
            _mm256_mask_storeu_epi8(o + ldo, m, _mm512_extracti64x4_epi64(b, 1));
        return;
    }
    _mm_mask_storeu_epi8(o, (__mmask16)m, _mm512_castsi512_si128(b));
    if (left > 1)
        _mm_mask_storeu_epi8(o + ldo, (__mmask16)m, _mm512_extracti32x4_epi32(b, 1));
    if (left > 2)
        _mm_mask_storeu_epi8(o + 2 * ldo, (__mmask16)m, _mm512_extracti32x4_epi32(b, 2));
    if (left > 3)
        _mm_mask_storeu_epi8(o + 3 * ldo, (__mmask16)m, _mm512_extracti32x4_epi32(b, 3));
}

/* Epilogue of a tile: row r -> out + r*ldo, columns col0..; rows r >= R are
 * not stored.  corr[r] = w_zp * sum(x of row r) (NULL when w_zp == 0). */
TVNNI INL void qgemm_store(const struct qgemm *p, int RM, int NV, int R, __m512i acc[RMAX][4],
                           const int32_t *corr, uint8_t *out, size_t ldo, int col0)
{
    if (NV != 3) {
        /* 64 bytes from 4 / NV rows at a time: columns permuted at pack time
         * (see vnni_qconv_prepare), rows regrouped by one permute. */
        const int G = 4 / NV;
        const __m512i rows2 = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
        const __m512i rows4 = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        const int left = p->N - col0;
#pragma GCC unroll 24
        for (int r = 0; r < RMAX; r += G) {
            if (r >= RM || r >= R)
                break;
            __m512i a[4], y[4];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                int rr = r + j / NV;
                a[j] = acc[rr][j % NV];
                if (corr) /* uint8 models; rows past R are not stored */
                    a[j] = _mm512_sub_epi32(a[j], _mm512_set1_epi32(corr[rr < R ? rr : 0]));
            }
            rq_vecs(&p->rq, p->rq.fl, 4, NV, (size_t)col0 / 16, a, y);
            __m512i b = pack_gemm(p, y[0], y[1], y[2], y[3]);
            uint8_t *o = out + (size_t)r * ldo + col0;
            if (NV == 4)
                _mm512_mask_storeu_epi8(o, lanes64((size_t)left), b);
            else if (NV == 2)
                store_rows(_mm512_permutexvar_epi64(rows2, b), 2, o, ldo, lanes32(left), R - r);
            else
                store_rows(_mm512_permutexvar_epi32(rows4, b), 4, o, ldo, lanes16(left), R - r);
        }
        return;
    }
    const __m512i zp = _mm512_set1_epi32(p->out_zp);
    const __m512i lo = _mm512_set1_epi32(p->out_min), hi = _mm512_set1_epi32(p->out_max);
#pragma GCC unroll 24
    for (int r = 0; r < RMAX; r++) {
        if (r >= RM || r >= R)
            break;
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
            if (v >= NV)
                break;
            int c = col0 + v * 16;
            __m512i a = acc[r][v];
            if (corr) /* uint8 models */
                a = _mm512_sub_epi32(a, _mm512_set1_epi32(corr[r]));
            __m512i y;
            rq_vecs(&p->rq, p->rq.fl, 1, 1, (size_t)c / 16, &a, &y);
            if (!p->zp_in)
                y = _mm512_add_epi32(y, zp);
            y = _mm512_min_epi32(_mm512_max_epi32(y, lo), hi);
            int left = p->N - c;
            __mmask16 m = lanes16(left);
            _mm512_mask_cvtepi32_storeu_epi8(out + (size_t)r * ldo + c, m, y);
        }
    }
}

/* A folded w_zp's fix-ups of panel pan: one vpdpbusd per row on vector v
 * (a switch and a fully unrolled row loop keep the accumulators in
 * registers; GCC left a 24-row loop rolled, the accumulators in memory).
 * Rows as in qgemm_step: rows[r], or the direct kernel's base + r * sx. */
TVNNI INL void qgemm_fixup(const struct qgemm *p, int RM, int NV, __m512i acc[RMAX][4],
                           const uint8_t *const *rows, const uint8_t *base, size_t sx, int pan)
{
    for (int i = p->fix0[pan]; i < p->fix0[pan + 1]; i++) {
        const struct qfix *f = p->fix + i;
        const __m512i w = _mm512_load_si512(p->fixw + (size_t)i * 64);
        const uint8_t *xk = rows ? NULL : base + f->off;
#define QFIX(V)                                                                              \
    if (V < NV)                                                                              \
        _Pragma("GCC unroll 24") for (int r = 0; r < RM; r++) {                              \
            int32_t a32;                                                                     \
            memcpy(&a32, rows ? rows[r] + f->off : xk + r * sx, 4);                          \
            DPBUSD(acc[r][V], _mm512_set1_epi32(a32), w);                                    \
        }
        switch (f->v) {
        case 0: QFIX(0); break;
        case 1: QFIX(1); break;
        case 2: QFIX(2); break;
        default: QFIX(3); break;
        }
#undef QFIX
    }
}

/* One RM x (NV*16) tile (RM = rows_for(NV)): rows[r] -> out + r*ldo,
 * columns col0.. of panel wp; rows r >= R are computed (they repeat row 0)
 * but not stored.  corr[r] = w_zp * sum(rows[r]) (NULL when w_zp == 0).
 * FIX: p->fix is set (a tile of its own, so layers without fix-ups run no
 * fix-up code). */
TVNNI INL void qgemm_tile(const struct qgemm *p, int RM, int NV, int FIX, int R,
                          const uint8_t *const *rows, const int32_t *corr, const int8_t *wp,
                          uint8_t *out, size_t ldo, int col0, const int8_t *pf, int pfn,
                          struct pfnext nx)
{
    if (!rows) /* never: lets qgemm_step drop its test of rows */
        __builtin_unreachable();
    __m512i acc[RMAX][4];
    qgemm_init(p, RM, NV, acc, col0);
    if (FIX)
        qgemm_fixup(p, RM, NV, acc, rows, NULL, 0, col0 / PANEL);
    const int K4full = p->K / 4;
    int k4 = 0;
    for (; k4 < K4full; k4++) {
        if (k4 < 2 * pfn && !(k4 & 1))
            _mm_prefetch((const char *)(pf + (size_t)k4 * 32), _MM_HINT_T1);
        if (k4 < nx.lim && !(k4 & ((1 << nx.sh) - 1)))
            _mm_prefetch(nx.at + (size_t)(k4 >> nx.sh) * 64, _MM_HINT_T1);
        qgemm_step(acc, RM, NV, rows, NULL, 0, (size_t)4 * k4, wp + (size_t)k4 * NV * 64, 0);
    }
    if (k4 < p->K4) /* K % 4 tail: never read past a row's end */
        qgemm_step(acc, RM, NV, rows, NULL, 0, (size_t)4 * k4, wp + (size_t)k4 * NV * 64,
                   (__mmask16)((1u << (p->K - 4 * k4)) - 1));
    qgemm_store(p, RM, NV, R, acc, corr, out, ldo, col0);
}

TVNNI INL void qgemm_tile_nv(const struct qgemm *p, int FIX, int NV, int R, const uint8_t *const *rows,
                             const int32_t *corr, const int8_t *wp, uint8_t *out, size_t ldo, int col0,
                             const int8_t *pf, int pfn, struct pfnext nx)
{
    switch (NV) {
    case 4: qgemm_tile(p, 6, 4, FIX, R, rows, corr, wp, out, ldo, col0, pf, pfn, nx); break;
    case 3: qgemm_tile(p, 8, 3, FIX, R, rows, corr, wp, out, ldo, col0, pf, pfn, nx); break;
    case 2: qgemm_tile(p, 12, 2, FIX, R, rows, corr, wp, out, ldo, col0, pf, pfn, nx); break;
    default: qgemm_tile(p, 24, 1, FIX, R, rows, corr, wp, out, ldo, col0, pf, pfn, nx); break;
    }
}

/* The tiles with fix-ups in a function of their own: one function holding
 * both made the tiles without them slower (the builder's stem 0.126 ->
 * 0.132 ms in bench_kernels); likewise the tiles that prefetch (pfn > 0;
 * with their test in the k loop 112x112x16->96 took 0.219 -> 0.227 ms). */
TVNNI static void qgemm_tile_any(const struct qgemm *p, int NV, int R, const uint8_t *const *rows,
                                 const int32_t *corr, const int8_t *wp, uint8_t *out, size_t ldo,
                                 int col0, const int8_t *pf, int pfn)
{
    (void)pfn;
    qgemm_tile_nv(p, 0, NV, R, rows, corr, wp, out, ldo, col0, pf, 0, (struct pfnext){ 0 });
}

TVNNI static void qgemm_tile_pf(const struct qgemm *p, int NV, int R, const uint8_t *const *rows,
                                const int32_t *corr, const int8_t *wp, uint8_t *out, size_t ldo,
                                int col0, const int8_t *pf, int pfn)
{
    qgemm_tile_nv(p, 0, NV, R, rows, corr, wp, out, ldo, col0, pf, pfn, (struct pfnext){ 0 });
}

TVNNI static void qgemm_tile_fix(const struct qgemm *p, int NV, int R, const uint8_t *const *rows,
                                 const int32_t *corr, const int8_t *wp, uint8_t *out, size_t ldo,
                                 int col0, const int8_t *pf, int pfn)
{
    qgemm_tile_nv(p, 1, NV, R, rows, corr, wp, out, ldo, col0, pf, pfn, (struct pfnext){ 0 });
}

/* A full tile that also prefetches its slice nx of the next layer's
 * weights (a function of its own, so the many short-K tiles of the early
 * layers pass no more arguments than before). */
TVNNI static void qgemm_tile_nx(const struct qgemm *p, int NV, int R, const uint8_t *const *rows,
                                const int32_t *corr, const int8_t *wp, uint8_t *out, size_t ldo,
                                int col0, const int8_t *pf, int pfn, struct pfnext nx)
{
    if (p->fix)
        qgemm_tile_nv(p, 1, NV, R, rows, corr, wp, out, ldo, col0, pf, pfn, nx);
    else
        qgemm_tile_nv(p, 0, NV, R, rows, corr, wp, out, ldo, col0, pf, pfn, nx);
}

/* 17-24 columns (v2's 24-channel projects) without the 32-column tile's
 * idle quarter: per row, columns 0-15 in one accumulator (a dword
 * broadcast per 4-byte group, as in qgemm_step) and columns 16-23 in a
 * second whose lanes 2i, 2i+1 take column 16 + i's even and odd groups (a
 * qword broadcast per two groups): 3 vpdpbusd per two groups instead of 4.
 * The epilogue sums each lane pair, two rows' into one vector (lanes 0-7,
 * 8-15: rq vector 1), so 3 requantized vectors per two rows instead of 4.
 * Rows r >= R are computed (they repeat row 0) but not stored; folded w_zp
 * fix-ups go to lane 2i of the second accumulator. */
TVNNI INL void qgemm_half(const struct qgemm *p, int FIX, int R, const uint8_t *const *rows,
                          const int8_t *wp, uint8_t *out, size_t ldo)
{
    enum { RM = 12 };
    if (!rows) /* never: lets qgemm_fixup drop its test of rows */
        __builtin_unreachable();
    __m512i acc[RMAX][4];
    const __m512i b0 = _mm512_load_si512(rq_bias(&p->rq, 0)), b1 = _mm512_load_si512(rq_bias(&p->rq, 3));
#pragma GCC unroll 12
    for (int r = 0; r < RM; r++) {
        acc[r][0] = b0;
        acc[r][1] = b1;
    }
    if (FIX)
        qgemm_fixup(p, RM, 2, acc, rows, NULL, 0, 0);
    for (int k8 = 0; k8 < p->K / 8; k8++, wp += 192) {
        const __m512i w0 = _mm512_load_si512(wp), w1 = _mm512_load_si512(wp + 64),
                      w2 = _mm512_load_si512(wp + 128);
#pragma GCC unroll 12
        for (int r = 0; r < RM; r++) {
            int32_t lo, hi;
            int64_t q;
            memcpy(&lo, rows[r] + 8 * k8, 4);
            memcpy(&hi, rows[r] + 8 * k8 + 4, 4);
            memcpy(&q, rows[r] + 8 * k8, 8);
            DPBUSD(acc[r][0], _mm512_set1_epi32(lo), w0);
            DPBUSD(acc[r][0], _mm512_set1_epi32(hi), w1);
            DPBUSD(acc[r][1], _mm512_set1_epi64(q), w2);
        }
    }
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    /* pack_gemm(y0, y1, y2, y2) holds y0[4i..4i+3], y1[4i..], y2[4i..] in
     * dwords 4i, 4i + 1, 4i + 2: row r to dwords 0-5, row r + 1 to 8-13 */
    const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 0, 0, 1, 5, 9, 13, 10, 14, 0, 0);
    const __mmask32 m = lanes32(p->N);
#pragma GCC unroll 6
    for (int r = 0; r < RM; r += 2) {
        if (r >= R)
            break;
        __m512i a[3], y[3];
        a[0] = acc[r][0];
        a[1] = acc[r + 1][0];
        a[2] = _mm512_add_epi32(_mm512_permutex2var_epi32(acc[r][1], ev, acc[r + 1][1]),
                                _mm512_permutex2var_epi32(acc[r][1], od, acc[r + 1][1]));
        rq_vecs(&p->rq, p->rq.fl, 2, 1, 0, a, y);
        rq_vecs(&p->rq, p->rq.fl, 1, 1, 1, a + 2, y + 2);
        const __m512i b = _mm512_permutexvar_epi32(perm, pack_gemm(p, y[0], y[1], y[2], y[2]));
        _mm256_mask_storeu_epi8(out + (size_t)r * ldo, m, _mm512_castsi512_si256(b));
        if (r + 1 < R)
            _mm256_mask_storeu_epi8(out + (size_t)(r + 1) * ldo, m, _mm512_extracti64x4_epi64(b, 1));
    }
}

TVNNI static void qgemm_half_any(const struct qgemm *p, int R, const uint8_t *const *rows, const int8_t *wp,
                                 uint8_t *out, size_t ldo)
{
    qgemm_half(p, 0, R, rows, wp, out, ldo);
}

TVNNI static void qgemm_half_fix(const struct qgemm *p, int R, const uint8_t *const *rows, const int8_t *wp,
                                 uint8_t *out, size_t ldo)
{
    qgemm_half(p, 1, R, rows, wp, out, ldo);
}

/* TILE(RM, NV, R) for R <= 4 rows of an NV-vector panel: 3-4 vector panels
 * a tile of exactly R rows, 1-2 vector panels whole groups of rows (the
 * store packs 4 / NV rows together). */
#define SHORT_TILE(TILE, NV, R)                                                 \
    do {                                                                        \
        if ((NV) >= 3 && (R) == 1)                                              \
            (NV) == 4 ? TILE(1, 4, 1) : TILE(1, 3, 1);                          \
        else if ((NV) >= 3 && (R) == 2)                                         \
            (NV) == 4 ? TILE(2, 4, 2) : TILE(2, 3, 2);                          \
        else if ((NV) >= 3 && (R) == 3)                                         \
            (NV) == 4 ? TILE(3, 4, 3) : TILE(3, 3, 3);                          \
        else if ((NV) >= 3)                                                     \
            (NV) == 4 ? TILE(4, 4, 4) : TILE(4, 3, 4);                          \
        else if ((NV) == 2 && (R) <= 2)                                         \
            TILE(2, 2, R);                                                      \
        else if ((NV) == 2)                                                     \
            TILE(4, 2, R);                                                      \
        else                                                                    \
            TILE(4, 1, R);                                                      \
    } while (0)

/* A tile of at most 4 rows: a task that short (the classifier at batch
 * 1-4: a GEMV whose weights come from L3 once per image), or the last rows
 * of a task (49-row 7x7 maps: 8 tiles of 6 and 1 row) -- just those R rows,
 * not RM rows repeating row 0 (panels of 1-2 vectors: whole groups of rows
 * for the store's packs).  Prefetching the weights 1-4 KB ahead measured no
 * faster for the classifier. */
TVNNI static void qgemm_tile_short(const struct qgemm *p, int NV, int R, const uint8_t *const *rows,
                                   const int32_t *corr, const int8_t *wp, uint8_t *out, size_t ldo,
                                   int col0, const int8_t *pf, int pfn)
{
    const int fx = p->fix != NULL;
#define QTILE(RM, NV, RR) \
    qgemm_tile(p, RM, NV, fx, RR, rows, corr, wp, out, ldo, col0, pf, pfn, (struct pfnext){ 0 })
    SHORT_TILE(QTILE, NV, R);
#undef QTILE
}

/* Copy n bytes (n small) with masked 64-byte moves: no call, no overrun. */
T512 INL void copy_small(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (; n >= 64; n -= 64, dst += 64, src += 64)
        _mm512_storeu_si512(dst, _mm512_loadu_si512(src));
    if (n) {
        __mmask64 m = ((__mmask64)1 << n) - 1;
        _mm512_mask_storeu_epi8(dst, m, _mm512_maskz_loadu_epi8(m, src));
    }
}

T512 INL void fill_small(uint8_t *dst, uint8_t v, size_t n)
{
    const __m512i f = _mm512_set1_epi8((char)v);
    for (; n >= 64; n -= 64, dst += 64)
        _mm512_storeu_si512(dst, f);
    if (n)
        _mm512_mask_storeu_epi8(dst, ((__mmask64)1 << n) - 1, f);
}

/* Patch of output pixel m (flattened over n, out_h, out_w) into dst: K
 * elements of es bytes, padded taps filled with fill (es == 1) or zeros.
 * A row of taps inside the image is one contiguous run of k_w * in_c. */
T512 static void gather_patch(const struct mnet_conv_geom *g, const uint8_t *in, size_t es, size_t b,
                              int oy, int ox, uint8_t fill, uint8_t *dst)
{
    int ix0 = ox * g->stride_w - g->pad_left;
    const size_t pix = (size_t)g->in_c * es;
    const int cols_in = g->dil_w == 1 && ix0 >= 0 && ix0 + g->k_w <= g->in_w;
    for (int ky = 0; ky < g->k_h; ky++) {
        int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
        uint8_t *d = dst + (size_t)ky * g->k_w * pix;
        if (iy < 0 || iy >= g->in_h) {
            fill_small(d, fill, g->k_w * pix);
            continue;
        }
        const uint8_t *row = in + (b * g->in_h + iy) * g->in_w * pix;
        if (cols_in) {
            copy_small(d, row + (size_t)ix0 * pix, g->k_w * pix);
            continue;
        }
        for (int kx = 0; kx < g->k_w; kx++, d += pix) {
            int ix = ix0 + kx * g->dil_w;
            if (ix < 0 || ix >= g->in_w)
                fill_small(d, fill, pix);
            else
                copy_small(d, row + (size_t)ix * pix, pix);
        }
    }
}

/* ======================= int8 direct conv (VNNI): the stem =======================
 *
 * For convs with short kernel rows (direct_ok: L = k_w*in_c <= 16 bytes, and
 * K <= 64; the 224x224x3 -> 112x112x32 3x3/2 stem has L = 9, K = 27) the
 * GEMM path's per-pixel gather costs more than the dot products.  Here each
 * output row first repacks its k_h input rows once (direct_repack) into
 * columns of k_h*in_c bytes ([ky][c] of input column x, padded rows and
 * columns in_zp): a pixel's patch is then k_w consecutive columns, K
 * contiguous bytes in (kx, ky, c) order, the weights packed in that order.
 * Its ceil(K/4) groups are broadcast straight from the repacked row (the
 * stem: 7 groups a pixel; reading each kernel row in place took 9, three of
 * 4 padding 9 bytes, and gathered the tiles touching the padding).  The up
 * to 3 bytes read past a patch meet zero weights.  The pixels of a tile are
 * stride_w columns apart: one pointer per tile.  The repack reads each
 * input row 1.5 times at the stem (3 rows an output row, stride 2) and
 * costs a vpermd and a vpshufb per row and 7 columns.  uint8 weights (w_zp != 0): folded
 * with fix-ups as in the GEMM, or else corr = w_zp * sum of the patch's K
 * bytes (row_corr over the output row's patches, once per row). */

/* Columns 0 .. xe - 1 of three rows of 3 channels -> d as 9-byte columns,
 * 7 columns (63 bytes) from 21 bytes of each row.  Per row, vpermd gives
 * each 128-bit lane the 4 dwords its bytes come from (lane L holds output bytes 16L.., from row
 * bytes 0-5, 3-11, 9-17, 15-20: dwords from 0, 0, 2, 3), vpshufb places
 * them (zeroing the other rows' bytes), and the three rows are ORed; the
 * 64-byte stores run into the next columns (written after) or the slack.
 * (VBMI's vpermt2b, two rows at once, was 2% faster on the stem: not worth
 * a second path.) */
T512 static void qdirect_cols9(const uint8_t *const *src, int xe, uint8_t *d)
{
    /* output byte 9j + 3ky + c <- row ky's byte 3j + c, less 4 * lane L's first dword */
#define Z 0x80
    static const uint8_t shuf[3][64] __attribute__((aligned(64))) = {
        { 0, 1, 2, Z, Z, Z, Z, Z, Z, 3, 4, 5, Z, Z, Z, Z, Z, Z, 6, 7, 8, Z, Z, Z, Z, Z, Z, 9, 10, 11, Z, Z,
          Z, Z, Z, Z, 4, 5, 6, Z, Z, Z, Z, Z, Z, 7, 8, 9, Z, Z, Z, Z, Z, Z, 6, 7, 8, Z, Z, Z, Z, Z, Z, Z },
        { Z, Z, Z, 0, 1, 2, Z, Z, Z, Z, Z, Z, 3, 4, 5, Z, Z, Z, Z, Z, Z, 6, 7, 8, Z, Z, Z, Z, Z, Z, 9, 10,
          3, Z, Z, Z, Z, Z, Z, 4, 5, 6, Z, Z, Z, Z, Z, Z, 3, 4, 5, Z, Z, Z, Z, Z, Z, 6, 7, 8, Z, Z, Z, Z },
        { Z, Z, Z, Z, Z, Z, 0, 1, 2, Z, Z, Z, Z, Z, Z, 3, 4, 5, Z, Z, Z, Z, Z, Z, 6, 7, 8, Z, Z, Z, Z, Z,
          Z, 1, 2, 3, Z, Z, Z, Z, Z, Z, 4, 5, 6, Z, Z, Z, Z, Z, Z, 3, 4, 5, Z, Z, Z, Z, Z, Z, 6, 7, 8, Z },
    };
#undef Z
    static const int32_t dw[16] __attribute__((aligned(64))) = { 0, 1, 2, 3, 0, 1, 2, 3,
                                                                 2, 3, 4, 5, 3, 4, 5, 6 };
    const __m512i pd = _mm512_load_si512(dw);
    const __m512i s0 = _mm512_load_si512(shuf[0]), s1 = _mm512_load_si512(shuf[1]),
                  s2 = _mm512_load_si512(shuf[2]);
    for (int x = 0; x < xe; x += 7) {
        const int n = xe - x < 7 ? xe - x : 7;
        const __mmask64 m = ((__mmask64)1 << 3 * n) - 1;
        const __m512i r0 = _mm512_permutexvar_epi32(pd, _mm512_maskz_loadu_epi8(m, src[0] + 3 * x));
        const __m512i r1 = _mm512_permutexvar_epi32(pd, _mm512_maskz_loadu_epi8(m, src[1] + 3 * x));
        const __m512i r2 = _mm512_permutexvar_epi32(pd, _mm512_maskz_loadu_epi8(m, src[2] + 3 * x));
        _mm512_storeu_si512(d + 9 * x, _mm512_ternarylogic_epi32(_mm512_shuffle_epi8(r0, s0),
                                                                 _mm512_shuffle_epi8(r1, s1),
                                                                 _mm512_shuffle_epi8(r2, s2), 0xfe));
    }
}

/* Output row oy of image b's k_h input rows -> dst as columns
 * -pad_left .. of k_h*in_c bytes each; cols9: the table's repack of 3x3x3
 * columns (qdirect_cols9; NULL: a copy per column and row).  zrow:
 * in_w*in_c bytes for the rows in the padding. */
static void direct_repack(const struct mnet_conv_geom *g, const uint8_t *in, size_t b, int oy, uint8_t zp,
                          uint8_t *dst, uint8_t *zrow, void (*cols9)(const uint8_t *const *, int, uint8_t *))
{
    const int C = g->in_c, kh = g->k_h, cb = kh * C;
    const size_t row_in = (size_t)g->in_w * C;
    const int cols = (g->out_w - 1) * g->stride_w + g->k_w;
    const uint8_t *src[64];
    int zfill = 0;
    for (int ky = 0; ky < kh; ky++) {
        int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
        src[ky] = iy < 0 || iy >= g->in_h ? zrow : in + (b * g->in_h + iy) * row_in;
        zfill |= src[ky] == zrow;
    }
    if (zfill)
        memset(zrow, zp, row_in);
    /* input columns [0, xe) land in columns pad_left..; the rest is in_zp */
    const int xe = cols - g->pad_left < g->in_w ? cols - g->pad_left : g->in_w;
    uint8_t *d0 = dst + (size_t)g->pad_left * cb;
    if (C == 3 && kh == 3 && cols9) {
        cols9(src, xe, d0);
    } else if (C == 3) { /* a constant size: inline copies */
        for (int x = 0; x < xe; x++)
            for (int ky = 0; ky < kh; ky++)
                memcpy(d0 + (size_t)x * cb + ky * 3, src[ky] + (size_t)x * 3, 3);
    } else {
        for (int x = 0; x < xe; x++)
            for (int ky = 0; ky < kh; ky++)
                memcpy(d0 + (size_t)x * cb + ky * C, src[ky] + (size_t)x * C, C);
    }
    memset(dst, zp, (size_t)g->pad_left * cb);
    if (g->pad_left + xe < cols)
        memset(d0 + (size_t)xe * cb, zp, (size_t)(cols - g->pad_left - xe) * cb);
}

/* One RM x (NV*16) tile: pixel r's patch at base + r*sx; rows r >= R are
 * computed but not stored.  FIX as in qgemm_tile. */
TVNNI INL void qdirect_tile(const struct qgemm *p, int RM, int NV, int FIX, int R,
                            const uint8_t *base, size_t sx, const int32_t *corr,
                            const int8_t *wp, uint8_t *out, size_t ldo, int col0)
{
    __m512i acc[RMAX][4];
    qgemm_init(p, RM, NV, acc, col0);
    if (FIX)
        qgemm_fixup(p, RM, NV, acc, NULL, base, sx, col0 / PANEL);
    for (int k4 = 0; k4 < p->K4; k4++, wp += NV * 64)
        qgemm_step(acc, RM, NV, NULL, base, sx, (size_t)4 * k4, wp, 0);
    qgemm_store(p, RM, NV, R, acc, corr, out, ldo, col0);
}

TVNNI INL void qdirect_tile_nv(const struct qgemm *p, int FIX, int NV, int R, const uint8_t *base,
                               size_t sx, const int32_t *corr, const int8_t *wp,
                               uint8_t *out, size_t ldo, int col0)
{
    switch (NV) {
    case 4: qdirect_tile(p, 6, 4, FIX, R, base, sx, corr, wp, out, ldo, col0); break;
    case 3: qdirect_tile(p, 8, 3, FIX, R, base, sx, corr, wp, out, ldo, col0); break;
    case 2: qdirect_tile(p, 14, 2, FIX, R, base, sx, corr, wp, out, ldo, col0); break;
    default: qdirect_tile(p, 24, 1, FIX, R, base, sx, corr, wp, out, ldo, col0); break;
    }
}

/* (as qgemm_tile_any / qgemm_tile_fix) */
TVNNI static void qdirect_tile_any(const struct qgemm *p, int NV, int R, const uint8_t *base,
                                   size_t sx, const int32_t *corr, const int8_t *wp,
                                   uint8_t *out, size_t ldo, int col0)
{
    qdirect_tile_nv(p, 0, NV, R, base, sx, corr, wp, out, ldo, col0);
}

TVNNI static void qdirect_tile_fix(const struct qgemm *p, int NV, int R, const uint8_t *base,
                                   size_t sx, const int32_t *corr, const int8_t *wp,
                                   uint8_t *out, size_t ldo, int col0)
{
    qdirect_tile_nv(p, 1, NV, R, base, sx, corr, wp, out, ldo, col0);
}

/* An output row's last 1-4 pixels as a tile of just those rows (rows
 * grouped as in qgemm_tile_short). */
TVNNI static void qdirect_tile_short(const struct qgemm *p, int NV, int R, const uint8_t *base,
                                     size_t sx, const int32_t *corr, const int8_t *wp,
                                     uint8_t *out, size_t ldo, int col0)
{
    const int fx = p->fix != NULL;
#define QDTILE(RM, NV, RR) qdirect_tile(p, RM, NV, fx, RR, base, sx, corr, wp, out, ldo, col0)
    SHORT_TILE(QDTILE, NV, R);
#undef QDTILE
}

TVNNI static void qdirect_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                              void *scratch, int threads)
{
    const struct qgemm *p = l->packed;
    const struct mnet_conv_geom *g = &l->g;
    const size_t cb = (size_t)g->k_h * g->in_c, sx = (size_t)g->stride_w * cb;
    const size_t zoff = p->ldk - mnet_round_up((size_t)g->in_w * g->in_c, 64);
    const long rows = (long)n * g->out_h;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long row = 0; row < rows; row++) {
        uint8_t *buf = (uint8_t *)scratch + (size_t)thread_id() * p->tscratch;
        int32_t *corr = p->w_zp ? (int32_t *)(buf + p->ldk) : NULL;
        uint8_t *orow = out + (size_t)row * g->out_w * p->N;
        direct_repack(g, in, (size_t)(row / g->out_h), (int)(row % g->out_h), (uint8_t)l->in_zp, buf,
                      buf + zoff, qdirect_cols9);
        if (corr) /* pixel x's patch: K bytes at buf + x * sx */
            row_corr(buf, sx, p->K, (size_t)g->out_w, p->w_zp, corr);
        for (int pan = 0; pan < p->panels; pan++) {
            int nv = (p->N - pan * PANEL + 15) / 16;
            nv = nv > 4 ? 4 : nv;
            const int8_t *wp = p->w + (size_t)pan * p->K4 * PANEL * 4;
            /* 2 vectors: 14-row tiles (28 accumulators; the stem's 112 = 8 x 14,
             * no short tile) measured 5% faster than 12 */
            const int rm = nv == 2 ? 14 : rows_for(nv);
            for (int ox = 0; ox < g->out_w; ox += rm) {
                const int R = g->out_w - ox < rm ? g->out_w - ox : rm;
                const uint8_t *base = buf + (size_t)ox * sx;
                (R <= 4   ? qdirect_tile_short
                 : p->fix ? qdirect_tile_fix
                          : qdirect_tile_any)(p, nv, R, base, sx, corr ? corr + ox : NULL, wp,
                                              orow + (size_t)ox * p->N, (size_t)p->N, pan * PANEL);
            }
        }
    }
}

/* What row tile t of panel pan prefetches (as fpf_slice): lines t*n ..
 * t*n + n - 1 of the next panel (K4 * nv lines), n = ceil(K4/2), *pfn of
 * them (0 past its end or after the last panel).  In a model a layer's
 * weights come from L3 once per image: at 7x7 (9 tiles a panel) each panel's
 * first tile otherwise waits for them. */
static const int8_t *qpf_slice(const struct qgemm *p, int pan, int t, int *pfn)
{
    *pfn = 0;
    if (pan + 1 >= p->panels || p->K4 < 16) /* panels under 4 KB: cached anyway */
        return p->w;
    int nv = (p->N - (pan + 1) * PANEL + 15) / 16;
    nv = nv > 4 ? 4 : nv;
    const int n = (p->K4 + 1) / 2;
    long left = (long)p->K4 * nv - (long)t * n;
    if (left <= 0)
        return p->w;
    *pfn = left < n ? (int)left : n;
    return p->w + (size_t)(pan + 1) * p->K4 * PANEL * 4 + (size_t)t * n * 64;
}

TVNNI static void vnni_qconv_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                                 void *scratch, int threads)
{
    const struct xpack *h = l->packed;
    if (h->kind == PK_C) {
        struct mnet_qconv tmp = *l;
        tmp.packed = h->c_packed;
        mnet_kernels_c.qconv_run(&tmp, n, in, out, scratch, threads);
        return;
    }
    const struct qgemm *p = l->packed;
    if (p->direct) {
        qdirect_run(l, n, in, out, scratch, threads);
        return;
    }
    const struct mnet_conv_geom *g = &l->g;
    const size_t M = (size_t)n * g->out_h * g->out_w;
    const struct split sp = task_split(M, gemm_unit(rows_for(last_nv(p->N))), p->panels, threads);
    const long tasks = sp.chunks * sp.groups;
    long full = 0; /* task 0's full tiles */
    if (l->pf && p->pw && !p->half) {
        int p0, p1;
        size_t m0, m1;
        split_task(&sp, 0, p->panels, &p0, &p1, &m0, &m1);
        for (int pan = p0; pan < p1; pan++)
            full += (long)((m1 - m0) / (size_t)rows_for(pan + 1 < p->panels ? 4 : last_nv(p->N)));
    }
    const struct pfshare nx = pf_share(l->pf, l->pf_bytes, tasks, full, p->K / 4);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long t = 0; t < tasks; t++) {
        int p0, p1;
        size_t m0, m1;
        split_task(&sp, t, p->panels, &p0, &p1, &m0, &m1);
        uint8_t *ts = (uint8_t *)scratch + (size_t)thread_id() * p->tscratch;
        int32_t *corr = p->w_zp ? (int32_t *)(ts + (p->pw ? 0 : RMAX * p->ldk)) : NULL;
        if (p->pw) {
            if (corr)
                row_corr(in + m0 * p->K, (size_t)p->K, p->K, m1 - m0, p->w_zp, corr);
            const long task = t; /* (t is a tile's index in its panel below) */
            long j = 0;          /* the task's next full tile */
            for (int pan = p0; pan < p1; pan++) {
                int nv = (p->N - pan * PANEL + 15) / 16;
                nv = nv > 4 ? 4 : nv;
                const int8_t *wp = p->w + (size_t)pan * p->K4 * PANEL * 4;
                const int rm = rows_for(nv);
                int t = 0;
                for (size_t m = m0; m < m1; m += rm, t++) {
                    int R = m1 - m < (size_t)rm ? (int)(m1 - m) : rm;
                    const uint8_t *rows[RMAX];
                    for (int r = 0; r < rm; r++)
                        rows[r] = in + (m + (r < R ? r : 0)) * (size_t)p->K;
                    if (p->half) {
                        (p->fix ? qgemm_half_fix : qgemm_half_any)(p, R, rows, wp, out + m * p->N,
                                                                   (size_t)p->N);
                        continue;
                    }
                    int pfn;
                    const int8_t *pf = qpf_slice(p, pan, t, &pfn);
                    if (R == rm && j < nx.tiles) {
                        qgemm_tile_nx(p, nv, R, rows, corr ? corr + (m - m0) : NULL, wp, out + m * p->N,
                                      (size_t)p->N, pan * PANEL, pf, pfn, pf_tile(&nx, task, j++));
                        continue;
                    }
                    (R <= 4   ? qgemm_tile_short
                     : p->fix ? qgemm_tile_fix
                     : pfn    ? qgemm_tile_pf
                              : qgemm_tile_any)(p, nv, R, rows, corr ? corr + (m - m0) : NULL,
                                                             wp, out + m * p->N, (size_t)p->N, pan * PANEL,
                                                             pf, pfn);
                }
            }
        } else {
            uint8_t *buf = ts;
            /* (b, oy, ox) of row m0, stepped along without divisions */
            int ox = (int)(m0 % g->out_w), oy = (int)((m0 / g->out_w) % g->out_h);
            size_t b = m0 / ((size_t)g->out_w * g->out_h);
            for (size_t m = m0; m < m1; m += RMAX) {
                int RG = m1 - m < RMAX ? (int)(m1 - m) : RMAX; /* rows gathered */
                for (int r = 0; r < RG; r++) {
                    gather_patch(g, in, 1, b, oy, ox, (uint8_t)l->in_zp, buf + (size_t)r * p->ldk);
                    if (++ox == g->out_w) {
                        ox = 0;
                        if (++oy == g->out_h) {
                            oy = 0;
                            b++;
                        }
                    }
                }
                if (corr) /* after the whole gather: reading a row just written stalls */
                    row_corr(buf, p->ldk, p->K, (size_t)RG, p->w_zp, corr);
                for (int pan = p0; pan < p1; pan++) {
                    int nv = (p->N - pan * PANEL + 15) / 16;
                    nv = nv > 4 ? 4 : nv;
                    const int8_t *wp = p->w + (size_t)pan * p->K4 * PANEL * 4;
                    const int rm = rows_for(nv);
                    for (int sub = 0; sub < RG; sub += rm) {
                        int R = RG - sub < rm ? RG - sub : rm;
                        const uint8_t *rows[RMAX];
                        for (int r = 0; r < rm; r++)
                            rows[r] = buf + (size_t)(sub + (r < R ? r : 0)) * p->ldk;
                        (p->fix ? qgemm_tile_fix : qgemm_tile_any)(p, nv, R, rows, corr ? corr + sub : NULL, wp,
                                       out + (m + sub) * p->N, (size_t)p->N, pan * PANEL, p->w, 0);
                    }
                }
            }
        }
    }
}

/* ======================= float GEMM (AVX-512 FMA) ======================= */

struct fgemm {
    struct xpack h;
    float *block;       /* first after the header: freed by release */
    float *w;           /* [panel][K][nv*16] */
    float *bias;        /* panels*64 */
    int K, N, panels, pw;
    int direct;         /* short kernel rows (the stem): fdirect_run */
    size_t ldk;         /* floats per gathered row */
    float out_min, out_max;
};

static int f_gemm_prepare(struct mnet_fconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    int K = g->k_h * g->k_w * g->in_c;
    if (g->depth_multiplier > 1)
        return f_fallback(l, max_batch, threads, 0);
    struct fgemm *p = x_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->h.kind = PK_FGEMM;
    p->K = K;
    p->N = g->out_c;
    p->panels = (g->out_c + PANEL - 1) / PANEL;
    p->pw = mnet_conv_is_pointwise(g);
    p->direct = direct_ok(g);
    p->ldk = mnet_round_up((size_t)K, 16);
    size_t wsz = (size_t)p->panels * K * PANEL;
    p->block = x_alloc_shared((wsz + (size_t)p->panels * PANEL) * sizeof(float));
    if (!p->block) {
        free(p);
        return -ENOMEM;
    }
    p->w = p->block;
    p->bias = p->block + wsz;
    for (int oc = 0; oc < p->N; oc++) {
        int pan = oc / PANEL, col = oc % PANEL;
        int nv = (p->N - pan * PANEL + 15) / 16;
        nv = nv > 4 ? 4 : nv;
        float *dst = p->w + (size_t)pan * K * PANEL;
        for (int k = 0; k < K; k++)
            dst[(size_t)k * nv * 16 + col] = l->w[(size_t)oc * K + k];
        p->bias[oc] = l->bias[oc];
    }
    p->out_min = l->out_min;
    p->out_max = l->out_max;
    l->packed = p;
    l->scratch_bytes = p->pw ? 0 : (size_t)(threads > 0 ? threads : 1) * RMAX * p->ldk * sizeof(float);
    (void)max_batch;
    return 0;
}

/* Epilogue of a float tile: clamp, row r -> out + r*ldo, columns col0..;
 * rows r >= R are not stored. */
T512 INL void fgemm_store(const struct fgemm *p, int RM, int NV, int R, __m512 acc[RMAX][4],
                          float *out, size_t ldo, int col0)
{
    const __m512 lo = _mm512_set1_ps(p->out_min), hi = _mm512_set1_ps(p->out_max);
    /* the tail masks once per tile: a store may alias p->N, so the compiler
     * would reload it and rebuild the mask for every vector */
    __mmask16 m[4];
    const int left = p->N - col0;
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++)
        m[v] = left > v * 16 ? lanes16(left - v * 16) : 0;
#pragma GCC unroll 24
    for (int r = 0; r < RMAX; r++) {
        if (r >= RM || r >= R)
            break;
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
            if (v >= NV)
                break;
            __m512 y = _mm512_min_ps(_mm512_max_ps(acc[r][v], lo), hi);
            _mm512_mask_storeu_ps(out + (size_t)r * ldo + col0 + v * 16, m[v], y);
        }
    }
}

/* One RM x (NV*16) tile; rows r >= R are computed (repeating row 0) but not
 * stored.  Row r's K values are nseg runs of K/nseg, run s at rows[r] +
 * s*ld[r] (a conv reads its taps in place: a run per kernel row).  Every
 * other k step, the first 2*pfn, prefetches one line of pf into L2 (a slice
 * of the next weight panel, spread over the panel's tiles so that streaming
 * it from memory overlaps this panel's FMAs without taking every fill
 * buffer); the first RM*NV k steps prefetch the output lines of the tile
 * after next (rows 2*RM.. of out: a cold output line is otherwise read for
 * ownership while the stores wait; one tile ahead is too late at small K).
 * A prefetch past the tensor's end does not fault. */
T512 INL void fgemm_tile(const struct fgemm *p, int RM, int NV, int R, const float *const *rows,
                         const size_t *ld, int nseg, const float *wp, float *out, size_t ldo,
                         int col0, const float *pf, int pfn)
{
    __m512 acc[RMAX][4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        __m512 b = v < NV ? _mm512_load_ps(p->bias + col0 + v * 16) : _mm512_setzero_ps();
#pragma GCC unroll 24
        for (int r = 0; r < RMAX; r++)
            if (r < RM)
                acc[r][v] = b;
    }
    const int seg = p->K / nseg;
    for (int s = 0, k = 0; s < nseg; s++) {
        const float *rs[RMAX];
#pragma GCC unroll 24
        for (int r = 0; r < RMAX; r++)
            if (r < RM)
                rs[r] = s ? rows[r] + s * ld[r] : rows[r];
        for (int j = 0; j < seg; j++, k++) {
            const float *wk = wp + (size_t)k * NV * 16;
            if (!(k & 1) && k < 2 * pfn)
                _mm_prefetch((const char *)(pf + (size_t)k * 8), _MM_HINT_T1);
            if (k < RM * NV)
                _mm_prefetch((const char *)(out + (size_t)(2 * RM + k / NV) * ldo + col0 + k % NV * 16),
                             _MM_HINT_T0);
            __m512 w[4];
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                if (v < NV)
                    w[v] = _mm512_load_ps(wk + v * 16);
#pragma GCC unroll 24
            for (int r = 0; r < RMAX; r++) {
                if (r >= RM)
                    break;
                const __m512 a = _mm512_set1_ps(rs[r][j]);
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++)
                    if (v < NV)
                        acc[r][v] = _mm512_fmadd_ps(a, w[v], acc[r][v]);
            }
        }
    }
    fgemm_store(p, RM, NV, R, acc, out, ldo, col0);
}

/* A tile of up to 4 rows computes just those (M = 1 is a GEMV: the weights
 * stream once, NV accumulator chains). */
T512 static void fgemm_tile_any(const struct fgemm *p, int NV, int R, const float *const *rows,
                                const size_t *ld, int nseg, const float *wp, float *out, size_t ldo,
                                int col0, const float *pf, int pfn)
{
#define FT(RM, NV) fgemm_tile(p, RM, NV, R, rows, ld, nseg, wp, out, ldo, col0, pf, pfn)
#define FT_SMALL(NV)                                                                               \
    switch (R) {                                                                                   \
    case 1: FT(1, NV); return;                                                                     \
    case 2: FT(2, NV); return;                                                                     \
    case 3: FT(3, NV); return;                                                                     \
    case 4: FT(4, NV); return;                                                                     \
    }
    switch (NV) {
    case 4: FT_SMALL(4); FT(6, 4); break;
    case 3: FT_SMALL(3); FT(8, 3); break;
    case 2: FT_SMALL(2); FT(8, 2); break;
    default: FT_SMALL(1); FT(12, 1); break;
    }
#undef FT_SMALL
#undef FT
}

/* Panel pan's weights; *nv its 16-column vectors. */
static const float *fpanel(const struct fgemm *p, int pan, int *nv)
{
    int v = (p->N - pan * PANEL + 15) / 16;
    *nv = v > 4 ? 4 : v;
    return p->w + (size_t)pan * p->K * PANEL;
}

/* What row tile t of panel pan prefetches: lines t*n .. t*n + n - 1 of the
 * next panel, n = ceil(K/2) (*pfn of them, 0 past its end or after the last
 * panel).  A task's 48 rows are 8, 6, 6 or 4 tiles of a panel of 4, 3, 2 or
 * 1 vectors (K*nv lines): the prefetch is spread over all of them. */
static const float *fpf_slice(const struct fgemm *p, int pan, int t, int *pfn)
{
    *pfn = 0;
    if (pan + 1 >= p->panels)
        return p->w;
    int nv;
    const float *next = fpanel(p, pan + 1, &nv);
    const int n = (p->K + 1) / 2;
    long left = (long)p->K * nv - (long)t * n;
    if (left <= 0)
        return p->w;
    *pfn = left < n ? (int)left : n;
    return next + (size_t)t * n * 16;
}

/* ======================= float direct conv: the stem =======================
 *
 * The float direct kernel (the int8 one's former layout): kernel row ky of
 * output pixel (oy, ox) is a run of L = k_w*in_c floats read in place, each
 * broadcast in turn (the packed weights are the GEMM's, K = k_h*L in order),
 * and a tile's pixels are sx = stride_w*in_c floats apart, so one pointer
 * serves a tile where the GEMM path sets up and spills one per pixel.
 * Tiles touching the padding are gathered (zeros), runs L floats apart.
 * The AVX2 tables run the same rows with their 6 x 16 tiles (fdirect2_tile). */

/* One RM x (NV*16) tile: pixel r's kernel row ky at base + r*sx + ky*ld. */
T512 INL void fdirect_tile(const struct fgemm *p, int RM, int NV, int R, const float *base,
                           size_t sx, size_t ld, int kh, int L, const float *wp, float *out,
                           size_t ldo, int col0)
{
    __m512 acc[RMAX][4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        __m512 b = v < NV ? _mm512_load_ps(p->bias + col0 + v * 16) : _mm512_setzero_ps();
#pragma GCC unroll 24
        for (int r = 0; r < RMAX; r++)
            if (r < RM)
                acc[r][v] = b;
    }
    for (int ky = 0; ky < kh; ky++, base += ld) {
        for (int j = 0; j < L; j++, wp += NV * 16) {
            __m512 w[4];
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                if (v < NV)
                    w[v] = _mm512_load_ps(wp + v * 16);
#pragma GCC unroll 24
            for (int r = 0; r < RMAX; r++) {
                if (r >= RM)
                    break;
                const __m512 a = _mm512_set1_ps(base[r * sx + j]);
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++)
                    if (v < NV)
                        acc[r][v] = _mm512_fmadd_ps(a, w[v], acc[r][v]);
            }
        }
    }
    fgemm_store(p, RM, NV, R, acc, out, ldo, col0);
}

T512 static void fdirect_tile_any(const struct fgemm *p, int NV, int R, const float *base, size_t sx,
                                  size_t ld, int kh, int L, const float *wp, float *out, size_t ldo,
                                  int col0)
{
    switch (NV) {
    case 4: fdirect_tile(p, 6, 4, R, base, sx, ld, kh, L, wp, out, ldo, col0); break;
    case 3: fdirect_tile(p, 8, 3, R, base, sx, ld, kh, L, wp, out, ldo, col0); break;
    case 2: fdirect_tile(p, 12, 2, R, base, sx, ld, kh, L, wp, out, ldo, col0); break;
    default: fdirect_tile(p, 24, 1, R, base, sx, ld, kh, L, wp, out, ldo, col0); break;
    }
}

/* A table's direct tiles: rows r < R of pixel r's kernel row ky at
 * base + r*sx + ky*ld, L floats each, against panel wp (nv vectors). */
typedef void fdirect_tile_fn(const struct fgemm *p, int nv, int R, const float *base, size_t sx, size_t ld,
                             int kh, int L, const float *wp, float *out, size_t ldo, int col0);

/* ... and its patch gather for the tiles touching the padding (zeros). */
typedef void fdirect_gather_fn(const struct mnet_conv_geom *g, const float *in, size_t b, int oy, int ox,
                               float *dst);

/* The direct conv's output rows with a table's tiles of rows_of(nv) pixels
 * (no target of its own: the tiles and the gather have theirs). */
static void fdirect_run(const struct mnet_fconv *l, int n, const float *in, float *out, void *scratch,
                        int threads, fdirect_tile_fn *tile, int (*rows_of)(int), fdirect_gather_fn *gather)
{
    const struct fgemm *p = l->packed;
    const struct mnet_conv_geom *g = &l->g;
    const int L = g->k_w * g->in_c;
    const size_t sx = (size_t)g->stride_w * g->in_c, ld = (size_t)g->dil_h * g->in_w * g->in_c;
    /* output columns [xa, xb) have every tap inside the row */
    const int xa = (g->pad_left + g->stride_w - 1) / g->stride_w;
    const int xb = g->in_w + g->pad_left < g->k_w ? 0 : (g->in_w + g->pad_left - g->k_w) / g->stride_w + 1;
    const long rows = (long)n * g->out_h;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long row = 0; row < rows; row++) {
        const size_t b = (size_t)(row / g->out_h);
        const int oy = (int)(row % g->out_h), iy0 = oy * g->stride_h - g->pad_top;
        const int rows_in = iy0 >= 0 && iy0 + (g->k_h - 1) * g->dil_h < g->in_h;
        float *buf = (float *)scratch + (size_t)thread_id() * RMAX * p->ldk;
        float *orow = out + (size_t)row * g->out_w * p->N;
        for (int pan = 0; pan < p->panels; pan++) {
            int nv;
            const float *wp = fpanel(p, pan, &nv);
            const int rm = rows_of(nv);
            for (int ox = 0; ox < g->out_w;) {
                int R = g->out_w - ox < rm ? g->out_w - ox : rm;
                if (rows_in && ox >= xa && ox + rm <= xb) { /* a whole tile in place */
                    const float *base = in + ((b * g->in_h + iy0) * g->in_w +
                                              (size_t)(ox * g->stride_w - g->pad_left)) * g->in_c;
                    tile(p, nv, R, base, sx, ld, g->k_h, L, wp, orow + (size_t)ox * p->N, (size_t)p->N,
                         pan * PANEL);
                } else {
                    if (ox < xa && ox + R > xa)
                        R = xa - ox; /* the tiles after the left border start in place */
                    for (int r = 0; r < rm; r++) { /* rows past R: zeros, computed, not stored */
                        if (r < R)
                            gather(g, in, b, oy, ox + r, buf + r * p->ldk);
                        else
                            memset(buf + r * p->ldk, 0, (size_t)p->K * sizeof(float));
                    }
                    tile(p, nv, R, buf, p->ldk, (size_t)L, g->k_h, L, wp, orow + (size_t)ox * p->N,
                         (size_t)p->N, pan * PANEL);
                }
                ox += R;
            }
        }
    }
}

T512 static void fgather_x512(const struct mnet_conv_geom *g, const float *in, size_t b, int oy, int ox,
                              float *dst)
{
    gather_patch(g, (const uint8_t *)in, sizeof(float), b, oy, ox, 0, (uint8_t *)dst);
}

T512 static void x512_fconv_run(const struct mnet_fconv *l, int n, const float *in, float *out,
                                void *scratch, int threads)
{
    const struct xpack *h = l->packed;
    if (h->kind == PK_C) {
        struct mnet_fconv tmp = *l;
        tmp.packed = h->c_packed;
        mnet_kernels_c.fconv_run(&tmp, n, in, out, scratch, threads);
        return;
    }
    const struct fgemm *p = l->packed;
    if (p->direct) {
        fdirect_run(l, n, in, out, scratch, threads, fdirect_tile_any, rows_for, fgather_x512);
        return;
    }
    const struct mnet_conv_geom *g = &l->g;
    const size_t M = (size_t)n * g->out_h * g->out_w;
    const struct split sp = task_split(M, gemm_unit(frows_for(last_nv(p->N))), p->panels, threads);
    const long tasks = sp.chunks * sp.groups;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long t = 0; t < tasks; t++) {
        int p0, p1;
        size_t m0, m1;
        split_task(&sp, t, p->panels, &p0, &p1, &m0, &m1);
        if (p->pw) {
            for (int pan = p0; pan < p1; pan++) {
                int nv;
                const float *wp = fpanel(p, pan, &nv);
                const int rm = frows_for(nv);
                int t = 0;
                for (size_t m = m0; m < m1; m += rm, t++) {
                    int R = m1 - m < (size_t)rm ? (int)(m1 - m) : rm;
                    const float *rows[RMAX];
                    for (int r = 0; r < rm; r++)
                        rows[r] = in + (m + (r < R ? r : 0)) * (size_t)p->K;
                    int pfn;
                    const float *pf = fpf_slice(p, pan, t, &pfn);
                    fgemm_tile_any(p, nv, R, rows, NULL, 1, wp, out + m * p->N, (size_t)p->N,
                                   pan * PANEL, pf, pfn);
                }
            }
        } else {
            /* Patches inside the image are read in place, a run of k_w*in_c
             * per kernel row; only border patches are gathered. */
            float *buf = (float *)scratch + (size_t)thread_id() * RMAX * p->ldk;
            const int nseg = g->dil_w == 1 ? g->k_h : 1;
            const size_t ld_in = (size_t)g->dil_h * g->in_w * g->in_c, ld_buf = (size_t)p->K / nseg;
            int ox = (int)(m0 % g->out_w), oy = (int)((m0 / g->out_w) % g->out_h);
            size_t b = m0 / ((size_t)g->out_w * g->out_h);
            for (size_t m = m0; m < m1; m += RMAX) {
                int RG = m1 - m < RMAX ? (int)(m1 - m) : RMAX; /* rows in this block */
                const float *prow[RMAX];
                size_t pld[RMAX];
                for (int r = 0; r < RG; r++) {
                    int iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left;
                    if (nseg > 1 && iy0 >= 0 && iy0 + (g->k_h - 1) * g->dil_h < g->in_h && ix0 >= 0 &&
                        ix0 + g->k_w <= g->in_w) {
                        prow[r] = in + ((b * g->in_h + iy0) * g->in_w + ix0) * g->in_c;
                        pld[r] = ld_in;
                    } else {
                        gather_patch(g, (const uint8_t *)in, sizeof(float), b, oy, ox, 0,
                                     (uint8_t *)(buf + (size_t)r * p->ldk));
                        prow[r] = buf + (size_t)r * p->ldk;
                        pld[r] = ld_buf;
                    }
                    if (++ox == g->out_w) {
                        ox = 0;
                        if (++oy == g->out_h) {
                            oy = 0;
                            b++;
                        }
                    }
                }
                for (int pan = p0; pan < p1; pan++) {
                    int nv;
                    const float *wp = fpanel(p, pan, &nv);
                    const int rm = frows_for(nv);
                    for (int sub = 0, t = 0; sub < RG; sub += rm, t++) {
                        int R = RG - sub < rm ? RG - sub : rm;
                        const float *rows[RMAX];
                        size_t ld[RMAX];
                        for (int r = 0; r < rm; r++) {
                            rows[r] = prow[sub + (r < R ? r : 0)];
                            ld[r] = pld[sub + (r < R ? r : 0)];
                        }
                        int pfn;
                        const float *pf = fpf_slice(p, pan, t, &pfn);
                        fgemm_tile_any(p, nv, R, rows, ld, nseg, wp, out + (m + sub) * p->N,
                                       (size_t)p->N, pan * PANEL, pf, pfn);
                    }
                }
            }
        }
    }
}

/* ======================= int8 depthwise (AVX-512BW) ======================= */

/* Input row of each ky for output row (b, oy), NULL when in the padding. */
static void dw_rows(const struct mnet_conv_geom *g, const uint8_t *in, size_t es, int b, int oy,
                    const uint8_t **rows)
{
    for (int ky = 0; ky < g->k_h; ky++) {
        int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
        rows[ky] = iy < 0 || iy >= g->in_h
                       ? NULL
                       : in + ((size_t)b * g->in_h + iy) * g->in_w * g->in_c * es;
    }
}

/* Tap pointers of output column ox (padded taps -> zrow). */
static inline void dw_taps(const struct mnet_conv_geom *g, const uint8_t *const *rows, size_t es,
                           int ox, const uint8_t *zrow, const uint8_t **tap)
{
    const size_t pix = (size_t)g->in_c * es;
    int ix0 = ox * g->stride_w - g->pad_left;
    int inside = ix0 >= 0 && ix0 + (g->k_w - 1) * g->dil_w < g->in_w;
    for (int ky = 0, t = 0; ky < g->k_h; ky++) {
        const uint8_t *r = rows[ky];
        for (int kx = 0; kx < g->k_w; kx++, t++) {
            int ix = ix0 + kx * g->dil_w;
            tap[t] = r && (inside || (ix >= 0 && ix < g->in_w)) ? r + (size_t)ix * pix : zrow;
        }
    }
}

#define DWB 32 /* channels per step */

struct qdw {
    struct xpack h;
    void *block;        /* first after the header: freed by release */
    int taps, pairs, C, blocks;
    int16_t *w;         /* [block][pair][lo 32 | hi 32] int16, (w - w_zp) in unpack order */
    struct rq rq;       /* [block][lo | hi] in unpack order */
    uint8_t *zrow;      /* blocks*32 bytes of in_zp: what padded taps read */
    int32_t out_zp, out_min, out_max;
};

/* Lane j (0..15) of the lo / hi half of an unpacked 32-channel step holds
 * channel 8*(j/4) + j%4 (lo) or that + 4 (hi): vpunpck{l,h}wd work within
 * 128-bit lanes. */
static int dw_chan(int half, int j)
{
    return 8 * (j / 4) + j % 4 + 4 * half;
}

static int x512_qdw_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    if (g->depth_multiplier != 1 || g->k_h * g->k_w > 64 || !rq_ok(l, 1))
        return q_fallback(l, max_batch, threads, 1);
    struct qdw *p = x_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->h.kind = PK_QDW;
    p->taps = g->k_h * g->k_w;
    p->pairs = (p->taps + 1) / 2;
    p->C = g->out_c;
    p->blocks = (p->C + DWB - 1) / DWB;
    size_t nw = (size_t)p->blocks * p->pairs * 64;
    size_t nc = (size_t)p->blocks * DWB;
    p->block = x_alloc(RQ_BYTES(nc / 16) + nw * sizeof(int16_t) + nc);
    if (!p->block) {
        free(p);
        return -ENOMEM;
    }
    rq_place(&p->rq, p->block, nc / 16);
    p->w = (int16_t *)((char *)p->block + RQ_BYTES(nc / 16));
    p->zrow = (uint8_t *)(p->w + nw);
    memset(p->zrow, (int)l->in_zp, nc);
    for (int b = 0; b < p->blocks; b++) {
        for (int half = 0; half < 2; half++)
            for (int j = 0; j < 16; j++) {
                int c = b * DWB + dw_chan(half, j);
                size_t vec = (size_t)b * 2 + half;
                if (c >= p->C)
                    continue;
                /* Raw u8 inputs times (w - w_zp): subtract in_zp * sum once. */
                int32_t wsum = 0;
                for (int t = 0; t < p->taps; t++)
                    wsum += l->w[(size_t)t * p->C + c] - l->w_zp;
                rq_set(&p->rq, vec, j, l->bias[c] - l->in_zp * wsum, l->mult[c], l->shift[c]);
                for (int pr = 0; pr < p->pairs; pr++)
                    for (int s = 0; s < 2; s++) {
                        int t = 2 * pr + s;
                        int16_t wv = t < p->taps ? (int16_t)(l->w[(size_t)t * p->C + c] - l->w_zp) : 0;
                        p->w[((size_t)b * p->pairs + pr) * 64 + half * 32 + 2 * j + s] = wv;
                    }
            }
    }
    rq_plain(&p->rq, nc / 16, l->out_zp == 0 && l->out_min == 0); /* the clamp does out_max */
    p->out_zp = l->out_zp;
    p->out_min = l->out_min;
    p->out_max = l->out_max;
    l->packed = p;
    l->scratch_bytes = 0;
    (void)max_batch;
    (void)threads;
    return 0;
}

T512 static void x512_qdw_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                              void *scratch, int threads)
{
    const struct xpack *h = l->packed;
    if (h->kind == PK_C) {
        struct mnet_qconv tmp = *l;
        tmp.packed = h->c_packed;
        mnet_kernels_c.qdw_run(&tmp, n, in, out, scratch, threads);
        return;
    }
    const struct qdw *p = l->packed;
    const struct mnet_conv_geom *g = &l->g;
    const long rows = (long)n * g->out_h;
    const int C = p->C, fl = p->rq.fl;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long row = 0; row < rows; row++) {
        int b = (int)(row / g->out_h), oy = (int)(row % g->out_h);
        const uint8_t *tap[64 + 1];
        const uint8_t *rows_in[64];
        dw_rows(g, in, 1, b, oy, rows_in);
        const __m512i zp = _mm512_set1_epi32(p->out_zp);
        const __m512i lo = _mm512_set1_epi32(p->out_min), hi = _mm512_set1_epi32(p->out_max);
        for (int ox = 0; ox < g->out_w; ox++) {
            dw_taps(g, rows_in, 1, ox, p->zrow, tap);
            tap[p->taps] = p->zrow; /* partner of an odd last tap (weight 0) */
            uint8_t *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * C;
            for (int blk = 0; blk < p->blocks; blk++) {
                int c0 = blk * DWB;
                int left = C - c0;
                __mmask32 m = lanes32(left);
                __m512i a_lo = _mm512_load_si512(rq_bias(&p->rq, (size_t)blk * 2));
                __m512i a_hi = _mm512_load_si512(rq_bias(&p->rq, (size_t)blk * 2 + 1));
                const int16_t *wb = p->w + (size_t)blk * p->pairs * 64;
                for (int pr = 0; pr < p->pairs; pr++) {
                    __m512i x0 = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, tap[2 * pr] + c0));
                    __m512i x1 = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, tap[2 * pr + 1] + c0));
                    a_lo = _mm512_add_epi32(a_lo, _mm512_madd_epi16(_mm512_unpacklo_epi16(x0, x1),
                                                                   _mm512_load_si512(wb + pr * 64)));
                    a_hi = _mm512_add_epi32(a_hi, _mm512_madd_epi16(_mm512_unpackhi_epi16(x0, x1),
                                                                   _mm512_load_si512(wb + pr * 64 + 32)));
                }
                const __m512i a[2] = { a_lo, a_hi };
                __m512i yv[2];
                rq_vecs(&p->rq, fl, 2, 2, (size_t)blk * 2, a, yv);
                __m512i y0 = yv[0], y1 = yv[1];
                y0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(y0, zp), lo), hi);
                y1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(y1, zp), lo), hi);
                /* packus undoes the in-lane interleave: channels back in order. */
                __m512i y = _mm512_packus_epi32(y0, y1);
                _mm256_mask_storeu_epi8(o + c0, m, _mm512_cvtepi16_epi8(y));
            }
        }
    }
}

/* ======================= int8 depthwise (VNNI, 4 taps a step) ======================= */

/* 64 channels a step.  Four taps' bytes are interleaved per channel with two
 * rounds of in-lane unpacks, then one vpdpbusd per 16 channels multiplies
 * them with the four taps' s8 weights.  Vector j of a step holds, in 128-bit
 * lane L, channels 16L + 4j + 0..3; three packs restore the channel order.
 * Kernels of up to 28 taps (5x5: 7 steps of 4).  A weight zero point
 * (uint8 models) is folded into the weights: w - w_zp clamped to int8, and
 * where that leaves some over (an outlier at the far end of the per-tensor
 * range: the real files' 7x7x960 layers have one or two) one more
 * vpdpbusd of that group and vector against the excess (a second vpdpbusd
 * per group against bytes of -w_zp for every vector did it before).  An
 * excess of 128 (w_zp -128 and a weight 127) takes the int16 kernel.
 * Rows also run in chunks of P = 64 / gcd(C, 64) <= 4 output pixels
 * wherever all their taps are inside the image: the chunk's P*C outputs are
 * contiguous, so it is P*C/64 whole steps (no idle lanes for C = 32, 96,
 * 144) with no per-tap padding checks.  At stride 1 a step's inputs are
 * contiguous too; at stride 2 a step that straddles two pixels loads its
 * two pieces with a second, merging masked load.  The pack holds those
 * steps (weights repeat with period C); a single pixel uses the first
 * `blocks` of them. */
#define DW4B 64
#define DW4_TAPS_MAX 28 /* 7 groups: 5x5 */

struct qdw4 {
    struct xpack h;
    void *block;
    int taps, groups, C, blocks;
    int chunk, fblocks; /* P pixels (0: per pixel only), P*C/64 steps */
    int split;          /* some chunk step straddles two pixels (stride 2) */
    struct dw4piece {   /* [fblock]: input offsets of a chunk step's two pieces */
        int32_t off0, off1;
        uint64_t m0;    /* bytes from piece 0 */
    } *piece;
    int8_t *w;          /* [fblock][group][j][64]: w - w_zp clamped to int8 */
    int8_t *xw;         /* as w: what w - w_zp has beyond that */
    uint32_t *xbits;    /* [fblock]: bit 4 * group + j: vector j of the group has some */
    struct rq rq;       /* [fblock][j] */
    uint8_t *zrow;      /* fblocks*64*stride bytes of in_zp */
    int32_t out_zp, out_min, out_max;
};

static int dw4_chan(int j, int lane)
{
    return 16 * (lane / 4) + 4 * j + lane % 4;
}

/* ---- 3x3 (dilation 1, multiplier 1): rows interleaved once ----
 * The 4-tap kernel below interleaves the same input row again for each of
 * the three output rows that read it (24 shuffles a step).  Here each input
 * row is interleaved ONCE into a tap-ready row: for every output column and
 * channel the 4 bytes (x[ix], x[ix+1], x[ix+2], 0), ix = ox*stride - pad_left
 * (padded columns hold in_zp), in the vector order of the 4-tap kernel
 * (vector j, lane L: output 16(L/4) + 4j + L%4 of the block, so that
 * pack_zp_clamp's in-lane packs give the outputs in order).  An output block
 * is then 3 rows x 4 vpdpbusd straight from those rows, no shuffles: 8
 * unpacks per interleaved block instead of 24 per output block at stride 1.
 * Each thread keeps the last three interleaved rows in a ring (slot iy % 3);
 * rows in the vertical padding read a constant row of in_zp.
 *
 * Blocks of 64 outputs: when C % 8 == 0 they tile the flat output row
 * (ox*C + c), so C = 16, 32, 48, 96, 144 waste no lanes (the channel of a
 * lane repeats with period C/gcd(C, 64) blocks: that many weight blocks);
 * otherwise ceil(C/64) blocks per pixel.  Which input bytes a block's tap kx
 * reads is worked out at prepare time as masked loads ("pieces": runs of
 * lanes at one offset in the input row; lanes of padded columns are in no
 * piece and keep in_zp): one plain load inside the image at stride 1, two
 * pieces where a block straddles two pixels at stride 2, a list otherwise.
 * Inside the image at stride 2 a straddling block's second piece of tap kx
 * is the first piece of tap kx + 1 (both C bytes on): four plain loads and
 * three blends instead of six merging masked loads (DW3_PAIR).
 *
 * A weight zero point (uint8 models): the weights are w - w_zp clamped to
 * int8; the taps where it does not fit (one or two channels per layer in the
 * real uint8 MobileNetV2, an outlier weight at the far end of the
 * per-tensor range) keep their excess elsewhere.  When a channel's outlier
 * taps are all in one column kx (the real files: one tap), byte 3 of its
 * groups, otherwise idle, holds column kx (two masked moves per
 * interleaved block) and its weight is the excess: no extra multiply-add
 * (56x56x144 with two outlier taps: 0.138 -> 0.111 ms, as without
 * outliers).  Other channels keep their excess in extra weight vectors,
 * one vpdpbusd of the same interleaved row each (two for an excess of
 * 128), only for the 16-channel vectors and kernel rows holding one.
 * Pairs keep all excess in passes (byte 3 holds the fourth column): a
 * pass per pixel, the odd pixel's excess one byte on; the vectors without
 * one are skipped by a branch (a pass costs two there), or in block order
 * the weight blocks without passes (qdw3_prow).
 *
 * Work is split into vertical strips of blocks (all output rows of an image,
 * a range of blocks): the ring of a strip stays in L1 next to the weights and
 * constants of 9 weight blocks (56x56x144: 16 KiB rings 0.85-0.9x the time of
 * 24 KiB ones), no two threads build the same row, and at batch 1 two
 * threads take one strip each. */
#define DW3_RING_BYTES (16 * 1024) /* 3 interleaved rows of a strip */

struct dw3piece {
    int32_t off;        /* input byte of lane 0, relative to the input row */
    uint64_t m;         /* lanes it fills */
};

enum { DW3_ONE, DW3_TWO, DW3_LIST, DW3_PAIR }; /* how a block's taps load */

/* What byte 3 of a 3-tap group holds: nothing used (no excess in byte 3);
 * per lane the column of its channel's outlier taps (x3m); or one column for
 * every lane, where all the excess sits in that column (the real files: the
 * centre), no masked moves: lanes without excess weigh it 0. */
enum { X3_NONE, X3_MASKS, X3_COL0, X3_COL1, X3_COL2 };

struct dw3blk {
    int32_t out_off;    /* first output byte, relative to the output row */
    int32_t mode;       /* DW3_*, for all taps */
    uint64_t smask;     /* output lanes stored */
    int32_t off[3][2];  /* ONE: off[kx][0]; TWO, PAIR: pieces (off, m) x 2 */
    uint64_t m[3][2];
    int32_t pc[4];      /* LIST: pieces of tap kx are pc[kx] .. pc[kx+1]-1 */
    uint64_t x3m[2];    /* lanes whose byte 3 is column 1 / 2 (others: column 0) */
};

/* A block's pair extras, apart: the 3-tap kernel's blocks stay small. */
struct dw3pair {
    int32_t off[2];     /* tap 3 as dw3blk's taps */
    uint64_t m[2];
    int32_t pc;         /* LIST: tap 3's pieces end (dw3blk pc[3]: start) */
    int32_t oo[2];      /* the even pixels' output pieces from out_off */
    uint64_t om[2][2];  /* [even, odd][piece]: lanes stored */
};

/* A weight block's excess passes: none; at most one per vector, all in one
 * kernel row each (the real files: one outlier tap): one unconditional
 * vpdpbusd per vector, no branches; any other pattern: tested per pass.
 * DX_FIX0 + j (pairs, the whole layer): vector j's pass in one row, in every
 * block (zero weights where it has none). */
enum { DX_NONE, DX_ONE, DX_ANY, DX_ONE_IF, DX_FIX0 /* .. DX_FIX0 + 3 */ };

struct qdw3 {
    struct xpack h;
    void *block;
    int C, nblk, fblocks, sbmax;
    int zp;             /* excess passes (channels whose excess cannot take byte 3) */
    int x3;             /* byte 3 of the 3-tap groups: X3_* */
    int pair;           /* stride 1: a group of 4 columns serves 2 pixels */
    int xfix;           /* pairs: DX_FIX0 + j when every pass is vector j's in row xky; 0 otherwise */
    int xky;
    size_t rowb;        /* bytes of one ring row (sbmax blocks) */
    size_t tscratch;    /* ring bytes per thread */
    struct dw3blk *blk; /* [nblk]; block b uses weight block b % fblocks */
    struct dw3pair *px; /* pairs: [nblk] */
    struct dw3piece *pc;
    int8_t *w;          /* [fblock][ky][j][64]: (w0, w1, w2, 0) of each lane's channel;
                         * pairs: [fblock][even, odd: (0, w0, w1, w2)][ky][j][64] */
    struct rq rq;       /* [fblock][j] */
    uint8_t *padrow;    /* a ring row of in_zp */
    int8_t *xw;         /* [fblock][j][ky][pass][64]: what w - w_zp has beyond int8;
                         * pairs: [fblock][even, odd][j][ky][pass][64] */
    uint32_t *xbits;    /* [fblock]: bit 3j+ky: a pass against xw; bit 16+3j+ky: a second */
    uint8_t *xmode;     /* [fblock]: DX_* */
    uint8_t *xrow;      /* [fblock][j]: DX_ONE: the row ky of vector j's pass (0 if none) */
    int32_t *xps;       /* pairs: [fblock + 1]: weight block wb's passes are xpl[xps[wb] .. xps[wb+1]) */
    int32_t *xrun;      /* pairs: [fblock]: weight blocks from wb on (cyclic) before one with passes */
    uint8_t *xpl;       /* pairs: [fblock][24]: j | ky << 2 | ps << 4 */
    int32_t in_zp, out_zp, out_min, out_max;
};

/* The packs alone clamp (every ReLU6 depthwise); rq_float then too. */
static int qdw3_plain(int32_t out_zp, int32_t out_min, int32_t out_max)
{
    return out_zp == 0 && out_min == 0 && out_max == 255;
}

/* Maps of at most 64 output pixels (7x7) with many channels go to the
 * 4-tap kernel: there each output row streams all the weight blocks and
 * their requantization constants (2.3 KiB per 64 channels) from L2, and
 * the rows of the ring are too short to pay for it (7x7x960: 1.1-1.2x the
 * 4-tap kernel's time; 14x14 and up: 0.5-0.9x). */
static int qdw3_ok(const struct mnet_qconv *l)
{
    const struct mnet_conv_geom *g = &l->g;
    int C = g->out_c, low = C & -C, fb = C % 8 ? (C + 63) / 64 : C / (low < 64 ? low : 64);
    if ((long)g->out_h * g->out_w <= 64 && fb > 6)
        return 0;
    return g->depth_multiplier == 1 && g->k_h == 3 && g->k_w == 3 && g->dil_h == 1 &&
           g->dil_w == 1;
}

/* Where every tap whose w - w_zp leaves int8 has its one pass in pairs:
 * 3 * j + ky when they all share the vector j (C % 16 == 0 keeps channel c
 * in vector c % 16 / 4 of every block) and the kernel row ky, each within
 * one pass; -1 otherwise or when there is no excess. */
static int qdw3_fixed_pass(const struct mnet_qconv *l)
{
    const int C = l->g.out_c;
    int at = -1;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < 9; t++) {
            int d = l->w[(size_t)t * C + c] - l->w_zp, e = d - clamp_s8(d), v = c % 16 / 4 * 3 + t / 3;
            if (!e)
                continue;
            if (C % 16 || e > 127 || (at >= 0 && at != v))
                return -1;
            at = v;
        }
    return at;
}

static int qdw3_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    const int C = g->out_c, CB = (C + 63) / 64;
    const int flat = C % 8 == 0;
    const int low = C & -C, gcd = low < 64 ? low : 64;
    const int fblocks = flat ? C / gcd : CB;
    int8_t *xcol = malloc((size_t)C);
    if (!xcol)
        return -ENOMEM;
    /* Column of channel c's outlier taps when its excess can ride in byte 3
     * of the groups (all in one column, each within int8); -1: none, -2:
     * passes. */
    int any3 = 0;
    for (int c = 0; c < C; c++) {
        xcol[c] = -1;
        for (int t = 0; t < 9; t++) {
            int d = l->w[(size_t)t * C + c] - l->w_zp, d0 = clamp_s8(d);
            if (d == d0 || xcol[c] == -2)
                continue;
            xcol[c] = d - d0 > 127 || (xcol[c] >= 0 && xcol[c] != t % 3) ? -2 : (int8_t)(t % 3);
        }
        any3 |= xcol[c] >= 0;
    }
    /* Pairs (stride 1): the ring holds one group (x[ix], .., x[ix+3]),
     * ix = 2p - pad_left, per pixel pair p and channel, read by pixel 2p
     * with weights (w0, w1, w2, 0) and by 2p+1 with (0, w0, w1, w2): half
     * the interleaving and ring loads per output.  The ring is laid out as
     * a stride-2 row of 4-tap pixels; C >= 64 or 32 keeps a block within
     * two pairs (two store pieces).  Byte 3 is taken: all excess goes to
     * passes, the odd pixel's one byte on (xw twice as long). */
    int pair = g->stride_w == 1 && flat && (C >= 64 || C == 32) && g->out_w >= 2;
    /* Unless the excess costs the pairs more than they save: when byte 3
     * can take all of it, the 3-tap rows carry it for nothing, while each
     * 16-channel vector with excess costs the pairs a pass per pixel,
     * dearest where a strip holds under 3 blocks per weight block.  So the
     * 3-tap rows from 1/9 of the vectors with excess there, from 1/2
     * elsewhere.  bench_kernels avx512vnni W_ZP 12, one-tap outliers
     * (pairs / 3-tap ms, best of 15, minima of 7 interleaved runs):
     * 56x56x144 without 0.085 / 0.093, 4 of its 36 vectors with excess
     * 0.098 / 0.097, 8: 0.102 / 0.096; 14x14x576 2 of 36 0.025 / 0.027, 3:
     * 0.025 / 0.025; 28x28x192 3 of 12 0.026 / 0.030, 6: 0.030 / 0.029;
     * 112x112x32 1 of 4 0.073 / 0.075, 2: 0.078 / 0.075; 56x56x128 3 of 8
     * 0.067 / 0.077.  The quant file's 56x56x144 (4 of 36), per-step CPU
     * minima: 0.109-0.110 -> 0.105-0.107 ms.
     * Where every pass falls in one vector j and kernel row (qdw3_fixed_pass:
     * the quant file's 56x56x144, channel 130's centre tap), one pass of
     * vector j in every block, without tests, beats both once over a third
     * of the weight blocks have one.  Per-step CPU minima of 7 interleaved
     * runs of the quant file (3-tap / tested passes / fixed pass, ms):
     * 56x56x144, 4 of 9 weight blocks, 0.111 / 0.112 / 0.100 (0.085 without
     * excess); 28x28x192, 1 of 3: - / 0.0261 / 0.0259; 14x14x576, 1 of 9:
     * - / 0.0224 / 0.0243. */
    int xv = 0, all3 = 1;
    for (int c = 0; c < C; c++)
        all3 &= xcol[c] != -2;
    for (int wb = 0; wb < fblocks && pair; wb++)
        for (int j = 0; j < 4; j++) {
            int x = 0;
            for (int lane = 0; lane < 16; lane++)
                x |= xcol[(wb * 64 + dw4_chan(j, lane)) % C] != -1;
            xv += x;
        }
    const long pnb = ((long)(g->out_w + 1) / 2 * C + 63) / 64; /* ring blocks of the pairs */
    const int few = 3L * fblocks > (pnb < DW3_RING_BYTES / (3 * 256) ? pnb : DW3_RING_BYTES / (3 * 256));
    const int fixed = pair ? qdw3_fixed_pass(l) : -1, xfix = fixed >= 0 && 3 * xv > fblocks;
    if (!xfix && all3 && any3 && xv && (few ? 9 * xv >= 4 * fblocks : 2 * xv >= 4 * fblocks))
        pair = 0;
    if (pair)
        any3 = 0;
    int cols = 0; /* columns holding byte-3 excess, a bit each */
    for (int c = 0; c < C && any3; c++)
        cols |= xcol[c] >= 0 ? 1 << xcol[c] : 0;
    const int S = pair ? 2 : g->stride_w, NT = pair ? 4 : 3, OW = pair ? (g->out_w + 1) / 2 : g->out_w;
    const long rowlen = (long)OW * C;
    const int nblk = flat ? (int)((rowlen + 63) / 64) : OW * CB;
    int sbmax = DW3_RING_BYTES / (3 * 256);
    if (sbmax > nblk)
        sbmax = nblk;
    const size_t nw = (size_t)fblocks * 768 * (pair ? 2 : 1), nq = RQ_BYTES((size_t)fblocks * 4);
    const size_t nx = (size_t)fblocks * 1536 * (pair ? 2 : 1), rowb = (size_t)sbmax * 256;
    /* pieces: at most one per lane and tap */
    struct dw3piece *tmp = malloc((size_t)nblk * NT * 64 * sizeof *tmp);
    struct dw3blk *blk = calloc((size_t)nblk, sizeof *blk);
    const int npx = pair ? nblk : 0;
    struct dw3pair *px = calloc((size_t)npx + 1, sizeof *px);
    if (!tmp || !blk || !px) {
        free(tmp);
        free(blk);
        free(px);
        free(xcol);
        return -ENOMEM;
    }
    int npc = 0;
    for (int b = 0; b < nblk; b++) {
        struct dw3blk *k = blk + b;
        long f0 = flat ? 64L * b : (long)(b / CB) * C + (long)(b % CB) * 64;
        long room = flat ? rowlen - f0 : C - (long)(b % CB) * 64;
        int lanes = room < 64 ? (int)room : 64;
        k->out_off = (int32_t)f0;
        k->smask = lanes == 64 ? ~(uint64_t)0 : ((uint64_t)1 << lanes) - 1;
        struct dw3pair *x = px + (pair ? b : npx); /* px[npx]: a sink */
        for (int e = 0; e < lanes && pair; e++) {
            long pp = (f0 + e) / C, i = pp - f0 / C;
            x->oo[i] = (int32_t)(pp * C);
            x->om[0][i] |= (uint64_t)1 << e;
            if (2 * pp + 1 < g->out_w)
                x->om[1][i] |= (uint64_t)1 << e;
        }
        int most = 0, one = 1;
        int32_t pc[5] = { 0 };
        int32_t off[4][2] = { { 0 } };
        uint64_t m[4][2] = { { 0 } };
        for (int kx = 0; kx < NT; kx++) {
            int first = npc;
            pc[kx] = npc;
            for (int e = 0; e < lanes; e++) {
                long f = f0 + e, ox = f / C, c = f % C, ix = ox * S - g->pad_left + kx;
                if (ix < 0 || ix >= g->in_w)
                    continue;
                int32_t off = (int32_t)(ix * C + c - e);
                int q = first;
                while (q < npc && tmp[q].off != off)
                    q++;
                if (q == npc) {
                    tmp[npc].off = off;
                    tmp[npc++].m = 0;
                }
                tmp[q].m |= (uint64_t)1 << e;
            }
            int n = npc - first;
            most = n > most ? n : most;
            one &= n == 1 && tmp[first].m == ~(uint64_t)0;
            for (int i = 0; i < n && i < 2; i++) {
                off[kx][i] = tmp[first + i].off;
                m[kx][i] = tmp[first + i].m;
            }
        }
        pc[NT] = npc;
        memcpy(k->off, off, sizeof k->off);
        memcpy(k->m, m, sizeof k->m);
        memcpy(k->pc, pc, sizeof k->pc);
        memcpy(x->off, off[3], sizeof x->off);
        memcpy(x->m, m[3], sizeof x->m);
        x->pc = pc[4];
        k->mode = one ? DW3_ONE : most <= 2 ? DW3_TWO : DW3_LIST;
        /* PAIR: every tap two pieces splitting all 64 lanes at the same
         * lane, tap kx's second at tap kx + 1's first; each plain load then
         * reads only bytes between two lanes that a piece reads */
        int two = k->mode == DW3_TWO && lanes == 64;
        for (int kx = 0; kx < NT && two; kx++)
            two = pc[kx + 1] - pc[kx] == 2 && m[kx][1] == m[0][1] && m[kx][0] == ~m[0][1] && m[0][1] >> 63 &&
                  off[kx][0] < off[kx][1] && (kx == NT - 1 || off[kx][1] == off[kx + 1][0]);
        if (two)
            k->mode = DW3_PAIR;
        for (int e = 0; e < lanes && !pair; e++) {
            int x = xcol[(f0 + e) % C];
            if (x > 0)
                k->x3m[x - 1] |= (uint64_t)1 << e;
        }
    }
    struct qdw3 *p = x_alloc(sizeof *p);
    if (p)
        p->block = x_alloc(nw + nq + nx + rowb + (size_t)npc * sizeof *p->pc +
                           (size_t)nblk * sizeof *p->blk + (size_t)npx * sizeof *p->px +
                               (size_t)fblocks * (sizeof *p->xbits + 5) +
                               ((size_t)fblocks * 2 + 1) * sizeof *p->xps + (size_t)fblocks * 24);
    if (!p || !p->block) {
        if (p)
            free(p->block);
        free(p);
        free(tmp);
        free(blk);
        free(px);
        free(xcol);
        return -ENOMEM;
    }
    p->h.kind = PK_QDW3;
    p->C = C;
    p->nblk = nblk;
    p->fblocks = fblocks;
    p->sbmax = sbmax;
    p->rowb = rowb;
    p->tscratch = mnet_round_up(3 * rowb, 64);
    p->w = p->block;
    rq_place(&p->rq, p->w + nw, (size_t)fblocks * 4);
    p->xw = (int8_t *)p->rq.q + nq;
    p->padrow = (uint8_t *)(p->xw + nx);
    p->blk = (struct dw3blk *)(p->padrow + rowb);
    p->px = (struct dw3pair *)(p->blk + nblk);
    p->pc = (struct dw3piece *)(p->px + npx);
    p->xbits = (uint32_t *)(p->pc + npc);
    p->xps = (int32_t *)(p->xbits + fblocks);
    p->xrun = p->xps + fblocks + 1;
    p->xmode = (uint8_t *)(p->xrun + fblocks);
    p->xrow = p->xmode + fblocks;
    p->xpl = p->xrow + (size_t)fblocks * 4;
    memcpy(p->blk, blk, (size_t)nblk * sizeof *p->blk);
    memcpy(p->px, px, (size_t)npx * sizeof *p->px);
    memcpy(p->pc, tmp, (size_t)npc * sizeof *p->pc);
    free(tmp);
    free(blk);
    free(px);
    p->zp = 0;
    p->x3 = !any3 ? X3_NONE : cols == 1 ? X3_COL0 : cols == 2 ? X3_COL1 : cols == 4 ? X3_COL2 : X3_MASKS;
    p->pair = pair;
    p->xfix = pair && xfix ? DX_FIX0 + fixed / 3 : 0;
    p->xky = pair && xfix ? fixed % 3 : 0;
    p->in_zp = l->in_zp;
    memset(p->padrow, (int)l->in_zp, rowb); /* byte 3 too: it meets excess weights */
    for (int wb = 0; wb < fblocks; wb++)
        for (int j = 0; j < 4; j++)
            for (int lane = 0; lane < 16; lane++) {
                int f = wb * 64 + dw4_chan(j, lane);
                if (!flat && f >= C)
                    continue;
                int c = f % C;
                int32_t wsum = 0;
                for (int t = 0; t < 9; t++)
                    wsum += l->w[(size_t)t * C + c] - l->w_zp;
                rq_set(&p->rq, (size_t)wb * 4 + j, lane, l->bias[c] - l->in_zp * wsum, l->mult[c], l->shift[c]);
                /* w - w_zp clamped to int8, the rest in up to two passes */
                for (int t = 0; t < 9; t++) {
                    int d = l->w[(size_t)t * C + c] - l->w_zp, ky = t / 3;
                    int d0 = clamp_s8(d), e = d - d0;
                    int8_t *wl = p->w + (((size_t)wb * (pair ? 6 : 3) + ky) * 4 + j) * 64 + lane * 4;
                    wl[t % 3] = (int8_t)d0;
                    if (pair)
                        wl[768 + t % 3 + 1] = (int8_t)d0;
                    if (e && xcol[c] >= 0 && !pair) {
                        wl[3] = (int8_t)e;
                        continue;
                    }
                    for (int ps = 0; e; ps++) {
                        int e0 = e > 127 ? 127 : e;
                        int8_t *xl = p->xw + (size_t)wb * 1536 * (pair ? 2 : 1) +
                                     ((j * 3 + ky) * 2 + ps) * 64 + lane * 4;
                        xl[t % 3] = (int8_t)e0;
                        if (pair)
                            xl[1536 + t % 3 + 1] = (int8_t)e0;
                        e -= e0;
                        p->xbits[wb] |= (uint32_t)1 << (16 * ps + 3 * j + ky);
                        p->zp = 1;
                    }
                }
            }
    for (int wb = 0; wb < fblocks; wb++) {
        uint32_t xb = p->xbits[wb];
        int one = xb >> 16 == 0;
        for (int j = 0; j < 4; j++) {
            uint32_t rows = xb >> 3 * j & 7;
            one &= (rows & (rows - 1)) == 0;
            p->xrow[wb * 4 + j] = (uint8_t)(rows == 4 ? 2 : rows == 2 ? 1 : 0);
        }
        p->xmode[wb] = (uint8_t)(!xb ? DX_NONE : one ? DX_ONE : DX_ANY);
        p->xps[wb + 1] = p->xps[wb];
        for (int i = 0; i < 24; i++)
            if (xb & 1u << (16 * (i / 12) + i % 12))
                p->xpl[p->xps[wb + 1]++] = (uint8_t)(i % 12 / 3 | i % 3 << 2 | i / 12 << 4);
    }
    for (int wb = 0; wb < fblocks; wb++)
        while (p->xrun[wb] < fblocks && !p->xbits[(wb + p->xrun[wb]) % fblocks])
            p->xrun[wb]++;
    rq_plain(&p->rq, (size_t)fblocks * 4, qdw3_plain(l->out_zp, l->out_min, l->out_max));
    p->out_zp = l->out_zp;
    p->out_min = l->out_min;
    p->out_max = l->out_max;
    free(xcol);
    l->packed = p;
    l->scratch_bytes = (size_t)(threads > 0 ? threads : 1) * p->tscratch;
    (void)max_batch;
    return 0;
}

/* Interleave blocks [b0, b1) of input row `row` into ring row r; nt: taps
 * (4: pairs, byte 3 the fourth column). */
TVNNI INL void qdw3_build(const struct qdw3 *p, const uint8_t *row, int b0, int b1, uint8_t *r, int x3,
                          int nt)
{
    const __m512i zpv = _mm512_set1_epi8((char)p->in_zp), zero = _mm512_setzero_si512();
    const struct dw3blk *blk = p->blk;
    for (int b = b0; b < b1; b++) {
        const struct dw3blk *k = blk + b;
        const struct dw3pair *t = p->px + (nt == 4 ? b : 0);
        __m512i x0, x1, x2, x3v = zero;
        if (k->mode == DW3_ONE) {
            x0 = _mm512_loadu_si512(row + k->off[0][0]);
            x1 = _mm512_loadu_si512(row + k->off[1][0]);
            x2 = _mm512_loadu_si512(row + k->off[2][0]);
            if (nt == 4)
                x3v = _mm512_loadu_si512(row + t->off[0]);
        } else if (k->mode == DW3_PAIR) {
            const __m512i a1 = _mm512_loadu_si512(row + k->off[1][0]);
            const __m512i a2 = _mm512_loadu_si512(row + k->off[2][0]);
            const __m512i a3 = _mm512_loadu_si512(row + (nt == 4 ? t->off[0] : k->off[2][1]));
            x0 = _mm512_mask_blend_epi8(k->m[0][1], _mm512_loadu_si512(row + k->off[0][0]), a1);
            x1 = _mm512_mask_blend_epi8(k->m[0][1], a1, a2);
            x2 = _mm512_mask_blend_epi8(k->m[0][1], a2, a3);
            if (nt == 4)
                x3v = _mm512_mask_blend_epi8(k->m[0][1], a3, _mm512_loadu_si512(row + t->off[1]));
        } else if (k->mode == DW3_TWO) {
            x0 = _mm512_mask_loadu_epi8(zpv, k->m[0][0], row + k->off[0][0]);
            x1 = _mm512_mask_loadu_epi8(zpv, k->m[1][0], row + k->off[1][0]);
            x2 = _mm512_mask_loadu_epi8(zpv, k->m[2][0], row + k->off[2][0]);
            x0 = _mm512_mask_loadu_epi8(x0, k->m[0][1], row + k->off[0][1]);
            x1 = _mm512_mask_loadu_epi8(x1, k->m[1][1], row + k->off[1][1]);
            x2 = _mm512_mask_loadu_epi8(x2, k->m[2][1], row + k->off[2][1]);
            if (nt == 4)
                x3v = _mm512_mask_loadu_epi8(_mm512_mask_loadu_epi8(zpv, t->m[0], row + t->off[0]), t->m[1],
                                             row + t->off[1]);
        } else {
            __m512i x[3];
            for (int kx = 0; kx < 3; kx++) {
                x[kx] = zpv;
                for (int q = k->pc[kx]; q < k->pc[kx + 1]; q++)
                    x[kx] = _mm512_mask_loadu_epi8(x[kx], p->pc[q].m, row + p->pc[q].off);
            }
            x0 = x[0];
            x1 = x[1];
            x2 = x[2];
            if (nt == 4) {
                x3v = zpv;
                for (int q = k->pc[3]; q < t->pc; q++)
                    x3v = _mm512_mask_loadu_epi8(x3v, p->pc[q].m, row + p->pc[q].off);
            }
        }
        __m512i l01 = _mm512_unpacklo_epi8(x0, x1), h01 = _mm512_unpackhi_epi8(x0, x1);
        /* byte 3: the fourth column (pairs); otherwise the column of the
         * lane's outlier taps (weight: their excess), any column where there
         * is none (weight 0) */
        if (x3 == X3_MASKS)
            x3v = _mm512_mask_mov_epi8(_mm512_mask_mov_epi8(x0, k->x3m[0], x1), k->x3m[1], x2);
        else if (x3 != X3_NONE)
            x3v = x3 == X3_COL0 ? x0 : x3 == X3_COL1 ? x1 : x2;
        __m512i l2 = _mm512_unpacklo_epi8(x2, x3v), h2 = _mm512_unpackhi_epi8(x2, x3v);
        uint8_t *d = r + (size_t)(b - b0) * 256;
        _mm512_store_si512(d, _mm512_unpacklo_epi16(l01, l2));
        _mm512_store_si512(d + 64, _mm512_unpackhi_epi16(l01, l2));
        _mm512_store_si512(d + 128, _mm512_unpacklo_epi16(h01, h2));
        _mm512_store_si512(d + 192, _mm512_unpackhi_epi16(h01, h2));
    }
}

/* What a block needs of its weight block besides the weights. */
struct dw3w {
    struct rq rq;           /* from the weight block's vector 0: [j] */
    const int8_t *xw;       /* excess passes [j][ky][pass][64] */
    uint32_t xbits;
    int xrow[4];            /* DX_ONE: row of vector j's pass */
    int xky;                /* DX_FIX0 + j: row of vector j's pass */
};

/* One output block from ring rows r0..r2 at ro, weights wv (registers or
 * memory, the compiler's choice).  zp, gen, plain: compile-time constants
 * of the callers; plain: out_zp 0 and the clamp [0, 255] (every ReLU6 layer
 * of the real files and the builders), which the saturating packs already
 * are: 4 of the block's ~63 vector operations fewer. */
TVNNI INL void qdw3_acc(const struct dw3w *k, const uint8_t *const *r, size_t ro, const __m512i *wv,
                         int zp, __m512i a[4])
{
    for (int j = 0; j < 4; j++) {
        __m512i x[3] = { _mm512_load_si512(r[0] + ro + 64 * j), _mm512_load_si512(r[1] + ro + 64 * j),
                         _mm512_load_si512(r[2] + ro + 64 * j) };
        a[j] = _mm512_load_si512(rq_bias(&k->rq, (size_t)j));
        a[j] = _mm512_dpbusd_epi32(a[j], x[0], wv[j]);
        a[j] = _mm512_dpbusd_epi32(a[j], x[1], wv[4 + j]);
        a[j] = _mm512_dpbusd_epi32(a[j], x[2], wv[8 + j]);
        /* DX_ONE: a zero vector where j has no pass */
        if (zp == DX_ONE || (zp == DX_ONE_IF && k->xbits & 7u << 3 * j))
            a[j] = _mm512_dpbusd_epi32(a[j], _mm512_load_si512(r[k->xrow[j]] + ro + 64 * j),
                                       _mm512_load_si512(k->xw + (j * 3 + k->xrow[j]) * 128));
        /* DX_FIX0 + j: every block, a zero vector where it has no pass */
        if (zp == DX_FIX0 + j)
            a[j] = _mm512_dpbusd_epi32(a[j], _mm512_load_si512(r[k->xky] + ro + 64 * j),
                                       _mm512_load_si512(k->xw + (j * 3 + k->xky) * 128));
        if (zp == DX_ANY && k->xbits & 7u << 3 * j)
            for (int ky = 0; ky < 3; ky++)
                for (int ps = 0; ps < 2; ps++)
                    if (k->xbits & 1u << (16 * ps + 3 * j + ky))
                        a[j] = _mm512_dpbusd_epi32(a[j], x[ky],
                                                   _mm512_load_si512(k->xw + ((j * 3 + ky) * 2 + ps) * 64));
    }
}

/* The block's outputs from its sums a[4]. */
TVNNI INL __m512i qdw3_fin(const struct dw3w *k, __m512i a[4], int gen, int plain, int32_t ozp,
                           int32_t omin, int32_t omax)
{
    __m512i y[4];
    if (plain) /* and not gen: rq_float (qdw3_prepare) */
        rq_vecs(&k->rq, 1, 4, 4, 0, a, y);
    else
        for (int j = 0; j < 4; j++)
            y[j] = rq_apply(a[j], &k->rq, (size_t)j, gen);
    if (plain)
        return _mm512_packus_epi16(_mm512_packs_epi32(y[0], y[1]), _mm512_packs_epi32(y[2], y[3]));
    return pack_zp_clamp(y[0], y[1], y[2], y[3], ozp, omin, omax);
}

TVNNI INL __m512i qdw3_block(const struct dw3w *k, const uint8_t *const *r, size_t ro,
                             const __m512i *wv, int zp, int gen, int plain, int32_t ozp,
                             int32_t omin, int32_t omax)
{
    __m512i a[4];
    qdw3_acc(k, r, ro, wv, zp, a);
    return qdw3_fin(k, a, gen, plain, ozp, omin, omax);
}

TVNNI INL void qdw3_store(const struct dw3blk *k, uint8_t *orow, __m512i y)
{
    if (k->smask == ~(uint64_t)0)
        _mm512_storeu_si512(orow + k->out_off, y);
    else
        _mm512_mask_storeu_epi8(orow + k->out_off, k->smask, y);
}

/* The block's weight-block extras (excess rows when zp). */
INL struct dw3w qdw3_w(const struct qdw3 *p, int wb, int zp)
{
    struct dw3w k = { { p->rq.q + (size_t)wb * 4 * RQ_V, p->rq.g + (size_t)wb * 4 * RQ_G, p->rq.gen, p->rq.fl },
                      p->xw + (size_t)wb * 1536 * (p->pair ? 2 : 1), 0, { 0, 0, 0, 0 }, p->xky };
    if (zp) {
        k.xbits = p->xbits[wb];
        for (int j = 0; j < 4; j++)
            k.xrow[j] = p->xrow[wb * 4 + j];
    }
    return k;
}

/* Output blocks [b0, b1) of one output row from ring rows r[0..2]; zp: the
 * layer has excess passes (each weight block then goes by its DX_ mode). */
TVNNI INL void qdw3_row(const struct qdw3 *p, const uint8_t *const *r, int b0, int b1, uint8_t *orow,
                        int zp, int gen, int plain)
{
    /* locals: the output stores may alias anything reachable from p */
    const struct dw3blk *blk = p->blk;
    const int fb = p->fblocks;
    const int32_t ozp = p->out_zp, omin = p->out_min, omax = p->out_max;
    const uint8_t *const rr[3] = { r[0], r[1], r[2] };
    const int8_t *w = p->w;
    const uint8_t *xmode = p->xmode;
    if (!zp && b1 - b0 < 4 * fb) { /* a few blocks per weight block: in order */
        for (int b = b0, wb = b0 % fb; b < b1; b++, wb = wb + 1 == fb ? 0 : wb + 1) {
            const struct dw3w k = qdw3_w(p, wb, 0);
            qdw3_store(blk + b, orow, qdw3_block(&k, rr, (size_t)(b - b0) * 256,
                                                 (const __m512i *)(w + (size_t)wb * 768), DX_NONE,
                                                 gen, plain, ozp, omin, omax));
        }
        return;
    }
    /* the blocks of one weight block in turn: its weights stay in registers,
     * its excess mode is tested once */
    for (int bs = b0; bs < b0 + fb && bs < b1; bs++) {
        const int wb = bs % fb, m = zp ? xmode[wb] : DX_NONE;
        const struct dw3w k = qdw3_w(p, wb, zp);
        __m512i wv[12];
        for (int i = 0; i < 12; i++)
            wv[i] = _mm512_load_si512(w + (size_t)wb * 768 + 64 * i);
#define QDW3_RUN(M)                                                                                 \
    for (int b = bs; b < b1; b += fb)                                                               \
        qdw3_store(blk + b, orow,                                                                   \
                   qdw3_block(&k, rr, (size_t)(b - b0) * 256, wv, M, gen, plain, ozp, omin, omax))
        if (m == DX_NONE)
            QDW3_RUN(DX_NONE);
        else if (m == DX_ONE)
            QDW3_RUN(DX_ONE);
        else
            QDW3_RUN(DX_ANY);
#undef QDW3_RUN
    }
}

/* A pixel of a pair; PL: in block order, the n excess passes of the
 * block's weight block from its list pl (prepare time), a switch on the
 * vector keeping the sums in registers. */
TVNNI INL __m512i qdw3_pblock(const struct dw3w *k, const uint8_t *const *r, size_t ro, const __m512i *wv,
                              int zp, int PL, const uint8_t *pl, int n, int gen, int plain, int32_t ozp,
                              int32_t omin, int32_t omax)
{
    __m512i a[4];
    qdw3_acc(k, r, ro, wv, zp, a);
    for (int i = 0; i < n && PL; i++) {
        const int c = pl[i], ky = c >> 2 & 3;
        const int8_t *xw = k->xw + ((c & 3) * 6 + ky * 2 + (c >> 4)) * 64;
#define QDW3_PASS(J)                                                                                \
    a[J] = _mm512_dpbusd_epi32(a[J], _mm512_load_si512(r[ky] + ro + 64 * J), _mm512_load_si512(xw))
        switch (c & 3) {
        case 0: QDW3_PASS(0); break;
        case 1: QDW3_PASS(1); break;
        case 2: QDW3_PASS(2); break;
        default: QDW3_PASS(3); break;
        }
#undef QDW3_PASS
    }
    return qdw3_fin(k, a, gen, plain, ozp, omin, omax);
}

/* Pairs: ring blocks [b0, b1), each two output blocks (even and odd pixels)
 * stored in at most two pieces each; zp: as qdw3_row, the odd pixel's
 * excess weights 1536 bytes on; or DX_FIX0 + j: one pass of vector j in
 * every block (qdw3_prepare). */
TVNNI INL void qdw3_prow(const struct qdw3 *p, const uint8_t *const *r, int b0, int b1, uint8_t *orow,
                         int zp, int gen, int plain)
{
    /* locals: the output stores may alias anything reachable from p */
    const struct dw3blk *blk = p->blk;
    const struct dw3pair *px = p->px;
    const int fb = p->fblocks, C = p->C;
    const int32_t ozp = p->out_zp, omin = p->out_min, omax = p->out_max;
    const uint8_t *const rr[3] = { r[0], r[1], r[2] };
    const int8_t *w = p->w;
    const uint8_t *xmode = p->xmode, *xpl = p->xpl;
    const int32_t *xps = p->xps, *xrun = p->xrun;
#define QDW3_PAIR(b, M, PL)                                                                         \
    do {                                                                                            \
        const size_t ro = (size_t)((b) - b0) * 256;                                                 \
        const __m512i ye = qdw3_pblock(&k, rr, ro, we, M, PL, xpl + xps[wb], xps[wb + 1] - xps[wb], \
                                       gen, plain, ozp, omin, omax);                                \
        const __m512i yo = qdw3_pblock(&ko, rr, ro, wo, M, PL, xpl + xps[wb], xps[wb + 1] - xps[wb], \
                                       gen, plain, ozp, omin, omax);                                \
        const struct dw3pair *t = px + (b);                                                         \
        uint8_t *o = orow + blk[(b)].out_off;                                                       \
        _mm512_mask_storeu_epi8(o + t->oo[0], t->om[0][0], ye);                                     \
        _mm512_mask_storeu_epi8(o + t->oo[0] + C, t->om[1][0], yo);                                 \
        if (t->om[0][1]) {                                                                          \
            _mm512_mask_storeu_epi8(o + t->oo[1], t->om[0][1], ye);                                 \
            _mm512_mask_storeu_epi8(o + t->oo[1] + C, t->om[1][1], yo);                             \
        }                                                                                           \
    } while (0)
    if (b1 - b0 < 4 * fb) { /* a few blocks per weight block: in order, as qdw3_row */
#define QDW3_NEXT(M, PL)                                                                            \
    do {                                                                                            \
        const struct dw3w k = qdw3_w(p, wb, 0);                                                     \
        struct dw3w ko = k;                                                                         \
        ko.xw += 1536;                                                                              \
        const __m512i *we = (const __m512i *)(w + (size_t)wb * 1536), *wo = we + 12;                \
        QDW3_PAIR(b, M, PL);                                                                        \
        b++;                                                                                        \
        wb = wb + 1 == fb ? 0 : wb + 1;                                                             \
    } while (0)
        /* with excess: the runs of blocks without passes between two with
         * them, so that the loops' branches follow the weight blocks' period
         * (a test per block mispredicted: 14x14x384 +7%) */
        if (zp >= DX_FIX0) {
            for (int b = b0, wb = b0 % fb; b < b1;)
                QDW3_NEXT(zp, 0);
            return;
        }
        for (int b = b0, wb = b0 % fb; b < b1;) {
            const int e = zp && b1 - b > xrun[wb] ? b + xrun[wb] : b1;
            while (b < e)
                QDW3_NEXT(DX_NONE, 0);
            if (b < b1)
                QDW3_NEXT(DX_NONE, zp);
        }
#undef QDW3_NEXT
        return;
    }
    /* the blocks of one weight block in turn, its excess mode tested once */
    for (int bs = b0; bs < b0 + fb && bs < b1; bs++) {
        const int wb = bs % fb, m = zp ? xmode[wb] : DX_NONE;
        const struct dw3w k = qdw3_w(p, wb, zp);
        struct dw3w ko = k;
        ko.xw += 1536;
        const __m512i *we = (const __m512i *)(w + (size_t)wb * 1536), *wo = we + 12;
        if (zp >= DX_FIX0)
            for (int b = bs; b < b1; b += fb)
                QDW3_PAIR(b, zp, 0);
        else if (m == DX_NONE)
            for (int b = bs; b < b1; b += fb)
                QDW3_PAIR(b, DX_NONE, 0);
        else if (m == DX_ONE)
            for (int b = bs; b < b1; b += fb)
                QDW3_PAIR(b, DX_ONE_IF, 0);
        else
            for (int b = bs; b < b1; b += fb)
                QDW3_PAIR(b, DX_ANY, 0);
    }
#undef QDW3_PAIR
}

TVNNI static void qdw3_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                           void *scratch, int threads)
{
    const struct qdw3 *p = l->packed;
    const struct mnet_conv_geom *g = &l->g;
    int ns = (p->nblk + p->sbmax - 1) / p->sbmax;
    while (threads > 1 && ((long)n * ns) % threads && ns < p->nblk)
        ns++;
    const long units = (long)n * ns;
    const size_t inrow = (size_t)g->in_w * p->C, outrow = (size_t)g->out_w * p->C;
    const int plain = qdw3_plain(p->out_zp, p->out_min, p->out_max);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long u = 0; u < units; u++) {
        int b = (int)(u / ns), s = (int)(u % ns);
        int b0 = (int)((long)p->nblk * s / ns), b1 = (int)((long)p->nblk * (s + 1) / ns);
        uint8_t *ring = (uint8_t *)scratch + (size_t)thread_id() * p->tscratch;
        int slot_iy[3] = { -1, -1, -1 };
        const uint8_t *img = in + (size_t)b * g->in_h * inrow;
        uint8_t *oimg = out + (size_t)b * g->out_h * outrow;
        for (int oy = 0; oy < g->out_h; oy++) {
            const uint8_t *r[3];
            for (int ky = 0; ky < 3; ky++) {
                int iy = oy * g->stride_h - g->pad_top + ky;
                if (iy < 0 || iy >= g->in_h) {
                    r[ky] = p->padrow;
                    continue;
                }
                int sl = iy % 3;
                uint8_t *rr = ring + (size_t)sl * p->rowb;
                if (slot_iy[sl] != iy) {
                    if (p->pair)
                        qdw3_build(p, img + (size_t)iy * inrow, b0, b1, rr, 0, 4);
                    else /* x3 as a compile-time constant */
                        switch (p->x3) {
#define QDW3_BUILD3(X3) qdw3_build(p, img + (size_t)iy * inrow, b0, b1, rr, X3, 3)
                        case X3_MASKS: QDW3_BUILD3(X3_MASKS); break;
                        case X3_COL0: QDW3_BUILD3(X3_COL0); break;
                        case X3_COL1: QDW3_BUILD3(X3_COL1); break;
                        case X3_COL2: QDW3_BUILD3(X3_COL2); break;
                        default: QDW3_BUILD3(X3_NONE); break;
#undef QDW3_BUILD3
                        }
                    slot_iy[sl] = iy;
                }
                r[ky] = rr;
            }
            uint8_t *orow = oimg + (size_t)oy * outrow;
            /* zp and the requantization form (gen, plain or neither) as
             * compile-time constants of the row kernel */
#define QDW3_FORMS(ROW, ZP)                                                                         \
    do {                                                                                            \
        if (p->rq.gen)                                                                              \
            ROW(p, r, b0, b1, orow, ZP, 1, 0);                                                      \
        else if (plain)                                                                             \
            ROW(p, r, b0, b1, orow, ZP, 0, 1);                                                      \
        else                                                                                        \
            ROW(p, r, b0, b1, orow, ZP, 0, 0);                                                      \
    } while (0)
            if (p->pair && p->xfix) /* the vector as a compile-time constant */
                switch (p->xfix) {
                case DX_FIX0: QDW3_FORMS(qdw3_prow, DX_FIX0); break;
                case DX_FIX0 + 1: QDW3_FORMS(qdw3_prow, DX_FIX0 + 1); break;
                case DX_FIX0 + 2: QDW3_FORMS(qdw3_prow, DX_FIX0 + 2); break;
                default: QDW3_FORMS(qdw3_prow, DX_FIX0 + 3); break;
                }
            else if (p->pair && p->zp)
                QDW3_FORMS(qdw3_prow, 1);
            else if (p->pair)
                QDW3_FORMS(qdw3_prow, 0);
            else if (p->zp)
                QDW3_FORMS(qdw3_row, 1);
            else
                QDW3_FORMS(qdw3_row, 0);
#undef QDW3_FORMS
        }
    }
}

static int vnni_qdw_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    if (!rq_ok(l, 1))
        return q_fallback(l, max_batch, threads, 1);
    if (qdw3_ok(l))
        return qdw3_prepare(l, max_batch, threads);
    const struct mnet_conv_geom *g = &l->g;
    int C = g->out_c, low = C & -C; /* gcd(C, 64) = min(lowest set bit, 64) */
    int P = DW4B / (low < DW4B ? low : DW4B), S = g->stride_w;
    int chunk = S <= 2 && g->dil_w == 1 && P <= 4 ? P : 0;
    for (int f = 0; chunk && f < P * C; f += DW4B) /* at most two pixels a step */
        if ((f + DW4B - 1) / C > f / C + 1)
            chunk = 0;
    /* Narrow layers waste most of a 64-channel step: without chunks the
     * 32-channel int16 kernel costs about 2/3 of a 64-channel step per 32
     * channels. */
    int b64 = (C + 63) / 64, b32 = (C + 31) / 32;
    /* every excess of w - w_zp over int8 within one (see struct qdw4) */
    int fits = 1;
    for (int i = 0; fits && i < g->k_h * g->k_w * C; i++)
        fits = l->w[i] - l->w_zp - clamp_s8(l->w[i] - l->w_zp) < 128;
    if (g->depth_multiplier != 1 || g->k_h * g->k_w > DW4_TAPS_MAX || (!chunk && 3 * b64 > 2 * b32) ||
        !fits)
        return x512_qdw_prepare(l, max_batch, threads);
    struct qdw4 *p = x_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->h.kind = PK_QDW4;
    p->taps = g->k_h * g->k_w;
    p->groups = (p->taps + 3) / 4;
    p->C = C;
    p->blocks = b64;
    p->chunk = chunk;
    p->fblocks = chunk ? chunk * C / DW4B : b64;
    size_t nw = (size_t)p->fblocks * p->groups * 4 * 64;
    size_t nc = (size_t)p->fblocks * DW4B, nz = nc * S;
    p->block = x_alloc(RQ_BYTES(nc / 16) + 2 * nw + nz +
                       (size_t)p->fblocks * (sizeof *p->piece + sizeof *p->xbits));
    if (!p->block) {
        free(p);
        return -ENOMEM;
    }
    rq_place(&p->rq, p->block, nc / 16);
    p->w = (int8_t *)p->block + RQ_BYTES(nc / 16);
    p->xw = p->w + nw;
    p->zrow = (uint8_t *)(p->xw + nw);
    memset(p->zrow, (int)l->in_zp, nz);
    p->piece = (struct dw4piece *)(p->zrow + nz);
    p->xbits = (uint32_t *)(p->piece + p->fblocks);
    for (int blk = 0; blk < p->fblocks; blk++) {
        /* flat output f = q*C + c reads input f + q*C*(S-1) */
        int f = blk * DW4B, q0 = f / C, q1 = (f + DW4B - 1) / C, cut = q1 * C - f;
        p->piece[blk].off0 = f + q0 * C * (S - 1);
        p->piece[blk].off1 = f + q1 * C * (S - 1);
        p->piece[blk].m0 = q1 == q0 ? ~(uint64_t)0 : ((uint64_t)1 << cut) - 1;
        p->split |= S > 1 && q1 != q0;
    }
    for (int blk = 0; blk < p->fblocks; blk++)
        for (int j = 0; j < 4; j++)
            for (int lane = 0; lane < 16; lane++) {
                int f = blk * DW4B + dw4_chan(j, lane), c = f % p->C;
                if (f >= p->C && !p->chunk)
                    continue;
                int32_t wsum = 0;
                for (int t = 0; t < p->taps; t++)
                    wsum += l->w[(size_t)t * p->C + c] - l->w_zp;
                rq_set(&p->rq, (size_t)blk * 4 + j, lane, l->bias[c] - l->in_zp * wsum, l->mult[c], l->shift[c]);
                for (int t = 0; t < p->taps; t++) {
                    const size_t at = (((size_t)blk * p->groups + t / 4) * 4 + j) * 64 + lane * 4 + t % 4;
                    const int d = l->w[(size_t)t * p->C + c] - l->w_zp, d0 = clamp_s8(d);
                    p->w[at] = (int8_t)d0;
                    if (d != d0) {
                        p->xw[at] = (int8_t)(d - d0);
                        p->xbits[blk] |= 1u << (t / 4 * 4 + j);
                    }
                }
            }
    rq_plain(&p->rq, nc / 16, l->out_zp == 0 && l->out_min == 0); /* the clamp does out_max */
    p->out_zp = l->out_zp;
    p->out_min = l->out_min;
    p->out_max = l->out_max;
    l->packed = p;
    l->scratch_bytes = 0;
    return 0;
}

/* Bytes m of t + off; split: the others from t + off1. */
TVNNI INL __m512i dw4_load(const uint8_t *t, size_t off, __mmask64 m, int split, size_t off1)
{
    __m512i x = _mm512_maskz_loadu_epi8(m, t + off);
    return split ? _mm512_mask_loadu_epi8(x, ~m, t + off1) : x;
}

/* One 64-channel step: packed step blk (channels from tap[t] + off, mask m)
 * -> o; split: m is replaced by the step's piece-0 mask, the other bytes
 * come from tap[t] + off1. */
TVNNI INL void qdw4_step(const struct qdw4 *p, const uint8_t *const *tap, size_t off, int blk,
                         __mmask64 m, uint8_t *o, int split, size_t off1)
{
    const __mmask64 m0 = split ? p->piece[blk].m0 : m;
    const size_t v0 = (size_t)blk * 4;
    __m512i a0 = _mm512_load_si512(rq_bias(&p->rq, v0)), a1 = _mm512_load_si512(rq_bias(&p->rq, v0 + 1));
    __m512i a2 = _mm512_load_si512(rq_bias(&p->rq, v0 + 2)), a3 = _mm512_load_si512(rq_bias(&p->rq, v0 + 3));
    const int8_t *wb = p->w + (size_t)blk * p->groups * 256;
    const uint32_t xb = p->xbits[blk];
    /* 3x3: unrolled, and the last group's three empty taps are zeros
     * (their weights are 0), which saves their loads and two unpacks */
    const int nine = p->taps == 9, groups = nine ? 3 : p->groups;
#pragma GCC unroll 4
    for (int gi = 0; gi < groups; gi++) {
        const uint8_t *const *tg = tap + 4 * gi;
        __m512i x0 = dw4_load(tg[0], off, m0, split, off1), x1, x2, x3;
        if (nine && gi == 2) {
            x1 = x2 = x3 = _mm512_setzero_si512();
        } else {
            x1 = dw4_load(tg[1], off, m0, split, off1);
            x2 = dw4_load(tg[2], off, m0, split, off1);
            x3 = dw4_load(tg[3], off, m0, split, off1);
        }
        __m512i l01 = _mm512_unpacklo_epi8(x0, x1), h01 = _mm512_unpackhi_epi8(x0, x1);
        __m512i l23 = _mm512_unpacklo_epi8(x2, x3), h23 = _mm512_unpackhi_epi8(x2, x3);
        __m512i q0 = _mm512_unpacklo_epi16(l01, l23), q1 = _mm512_unpackhi_epi16(l01, l23);
        __m512i q2 = _mm512_unpacklo_epi16(h01, h23), q3 = _mm512_unpackhi_epi16(h01, h23);
        const int8_t *wg = wb + gi * 256;
        __m512i w0 = _mm512_load_si512(wg), w1 = _mm512_load_si512(wg + 64);
        __m512i w2 = _mm512_load_si512(wg + 128), w3 = _mm512_load_si512(wg + 192);
        DPBUSD(a0, q0, w0);
        DPBUSD(a1, q1, w1);
        DPBUSD(a2, q2, w2);
        DPBUSD(a3, q3, w3);
        if (xb >> 4 * gi & 15) { /* the excess of this group's vectors */
            const int8_t *xg = p->xw + (size_t)(wg - p->w);
            if (xb >> 4 * gi & 1)
                DPBUSD(a0, q0, _mm512_load_si512(xg));
            if (xb >> (4 * gi + 1) & 1)
                DPBUSD(a1, q1, _mm512_load_si512(xg + 64));
            if (xb >> (4 * gi + 2) & 1)
                DPBUSD(a2, q2, _mm512_load_si512(xg + 128));
            if (xb >> (4 * gi + 3) & 1)
                DPBUSD(a3, q3, _mm512_load_si512(xg + 192));
        }
    }
    const __m512i a[4] = { a0, a1, a2, a3 };
    __m512i y[4];
    rq_vecs(&p->rq, p->rq.fl, 4, 4, v0, a, y);
    _mm512_mask_storeu_epi8(o, m, pack_zp_clamp(y[0], y[1], y[2], y[3], p->out_zp, p->out_min, p->out_max));
}

/* The stride-2 chunk steps that straddle two pixels: out of line, so the
 * common steps' loop keeps its registers. */
TVNNI static __attribute__((noinline)) void qdw4_step_split(const struct qdw4 *p,
                                                            const uint8_t *const *tap, int blk,
                                                            uint8_t *o)
{
    qdw4_step(p, tap, (size_t)p->piece[blk].off0, blk, ~(__mmask64)0, o, 1, (size_t)p->piece[blk].off1);
}

TVNNI static void vnni_qdw_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                               void *scratch, int threads)
{
    const struct xpack *h = l->packed;
    if (h->kind == PK_QDW3) {
        qdw3_run(l, n, in, out, scratch, threads);
        return;
    }
    if (h->kind != PK_QDW4) {
        x512_qdw_run(l, n, in, out, scratch, threads);
        return;
    }
    const struct qdw4 *p = l->packed;
    const struct mnet_conv_geom *g = &l->g;
    const long rows = (long)n * g->out_h;
    const int C = p->C;
    const int S = g->stride_w;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long row = 0; row < rows; row++) {
        int b = (int)(row / g->out_h), oy = (int)(row % g->out_h);
        const uint8_t *tap[DW4_TAPS_MAX], *rows_in[DW4_TAPS_MAX];
        dw_rows(g, in, 1, b, oy, rows_in);
        for (int t = p->taps; t < 4 * p->groups; t++)
            tap[t] = p->zrow;
        uint8_t *orow = out + ((size_t)b * g->out_h + oy) * g->out_w * C;
        for (int ox = 0; ox < g->out_w;) {
            /* a chunk where every tap of every pixel is inside */
            if (p->chunk && ox * S >= g->pad_left &&
                (ox + p->chunk - 1) * S - g->pad_left + g->k_w <= g->in_w) {
                for (int ky = 0, t = 0; ky < g->k_h; ky++)
                    for (int kx = 0; kx < g->k_w; kx++, t++)
                        tap[t] = rows_in[ky] ? rows_in[ky] + (size_t)(ox * S - g->pad_left + kx) * C
                                             : p->zrow;
                uint8_t *o = orow + (size_t)ox * C;
                if (p->split) /* a loop of its own: the call costs the other one registers */
                    for (int blk = 0; blk < p->fblocks; blk++) {
                        const struct dw4piece *pc = p->piece + blk;
                        if (pc->off1 == pc->off0)
                            qdw4_step(p, tap, (size_t)pc->off0, blk, ~(__mmask64)0, o + blk * DW4B, 0, 0);
                        else
                            qdw4_step_split(p, tap, blk, o + blk * DW4B);
                    }
                else
                    for (int blk = 0; blk < p->fblocks; blk++)
                        qdw4_step(p, tap, (size_t)blk * DW4B, blk, ~(__mmask64)0, o + blk * DW4B, 0, 0);
                ox += p->chunk;
                continue;
            }
            dw_taps(g, rows_in, 1, ox, p->zrow, tap);
            for (int blk = 0; blk < p->blocks; blk++) {
                int left = C - blk * DW4B;
                __mmask64 m = lanes64((size_t)left);
                qdw4_step(p, tap, (size_t)blk * DW4B, blk, m, orow + (size_t)ox * C + blk * DW4B, 0, 0);
            }
            ox++;
        }
    }
}

/* ======================= float depthwise (AVX-512) ======================= */

struct fdw {
    struct xpack h;
    void *block;
    int taps, C, CP;    /* CP: C rounded up to 16 */
    float *w;           /* [tap][CP] */
    float *bias;        /* CP */
    float *zrow;        /* CP zeros */
    float out_min, out_max;
};

static int x512_fdw_prepare(struct mnet_fconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    if (g->depth_multiplier != 1 || g->k_h * g->k_w > 64)
        return f_fallback(l, max_batch, threads, 1);
    struct fdw *p = x_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->h.kind = PK_FDW;
    p->taps = g->k_h * g->k_w;
    p->C = g->out_c;
    p->CP = (int)mnet_round_up((size_t)p->C, 16);
    p->block = x_alloc_shared(((size_t)p->taps + 2) * p->CP * sizeof(float));
    if (!p->block) {
        free(p);
        return -ENOMEM;
    }
    p->w = p->block;
    p->bias = p->w + (size_t)p->taps * p->CP;
    p->zrow = p->bias + p->CP;
    for (int t = 0; t < p->taps; t++)
        memcpy(p->w + (size_t)t * p->CP, l->w + (size_t)t * p->C, (size_t)p->C * sizeof(float));
    memcpy(p->bias, l->bias, (size_t)p->C * sizeof(float));
    p->out_min = l->out_min;
    p->out_max = l->out_max;
    l->packed = p;
    l->scratch_bytes = 0;
    (void)max_batch;
    (void)threads;
    return 0;
}

/* One output pixel of the 3x3 row sweep at column ox, any position (border
 * taps outside the image are skipped). */
T512 INL __m512 fdw3_pixel(const struct mnet_conv_geom *g, const float *const *rowp, const __m512 *w,
                           __m512 acc, int ox, int c0, __mmask16 m)
{
    const int C = g->in_c, ix0 = ox * g->stride_w - g->pad_left;
    for (int ky = 0; ky < 3; ky++) {
        if (!rowp[ky])
            continue;
        for (int kx = 0; kx < 3; kx++) {
            int ix = ix0 + kx;
            if (ix >= 0 && ix < g->in_w)
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, rowp[ky] + (size_t)ix * C + c0),
                                      w[3 * ky + kx], acc);
        }
    }
    return acc;
}

/* Column ox of NR output rows by fdw3_pixel, stored clamped. */
T512 INL void fdw3_pixels(const struct fdw *p, const struct mnet_conv_geom *g, const float *const *rowp,
                          const __m512 *w, __m512 bias, __m512 lo, __m512 hi, int NR, int ox, int c0,
                          __mmask16 m, float *const *orow)
{
    for (int r = 0; r < NR; r++) {
        __m512 acc = fdw3_pixel(g, rowp + r * g->stride_h, w, bias, ox, c0, m);
        _mm512_mask_storeu_ps(orow[r] + (size_t)ox * p->C + c0, m, _mm512_min_ps(_mm512_max_ps(acc, lo), hi));
    }
}

/* W (4 or 8) output pixels from ox (stride S), channels c0..c0+15, of NR
 * output rows (1 or 2; row r reads input rows rowp[r*SH .. r*SH+2]), the
 * first L and the last R of the (W-1)*S+3 input columns outside the image
 * (a border block; 0 for interior pixels): W*NR independent accumulator chains (fewer leave FMA issue slots
 * idle behind the FMA latency), each input vector loaded once and used by
 * every output that reads it (two output rows share 3-SH of their input
 * rows, which the row sweep otherwise reloads from L2).  Each output still
 * adds bias and then the taps in (ky, kx) order, skipping those outside the
 * image: the same sums as fdw3_pixel. */
T512 INL void fdw3_cols(const struct mnet_conv_geom *g, const float *const *rowp, const __m512 *w,
                        __m512 bias, __m512 lo, __m512 hi, int W, int S, int NR, int SH, int L,
                        int R, int ox, int c0, __mmask16 m, float *const *orow)
{
    const int C = g->in_c;
    const int ix0 = ox * S - g->pad_left;
    __m512 acc[2][8];
#pragma GCC unroll 2
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 8
        for (int o = 0; o < W; o++)
            acc[r][o] = bias;
#pragma GCC unroll 5
    for (int i = 0; i < (NR - 1) * SH + 3; i++) {
        if (!rowp[i])
            continue;
        const float *in = rowp[i] + (ptrdiff_t)(ix0 + L) * C + c0;
#pragma GCC unroll 17
        for (int j = L; j < (W - 1) * S + 3 - R; j++) {
            const __m512 x = _mm512_maskz_loadu_ps(m, in + (size_t)(j - L) * C);
#pragma GCC unroll 2
            for (int r = 0; r < NR; r++) {
                const int ky = i - r * SH;
                if (ky < 0 || ky > 2)
                    continue;
#pragma GCC unroll 8
                for (int o = 0; o < W; o++) {
                    int kx = j - o * S;
                    if (kx >= 0 && kx < 3)
                        acc[r][o] = _mm512_fmadd_ps(x, w[3 * ky + kx], acc[r][o]);
                }
            }
        }
    }
#pragma GCC unroll 2
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 8
        for (int o = 0; o < W; o++)
            _mm512_mask_storeu_ps(orow[r] + (size_t)(ox + o) * C + c0, m,
                                  _mm512_min_ps(_mm512_max_ps(acc[r][o], lo), hi));
}

/* Output columns [x0, x1) of NR output rows (input rows as in fdw3_cols)
 * of the 3x3 row sweep for channels c0..c0+15, the nine taps' weights in
 * registers; interior columns [ox_a, ox_b) 8, then 4 at a time (stride 1 or
 * 2).  Blocks of 4 also take a left border column 0 that has one input
 * column in the padding (lb) and the last 4 columns of the row when only
 * the last has one in the padding (rb), or the last 4 of a chunk ending
 * inside [ox_a, ox_b) (recomputing up to 3 columns: the same values), so
 * that few columns go pixel by pixel (3 of a 7-wide row, 4 of 112). */
T512 INL void fdw3_span(const struct fdw *p, const struct mnet_conv_geom *g, const float *const *rowp,
                        int NR, int c0, int x0, int x1, int ox_a, int ox_b, int lb, int rb,
                        float *const *orow)
{
    const int left = p->C - c0, s = g->stride_w, sh = g->stride_h;
    const __mmask16 m = lanes16(left);
    const __m512 lo = _mm512_set1_ps(p->out_min), hi = _mm512_set1_ps(p->out_max);
    __m512 w[9];
    for (int t = 0; t < 9; t++)
        w[t] = _mm512_load_ps(p->w + (size_t)t * p->CP + c0);
    const __m512 bias = _mm512_load_ps(p->bias + c0);
    const int xb = x1 < ox_b ? x1 : ox_b;
    /* tail: a block of 4 ending at x1 (rb: x1 is the row's end) */
    const int tail = x1 - 4 >= ox_a && (x1 <= ox_b || (rb && x1 == g->out_w));
    int ox = x0;
#define FDW3_COLS(W, S, NR, SH, L, R)                                                              \
    fdw3_cols(g, rowp, w, bias, lo, hi, W, S, NR, SH, L, R, ox, c0, m, orow)
#define FDW3_ALL(S, NR, SH)                                                                        \
    if (lb && ox == 0 && x1 >= 4 && 4 <= ox_b) {                                                   \
        FDW3_COLS(4, S, NR, SH, 1, 0);                                                             \
        ox = 4;                                                                                    \
    }                                                                                              \
    for (; ox < x1 && ox < ox_a; ox++)                                                             \
        fdw3_pixels(p, g, rowp, w, bias, lo, hi, NR, ox, c0, m, orow);                             \
    for (; ox + 8 <= xb; ox += 8)                                                                  \
        FDW3_COLS(8, S, NR, SH, 0, 0);                                                             \
    for (; ox + 4 <= xb; ox += 4)                                                                  \
        FDW3_COLS(4, S, NR, SH, 0, 0);                                                             \
    if (ox < x1 && tail) {                                                                         \
        ox = x1 - 4;                                                                               \
        if (x1 > ox_b)                                                                             \
            FDW3_COLS(4, S, NR, SH, 0, 1);                                                         \
        else                                                                                       \
            FDW3_COLS(4, S, NR, SH, 0, 0);                                                         \
        ox = x1;                                                                                   \
    }
    if (NR == 1 && s == 1) {
        FDW3_ALL(1, 1, 1);
    } else if (NR == 1 && s == 2) {
        FDW3_ALL(2, 1, 1);
    } else if (NR == 2 && s == 1 && sh == 1) {
        FDW3_ALL(1, 2, 1);
    } else if (NR == 2 && s == 2 && sh == 2) {
        FDW3_ALL(2, 2, 2);
    }
#undef FDW3_ALL
#undef FDW3_COLS
    for (; ox < x1; ox++)
        fdw3_pixels(p, g, rowp, w, bias, lo, hi, NR, ox, c0, m, orow);
}

/* 3x3, dilation 1: NR (1 or 2) output rows from their (NR-1)*stride_h + 3
 * input rows (NULL: in the padding), 16 channels a vector.  While the
 * input rows fit L1 each channel block sweeps the whole row; wider rows go 8
 * columns at a time over all channels, so that the input is read nearly in
 * order (a strided sweep per channel block defeats the prefetchers). */
T512 static void fdw3_sweep(const struct fdw *p, const struct mnet_conv_geom *g,
                            const float *const *rowp, int NR, float *const *orow)
{
    const int C = p->C, s = g->stride_w;
    /* interior columns: ox in [ox_a, ox_b) have all three taps inside */
    int ox_a = (g->pad_left + s - 1) / s;
    int lim = g->in_w - 3 + g->pad_left; /* ox * s <= lim */
    int ox_b = lim < 0 ? 0 : lim / s + 1;
    if (ox_b > g->out_w)
        ox_b = g->out_w;
    if (ox_a > ox_b)
        ox_a = ox_b;
    /* border blocks (fdw3_span): column 0 and the last column with one input column in the padding */
    const int lb = ox_a == 1 && g->pad_left == 1;
    const int rb = ox_b == g->out_w - 1 && (g->out_w - 1) * s - g->pad_left + 2 == g->in_w;
    const size_t in_rows = (size_t)(NR - 1) * g->stride_h + 3;
    const int step = in_rows * g->in_w * C * sizeof(float) <= 32 * 1024 || g->out_w <= 16 ? g->out_w : 8;
    /* chunks after the left border (or its block) start at interior columns: whole groups of 8 */
    for (int x0 = 0, x1; x0 < g->out_w; x0 = x1) {
        x1 = (x0 || lb ? x0 : ox_a) + step;
        x1 = x1 < g->out_w ? x1 : g->out_w;
        for (int c0 = 0; c0 < C; c0 += 16)
            fdw3_span(p, g, rowp, NR, c0, x0, x1, ox_a, ox_b, lb, rb, orow);
    }
}

/* Output rows oy .. oy+nr-1 (nr 1, or 2 with equal strides) of image b. */
T512 static void fdw3_rows(const struct fdw *p, const struct mnet_conv_geom *g, const float *in,
                           int b, int oy, int nr, float *orow)
{
    const float *rowp[5];
    float *const orows[2] = { orow, orow + (size_t)g->out_w * p->C };
    dw_rows(g, (const uint8_t *)in, sizeof(float), b, oy, (const uint8_t **)rowp);
    if (nr == 2)
        dw_rows(g, (const uint8_t *)in, sizeof(float), b, oy + 1, (const uint8_t **)rowp + g->stride_h);
    fdw3_sweep(p, g, rowp, nr, orows);
}

T512 static void x512_fdw_run(const struct mnet_fconv *l, int n, const float *in, float *out,
                              void *scratch, int threads)
{
    const struct xpack *h = l->packed;
    if (h->kind == PK_C) {
        struct mnet_fconv tmp = *l;
        tmp.packed = h->c_packed;
        mnet_kernels_c.fdw_run(&tmp, n, in, out, scratch, threads);
        return;
    }
    const struct fdw *p = l->packed;
    const struct mnet_conv_geom *g = &l->g;
    const int C = p->C;
    /* 3x3 by row sweeps, except stride 2 with rows wider than L1: read in
     * column chunks they lost to the pixel-by-pixel order once the input
     * comes from DRAM (batch 8); other sizes pixel by pixel. */
    const int k3 = g->k_h == 3 && g->k_w == 3 && g->dil_h == 1 && g->dil_w == 1 &&
                   (g->stride_w == 1 || (size_t)3 * g->in_w * C * sizeof(float) <= 32 * 1024);
    /* row sweeps two output rows a task where the strides allow (fdw3_cols) */
    const int two = k3 && g->stride_h == g->stride_w && g->stride_h <= 2;
    const int per = two ? (g->out_h + 1) / 2 : g->out_h; /* tasks per image */
    const long tasks = (long)n * per;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long t = 0; t < tasks; t++) {
        int b = (int)(t / per), oy = (int)(t % per) * (two ? 2 : 1);
        if (k3) {
            fdw3_rows(p, g, in, b, oy, two && oy + 1 < g->out_h ? 2 : 1,
                      out + ((size_t)b * g->out_h + oy) * g->out_w * C);
            continue;
        }
        const float *tap[64];
        const uint8_t *rows_in[64];
        dw_rows(g, (const uint8_t *)in, sizeof(float), b, oy, rows_in);
        const __m512 lo = _mm512_set1_ps(p->out_min), hi = _mm512_set1_ps(p->out_max);
        for (int ox = 0; ox < g->out_w; ox++) {
            dw_taps(g, rows_in, sizeof(float), ox, (const uint8_t *)p->zrow, (const uint8_t **)tap);
            float *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * C;
            int c0 = 0;
            for (; c0 + 32 <= C; c0 += 32) {
                __m512 a0 = _mm512_load_ps(p->bias + c0), a1 = _mm512_load_ps(p->bias + c0 + 16);
                for (int t = 0; t < p->taps; t++) {
                    const float *wt = p->w + (size_t)t * p->CP + c0;
                    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(tap[t] + c0), _mm512_load_ps(wt), a0);
                    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(tap[t] + c0 + 16), _mm512_load_ps(wt + 16), a1);
                }
                _mm512_storeu_ps(o + c0, _mm512_min_ps(_mm512_max_ps(a0, lo), hi));
                _mm512_storeu_ps(o + c0 + 16, _mm512_min_ps(_mm512_max_ps(a1, lo), hi));
            }
            for (; c0 < C; c0 += 16) {
                int left = C - c0;
                __mmask16 m = lanes16(left);
                __m512 a0 = _mm512_load_ps(p->bias + c0);
                for (int t = 0; t < p->taps; t++)
                    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, tap[t] + c0),
                                         _mm512_load_ps(p->w + (size_t)t * p->CP + c0), a0);
                _mm512_mask_storeu_ps(o + c0, m, _mm512_min_ps(_mm512_max_ps(a0, lo), hi));
            }
        }
    }
}

/* ======================= fused float block (AVX-512) ======================= */

/* An inverted-residual block (kernels.h, struct mnet_fblock) a band of
 * output rows at a time.  Run layer by layer, the 112x112x96 expanded tensor of
 * MobileNetV2 (4.8 MB) and its depthwise output do not fit the 2 MB L2: each
 * is written out and read back from L3/DRAM, and writing into a tensor of
 * that size costs a read for ownership plus a write-back of every line even
 * when the reader comes soon after.  Here the expanded rows live in a ring
 * of 3 + stride_h rows (slot iy % slots) and the depthwise output in a
 * band of rows, both per-thread scratch that stays in L1/L2; only the block's input and output
 * touch the arena.  The arithmetic of each output is the layers' own: the
 * same GEMM tiles (fgemm_tile_any) and depthwise row sweep (fdw3_sweep). */

/* Floats of scratch per thread: the ring of 3 + stride_h rows (when there
 * is an expand: the input rows of two output rows), then a band of
 * depthwise output rows (fb_band); each 64-byte aligned. */
static size_t fb_ring_floats(const struct mnet_fblock *b)
{
    const struct mnet_conv_geom *g = &b->dw->g;
    return b->expand ? mnet_round_up((size_t)(g->k_h + g->stride_h) * g->in_w * g->in_c, 16) : 0;
}

/* Output rows of a band: the depthwise runs them two at a time where the
 * strides allow (fdw3_cols), then the project GEMM takes the whole band.
 * Without an expand a band has at least FB_BAND_PIX pixels (a 14x14 map:
 * v1's 7x7 and 14x14 pairs run whole images, its 28x28 pairs 8 rows), so
 * the GEMM streams each weight panel once per band, less often than the
 * unfused layer (once per chunk of about ROWCHUNK rows) and far less than
 * once per pair of rows; the band's depthwise output (at most 400 KB in
 * v1) stays in L2.  With an expand the ring holds the input rows of one
 * pair.  v1 fp32 batch 8, 1 thread, the ten later pairs: bands of 48
 * pixels 1-5% slower than these. */
#define FB_BAND_PIX 196
static int fb_band(const struct mnet_fblock *b)
{
    const struct mnet_conv_geom *g = &b->dw->g;
    const int pairs = g->stride_h == g->stride_w && g->stride_h <= 2;
    int nb = pairs ? 2 : 1;
    if (!b->expand) {
        int want = (FB_BAND_PIX + g->out_w - 1) / g->out_w;
        want += pairs && want % 2;
        nb = want > nb ? want : nb;
    }
    return nb < g->out_h ? nb : g->out_h;
}

static size_t fb_thread_floats(const struct mnet_fblock *b)
{
    const struct mnet_conv_geom *g = &b->dw->g;
    return fb_ring_floats(b) + mnet_round_up((size_t)fb_band(b) * g->out_w * g->out_c, 16);
}

static int fb_is_pw_gemm(const struct mnet_fconv *l)
{
    const struct xpack *h = l->packed;
    return h && h->kind == PK_FGEMM && ((const struct fgemm *)h)->pw;
}

static int x512_fblock_prepare(struct mnet_fblock *b, int max_batch, int threads)
{
    const struct mnet_conv_geom *gd = &b->dw->g, *gp = &b->project->g;
    const struct xpack *hd = b->dw->packed;
    (void)max_batch;
    if (!hd || hd->kind != PK_FDW || !fb_is_pw_gemm(b->project) ||
        (b->expand && !fb_is_pw_gemm(b->expand)))
        return -ENOTSUP;
    /* the 3x3 row sweep of fdw3_sweep; the ring holds 3 + stride_h rows */
    if (gd->k_h != 3 || gd->k_w != 3 || gd->dil_h != 1 || gd->dil_w != 1 ||
        gd->depth_multiplier != 1)
        return -ENOTSUP;
    if (gp->in_h != gd->out_h || gp->in_w != gd->out_w || gp->in_c != gd->out_c)
        return -ENOTSUP;
    const struct mnet_conv_geom *gi = b->expand ? &b->expand->g : gd;
    if (b->expand && (gi->out_h != gd->in_h || gi->out_w != gd->in_w || gi->out_c != gd->in_c))
        return -ENOTSUP;
    if (b->residual && (gp->out_h != gi->in_h || gp->out_w != gi->in_w || gp->out_c != gi->in_c))
        return -ENOTSUP;
    b->scratch_bytes = (size_t)(threads > 0 ? threads : 1) * fb_thread_floats(b) * sizeof(float);
    return 0;
}

/* A full tile of consecutive rows of K = 32 floats (the first blocks'
 * projects): every row a constant offset from one pointer, where the
 * generic 12-row tile keeps 12 row pointers and moves some back from vector
 * registers every k step (on an FMA port).  The same tile otherwise. */
T512 static void fgemm_tile_k32(const struct fgemm *p, int NV, const float *in, const float *wp,
                                float *out, size_t ldo, int col0)
{
    const float *rows[RMAX];
#pragma GCC unroll 24
    for (int r = 0; r < RMAX; r++)
        rows[r] = in + (size_t)r * 32;
    switch (NV) {
    case 4: fgemm_tile(p, 6, 4, 6, rows, NULL, 1, wp, out, ldo, col0, p->w, 0); break;
    case 3: fgemm_tile(p, 8, 3, 8, rows, NULL, 1, wp, out, ldo, col0, p->w, 0); break;
    case 2: fgemm_tile(p, 8, 2, 8, rows, NULL, 1, wp, out, ldo, col0, p->w, 0); break;
    default: fgemm_tile(p, 12, 1, 12, rows, NULL, 1, wp, out, ldo, col0, p->w, 0); break;
    }
}

/* rows (M of them, K floats each, consecutive) x the pointwise layer p ->
 * out (M x N, consecutive): panels [p0, p1), each over all the rows. */
T512 static void fb_pointwise(const struct fgemm *p, const float *in, int M, float *out, int p0,
                              int p1)
{
    for (int pan = p0; pan < p1; pan++) {
        int nv;
        const float *wp = fpanel(p, pan, &nv);
        const int rm = frows_for(nv);
        for (int m = 0, t = 0; m < M; m += rm, t++) {
            int R = M - m < rm ? M - m : rm;
            if (R == rm && p->K == 32 && p->panels == 1) {
                fgemm_tile_k32(p, nv, in + (size_t)m * 32, wp, out + (size_t)m * p->N, (size_t)p->N,
                               pan * PANEL);
                continue;
            }
            const float *rows[RMAX];
            for (int r = 0; r < rm; r++)
                rows[r] = in + (size_t)(m + (r < R ? r : 0)) * p->K;
            int pfn;
            const float *pf = fpf_slice(p, pan, t, &pfn);
            fgemm_tile_any(p, nv, R, rows, NULL, 1, wp, out + (size_t)m * p->N, (size_t)p->N,
                           pan * PANEL, pf, pfn);
        }
    }
}

/* Output rows [y0, y1) of image b, band by band (fb_band), the project's
 * panels [p0, p1) (all of them when there is a residual); scr is this
 * thread's scratch. */
T512 static void fb_rows(const struct mnet_fblock *bk, const float *in, float *out, float *scr,
                         int b, int y0, int y1, int p0, int p1)
{
    const struct mnet_conv_geom *gd = &bk->dw->g;
    const struct fdw *pd = bk->dw->packed;
    const struct fgemm *pe = bk->expand ? bk->expand->packed : NULL, *pp = bk->project->packed;
    const int H = gd->in_h, W = gd->in_w, C = gd->in_c, sh = gd->stride_h;
    const int pairs = sh == gd->stride_w && sh <= 2;
    const int cin = pe ? pe->K : C, cout = pp->N, slots = pairs ? 3 + sh : 3;
    const size_t row_e = (size_t)W * C; /* floats of an expanded row */
    float *ring = scr, *dwrow = scr + fb_ring_floats(bk);
    const float *img = in + (size_t)b * H * W * cin;
    float *oimg = out + (size_t)b * gd->out_h * gd->out_w * cout;
    int slot_row[5] = { -1, -1, -1, -1, -1 };
    const int band = fb_band(bk);
    for (int oy = y0, nb; oy < y1; oy += nb) {
        nb = band < y1 - oy ? band : y1 - oy;
        for (int r = 0, nr; r < nb; r += nr) {
            nr = pairs && r + 1 < nb ? 2 : 1;
            float *const dwr[2] = { dwrow + (size_t)r * gd->out_w * C,
                                    dwrow + (size_t)(r + 1) * gd->out_w * C };
            const float *rowp[5];
            for (int i = 0; i < (nr - 1) * sh + 3; i++) {
                int iy = (oy + r) * sh - gd->pad_top + i;
                if (iy < 0 || iy >= H) {
                    rowp[i] = NULL;
                } else if (!pe) {
                    rowp[i] = img + (size_t)iy * row_e;
                } else {
                    int slot = iy % slots;
                    float *er = ring + (size_t)slot * row_e;
                    if (slot_row[slot] != iy) {
                        fb_pointwise(pe, img + (size_t)iy * W * cin, W, er, 0, pe->panels);
                        slot_row[slot] = iy;
                    }
                    rowp[i] = er;
                }
            }
            fdw3_sweep(pd, gd, rowp, nr, dwr);
        }
        /* the nb output rows are consecutive in the image and in dwrow */
        float *orow = oimg + (size_t)oy * gd->out_w * cout;
        fb_pointwise(pp, dwrow, nb * gd->out_w, orow, p0, p1);
        if (bk->residual) {
            /* out = clamp(project + in): the residual ADD's arithmetic */
            const float *xr = img + (size_t)oy * gd->out_w * cout;
            const __m512 lo = _mm512_set1_ps(bk->add_lo), hi = _mm512_set1_ps(bk->add_hi);
            const size_t cnt = (size_t)nb * gd->out_w * cout;
            for (size_t i = 0; i < cnt; i += 16) {
                size_t left = cnt - i;
                __mmask16 m = lanes16(left);
                __m512 y = _mm512_add_ps(_mm512_maskz_loadu_ps(m, orow + i), _mm512_maskz_loadu_ps(m, xr + i));
                _mm512_mask_storeu_ps(orow + i, m, _mm512_min_ps(_mm512_max_ps(y, lo), hi));
            }
        }
    }
}

/* Threads split each image's output rows (batch 1 on 2 threads: one half
 * each; a thread recomputes the expanded rows its first output rows share
 * with the other half) or take whole images.  A block without expand whose
 * rows do not split evenly (v1's 7x7 maps on 2 threads: 4 rows against 3)
 * splits its project panels instead, each thread computing the whole
 * depthwise (a few % of the block's work). */
T512 static void fb_task(const struct mnet_fblock *bk, const float *in, float *out, float *scr,
                         long t, int split, int by_pan)
{
    const int OH = bk->dw->g.out_h, P = ((const struct fgemm *)bk->project->packed)->panels;
    const int b = (int)(t / split), part = (int)(t % split);
    if (by_pan)
        fb_rows(bk, in, out, scr, b, 0, OH, P * part / split, P * (part + 1) / split);
    else
        fb_rows(bk, in, out, scr, b, OH * part / split, OH * (part + 1) / split, 0, P);
}

T512 static void x512_fblock_run(const struct mnet_fblock *bk, int n, const float *in, float *out,
                                 void *scratch, int threads)
{
    const int OH = bk->dw->g.out_h, P = ((const struct fgemm *)bk->project->packed)->panels;
    const size_t per = fb_thread_floats(bk);
    int split = threads > n ? (threads + n - 1) / n : 1;
    const int by_pan = !bk->expand && split > 1 && OH % split && P >= split;
    split = by_pan || split < OH ? split : OH;
    const long tasks = (long)n * split;
    if (threads <= 1 || tasks == 1) {
        for (long t = 0; t < tasks; t++)
            fb_task(bk, in, out, scratch, t, split, by_pan);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        const int tid = thread_id();
#ifdef _OPENMP
        const int nt = omp_get_num_threads();
#else
        const int nt = 1;
#endif
        float *scr = (float *)scratch + (size_t)tid * per;
        for (long t = tid; t < tasks; t += nt)
            fb_task(bk, in, out, scr, t, split, by_pan);
    }
}

/* ======================= float GEMM and depthwise (AVX2) ======================= */

/* For CPUs without AVX-512: the same packs, 8 lanes a vector. */

TAVX2 INL __m256 tail_mask8(int left)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(left), idx));
}

TAVX2 INL void store8(float *o, __m256 y, int left)
{
    if (left >= 8)
        _mm256_storeu_ps(o, y);
    else if (left > 0)
        _mm256_maskstore_ps(o, _mm256_castps_si256(tail_mask8(left)), y);
}

/* 6 rows x 16 columns (sub-block j of a 64-column panel): rows[r]'s K
 * values, or (rows NULL, the direct conv) pixel r's kernel row ky at
 * base + r*sx + ky*ld, L values each. */
TAVX2 INL void fgemm2_block(const struct fgemm *p, int NV, int j, int R, const float *const *rows,
                            const float *base, size_t sx, size_t ld, int kh, int L, const float *wp,
                            float *out, size_t ldo, int col0)
{
    const int c = col0 + j * 16;
    __m256 acc[6][2];
    const __m256 b0 = _mm256_loadu_ps(p->bias + c), b1 = _mm256_loadu_ps(p->bias + c + 8);
    for (int r = 0; r < 6; r++) {
        acc[r][0] = b0;
        acc[r][1] = b1;
    }
    const size_t wld = (size_t)NV * 16;
    const float *w = wp + j * 16;
    for (int ky = 0; ky < kh; ky++)
        for (int i = 0; i < L; i++, w += wld) {
            const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
#pragma GCC unroll 6
            for (int r = 0; r < 6; r++) {
                const __m256 a = _mm256_broadcast_ss(rows ? rows[r] + i : base + ky * ld + r * sx + i);
                acc[r][0] = _mm256_fmadd_ps(a, w0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(a, w1, acc[r][1]);
            }
        }
    const __m256 lo = _mm256_set1_ps(p->out_min), hi = _mm256_set1_ps(p->out_max);
    for (int r = 0; r < R; r++) {
        float *o = out + (size_t)r * ldo + c;
        store8(o, _mm256_min_ps(_mm256_max_ps(acc[r][0], lo), hi), p->N - c);
        store8(o + 8, _mm256_min_ps(_mm256_max_ps(acc[r][1], lo), hi), p->N - c - 8);
    }
}

TAVX2 static void fgemm2_tile(const struct fgemm *p, int NV, int j, int R, const float *const *rows,
                              const float *wp, float *out, size_t ldo, int col0)
{
    fgemm2_block(p, NV, j, R, rows, NULL, 0, 0, 1, p->K, wp, out, ldo, col0);
}

/* fdirect_run's tile: 6 pixels x the panel's nv vectors, 16 columns a block. */
TAVX2 static void fdirect2_tile(const struct fgemm *p, int nv, int R, const float *base, size_t sx, size_t ld,
                                int kh, int L, const float *wp, float *out, size_t ldo, int col0)
{
    for (int j = 0; j < nv; j++)
        fgemm2_block(p, nv, j, R, NULL, base, sx, ld, kh, L, wp, out, ldo, col0);
}

static int six_rows(int nv)
{
    (void)nv;
    return 6;
}

static void fgather_c(const struct mnet_conv_geom *g, const float *in, size_t b, int oy, int ox, float *dst)
{
    mnet_gather_patch_f32(g, in, (b * g->out_h + (size_t)oy) * g->out_w + (size_t)ox, dst);
}

TAVX2 static void x2_fconv_run(const struct mnet_fconv *l, int n, const float *in, float *out,
                               void *scratch, int threads)
{
    const struct xpack *h = l->packed;
    if (h->kind == PK_C) {
        struct mnet_fconv tmp = *l;
        tmp.packed = h->c_packed;
        mnet_kernels_c.fconv_run(&tmp, n, in, out, scratch, threads);
        return;
    }
    const struct fgemm *p = l->packed;
    if (p->direct) {
        fdirect_run(l, n, in, out, scratch, threads, fdirect2_tile, six_rows, fgather_c);
        return;
    }
    const struct mnet_conv_geom *g = &l->g;
    const size_t M = (size_t)n * g->out_h * g->out_w;
    const struct split sp = task_split(M, MR, p->panels, threads);
    const long tasks = sp.chunks * sp.groups;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long t = 0; t < tasks; t++) {
        int p0, p1;
        size_t m0, m1;
        split_task(&sp, t, p->panels, &p0, &p1, &m0, &m1);
        float *buf = (float *)scratch + (size_t)thread_id() * RMAX * p->ldk;
        for (size_t m = m0; m < m1; m += 6) {
            int R = m1 - m < 6 ? (int)(m1 - m) : 6;
            const float *rows[6];
            for (int r = 0; r < 6; r++) {
                size_t mr = m + (r < R ? r : 0);
                if (p->pw) {
                    rows[r] = in + mr * (size_t)p->K;
                } else {
                    rows[r] = buf + (size_t)(r < R ? r : 0) * p->ldk;
                    if (r < R)
                        mnet_gather_patch_f32(g, in, mr, buf + (size_t)r * p->ldk);
                }
            }
            for (int pan = p0; pan < p1; pan++) {
                int nv;
                const float *wp = fpanel(p, pan, &nv);
                for (int j = 0; j < nv; j++)
                    fgemm2_tile(p, nv, j, R, rows, wp, out + m * p->N, (size_t)p->N, pan * PANEL);
            }
        }
    }
}

TAVX2 static void x2_fdw_run(const struct mnet_fconv *l, int n, const float *in, float *out,
                             void *scratch, int threads)
{
    const struct xpack *h = l->packed;
    if (h->kind == PK_C) {
        struct mnet_fconv tmp = *l;
        tmp.packed = h->c_packed;
        mnet_kernels_c.fdw_run(&tmp, n, in, out, scratch, threads);
        return;
    }
    const struct fdw *p = l->packed;
    const struct mnet_conv_geom *g = &l->g;
    const long rows = (long)n * g->out_h;
    const int C = p->C;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long row = 0; row < rows; row++) {
        int b = (int)(row / g->out_h), oy = (int)(row % g->out_h);
        const float *tap[64];
        const uint8_t *rows_in[64];
        dw_rows(g, (const uint8_t *)in, sizeof(float), b, oy, rows_in);
        const __m256 lo = _mm256_set1_ps(p->out_min), hi = _mm256_set1_ps(p->out_max);
        for (int ox = 0; ox < g->out_w; ox++) {
            dw_taps(g, rows_in, sizeof(float), ox, (const uint8_t *)p->zrow, (const uint8_t **)tap);
            float *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * C;
            for (int c0 = 0; c0 < C; c0 += 8) {
                int left = C - c0;
                __m256 acc = _mm256_load_ps(p->bias + c0);
                if (left >= 8) {
                    for (int t = 0; t < p->taps; t++)
                        acc = _mm256_fmadd_ps(_mm256_loadu_ps(tap[t] + c0),
                                              _mm256_load_ps(p->w + (size_t)t * p->CP + c0), acc);
                } else {
                    const __m256i mk = _mm256_castps_si256(tail_mask8(left));
                    for (int t = 0; t < p->taps; t++)
                        acc = _mm256_fmadd_ps(_mm256_maskload_ps(tap[t] + c0, mk),
                                              _mm256_load_ps(p->w + (size_t)t * p->CP + c0), acc);
                }
                store8(o + c0, _mm256_min_ps(_mm256_max_ps(acc, lo), hi), left);
            }
        }
    }
}

/* ======================= int8 GEMM (AVX2) ======================= */

static void x_free_pack(void *packed);

/* For CPUs without VNNI (AVX2 only, or AVX-512 without it): the weights
 * packed as int16 w - w_zp, exact for any zero point (no outlier fix-ups),
 * each tile's rows widened to int16 once, then vpmaddwd of a broadcast pair
 * of a row's values against the pairs of 16 columns: 6 rows x 16 columns
 * a tile, 12 accumulators.  The requantization is rq_apply's in 8 lanes,
 * bit-exact; layers it does not cover (a left shift, e = 0, accumulators
 * beyond its range) stay portable.  Convs with short kernel rows (the stem)
 * repack and widen each output row's input rows once, as the VNNI direct
 * kernel does (direct_repack): a pixel's patch is then K contiguous int16,
 * stride_w columns after the previous pixel's, instead of a gather and a
 * widening per pixel. */
#define Q2R 6 /* rows of a tile */

struct qgemm2 {
    struct xpack h;
    int K, K2, N, panels;   /* K2: pairs of K (an odd K's last pair padded with 0) */
    int pw;                 /* 1x1 stride 1: rows read in place */
    int direct;             /* short kernel rows: qgemm2_direct */
    size_t ldk;             /* int16 per widened row (direct: the repacked row) */
    size_t tscratch;        /* bytes per thread: Q2R gathered rows, then Q2R widened ones;
                             * direct: the repacked row, an in_zp row, the widened row */
    int16_t *w;             /* [panel][k2][16 columns][2] */
    struct rq rq;           /* [panel]: after the weights */
    int32_t out_zp, out_min, out_max;
};

static int x2_qconv_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    const int K = g->k_h * g->k_w * g->in_c;
    if (K > (1 << 16) || g->depth_multiplier > 1 || !rq_ok(l, 0))
        return q_fallback(l, max_batch, threads, 0);
    struct qgemm2 *p = x_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->h.kind = PK_QGEMM2;
    p->K = K;
    p->K2 = (K + 1) / 2;
    p->N = g->out_c;
    p->panels = (g->out_c + 15) / 16;
    p->pw = mnet_conv_is_pointwise(g);
    p->ldk = mnet_round_up((size_t)p->K2 * 2, 32);
    p->direct = direct_ok(g) && K <= 64;
    const size_t cb = (size_t)g->k_h * g->in_c, zrow = mnet_round_up((size_t)g->in_w * g->in_c, 64);
    if (p->direct) /* the columns, the last patch's pair read 1 past them, 16-byte widening */
        p->ldk = mnet_round_up(((size_t)(g->out_w - 1) * g->stride_w + g->k_w) * cb + 1, 32);
    const size_t nw = (size_t)p->panels * p->K2 * 32; /* int16 */
    p->w = x_alloc(nw * sizeof *p->w + RQ_BYTES(p->panels));
    if (!p->w) {
        free(p);
        return -ENOMEM;
    }
    rq_place(&p->rq, p->w + nw, (size_t)p->panels);
    for (int oc = 0; oc < p->N; oc++) {
        const int pan = oc / 16, col = oc % 16;
        for (int k = 0; k < K; k++) {
            const int kp = p->direct ? direct_k(g, k) : k;
            p->w[((size_t)pan * p->K2 + kp / 2) * 32 + col * 2 + kp % 2] =
                (int16_t)(l->w[(size_t)oc * K + k] - l->w_zp);
        }
        rq_set(&p->rq, (size_t)pan, col, l->bias_folded[oc], l->mult[oc], l->shift[oc]);
    }
    if (p->rq.gen) {
        free(p->w);
        free(p);
        return q_fallback(l, max_batch, threads, 0);
    }
    p->out_zp = l->out_zp;
    p->out_min = l->out_min;
    p->out_max = l->out_max;
    p->tscratch = p->direct ? p->ldk * (1 + sizeof(int16_t)) + zrow
                            : mnet_round_up((size_t)Q2R * K, 64) + (size_t)Q2R * p->ldk * sizeof(int16_t);
    l->packed = p;
    l->scratch_bytes = (size_t)(threads > 0 ? threads : 1) * p->tscratch;
    return 0;
}

/* rq_apply on lanes 8h .. 8h+7 of vector vec (no gen lanes: prepare). */
TAVX2 INL __m256i rq_apply8(__m256i u, const struct rq *r, size_t vec, int h)
{
    const int32_t *q = r->q + vec * RQ_V + 8 * h;
#define RQ_ROW(row) _mm256_load_si256((const __m256i *)(q + (row) * 16))
    const __m256i t = _mm256_srai_epi32(u, 31);
    __m256i ev = _mm256_add_epi64(_mm256_mul_epu32(u, RQ_ROW(RQ_ME)), RQ_ROW(RQ_RE));
    __m256i od = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(u, 32), RQ_ROW(RQ_MO)), RQ_ROW(RQ_RO));
    /* lane i: the high dword of ev's qword i/2 (even i), of od's (odd i) */
    const __m256i x = _mm256_blend_epi32(_mm256_srli_epi64(ev, 32), od, 0xAA);
    return _mm256_srav_epi32(_mm256_sub_epi32(x, t), RQ_ROW(RQ_RSH));
#undef RQ_ROW
}

/* The first n (> 0) of y's 16 bytes to o. */
TAVX2 INL void store_u8x16(uint8_t *o, __m128i y, int n)
{
    if (n >= 16) {
        _mm_storeu_si128((__m128i *)o, y);
    } else {
        uint8_t t[16];
        _mm_storeu_si128((__m128i *)t, y);
        memcpy(o, t, (size_t)n);
    }
}

/* Rows rows[0..Q2R) (widened; those past R repeat row 0) x panel pan: the
 * sums start at the panel's biases; qgemm2_store writes the first R rows
 * to out (ldo bytes apart). */
TAVX2 INL void qgemm2_store(const struct qgemm2 *p, int pan, int R, __m256i acc[Q2R][2], uint8_t *out,
                            size_t ldo)
{
    const __m256i zp = _mm256_set1_epi32(p->out_zp);
    const __m128i lo = _mm_set1_epi8((char)p->out_min), hi = _mm_set1_epi8((char)p->out_max);
    const int c0 = pan * 16, cols = p->N - c0 < 16 ? p->N - c0 : 16;
    for (int r = 0; r < R; r++) {
        const __m256i y0 = _mm256_add_epi32(rq_apply8(acc[r][0], &p->rq, (size_t)pan, 0), zp);
        const __m256i y1 = _mm256_add_epi32(rq_apply8(acc[r][1], &p->rq, (size_t)pan, 1), zp);
        /* packs interleave the 128-bit halves: columns 0-3, 8-11 | 4-7, 12-15 */
        const __m256i s = _mm256_permute4x64_epi64(_mm256_packs_epi32(y0, y1), 0xD8);
        __m128i y = _mm_packus_epi16(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        y = _mm_min_epu8(_mm_max_epu8(y, lo), hi);
        uint8_t *o = out + (size_t)r * ldo + c0;
        store_u8x16(o, y, cols);
    }
}

/* x[0..n) widened to int16 at d, 16 at a time: the count done (n rounded down to 16). */
TAVX2 INL size_t widen16(const uint8_t *x, int16_t *d, size_t n)
{
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        _mm256_storeu_si256((__m256i *)(d + k),
                            _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + k))));
    return k;
}

/* The k loop's operands: the panel's pair k2 of 16 columns, row r's pair. */
#define QGEMM2_W(i) _mm256_load_si256((const __m256i *)(w + 16 * (i)))
TAVX2 INL __m256i qgemm2_pair(const int16_t *row, int k2)
{
    int32_t pair;
    memcpy(&pair, row + 2 * k2, 4);
    return _mm256_set1_epi32(pair);
}

/* A table's tiles: rows rows[0..Q2R) (widened; those past R repeat row 0)
 * x panels [p0, p1), the first R rows stored to out (ldo bytes apart). */
typedef void qgemm2_tiles_fn(const struct qgemm2 *p, int p0, int p1, int R, const int16_t *const *rows,
                             uint8_t *out, size_t ldo);

TAVX2 static void qgemm2_tiles(const struct qgemm2 *p, int p0, int p1, int R, const int16_t *const *rows,
                               uint8_t *out, size_t ldo)
{
    for (int pan = p0; pan < p1; pan++) {
        const int32_t *bias = rq_bias(&p->rq, (size_t)pan);
        __m256i acc[Q2R][2];
        for (int r = 0; r < Q2R; r++)
            for (int v = 0; v < 2; v++)
                acc[r][v] = _mm256_load_si256((const __m256i *)(bias + 8 * v));
        const int16_t *w = p->w + (size_t)pan * p->K2 * 32;
        for (int k2 = 0; k2 < p->K2; k2++, w += 32) {
            const __m256i w0 = QGEMM2_W(0), w1 = QGEMM2_W(1);
#pragma GCC unroll 6
            for (int r = 0; r < Q2R; r++) {
                const __m256i a = qgemm2_pair(rows[r], k2);
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(a, w0));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(a, w1));
            }
        }
        qgemm2_store(p, pan, R, acc, out, ldo);
    }
}

/* The same with AVX-VNNI: vpdpwssd is the vpmaddwd and the vpaddd in one. */
TAVXVNNI static void qgemm2_tiles_vnni(const struct qgemm2 *p, int p0, int p1, int R,
                                       const int16_t *const *rows, uint8_t *out, size_t ldo)
{
    for (int pan = p0; pan < p1; pan++) {
        const int32_t *bias = rq_bias(&p->rq, (size_t)pan);
        __m256i acc[Q2R][2];
        for (int r = 0; r < Q2R; r++)
            for (int v = 0; v < 2; v++)
                acc[r][v] = _mm256_load_si256((const __m256i *)(bias + 8 * v));
        const int16_t *w = p->w + (size_t)pan * p->K2 * 32;
        for (int k2 = 0; k2 < p->K2; k2++, w += 32) {
            const __m256i w0 = QGEMM2_W(0), w1 = QGEMM2_W(1);
#pragma GCC unroll 6
            for (int r = 0; r < Q2R; r++) {
                const __m256i a = qgemm2_pair(rows[r], k2);
                acc[r][0] = _mm256_dpwssd_avx_epi32(acc[r][0], a, w0);
                acc[r][1] = _mm256_dpwssd_avx_epi32(acc[r][1], a, w1);
            }
        }
        qgemm2_store(p, pan, R, acc, out, ldo);
    }
}
#undef QGEMM2_W

/* AVX-512BW without VNNI: the same pack, a 16-column panel per zmm, 6 rows
 * x 4 panels a tile (24 accumulators), rq_apply in 16 lanes. */
T512 INL void qgemm2_tile512(const struct qgemm2 *p, int NV, int pan, int R, const int16_t *const *rows,
                             uint8_t *out, size_t ldo)
{
    __m512i acc[Q2R][4];
    for (int v = 0; v < NV; v++) {
        const __m512i b = _mm512_load_si512(rq_bias(&p->rq, (size_t)(pan + v)));
        for (int r = 0; r < Q2R; r++)
            acc[r][v] = b;
    }
    const size_t pstep = (size_t)p->K2 * 32; /* int16 per panel */
    const int16_t *w = p->w + (size_t)pan * pstep;
    for (int k2 = 0; k2 < p->K2; k2++, w += 32) {
        __m512i wv[4];
        for (int v = 0; v < NV; v++)
            wv[v] = _mm512_load_si512(w + v * pstep);
#pragma GCC unroll 6
        for (int r = 0; r < Q2R; r++) {
            int32_t pair;
            memcpy(&pair, rows[r] + 2 * k2, 4);
            const __m512i a = _mm512_set1_epi32(pair);
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_add_epi32(acc[r][v], _mm512_madd_epi16(a, wv[v]));
        }
    }
    const __m512i zp = _mm512_set1_epi32(p->out_zp), lo = _mm512_set1_epi32(p->out_min),
                  hi = _mm512_set1_epi32(p->out_max);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            const int c0 = (pan + v) * 16;
            __m512i y = _mm512_add_epi32(rq_apply(acc[r][v], &p->rq, (size_t)(pan + v), 0), zp);
            y = _mm512_min_epi32(_mm512_max_epi32(y, lo), hi);
            _mm512_mask_cvtepi32_storeu_epi8(out + (size_t)r * ldo + c0, lanes16(p->N - c0), y);
        }
}

T512 static void qgemm2_tiles_512(const struct qgemm2 *p, int p0, int p1, int R, const int16_t *const *rows,
                                  uint8_t *out, size_t ldo)
{
    for (int pan = p0; pan < p1; pan += 4)
        switch (p1 - pan) {
        case 1: qgemm2_tile512(p, 1, pan, R, rows, out, ldo); break;
        case 2: qgemm2_tile512(p, 2, pan, R, rows, out, ldo); break;
        case 3: qgemm2_tile512(p, 3, pan, R, rows, out, ldo); break;
        default: qgemm2_tile512(p, 4, pan, R, rows, out, ldo); break;
        }
}

/* n x out_h output rows: each repacked (direct_repack) and widened once,
 * then tiles of Q2R pixels stride_w columns apart. */
TAVX2 INL void qgemm2_direct(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                             void *scratch, int threads, qgemm2_tiles_fn *tiles)
{
    const struct qgemm2 *p = l->packed;
    const struct mnet_conv_geom *g = &l->g;
    const size_t sx = (size_t)g->stride_w * g->k_h * g->in_c;
    const long rows = (long)n * g->out_h;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long row = 0; row < rows; row++) {
        uint8_t *buf = (uint8_t *)scratch + (size_t)thread_id() * p->tscratch;
        int16_t *wide = (int16_t *)(buf + p->ldk);
        direct_repack(g, in, (size_t)(row / g->out_h), (int)(row % g->out_h), (uint8_t)l->in_zp, buf,
                      (uint8_t *)(wide + p->ldk), NULL);
        widen16(buf, wide, p->ldk); /* a multiple of 32 */
        uint8_t *orow = out + (size_t)row * g->out_w * p->N;
        for (int ox = 0; ox < g->out_w; ox += Q2R) {
            const int R = g->out_w - ox < Q2R ? g->out_w - ox : Q2R;
            const int16_t *rws[Q2R];
            for (int r = 0; r < Q2R; r++)
                rws[r] = wide + (size_t)(ox + (r < R ? r : 0)) * sx;
            tiles(p, 0, p->panels, R, rws, orow + (size_t)ox * p->N, (size_t)p->N);
        }
    }
}

TAVX2 INL void qgemm2_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                           void *scratch, int threads, qgemm2_tiles_fn *tiles)
{
    const struct xpack *h = l->packed;
    if (h->kind == PK_C) {
        struct mnet_qconv tmp = *l;
        tmp.packed = h->c_packed;
        mnet_kernels_c.qconv_run(&tmp, n, in, out, scratch, threads);
        return;
    }
    const struct qgemm2 *p = l->packed;
    if (p->direct) {
        qgemm2_direct(l, n, in, out, scratch, threads, tiles);
        return;
    }
    const struct mnet_conv_geom *g = &l->g;
    const size_t M = (size_t)n * g->out_h * g->out_w;
    const struct split sp = task_split(M, Q2R, p->panels, threads);
    const long tasks = sp.chunks * sp.groups;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long t = 0; t < tasks; t++) {
        int p0, p1;
        size_t m0, m1;
        split_task(&sp, t, p->panels, &p0, &p1, &m0, &m1);
        uint8_t *gathered = (uint8_t *)scratch + (size_t)thread_id() * p->tscratch;
        int16_t *wide = (int16_t *)(gathered + mnet_round_up((size_t)Q2R * p->K, 64));
        for (size_t m = m0; m < m1; m += Q2R) {
            const int R = m1 - m < Q2R ? (int)(m1 - m) : Q2R;
            const int16_t *rows[Q2R];
            for (int r = 0; r < Q2R; r++) {
                int16_t *d = wide + (size_t)r * p->ldk;
                rows[r] = r < R ? d : wide;
                if (r >= R)
                    continue;
                const uint8_t *x = in + (m + r) * (size_t)p->K;
                if (!p->pw) {
                    x = gathered + (size_t)r * p->K;
                    mnet_gather_patch_u8(g, in, m + r, (uint8_t)l->in_zp, gathered + (size_t)r * p->K);
                }
                for (int k = (int)widen16(x, d, (size_t)p->K); k < 2 * p->K2; k++)
                    d[k] = k < p->K ? x[k] : 0;
            }
            tiles(p, p0, p1, R, rows, out + m * p->N, (size_t)p->N);
        }
    }
}

TAVX2 static void x2_qconv_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                               void *scratch, int threads)
{
    qgemm2_run(l, n, in, out, scratch, threads, qgemm2_tiles);
}

TAVX2 static void xv_qconv_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                               void *scratch, int threads)
{
    qgemm2_run(l, n, in, out, scratch, threads, qgemm2_tiles_vnni);
}

T512 static void x512_qconv2_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                                 void *scratch, int threads)
{
    qgemm2_run(l, n, in, out, scratch, threads, qgemm2_tiles_512);
}

/* ======================= int8 depthwise (AVX2) ======================= */

/* The AVX-512BW kernel's pack (struct qdw, x512_qdw_prepare) read 16
 * channels a step: the first or second half of each of its 32-channel
 * vectors is exactly what the 256-bit unpacks give (channels 0-3, 8-11 /
 * 4-7, 12-15 of 16).  Layers with gen lanes stay portable. */
static int x2_qdw_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    int rc = x512_qdw_prepare(l, max_batch, threads);
    const struct qdw *p = l->packed;
    if (rc || p->h.kind != PK_QDW || !p->rq.gen)
        return rc;
    x_free_pack(l->packed);
    return q_fallback(l, max_batch, threads, 1);
}

TAVX2 static void x2_qdw_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                             void *scratch, int threads)
{
    const struct xpack *h = l->packed;
    if (h->kind == PK_C) {
        struct mnet_qconv tmp = *l;
        tmp.packed = h->c_packed;
        mnet_kernels_c.qdw_run(&tmp, n, in, out, scratch, threads);
        return;
    }
    const struct qdw *p = l->packed;
    const struct mnet_conv_geom *g = &l->g;
    const long rows = (long)n * g->out_h;
    const int C = p->C;
    /* rq_plain's layers start from the bias itself: rq_apply wants + 2^31 */
    const __m256i top = _mm256_set1_epi32(p->rq.fl ? INT32_MIN : 0);
    (void)scratch;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long row = 0; row < rows; row++) {
        int b = (int)(row / g->out_h), oy = (int)(row % g->out_h);
        const uint8_t *tap[64 + 1];
        const uint8_t *rows_in[64];
        dw_rows(g, in, 1, b, oy, rows_in);
        const __m256i zp = _mm256_set1_epi32(p->out_zp);
        const __m128i lo = _mm_set1_epi8((char)p->out_min), hi = _mm_set1_epi8((char)p->out_max);
        for (int ox = 0; ox < g->out_w; ox++) {
            dw_taps(g, rows_in, 1, ox, p->zrow, tap);
            tap[p->taps] = p->zrow; /* partner of an odd last tap (weight 0) */
            uint8_t *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * C;
            for (int c0 = 0; c0 < C; c0 += 16) {
                const int blk = c0 / DWB, s = c0 / 16 % 2, left = C - c0;
                const int32_t *blo = rq_bias(&p->rq, (size_t)blk * 2) + 8 * s;
                const int32_t *bhi = rq_bias(&p->rq, (size_t)blk * 2 + 1) + 8 * s;
                __m256i a_lo = _mm256_load_si256((const __m256i *)blo);
                __m256i a_hi = _mm256_load_si256((const __m256i *)bhi);
                const int16_t *wb = p->w + (size_t)blk * p->pairs * 64 + 16 * s;
                for (int pr = 0; pr < p->pairs; pr++) {
                    __m128i b0, b1;
                    if (left >= 16) {
                        b0 = _mm_loadu_si128((const __m128i *)(tap[2 * pr] + c0));
                        b1 = _mm_loadu_si128((const __m128i *)(tap[2 * pr + 1] + c0));
                    } else { /* the last channels: no read past the pixel */
                        uint8_t t0[16] = { 0 }, t1[16] = { 0 };
                        memcpy(t0, tap[2 * pr] + c0, (size_t)left);
                        memcpy(t1, tap[2 * pr + 1] + c0, (size_t)left);
                        b0 = _mm_loadu_si128((const __m128i *)t0);
                        b1 = _mm_loadu_si128((const __m128i *)t1);
                    }
                    const __m256i x0 = _mm256_cvtepu8_epi16(b0), x1 = _mm256_cvtepu8_epi16(b1);
                    const int16_t *w = wb + pr * 64; /* lo: + 0, hi: + 32 */
                    const __m256i w_lo = _mm256_load_si256((const __m256i *)w);
                    const __m256i w_hi = _mm256_load_si256((const __m256i *)(w + 32));
                    a_lo = _mm256_add_epi32(a_lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), w_lo));
                    a_hi = _mm256_add_epi32(a_hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), w_hi));
                }
                const __m256i y0 = rq_apply8(_mm256_xor_si256(a_lo, top), &p->rq, (size_t)blk * 2, s);
                const __m256i y1 = rq_apply8(_mm256_xor_si256(a_hi, top), &p->rq, (size_t)blk * 2 + 1, s);
                /* the packs undo the in-lane interleave: channels 0-7 | 8-15 */
                const __m256i y16 = _mm256_packs_epi32(_mm256_add_epi32(y0, zp), _mm256_add_epi32(y1, zp));
                __m128i y = _mm_packus_epi16(_mm256_castsi256_si128(y16), _mm256_extracti128_si256(y16, 1));
                y = _mm_min_epu8(_mm_max_epu8(y, lo), hi);
                store_u8x16(o + c0, y, left);
            }
        }
    }
}

/* ======================= quantized ADD (AVX2) ======================= */

/* TFLite's ADD (see the AVX-512 one): each side's rescale depends on its
 * byte alone, so each call makes two 256-entry tables of it (512 scalar
 * rescales), then per 8 elements two gathers, their sum and the output
 * rescale as rq_apply.  Outside rq_apply's exact range: portable. */
TAVX2 static void x2_qadd_run(const struct mnet_qbinary *p, size_t count, const uint8_t *a,
                              const uint8_t *b, uint8_t *out, int threads)
{
    int32_t ta[256], tb[256], rqbuf[RQ_BYTES(1) / 4] __attribute__((aligned(64))) = { 0 };
    int64_t ma = 0, mb = 0;
    for (int v = 0; v < 256; v++) {
        ta[v] = mnet_mbqm((v - p->a_zp) * (1 << p->left_shift), p->a_mult, p->a_shift);
        tb[v] = mnet_mbqm((v - p->b_zp) * (1 << p->left_shift), p->b_mult, p->b_shift);
        ma = llabs((long long)ta[v]) > ma ? llabs((long long)ta[v]) : ma;
        mb = llabs((long long)tb[v]) > mb ? llabs((long long)tb[v]) : mb;
    }
    struct rq r;
    rq_uniform(&r, rqbuf, 0, p->out_mult, p->out_shift);
    if (p->out_mult < 0 || r.gen || !rq_fits(ma + mb, p->out_mult, p->out_shift, 0)) {
        mnet_kernels_c.qadd_run(p, count, a, b, out, threads);
        return;
    }
    const __m256i bias = _mm256_load_si256((const __m256i *)rq_bias(&r, 0)); /* 2^31 */
    const __m256i zp = _mm256_set1_epi32(p->out_zp);
    const __m128i lo = _mm_set1_epi8((char)p->out_min), hi = _mm_set1_epi8((char)p->out_max);
    const size_t step = 4096;
    const long spans = (long)((count + step - 1) / step);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count > 2 * step)
    for (long s = 0; s < spans; s++) {
        const size_t end = (size_t)s * step + step < count ? (size_t)s * step + step : count;
        for (size_t i = (size_t)s * step; i < end; i += 8) {
            const size_t n = end - i < 8 ? end - i : 8;
            uint8_t xa[8] = { 0 }, xb[8] = { 0 }, y8[16];
            const uint8_t *pa = a + i, *pb = b + i;
            if (n < 8) { /* the tail: no read past the tensors */
                memcpy(xa, pa, n);
                memcpy(xb, pb, n);
                pa = xa;
                pb = xb;
            }
            const __m256i ia = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)pa));
            const __m256i ib = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)pb));
            const __m256i u = _mm256_add_epi32(_mm256_add_epi32(_mm256_i32gather_epi32(ta, ia, 4),
                                                                _mm256_i32gather_epi32(tb, ib, 4)),
                                               bias);
            const __m256i y = _mm256_add_epi32(rq_apply8(u, &r, 0, 0), zp);
            const __m128i y16 = _mm_packs_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
            const __m128i v = _mm_min_epu8(_mm_max_epu8(_mm_packus_epi16(y16, y16), lo), hi);
            if (n == 8) {
                _mm_storel_epi64((__m128i *)(out + i), v);
            } else {
                _mm_storeu_si128((__m128i *)y8, v);
                memcpy(out + i, y8, n);
            }
        }
    }
}

/* ======================= int8 1x1 GEMM (AMX) ======================= */

/* Sapphire Rapids and later.  TDPBUSD is vpdpbusd's u8 x s8 arithmetic on tiles: a 16 x 64 byte tile of
 * activation rows against a 16 x 64 byte tile of weights (16 columns, 4 k a
 * row) adds 16 x 16 x 64 products into a 16 x 16 int32 tile.  K is padded
 * to 64 with zero weights, so a row may read up to 63 bytes past its K (the
 * next pixel's, or a padded copy at the end of the input).  A task is 32
 * rows x 32 columns: 4 accumulator tiles, 2 row tiles, 2 weight tiles.
 *
 * A uint8 file's weight zero point is folded as in the VNNI GEMM: the
 * weights are w - w_zp clamped to int8, and the excess of the few outlier
 * taps (1-2 a layer in the real files) goes in extra weight tiles, each an
 * extra step of the pair's k loop right after its 64-k chunk (the row tiles
 * still loaded); a pair's steps are its chunks and those extras.  Where the
 * outliers would take more than AMX_MAX_FIX steps, the weights stay raw and
 * the epilogue subtracts w_zp * sum(x) per row (row_corr): those sums cost
 * the file's projections 20-30% (56x56x96->24: 0.0385 ms with them, 0.0297
 * without). */
#define AMX_ROWS 32
#define AMX_MIN_PIXELS 32 /* smaller maps (the classifier: 0.054 -> 0.071 ms) keep the VNNI GEMM */
#define AMX_MIN_K 32      /* so do narrower rows: K 16-24 (tiles 3/4 padding) tie or lose (112x112x16->96
                           * 0.185 -> 0.199 ms), K 32 wins (112x112x32->64 0.156 -> 0.120) */
#define AMX_MAX_FIX 4
#define AMX_KC 0xFFFF /* a step: its chunk, and which of the pair's blocks run it */
#define AMX_BLK0 (1 << 16)
#define AMX_BLK1 (1 << 17)

struct qamx {
    struct xpack h;
    int K, KC, N, NB;       /* KC: 64-byte chunks of K; NB: 16-column blocks, even */
    int8_t *w;              /* pair q: blocks 2q, 2q + 1 each [its steps][16 rows of 4 k][16 columns x 4 k] */
    int32_t *step0;         /* [NB / 2 + 1]: pair q's steps are [step0[q], step0[q + 1]) */
    int32_t *step_kc;       /* each step's 64-k chunk | AMX_BLK0 / AMX_BLK1 where that block has weights */
    struct rq rq;           /* [NB]: after the weights */
    int32_t w_zp, out_zp, out_min, out_max; /* w_zp 0 once folded */
    size_t tscratch;        /* per thread: the 32 x 32 sums, a padded copy of 32 rows */
};

/* The tile shapes (ldtilecfg's 64-byte operand). */
struct amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* Which blocks of pair q have an outlier tap (w - w_zp outside int8) in
 * chunk kc: AMX_BLK0 | AMX_BLK1, or 0. */
static int amx_outliers(const struct mnet_qconv *l, int q, int kc)
{
    const int K = l->g.in_c, N = l->g.out_c;
    int blocks = 0;
    for (int oc = 32 * q; oc < 32 * q + 32 && oc < N; oc++)
        for (int k = 64 * kc; k < 64 * kc + 64 && k < K; k++) {
            const int d = l->w[(size_t)oc * K + k] - l->w_zp;
            if (d != clamp_s8(d))
                blocks |= oc % 32 < 16 ? AMX_BLK0 : AMX_BLK1;
        }
    return blocks;
}

static int amx_qconv_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    const int K = g->in_c;
    /* K <= 4096: the padded copy of a task's rows stays 128 KiB */
    if (!mnet_conv_is_pointwise(g) || g->out_h * g->out_w < AMX_MIN_PIXELS || K < AMX_MIN_K || K > 4096 ||
        !rq_ok(l, 0))
        return vnni_qconv_prepare(l, max_batch, threads);
    struct qamx *p = x_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->h.kind = PK_QAMX;
    p->K = K;
    p->KC = (K + 63) / 64;
    p->N = g->out_c;
    p->NB = (g->out_c + 31) / 32 * 2;
    const int pairs = p->NB / 2;
    /* Fold w_zp when its outliers take few extra steps, each excess in int8
     * (w - w_zp = 255, from w_zp -128, would take two) */
    int fold = l->w_zp != 0, extra = 0;
    for (size_t i = 0; fold && i < (size_t)p->N * K; i++)
        fold = l->w[i] - l->w_zp != 255;
    for (int q = 0; fold && q < pairs; q++)
        for (int kc = 0; kc < p->KC; kc++)
            extra += amx_outliers(l, q, kc) != 0;
    fold = fold && extra <= AMX_MAX_FIX;
    const int steps = pairs * p->KC + (fold ? extra : 0);
    p->step0 = malloc(((size_t)pairs + 1 + (size_t)steps) * sizeof *p->step0);
    const size_t nw = (size_t)steps * 2 * 1024;
    p->w = x_alloc(nw + RQ_BYTES((size_t)p->NB));
    if (!p->w || !p->step0) {
        free(p->w);
        free(p->step0);
        free(p);
        return -ENOMEM;
    }
    p->step_kc = p->step0 + pairs + 1;
    p->step0[0] = 0;
    for (int q = 0; q < pairs; q++) {
        int s = p->step0[q];
        for (int kc = 0; kc < p->KC; kc++) {
            const int fix = fold ? amx_outliers(l, q, kc) : 0;
            p->step_kc[s++] = kc | AMX_BLK0 | (32 * q + 16 < p->N ? AMX_BLK1 : 0); /* no empty blocks */
            if (fix)
                p->step_kc[s++] = kc | fix;
        }
        p->step0[q + 1] = s;
    }
    memset(p->w, 0, nw);
    rq_place(&p->rq, p->w + nw, (size_t)p->NB);
    for (int oc = 0; oc < p->N; oc++) {
        const int q = oc / 32, S = p->step0[q + 1] - p->step0[q];
        int8_t *blk = p->w + ((size_t)2 * p->step0[q] + (size_t)(oc / 16 % 2) * S) * 1024;
        for (int s = 0; s < S; s++) {
            const int kc = p->step_kc[p->step0[q] + s] & AMX_KC,
                      fix = s > 0 && (p->step_kc[p->step0[q] + s - 1] & AMX_KC) == kc;
            for (int k = 64 * kc; k < 64 * kc + 64 && k < K; k++) {
                const int w = l->w[(size_t)oc * K + k], d = w - l->w_zp;
                blk[(size_t)s * 1024 + k % 64 / 4 * 64 + oc % 16 * 4 + k % 4] =
                    (int8_t)(!fold ? w : fix ? d - clamp_s8(d) : clamp_s8(d));
            }
        }
        rq_set(&p->rq, (size_t)(oc / 16), oc % 16, l->bias_folded[oc], l->mult[oc], l->shift[oc]);
    }
    rq_plain(&p->rq, (size_t)p->NB, l->out_zp == 0 && l->out_min == 0); /* the clamp does out_max */
    p->w_zp = fold ? 0 : l->w_zp;
    p->out_zp = l->out_zp;
    p->out_min = l->out_min;
    p->out_max = l->out_max;
    p->tscratch = AMX_ROWS * 32 * sizeof(int32_t) + (size_t)AMX_ROWS * p->KC * 64;
    l->packed = p;
    l->scratch_bytes = (size_t)(threads > 0 ? threads : 1) * p->tscratch;
    (void)max_batch;
    return 0;
}

/* 32 rows of x (stride ld) x the 32 columns of pair q: the sums, from the
 * biases on (rq_bias: a row loaded 16 times, stride 0), to c (32 x 32). */
TAMX INL void amx_task(const struct qamx *p, const uint8_t *a, size_t ld, int q, int32_t *c)
{
    const int s0 = p->step0[q], S = p->step0[q + 1] - s0;
    const int8_t *w0 = p->w + (size_t)2 * s0 * 1024, *w1 = w0 + (size_t)S * 1024;
    _tile_loadd(0, rq_bias(&p->rq, (size_t)2 * q), 0);
    _tile_loadd(1, rq_bias(&p->rq, (size_t)2 * q + 1), 0);
    _tile_loadd(2, rq_bias(&p->rq, (size_t)2 * q), 0);
    _tile_loadd(3, rq_bias(&p->rq, (size_t)2 * q + 1), 0);
    for (int s = 0; s < S; s++) {
        const int step = p->step_kc[s0 + s], kc = step & AMX_KC;
        if (s == 0 || kc != (p->step_kc[s0 + s - 1] & AMX_KC)) { /* an outlier step reuses its chunk's rows */
            _tile_loadd(4, a + (size_t)kc * 64, ld);
            _tile_loadd(5, a + 16 * ld + (size_t)kc * 64, ld);
        }
        if (step & AMX_BLK0) {
            _tile_loadd(6, w0 + (size_t)s * 1024, 64);
            _tile_dpbusd(0, 4, 6);
            _tile_dpbusd(2, 5, 6);
        }
        if (step & AMX_BLK1) {
            _tile_loadd(7, w1 + (size_t)s * 1024, 64);
            _tile_dpbusd(1, 4, 7);
            _tile_dpbusd(3, 5, 7);
        }
    }
    _tile_stored(0, c, 128);
    _tile_stored(1, c + 16, 128);
    _tile_stored(2, c + 16 * 32, 128);
    _tile_stored(3, c + 16 * 32 + 16, 128);
}

/* Rows [0, R) of c (32 x 32 sums of blocks nb, nb + 1), less zsum[r]
 * (w_zp * sum(x), row_corr; only when w_zp), requantized and clamped to out
 * (N bytes a row).  Four vectors at a time (two rows of both blocks, or
 * four rows of block nb when it is the last: one) are packed to 64 bytes as in
 * the VNNI GEMM, put back in order with one permute and stored a row at a
 * time.  Plain layers (rq_plain) take rq_float with the constants in
 * registers (the stores, bytes, would otherwise make the compiler reload
 * them) and one exactness test per four vectors; others rq_vecs. */
TAMX INL void amx_store(const struct qamx *p, const int32_t *c, const int32_t *zsum, int R, int nb, int one,
                        uint8_t *out)
{
    const int N = p->N, c0 = nb * 16, rows = one ? 4 : 2;
    const __mmask32 m = lanes32(N - c0);
    /* packs leave 128-bit lane L as dwords L of the four vectors */
    const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    const __m512i hi8 = _mm512_set1_epi8((char)p->out_max);
    const float *q0 = (const float *)(p->rq.q + (size_t)nb * RQ_V), *q1 = one ? q0 : q0 + RQ_V;
    const __m512 mf0 = _mm512_load_ps(q0 + RQ_MF * 16), cf0 = _mm512_load_ps(q0 + RQ_CF * 16);
    const __m512 mf1 = _mm512_load_ps(q1 + RQ_MF * 16), cf1 = _mm512_load_ps(q1 + RQ_CF * 16);
    for (int r = 0; r < R; r += rows) {
        /* vector i: row at[i], block nb + i % 2 (one: nb); rows past R repeat the last, unstored */
        int at[4];
        for (int i = 0; i < 4; i++) {
            at[i] = r + (one ? i : i / 2);
            at[i] = at[i] < R ? at[i] : R - 1;
        }
        __m512i a[4], v[4], bytes;
        for (int i = 0; i < 4; i++) {
            a[i] = _mm512_loadu_si512(c + at[i] * 32 + (one ? 0 : i % 2 * 16));
            if (p->w_zp)
                a[i] = _mm512_sub_epi32(a[i], _mm512_set1_epi32(zsum[at[i]]));
        }
        if (p->rq.fl) {
            __mmask16 ok = 0xFFFF;
            for (int i = 0; i < 4; i++)
                v[i] = rq_float_mc(a[i], i % 2 ? mf1 : mf0, i % 2 ? cf1 : cf0, &ok);
            if (__builtin_expect(ok != 0xFFFF, 0))
                rq_float_exact(&p->rq, 4, one ? 1 : 2, (size_t)nb, a, v);
            /* out_zp and out_min 0: the unsigned saturation clamps below, out_max (ReLU6: 255) above */
            bytes = _mm512_packus_epi16(_mm512_packs_epi32(v[0], v[1]), _mm512_packs_epi32(v[2], v[3]));
            if (p->out_max < 255)
                bytes = _mm512_min_epu8(bytes, hi8);
        } else {
            rq_vecs(&p->rq, 0, 4, one ? 1 : 2, (size_t)nb, a, v);
            bytes = pack_zp_clamp(v[0], v[1], v[2], v[3], p->out_zp, p->out_min, p->out_max);
        }
        store_rows(_mm512_permutexvar_epi32(order, bytes), rows, out + (size_t)r * N + c0, (size_t)N, m, R - r);
    }
}

TAMX static void amx_qconv_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                               void *scratch, int threads)
{
    const struct xpack *h = l->packed;
    if (h->kind != PK_QAMX) {
        vnni_qconv_run(l, n, in, out, scratch, threads);
        return;
    }
    const struct qamx *p = l->packed;
    const size_t K = (size_t)p->K, M = (size_t)n * l->g.out_h * l->g.out_w, pad = (size_t)p->KC * 64;
    const long tasks = (long)((M + AMX_ROWS - 1) / AMX_ROWS);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        struct amx_cfg cfg = { .palette = 1 };
        for (int t = 0; t < 8; t++) {
            cfg.colsb[t] = 64;
            cfg.rows[t] = 16;
        }
        _tile_loadconfig(&cfg);
        uint8_t *ts = (uint8_t *)scratch + (size_t)thread_id() * p->tscratch;
        int32_t *c = (int32_t *)ts;
        uint8_t *copy = ts + AMX_ROWS * 32 * sizeof(int32_t);
#pragma omp for schedule(static)
        for (long task = 0; task < tasks; task++) {
            const size_t p0 = (size_t)task * AMX_ROWS;
            const int R = M - p0 < AMX_ROWS ? (int)(M - p0) : AMX_ROWS;
            const uint8_t *a = in + p0 * K;
            size_t ld = K;
            /* past K a row reads its successor: the last rows read a copy */
            if ((p0 + AMX_ROWS - 1) * K + pad > M * K) {
                memset(copy, 0, (size_t)AMX_ROWS * pad);
                for (int r = 0; r < R; r++)
                    memcpy(copy + (size_t)r * pad, a + (size_t)r * K, K);
                a = copy;
                ld = pad;
            }
            int32_t zsum[AMX_ROWS]; /* w_zp * sum(x) of each row; read only when w_zp */
            if (p->w_zp)
                row_corr(a, ld, p->K, (size_t)R, p->w_zp, zsum);
            for (int nb = 0; nb < p->NB; nb += 2) {
                amx_task(p, a, ld, nb / 2, c);
                if (p->N - nb * 16 <= 16) /* one block: a constant for amx_store */
                    amx_store(p, c, zsum, R, nb, 1, out + p0 * p->N);
                else
                    amx_store(p, c, zsum, R, nb, 0, out + p0 * p->N);
            }
        }
        _tile_release();
    }
}

/* ======================= tables ======================= */

/* mnet_kernel_ops.packed_weights: the int8 GEMM panels (VNNI or AMX), in the order a
 * run reads them (the requantization constants after them left out).  The
 * float GEMMs do not prefetch the next layer: FMA-bound with four weight
 * lines per k step of their own, the 7x7 ones measured slower with it. */
static size_t x_packed_weights(const void *packed, const void **at)
{
    const struct xpack *h = packed;
    if (h && h->kind == PK_QGEMM) {
        const struct qgemm *p = packed;
        *at = p->w;
        return (size_t)p->panels * p->K4 * PANEL * 4;
    }
    if (h && h->kind == PK_QAMX) {
        const struct qamx *p = packed;
        *at = p->w;
        return (size_t)p->step0[p->NB / 2] * 2 * 1024;
    }
    return 0;
}

static void x_free_pack(void *packed)
{
    struct xpack *h = packed;
    if (!h)
        return;
    switch (h->kind) {
    case PK_QGEMM: {
        struct qgemm *p = packed;
        free(p->w);
        free(p->fixw);
        break;
    }
    case PK_FGEMM: x_free_shared(((struct fgemm *)packed)->block); break;
    case PK_QDW: free(((struct qdw *)packed)->block); break;
    case PK_FDW: x_free_shared(((struct fdw *)packed)->block); break;
    case PK_QDW4: free(((struct qdw4 *)packed)->block); break;
    case PK_QDW3: free(((struct qdw3 *)packed)->block); break;
    case PK_QGEMM2: free(((struct qgemm2 *)packed)->w); break;
    case PK_QAMX: {
        struct qamx *p = packed;
        free(p->w);
        free(p->step0);
        break;
    }
    case PK_C: mnet_kernels_c.release(h->c_packed); break;
    }
    free(h);
}

static int x512_fconv_prepare(struct mnet_fconv *l, int max_batch, int threads)
{
    return f_gemm_prepare(l, max_batch, threads);
}

/* avx512vnni with the int8 1x1 GEMM on AMX tiles. */
const struct mnet_kernel_ops mnet_kernels_amx = {
    .name = "amx",
    .qconv_prepare = amx_qconv_prepare,
    .qconv_run = amx_qconv_run,
    .qdw_prepare = vnni_qdw_prepare,
    .qdw_run = vnni_qdw_run,
    .fconv_prepare = x512_fconv_prepare,
    .fconv_run = x512_fconv_run,
    .fdw_prepare = x512_fdw_prepare,
    .fdw_run = x512_fdw_run,
    .qadd_run = vnni_qadd_run,
    .qmul_run = x512_qmul_run,
    .lut_run = vnni_lut_run,
    .release = x_free_pack,
    .fblock_prepare = x512_fblock_prepare,
    .fblock_run = x512_fblock_run,
    .packed_weights = x_packed_weights,
};

const struct mnet_kernel_ops mnet_kernels_avx512vnni = {
    .name = "avx512vnni",
    .qconv_prepare = vnni_qconv_prepare,
    .qconv_run = vnni_qconv_run,
    .qdw_prepare = vnni_qdw_prepare,
    .qdw_run = vnni_qdw_run,
    .fconv_prepare = x512_fconv_prepare,
    .fconv_run = x512_fconv_run,
    .fdw_prepare = x512_fdw_prepare,
    .fdw_run = x512_fdw_run,
    .qadd_run = vnni_qadd_run,
    .qmul_run = x512_qmul_run,
    .lut_run = vnni_lut_run,
    .release = x_free_pack,
    .fblock_prepare = x512_fblock_prepare,
    .fblock_run = x512_fblock_run,
    .packed_weights = x_packed_weights,
};

/* AVX-512 without VNNI: the int8 GEMM on vpmaddwd in 16 lanes (qgemm2_tile512). */
const struct mnet_kernel_ops mnet_kernels_avx512 = {
    .name = "avx512",
    .qconv_prepare = x2_qconv_prepare,
    .qconv_run = x512_qconv2_run,
    .qdw_prepare = x512_qdw_prepare,
    .qdw_run = x512_qdw_run,
    .fconv_prepare = x512_fconv_prepare,
    .fconv_run = x512_fconv_run,
    .fdw_prepare = x512_fdw_prepare,
    .fdw_run = x512_fdw_run,
    .qadd_run = x512_qadd_run,
    .qmul_run = x512_qmul_run,
    .release = x_free_pack,
    .fblock_prepare = x512_fblock_prepare,
    .fblock_run = x512_fblock_run,
};

/* AVX2 + FMA: no AVX-512 (most x86 edge boxes). */
const struct mnet_kernel_ops mnet_kernels_avx2 = {
    .name = "avx2",
    .qconv_prepare = x2_qconv_prepare,
    .qconv_run = x2_qconv_run,
    .qdw_prepare = x2_qdw_prepare,
    .qdw_run = x2_qdw_run,
    .fconv_prepare = x512_fconv_prepare,
    .fconv_run = x2_fconv_run,
    .fdw_prepare = x512_fdw_prepare,
    .fdw_run = x2_fdw_run,
    .qadd_run = x2_qadd_run,
    .release = x_free_pack,
};

/* AVX2 + AVX-VNNI (Alder Lake and later without AVX-512): avx2's, the int8 GEMM with vpdpwssd. */
const struct mnet_kernel_ops mnet_kernels_avxvnni = {
    .name = "avxvnni",
    .qconv_prepare = x2_qconv_prepare,
    .qconv_run = xv_qconv_run,
    .qdw_prepare = x2_qdw_prepare,
    .qdw_run = x2_qdw_run,
    .fconv_prepare = x512_fconv_prepare,
    .fconv_run = x2_fconv_run,
    .fdw_prepare = x512_fdw_prepare,
    .fdw_run = x2_fdw_run,
    .qadd_run = x2_qadd_run,
    .release = x_free_pack,
};
