/* test_metrics.c: daemon/metrics output against the Prometheus text format
 * 0.0.4 rules, checked by an independent line parser written here:
 *   - every line is "# HELP name text", "# TYPE name type" or a sample
 *     "name{label="value",...} value" (value a float, +Inf, -Inf or NaN)
 *   - HELP and TYPE once per family, before the family's samples, and a
 *     family's samples contiguous; no series twice
 *   - histograms: _bucket lines with increasing le, cumulative counts never
 *     decreasing, the last le="+Inf", equal to _count; then _sum and _count
 *   - label values escape \\, \" and \n (decoded here and compared)
 * plus hand-computed bucket counts, concurrent updates from threads that
 * must sum exactly, and the DESIGN.md metric set.
 */
#include "metrics.h"
#include "check.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* ---- an independent exposition-format checker ---- */

#define MAXL 8
struct sample {
    char name[128];
    int nl;
    char lname[MAXL][64];
    char lval[MAXL][256]; /* decoded */
    double value;
};

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

static bool parse_value(const char *s, double *v)
{
    if (!strcmp(s, "+Inf")) {
        *v = INFINITY;
        return true;
    }
    if (!strcmp(s, "-Inf")) {
        *v = -INFINITY;
        return true;
    }
    if (!strcmp(s, "NaN")) {
        *v = NAN;
        return true;
    }
    char *end;
    *v = strtod(s, &end);
    return *s && !*end && (isfinite(*v));
}

/* Parse one sample line; false on any syntax violation. */
static bool parse_sample(const char *line, struct sample *s)
{
    memset(s, 0, sizeof *s);
    const char *p = line;
    size_t n = 0;
    if (!name_char(*p, true))
        return false;
    while (name_char(*p, n == 0) && n < sizeof s->name - 1)
        s->name[n++] = *p++;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (s->nl == MAXL)
                return false;
            size_t k = 0;
            if (!name_char(*p, true) || *p == ':')
                return false;
            while (name_char(*p, k == 0) && *p != ':' && k < 63)
                s->lname[s->nl][k++] = *p++;
            if (*p++ != '=' || *p++ != '"')
                return false;
            size_t v = 0;
            while (*p != '"') {
                char c = *p++;
                if (c == '\0' || c == '\n')
                    return false;
                if (c == '\\') {
                    char e = *p++;
                    if (e == 'n')
                        c = '\n';
                    else if (e == '\\' || e == '"')
                        c = e;
                    else
                        return false; /* no other escapes exist */
                }
                if (v < 255)
                    s->lval[s->nl][v++] = c;
            }
            p++;
            s->nl++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return false;
        }
        p++;
    }
    if (*p++ != ' ')
        return false;
    return parse_value(p, &s->value);
}

static const char *label(const struct sample *s, const char *name)
{
    for (int i = 0; i < s->nl; i++)
        if (!strcmp(s->lname[i], name))
            return s->lval[i];
    return NULL;
}

/* The series identity without le, for grouping histogram lines. */
static void series_key(const struct sample *s, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int i = 0; i < s->nl; i++) {
        if (!strcmp(s->lname[i], "le"))
            continue;
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s=%s\x01", s->lname[i], s->lval[i]);
    }
}

struct hist_state {
    char key[1024];
    double last_le, last_cum, inf, sum, count;
    bool has_inf, has_sum, has_count;
};

/* Check a whole exposition; returns the number of samples, -1 on a violation
 * (reported through CHECK). */
static int check_exposition(const char *text)
{
    char *copy = strdup(text);
    int nsamples = 0;
    char family[128] = "", type[32] = "";
    char done[512][128];
    int ndone = 0;
    char seen_series[4096][200];
    int nseen = 0;
    bool help = false, typ = false;
    struct hist_state h = {0};
    bool ok = true;
    size_t tl = strlen(text);
    CHECK(tl == 0 || text[tl - 1] == '\n', "output must end with a newline");

    for (char *line = strtok(copy, "\n"); line && ok; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
            bool is_help = line[2] == 'H';
            char nm[128];
            if (sscanf(line + 7, "%127s", nm) != 1) {
                CHECK(0, "bad comment line '%s'", line);
                ok = false;
                break;
            }
            if (strcmp(nm, family)) {
                /* a new family: the previous histogram must be complete */
                if (!strcmp(type, "histogram") && h.key[0])
                    CHECK(h.has_inf && h.has_sum && h.has_count, "histogram %s incomplete", family);
                for (int i = 0; i < ndone; i++)
                    CHECK(strcmp(done[i], nm), "family %s appears twice", nm);
                if (ndone < 512)
                    snprintf(done[ndone++], 128, "%s", nm);
                snprintf(family, sizeof family, "%s", nm);
                help = typ = false;
                type[0] = '\0';
                memset(&h, 0, sizeof h);
            }
            if (is_help) {
                CHECK(!help && !typ, "HELP for %s twice or after TYPE", nm);
                help = true;
                const char *t = line + 7 + strlen(nm);
                /* HELP text: only \\ and \n escapes */
                for (const char *q = t; *q; q++)
                    if (*q == '\\') {
                        CHECK(q[1] == '\\' || q[1] == 'n', "bad escape in HELP of %s", nm);
                        q++;
                    }
            } else {
                CHECK(!typ, "TYPE for %s twice", nm);
                typ = true;
                CHECK(sscanf(line + 7 + strlen(nm), " %31s", type) == 1, "TYPE without type");
                CHECK(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
                          !strcmp(type, "histogram") || !strcmp(type, "summary") ||
                          !strcmp(type, "untyped"),
                      "unknown type %s", type);
            }
            continue;
        }
        CHECK(line[0] != '#', "stray comment '%s'", line);
        struct sample s;
        if (!parse_sample(line, &s)) {
            CHECK(0, "unparseable sample line '%s'", line);
            ok = false;
            break;
        }
        nsamples++;
        CHECK(typ, "sample '%s' before its TYPE line", line);
        /* the sample belongs to the current family */
        size_t fl = strlen(family);
        bool mine = !strcmp(s.name, family);
        if (!strcmp(type, "histogram"))
            mine = !strncmp(s.name, family, fl) &&
                   (!strcmp(s.name + fl, "_bucket") || !strcmp(s.name + fl, "_sum") ||
                    !strcmp(s.name + fl, "_count"));
        CHECK(mine, "sample %s outside its family %s (families must be contiguous)", s.name,
              family);
        if (!strcmp(type, "counter")) {
            CHECK(s.value >= 0, "negative counter %s", line);
            CHECK(fl > 6 && !strcmp(family + fl - 6, "_total"), "counter %s lacks _total", family);
        }
        /* no duplicate series */
        char id[200];
        snprintf(id, sizeof id, "%s", s.name);
        for (int i = 0; i < s.nl; i++) {
            size_t l = strlen(id);
            snprintf(id + l, sizeof id - l, "|%s=%s", s.lname[i], s.lval[i]);
        }
        for (int i = 0; i < nseen; i++)
            CHECK(strcmp(seen_series[i], id), "series twice: %s", id);
        if (nseen < 4096)
            snprintf(seen_series[nseen++], 200, "%s", id);

        if (strcmp(type, "histogram"))
            continue;
        char key[1024];
        series_key(&s, key, sizeof key);
        const char *suffix = s.name + fl;
        if (!strcmp(suffix, "_bucket")) {
            const char *le = label(&s, "le");
            CHECK(le != NULL, "bucket without le: %s", line);
            if (!le)
                continue;
            if (strcmp(key, h.key)) {
                if (h.key[0])
                    CHECK(h.has_inf && h.has_sum && h.has_count, "histogram series incomplete");
                memset(&h, 0, sizeof h);
                snprintf(h.key, sizeof h.key, "%s", key);
                h.last_le = -INFINITY;
            }
            double lev;
            CHECK(parse_value(le, &lev), "le '%s' not a float", le);
            CHECK(lev > h.last_le, "le not increasing: %s", line);
            CHECK(!h.has_inf, "bucket after +Inf: %s", line);
            CHECK(s.value >= h.last_cum, "bucket counts not cumulative: %s", line);
            CHECK(s.value == floor(s.value), "fractional bucket count");
            h.last_le = lev;
            h.last_cum = s.value;
            if (isinf(lev)) {
                h.has_inf = true;
                h.inf = s.value;
            }
        } else {
            CHECK(!strcmp(key, h.key) && h.has_inf, "%s without its buckets ending at +Inf", line);
            if (!strcmp(suffix, "_sum")) {
                h.has_sum = true;
                h.sum = s.value;
            } else {
                h.has_count = true;
                h.count = s.value;
                CHECK(h.count == h.inf, "_count %g != +Inf bucket %g", h.count, h.inf);
            }
        }
    }
    if (!strcmp(type, "histogram") && h.key[0])
        CHECK(h.has_inf && h.has_sum && h.has_count, "last histogram incomplete");
    free(copy);
    return ok ? nsamples : -1;
}

/* Find the value of the sample whose line starts with prefix (exact up to ' '). */
static bool find_sample(const char *text, const char *series, double *v)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, series, n) && p[n] == ' ') {
            char buf[64];
            size_t l = strcspn(p + n + 1, "\n");
            snprintf(buf, sizeof buf, "%.*s", (int)l, p + n + 1);
            return parse_value(buf, v);
        }
    }
    return false;
}

static char *render(metrics_registry *r)
{
    char *out = NULL;
    size_t len = 0;
    int rc = metrics_render(r, &out, &len);
    CHECK(rc == 0 && out && strlen(out) == len, "render %d", rc);
    return out;
}

/* ---- tests ---- */

static void test_basic(void)
{
    metrics_registry *r;
    CHECK(metrics_registry_new(&r) == 0, "new");
    metrics_family *c, *g, *h, *plain;
    CHECK(metrics_family_new(r, METRICS_COUNTER, "t_requests_total", "Requests.\nSecond \\ line.",
                             "endpoint,code", NULL, 0, &c) == 0, "counter");
    CHECK(metrics_family_new(r, METRICS_GAUGE, "t_temp", "A gauge.", "model", NULL, 0, &g) == 0,
          "gauge");
    const double b[] = {1, 2, 5};
    CHECK(metrics_family_new(r, METRICS_HISTOGRAM, "t_latency_seconds", "Latency.", "model", b, 3,
                             &h) == 0, "histogram");
    CHECK(metrics_family_new(r, METRICS_COUNTER, "t_plain_total", "No labels.", NULL, NULL, 0,
                             &plain) == 0, "plain");

    /* errors */
    metrics_family *x = (metrics_family *)0x1;
    CHECK(metrics_family_new(r, METRICS_GAUGE, "t_temp", "dup", NULL, NULL, 0, &x) == -EEXIST &&
              x == (metrics_family *)0x1, "duplicate name");
    CHECK(metrics_family_new(r, METRICS_GAUGE, "9bad", "", NULL, NULL, 0, &x) == -EINVAL, "name");
    CHECK(metrics_family_new(r, METRICS_GAUGE, "bad-name", "", NULL, NULL, 0, &x) == -EINVAL, "name");
    CHECK(metrics_family_new(r, METRICS_GAUGE, "t_a", "", "a,a", NULL, 0, &x) == -EINVAL, "dup label");
    CHECK(metrics_family_new(r, METRICS_GAUGE, "t_b", "", "__x", NULL, 0, &x) == -EINVAL, "__ label");
    CHECK(metrics_family_new(r, METRICS_GAUGE, "t_c", "", "a:b", NULL, 0, &x) == -EINVAL, ": label");
    CHECK(metrics_family_new(r, METRICS_HISTOGRAM, "t_d", "", "le", b, 3, &x) == -EINVAL, "le");
    const double nb[] = {1, 1};
    CHECK(metrics_family_new(r, METRICS_HISTOGRAM, "t_e", "", NULL, nb, 2, &x) == -EINVAL, "buckets");
    CHECK(metrics_family_new(r, METRICS_HISTOGRAM, "t_f", "", NULL, NULL, 0, &x) == -EINVAL, "none");
    CHECK(metrics_family_new(r, METRICS_COUNTER, "t_g", "", NULL, b, 3, &x) == -EINVAL, "counter buckets");
    CHECK(metrics_family_new(r, METRICS_GAUGE, "t_h", "", "a,b,c,d,e", NULL, 0, &x) == -EINVAL, "5 labels");

    /* before any update: HELP/TYPE only, plus the label-less series at 0 */
    char *out = render(r);
    CHECK(check_exposition(out) == 1, "empty families:\n%s", out);
    double v = -1;
    CHECK(find_sample(out, "t_plain_total", &v) && v == 0, "plain counter shows 0");
    free(out);

    const char *nasty = "a\"b\\c\nd";
    metrics_series *s200 = metrics_labels(c, "classify", "200");
    CHECK(s200 && metrics_labels(c, "classify", "200") == s200, "same series");
    metrics_inc(s200);
    metrics_add(s200, 2);
    metrics_add(s200, -5); /* counters never go down */
    metrics_add(metrics_labels(c, nasty, "503"), 1);
    metrics_set(metrics_labels(g, "m1"), -2.5);
    metrics_add(metrics_labels(g, "m1"), 1);
    metrics_set(metrics_labels(g, "m2"), INFINITY);
    metrics_series *hs = metrics_labels(h, "m1");
    const double obs[] = {0.5, 1, 2, 3, 100, 1.5};
    for (int i = 0; i < 6; i++)
        metrics_observe(hs, obs[i]);
    metrics_observe(hs, NAN); /* ignored */
    metrics_inc(metrics_labels(plain));
    /* NULL series are no-ops */
    metrics_inc(NULL);
    metrics_set(NULL, 1);
    metrics_observe(NULL, 1);
    metrics_set(s200, 100); /* set on a counter: ignored */
    metrics_observe(s200, 1);

    out = render(r);
    int n = check_exposition(out);
    CHECK(n > 0, "format:\n%s", out);
    CHECK(find_sample(out, "t_requests_total{endpoint=\"classify\",code=\"200\"}", &v) && v == 3,
          "counter 3, got %g", v);
    CHECK(find_sample(out, "t_requests_total{endpoint=\"a\\\"b\\\\c\\nd\",code=\"503\"}", &v) &&
              v == 1, "escaped labels:\n%s", out);
    CHECK(find_sample(out, "t_temp{model=\"m1\"}", &v) && v == -1.5, "gauge %g", v);
    CHECK(find_sample(out, "t_temp{model=\"m2\"}", &v) && isinf(v) && v > 0, "gauge +Inf");
    /* hand-computed: le=1 {0.5,1} 2; le=2 +{2,1.5} 4; le=5 +{3} 5; +Inf +{100} 6 */
    const char *want[] = {"1", "2", "5", "+Inf"};
    const double cum[] = {2, 4, 5, 6};
    for (int i = 0; i < 4; i++) {
        char series[128];
        snprintf(series, sizeof series, "t_latency_seconds_bucket{model=\"m1\",le=\"%s\"}", want[i]);
        CHECK(find_sample(out, series, &v) && v == cum[i], "%s = %g, want %g", series, v, cum[i]);
    }
    CHECK(find_sample(out, "t_latency_seconds_sum{model=\"m1\"}", &v) && v == 108, "sum %g", v);
    CHECK(find_sample(out, "t_latency_seconds_count{model=\"m1\"}", &v) && v == 6, "count %g", v);
    CHECK(metrics_count(hs) == 6 && metrics_value(hs) == 108, "readback");
    CHECK(strstr(out, "# HELP t_requests_total Requests.\\nSecond \\\\ line.\n") != NULL,
          "HELP escaping");
    CHECK(strstr(out, "# TYPE t_latency_seconds histogram\n") != NULL, "TYPE histogram");
    /* the escaped value decodes back to the original */
    struct sample sm;
    const char *l = strstr(out, "t_requests_total{endpoint=\"a");
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
    CHECK(parse_sample(line, &sm) && !strcmp(label(&sm, "endpoint"), nasty), "decode");
    free(out);

    /* the checker itself must catch violations (so it can fail) */
    static const char *const bad[] = {
        "# TYPE a_total counter\na_total 1\n# TYPE a_total counter\n",  /* TYPE twice */
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",                                         /* not cumulative */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n"
        "h_count 3\n",                                                   /* count != +Inf */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", /* no +Inf */
        "x 1\n",                                                         /* no TYPE */
        "# TYPE y gauge\ny{a=\"\\t\"} 1\n",                            /* bad escape */
        "# TYPE y gauge\ny{a=\"1\"} 1\ny{a=\"1\"} 2\n",                   /* series twice */
        "# TYPE y gauge\ny 1\n# TYPE z gauge\nz 1\ny 2\n",              /* not contiguous */
        "# TYPE y gauge\ny one\n",                                      /* bad value */
        "# TYPE y_total counter\ny_total -1\n",                         /* negative counter */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int before = failures;
        check_quiet = 1;
        check_exposition(bad[i]);
        check_quiet = 0;
        int caught = failures > before;
        failures = before;
        CHECK(caught, "checker missed violation %zu: %s", i, bad[i]);
    }

    /* cardinality guard */
    metrics_family *many;
    CHECK(metrics_family_new(r, METRICS_GAUGE, "t_many", "", "id", NULL, 0, &many) == 0, "many");
    metrics_series *last = NULL;
    for (int i = 0; i <= METRICS_MAX_SERIES; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        last = metrics_labels(many, id);
        if (i < METRICS_MAX_SERIES)
            CHECK(last != NULL, "series %d", i);
    }
    CHECK(last == NULL, "series beyond METRICS_MAX_SERIES must be refused");
    CHECK(metrics_labels(many, "0") != NULL, "existing series still found");
    metrics_registry_free(r);
    metrics_registry_free(NULL);
}

/* ---- concurrency ---- */

#define THREADS 8
#define ITERS 100000

struct shared {
    metrics_series *cnt, *gauge, *hist;
    metrics_family *lab;
    metrics_registry *reg;
    atomic_int stop;
    int render_errors, renders;
};

static void *worker(void *arg)
{
    struct shared *sh = arg;
    for (int i = 0; i < ITERS; i++) {
        metrics_inc(sh->cnt);
        metrics_add(sh->gauge, 0.5);
        metrics_observe(sh->hist, (i % 4) * 0.5); /* 0, 0.5, 1, 1.5: exact in binary */
        if (i % 1000 == 0) {
            char code[8];
            snprintf(code, sizeof code, "%d", 200 + i % 7);
            metrics_inc(metrics_labels(sh->lab, code));
        }
    }
    return NULL;
}

static void *renderer(void *arg)
{
    struct shared *sh = arg;
    while (!atomic_load(&sh->stop)) {
        char *out = NULL;
        size_t len;
        if (metrics_render(sh->reg, &out, &len) != 0) {
            sh->render_errors++;
            continue;
        }
        /* mid-update snapshots must still be well-formed: +Inf == _count */
        double inf = -1, cnt = -2;
        find_sample(out, "c_hist_bucket{le=\"+Inf\"}", &inf);
        find_sample(out, "c_hist_count", &cnt);
        if (inf != cnt)
            sh->render_errors++;
        sh->renders++;
        free(out);
    }
    return NULL;
}

static void test_concurrency(void)
{
    struct shared sh = {0};
    metrics_family *fc, *fg, *fh;
    CHECK(metrics_registry_new(&sh.reg) == 0, "new");
    const double b[] = {0.25, 0.75, 1.25};
    metrics_family_new(sh.reg, METRICS_COUNTER, "c_total", "c", NULL, NULL, 0, &fc);
    metrics_family_new(sh.reg, METRICS_GAUGE, "c_gauge", "g", NULL, NULL, 0, &fg);
    metrics_family_new(sh.reg, METRICS_HISTOGRAM, "c_hist", "h", NULL, b, 3, &fh);
    metrics_family_new(sh.reg, METRICS_COUNTER, "c_codes_total", "codes", "code", NULL, 0, &sh.lab);
    sh.cnt = metrics_labels(fc);
    sh.gauge = metrics_labels(fg);
    sh.hist = metrics_labels(fh);
    pthread_t t[THREADS], rt;
    pthread_create(&rt, NULL, renderer, &sh);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, &sh);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&sh.stop, 1);
    pthread_join(rt, NULL);
    CHECK(sh.render_errors == 0, "%d inconsistent renders of %d", sh.render_errors, sh.renders);

    char *out = render(sh.reg);
    CHECK(check_exposition(out) > 0, "format");
    double v;
    const double total = (double)THREADS * ITERS;
    CHECK(find_sample(out, "c_total", &v) && v == total, "counter %g want %g", v, total);
    CHECK(find_sample(out, "c_gauge", &v) && v == total * 0.5, "gauge %g", v);
    CHECK(find_sample(out, "c_hist_count", &v) && v == total, "count %g", v);
    /* per thread: ITERS/4 each of 0, 0.5, 1, 1.5 -> sum 0.75 * ITERS */
    CHECK(find_sample(out, "c_hist_sum", &v) && v == 0.75 * total, "sum %g", v);
    CHECK(find_sample(out, "c_hist_bucket{le=\"0.25\"}", &v) && v == total / 4, "b0 %g", v);
    CHECK(find_sample(out, "c_hist_bucket{le=\"0.75\"}", &v) && v == total / 2, "b1 %g", v);
    CHECK(find_sample(out, "c_hist_bucket{le=\"1.25\"}", &v) && v == total * 3 / 4, "b2 %g", v);
    double codes = 0;
    for (int c = 200; c < 207; c++) {
        char series[64];
        snprintf(series, sizeof series, "c_codes_total{code=\"%d\"}", c);
        if (find_sample(out, series, &v))
            codes += v;
    }
    CHECK(codes == THREADS * (ITERS / 1000), "labelled series created concurrently: %g", codes);
    free(out);
    metrics_registry_free(sh.reg);
}

/* The DESIGN.md metric set and the process metrics. */
static void test_daemon_set(void)
{
    struct metrics_daemon m;
    CHECK(metrics_daemon_init(&m) == 0, "init");
    metrics_daemon_model(&m, "0.1.0", "mobilenet", "ab12", 64, 0.25);
    metrics_inc(metrics_labels(m.requests_total, "classify", "200"));
    metrics_inc(metrics_labels(m.rejected_total, "queue_full"));
    metrics_add(metrics_labels(m.images_total, "mobilenet"), 3);
    metrics_inc(metrics_labels(m.batches_total, "mobilenet"));
    metrics_observe(metrics_labels(m.batch_size, "mobilenet"), 3);
    metrics_observe(metrics_labels(m.inference_duration, "mobilenet"), 0.004);
    metrics_observe(metrics_labels(m.queue_duration, "mobilenet"), 0.001);
    metrics_observe(metrics_labels(m.request_duration, "classify"), 0.01);
    metrics_observe(metrics_labels(m.decode_duration), 0.002);
    metrics_observe(metrics_labels(m.request_body_bytes), 30000);
    metrics_set(metrics_labels(m.ready), 1);
    char *out = render(m.reg);
    CHECK(check_exposition(out) > 0, "daemon format:\n%s", out);
    /* Names from DESIGN.md, typed independently here. */
    static const char *const names[][2] = {
        {"mobilenetd_requests_total", "counter"},
        {"mobilenetd_images_total", "counter"},
        {"mobilenetd_batches_total", "counter"},
        {"mobilenetd_rejected_total", "counter"},
        {"mobilenetd_request_duration_seconds", "histogram"},
        {"mobilenetd_queue_duration_seconds", "histogram"},
        {"mobilenetd_decode_duration_seconds", "histogram"},
        {"mobilenetd_inference_duration_seconds", "histogram"},
        {"mobilenetd_batch_size", "histogram"},
        {"mobilenetd_request_body_bytes", "histogram"},
        {"mobilenetd_queue_depth", "gauge"},
        {"mobilenetd_queue_capacity", "gauge"},
        {"mobilenetd_inflight_requests", "gauge"},
        {"mobilenetd_ready", "gauge"},
        {"mobilenetd_model_load_seconds", "gauge"},
        {"mobilenetd_build_info", "gauge"},
        {"process_cpu_seconds_total", "counter"},
        {"process_resident_memory_bytes", "gauge"},
        {"process_virtual_memory_bytes", "gauge"},
        {"process_open_fds", "gauge"},
        {"process_max_fds", "gauge"},
        {"process_start_time_seconds", "gauge"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char t[160];
        snprintf(t, sizeof t, "# TYPE %s %s\n", names[i][0], names[i][1]);
        CHECK(strstr(out, t) != NULL, "missing %s", t);
    }
    double v;
    CHECK(find_sample(out, "mobilenetd_build_info{version=\"0.1.0\",model=\"mobilenet\","
                           "weights_sha256=\"ab12\"}", &v) && v == 1, "build_info");
    CHECK(find_sample(out, "mobilenetd_queue_capacity{model=\"mobilenet\"}", &v) && v == 64, "cap");
    CHECK(find_sample(out, "mobilenetd_batch_size_bucket{model=\"mobilenet\",le=\"2\"}", &v) &&
              v == 0, "batch le=2");
    CHECK(find_sample(out, "mobilenetd_batch_size_bucket{model=\"mobilenet\",le=\"3\"}", &v) &&
              v == 1, "batch le=3");
    CHECK(find_sample(out, "mobilenetd_ready", &v) && v == 1, "ready");
    /* process metrics against /proc and the clock */
    long page = sysconf(_SC_PAGESIZE);
    CHECK(find_sample(out, "process_resident_memory_bytes", &v) && v > 100 * 1024 &&
              fmod(v, (double)page) == 0, "rss %g", v);
    double vm;
    CHECK(find_sample(out, "process_virtual_memory_bytes", &vm) && vm >= v, "vm %g", vm);
    CHECK(find_sample(out, "process_open_fds", &v) && v >= 3 && v < 1000, "fds %g", v);
    CHECK(find_sample(out, "process_max_fds", &v) && v >= 64, "max fds %g", v);
    double now = (double)time(NULL);
    CHECK(find_sample(out, "process_start_time_seconds", &v) && v <= now + 1 && v > now - 600,
          "start %f now %f", v, now);
    CHECK(find_sample(out, "process_cpu_seconds_total", &v) && v > 0, "cpu %g", v);
    free(out);
    /* a reload publishes a new set: new weights for "mobilenet", "bird" gone */
    metrics_daemon_model(&m, "0.1.0", "bird", "ef56", 8, 0.5);
    out = render(m.reg);
    CHECK(find_sample(out, "mobilenetd_queue_capacity{model=\"bird\"}", &v) && v == 8, "bird cap");
    free(out);
    metrics_daemon_model(&m, "0.1.0", "mobilenet", "cd34", 32, 0.5);
    const char *live[] = {"mobilenet"}, *live_sha[] = {"cd34"};
    metrics_daemon_retire_except(&m, 1, live, live_sha);
    out = render(m.reg);
    CHECK(check_exposition(out) > 0, "after a reload:\n%s", out);
    CHECK(find_sample(out, "mobilenetd_build_info{version=\"0.1.0\",model=\"mobilenet\","
                           "weights_sha256=\"ab12\"}", &v) && v == 0, "swapped-out weights read 0");
    CHECK(find_sample(out, "mobilenetd_build_info{version=\"0.1.0\",model=\"bird\","
                           "weights_sha256=\"ef56\"}", &v) && v == 0, "dropped model reads 0");
    CHECK(find_sample(out, "mobilenetd_build_info{version=\"0.1.0\",model=\"mobilenet\","
                           "weights_sha256=\"cd34\"}", &v) && v == 1, "new weights read 1");
    CHECK(find_sample(out, "mobilenetd_queue_capacity{model=\"mobilenet\"}", &v) && v == 32,
          "new capacity");
    CHECK(!strstr(out, "model=\"bird\"}"), "a dropped model's gauges are gone:\n%s", out);
    CHECK(find_sample(out, "mobilenetd_queue_depth{model=\"mobilenet\"}", &v) && v == 0, "depth");
    free(out);
    /* the dropped model comes back */
    metrics_daemon_model(&m, "0.1.0", "bird", "ef56", 16, 0.5);
    out = render(m.reg);
    CHECK(find_sample(out, "mobilenetd_queue_capacity{model=\"bird\"}", &v) && v == 16, "back");
    free(out);
    metrics_daemon_retire_except(NULL, 0, NULL, NULL);
    metrics_daemon_free(&m);
    CHECK(m.reg == NULL, "free zeroes");
    metrics_daemon_free(NULL);
}

int main(void)
{
    test_basic();
    test_concurrency();
    test_daemon_set();
    return check_summary();
}
