/* test_tflite.c: the TFLite reader and SHA-256 against independent truth.
 *
 * Independent truth:
 *   - SHA-256: the FIPS 180-4 example vectors ("abc", "", the 448-bit
 *     message, a million 'a'), padding-boundary lengths from coreutils
 *     sha256sum, and the digests published in $MNET_SHARED/models/SOURCES.md
 *     (read at test time).
 *   - Models: the table below was produced by the independent numpy reader
 *     ../shared/tools/tflite_ref/tflite_dump.py (its load() plus option field
 *     reads by schema.fbs id): tensor and op counts, op kinds, constant
 *     tensors and their bytes, quantized and per-channel tensor counts, the
 *     graph input/output (index, dtype, shape, scale, zero point), and an FNV-1a
 *     hash over every operator (builtin code, inputs, output, padding, strides,
 *     dilations, depth multiplier, pool filter, fused activation).
 *   - Rejections: tiny flatbuffers written by hand here (a minimal front-to-back
 *     writer), and a real file with one opcode byte patched.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "sha256.h"
#include "check.h"


static const char *shared_dir(void)
{
    const char *s = getenv("MNET_SHARED");
    return s ? s : "../shared";
}

/* ---------------------------------------------------------------- SHA-256 */

static void test_sha256(void)
{
    static const struct {
        const char *msg;
        size_t repeat; /* msg is one char repeated this many times when > 0 */
        const char *hex;
    } v[] = {
        {"abc", 0, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
        /* lengths around the padding boundaries (55/56 bytes fit or spill a block) */
        {"a", 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {"a", 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {"a", 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {"a", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {"a", 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {"a", 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char hex[65];
        if (v[i].repeat) {
            char *m = malloc(v[i].repeat);
            memset(m, v[i].msg[0], v[i].repeat);
            mnet_sha256_hex(m, v[i].repeat, hex);
            free(m);
        } else {
            mnet_sha256_hex(v[i].msg, strlen(v[i].msg), hex);
        }
        CHECK(strcmp(hex, v[i].hex) == 0, "vector %zu: got %s want %s", i, hex, v[i].hex);
    }
}

/* Digest published for file name in SOURCES.md ("<64 hex>  <name>" lines). */
static int sources_sha256(const char *name, char out[65])
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/models/SOURCES.md", shared_dir());
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024], hex[65], file[512];
    int found = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%64[0-9a-f] %511s", hex, file) == 2 && strlen(hex) == 64 &&
            strcmp(file, name) == 0) {
            memcpy(out, hex, 65);
            found = 0;
        }
    fclose(f);
    return found;
}

/* ---------------------------------------------------------------- real models */

struct io_fact {
    int index;
    enum mnet_dtype dtype;
    int rank;
    int shape[4];
    float scale;
    int zero_point;
};

struct model_fact {
    const char *file; /* under $MNET_SHARED */
    const char *arch;
    int in_sources;   /* digest listed in models/SOURCES.md */
    int tensors, ops, consts;
    size_t weight_bytes;
    int quantized, per_channel;
    int op_count[MNET_OP_COUNT]; /* in enum mnet_op_kind order */
    struct io_fact in, out;
    int stride2, relu6, dw5x5;
    uint32_t op_hash;
};

/* Generated with tflite_dump.py (see the header comment); the op_count
 * order is CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL,
 * AVERAGE_POOL_2D, MEAN, RESHAPE, SQUEEZE, SOFTMAX, QUANTIZE, DEQUANTIZE,
 * HARD_SWISH, LOGISTIC, RELU, RELU6. */
static const struct model_fact facts[] = {
    {"models/mobilenet_v1_0.25_128.tflite", "mobilenet_v1", 1,
     89, 31, 57, 1870380, 0, 0, {15, 13, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0},
     {88, MNET_F32, 4, {1, 128, 128, 3}, 0.0f, 0},
     {87, MNET_F32, 2, {1, 1001, 0, 0}, 0.0f, 0},
     5, 27, 0, 0x379010dau},
    {"models/mobilenet_v1_0.25_128_quant.tflite", "mobilenet_v1", 1,
     89, 31, 57, 478812, 88, 0, {15, 13, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0},
     {88, MNET_U8, 4, {1, 128, 128, 3}, 0.0078125f, 128},
     {87, MNET_U8, 2, {1, 1001, 0, 0}, 0.00390625f, 0},
     5, 0, 0, 0xadc02480u},
    {"models/mobilenet_v1_0.5_160_quant.tflite", "mobilenet_v1", 1,
     89, 31, 57, 1346060, 88, 0, {15, 13, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0},
     {88, MNET_U8, 4, {1, 160, 160, 3}, 0.0078125f, 128},
     {87, MNET_U8, 2, {1, 1001, 0, 0}, 0.00390625f, 0},
     5, 0, 0, 0xc79b6dd0u},
    {"models/mobilenet_v1_0.75_192_quant.tflite", "mobilenet_v1", 1,
     89, 31, 57, 2605756, 88, 0, {15, 13, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0},
     {88, MNET_U8, 4, {1, 192, 192, 3}, 0.0078125f, 128},
     {87, MNET_U8, 2, {1, 1001, 0, 0}, 0.00390625f, 0},
     5, 0, 0, 0x9fb9dee0u},
    {"models/mobilenet_v2_1.0_224_inat_bird_quant.tflite", "mobilenet_v2", 1,
     172, 65, 106, 3497044, 172, 0, {35, 17, 1, 10, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
     {0, MNET_U8, 4, {1, 224, 224, 3}, 0.0078125f, 128},
     {171, MNET_U8, 2, {1, 965, 0, 0}, 0.00390625f, 0},
     5, 35, 0, 0xd095adc8u},
    {"models/mobilenet_v2_1.0_224_quant.tflite", "mobilenet_v2", 1,
     174, 66, 107, 3543276, 173, 0, {36, 17, 0, 10, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0},
     {0, MNET_U8, 4, {1, 224, 224, 3}, 0.0078125f, 128},
     {173, MNET_U8, 2, {1, 1001, 0, 0}, 0.00390625f, 0},
     5, 35, 0, 0x1ec03ce1u},
    {"models/mobilenet_v3-large-minimalistic_224_1.0_uint8.tflite", "mobilenet_v3", 1,
     160, 62, 97, 3956820, 159, 0, {33, 15, 0, 10, 0, 2, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0},
     {159, MNET_U8, 4, {1, 224, 224, 3}, 0.00787401572f, 128},
     {16, MNET_U8, 2, {1, 1001, 0, 0}, 0.00390625f, 0},
     5, 0, 0, 0x5abd5fd3u},
    {"models/mobilenet_v3-small_224_1.0_uint8.tflite", "mobilenet_v3", 1,
     247, 119, 127, 2570758, 246, 0, {43, 11, 0, 15, 18, 11, 0, 1, 0, 1, 0, 0, 19, 0, 0, 0},
     {246, MNET_U8, 4, {1, 224, 224, 3}, 0.00787401572f, 128},
     {19, MNET_U8, 2, {1, 1001, 0, 0}, 0.00390625f, 0},
     5, 0, 8, 0xba70447du},
    {"models/tf2_mobilenet_v2_1.0_224_ptq.tflite", "mobilenet_v2", 1,
     177, 68, 108, 3543284, 175, 106, {36, 17, 0, 10, 0, 0, 1, 1, 0, 1, 2, 0, 0, 0, 0, 0},
     {0, MNET_U8, 4, {1, 224, 224, 3}, 0.00784313772f, 127},
     {176, MNET_U8, 2, {1, 1001, 0, 0}, 0.00390625f, 0},
     5, 35, 0, 0x8b9a622cu},
    {"testdata/vectors/mobilenet_v2_1.0_224_quant_mlts.tflite", "mobilenet_v2", 0,
     173, 65, 107, 3543276, 172, 0, {36, 17, 0, 10, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
     {171, MNET_U8, 4, {1, 224, 224, 3}, 0.0078125f, 128},
     {172, MNET_U8, 2, {1, 1001, 0, 0}, 0.0988925397f, 58},
     5, 0, 0, 0x8aa46b98u},
};

/* TFLite builtin code of each kind, to hash ops the way the python side does. */
static int builtin_code(enum mnet_op_kind k)
{
    static const int code[MNET_OP_COUNT] = {
        [MNET_OP_CONV_2D] = 3, [MNET_OP_DEPTHWISE_CONV_2D] = 4, [MNET_OP_FULLY_CONNECTED] = 9,
        [MNET_OP_ADD] = 0, [MNET_OP_MUL] = 18, [MNET_OP_AVERAGE_POOL_2D] = 1, [MNET_OP_MEAN] = 40,
        [MNET_OP_RESHAPE] = 22, [MNET_OP_SQUEEZE] = 43, [MNET_OP_SOFTMAX] = 25,
        [MNET_OP_QUANTIZE] = 114, [MNET_OP_DEQUANTIZE] = 6, [MNET_OP_HARD_SWISH] = 117,
        [MNET_OP_LOGISTIC] = 14, [MNET_OP_RELU] = 19, [MNET_OP_RELU6] = 21,
    };
    return code[k];
}

static uint32_t fnv(uint32_t h, int32_t v)
{
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++) {
        h ^= (u >> (8 * i)) & 0xff;
        h *= 16777619u;
    }
    return h;
}

static size_t elements(const struct mnet_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->shape[i];
    return n;
}

static void check_io(const char *file, const char *what, const struct mnet_graph *g, int index,
                     const struct io_fact *f)
{
    CHECK(index == f->index, "%s %s: tensor %d want %d", file, what, index, f->index);
    if (index < 0 || index >= g->n_tensors)
        return;
    const struct mnet_tensor *t = &g->tensors[index];
    CHECK(t->dtype == f->dtype, "%s %s: dtype %d want %d", file, what, t->dtype, f->dtype);
    CHECK(t->rank == f->rank, "%s %s: rank %d want %d", file, what, t->rank, f->rank);
    for (int d = 0; d < f->rank && d < t->rank; d++)
        CHECK(t->shape[d] == f->shape[d], "%s %s: dim %d is %d want %d", file, what, d,
              t->shape[d], f->shape[d]);
    if (f->scale == 0.0f) {
        CHECK(t->q.count == 0, "%s %s: unexpected quantization", file, what);
    } else {
        CHECK(t->q.count == 1, "%s %s: q.count %d", file, what, t->q.count);
        if (t->q.count == 1) {
            CHECK(t->q.scale[0] == f->scale, "%s %s: scale %.9g want %.9g", file, what,
                  t->q.scale[0], f->scale);
            CHECK(t->q.zero_point[0] == f->zero_point, "%s %s: zero point %d want %d", file,
                  what, t->q.zero_point[0], f->zero_point);
        }
    }
    CHECK(t->data == NULL, "%s %s: is constant", file, what);
}

static void test_model(const struct model_fact *f)
{
    char path[4096];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", shared_dir(), f->file);
    uint8_t *buf = check_read_file(path, &len);
    CHECK(buf != NULL, "cannot read %s (missing test data fails the test)", path);
    if (!buf)
        return;
    const char *base = strrchr(f->file, '/') + 1;

    if (f->in_sources) {
        char want[65] = "", got[65];
        CHECK(sources_sha256(base, want) == 0, "%s not listed in SOURCES.md", base);
        mnet_sha256_hex(buf, len, got);
        CHECK(strcmp(got, want) == 0, "%s: sha256 %s, SOURCES.md says %s", base, got, want);
    }

    struct mnet_graph g = {0};
    char err[256] = "";
    int r = mnet_tflite_parse(buf, len, &g, err, sizeof(err));
    CHECK(r == 0, "%s: parse returned %d: %s", base, r, err);
    if (r != 0) {
        free(buf);
        return;
    }
    CHECK(g.n_tensors == f->tensors, "%s: %d tensors want %d", base, g.n_tensors, f->tensors);
    CHECK(g.n_ops == f->ops, "%s: %d ops want %d", base, g.n_ops, f->ops);
    CHECK(strcmp(g.arch, f->arch) == 0, "%s: arch %s want %s", base, g.arch, f->arch);

    int consts = 0, quantized = 0, per_channel = 0;
    size_t weight_bytes = 0;
    for (int i = 0; i < g.n_tensors; i++) {
        const struct mnet_tensor *t = &g.tensors[i];
        CHECK(t->name != NULL, "%s: tensor %d has a NULL name", base, i);
        CHECK(t->rank >= 0 && t->rank <= MNET_MAX_RANK, "%s: tensor %d rank %d", base, i, t->rank);
        if (t->data) {
            consts++;
            weight_bytes += t->nbytes;
            CHECK(t->nbytes == elements(t) * mnet_dtype_size(t->dtype),
                  "%s: tensor %d nbytes %zu", base, i, t->nbytes);
            CHECK((const uint8_t *)t->data >= buf &&
                      (const uint8_t *)t->data + t->nbytes <= buf + len,
                  "%s: tensor %d data outside the file", base, i);
        }
        if (t->q.count >= 1)
            quantized++;
        if (t->q.count > 1) {
            per_channel++;
            CHECK(t->q.axis >= 0 && t->q.axis < t->rank && t->shape[t->q.axis] == t->q.count,
                  "%s: tensor %d per-channel axis %d count %d", base, i, t->q.axis, t->q.count);
        }
        for (int k = 0; k < t->q.count; k++)
            CHECK(isfinite(t->q.scale[k]) && t->q.scale[k] > 0, "%s: tensor %d scale", base, i);
    }
    CHECK(consts == f->consts, "%s: %d constant tensors want %d", base, consts, f->consts);
    CHECK(weight_bytes == f->weight_bytes, "%s: %zu weight bytes want %zu", base, weight_bytes,
          f->weight_bytes);
    CHECK(quantized == f->quantized, "%s: %d quantized tensors want %d", base, quantized,
          f->quantized);
    CHECK(per_channel == f->per_channel, "%s: %d per-channel tensors want %d", base, per_channel,
          f->per_channel);

    int count[MNET_OP_COUNT] = {0}, stride2 = 0, relu6 = 0, dw5 = 0;
    uint32_t h = 2166136261u;
    for (int i = 0; i < g.n_ops; i++) {
        const struct mnet_op *op = &g.ops[i];
        count[op->kind]++;
        if ((op->kind == MNET_OP_CONV_2D || op->kind == MNET_OP_DEPTHWISE_CONV_2D) &&
            op->stride_w == 2)
            stride2++;
        if (op->activation == MNET_ACT_RELU6)
            relu6++;
        if (op->kind == MNET_OP_DEPTHWISE_CONV_2D && g.tensors[op->inputs[1]].shape[1] == 5)
            dw5++;
        h = fnv(h, builtin_code(op->kind));
        h = fnv(h, op->n_inputs);
        for (int k = 0; k < op->n_inputs; k++)
            h = fnv(h, op->inputs[k]);
        int32_t v[] = {op->output, op->padding == MNET_PAD_VALID, op->stride_h, op->stride_w,
                       op->dilation_h, op->dilation_w, op->depth_multiplier, op->filter_h,
                       op->filter_w, (int32_t)op->activation};
        for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
            h = fnv(h, v[k]);
        if (op->kind == MNET_OP_SOFTMAX)
            CHECK(op->beta == 1.0f, "%s: op %d softmax beta %g", base, i, op->beta);
    }
    for (int k = 0; k < MNET_OP_COUNT; k++)
        CHECK(count[k] == f->op_count[k], "%s: %d %s ops want %d", base, count[k],
              mnet_op_name((enum mnet_op_kind)k), f->op_count[k]);
    CHECK(stride2 == f->stride2, "%s: %d stride-2 convs want %d", base, stride2, f->stride2);
    CHECK(relu6 == f->relu6, "%s: %d fused RELU6 want %d", base, relu6, f->relu6);
    CHECK(dw5 == f->dw5x5, "%s: %d 5x5 depthwise want %d", base, dw5, f->dw5x5);
    CHECK(h == f->op_hash, "%s: operator hash %08x want %08x", base, h, f->op_hash);
    check_io(base, "input", &g, g.input, &f->in);
    check_io(base, "output", &g, g.output, &f->out);

    /* truncations that cut into the header or the tables are errors (cutting
     * only trailing padding may legitimately still parse: see test_corrupt) */
    size_t cuts[] = {0, 4, 7, 8, 64, len / 2};
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
        struct mnet_graph g2 = {0};
        r = mnet_tflite_parse(buf, cuts[k], &g2, err, sizeof(err));
        CHECK(r == -EBADMSG, "%s cut at %zu: %d (%s)", base, cuts[k], r, err);
        CHECK(g2.tensors == NULL && g2.owned == NULL, "%s: graph touched on failure", base);
    }
    mnet_graph_free(&g);
    CHECK(g.owned == NULL && g.tensors == NULL, "graph not cleared by free");
    free(buf);
}

/* Replace the first OperatorCode whose deprecated_builtin_code is `from` by
 * `to` in a real (trusted) file, then expect the op to be named in the error. */
static void test_patched_opcode(void)
{
    char path[4096];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/models/mobilenet_v1_0.25_128.tflite", shared_dir());
    uint8_t *buf = check_read_file(path, &len);
    CHECK(buf != NULL, "cannot read %s", path);
    if (!buf)
        return;
#define U32(p) ((uint32_t)buf[p] | (uint32_t)buf[(p) + 1] << 8 | (uint32_t)buf[(p) + 2] << 16 | \
                (uint32_t)buf[(p) + 3] << 24)
#define U16(p) ((uint32_t)buf[p] | (uint32_t)buf[(p) + 1] << 8)
    /* root -> field 1 (operator_codes) -> each table -> field 0 (deprecated code) */
    size_t root = U32(0);
    size_t vt = root - (int32_t)U32(root);
    size_t f1 = root + U16(vt + 6);
    size_t vec = f1 + U32(f1);
    uint32_t n = U32(vec);
    size_t patched = 0;
    for (uint32_t k = 0; k < n && !patched; k++) {
        size_t e = vec + 4 + 4 * k;
        size_t t = e + U32(e);
        size_t tvt = t - (int32_t)U32(t);
        if (U16(tvt) < 6 || U16(tvt + 4) == 0)
            continue;
        size_t p = t + U16(tvt + 4);
        if (buf[p] == 1) { /* AVERAGE_POOL_2D */
            buf[p] = 17;   /* MAX_POOL_2D */
            patched = p;
        }
    }
#undef U32
#undef U16
    CHECK(patched != 0, "no AVERAGE_POOL_2D opcode found");
    struct mnet_graph g = {0};
    char err[256] = "";
    int r = mnet_tflite_parse(buf, len, &g, err, sizeof(err));
    CHECK(r == -ENOTSUP, "patched opcode: %d (%s)", r, err);
    CHECK(strstr(err, "unsupported op MAX_POOL_2D (17)") != NULL, "message: %s", err);
    mnet_graph_free(&g);
    free(buf);
}

/* ---------------------------------------------------------------- hand-written flatbuffers */

/* A minimal front-to-back flatbuffer writer: parents are written before
 * their children, so every uoffset points forward; vtables come just before
 * their table (soffset positive). */
struct fbw {
    uint8_t b[16384];
    size_t n;
    size_t root, tensors_vec, name0; /* where mini_build put these, for targeted corruption */
};

static void w_pad(struct fbw *w, size_t a)
{
    while (w->n % a)
        w->b[w->n++] = 0;
}

static void put(uint8_t *p, uint64_t v, int size)
{
    for (int i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

struct fld {
    int id;
    int size;     /* 1, 4 or 8 bytes */
    uint64_t val; /* scalars; references are patched with w_ref */
};

/* Writes a vtable and its table; pos[i] receives the position of field i. */
static size_t w_table(struct fbw *w, int nf, const struct fld *f, size_t *pos)
{
    int max_id = -1;
    size_t off[16] = {0}, o = 4;
    for (int i = 0; i < nf; i++) {
        if (f[i].id > max_id)
            max_id = f[i].id;
        /* fields are laid out 8-aligned relative to an 8-aligned table */
        o = (o + (size_t)f[i].size - 1) / (size_t)f[i].size * (size_t)f[i].size;
        off[i] = o;
        o += (size_t)f[i].size;
    }
    size_t vt_size = 4 + 2 * (size_t)(max_id + 1);
    w_pad(w, 2);
    size_t vt = w->n;
    put(w->b + vt, vt_size, 2);
    put(w->b + vt + 2, o, 2);
    memset(w->b + vt + 4, 0, vt_size - 4);
    for (int i = 0; i < nf; i++)
        put(w->b + vt + 4 + 2 * f[i].id, off[i], 2);
    w->n += vt_size;
    w_pad(w, 8);
    size_t t = w->n;
    memset(w->b + t, 0, o);
    put(w->b + t, (uint64_t)(uint32_t)(int32_t)(t - vt), 4);
    for (int i = 0; i < nf; i++) {
        put(w->b + t + off[i], f[i].val, f[i].size);
        if (pos)
            pos[i] = t + off[i];
    }
    w->n += o;
    return t;
}

static void w_ref(struct fbw *w, size_t at, size_t target)
{
    put(w->b + at, target - at, 4);
}

/* A vector of n elements of size bytes (copied from data, or zeros);
 * returns the position of its length field. */
static size_t w_vec(struct fbw *w, int size, uint32_t n, const void *data)
{
    w_pad(w, 4);
    if (size == 8 && (w->n + 4) % 8 != 0)
        w->n += 4, memset(w->b + w->n - 4, 0, 4);
    size_t p = w->n;
    put(w->b + p, n, 4);
    if (data)
        memcpy(w->b + p + 4, data, (size_t)size * n);
    else
        memset(w->b + p + 4, 0, (size_t)size * n);
    w->n += 4 + (size_t)size * n;
    return p;
}

static uint64_t f32bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static size_t w_string(struct fbw *w, const char *s)
{
    size_t p = w_vec(w, 1, (uint32_t)strlen(s), s);
    w->b[w->n++] = 0;
    return p;
}

/* The knobs of the tiny one-op model: tensors 0 (input, 1x4x4x3), 1 (output,
 * 1x4x4x3, float32), 2 (weights 2x1x1x3 float32, buffer 1) and 3 (bias, 2
 * floats, buffer 2). */
struct mini {
    int32_t code;
    int deprecated;       /* value of the byte field; -1: min(code, 127) */
    const char *custom;   /* custom_code, or NULL */
    int8_t in_type;       /* TensorType of tensor 0 */
    int in_rank;
    int32_t in_shape[5];
    int n_inputs;
    int32_t inputs[4];
    int n_outputs;
    uint8_t opt_type;
    int n_opt;
    struct fld opt[8];
    int nq;               /* quantization entries of tensor 0 */
    float scale[4];
    int64_t zp[4];
    int32_t qdim;
    int weight_bytes;     /* data length of buffer 1 */
    uint32_t version;
    uint32_t weight_buffer; /* buffer index of tensor 2 */
};

static struct mini mini_default(void)
{
    struct mini m = {
        .code = 19, .deprecated = -1, .in_type = 0, .in_rank = 4, .in_shape = {1, 4, 4, 3},
        .n_inputs = 1, .inputs = {0}, .n_outputs = 1, .weight_bytes = 24, .version = 3,
        .weight_buffer = 1,
    };
    return m;
}

static size_t mini_build(const struct mini *m, struct fbw *w)
{
    size_t p[8];
    w->n = 0;
    put(w->b, 0, 4);
    memcpy(w->b + 4, "TFL3", 4);
    w->n = 8;

    /* Model: version, operator_codes, subgraphs, buffers */
    struct fld model[] = {{0, 4, m->version}, {1, 4, 0}, {2, 4, 0}, {4, 4, 0}};
    size_t root = w_table(w, 4, model, p);
    w_ref(w, 0, root);
    w->root = root;
    size_t model_codes = p[1], model_subgraphs = p[2], model_buffers = p[3];

    /* operator_codes: one OperatorCode */
    size_t v = w_vec(w, 4, 1, NULL);
    w_ref(w, model_codes, v);
    int dep = m->deprecated >= 0 ? m->deprecated : (m->code < 127 ? m->code : 127);
    struct fld oc[] = {{0, 1, (uint64_t)dep}, {3, 4, (uint64_t)(uint32_t)m->code}, {1, 4, 0}};
    size_t oct = w_table(w, m->custom ? 3 : 2, oc, p);
    w_ref(w, v + 4, oct);
    if (m->custom)
        w_ref(w, p[2], w_string(w, m->custom));

    /* subgraphs: one SubGraph */
    v = w_vec(w, 4, 1, NULL);
    w_ref(w, model_subgraphs, v);
    struct fld sg[] = {{0, 4, 0}, {1, 4, 0}, {2, 4, 0}, {3, 4, 0}};
    size_t sgt = w_table(w, 4, sg, p);
    w_ref(w, v + 4, sgt);
    size_t sg_tensors = p[0], sg_inputs = p[1], sg_outputs = p[2], sg_ops = p[3];

    size_t tv = w_vec(w, 4, 4, NULL);
    w_ref(w, sg_tensors, tv);
    w->tensors_vec = tv;
    for (int i = 0; i < 4; i++) {
        static const int32_t out_shape[] = {1, 4, 4, 3}, w_shape[] = {2, 1, 1, 3}, b_shape[] = {2};
        const int32_t *shape = i == 0 ? m->in_shape : i == 1 ? out_shape : i == 2 ? w_shape : b_shape;
        int rank = i == 0 ? m->in_rank : i == 3 ? 1 : 4;
        uint32_t buffer = i == 2 ? m->weight_buffer : i == 3 ? 2 : 0;
        int8_t type = i == 0 ? m->in_type : 0;
        int quant = i == 0 && m->nq > 0;
        struct fld t[] = {{0, 4, 0}, {1, 1, (uint8_t)type}, {2, 4, buffer}, {3, 4, 0}, {4, 4, 0}};
        size_t tt = w_table(w, quant ? 5 : 4, t, p);
        w_ref(w, tv + 4 + 4 * (size_t)i, tt);
        size_t t_shape = p[0], t_name = p[3], t_quant = p[4];
        w_ref(w, t_shape, w_vec(w, 4, (uint32_t)rank, shape));
        char name[16];
        snprintf(name, sizeof(name), "t%d", i);
        size_t name_pos = w_string(w, name);
        w_ref(w, t_name, name_pos);
        if (i == 0)
            w->name0 = name_pos;
        if (quant) {
            struct fld q[] = {{2, 4, 0}, {3, 4, 0}, {6, 4, (uint64_t)(uint32_t)m->qdim}};
            size_t qt = w_table(w, 3, q, p);
            w_ref(w, t_quant, qt);
            size_t q_scale = p[0], q_zp = p[1];
            w_ref(w, q_scale, w_vec(w, 4, (uint32_t)m->nq, m->scale));
            w_ref(w, q_zp, w_vec(w, 8, (uint32_t)m->nq, m->zp));
        }
    }
    static const int32_t in0[] = {0}, out1[] = {1};
    w_ref(w, sg_inputs, w_vec(w, 4, 1, in0));
    w_ref(w, sg_outputs, w_vec(w, 4, 1, out1));

    v = w_vec(w, 4, 1, NULL);
    w_ref(w, sg_ops, v);
    struct fld op[] = {{0, 4, 0}, {1, 4, 0}, {2, 4, 0}, {3, 1, m->opt_type}, {4, 4, 0}};
    size_t opt = w_table(w, m->opt_type ? 5 : 3, op, p);
    w_ref(w, v + 4, opt);
    size_t op_options = p[4];
    w_ref(w, p[1], w_vec(w, 4, (uint32_t)m->n_inputs, m->inputs));
    int32_t outs[2] = {1, 1};
    w_ref(w, p[2], w_vec(w, 4, (uint32_t)m->n_outputs, outs));
    if (m->opt_type)
        w_ref(w, op_options, w_table(w, m->n_opt, m->opt, NULL));

    /* buffers: 0 empty, 1 weights, 2 bias */
    v = w_vec(w, 4, 3, NULL);
    w_ref(w, model_buffers, v);
    for (int i = 0; i < 3; i++) {
        struct fld b[] = {{0, 4, 0}};
        size_t bt = w_table(w, i ? 1 : 0, b, p);
        w_ref(w, v + 4 + 4 * (size_t)i, bt);
        if (i) {
            static const uint8_t zeros[64];
            w_pad(w, 16);
            w_ref(w, p[0], w_vec(w, 1, (uint32_t)(i == 1 ? m->weight_bytes : 8), zeros));
        }
    }
    return w->n;
}

/* Parse m and check the result code and, when want_msg is set, the message. */
static void expect(const char *what, const struct mini *m, int want, const char *want_msg,
                   struct mnet_graph *out)
{
    static struct fbw w;
    size_t n = mini_build(m, &w);
    struct mnet_graph g = {0};
    if (out)
        memset(out, 0, sizeof(*out));
    char err[256] = "";
    int r = mnet_tflite_parse(w.b, n, &g, err, sizeof(err));
    CHECK(r == want, "%s: returned %d want %d (%s)", what, r, want, err);
    if (want_msg)
        CHECK(strstr(err, want_msg) != NULL, "%s: message '%s' lacks '%s'", what, err, want_msg);
    if (r == 0 && out) {
        *out = g;
        return;
    }
    mnet_graph_free(&g);
}

static void test_handmade(void)
{
    struct mnet_graph g;
    struct mini m = mini_default();
    expect("RELU", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(g.ops[0].kind == MNET_OP_RELU && g.input == 0 && g.output == 1, "RELU graph");
        CHECK(g.tensors[2].data != NULL && g.tensors[2].nbytes == 24, "weights data");
        CHECK(g.tensors[1].data == NULL && strcmp(g.tensors[3].name, "t3") == 0, "tensors");
        CHECK(strcmp(g.arch, "unknown") == 0, "arch %s", g.arch);
        mnet_graph_free(&g);
    }

    /* unsupported ops are named */
    m = mini_default(), m.code = 17;
    expect("MAX_POOL_2D", &m, -ENOTSUP, "unsupported op MAX_POOL_2D (17)", NULL);
    m = mini_default(), m.code = 150; /* only in the int32 field; the byte says 127 */
    expect("GELU", &m, -ENOTSUP, "unsupported op GELU (150)", NULL);
    m = mini_default(), m.code = 117, m.deprecated = 0; /* max(byte, int32) */
    expect("HARD_SWISH via builtin_code", &m, 0, NULL, NULL);
    m = mini_default(), m.code = 3, m.deprecated = 19; /* byte wins when larger */
    expect("max of codes", &m, 0, NULL, NULL);
    m = mini_default(), m.code = 32, m.custom = "TFLite_Detection_PostProcess";
    expect("custom op", &m, -ENOTSUP, "TFLite_Detection_PostProcess", NULL);
    m = mini_default(), m.code = 5000;
    expect("unknown code", &m, -ENOTSUP, "UNKNOWN (5000)", NULL);

    /* tensor types */
    m = mini_default(), m.in_type = 4;
    expect("INT64 tensor", &m, -ENOTSUP, "INT64", NULL);
    m = mini_default(), m.in_type = 1;
    expect("FLOAT16 tensor", &m, -ENOTSUP, "FLOAT16", NULL);
    m = mini_default(), m.in_type = 9, m.nq = 1, m.scale[0] = 0.5f, m.zp[0] = -128;
    expect("INT8 tensor", &m, 0, NULL, &g);
    if (g.n_tensors == 4) {
        CHECK(g.tensors[0].dtype == MNET_I8 && g.tensors[0].q.count == 1 &&
                  g.tensors[0].q.scale[0] == 0.5f && g.tensors[0].q.zero_point[0] == -128,
              "int8 quantization");
        mnet_graph_free(&g);
    }

    /* shapes */
    m = mini_default(), m.in_rank = 5, m.in_shape[4] = 1;
    expect("rank 5", &m, -ENOTSUP, "rank 5", NULL);
    m = mini_default(), m.in_shape[2] = 0;
    expect("zero dim", &m, -EBADMSG, NULL, NULL);
    m = mini_default(), m.in_shape[2] = -1;
    expect("negative dim", &m, -EBADMSG, NULL, NULL);
    m = mini_default(), m.in_shape[1] = 65536, m.in_shape[2] = 65536;
    expect("element overflow", &m, -EBADMSG, NULL, NULL);
    m = mini_default(), m.in_rank = 0;
    expect("scalar input", &m, 0, NULL, NULL);

    /* constant buffers */
    m = mini_default(), m.weight_bytes = 23;
    expect("short buffer", &m, -EBADMSG, "buffer size", NULL);
    m = mini_default(), m.weight_bytes = 25;
    expect("long buffer", &m, -EBADMSG, "buffer size", NULL);
    m = mini_default(), m.weight_buffer = 3;
    expect("buffer index", &m, -EBADMSG, "buffer index", NULL);
    m = mini_default(), m.version = 2;
    expect("schema version", &m, -ENOTSUP, "version", NULL);

    /* quantization */
    m = mini_default(), m.in_type = 3, m.nq = 1, m.scale[0] = 0.0f;
    expect("zero scale", &m, -EBADMSG, "scale", NULL);
    m = mini_default(), m.in_type = 3, m.nq = 1, m.scale[0] = NAN;
    expect("NaN scale", &m, -EBADMSG, "scale", NULL);
    m = mini_default(), m.in_type = 3, m.nq = 1, m.scale[0] = 1.0f, m.zp[0] = 256;
    expect("uint8 zero point", &m, -EBADMSG, "zero point", NULL);
    m = mini_default(), m.in_type = 9, m.nq = 1, m.scale[0] = 1.0f, m.zp[0] = 128;
    expect("int8 zero point", &m, -EBADMSG, "zero point", NULL);
    m = mini_default(), m.in_type = 9, m.nq = 3, m.qdim = 3;
    m.scale[0] = m.scale[1] = m.scale[2] = 1.0f;
    expect("per-channel", &m, 0, NULL, &g);
    if (g.n_tensors == 4) {
        CHECK(g.tensors[0].q.count == 3 && g.tensors[0].q.axis == 3, "per-channel axis");
        mnet_graph_free(&g);
    }
    m.qdim = 2; /* dim 2 is 4, not 3 */
    expect("per-channel count", &m, -EBADMSG, "per-channel", NULL);
    m.qdim = 4;
    expect("quantized_dimension", &m, -EBADMSG, "quantized_dimension", NULL);

    /* operator structure */
    m = mini_default(), m.n_inputs = 2, m.inputs[1] = 0;
    expect("RELU with 2 inputs", &m, -EBADMSG, "RELU has 2 inputs", NULL);
    m = mini_default(), m.n_outputs = 2;
    expect("2 outputs", &m, -EBADMSG, "outputs", NULL);
    m = mini_default(), m.inputs[0] = 4;
    expect("input index", &m, -EBADMSG, "index", NULL);
    m = mini_default(), m.inputs[0] = -1;
    expect("RELU input -1", &m, -EBADMSG, "index", NULL);

    /* CONV_2D options */
    struct mini conv = mini_default();
    conv.code = 3, conv.n_inputs = 3, conv.inputs[1] = 2, conv.inputs[2] = 3, conv.opt_type = 1;
    conv.n_opt = 4;
    conv.opt[0] = (struct fld){0, 1, 1};  /* VALID */
    conv.opt[1] = (struct fld){1, 4, 2};  /* stride_w */
    conv.opt[2] = (struct fld){2, 4, 1};  /* stride_h */
    conv.opt[3] = (struct fld){3, 1, 3};  /* RELU6 */
    m = conv;
    expect("CONV_2D", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        const struct mnet_op *op = &g.ops[0];
        CHECK(op->kind == MNET_OP_CONV_2D && op->padding == MNET_PAD_VALID && op->stride_w == 2 &&
                  op->stride_h == 1 && op->activation == MNET_ACT_RELU6 && op->dilation_h == 1 &&
                  op->dilation_w == 1 && op->n_inputs == 3 && op->inputs[2] == 3,
              "conv options");
        CHECK(strcmp(g.arch, "mobilenet_v1") == 0, "conv arch %s", g.arch);
        mnet_graph_free(&g);
    }
    m = conv, m.inputs[2] = -1;
    expect("CONV_2D without bias", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(g.ops[0].inputs[2] == -1, "omitted bias");
        mnet_graph_free(&g);
    }
    m = conv, m.n_inputs = 1;
    expect("CONV_2D 1 input", &m, -EBADMSG, "CONV_2D has 1 inputs", NULL);
    m = conv, m.inputs[1] = -1;
    expect("CONV_2D filter -1", &m, -EBADMSG, NULL, NULL);
    m = conv, m.opt_type = 5;
    expect("CONV_2D with pool options", &m, -EBADMSG, "options type 5", NULL);
    m = conv, m.opt[1].val = 0;
    expect("stride 0", &m, -EBADMSG, "stride_w 0", NULL);
    m = conv, m.opt[2].val = 65;
    expect("stride 65", &m, -EBADMSG, "stride_h 65", NULL);
    m = conv, m.opt[0].val = 2;
    expect("padding 2", &m, -EBADMSG, "padding", NULL);
    m = conv, m.opt[3].val = 4;
    expect("TANH", &m, -ENOTSUP, "TANH", NULL);
    m = conv, m.opt[3].val = 9;
    expect("activation 9", &m, -EBADMSG, "activation", NULL);
    m = conv, m.n_opt = 5, m.opt[4] = (struct fld){5, 4, 0};
    expect("dilation_h 0", &m, -EBADMSG, "dilation_h 0", NULL);
    m = conv, m.n_opt = 5, m.opt[4] = (struct fld){4, 4, 2};
    expect("dilation_w 2", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(g.ops[0].dilation_w == 2 && g.ops[0].dilation_h == 1, "dilation");
        mnet_graph_free(&g);
    }
    m = conv, m.opt_type = 0;
    expect("CONV_2D without options", &m, -EBADMSG, "stride", NULL);

    /* DEPTHWISE_CONV_2D: depth_multiplier at id 3 shifts the activation to 4 */
    m = conv, m.code = 4, m.opt_type = 2, m.n_opt = 5;
    m.opt[3] = (struct fld){3, 4, 1}, m.opt[4] = (struct fld){4, 1, 1};
    expect("DEPTHWISE_CONV_2D", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(g.ops[0].kind == MNET_OP_DEPTHWISE_CONV_2D && g.ops[0].depth_multiplier == 1 &&
                  g.ops[0].activation == MNET_ACT_RELU && g.ops[0].stride_w == 2,
              "depthwise options");
        mnet_graph_free(&g);
    }
    m.opt[3].val = 0;
    expect("depth_multiplier 0", &m, -EBADMSG, "depth_multiplier", NULL);

    /* AVERAGE_POOL_2D */
    struct mini pool = mini_default();
    pool.code = 1, pool.opt_type = 5, pool.n_opt = 5;
    pool.opt[0] = (struct fld){1, 4, 1};
    pool.opt[1] = (struct fld){2, 4, 1};
    pool.opt[2] = (struct fld){3, 4, 4};
    pool.opt[3] = (struct fld){4, 4, 3};
    pool.opt[4] = (struct fld){5, 1, 0};
    m = pool;
    expect("AVERAGE_POOL_2D", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(g.ops[0].filter_w == 4 && g.ops[0].filter_h == 3 && g.ops[0].padding == MNET_PAD_SAME,
              "pool options");
        mnet_graph_free(&g);
    }
    m = pool, m.opt[3].val = 0;
    expect("filter 0", &m, -EBADMSG, "filter_height 0", NULL);

    /* FULLY_CONNECTED, SOFTMAX, MEAN */
    m = mini_default(), m.code = 9, m.n_inputs = 3, m.inputs[1] = 2, m.inputs[2] = -1;
    m.opt_type = 8, m.n_opt = 2, m.opt[0] = (struct fld){0, 1, 1}, m.opt[1] = (struct fld){2, 1, 1};
    expect("FULLY_CONNECTED", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(g.ops[0].activation == MNET_ACT_RELU && g.ops[0].keep_dims == 1, "fc options");
        mnet_graph_free(&g);
    }
    m.n_opt = 3, m.opt[2] = (struct fld){1, 1, 1};
    expect("FC shuffled weights", &m, -ENOTSUP, "weights_format", NULL);
    m = mini_default(), m.code = 25, m.opt_type = 9, m.n_opt = 1, m.opt[0] = (struct fld){0, 4, 0};
    m.opt[0].val = f32bits(0.5f);
    expect("SOFTMAX beta", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(g.ops[0].beta == 0.5f, "beta %g", g.ops[0].beta);
        mnet_graph_free(&g);
    }
    m.opt[0].val = f32bits(-1.0f);
    expect("SOFTMAX negative beta", &m, -EBADMSG, "beta", NULL);
    m = mini_default(), m.code = 25;
    expect("SOFTMAX without options", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(g.ops[0].beta == 1.0f, "default beta %g", g.ops[0].beta);
        mnet_graph_free(&g);
    }
    m = mini_default(), m.code = 40, m.n_inputs = 2, m.inputs[1] = 3, m.opt_type = 27;
    m.n_opt = 1, m.opt[0] = (struct fld){0, 1, 1};
    expect("MEAN", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(g.ops[0].kind == MNET_OP_MEAN && g.ops[0].keep_dims == 1, "mean keep_dims");
        mnet_graph_free(&g);
    }
    m = mini_default(), m.code = 0, m.n_inputs = 2, m.inputs[1] = 0;
    expect("ADD of two activations", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(strcmp(g.arch, "unknown") == 0, "ADD alone has no conv: %s", g.arch);
        mnet_graph_free(&g);
    }
    m = mini_default(), m.code = 117, m.opt_type = 91;
    expect("HARD_SWISH", &m, 0, NULL, &g);
    if (g.n_ops == 1) {
        CHECK(strcmp(g.arch, "mobilenet_v3") == 0, "arch %s", g.arch);
        mnet_graph_free(&g);
    }

    /* the writer itself round-trips, and a header change is caught */
    m = mini_default();
    static struct fbw w;
    size_t n = mini_build(&m, &w);
    char err[256] = "";
    memcpy(w.b + 4, "TFL2", 4);
    CHECK(mnet_tflite_parse(w.b, n, &g, err, sizeof(err)) == -EBADMSG && strstr(err, "TFL3"),
          "identifier: %s", err);
    CHECK(mnet_tflite_parse(NULL, 0, &g, err, sizeof(err)) == -EINVAL, "NULL buffer");
    /* err may be NULL; a tiny errlen truncates but terminates */
    CHECK(mnet_tflite_parse(w.b, n, &g, NULL, 0) == -EBADMSG, "NULL err");
    char tiny[4] = "xxx";
    mnet_tflite_parse(w.b, n, &g, tiny, 1);
    CHECK(tiny[0] == '\0', "errlen 1");
}

/* The flatbuffer layer itself: each check of the cursor helpers, hit by
 * corrupting one thing in an otherwise valid hand-made model. */
static void corrupt_one(const char *what, void (*edit)(struct fbw *), const char *want_msg)
{
    static struct fbw w;
    struct mini m = mini_default();
    size_t n = mini_build(&m, &w);
    edit(&w);
    struct mnet_graph g = {0};
    char err[256] = "";
    int r = mnet_tflite_parse(w.b, n, &g, err, sizeof(err));
    CHECK(r == -EBADMSG, "%s: returned %d (%s)", what, r, err);
    CHECK(strstr(err, want_msg) != NULL, "%s: message '%s' lacks '%s'", what, err, want_msg);
    mnet_graph_free(&g);
}

static size_t model_vt(const struct fbw *w)
{
    uint32_t so = (uint32_t)w->b[w->root] | (uint32_t)w->b[w->root + 1] << 8 |
                  (uint32_t)w->b[w->root + 2] << 16 | (uint32_t)w->b[w->root + 3] << 24;
    return w->root - (size_t)(int32_t)so;
}

static void e_root_past_end(struct fbw *w) { put(w->b, w->n + 4, 4); }
static void e_root_at_end(struct fbw *w) { put(w->b, w->n, 4); }
static void e_root_misaligned(struct fbw *w) { put(w->b, w->root + 2, 4); }
static void e_soffset_before_start(struct fbw *w) { put(w->b + w->root, w->root + 2, 4); }
static void e_soffset_past_end(struct fbw *w) { put(w->b + w->root, (uint32_t)-(int32_t)w->n, 4); }
static void e_vtable_size_odd(struct fbw *w) { put(w->b + model_vt(w), 5, 2); }
static void e_vtable_size_huge(struct fbw *w) { put(w->b + model_vt(w), 0xfffe, 2); }
static void e_table_size_huge(struct fbw *w) { put(w->b + model_vt(w) + 2, 0xffff, 2); }
static void e_field_outside(struct fbw *w)
{
    size_t vt = model_vt(w);
    uint32_t obj = (uint32_t)w->b[vt + 2] | (uint32_t)w->b[vt + 3] << 8;
    put(w->b + vt + 4, obj - 2, 2); /* version (4 bytes) would straddle the table's end */
}
static void e_field_misaligned(struct fbw *w)
{
    size_t vt = model_vt(w);
    put(w->b + vt + 4, 5, 2); /* version at an odd offset */
}
static void e_vector_huge(struct fbw *w) { put(w->b + w->tensors_vec, 0x40000001u, 4); }
static void e_vector_past_end(struct fbw *w)
{
    put(w->b + w->tensors_vec, (uint32_t)((w->n - w->tensors_vec) / 4), 4);
}
static void e_string_unterminated(struct fbw *w) { w->b[w->name0 + 4 + 2] = 'x'; }
static void e_string_past_end(struct fbw *w) { put(w->b + w->name0, (uint32_t)(w->n - w->name0), 4); }
static void e_element_offset(struct fbw *w) { put(w->b + w->tensors_vec + 4, 0xfffffff0u, 4); }

static void test_flatbuffer_checks(void)
{
    corrupt_one("root past end", e_root_past_end, "offset out of bounds");
    corrupt_one("root at the end", e_root_at_end, "table out of bounds");
    corrupt_one("root misaligned", e_root_misaligned, "misaligned");
    corrupt_one("vtable before the file", e_soffset_before_start, "vtable out of bounds");
    corrupt_one("vtable past the end", e_soffset_past_end, "vtable out of bounds");
    corrupt_one("odd vtable size", e_vtable_size_odd, "bad vtable size");
    corrupt_one("huge vtable", e_vtable_size_huge, "bad vtable size");
    corrupt_one("huge table", e_table_size_huge, "bad table size");
    corrupt_one("field outside the table", e_field_outside, "field outside its table");
    corrupt_one("misaligned field", e_field_misaligned, "misaligned field");
    corrupt_one("vector length overflow", e_vector_huge, "vector length out of bounds");
    corrupt_one("vector past the end", e_vector_past_end, "vector length out of bounds");
    corrupt_one("unterminated string", e_string_unterminated, "unterminated string");
    corrupt_one("string past the end", e_string_past_end, "out of bounds");
    corrupt_one("table offset in a vector", e_element_offset, "offset out of bounds");
}

static void test_graph_memory(void)
{
    struct mnet_graph g = {0};
    CHECK(mnet_graph_alloc(&g, SIZE_MAX) == NULL, "SIZE_MAX allocation");
    CHECK(mnet_graph_alloc(&g, SIZE_MAX - 8) == NULL, "near SIZE_MAX allocation");
    CHECK(mnet_graph_alloc(NULL, 8) == NULL, "NULL graph");
    double *d = mnet_graph_alloc(&g, 10 * sizeof(double));
    CHECK(d && ((uintptr_t)d % _Alignof(max_align_t)) == 0, "alignment");
    int zero = 1;
    for (int i = 0; d && i < 10; i++)
        zero &= d[i] == 0.0;
    CHECK(zero, "zeroed");
    CHECK(mnet_graph_alloc(&g, 0) != NULL, "zero-size allocation");
    mnet_graph_free(&g);
    mnet_graph_free(&g);
    mnet_graph_free(NULL);
    CHECK(g.owned == NULL, "freed");
    CHECK(strcmp(mnet_op_name(MNET_OP_HARD_SWISH), "HARD_SWISH") == 0, "op name");
    CHECK(strcmp(mnet_op_name(MNET_OP_COUNT), "UNKNOWN") == 0, "op name out of range");
    CHECK(mnet_dtype_size(MNET_F32) == 4 && mnet_dtype_size(MNET_U8) == 1 &&
              mnet_dtype_size(MNET_I8) == 1 && mnet_dtype_size(MNET_I32) == 4,
          "dtype sizes");
    char err[8];
    CHECK(mnet_error(err, sizeof(err), -EBADMSG, "%s", "a long message") == -EBADMSG &&
              strcmp(err, "a long ") == 0,
          "mnet_error truncates: %s", err);
    CHECK(mnet_error(NULL, 0, -ENOMEM, "x") == -ENOMEM, "mnet_error NULL");
}

int main(void)
{
    test_sha256();
    test_graph_memory();
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++)
        test_model(&facts[i]);
    test_patched_opcode();
    test_handmade();
    test_flatbuffer_checks();
    return check_summary();
}
