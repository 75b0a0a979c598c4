/* bench_image.c: CPU time of one image preparation (decode, crop, resize).
 *
 *   bench_image FILE [OUT_H OUT_W]     (default 224 224)
 *
 * Prints the best of 15 runs (each the mean of enough calls to take about
 * 50 ms), timed with the thread's CPU clock, of mnet_image_prepare and, for a
 * JPEG, of TurboJPEG's decode alone at full size with the flags image.c uses;
 * the difference is what crop + resize + the rest cost.  One thread.  Not a
 * test: numbers for docs/BENCHMARKS.md (the daemon decodes on its HTTP
 * threads, on the cores the engine runs on).
 */
#include <stdio.h>
#include <stdlib.h>

#include <turbojpeg.h>

#include "check.h"
#include "mnet.h"

struct job {
    const uint8_t *data;
    size_t len;
    int out_h, out_w;
    uint8_t *out;
    tjhandle tj;
    int w, h;
};

static int run_prepare(struct job *j)
{
    char err[256];
    return mnet_image_prepare(j->data, j->len, NULL, j->out_h, j->out_w, j->out, err, sizeof err);
}

static int run_decode(struct job *j)
{
    return tjDecompress2(j->tj, j->data, (unsigned long)j->len, j->out, j->w, 0, j->h, TJPF_RGB,
                         TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS | TJFLAG_ACCURATEDCT);
}

/* Best of 15 of the mean ms per call; -1 when a call fails. */
static double best_ms(int (*fn)(struct job *), struct job *j)
{
    double t0 = cpu_ms();
    int calls = 0;
    while (cpu_ms() - t0 < 50.0) { /* calibrate */
        if (fn(j) != 0)
            return -1;
        calls++;
    }
    double best = 1e30;
    for (int r = 0; r < 15; r++) {
        t0 = cpu_ms();
        for (int i = 0; i < calls; i++)
            fn(j);
        double ms = (cpu_ms() - t0) / calls;
        if (ms < best)
            best = ms;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: bench_image FILE [OUT_H OUT_W]\n");
        return 2;
    }
    struct job j = { .out_h = argc == 4 ? atoi(argv[2]) : 224,
                     .out_w = argc == 4 ? atoi(argv[3]) : 224 };
    uint8_t *data = check_read_file(argv[1], &j.len);
    if (!data || j.out_h <= 0 || j.out_w <= 0) {
        fprintf(stderr, "bench_image: cannot read %s or bad size\n", argv[1]);
        return 2;
    }
    j.data = data;
    j.out = malloc((size_t)j.out_h * j.out_w * 3);
    double prep = j.out ? best_ms(run_prepare, &j) : -1;
    if (prep < 0) {
        fprintf(stderr, "bench_image: mnet_image_prepare failed on %s\n", argv[1]);
        return 1;
    }
    printf("%s to %dx%d: mnet_image_prepare %.4f ms", argv[1], j.out_h, j.out_w, prep);
    const char *fmt = mnet_image_format(data, j.len);
    j.tj = tjInitDecompress();
    int ss, cs;
    if (fmt && fmt[0] == 'j' && j.tj &&
        tjDecompressHeader3(j.tj, data, (unsigned long)j.len, &j.w, &j.h, &ss, &cs) == 0) {
        free(j.out);
        j.out = malloc((size_t)j.w * j.h * 3);
        double dec = j.out ? best_ms(run_decode, &j) : -1;
        if (dec >= 0)
            printf(", of which a full-size %dx%d decode %.4f ms", j.w, j.h, dec);
    }
    printf("\n");
    if (j.tj)
        tjDestroy(j.tj);
    free(j.out);
    free(data);
    return 0;
}
