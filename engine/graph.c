/* graph.c: memory owned by a graph, op and dtype names, the error helper.
 *
 * A graph's arrays live in a singly linked list of heap blocks hanging off
 * g->owned, so mnet_graph_free releases everything the reader or a builder
 * allocated without either of them keeping track.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

struct mnet_graph_block {
    struct mnet_graph_block *next;
    /* max_align_t keeps the payload aligned for any type the graph stores */
    max_align_t payload[];
};

void *mnet_graph_alloc(struct mnet_graph *g, size_t size)
{
    if (!g)
        return NULL;
    if (size > SIZE_MAX - sizeof(struct mnet_graph_block))
        return NULL;
    struct mnet_graph_block *b = calloc(1, sizeof(*b) + size);
    if (!b)
        return NULL;
    b->next = g->owned;
    g->owned = b;
    return b->payload;
}

void mnet_graph_free(struct mnet_graph *g)
{
    if (!g)
        return;
    struct mnet_graph_block *b = g->owned;
    while (b) {
        struct mnet_graph_block *next = b->next;
        free(b);
        b = next;
    }
    /* Everything the graph pointed at is gone (or was the caller's buffer):
     * leave no dangling pointers behind. */
    memset(g, 0, sizeof(*g));
}

const char *mnet_op_name(enum mnet_op_kind kind)
{
    static const char *const names[MNET_OP_COUNT] = {
        [MNET_OP_CONV_2D] = "CONV_2D",
        [MNET_OP_DEPTHWISE_CONV_2D] = "DEPTHWISE_CONV_2D",
        [MNET_OP_FULLY_CONNECTED] = "FULLY_CONNECTED",
        [MNET_OP_ADD] = "ADD",
        [MNET_OP_MUL] = "MUL",
        [MNET_OP_AVERAGE_POOL_2D] = "AVERAGE_POOL_2D",
        [MNET_OP_MEAN] = "MEAN",
        [MNET_OP_RESHAPE] = "RESHAPE",
        [MNET_OP_SQUEEZE] = "SQUEEZE",
        [MNET_OP_SOFTMAX] = "SOFTMAX",
        [MNET_OP_QUANTIZE] = "QUANTIZE",
        [MNET_OP_DEQUANTIZE] = "DEQUANTIZE",
        [MNET_OP_HARD_SWISH] = "HARD_SWISH",
        [MNET_OP_LOGISTIC] = "LOGISTIC",
        [MNET_OP_RELU] = "RELU",
        [MNET_OP_RELU6] = "RELU6",
    };
    if ((unsigned)kind >= MNET_OP_COUNT || !names[kind])
        return "UNKNOWN";
    return names[kind];
}

const char *mnet_dtype_name(enum mnet_dtype t)
{
    switch (t) {
    case MNET_F32: return "float32";
    case MNET_U8: return "uint8";
    case MNET_I8: return "int8";
    case MNET_I32: return "int32";
    }
    return "unknown";
}

size_t mnet_dtype_size(enum mnet_dtype t)
{
    switch (t) {
    case MNET_F32: return 4;
    case MNET_I32: return 4;
    case MNET_U8: return 1;
    case MNET_I8: return 1;
    }
    return 0;
}

int mnet_error(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
