/* tflite.c: a bounds-checked reader of TensorFlow Lite flatbuffers.
 *
 * The file is untrusted.  Nothing read from it is used as a position, a
 * length or an index before it has been checked against the buffer (or the
 * array it indexes), with arithmetic that cannot overflow.  All multi-byte
 * values are assembled byte by byte, so neither the host's alignment rules nor
 * its byte order matter; alignment is still checked because a well-formed
 * flatbuffer always has it, and a misaligned object means a corrupt file.
 *
 * Flatbuffer layout in one paragraph (what the helpers below check):
 *   - the file starts with a uoffset (u32) to the root table, then the 4-byte
 *     file identifier "TFL3";
 *   - a table starts with an soffset (i32); table - soffset is its vtable;
 *   - a vtable is u16 vtable_size, u16 object_size, then one u16 per field:
 *     the field's offset inside the object, 0 when the field is absent;
 *   - a field that refers to a table, vector or string holds a uoffset
 *     relative to the field's own position;
 *   - a vector is a u32 element count followed by the elements; a string is
 *     a vector of bytes followed by a NUL.
 *
 * Field ids follow tensorflow/lite/schema/schema.fbs.  Shape semantics (does
 * a convolution's output shape match its input) are checked by the planner;
 * this reader checks structure: offsets, lengths, indices, types, shapes,
 * buffer sizes, quantization parameters and operator options.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"

/* ---- limits (far above any MobileNet, low enough to keep int arithmetic safe) ---- */

#define TFL_MAX_FILE_BYTES 0x7fffffffu   /* flatbuffers cannot address more (soffset is signed) */
#define TFL_MAX_TENSORS 65536
#define TFL_MAX_OPS 65536
#define TFL_MAX_ELEMENTS (1u << 28)      /* per tensor */
#define TFL_MAX_STRIDE 64                /* strides and dilations */
#define TFL_MAX_FILTER 1024              /* pooling windows (global pools over big inputs) */
#define TFL_MAX_DEPTH_MULTIPLIER 65536

/* ---- schema: table field ids and enum values ---- */

enum { MODEL_VERSION = 0, MODEL_OPERATOR_CODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3 };
enum {
    TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3,
    TENSOR_QUANTIZATION = 4, TENSOR_IS_VARIABLE = 5, TENSOR_SPARSITY = 6,
};
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };
enum {
    QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DETAILS_TYPE = 4, QUANT_DIMENSION = 6,
};
enum { OPCODE_DEPRECATED_BUILTIN = 0, OPCODE_CUSTOM = 1, OPCODE_BUILTIN = 3 };
enum {
    OPERATOR_OPCODE_INDEX = 0, OPERATOR_INPUTS = 1, OPERATOR_OUTPUTS = 2,
    OPERATOR_OPTIONS_TYPE = 3, OPERATOR_OPTIONS = 4,
};

#define TFL_SCHEMA_VERSION 3
#define TFL_OP_CUSTOM 32

/* TensorType */
enum { TFL_FLOAT32 = 0, TFL_INT32 = 2, TFL_UINT8 = 3, TFL_INT8 = 9 };

/* BuiltinOptions union member ids */
enum {
    OPT_NONE = 0, OPT_CONV_2D = 1, OPT_DEPTHWISE_CONV_2D = 2, OPT_POOL_2D = 5,
    OPT_FULLY_CONNECTED = 8, OPT_SOFTMAX = 9, OPT_ADD = 11, OPT_RESHAPE = 17, OPT_MUL = 21,
    OPT_REDUCER = 27, OPT_SQUEEZE = 30, OPT_DEQUANTIZE = 38, OPT_QUANTIZE = 89,
    OPT_HARD_SWISH = 91,
};

/* Names of TensorType values, for error messages. */
static const char *const tfl_type_names[] = {
    "FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16",
    "COMPLEX64", "INT8", "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT",
    "UINT32", "UINT16", "INT4", "BFLOAT16",
};

/* Names of BuiltinOperator values 0..152, for error messages. */
static const char *const tfl_op_names[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE", "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1",
    "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF",
    "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE",
    "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
    "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST",
    "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER",
    "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT",
    "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK",
    "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN",
    "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE",
    "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
    "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK",
    "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND",
    "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D",
    "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND",
    "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE",
    "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
};

static const char *tfl_op_name(int32_t code)
{
    if (code >= 0 && (size_t)code < sizeof(tfl_op_names) / sizeof(tfl_op_names[0]))
        return tfl_op_names[code];
    return "UNKNOWN";
}

static const char *tfl_type_name(int type)
{
    if (type >= 0 && (size_t)type < sizeof(tfl_type_names) / sizeof(tfl_type_names[0]))
        return tfl_type_names[type];
    return "UNKNOWN";
}

/* The ops we support: builtin code -> kind, the option table the op must
 * carry (OPT_NONE for ops without options), and how many inputs it takes. */
struct tfl_op_spec {
    int32_t code;
    enum mnet_op_kind kind;
    uint8_t options_type;
    uint8_t min_inputs, max_inputs;
};

static const struct tfl_op_spec tfl_ops[] = {
    {0, MNET_OP_ADD, OPT_ADD, 2, 2},
    {1, MNET_OP_AVERAGE_POOL_2D, OPT_POOL_2D, 1, 1},
    {3, MNET_OP_CONV_2D, OPT_CONV_2D, 2, 3},                 /* input, filter, optional bias */
    {4, MNET_OP_DEPTHWISE_CONV_2D, OPT_DEPTHWISE_CONV_2D, 2, 3},
    {6, MNET_OP_DEQUANTIZE, OPT_DEQUANTIZE, 1, 1},
    {9, MNET_OP_FULLY_CONNECTED, OPT_FULLY_CONNECTED, 2, 3},
    {14, MNET_OP_LOGISTIC, OPT_NONE, 1, 1},
    {18, MNET_OP_MUL, OPT_MUL, 2, 2},
    {19, MNET_OP_RELU, OPT_NONE, 1, 1},
    {21, MNET_OP_RELU6, OPT_NONE, 1, 1},
    {22, MNET_OP_RESHAPE, OPT_RESHAPE, 1, 2},                /* input, optional shape tensor */
    {25, MNET_OP_SOFTMAX, OPT_SOFTMAX, 1, 1},
    {40, MNET_OP_MEAN, OPT_REDUCER, 2, 2},                   /* input, axes */
    {43, MNET_OP_SQUEEZE, OPT_SQUEEZE, 1, 1},
    {114, MNET_OP_QUANTIZE, OPT_QUANTIZE, 1, 1},
    {117, MNET_OP_HARD_SWISH, OPT_HARD_SWISH, 1, 1},
};

/* ---- the bounds-checked flatbuffer cursor ---- */

struct fb {
    const uint8_t *buf;
    size_t len;
    char *err;
    size_t errlen;
    char where[64]; /* what is being read, for error messages ("tensor 12") */
    /* Quantization entries the reader may still copy out.  Tensors can share
     * one QuantizationParameters table, so without a budget a small file
     * could make the reader allocate and scan count * tensors entries.  An
     * unshared entry takes at least 12 bytes of file (4 scale + 8 zero point),
     * so len / 8 accepts every honest file. */
    size_t quant_budget;
};

/* A table: its position, and its vtable's position and sizes.  present is
 * false for an absent optional table, whose fields then all read as absent. */
struct fb_table {
    bool present;
    size_t pos;
    size_t vt;
    size_t vt_size;
    size_t obj_size;
};

/* A vector: position of its first element and its element count. */
struct fb_vec {
    size_t pos;
    uint32_t n;
};

static void fb_where(struct fb *fb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fb_where(struct fb *fb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fb->where, sizeof(fb->where), fmt, ap);
    va_end(ap);
}

/* -EBADMSG with "corrupt model: <where>: <what>". */
static int fb_corrupt(struct fb *fb, const char *what)
{
    return mnet_error(fb->err, fb->errlen, -EBADMSG, "corrupt model: %s: %s", fb->where, what);
}

/* True when [pos, pos + n) lies inside the buffer. */
static bool fb_in(const struct fb *fb, size_t pos, size_t n)
{
    return pos <= fb->len && n <= fb->len - pos;
}

/* Little-endian loads; callers have checked the bounds. */
static uint16_t ld_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t ld_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t ld_u64(const uint8_t *p) { return ld_u32(p) | (uint64_t)ld_u32(p + 4) << 32; }
static float ld_f32(const uint8_t *p)
{
    uint32_t u = ld_u32(p);
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

/* The table at pos: check its soffset, its vtable and that both lie inside
 * the buffer. */
static int fb_table_at(struct fb *fb, size_t pos, struct fb_table *t)
{
    if (pos % 4 != 0)
        return fb_corrupt(fb, "misaligned table");
    if (!fb_in(fb, pos, 4))
        return fb_corrupt(fb, "table out of bounds");
    /* len <= 2^31 - 1, so pos and the signed offset fit in int64 without overflow */
    int64_t vt = (int64_t)pos - (int64_t)(int32_t)ld_u32(fb->buf + pos);
    if (vt < 0 || vt % 2 != 0 || !fb_in(fb, (size_t)vt, 4))
        return fb_corrupt(fb, "vtable out of bounds");
    size_t vt_size = ld_u16(fb->buf + vt);
    size_t obj_size = ld_u16(fb->buf + vt + 2);
    if (vt_size < 4 || vt_size % 2 != 0 || !fb_in(fb, (size_t)vt, vt_size))
        return fb_corrupt(fb, "bad vtable size");
    if (obj_size < 4 || !fb_in(fb, pos, obj_size))
        return fb_corrupt(fb, "bad table size");
    *t = (struct fb_table){.present = true, .pos = pos, .vt = (size_t)vt,
                           .vt_size = vt_size, .obj_size = obj_size};
    return 0;
}

/* Position of field id holding size bytes: 1 present (*pos set), 0 absent,
 * or -EBADMSG when the vtable points outside the table or misaligns it. */
static int fb_field(struct fb *fb, const struct fb_table *t, unsigned id, size_t size, size_t *pos)
{
    if (!t->present)
        return 0;
    size_t slot = 4 + 2 * (size_t)id;
    if (slot + 2 > t->vt_size)
        return 0; /* field newer than the writer's schema: absent */
    size_t off = ld_u16(fb->buf + t->vt + slot);
    if (off == 0)
        return 0;
    if (off < 4 || off > t->obj_size || size > t->obj_size - off)
        return fb_corrupt(fb, "field outside its table");
    size_t p = t->pos + off; /* inside the table, which is inside the buffer */
    if (p % size != 0)
        return fb_corrupt(fb, "misaligned field");
    *pos = p;
    return 1;
}

/* Scalar fields with their schema defaults. */
static int fb_field_u8(struct fb *fb, const struct fb_table *t, unsigned id, uint8_t def, uint8_t *v)
{
    size_t p = 0;
    int r = fb_field(fb, t, id, 1, &p);
    if (r < 0)
        return r;
    *v = r ? fb->buf[p] : def;
    return 0;
}

static int fb_field_i8(struct fb *fb, const struct fb_table *t, unsigned id, int8_t def, int8_t *v)
{
    uint8_t u;
    int r = fb_field_u8(fb, t, id, (uint8_t)def, &u);
    if (r < 0)
        return r;
    *v = (int8_t)u;
    return 0;
}

static int fb_field_u32(struct fb *fb, const struct fb_table *t, unsigned id, uint32_t def, uint32_t *v)
{
    size_t p = 0;
    int r = fb_field(fb, t, id, 4, &p);
    if (r < 0)
        return r;
    *v = r ? ld_u32(fb->buf + p) : def;
    return 0;
}

static int fb_field_i32(struct fb *fb, const struct fb_table *t, unsigned id, int32_t def, int32_t *v)
{
    uint32_t u;
    int r = fb_field_u32(fb, t, id, (uint32_t)def, &u);
    if (r < 0)
        return r;
    *v = (int32_t)u;
    return 0;
}

static int fb_field_u64(struct fb *fb, const struct fb_table *t, unsigned id, uint64_t def, uint64_t *v)
{
    size_t p = 0;
    int r = fb_field(fb, t, id, 8, &p);
    if (r < 0)
        return r;
    *v = r ? ld_u64(fb->buf + p) : def;
    return 0;
}

static int fb_field_f32(struct fb *fb, const struct fb_table *t, unsigned id, float def, float *v)
{
    size_t p = 0;
    int r = fb_field(fb, t, id, 4, &p);
    if (r < 0)
        return r;
    *v = r ? ld_f32(fb->buf + p) : def;
    return 0;
}

/* Follow the uoffset stored at pos (already known to be inside the buffer):
 * the target must be inside the buffer and 4-aligned (tables, vectors and
 * strings all start with a 4-byte value). */
static int fb_follow(struct fb *fb, size_t pos, size_t *target)
{
    uint32_t off = ld_u32(fb->buf + pos);
    if (off > fb->len - pos)
        return fb_corrupt(fb, "offset out of bounds");
    size_t p = pos + off;
    if (p % 4 != 0)
        return fb_corrupt(fb, "misaligned offset target");
    *target = p;
    return 0;
}

/* Sub-table field: 1 present, 0 absent (t->present false), or an error. */
static int fb_field_table(struct fb *fb, const struct fb_table *parent, unsigned id, struct fb_table *t)
{
    size_t p = 0, target = 0;
    *t = (struct fb_table){.present = false};
    int r = fb_field(fb, parent, id, 4, &p);
    if (r <= 0)
        return r;
    if ((r = fb_follow(fb, p, &target)) < 0 || (r = fb_table_at(fb, target, t)) < 0)
        return r;
    return 1;
}

/* The vector at pos: its count, and all n * elem_size bytes inside the buffer. */
static int fb_vector_at(struct fb *fb, size_t pos, size_t elem_size, struct fb_vec *v)
{
    if (!fb_in(fb, pos, 4))
        return fb_corrupt(fb, "vector out of bounds");
    uint32_t n = ld_u32(fb->buf + pos);
    size_t first = pos + 4;
    if (n > (fb->len - first) / elem_size)
        return fb_corrupt(fb, "vector length out of bounds");
    /* 8-byte elements are 8-aligned by flatbuffer writers, smaller ones by their size */
    if (first % elem_size != 0)
        return fb_corrupt(fb, "misaligned vector");
    *v = (struct fb_vec){.pos = first, .n = n};
    return 0;
}

/* Vector field: absent reads as an empty vector.  Returns 1/0/error like fb_field. */
static int fb_field_vector(struct fb *fb, const struct fb_table *t, unsigned id, size_t elem_size,
                           struct fb_vec *v)
{
    size_t p = 0, target = 0;
    *v = (struct fb_vec){0};
    int r = fb_field(fb, t, id, 4, &p);
    if (r <= 0)
        return r;
    if ((r = fb_follow(fb, p, &target)) < 0 || (r = fb_vector_at(fb, target, elem_size, v)) < 0)
        return r;
    return 1;
}

/* String field: a NUL-terminated byte vector, returned as a pointer into the
 * buffer ("" when absent).  The NUL must be inside the buffer. */
static int fb_field_string(struct fb *fb, const struct fb_table *t, unsigned id, const char **s)
{
    struct fb_vec v;
    int r = fb_field_vector(fb, t, id, 1, &v);
    if (r < 0)
        return r;
    if (r == 0) {
        *s = "";
        return 0;
    }
    if (!fb_in(fb, v.pos, (size_t)v.n + 1) || fb->buf[v.pos + v.n] != '\0')
        return fb_corrupt(fb, "unterminated string");
    *s = (const char *)fb->buf + v.pos;
    return 0;
}

/* Element k of a vector of tables. */
static int fb_vector_table(struct fb *fb, const struct fb_vec *v, uint32_t k, struct fb_table *t)
{
    size_t target = 0;
    int r;
    if (k >= v->n)
        return fb_corrupt(fb, "vector index out of range");
    if ((r = fb_follow(fb, v->pos + 4 * (size_t)k, &target)) < 0)
        return r;
    return fb_table_at(fb, target, t);
}

/* Elements of checked vectors. */
static int32_t fb_vec_i32(const struct fb *fb, const struct fb_vec *v, uint32_t k)
{
    return (int32_t)ld_u32(fb->buf + v->pos + 4 * (size_t)k);
}
static float fb_vec_f32(const struct fb *fb, const struct fb_vec *v, uint32_t k)
{
    return ld_f32(fb->buf + v->pos + 4 * (size_t)k);
}
static int64_t fb_vec_i64(const struct fb *fb, const struct fb_vec *v, uint32_t k)
{
    return (int64_t)ld_u64(fb->buf + v->pos + 8 * (size_t)k);
}

/* ---- model parts ---- */

struct tfl_model {
    struct fb_vec opcodes;  /* tables: OperatorCode */
    struct fb_vec buffers;  /* tables: Buffer */
};

static int tfl_dtype(struct fb *fb, int8_t type, enum mnet_dtype *dt)
{
    switch (type) {
    case TFL_FLOAT32: *dt = MNET_F32; return 0;
    case TFL_INT32: *dt = MNET_I32; return 0;
    case TFL_UINT8: *dt = MNET_U8; return 0;
    case TFL_INT8: *dt = MNET_I8; return 0;
    }
    return mnet_error(fb->err, fb->errlen, -ENOTSUP, "%s: unsupported tensor type %s (%d)",
                      fb->where, tfl_type_name(type), type);
}

/* Quantization parameters: equal-length scale and zero_point vectors, either
 * per-tensor (1 entry) or one entry per slice of the quantized dimension. */
static int tfl_quant(struct fb *fb, struct mnet_graph *g, const struct fb_table *q,
                     struct mnet_tensor *t)
{
    struct fb_vec scale, zp;
    uint8_t details_type;
    int32_t axis;
    int r;

    if ((r = fb_field_u8(fb, q, QUANT_DETAILS_TYPE, 0, &details_type)) < 0)
        return r;
    if (details_type != 0)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP,
                          "%s: custom quantization is not supported", fb->where);
    if ((r = fb_field_vector(fb, q, QUANT_SCALE, 4, &scale)) < 0 ||
        (r = fb_field_vector(fb, q, QUANT_ZERO_POINT, 8, &zp)) < 0 ||
        (r = fb_field_i32(fb, q, QUANT_DIMENSION, 0, &axis)) < 0)
        return r;
    if (scale.n == 0 && zp.n == 0)
        return 0; /* min/max only, or empty: not quantized */
    if (scale.n != zp.n)
        return fb_corrupt(fb, "scale and zero_point counts differ");
    if (scale.n > fb->quant_budget)
        return fb_corrupt(fb, "more quantization parameters than the file can hold");
    fb->quant_budget -= scale.n;
    if (axis < 0 || axis >= (t->rank > 0 ? t->rank : 1))
        return fb_corrupt(fb, "quantized_dimension out of range");
    if (scale.n != 1 && (t->rank == 0 || (uint32_t)t->shape[axis] != scale.n))
        return fb_corrupt(fb, "per-channel scale count does not match the quantized dimension");

    int64_t zmin = INT32_MIN, zmax = INT32_MAX;
    if (t->dtype == MNET_U8)
        zmin = 0, zmax = 255;
    else if (t->dtype == MNET_I8)
        zmin = -128, zmax = 127;

    /* n <= 2^28 (a dimension of a tensor within the element cap), so the sizes cannot overflow */
    float *s = mnet_graph_alloc(g, (size_t)scale.n * sizeof(*s));
    int32_t *z = mnet_graph_alloc(g, (size_t)zp.n * sizeof(*z));
    if (!s || !z)
        return mnet_error(fb->err, fb->errlen, -ENOMEM, "out of memory");
    for (uint32_t k = 0; k < scale.n; k++) {
        s[k] = fb_vec_f32(fb, &scale, k);
        if (!isfinite(s[k]) || s[k] <= 0.0f)
            return fb_corrupt(fb, "quantization scale not finite and positive");
        int64_t zk = fb_vec_i64(fb, &zp, k);
        if (zk < zmin || zk > zmax)
            return fb_corrupt(fb, "zero point out of range for the tensor type");
        z[k] = (int32_t)zk;
    }
    t->q = (struct mnet_qparams){.count = (int)scale.n, .axis = scale.n > 1 ? axis : 0,
                                 .scale = s, .zero_point = z};
    return 0;
}

/* The constant data of a tensor, from Model.buffers[index]. */
static int tfl_tensor_data(struct fb *fb, const struct tfl_model *m, uint32_t index,
                           size_t elements, struct mnet_tensor *t)
{
    struct fb_table b;
    struct fb_vec data;
    uint64_t offset, size;
    int r;

    if (index >= m->buffers.n)
        return fb_corrupt(fb, "buffer index out of range");
    if ((r = fb_vector_table(fb, &m->buffers, index, &b)) < 0 ||
        (r = fb_field_vector(fb, &b, BUFFER_DATA, 1, &data)) < 0 ||
        (r = fb_field_u64(fb, &b, BUFFER_OFFSET, 0, &offset)) < 0 ||
        (r = fb_field_u64(fb, &b, BUFFER_SIZE, 0, &size)) < 0)
        return r;
    if (offset != 0 || size != 0)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP,
                          "%s: buffer stored outside the flatbuffer is not supported", fb->where);
    if (data.n == 0)
        return 0; /* an activation */
    size_t nbytes = elements * mnet_dtype_size(t->dtype); /* <= 2^28 * 4 */
    if (data.n != nbytes)
        return fb_corrupt(fb, "buffer size does not match the tensor shape");
    t->data = fb->buf + data.pos;
    t->nbytes = nbytes;
    return 0;
}

static int tfl_tensor(struct fb *fb, struct mnet_graph *g, const struct tfl_model *m,
                      const struct fb_table *tt, struct mnet_tensor *t)
{
    struct fb_vec shape;
    struct fb_table q, sparsity;
    int8_t type;
    uint8_t is_variable;
    uint32_t buffer;
    int r;

    if ((r = fb_field_i8(fb, tt, TENSOR_TYPE, TFL_FLOAT32, &type)) < 0 ||
        (r = tfl_dtype(fb, type, &t->dtype)) < 0 ||
        (r = fb_field_vector(fb, tt, TENSOR_SHAPE, 4, &shape)) < 0 ||
        (r = fb_field_u32(fb, tt, TENSOR_BUFFER, 0, &buffer)) < 0 ||
        (r = fb_field_string(fb, tt, TENSOR_NAME, &t->name)) < 0 ||
        (r = fb_field_u8(fb, tt, TENSOR_IS_VARIABLE, 0, &is_variable)) < 0 ||
        (r = fb_field_table(fb, tt, TENSOR_SPARSITY, &sparsity)) < 0)
        return r;
    if (is_variable)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP, "%s: variable tensors are not supported",
                          fb->where);
    if (sparsity.present)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP, "%s: sparse tensors are not supported",
                          fb->where);

    if (shape.n > MNET_MAX_RANK)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP, "%s: rank %u is over %d", fb->where,
                          shape.n, MNET_MAX_RANK);
    t->rank = (int)shape.n;
    size_t elements = 1;
    for (uint32_t k = 0; k < shape.n; k++) {
        int32_t d = fb_vec_i32(fb, &shape, k);
        if (d < 1)
            return fb_corrupt(fb, "dimension < 1");
        if ((uint32_t)d > TFL_MAX_ELEMENTS / elements)
            return fb_corrupt(fb, "too many elements");
        elements *= (size_t)d; /* stays <= TFL_MAX_ELEMENTS */
        t->shape[k] = d;
    }

    if ((r = tfl_tensor_data(fb, m, buffer, elements, t)) < 0)
        return r;
    if ((r = fb_field_table(fb, tt, TENSOR_QUANTIZATION, &q)) < 0)
        return r;
    if (q.present && (r = tfl_quant(fb, g, &q, t)) < 0)
        return r;
    return 0;
}

/* Builtin code of OperatorCode k: the larger of the deprecated byte field
 * (capped at 127, "PLACEHOLDER_FOR_GREATER_OP_CODES") and the int32 field. */
static int tfl_opcode(struct fb *fb, const struct tfl_model *m, uint32_t k, int32_t *code,
                      const char **custom)
{
    struct fb_table oc;
    int8_t deprecated;
    int32_t builtin;
    int r;

    if (k >= m->opcodes.n)
        return fb_corrupt(fb, "opcode_index out of range");
    if ((r = fb_vector_table(fb, &m->opcodes, k, &oc)) < 0 ||
        (r = fb_field_i8(fb, &oc, OPCODE_DEPRECATED_BUILTIN, 0, &deprecated)) < 0 ||
        (r = fb_field_i32(fb, &oc, OPCODE_BUILTIN, 0, &builtin)) < 0 ||
        (r = fb_field_string(fb, &oc, OPCODE_CUSTOM, custom)) < 0)
        return r;
    *code = deprecated > builtin ? deprecated : builtin;
    return 0;
}

static int tfl_activation(struct fb *fb, uint8_t v, enum mnet_activation *a)
{
    switch (v) {
    case 0: *a = MNET_ACT_NONE; return 0;
    case 1: *a = MNET_ACT_RELU; return 0;
    case 2: *a = MNET_ACT_RELU_N1_TO_1; return 0;
    case 3: *a = MNET_ACT_RELU6; return 0;
    case 4:
    case 5:
        return mnet_error(fb->err, fb->errlen, -ENOTSUP, "%s: unsupported fused activation %s",
                          fb->where, v == 4 ? "TANH" : "SIGN_BIT");
    }
    return fb_corrupt(fb, "unknown fused activation");
}

static int tfl_padding(struct fb *fb, uint8_t v, enum mnet_padding *p)
{
    if (v > 1)
        return fb_corrupt(fb, "unknown padding");
    *p = v == 0 ? MNET_PAD_SAME : MNET_PAD_VALID;
    return 0;
}

static int tfl_check_range(struct fb *fb, int32_t v, int32_t max, const char *what)
{
    if (v < 1 || v > max)
        return mnet_error(fb->err, fb->errlen, -EBADMSG, "corrupt model: %s: %s %d not in 1..%d",
                          fb->where, what, v, max);
    return 0;
}

/* The option tables, field ids from schema.fbs (Conv2DOptions, ...).
 * o may be absent (all fields then take their schema defaults). */
static int tfl_conv_options(struct fb *fb, const struct fb_table *o, bool depthwise, struct mnet_op *op)
{
    uint8_t padding, act;
    int32_t dm = 0;
    int r;
    /* depthwise inserts depth_multiplier at id 3 and shifts the rest by one */
    unsigned act_id = depthwise ? 4 : 3, dil_id = depthwise ? 5 : 4;

    if ((r = fb_field_u8(fb, o, 0, 0, &padding)) < 0 ||
        (r = fb_field_i32(fb, o, 1, 0, &op->stride_w)) < 0 ||
        (r = fb_field_i32(fb, o, 2, 0, &op->stride_h)) < 0 ||
        (r = fb_field_u8(fb, o, act_id, 0, &act)) < 0 ||
        (r = fb_field_i32(fb, o, dil_id, 1, &op->dilation_w)) < 0 ||
        (r = fb_field_i32(fb, o, dil_id + 1, 1, &op->dilation_h)) < 0 ||
        (depthwise && (r = fb_field_i32(fb, o, 3, 0, &dm)) < 0))
        return r;
    if ((r = tfl_padding(fb, padding, &op->padding)) < 0 ||
        (r = tfl_activation(fb, act, &op->activation)) < 0 ||
        (r = tfl_check_range(fb, op->stride_w, TFL_MAX_STRIDE, "stride_w")) < 0 ||
        (r = tfl_check_range(fb, op->stride_h, TFL_MAX_STRIDE, "stride_h")) < 0 ||
        (r = tfl_check_range(fb, op->dilation_w, TFL_MAX_STRIDE, "dilation_w")) < 0 ||
        (r = tfl_check_range(fb, op->dilation_h, TFL_MAX_STRIDE, "dilation_h")) < 0)
        return r;
    if (depthwise) {
        if ((r = tfl_check_range(fb, dm, TFL_MAX_DEPTH_MULTIPLIER, "depth_multiplier")) < 0)
            return r;
        op->depth_multiplier = dm;
    }
    return 0;
}

static int tfl_pool_options(struct fb *fb, const struct fb_table *o, struct mnet_op *op)
{
    uint8_t padding, act;
    int r;
    if ((r = fb_field_u8(fb, o, 0, 0, &padding)) < 0 ||
        (r = fb_field_i32(fb, o, 1, 0, &op->stride_w)) < 0 ||
        (r = fb_field_i32(fb, o, 2, 0, &op->stride_h)) < 0 ||
        (r = fb_field_i32(fb, o, 3, 0, &op->filter_w)) < 0 ||
        (r = fb_field_i32(fb, o, 4, 0, &op->filter_h)) < 0 ||
        (r = fb_field_u8(fb, o, 5, 0, &act)) < 0)
        return r;
    if ((r = tfl_padding(fb, padding, &op->padding)) < 0 ||
        (r = tfl_activation(fb, act, &op->activation)) < 0 ||
        (r = tfl_check_range(fb, op->stride_w, TFL_MAX_STRIDE, "stride_w")) < 0 ||
        (r = tfl_check_range(fb, op->stride_h, TFL_MAX_STRIDE, "stride_h")) < 0 ||
        (r = tfl_check_range(fb, op->filter_w, TFL_MAX_FILTER, "filter_width")) < 0 ||
        (r = tfl_check_range(fb, op->filter_h, TFL_MAX_FILTER, "filter_height")) < 0)
        return r;
    return 0;
}

static int tfl_fc_options(struct fb *fb, const struct fb_table *o, struct mnet_op *op)
{
    uint8_t act, weights_format, keep;
    int r;
    if ((r = fb_field_u8(fb, o, 0, 0, &act)) < 0 ||
        (r = fb_field_u8(fb, o, 1, 0, &weights_format)) < 0 ||
        (r = fb_field_u8(fb, o, 2, 0, &keep)) < 0 ||
        (r = tfl_activation(fb, act, &op->activation)) < 0)
        return r;
    if (weights_format != 0)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP,
                          "%s: FULLY_CONNECTED weights_format %u is not supported", fb->where,
                          weights_format);
    op->keep_dims = keep != 0;
    return 0;
}

/* Fill op's options from the BuiltinOptions union, after checking that the
 * union's type is the one the op uses. */
static int tfl_options(struct fb *fb, const struct fb_table *ot, const struct tfl_op_spec *spec,
                       struct mnet_op *op)
{
    uint8_t type, u8;
    struct fb_table o;
    struct fb_vec unused;
    int r;

    if ((r = fb_field_u8(fb, ot, OPERATOR_OPTIONS_TYPE, OPT_NONE, &type)) < 0)
        return r;
    if (type != OPT_NONE && type != spec->options_type)
        return mnet_error(fb->err, fb->errlen, -EBADMSG,
                          "corrupt model: %s: options type %u does not belong to %s", fb->where,
                          type, mnet_op_name(spec->kind));
    o = (struct fb_table){.present = false};
    if (type != OPT_NONE && (r = fb_field_table(fb, ot, OPERATOR_OPTIONS, &o)) < 0)
        return r;

    switch (spec->kind) {
    case MNET_OP_CONV_2D:
        return tfl_conv_options(fb, &o, false, op);
    case MNET_OP_DEPTHWISE_CONV_2D:
        return tfl_conv_options(fb, &o, true, op);
    case MNET_OP_AVERAGE_POOL_2D:
        return tfl_pool_options(fb, &o, op);
    case MNET_OP_FULLY_CONNECTED:
        return tfl_fc_options(fb, &o, op);
    case MNET_OP_ADD: /* AddOptions and MulOptions: fused_activation_function at id 0 */
    case MNET_OP_MUL:
        if ((r = fb_field_u8(fb, &o, 0, 0, &u8)) < 0)
            return r;
        return tfl_activation(fb, u8, &op->activation);
    case MNET_OP_SOFTMAX:
        /* beta's schema default is 0, but a SOFTMAX without options means beta 1 */
        op->beta = 1.0f;
        if (o.present && (r = fb_field_f32(fb, &o, 0, 0.0f, &op->beta)) < 0)
            return r;
        if (!isfinite(op->beta) || op->beta <= 0.0f)
            return fb_corrupt(fb, "softmax beta not finite and positive");
        return 0;
    case MNET_OP_MEAN:
        if ((r = fb_field_u8(fb, &o, 0, 0, &u8)) < 0)
            return r;
        op->keep_dims = u8 != 0;
        return 0;
    case MNET_OP_SQUEEZE: /* squeeze_dims and new_shape: the output tensor's shape is what */
    case MNET_OP_RESHAPE: /* the planner uses; only check that the vectors are in bounds */
        r = fb_field_vector(fb, &o, 0, 4, &unused);
        return r < 0 ? r : 0;
    default:
        return 0; /* no options */
    }
}

static int tfl_operator(struct fb *fb, const struct tfl_model *m, const struct fb_table *ot,
                        const struct mnet_graph *g, struct mnet_op *op)
{
    uint32_t opcode_index;
    int32_t code = 0;
    const char *custom = "";
    struct fb_vec in, out;
    int r;

    if ((r = fb_field_u32(fb, ot, OPERATOR_OPCODE_INDEX, 0, &opcode_index)) < 0 ||
        (r = tfl_opcode(fb, m, opcode_index, &code, &custom)) < 0)
        return r;
    if (code == TFL_OP_CUSTOM)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP, "%s: unsupported custom op '%.64s'",
                          fb->where, custom);
    const struct tfl_op_spec *spec = NULL;
    for (size_t k = 0; k < sizeof(tfl_ops) / sizeof(tfl_ops[0]); k++)
        if (tfl_ops[k].code == code)
            spec = &tfl_ops[k];
    if (!spec)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP, "%s: unsupported op %s (%d)", fb->where,
                          tfl_op_name(code), (int)code);
    op->kind = spec->kind;

    if ((r = fb_field_vector(fb, ot, OPERATOR_INPUTS, 4, &in)) < 0 ||
        (r = fb_field_vector(fb, ot, OPERATOR_OUTPUTS, 4, &out)) < 0)
        return r;
    if (in.n < spec->min_inputs || in.n > spec->max_inputs)
        return mnet_error(fb->err, fb->errlen, -EBADMSG,
                          "corrupt model: %s: %s has %u inputs, needs %u..%u", fb->where,
                          mnet_op_name(spec->kind), in.n, spec->min_inputs, spec->max_inputs);
    if (out.n != 1)
        return mnet_error(fb->err, fb->errlen, -EBADMSG,
                          "corrupt model: %s: %s has %u outputs, needs 1", fb->where,
                          mnet_op_name(spec->kind), out.n);
    bool has_bias = spec->kind == MNET_OP_CONV_2D || spec->kind == MNET_OP_DEPTHWISE_CONV_2D ||
                    spec->kind == MNET_OP_FULLY_CONNECTED;
    op->n_inputs = (int)in.n;
    for (uint32_t k = 0; k < in.n; k++) {
        int32_t ti = fb_vec_i32(fb, &in, k);
        if (ti == -1 && has_bias && k == 2) {
            op->inputs[k] = -1; /* omitted bias */
            continue;
        }
        if (ti < 0 || ti >= g->n_tensors)
            return fb_corrupt(fb, "input tensor index out of range");
        op->inputs[k] = ti;
    }
    op->output = fb_vec_i32(fb, &out, 0);
    if (op->output < 0 || op->output >= g->n_tensors)
        return fb_corrupt(fb, "output tensor index out of range");
    if (g->tensors[op->output].data)
        return fb_corrupt(fb, "output tensor is a constant");

    return tfl_options(fb, ot, spec, op);
}

/* The single graph input or output. */
static int tfl_graph_io(struct fb *fb, const struct fb_table *sg, unsigned id, const char *what,
                        const struct mnet_graph *g, int *index)
{
    struct fb_vec v;
    int r;
    fb_where(fb, "subgraph %s", what);
    if ((r = fb_field_vector(fb, sg, id, 4, &v)) < 0)
        return r;
    if (v.n != 1)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP, "model has %u %s; exactly 1 is supported",
                          v.n, what);
    int32_t ti = fb_vec_i32(fb, &v, 0);
    if (ti < 0 || ti >= g->n_tensors)
        return fb_corrupt(fb, "tensor index out of range");
    if (g->tensors[ti].data)
        return fb_corrupt(fb, "tensor is a constant");
    *index = ti;
    return 0;
}

/* Best guess at the family, for mnet_info.arch. */
static void tfl_arch(struct mnet_graph *g)
{
    bool hard_swish = false, residual = false, conv = false, v3_name = false;
    for (int i = 0; i < g->n_ops; i++) {
        const struct mnet_op *op = &g->ops[i];
        if (op->kind == MNET_OP_HARD_SWISH)
            hard_swish = true;
        if (op->kind == MNET_OP_ADD && !g->tensors[op->inputs[0]].data &&
            !g->tensors[op->inputs[1]].data)
            residual = true;
        if (op->kind == MNET_OP_CONV_2D || op->kind == MNET_OP_DEPTHWISE_CONV_2D)
            conv = true;
    }
    /* MobileNetV3 "minimalistic" has neither hard-swish nor squeeze-excite and
     * looks like a v2 structurally; its converted tensor names say what it is. */
    for (int i = 0; i < g->n_tensors && !v3_name; i++)
        v3_name = strncmp(g->tensors[i].name, "MobilenetV3/", 12) == 0;
    const char *arch = hard_swish || (v3_name && conv) ? "mobilenet_v3"
                       : residual && conv              ? "mobilenet_v2"
                       : conv                          ? "mobilenet_v1"
                                                       : "unknown";
    snprintf(g->arch, sizeof(g->arch), "%s", arch);
}

static int tfl_parse(struct fb *fb, struct mnet_graph *g)
{
    struct fb_table root, sg;
    struct fb_vec subgraphs, tensors, ops;
    struct tfl_model m;
    uint32_t version;
    size_t root_pos;
    int r;

    fb_where(fb, "header");
    if (fb->len < 8)
        return fb_corrupt(fb, "file too short");
    if (fb->len > TFL_MAX_FILE_BYTES)
        return mnet_error(fb->err, fb->errlen, -EFBIG, "model file over 2 GiB");
    if (memcmp(fb->buf + 4, "TFL3", 4) != 0)
        return mnet_error(fb->err, fb->errlen, -EBADMSG,
                          "not a TFLite model (file identifier is not TFL3)");
    if ((r = fb_follow(fb, 0, &root_pos)) < 0)
        return r;

    fb_where(fb, "model");
    if ((r = fb_table_at(fb, root_pos, &root)) < 0 ||
        (r = fb_field_u32(fb, &root, MODEL_VERSION, 0, &version)) < 0)
        return r;
    if (version != TFL_SCHEMA_VERSION)
        return mnet_error(fb->err, fb->errlen, -ENOTSUP, "TFLite schema version %u, expected %d",
                          version, TFL_SCHEMA_VERSION);
    if ((r = fb_field_vector(fb, &root, MODEL_OPERATOR_CODES, 4, &m.opcodes)) < 0 ||
        (r = fb_field_vector(fb, &root, MODEL_BUFFERS, 4, &m.buffers)) < 0 ||
        (r = fb_field_vector(fb, &root, MODEL_SUBGRAPHS, 4, &subgraphs)) < 0)
        return r;
    if (subgraphs.n < 1)
        return fb_corrupt(fb, "no subgraph");

    /* Subgraph 0 is the model; others would only be called by control-flow
     * ops (IF, WHILE, CALL_ONCE), which are rejected as unsupported. */
    fb_where(fb, "subgraph 0");
    if ((r = fb_vector_table(fb, &subgraphs, 0, &sg)) < 0 ||
        (r = fb_field_vector(fb, &sg, SUBGRAPH_TENSORS, 4, &tensors)) < 0 ||
        (r = fb_field_vector(fb, &sg, SUBGRAPH_OPERATORS, 4, &ops)) < 0)
        return r;
    if (tensors.n < 1 || tensors.n > TFL_MAX_TENSORS)
        return fb_corrupt(fb, "tensor count out of range");
    if (ops.n < 1 || ops.n > TFL_MAX_OPS)
        return fb_corrupt(fb, "operator count out of range");

    g->n_tensors = (int)tensors.n;
    g->n_ops = (int)ops.n;
    g->tensors = mnet_graph_alloc(g, (size_t)tensors.n * sizeof(*g->tensors));
    g->ops = mnet_graph_alloc(g, (size_t)ops.n * sizeof(*g->ops));
    if (!g->tensors || !g->ops)
        return mnet_error(fb->err, fb->errlen, -ENOMEM, "out of memory");

    for (uint32_t i = 0; i < tensors.n; i++) {
        struct fb_table tt;
        fb_where(fb, "tensor %u", i);
        if ((r = fb_vector_table(fb, &tensors, i, &tt)) < 0 ||
            (r = tfl_tensor(fb, g, &m, &tt, &g->tensors[i])) < 0)
            return r;
    }
    if ((r = tfl_graph_io(fb, &sg, SUBGRAPH_INPUTS, "inputs", g, &g->input)) < 0 ||
        (r = tfl_graph_io(fb, &sg, SUBGRAPH_OUTPUTS, "outputs", g, &g->output)) < 0)
        return r;
    for (uint32_t i = 0; i < ops.n; i++) {
        struct fb_table ot;
        fb_where(fb, "operator %u", i);
        if ((r = fb_vector_table(fb, &ops, i, &ot)) < 0 ||
            (r = tfl_operator(fb, &m, &ot, g, &g->ops[i])) < 0)
            return r;
    }
    tfl_arch(g);
    return 0;
}

int mnet_tflite_parse(const uint8_t *buf, size_t len, struct mnet_graph *g, char *err,
                      size_t errlen)
{
    if (!buf || !g)
        return mnet_error(err, errlen, -EINVAL, "mnet_tflite_parse: NULL argument");
    struct fb fb = {.buf = buf, .len = len, .err = err, .errlen = errlen, .quant_budget = len / 8};
    struct mnet_graph tmp = {0};
    int r = tfl_parse(&fb, &tmp);
    if (r < 0) {
        mnet_graph_free(&tmp);
        return r;
    }
    *g = tmp;
    return 0;
}
