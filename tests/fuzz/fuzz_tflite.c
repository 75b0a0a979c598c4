/* fuzz_tflite.c: libFuzzer target for the TFLite reader (and, through
 * mnet_load_buffer, the planner once it exists).
 *
 * Every accepted graph is walked so that a pointer or index the reader let
 * through unchecked turns into an AddressSanitizer report here.  Seed it with
 * real models, or better with structure-only copies of them (big weight
 * buffers emptied) so mutations land in tables rather than in weights.
 *
 * Built with -DMNET_FUZZ_LOAD (and linked with the engine library) it also
 * runs every input through mnet_load_buffer, and runs a model that loads on
 * a zero image when its input is at most 64x64 (bigger runs are too slow to
 * fuzz; test_corrupt runs full-size ones).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "graph.h"
#ifdef MNET_FUZZ_LOAD
#include <stdlib.h>

#include "mnet.h"

static void fuzz_load(const uint8_t *data, size_t size)
{
    struct mnet_options opt = {.threads = 1, .max_batch = 1};
    mnet_model *m = NULL;
    char err[256];
    if (mnet_load_buffer(data, size, &opt, &m, err, sizeof(err)) != 0)
        return;
    const struct mnet_info *info = mnet_get_info(m);
    if ((size_t)info->height * (size_t)info->width <= 64 * 64) {
        size_t esize = info->input_type == MNET_F32 ? 4 : 1;
        size_t osize = info->output_type == MNET_F32 ? 4 : 1;
        void *in = calloc((size_t)info->height * info->width * info->channels, esize);
        void *out = calloc((size_t)info->classes, osize);
        if (in && out && mnet_run(m, in, 1, out) != 0)
            __builtin_trap(); /* a model that loads must run */
        free(in);
        free(out);
    }
    mnet_free(m);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef MNET_FUZZ_LOAD
    fuzz_load(data, size);
#endif
    struct mnet_graph g = {0};
    char err[256];
    if (mnet_tflite_parse(data, size, &g, err, sizeof(err)) != 0) {
        /* the message is always terminated */
        sink += strlen(err);
        return 0;
    }
    uint64_t h = 0;
    for (int i = 0; i < g.n_tensors; i++) {
        const struct mnet_tensor *t = &g.tensors[i];
        h += strlen(t->name);
        if (t->data && t->nbytes) /* first and last byte of constant data */
            h += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
        for (int k = 0; k < t->q.count; k++)
            h += (uint64_t)t->q.zero_point[k] + (uint64_t)(t->q.scale[k] > 0);
    }
    for (int i = 0; i < g.n_ops; i++)
        for (int k = 0; k < g.ops[i].n_inputs; k++)
            if (g.ops[i].inputs[k] >= 0)
                h += (uint64_t)g.tensors[g.ops[i].inputs[k]].rank;
    h += (uint64_t)g.tensors[g.input].rank + (uint64_t)g.tensors[g.output].rank;
    sink += h;
    mnet_graph_free(&g);
    return 0;
}
