/* test_builder.c: the MobileNet builders against the papers' published sizes.
 *
 * Independent truth: multiply-adds and parameter counts published with the
 * papers (v1, arXiv 1704.04861 Tables 6-7: 1.0/0.75/0.5-224 569M/325M/149M
 * MACs, 4.2M/2.6M/1.3M params, 1.0-160 290M; v2, the TF-slim MobileNetV2
 * table: 1.0/0.75/0.5/0.35-224 300M/209M/97M/59M MACs, 3.47M/2.61M/1.95M/1.66M
 * params), TFLite's structural rules for int8 graphs, and,
 * through the planner, that the networks run with finite, non-constant,
 * normalized outputs in float32 and int8 (and that the two agree on the
 * network's preferences, since they carry the same weights).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "mnet.h"
#include "check.h"


static size_t elems(const struct mnet_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->shape[i];
    return n;
}

struct counts {
    double macs, params;
    int convs, dws, adds, pools, softmax;
};

/* Walks the graph checking that every op's tensors are consistent, and counts
 * multiply-adds (conv, depthwise) and parameters (weights + biases). */
static struct counts walk(const struct mnet_graph *g, int int8, const char *what)
{
    struct counts c = { 0 };
    for (int i = 0; i < g->n_ops; i++) {
        const struct mnet_op *op = &g->ops[i];
        CHECK(op->output >= 0 && op->output < g->n_tensors, "%s op %d output", what, i);
        for (int j = 0; j < op->n_inputs; j++)
            CHECK(op->inputs[j] >= -1 && op->inputs[j] < g->n_tensors, "%s op %d input", what, i);
        const struct mnet_tensor *out = &g->tensors[op->output];
        CHECK(out->data == NULL, "%s op %d writes a constant", what, i);
        if (op->kind == MNET_OP_CONV_2D || op->kind == MNET_OP_DEPTHWISE_CONV_2D) {
            const struct mnet_tensor *x = &g->tensors[op->inputs[0]];
            const struct mnet_tensor *w = &g->tensors[op->inputs[1]];
            const struct mnet_tensor *b = &g->tensors[op->inputs[2]];
            int dw = op->kind == MNET_OP_DEPTHWISE_CONV_2D;
            CHECK(w->data && b->data && w->rank == 4 && b->rank == 1, "%s op %d consts", what, i);
            CHECK(x->rank == 4 && out->rank == 4, "%s op %d ranks", what, i);
            int oc = out->shape[3];
            CHECK(b->shape[0] == oc, "%s op %d bias %d vs %d", what, i, b->shape[0], oc);
            if (dw)
                CHECK(w->shape[0] == 1 && w->shape[3] == oc && x->shape[3] == oc, "%s dw %d", what, i);
            else
                CHECK(w->shape[0] == oc && w->shape[3] == x->shape[3], "%s conv %d", what, i);
            int s = op->stride_h;
            CHECK(out->shape[1] == (x->shape[1] + s - 1) / s, "%s op %d SAME height", what, i);
            size_t per = (size_t)w->shape[1] * w->shape[2] * (dw ? 1 : w->shape[3]);
            c.macs += (double)elems(out) * per;
            c.params += (double)elems(w) + elems(b);
            if (dw)
                c.dws++;
            else
                c.convs++;
            CHECK(w->nbytes == elems(w) * mnet_dtype_size(w->dtype), "%s op %d nbytes", what, i);
            if (int8) {
                CHECK(w->dtype == MNET_I8 && b->dtype == MNET_I32, "%s op %d dtypes", what, i);
                CHECK(w->q.count == oc && w->q.axis == (dw ? 3 : 0), "%s op %d per-channel", what, i);
                CHECK(b->q.count == oc, "%s op %d bias quant", what, i);
                const int8_t *wd = w->data;
                int bad = 0;
                for (size_t k = 0; k < elems(w); k++)
                    bad += wd[k] == -128;
                CHECK(bad == 0, "%s op %d: -128 in symmetric weights", what, i);
                for (int k = 0; k < oc && w->q.count == oc && b->q.count == oc; k++) {
                    CHECK(w->q.zero_point[k] == 0, "%s op %d weight zp", what, i);
                    float want = x->q.scale[0] * w->q.scale[k];
                    CHECK(fabsf(b->q.scale[k] - want) <= 1e-6f * want, "%s op %d bias scale", what, i);
                    if (w->q.zero_point[k] || fabsf(b->q.scale[k] - want) > 1e-6f * want)
                        break;
                }
                CHECK(x->dtype == MNET_I8 && out->dtype == MNET_I8, "%s op %d act dtypes", what, i);
                if (op->activation == MNET_ACT_RELU6) /* TFLite: [0, 6] for fused ReLU6 */
                    CHECK(out->q.count == 1 && out->q.zero_point[0] == -128 &&
                              fabsf(out->q.scale[0] * 255.0f - 6.0f) < 1e-4f,
                          "%s op %d relu6 range", what, i);
            } else {
                CHECK(w->dtype == MNET_F32 && b->dtype == MNET_F32 && out->dtype == MNET_F32,
                      "%s op %d float dtypes", what, i);
            }
        } else if (op->kind == MNET_OP_ADD) {
            c.adds++;
            const struct mnet_tensor *x = &g->tensors[op->inputs[0]], *y = &g->tensors[op->inputs[1]];
            CHECK(elems(x) == elems(out) && elems(y) == elems(out), "%s add %d shapes", what, i);
        } else if (op->kind == MNET_OP_AVERAGE_POOL_2D) {
            c.pools++;
            const struct mnet_tensor *x = &g->tensors[op->inputs[0]];
            CHECK(op->padding == MNET_PAD_VALID && op->filter_h == x->shape[1] &&
                      op->filter_w == x->shape[2] && out->shape[1] == 1 && out->shape[2] == 1,
                  "%s pool %d over the whole map", what, i);
            if (int8)
                CHECK(out->q.scale[0] == x->q.scale[0] && out->q.zero_point[0] == x->q.zero_point[0],
                      "%s pool %d keeps quantization", what, i);
        } else if (op->kind == MNET_OP_SOFTMAX) {
            c.softmax++;
            if (int8)
                CHECK(out->q.scale[0] == 1.0f / 256 && out->q.zero_point[0] == -128,
                      "%s softmax output quantization", what);
        }
    }
    return c;
}

static void test_sizes(void)
{
    static const struct {
        int version;
        float alpha;
        double macs_m, params_m; /* published */
        int convs, dws, adds;
    } cases[] = {
        /* v1: stem + 13 pointwise + logits conv; 13 depthwise; no adds. */
        { 1, 1.0f, 569, 4.2, 15, 13, 0 },
        { 1, 0.75f, 325, 2.6, 15, 13, 0 },
        { 1, 0.5f, 149, 1.3, 15, 13, 0 },
        /* v2: stem + 16 expands + 17 projects + Conv_1 + logits; 17 depthwise; 10 adds. */
        { 2, 1.0f, 300, 3.47, 36, 17, 10 },
        { 2, 0.75f, 209, 2.61, 36, 17, 10 },
        { 2, 0.5f, 97, 1.95, 36, 17, 10 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int int8 = 0; int8 <= 1; int8++) {
            struct mnet_build_spec spec = { cases[i].version, cases[i].alpha, 224, 1001,
                                            int8 ? MNET_I8 : MNET_F32, 42 };
            struct mnet_graph g;
            memset(&g, 0, sizeof g);
            char err[128] = "";
            char what[64];
            snprintf(what, sizeof what, "v%d %.2f %s", spec.version, (double)spec.alpha,
                     int8 ? "int8" : "fp32");
            int rc = mnet_build_graph(&spec, &g, err, sizeof err);
            CHECK(rc == 0, "%s: %s", what, err);
            if (rc)
                continue;
            struct counts c = walk(&g, int8, what);
            double macs = c.macs / 1e6, params = c.params / 1e6;
            printf("%s: %.1fM MACs (paper %.0fM), %.3fM params (paper %.2fM), %d ops\n", what, macs,
                   cases[i].macs_m, params, cases[i].params_m, g.n_ops);
            /* The papers count 1000 classes; 1001 adds one logit row. */
            CHECK(fabs(macs - cases[i].macs_m) <= 0.01 * cases[i].macs_m + 1.5, "%s MACs %.1fM", what,
                  macs);
            CHECK(fabs(params - cases[i].params_m) <= 0.03 * cases[i].params_m, "%s params %.3fM",
                  what, params);
            CHECK(c.convs == cases[i].convs && c.dws == cases[i].dws && c.adds == cases[i].adds,
                  "%s layers conv %d dw %d add %d", what, c.convs, c.dws, c.adds);
            CHECK(c.pools == 1 && c.softmax == 1, "%s head", what);
            CHECK(strcmp(g.arch, spec.version == 1 ? "mobilenet_v1" : "mobilenet_v2") == 0, "%s arch",
                  what);
            const struct mnet_tensor *in = &g.tensors[g.input], *out = &g.tensors[g.output];
            CHECK(in->rank == 4 && in->shape[1] == 224 && in->shape[2] == 224 && in->shape[3] == 3,
                  "%s input shape", what);
            CHECK(out->rank == 2 && out->shape[0] == 1 && out->shape[1] == 1001, "%s output shape", what);
            if (int8)
                CHECK(in->dtype == MNET_U8 && in->q.count == 1 && in->q.zero_point[0] == 128 &&
                          in->q.scale[0] == 1.0f / 128,
                      "%s input quantization", what);
            mnet_graph_free(&g);
        }
    }
    /* v2 0.35: make_divisible rounding matters most here (16 * 0.35 -> 8). */
    struct mnet_build_spec spec = { 2, 0.35f, 224, 1001, MNET_F32, 1 };
    struct mnet_graph g;
    memset(&g, 0, sizeof g);
    CHECK(mnet_build_graph(&spec, &g, NULL, 0) == 0, "v2 0.35");
    struct counts c = walk(&g, 0, "v2 0.35");
    CHECK(fabs(c.macs / 1e6 - 59) <= 0.02 * 59, "v2 0.35 MACs %.1fM (published 59M)", c.macs / 1e6);
    CHECK(fabs(c.params / 1e6 - 1.66) <= 0.03 * 1.66, "v2 0.35 params %.3fM (published 1.66M)",
          c.params / 1e6);
    mnet_graph_free(&g);
    /* Resolution multiplier: v1 1.0-160 (published 290M MACs) pools over 5x5. */
    spec = (struct mnet_build_spec){ 1, 1.0f, 160, 1001, MNET_I8, 1 };
    memset(&g, 0, sizeof g);
    CHECK(mnet_build_graph(&spec, &g, NULL, 0) == 0, "v1 1.0-160");
    c = walk(&g, 1, "v1 1.0-160");
    CHECK(fabs(c.macs / 1e6 - 290) <= 0.01 * 290 + 1.5, "v1 160 MACs %.1fM (published 290M)",
          c.macs / 1e6);
    mnet_graph_free(&g);
}

static void test_seed_and_errors(void)
{
    struct mnet_build_spec spec = { 2, 0.5f, 96, 10, MNET_I8, 7 };
    struct mnet_graph a, b, c;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    CHECK(mnet_build_graph(&spec, &a, NULL, 0) == 0, "build a");
    CHECK(mnet_build_graph(&spec, &b, NULL, 0) == 0, "build b");
    spec.seed = 8;
    CHECK(mnet_build_graph(&spec, &c, NULL, 0) == 0, "build c");
    int same = 1, differ = 0;
    for (int i = 0; i < a.n_tensors && a.n_tensors == b.n_tensors && a.n_tensors == c.n_tensors; i++) {
        if (!a.tensors[i].data)
            continue;
        same &= memcmp(a.tensors[i].data, b.tensors[i].data, a.tensors[i].nbytes) == 0;
        differ |= a.tensors[i].nbytes > 8 &&
                  memcmp(a.tensors[i].data, c.tensors[i].data, a.tensors[i].nbytes) != 0;
    }
    CHECK(same, "same seed, same weights");
    CHECK(differ, "other seed, other weights");
    mnet_graph_free(&a);
    mnet_graph_free(&b);
    mnet_graph_free(&c);

    struct mnet_graph g;
    memset(&g, 0x5a, sizeof g);
    char err[128] = "";
    struct mnet_build_spec bad[] = {
        { 3, 1.0f, 224, 1001, MNET_F32, 0 }, { 1, 0.0f, 224, 1001, MNET_F32, 0 },
        { 2, 1.0f, 16, 1001, MNET_F32, 0 },  { 2, 1.0f, 224, 0, MNET_F32, 0 },
        { 1, 1.0f, 224, 1001, MNET_I32, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = mnet_build_graph(&bad[i], &g, err, sizeof err);
        CHECK(rc == -EINVAL || rc == -ENOTSUP, "bad spec %zu: rc %d", i, rc);
        CHECK(err[0] != 0, "bad spec %zu: no message", i);
    }
    struct mnet_graph untouched;
    memset(&untouched, 0x5a, sizeof untouched);
    CHECK(memcmp(&g, &untouched, sizeof g) == 0, "graph untouched on failure");
}

#ifndef TEST_BUILDER_GRAPH_ONLY
/* Through the whole engine: build, plan, run a batch of 2 random images. */
static void test_run(int version, enum mnet_dtype numerics, float *probs_out)
{
    struct mnet_build_spec spec = { version, 1.0f, 224, 1001, numerics, 42 };
    struct mnet_options opt = { .threads = 2, .max_batch = 2 };
    mnet_model *m = NULL;
    char err[256] = "";
    const char *what = numerics == MNET_I8 ? "int8" : "fp32";
    int rc = mnet_build(&spec, &opt, &m, err, sizeof err);
    CHECK(rc == 0, "mnet_build v%d %s: %s", version, what, err);
    if (rc)
        return;
    const struct mnet_info *info = mnet_get_info(m);
    CHECK(info->classes == 1001 && info->height == 224 && info->output_is_softmax, "info");
    /* Images: a smooth pattern so neighbouring pixels correlate, different per image. */
    static uint8_t rgb[2 * 224 * 224 * 3];
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 224 * 224 * 3; i++)
            rgb[n * 224 * 224 * 3 + i] = (uint8_t)(128 + 120 * sin(i * 0.001 * (n + 1) + n));
    static float scores[2 * 1001];
    rc = mnet_classify(m, rgb, 2, scores);
    CHECK(rc == 0, "classify v%d %s rc %d", version, what, rc);
    for (int n = 0; n < 2 && rc == 0; n++) {
        const float *s = scores + n * 1001;
        double sum = 0, mn = 1, mx = 0;
        int finite = 1;
        for (int i = 0; i < 1001; i++) {
            finite &= isfinite(s[i]);
            sum += s[i];
            mn = s[i] < mn ? s[i] : mn;
            mx = s[i] > mx ? s[i] : mx;
        }
        printf("v%d %s image %d: sum %.4f min %.5f max %.5f\n", version, what, n, sum, mn, mx);
        CHECK(finite, "v%d %s: non-finite scores", version, what);
        CHECK(fabs(sum - 1.0) < 0.05, "v%d %s: scores sum %.4f", version, what, sum);
        CHECK(mx > 2.0 * mn + 1e-3 && mx > 1.5 / 1001, "v%d %s: flat scores", version, what);
    }
    CHECK(memcmp(scores, scores + 1001, 1001 * sizeof *scores) != 0, "v%d %s: images alike", version,
          what);
    memcpy(probs_out, scores, sizeof scores);
    mnet_free(m);
}

/* Pearson correlation of the float and int8 scores: the int8 graph carries
 * the same (quantized) weights, so the two must broadly agree. */
static double correlation(const float *a, const float *b, int n)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    for (int i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb + 1e-30);
}
#endif

int main(void)
{
    test_sizes();
    test_seed_and_errors();
#ifndef TEST_BUILDER_GRAPH_ONLY
    static float f32[2 * 1001], i8[2 * 1001];
    for (int v = 1; v <= 2; v++) {
        memset(f32, 0, sizeof f32);
        memset(i8, 0, sizeof i8);
        test_run(v, MNET_F32, f32);
        test_run(v, MNET_I8, i8);
        double r = correlation(f32, i8, 2 * 1001);
        printf("v%d: correlation fp32 vs int8 scores %.3f\n", v, r);
        CHECK(r > 0.9, "v%d: int8 and fp32 disagree (r = %.3f)", v, r);
    }
#endif
    return check_summary();
}
