/* graph.h: the engine's internal model representation (not public).
 *
 * Both the TFLite reader (tflite.c) and the MobileNet builders (builder.c)
 * produce a struct mnet_graph; the planner (plan.c) validates it, prepares
 * weights and runs it.  A graph is plain data: tensors and operators in
 * execution order, exactly as the file describes them (batch dimension 1).
 *
 * Ownership: every array and every piece of tensor data the graph needs is
 * either inside the caller's file buffer (which must outlive the graph) or
 * allocated with mnet_graph_alloc and released by mnet_graph_free.
 */
#ifndef MNET_GRAPH_H
#define MNET_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "mnet.h"

#define MNET_MAX_RANK 4

struct mnet_qparams {
    int count;            /* 0: not quantized, 1: per-tensor, >1: per-channel along axis */
    int axis;             /* quantized dimension for per-channel */
    const float *scale;   /* count entries, all > 0 and finite (checked by the reader) */
    const int32_t *zero_point; /* count entries */
};

struct mnet_tensor {
    enum mnet_dtype dtype;
    int rank;                  /* 0..4; rank 0 is a scalar */
    int shape[MNET_MAX_RANK];  /* activations are NHWC (rank 4) or (N, C) (rank 2) */
    struct mnet_qparams q;
    const void *data;          /* constant tensors: nbytes bytes, little-endian; NULL for activations */
    size_t nbytes;             /* == element count * dtype size when data != NULL */
    const char *name;          /* may be "" but never NULL */
};

enum mnet_op_kind {
    MNET_OP_CONV_2D,
    MNET_OP_DEPTHWISE_CONV_2D,
    MNET_OP_FULLY_CONNECTED,
    MNET_OP_ADD,
    MNET_OP_MUL,
    MNET_OP_AVERAGE_POOL_2D,
    MNET_OP_MEAN,
    MNET_OP_RESHAPE,
    MNET_OP_SQUEEZE,
    MNET_OP_SOFTMAX,
    MNET_OP_QUANTIZE,
    MNET_OP_DEQUANTIZE,
    MNET_OP_HARD_SWISH,
    MNET_OP_LOGISTIC,
    MNET_OP_RELU,
    MNET_OP_RELU6,
    MNET_OP_COUNT
};

enum mnet_activation { MNET_ACT_NONE, MNET_ACT_RELU, MNET_ACT_RELU_N1_TO_1, MNET_ACT_RELU6 };
enum mnet_padding { MNET_PAD_SAME, MNET_PAD_VALID };

#define MNET_OP_MAX_INPUTS 3

struct mnet_op {
    enum mnet_op_kind kind;
    int n_inputs;
    int inputs[MNET_OP_MAX_INPUTS]; /* tensor indices; -1 for an omitted optional input (bias) */
    int output;                     /* every supported op has exactly one output */
    /* options, as the kind uses them (zero otherwise) */
    enum mnet_padding padding;      /* conv, depthwise, pool */
    int stride_h, stride_w;         /* conv, depthwise, pool */
    int dilation_h, dilation_w;     /* conv, depthwise (1 when absent) */
    int depth_multiplier;           /* depthwise */
    int filter_h, filter_w;         /* pool */
    enum mnet_activation activation; /* fused activation: conv, depthwise, fc, add, mul, pool */
    float beta;                     /* softmax (1.0 when absent) */
    int keep_dims;                  /* mean, fully connected */
};

struct mnet_graph {
    struct mnet_tensor *tensors;
    int n_tensors;
    struct mnet_op *ops;            /* in execution order */
    int n_ops;
    int input, output;              /* the single graph input and output tensor */
    char arch[32];                  /* best guess, see mnet_info.arch */
    struct mnet_graph_block *owned; /* allocations freed with the graph */
};

/* Zeroed memory that lives as long as the graph; NULL on overflow or ENOMEM. */
void *mnet_graph_alloc(struct mnet_graph *g, size_t size);
void mnet_graph_free(struct mnet_graph *g); /* frees what the graph owns; g itself is the caller's */

/* tflite.c: parse a TFLite flatbuffer (buf must outlive the graph).  Checks
 * every offset, length, index, shape and buffer size; returns -EBADMSG for a
 * corrupt file, -ENOTSUP naming an unsupported op or type. */
int mnet_tflite_parse(const uint8_t *buf, size_t len, struct mnet_graph *g,
                      char *err, size_t errlen);

/* builder.c: MobileNet v1/v2 from the papers' layer tables, seeded weights. */
int mnet_build_graph(const struct mnet_build_spec *spec, struct mnet_graph *g,
                     char *err, size_t errlen);

const char *mnet_op_name(enum mnet_op_kind kind);
size_t mnet_dtype_size(enum mnet_dtype t);

/* Writes printf-style text to err (if not NULL) and returns code. */
int mnet_error(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
