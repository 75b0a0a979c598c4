/* bench.c: mnet-bench, the engine's latency benchmark.
 *
 *   mnet-bench --model v1|v2|FILE --precision fp32|int8 --batch B --threads T
 *              --iters N --warmup W [--json] [--profile[=cpu]] [--alpha A]
 *              [--resolution R] [--seed S]
 *
 * v1 / v2 are the builders' MobileNet 1.0-224 networks (1001 classes, random
 * weights); FILE is a .tflite, run in its own numerics unless --precision
 * fp32 asks for float32 (the builders default to fp32).  Each iteration times one mnet_run call
 * on the whole batch; nothing else is inside the timed region.
 *
 * --json prints one JSON object (the contract of ../shared/bench/peers):
 *   {"model":..., "precision":..., "batch":B, "threads":T, "ms":[...per
 *    iteration...], "median_ms":..., "median_ms_per_image":..., "peak_rss_kb":...}
 * --profile adds per-layer times (see plan.h's profiling hook); --profile=cpu
 * times each step with the profiling thread's CPU clock instead of the wall
 * clock (what a busy host steals is left out; meaningful with --threads 1 or
 * a batch of at least one image per thread).
 * OpenMP threads spin briefly, then sleep, as in mobilenetd (omp_wait.h);
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT in the environment override that.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kernels.h"
#include "mnet.h"
#include "omp_wait.h"
#include "plan.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mnet-bench --model v1|v2|FILE [--precision fp32|int8|native] [--batch B] [--threads T]\n"
            "                  [--iters N] [--warmup W] [--json] [--profile[=cpu]]\n"
            "                  [--alpha A] [--resolution R] [--seed S]\n");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return NAN;
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

/* JSON string body: the model path is the only free text we print. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    mnet_omp_bound_spin(argv); /* measure the engine as mobilenetd runs it */
    const char *model = NULL, *precision = NULL; /* NULL: fp32 builder, native file */
    int batch = 1, threads = 1, iters = 10, warmup = 2, json = 0;
    enum mnet_profile_clock profile = MNET_PROFILE_OFF;
    int resolution = 224;
    double alpha = 1.0;
    unsigned long long seed = 42;
    static const struct option longopts[] = {
        { "model", required_argument, 0, 'm' },     { "precision", required_argument, 0, 'p' },
        { "batch", required_argument, 0, 'b' },     { "threads", required_argument, 0, 't' },
        { "iters", required_argument, 0, 'n' },     { "warmup", required_argument, 0, 'w' },
        { "json", no_argument, 0, 'j' },            { "profile", optional_argument, 0, 'P' },
        { "alpha", required_argument, 0, 'a' },     { "resolution", required_argument, 0, 'r' },
        { "seed", required_argument, 0, 's' },      { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:p:b:t:n:w:jPa:r:s:h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': precision = optarg; break;
        case 'b': bad = parse_int(optarg, 1, 4096, &batch); break;
        case 't': bad = parse_int(optarg, 1, 1024, &threads); break;
        case 'n': bad = parse_int(optarg, 1, 1000000, &iters); break;
        case 'w': bad = parse_int(optarg, 0, 1000000, &warmup); break;
        case 'j': json = 1; break;
        case 'P':
            profile = !optarg                ? MNET_PROFILE_WALL
                      : !strcmp(optarg, "cpu") ? MNET_PROFILE_CPU
                                               : MNET_PROFILE_OFF;
            bad = !profile;
            break;
        case 'a': alpha = atof(optarg); bad = !(alpha > 0 && alpha <= 4); break;
        case 'r': bad = parse_int(optarg, 32, 2048, &resolution); break;
        case 's': seed = strtoull(optarg, NULL, 0); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) {
            const char *name = "?";
            for (const struct option *o = longopts; o->name; o++)
                if (o->val == c)
                    name = o->name;
            fprintf(stderr, "mnet-bench: bad value for --%s: %s\n", name, optarg);
            return 2;
        }
    }
    if (!model || optind != argc) {
        usage(stderr);
        return 2;
    }
    const int builder = !strcmp(model, "v1") || !strcmp(model, "v2");
    if (!precision)
        precision = builder ? "fp32" : "native";
    int int8 = !strcmp(precision, "int8");
    if (!int8 && strcmp(precision, "fp32") && (builder || strcmp(precision, "native"))) {
        fprintf(stderr, "mnet-bench: --precision must be fp32 or int8 (or native, for a file)\n");
        return 2;
    }

    struct mnet_options opt = { .threads = threads, .max_batch = batch,
                                .precision = MNET_PRECISION_NATIVE };
    mnet_model *m = NULL;
    char err[256] = "";
    int rc;
    double t_load = now_ms();
    if (builder) {
        struct mnet_build_spec spec = { model[1] - '0', (float)alpha, resolution, 1001,
                                        int8 ? MNET_I8 : MNET_F32, seed };
        rc = mnet_build(&spec, &opt, &m, err, sizeof err);
    } else {
        if (!strcmp(precision, "fp32"))
            opt.precision = MNET_PRECISION_FLOAT32; /* no-op on a float file */
        rc = mnet_load_file(model, &opt, &m, err, sizeof err);
    }
    t_load = now_ms() - t_load;
    if (rc) {
        fprintf(stderr, "mnet-bench: %s: %s\n", model, err[0] ? err : strerror(-rc));
        return 1;
    }
    const struct mnet_info *info = mnet_get_info(m);

    /* Inputs: random, in the model's raw input type; fixed seed. */
    size_t in_elems = (size_t)batch * info->height * info->width * info->channels;
    size_t in_size = info->input_type == MNET_F32 ? 4 : 1;
    size_t out_size = info->output_type == MNET_F32 ? 4 : 1;
    void *in = malloc(in_elems * in_size);
    void *out = malloc((size_t)batch * info->classes * out_size);
    double *ms = malloc((size_t)iters * sizeof *ms);
    if (!in || !out || !ms) {
        fprintf(stderr, "mnet-bench: out of memory\n");
        return 1;
    }
    uint64_t s = 0x1234567;
    for (size_t i = 0; i < in_elems; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t r = (uint32_t)(s >> 33);
        if (in_size == 4)
            ((float *)in)[i] = (float)(r % 2001) / 1000.0f - 1.0f;
        else
            ((uint8_t *)in)[i] = (uint8_t)r;
    }

    for (int i = 0; i < warmup; i++) {
        rc = mnet_run(m, in, batch, out);
        if (rc) {
            fprintf(stderr, "mnet-bench: run failed: %s\n", strerror(-rc));
            return 1;
        }
    }
    if (profile)
        mnet_plan_profile_enable(m, profile);
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    for (int i = 0; i < iters; i++) {
        double t0 = now_ms();
        rc = mnet_run(m, in, batch, out);
        ms[i] = now_ms() - t0;
        if (rc) {
            fprintf(stderr, "mnet-bench: run failed: %s\n", strerror(-rc));
            return 1;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* CPU time of all threads per iteration: with `threads` busy threads it
     * is about threads * wall; much more means spinning, less means waiting
     * (or a machine shared with other work, where wall time inflates). */
    double cpu_ms = ((ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e3 +
                     (ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e3 +
                     (ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e3 +
                     (ru.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e3) / iters;
    double med = median(ms, iters);
    double mn = ms[0];
    for (int i = 1; i < iters; i++)
        mn = ms[i] < mn ? ms[i] : mn;
    const char *kern = mnet_kernels_select()->name;

    if (json) {
        printf("{\"model\":");
        json_str(model);
        printf(",\"arch\":\"%s\",\"precision\":\"%s\",\"numerics\":\"%s\",\"kernels\":\"%s\","
               "\"omp_wait_policy\":",
               info->arch, precision, mnet_dtype_name(info->numerics), kern);
        /* the OpenMP settings this run had (environment text: escaped) */
        const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
        json_str(policy ? policy : "default");
        printf(",\"gomp_spincount\":");
        json_str(spin ? spin : "default");
        printf(",\"batch\":%d,\"threads\":%d,\"iters\":%d,\"warmup\":%d,\"ms\":[", batch, threads,
               iters, warmup);
        for (int i = 0; i < iters; i++)
            printf("%s%.4f", i ? "," : "", ms[i]);
        printf("],\"median_ms\":%.4f,\"median_ms_per_image\":%.4f,\"min_ms\":%.4f,"
               "\"cpu_ms\":%.4f,\"load_ms\":%.2f,\"peak_rss_kb\":%ld,\"arena_bytes\":%zu,"
               "\"weights_bytes\":%zu",
               med, med / batch, mn, cpu_ms, t_load, ru.ru_maxrss, info->arena_bytes,
               info->weights_bytes);
        if (profile) {
            printf(",\"profile\":");
            mnet_plan_profile_print(m, stdout, 1, iters, info->threads);
        }
        printf("}\n");
    } else {
        printf("%s %s (%s, %s kernels) batch %d threads %d: median %.3f ms (%.3f ms/image), "
               "min %.3f ms, cpu %.3f ms/iter, %d iters, load %.1f ms, peak RSS %.1f MiB\n",
               model, precision, info->arch, kern, batch, threads, med, med / batch, mn, cpu_ms,
               iters, t_load, ru.ru_maxrss / 1024.0);
        if (profile)
            mnet_plan_profile_print(m, stdout, 0, iters, info->threads);
    }
    free(in);
    free(out);
    free(ms);
    mnet_free(m);
    return 0;
}
