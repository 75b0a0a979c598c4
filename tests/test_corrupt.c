/* test_corrupt.c: corrupted model files give an error or a consistent graph,
 * never a crash or an out-of-bounds read.
 *
 * For every real model (../shared/models and the MLTS test vector model):
 *   - truncations at every length 0..4096 and a sweep of lengths across the file;
 *   - seeded random bit flips, byte overwrites and 32-bit word overwrites
 *     (offset-like values), three quarters of them aimed at the flatbuffer
 *     structure rather than the weight bytes, where a flip is harmless;
 *   - random garbage buffers, with and without a valid-looking header.
 * Every buffer handed to the reader is a fresh allocation of exactly its
 * length, so under AddressSanitizer any read past the end is caught.  A
 * success must produce a graph that keeps the reader's promises (every index,
 * pointer and size checked here again).
 *
 * At scale 1: 20000 mutations per model and 10000 garbage buffers (about
 * 250k buffers, ~10 s in a release build).  MNET_TEST_SCALE scales the
 * mutation, sweep and garbage counts (default 1, 0.25 in sanitizer builds);
 * MNET_TEST_SEED changes the seed (default fixed, so failures reproduce).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph.h"
#include "mnet.h"
#include "check.h"

/* Sanitizer builds run a quarter of the mutations by default (time limit). */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif


static const char *const model_files[] = {
    "models/mobilenet_v1_0.25_128.tflite",
    "models/mobilenet_v1_0.25_128_quant.tflite",
    "models/mobilenet_v1_0.5_160_quant.tflite",
    "models/mobilenet_v1_0.75_192_quant.tflite",
    "models/mobilenet_v2_1.0_224_inat_bird_quant.tflite",
    "models/mobilenet_v2_1.0_224_quant.tflite",
    "models/mobilenet_v3-large-minimalistic_224_1.0_uint8.tflite",
    "models/mobilenet_v3-small_224_1.0_uint8.tflite",
    "models/tf2_mobilenet_v2_1.0_224_ptq.tflite",
    "testdata/vectors/mobilenet_v2_1.0_224_quant_mlts.tflite",
};

/* splitmix64: small, seedable, good enough to spread mutations */
static uint64_t rng_state;
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static size_t rng_below(size_t n) { return n ? (size_t)(rng() % n) : 0; }

/* ---- outcome bookkeeping ---- */

static long n_parsed, n_ok, n_badmsg, n_notsup, n_other;
static long n_loaded, n_load_ok;

/* The reader's promises, rechecked on every graph it accepts. */
static void check_graph(const struct mnet_graph *g, const uint8_t *buf, size_t len, const char *what)
{
    int bad = 0;
    bad |= g->n_tensors < 1 || g->n_ops < 1 || !g->tensors || !g->ops;
    bad |= g->input < 0 || g->input >= g->n_tensors || g->output < 0 || g->output >= g->n_tensors;
    bad |= strnlen(g->arch, sizeof(g->arch)) == sizeof(g->arch) || g->arch[0] == '\0';
    for (int i = 0; !bad && i < g->n_tensors; i++) {
        const struct mnet_tensor *t = &g->tensors[i];
        bad |= t->rank < 0 || t->rank > MNET_MAX_RANK || !t->name;
        size_t n = 1;
        for (int d = 0; !bad && d < t->rank; d++) {
            bad |= t->shape[d] < 1;
            n *= (size_t)t->shape[d];
            bad |= n > (1u << 28);
        }
        if (bad)
            break;
        (void)strlen(t->name); /* the NUL must be inside the buffer (ASan checks) */
        if (t->data) {
            const uint8_t *p = t->data;
            bad |= p < buf || p > buf + len || t->nbytes > (size_t)(buf + len - p);
            bad |= t->nbytes != n * mnet_dtype_size(t->dtype);
        } else {
            bad |= t->nbytes != 0;
        }
        bad |= t->q.count < 0;
        if (t->q.count > 0) {
            bad |= !t->q.scale || !t->q.zero_point;
            bad |= t->q.count > 1 && (t->q.axis < 0 || t->q.axis >= t->rank ||
                                      t->shape[t->q.axis] != t->q.count);
            for (int k = 0; !bad && k < t->q.count; k++)
                bad |= !isfinite(t->q.scale[k]) || !(t->q.scale[k] > 0);
        }
    }
    for (int i = 0; !bad && i < g->n_ops; i++) {
        const struct mnet_op *op = &g->ops[i];
        bad |= (unsigned)op->kind >= MNET_OP_COUNT || op->n_inputs < 1 ||
               op->n_inputs > MNET_OP_MAX_INPUTS || op->output < 0 || op->output >= g->n_tensors;
        for (int k = 0; !bad && k < op->n_inputs; k++)
            bad |= op->inputs[k] >= g->n_tensors || (op->inputs[k] < 0 && !(op->inputs[k] == -1 && k == 2));
    }
    CHECK(!bad, "%s: accepted graph breaks an invariant", what);
}

static int load_budget; /* remaining mnet_load_buffer attempts for this model */

/* Hand src[0..len) to the reader and the loader.  src must be a heap block
 * of exactly len bytes (exact == 1), or it is first copied into one. */
static void try_buffer(const uint8_t *src, size_t len, int exact, const char *what)
{
    uint8_t *copy = (uint8_t *)src;
    if (!exact) {
        copy = malloc(len ? len : 1);
        if (!copy) {
            CHECK(0, "out of memory");
            return;
        }
        if (len)
            memcpy(copy, src, len);
    }

    struct mnet_graph g = {0};
    char err[256];
    err[0] = '\0';
    int r = mnet_tflite_parse(copy, len, &g, err, sizeof(err));
    n_parsed++;
    if (r == 0) {
        n_ok++;
        check_graph(&g, copy, len, what);
        mnet_graph_free(&g);
    } else {
        CHECK(g.owned == NULL && g.tensors == NULL, "%s: graph touched on failure", what);
        CHECK(err[0] != '\0' && strnlen(err, sizeof(err)) < sizeof(err), "%s: no message", what);
        if (r == -EBADMSG)
            n_badmsg++;
        else if (r == -ENOTSUP)
            n_notsup++;
        else
            n_other++;
        CHECK(r == -EBADMSG || r == -ENOTSUP || r == -EFBIG, "%s: unexpected error %d (%s)", what,
              r, err);
    }

    /* The whole load path (reader + planner) on the same bytes; a model that
     * loads must run.  Planning is slow next to parsing, so only a budget of
     * the buffers the reader accepted go through it, plus every 64th (512th
     * with sanitizers) rejected one, which the loader must reject too. */
    if ((r == 0 && load_budget > 0) || (r != 0 && n_parsed % (SANITIZED ? 512 : 64) == 0)) {
        if (r == 0)
            load_budget--;
        struct mnet_options opt = {.threads = 1, .max_batch = 1};
        mnet_model *m = NULL;
        n_loaded++;
        int lr = mnet_load_buffer(copy, len, &opt, &m, err, sizeof(err));
        CHECK(lr <= 0 && (lr == 0) == (m != NULL), "%s: load returned %d", what, lr);
        if (lr == 0 && m) {
            n_load_ok++;
            const struct mnet_info *info = mnet_get_info(m);
            size_t in_bytes = (size_t)info->height * info->width * info->channels *
                              (info->input_type == MNET_F32 ? 4 : 1);
            size_t out_bytes = (size_t)info->classes * (info->output_type == MNET_F32 ? 4 : 1);
            void *in = calloc(1, in_bytes ? in_bytes : 1);
            void *out = calloc(1, out_bytes ? out_bytes : 1);
            if (in && out) {
                int rr = mnet_run(m, in, 1, out);
                CHECK(rr == 0, "%s: loaded model does not run: %d", what, rr);
            }
            free(in);
            free(out);
            mnet_free(m);
        }
        if (r != 0)
            CHECK(lr < 0, "%s: reader rejected (%d) but load succeeded", what, r);
    }
    if (!exact)
        free(copy);
}

/* Byte ranges of constant tensor data in a parsed real file: mutations aimed
 * at the structure avoid them. */
struct span {
    size_t lo, hi;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Positions of the file outside weight data, as a sorted list of gaps. */
static size_t structure_gaps(const uint8_t *buf, size_t len, struct span **gaps_out)
{
    struct mnet_graph g = {0};
    char err[256];
    *gaps_out = NULL;
    if (mnet_tflite_parse(buf, len, &g, err, sizeof(err)) != 0)
        return 0;
    struct span *w = calloc((size_t)g.n_tensors + 1, sizeof(*w));
    struct span *gaps = calloc((size_t)g.n_tensors + 2, sizeof(*gaps));
    size_t nw = 0, ng = 0;
    for (int i = 0; i < g.n_tensors; i++)
        if (g.tensors[i].data) {
            size_t lo = (size_t)((const uint8_t *)g.tensors[i].data - buf);
            w[nw++] = (struct span){lo, lo + g.tensors[i].nbytes};
        }
    qsort(w, nw, sizeof(*w), span_cmp);
    size_t at = 0;
    for (size_t i = 0; i < nw; i++) {
        if (w[i].lo > at)
            gaps[ng++] = (struct span){at, w[i].lo};
        if (w[i].hi > at)
            at = w[i].hi;
    }
    if (at < len)
        gaps[ng++] = (struct span){at, len};
    free(w);
    mnet_graph_free(&g);
    *gaps_out = gaps;
    return ng;
}

/* A random position: anywhere, or (3 times out of 4) outside the weights. */
static size_t pick_pos(size_t len, const struct span *gaps, size_t ng, size_t gap_bytes)
{
    if (ng == 0 || gap_bytes == 0 || rng_below(4) == 0)
        return rng_below(len);
    size_t k = rng_below(gap_bytes);
    for (size_t i = 0; i < ng; i++) {
        size_t n = gaps[i].hi - gaps[i].lo;
        if (k < n)
            return gaps[i].lo + k;
        k -= n;
    }
    return rng_below(len);
}

static void test_model(const char *rel, double scale)
{
    char path[4096], what[512];
    const char *shared = getenv("MNET_SHARED") ? getenv("MNET_SHARED") : "../shared";
    snprintf(path, sizeof(path), "%s/%s", shared, rel);
    size_t len = 0;
    uint8_t *orig = check_read_file(path, &len);
    CHECK(orig != NULL, "cannot read %s (missing test data fails the test)", path);
    if (!orig)
        return;
    const char *base = strrchr(rel, '/') + 1;
    long before_ok = n_ok, before = n_parsed;
    load_budget = (int)((SANITIZED ? 12 : 20) * scale) + 1; /* 4 with sanitizers, planning is slow there */

    /* the intact file parses */
    {
        struct mnet_graph g = {0};
        char err[256] = "";
        int r = mnet_tflite_parse(orig, len, &g, err, sizeof(err));
        CHECK(r == 0, "%s: intact file: %d %s", base, r, err);
        mnet_graph_free(&g);
    }

    /* truncations: every length up to 4096, then a sweep across the file */
    for (size_t cut = 0; cut <= 4096 && cut < len; cut++) {
        snprintf(what, sizeof(what), "%s cut %zu", base, cut);
        try_buffer(orig, cut, 0, what);
    }
    size_t sweep = (size_t)(300 * scale) + 2;
    for (size_t k = 0; len > 4097 + 64 && k < sweep; k++) {
        size_t cut = 4097 + (len - 4097) / sweep * k + rng_below(64);
        if (cut >= len)
            cut = len - 1;
        snprintf(what, sizeof(what), "%s cut %zu", base, cut);
        try_buffer(orig, cut, 0, what);
    }

    struct span *gaps;
    size_t ng = structure_gaps(orig, len, &gaps), gap_bytes = 0;
    for (size_t i = 0; i < ng; i++)
        gap_bytes += gaps[i].hi - gaps[i].lo;

    /* mutations: applied in place to a working copy, then undone */
    uint8_t *work = malloc(len);
    memcpy(work, orig, len);
    size_t mutations = (size_t)(20000 * scale) + 1;
    for (size_t k = 0; k < mutations; k++) {
        size_t pos[8];
        int kind = (int)rng_below(3), n = 1 + (int)rng_below(kind == 0 ? 8 : 3);
        for (int j = 0; j < n; j++) {
            pos[j] = pick_pos(len, gaps, ng, gap_bytes);
            if (kind == 0) { /* bit flip */
                work[pos[j]] ^= (uint8_t)(1u << rng_below(8));
            } else if (kind == 1) { /* byte overwrite, often with an edge value */
                static const uint8_t edge[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe};
                work[pos[j]] = rng_below(2) ? edge[rng_below(sizeof(edge))] : (uint8_t)rng();
            } else { /* aligned 32-bit word overwrite with an offset-like value */
                pos[j] &= ~(size_t)3;
                if (pos[j] + 4 > len)
                    pos[j] = len - 4;
                uint32_t vals[] = {0, 0xffffffffu, 0x7fffffffu, 0x80000000u, (uint32_t)len,
                                   (uint32_t)len - 4, (uint32_t)(len - pos[j]),
                                   (uint32_t)(len - pos[j] - 4), (uint32_t)rng(),
                                   (uint32_t)rng_below(256), (uint32_t)-(int32_t)rng_below(256)};
                uint32_t v = vals[rng_below(sizeof(vals) / sizeof(vals[0]))];
                for (int b = 0; b < 4; b++)
                    work[pos[j] + b] = (uint8_t)(v >> (8 * b));
            }
        }
        snprintf(what, sizeof(what), "%s mutation %zu (kind %d at %zu)", base, k, kind, pos[0]);
        try_buffer(work, len, 1, what); /* work is malloc(len) */
        for (int j = 0; j < n; j++)
            memcpy(work + pos[j], orig + pos[j], pos[j] + 4 <= len ? 4 : len - pos[j]);
    }
    CHECK(memcmp(work, orig, len) == 0, "%s: mutations not undone", base);
    free(work);
    free(gaps);
    free(orig);
    printf("%-55s %7ld buffers, %6ld accepted\n", base, n_parsed - before, n_ok - before_ok);
}

/* Random garbage, and garbage behind a valid-looking header. */
static void test_garbage(double scale)
{
    size_t count = (size_t)(10000 * scale) + 1;
    uint8_t *buf = malloc(8192);
    char what[64];
    for (size_t k = 0; k < count; k++) {
        size_t len = rng_below(8192);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng();
        if (len >= 8 && k % 2 == 0) {
            uint32_t root = (uint32_t)(rng_below(len) & ~(size_t)3);
            for (int b = 0; b < 4; b++)
                buf[b] = (uint8_t)(root >> (8 * b));
            memcpy(buf + 4, "TFL3", 4);
        }
        snprintf(what, sizeof(what), "garbage %zu", k);
        try_buffer(buf, len, 0, what);
    }
    free(buf);
}

int main(void)
{
    double scale = getenv("MNET_TEST_SCALE") ? atof(getenv("MNET_TEST_SCALE")) : SANITIZED ? 0.25 : 1.0;
    if (!(scale > 0))
        scale = 1.0;
    uint64_t seed = getenv("MNET_TEST_SEED") ? strtoull(getenv("MNET_TEST_SEED"), NULL, 0)
                                             : 0x6d6e6574u;
    rng_state = seed;
    clock_t t0 = clock();

    for (size_t i = 0; i < sizeof(model_files) / sizeof(model_files[0]); i++)
        test_model(model_files[i], scale);
    test_garbage(scale);

    printf("test_corrupt: seed %#llx scale %g: %ld buffers parsed: %ld accepted, %ld EBADMSG, "
           "%ld ENOTSUP, %ld other; %ld loads (%ld ok); %.1f s cpu\n",
           (unsigned long long)seed, scale, n_parsed, n_ok, n_badmsg, n_notsup, n_other, n_loaded,
           n_load_ok, (double)(clock() - t0) / CLOCKS_PER_SEC);
    return check_summary();
}
