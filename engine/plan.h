/* plan.h: validated, prepared execution plan of a graph (internal).
 *
 * mnet_plan_build checks the whole graph (shapes recomputed op by op, dtypes,
 * quantization, use-before-definition, graph input/output), prepares weights
 * once (packing, folded biases, multipliers), turns RESHAPE/SQUEEZE into
 * aliases, and sizes one activation arena for max_batch images with offsets
 * reused by tensor liveness.  mnet_plan_run then never allocates.
 *
 * Ownership: the plan copies or converts everything it needs from the graph
 * except constant tensor data it reads at build time only; the graph (and the
 * file buffer behind it) may be freed once mnet_plan_build returns.
 * Thread-safety: one mnet_plan_run at a time per plan (it owns the arena).
 */
#ifndef MNET_PLAN_H
#define MNET_PLAN_H

#include <stdio.h>

#include "graph.h"
#include "mnet.h"

struct mnet_plan;

struct mnet_plan_io {
    int height, width, channels;   /* input image (NHWC, batch 1 in the graph) */
    enum mnet_dtype input_type;    /* what mnet_plan_run reads */
    float input_scale;             /* 0 for float inputs */
    int32_t input_zero_point;
    int classes;                   /* output elements per image */
    enum mnet_dtype output_type;   /* what mnet_plan_run writes */
    float output_scale;            /* 0 for float outputs */
    int32_t output_zero_point;
    int output_is_softmax;
    enum mnet_dtype numerics;      /* F32, U8 or I8 as run */
    size_t arena_bytes;
    size_t weights_bytes;          /* constant tensor bytes in the graph */
    int threads;
    int max_batch;
    int fused_blocks;              /* depthwise chains run as one kernel (fblock_run) */
};

/* opt may be NULL (defaults).  Errors: -EBADMSG inconsistent graph,
 * -ENOTSUP valid but unsupported, -ENOMEM, -EINVAL bad options. */
int mnet_plan_build(const struct mnet_graph *g, const struct mnet_options *opt,
                    struct mnet_plan **out, char *err, size_t errlen);
void mnet_plan_free(struct mnet_plan *p);
const struct mnet_plan_io *mnet_plan_io(const struct mnet_plan *p);

/* Runs n images, 1 <= n <= max_batch: input (n, H, W, C) in io.input_type,
 * output (n, classes) in io.output_type. */
int mnet_plan_run(struct mnet_plan *p, const void *input, int n, void *output);

/* Per-step time accumulation (for mnet-bench --profile): off, wall-clock
 * time, or the profiling thread's CPU time (a step's compute without the
 * time a busy host steals from it; meaningful with one thread, or a batch
 * of at least one image per thread, where the first thread is timed). */
enum mnet_profile_clock { MNET_PROFILE_OFF, MNET_PROFILE_WALL, MNET_PROFILE_CPU };
void mnet_plan_set_profile(struct mnet_plan *p, enum mnet_profile_clock clock);
void mnet_plan_print_profile(const struct mnet_plan *p, FILE *f, int json, int iters,
                             int threads);

/* The same through a loaded model (model.c). */
void mnet_plan_profile_enable(mnet_model *m, enum mnet_profile_clock clock);
void mnet_plan_profile_print(const mnet_model *m, FILE *f, int json, int iters, int threads);

#endif
