/* test_config.c: daemon/config against the brief's rules.
 *
 * Truth used here is independent of config.c: the documented defaults
 * (127.0.0.1:8080, 16 MiB, 50 MP), hand-written files with known line
 * numbers for each error, the precedence order, and the shipped
 * config/mobilenetd.conf read line by line.  Range checks are driven by the
 * key table but the expected verdicts come from the inclusive min/max rule.
 */
#include "config.h"
#include "check.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>


static char shared[PATH_MAX], source[PATH_MAX], model_v2[PATH_MAX + 64], labels_in[PATH_MAX + 64];
static char tmpdir[PATH_MAX];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* Load text as a file named "t.conf" with model path resolution on. */
static int load(const char *text, struct config *c, char *err, size_t errlen)
{
    return config_load_string(text, strlen(text), "t.conf", true, c, err, errlen);
}

/* Expect text to fail with an error containing every given fragment. */
static void expect_error(int line, const char *text, ...)
{
    struct config c;
    char err[2048] = "";
    memset(&c, 0x5a, sizeof c);
    int r = load(text, &c, err, sizeof err);
    checks++;
    if (r >= 0) {
        failures++;
        fprintf(stderr, "FAIL line %d: accepted:\n%s\n", line, text);
        config_free(&c);
        return;
    }
    /* out untouched on failure */
    unsigned char *p = (unsigned char *)&c;
    size_t bad = 0;
    for (size_t i = 0; i < sizeof c; i++)
        bad += p[i] != 0x5a;
    CHECK(bad == 0, "line %d: out-parameter modified on failure", line);
    va_list ap;
    va_start(ap, text);
    const char *frag;
    while ((frag = va_arg(ap, const char *))) {
        checks++;
        if (!strstr(err, frag)) {
            failures++;
            fprintf(stderr, "FAIL line %d: error '%s' lacks '%s'\n", line, err, frag);
        }
    }
    va_end(ap);
}

static char *mprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        exit(1);
    va_end(ap);
    return s;
}

static void unset_all_env(void)
{
    /* Remove every MOBILENETD_* variable (the loop restarts after each unset). */
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++)
            if (!strncmp(*e, "MOBILENETD_", 11)) {
                char name[256];
                size_t l = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)l, *e);
                unsetenv(name);
                again = 1;
                break;
            }
    }
}

static int parse(struct config *c, char *err, size_t errlen, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "mobilenetd";
    va_list ap;
    va_start(ap, errlen);
    char *a;
    while ((a = va_arg(ap, char *)) && argc < 63)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    /* argv must outlive the config (config_reload uses it): keep a static copy. */
    static char *keep[16][64];
    static int slot;
    char **kv = keep[slot++ % 16];
    memcpy(kv, argv, sizeof argv);
    return config_parse_args(argc, kv, c, err, errlen);
}

static void test_defaults(void)
{
    char *text = mprintf("[model m]\npath = %s\n", model_v2);
    struct config c;
    char err[1024];
    int r = load(text, &c, err, sizeof err);
    CHECK(r == 0, "%s", err);
    if (r == 0) {
        CHECK(!strcmp(c.server.listen, "127.0.0.1:8080"), "%s", c.server.listen);
        CHECK(!strcmp(c.server.listen_host, "127.0.0.1"), "%s", c.server.listen_host);
        CHECK(c.server.listen_port == 8080, "%d", c.server.listen_port);
        CHECK(c.server.max_body_bytes == 16u * 1024 * 1024, "%llu",
              (unsigned long long)c.server.max_body_bytes);
        CHECK(c.server.max_pixels == 50000000u, "%llu", (unsigned long long)c.server.max_pixels);
        CHECK(c.server.queue_full_status == 429, "%d", c.server.queue_full_status);
        CHECK(c.server.log_level == CONFIG_LOG_INFO, "%d", c.server.log_level);
        CHECK(c.server.access_log, "access_log");
        CHECK(c.server.drain_timeout_s < 30, "drain %d must stay below TimeoutStopSec=30",
              c.server.drain_timeout_s);
        CHECK(c.n_models == 1 && c.default_index == 0, "%d %d", c.n_models, c.default_index);
        CHECK(!strcmp(c.server.default_model, "m"), "%s", c.server.default_model);
        CHECK(c.models[0].precision == CONFIG_PRECISION_NATIVE, "precision");
        CHECK(c.models[0].central_fraction == 0.875, "%g", c.models[0].central_fraction);
        CHECK(c.models[0].top_k_default == 5, "%d", c.models[0].top_k_default);
        CHECK(c.models[0].labels[0] == '\0', "labels '%s'", c.models[0].labels);
        CHECK(c.action == CONFIG_ACTION_RUN, "action");
        CHECK(config_find_model(&c, "m") == &c.models[0], "find");
        CHECK(config_find_model(&c, "x") == NULL, "find x");
    }
    config_free(&c);
    CHECK(c.models == NULL && c.n_models == 0, "config_free zeroes");
    config_free(NULL);
    free(text);
}

static void test_syntax(void)
{
    char *mdl = mprintf("[model m]\npath = %s\n", model_v2);
    struct config c;
    char err[1024];

    /* Comments, blank lines, CRLF, quotes, inline comments, spacing. */
    char *t = mprintf("# c1\r\n; c2\r\n\r\n[server]   # trailing comment\r\n"
                      "  listen=127.0.0.1:9000  ; inline\r\n"
                      "log_level = \"debug\" # quoted\r\n"
                      "access_log = off\r\n"
                      "model_dir = \"/nonexistent#dir\"\r\n"
                      "[model \"m\"]\r\npath = %s\r\nlabels = %s\r\n",
                      model_v2, labels_in);
    int r = load(t, &c, err, sizeof err);
    CHECK(r == 0, "%s", err);
    if (r == 0) {
        CHECK(c.server.listen_port == 9000, "%d", c.server.listen_port);
        CHECK(c.server.log_level == CONFIG_LOG_DEBUG, "%d", c.server.log_level);
        CHECK(!c.server.access_log, "access_log");
        CHECK(!strcmp(c.server.model_dir, "/nonexistent#dir"), "%s", c.server.model_dir);
        CHECK(c.models[0].labels[0] == '/', "labels resolved to '%s'", c.models[0].labels);
        config_free(&c);
    }
    free(t);

    /* Byte suffixes. */
    const struct { const char *v; unsigned long long want; } sizes[] = {
        {"1024", 1024}, {"1K", 1024}, {"1KiB", 1024}, {"64k", 65536}, {"16M", 16777216},
        {"16MiB", 16777216}, {"1G", 1073741824}, {"1GB", 1073741824},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        t = mprintf("[server]\nmax_body_bytes = %s\n%s", sizes[i].v, mdl);
        r = load(t, &c, err, sizeof err);
        CHECK(r == 0 && c.server.max_body_bytes == sizes[i].want, "%s: %s", sizes[i].v, err);
        if (r == 0)
            config_free(&c);
        free(t);
    }

    /* Every error names file:line and the key. */
    expect_error(__LINE__, "[server]\nlisten = 127.0.0.1:80\nbogus = 1\n", "t.conf:3", "bogus", NULL);
    expect_error(__LINE__, "\n[server]\nmax_connections = 0\n", "t.conf:3", "max_connections",
                 "out of range", NULL);
    expect_error(__LINE__, "[server]\nmax_connections = 70000\n", "t.conf:2", "max_connections",
                 "1..65536", NULL);
    expect_error(__LINE__, "[server]\nmax_connections = 12abc\n", "t.conf:2", "max_connections",
                 "integer", NULL);
    expect_error(__LINE__, "[server]\nmax_connections =\n", "t.conf:2", "max_connections", NULL);
    expect_error(__LINE__, "[server]\nmax_body_bytes = 1023\n", "t.conf:2", "max_body_bytes",
                 "out of range", NULL);
    expect_error(__LINE__, "[server]\nmax_body_bytes = 2G\n", "t.conf:2", "max_body_bytes", NULL);
    expect_error(__LINE__, "[server]\nmax_body_bytes = 99999999999999999999999\n", "t.conf:2",
                 "max_body_bytes", NULL);
    expect_error(__LINE__, "[server]\nmax_body_bytes = 9999999999999G\n", "t.conf:2",
                 "max_body_bytes", NULL);
    expect_error(__LINE__, "[server]\nmax_body_bytes = 16X\n", "t.conf:2", "max_body_bytes", NULL);
    expect_error(__LINE__, "[server]\nmax_body_bytes = -5\n", "t.conf:2", "max_body_bytes", NULL);
    expect_error(__LINE__, "[server]\nlog_level = loud\n", "t.conf:2", "log_level", "debug", NULL);
    expect_error(__LINE__, "[server]\nqueue_full_status = 500\n", "t.conf:2", "queue_full_status",
                 "429", NULL);
    expect_error(__LINE__, "[server]\naccess_log = maybe\n", "t.conf:2", "access_log", NULL);
    expect_error(__LINE__, "[server]\nlisten = 127.0.0.1\n", "t.conf:2", "listen", NULL);
    expect_error(__LINE__, "[server]\nlisten = 127.0.0.1:0\n", "t.conf:2", "listen", NULL);
    expect_error(__LINE__, "[server]\nlisten = 127.0.0.1:65536\n", "t.conf:2", "listen", NULL);
    expect_error(__LINE__, "[server]\nlisten = example.com:80\n", "t.conf:2", "listen", NULL);
    expect_error(__LINE__, "[server]\nlisten = ::1:80\n", "t.conf:2", "listen", NULL);
    expect_error(__LINE__, "[server]\nlisten = :80\n", "t.conf:2", "listen", NULL);
    expect_error(__LINE__, "[server]\n[server]\n", "t.conf:2", "duplicate section [server]",
                 "t.conf:1", NULL);
    expect_error(__LINE__, "[model a]\npath = x\n[model b]\npath = y\n\n[model a]\n", "t.conf:6",
                 "duplicate section [model a]", "t.conf:1", NULL);
    expect_error(__LINE__, "[server]\nthreads = 1\nthreads = 2\n", "t.conf:3", "duplicate key",
                 "threads", "t.conf:2", NULL);
    expect_error(__LINE__, "listen = 127.0.0.1:80\n", "t.conf:1", "listen", "outside a section",
                 NULL);
    expect_error(__LINE__, "[server\n", "t.conf:1", "section", NULL);
    expect_error(__LINE__, "[server] junk\n", "t.conf:1", NULL);
    expect_error(__LINE__, "[client]\n", "t.conf:1", "[client]", NULL);
    expect_error(__LINE__, "[model]\n", "t.conf:1", "[model NAME]", NULL);
    expect_error(__LINE__, "[model a:b]\n", "t.conf:1", "a:b", NULL);
    expect_error(__LINE__, "[server]\njust words\n", "t.conf:2", NULL);
    expect_error(__LINE__, "[server]\n = 5\n", "t.conf:2", NULL);
    expect_error(__LINE__, "[server]\nlog_level = \"info\n", "t.conf:2", "log_level",
                 "unterminated", NULL);
    expect_error(__LINE__, "[server]\nlog_level = \"info\" x\n", "t.conf:2", "log_level", NULL);
    expect_error(__LINE__, "[server]\nlog_level = \"in\\fo\"\n", "t.conf:2", "log_level", NULL);
    expect_error(__LINE__, "[server]\npath = x.tflite\n", "t.conf:2", "path", "[model NAME]", NULL);
    expect_error(__LINE__, "[model m]\nlisten = 1.2.3.4:5\n", "t.conf:2", "listen", "[server]",
                 NULL);
    expect_error(__LINE__, "[model m]\nlabels = x\n", "t.conf:1", "[model m]", "path", NULL);
    expect_error(__LINE__, "[model m]\npath = no_such_model.tflite\n", "t.conf:2", "path",
                 "no_such_model.tflite", "not found", NULL);
    expect_error(__LINE__, "[model m]\npath = /nonexistent/x.tflite\n", "t.conf:2", "path",
                 "No such file", NULL);
    expect_error(__LINE__, "[model m]\npath = /\n", "t.conf:2", "path", "regular", NULL);
    t = mprintf("[model m]\npath = %s\nlabels = nolabels.txt\n", model_v2);
    expect_error(__LINE__, t, "t.conf:3", "labels", "nolabels.txt", NULL);
    free(t);
    t = mprintf("[server]\ndefault_model = other\n%s", mdl);
    expect_error(__LINE__, t, "t.conf:2", "default_model", "other", NULL);
    free(t);
    t = mprintf("[model m]\npath = %s\ncentral_fraction = 0\n", model_v2);
    expect_error(__LINE__, t, "t.conf:3", "central_fraction", "out of range", NULL);
    free(t);
    t = mprintf("[model m]\npath = %s\ncentral_fraction = nan\n", model_v2);
    expect_error(__LINE__, t, "t.conf:3", "central_fraction", NULL);
    free(t);
    t = mprintf("[model m]\npath = %s\nprecision = int4\n", model_v2);
    expect_error(__LINE__, t, "t.conf:3", "precision", "float32", NULL);
    free(t);
    expect_error(__LINE__, "", "no model", NULL);
    expect_error(__LINE__, "[server]\n", "no model", NULL);
    {
        char big[6000];
        memset(big, 'a', sizeof big);
        memcpy(big, "[server]\n# ", 11);
        big[sizeof big - 1] = '\0';
        expect_error(__LINE__, big, "t.conf:2", "longer", NULL);
    }
    {
        const char nul[] = "[server]\nlisten = 1\0x";
        struct config cc;
        r = config_load_string(nul, sizeof nul - 1, "t.conf", false, &cc, err, sizeof err);
        CHECK(r == -EINVAL && strstr(err, "NUL"), "%d %s", r, err);
    }
    /* Too many models. */
    {
        char *many = strdup("");
        for (int i = 0; i <= CONFIG_MAX_MODELS; i++) {
            char *n = mprintf("%s[model m%d]\npath = %s\n", many, i, model_v2);
            free(many);
            many = n;
        }
        expect_error(__LINE__, many, "too many", NULL);
        free(many);
    }
    free(mdl);
}

/* Every numeric key: min and max accepted, min-1 and max+1 rejected with key and line. */
static void test_ranges(void)
{
    for (size_t i = 0; i < config_n_keys; i++) {
        const struct config_key *k = &config_keys[i];
        if (k->type != CONFIG_T_INT && k->type != CONFIG_T_U64 && k->type != CONFIG_T_BYTES &&
            k->type != CONFIG_T_DOUBLE)
            continue;
        bool srv = k->section == CONFIG_SECTION_SERVER;
        double step = k->type == CONFIG_T_DOUBLE ? 1e-3 : 1;
        const double vals[4] = {k->min, k->max, k->min - step, k->max + step};
        for (int j = 0; j < 4; j++) {
            char v[64];
            if (k->type == CONFIG_T_DOUBLE)
                snprintf(v, sizeof v, "%.6g", vals[j]);
            else
                snprintf(v, sizeof v, "%.0f", vals[j]);
            char *t = srv ? mprintf("[server]\n%s = %s\n[model m]\npath = %s\n", k->name, v, model_v2)
                          : mprintf("[model m]\npath = %s\n%s = %s\n", model_v2, k->name, v);
            struct config c;
            char err[1024] = "";
            int r = load(t, &c, err, sizeof err);
            if (j < 2) {
                CHECK(r == 0, "%s = %s should pass: %s", k->name, v, err);
                if (r == 0) {
                    const void *base = srv ? (const void *)&c.server : (const void *)&c.models[0];
                    const char *field = (const char *)base + k->offset;
                    double got = k->type == CONFIG_T_INT      ? *(const int *)(const void *)field
                                 : k->type == CONFIG_T_DOUBLE ? *(const double *)(const void *)field
                                         : (double)*(const uint64_t *)(const void *)field;
                    CHECK(got == vals[j], "%s = %s stored %g", k->name, v, got);
                    config_free(&c);
                }
            } else {
                CHECK(r < 0, "%s = %s should fail", k->name, v);
                if (r < 0) {
                    CHECK(strstr(err, k->name) && strstr(err, srv ? "t.conf:2" : "t.conf:3"),
                          "%s = %s: error '%s' lacks key/line", k->name, v, err);
                } else {
                    config_free(&c);
                }
            }
            free(t);
        }
    }
}

static void test_precedence(void)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/prec.conf", tmpdir);
    char *t = mprintf("[server]\nlisten = 127.0.0.1:9001\n"
                      "[model first]\npath = %s\nmax_batch_size = 4\n"
                      "[model second]\npath = %s\nmax_batch_size = 5\n",
                      model_v2, model_v2);
    write_file(path, t);
    free(t);
    struct config c;
    char err[1024];
    int r;

    unset_all_env();
    /* file only */
    r = parse(&c, err, sizeof err, "--config", path, NULL);
    CHECK(r == 0, "%s", err);
    if (r == 0) {
        CHECK(c.server.listen_port == 9001, "file: %d", c.server.listen_port);
        CHECK(c.models[0].max_batch_size == 4 && c.models[1].max_batch_size == 5, "file batch");
        CHECK(c.default_index == 0 && !strcmp(c.server.default_model, "first"), "default first");
        CHECK(!strcmp(c.config_path, path), "config_path %s", c.config_path);
        config_free(&c);
    }
    /* env beats file; model env keys go to the default model only */
    setenv("MOBILENETD_SERVER_LISTEN", "127.0.0.1:9002", 1);
    setenv("MOBILENETD_MODEL_MAX_BATCH_SIZE", "6", 1);
    r = parse(&c, err, sizeof err, "--config", path, NULL);
    CHECK(r == 0, "%s", err);
    if (r == 0) {
        CHECK(c.server.listen_port == 9002, "env: %d", c.server.listen_port);
        CHECK(c.models[0].max_batch_size == 6, "env batch %d", c.models[0].max_batch_size);
        CHECK(c.models[1].max_batch_size == 5, "env must not touch non-default models");
        config_free(&c);
    }
    /* command line beats env; --default-model picks which model the model keys hit */
    r = parse(&c, err, sizeof err, "--config", path, "--listen", "127.0.0.1:9003",
              "--max-batch-size=7", "--default-model", "second", NULL);
    CHECK(r == 0, "%s", err);
    if (r == 0) {
        CHECK(c.server.listen_port == 9003, "cli: %d", c.server.listen_port);
        CHECK(c.models[0].max_batch_size == 4, "first keeps file value: %d",
              c.models[0].max_batch_size);
        CHECK(c.models[1].max_batch_size == 7, "cli batch on default 'second': %d",
              c.models[1].max_batch_size);
        CHECK(c.default_index == 1, "default second");
        config_free(&c);
    }
    /* env default_model */
    setenv("MOBILENETD_SERVER_DEFAULT_MODEL", "second", 1);
    r = parse(&c, err, sizeof err, "--config", path, NULL);
    CHECK(r == 0 && c.default_index == 1 && c.models[1].max_batch_size == 6, "env default: %s",
          err);
    if (r == 0)
        config_free(&c);
    unset_all_env();
    /* defaults when nothing is given */
    r = parse(&c, err, sizeof err, "--model", model_v2, NULL);
    CHECK(r == 0 && c.server.listen_port == 8080, "default listen: %s", err);
    if (r == 0)
        config_free(&c);

    /* Bad env and CLI values name the variable / option. */
    setenv("MOBILENETD_SERVER_MAX_CONNECTIONS", "0", 1);
    r = parse(&c, err, sizeof err, "--model", model_v2, NULL);
    CHECK(r < 0 && strstr(err, "MOBILENETD_SERVER_MAX_CONNECTIONS") && strstr(err, "range"),
          "env error: %s", err);
    unset_all_env();
    setenv("MOBILENETD_SERVER_LISTN", "127.0.0.1:1", 1);
    r = parse(&c, err, sizeof err, "--model", model_v2, NULL);
    CHECK(r < 0 && strstr(err, "MOBILENETD_SERVER_LISTN"), "unknown env: %s", err);
    unset_all_env();
    r = parse(&c, err, sizeof err, "--model", model_v2, "--max-connections", "x", NULL);
    CHECK(r < 0 && strstr(err, "--max-connections"), "cli error: %s", err);
    r = parse(&c, err, sizeof err, "--model", model_v2, "--frobnicate", "1", NULL);
    CHECK(r < 0 && strstr(err, "--frobnicate"), "unknown option: %s", err);
    r = parse(&c, err, sizeof err, "--model", NULL);
    CHECK(r < 0 && strstr(err, "--model") && strstr(err, "value"), "missing value: %s", err);
    r = parse(&c, err, sizeof err, "--model", model_v2, "stray", NULL);
    CHECK(r < 0 && strstr(err, "stray"), "stray: %s", err);
    r = parse(&c, err, sizeof err, "--config", "/nonexistent/x.conf", NULL);
    CHECK(r == -ENOENT && strstr(err, "/nonexistent/x.conf"), "missing config: %d %s", r, err);
    r = parse(&c, err, sizeof err, NULL);
    CHECK(r < 0 && strstr(err, "no model"), "no model: %s", err);
    r = parse(&c, err, sizeof err, "--labels", labels_in, NULL);
    CHECK(r < 0 && strstr(err, "--labels"), "labels without model: %s", err);
    /* A file error is reported even when the command line would fix the key. */
    snprintf(path, sizeof path, "%s/bad.conf", tmpdir);
    write_file(path, "[server]\n\nlisten = nope\n");
    r = parse(&c, err, sizeof err, "--config", path, "--listen", "127.0.0.1:1", "--model",
              model_v2, NULL);
    CHECK(r < 0 && strstr(err, "bad.conf:3") && strstr(err, "listen"), "file error: %s", err);
}

static void test_shortest_start(void)
{
    struct config c;
    char err[1024];
    unset_all_env();
    int r = parse(&c, err, sizeof err, "--listen", "127.0.0.1:8080", "--model", model_v2, NULL);
    CHECK(r == 0, "%s", err);
    if (r == 0) {
        CHECK(c.n_models == 1 && c.default_index == 0, "one model");
        CHECK(!strcmp(c.models[0].name, "mobilenet_v2_1.0_224_quant"), "name %s",
              c.models[0].name);
        CHECK(!strcmp(c.server.default_model, c.models[0].name), "default");
        CHECK(c.models[0].labels[0] == '\0', "no labels");
        struct stat a, b;
        CHECK(c.models[0].path[0] == '/' && stat(c.models[0].path, &a) == 0 &&
                  stat(model_v2, &b) == 0 && a.st_ino == b.st_ino,
              "path %s", c.models[0].path);
        config_free(&c);
    }
    /* bare names through --model-dir, with labels */
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/models", shared);
    r = parse(&c, err, sizeof err, "--model-dir", dir, "--model",
              "mobilenet_v1_0.25_128_quant.tflite", "--labels", "imagenet_labels.txt", NULL);
    CHECK(r == 0, "%s", err);
    if (r == 0) {
        CHECK(!strcmp(c.models[0].name, "mobilenet_v1_0.25_128_quant"), "%s", c.models[0].name);
        CHECK(strstr(c.models[0].labels, "/imagenet_labels.txt") != NULL, "%s", c.models[0].labels);
        CHECK(strstr(c.models[0].path, "/mobilenet_v1_0.25_128_quant.tflite") != NULL, "%s",
              c.models[0].path);
        config_free(&c);
    }
    /* the model search path from the environment */
    setenv("MOBILENETD_SERVER_MODEL_DIR", dir, 1);
    setenv("MOBILENETD_MODEL_PATH", "mobilenet_v2_1.0_224_quant.tflite", 1);
    r = parse(&c, err, sizeof err, NULL);
    CHECK(r == 0 && c.n_models == 1 && strstr(c.models[0].path, "mobilenet_v2_1.0_224_quant"),
          "env model: %s", err);
    if (r == 0)
        config_free(&c);
    unset_all_env();
    r = parse(&c, err, sizeof err, "--model-dir", "/nonexistent", "--model",
              "no_such_model.tflite", NULL);
    CHECK(r == -ENOENT && strstr(err, "--model") && strstr(err, "/nonexistent") &&
              strstr(err, "no_such_model.tflite"), "%d %s", r, err);
    /* Not in model_dir: the search path shared with the CLIs (engine/modelpath.h) */
    setenv("MNET_MODEL_PATH", dir, 1);
    r = parse(&c, err, sizeof err, "--model-dir", "/nonexistent", "--model",
              "mobilenet_v2_1.0_224_quant.tflite", NULL);
    CHECK(r == 0 && c.models[0].path[0] == '/' &&
              strstr(c.models[0].path, "mobilenet_v2_1.0_224_quant.tflite"),
          "MNET_MODEL_PATH fallback: %s", err);
    if (r == 0)
        config_free(&c);
    unsetenv("MNET_MODEL_PATH");
    /* --default-model names the model; a stem that is not a valid name gives "mobilenet" */
    r = parse(&c, err, sizeof err, "--model", model_v2, "--default-model", "cats", NULL);
    CHECK(r == 0 && !strcmp(c.models[0].name, "cats"), "%s", err);
    if (r == 0)
        config_free(&c);
    char odd[PATH_MAX + 32];
    snprintf(odd, sizeof odd, "%s/odd name+x.tflite", tmpdir);
    unlink(odd);
    CHECK(symlink(model_v2, odd) == 0, "symlink");
    r = parse(&c, err, sizeof err, "--model", odd, NULL);
    CHECK(r == 0 && !strcmp(c.models[0].name, "mobilenet"), "%s %s", err,
          r == 0 ? c.models[0].name : "");
    if (r == 0)
        config_free(&c);
    /* actions */
    r = parse(&c, err, sizeof err, "--model", model_v2, "--check-config", NULL);
    CHECK(r == 0 && c.action == CONFIG_ACTION_CHECK, "check");
    if (r == 0)
        config_free(&c);
    r = parse(&c, err, sizeof err, "--print-config", "--model", model_v2, NULL);
    CHECK(r == 0 && c.action == CONFIG_ACTION_PRINT, "print");
    if (r == 0)
        config_free(&c);
    /* --help and --version work even when the rest is broken */
    r = parse(&c, err, sizeof err, "--listen", "bad", "--help", NULL);
    CHECK(r == 0 && c.action == CONFIG_ACTION_HELP, "help %s", err);
    r = parse(&c, err, sizeof err, "--version", NULL);
    CHECK(r == 0 && c.action == CONFIG_ACTION_VERSION, "version");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(config_run_action(&c, f, "9.9.9") == 0, "run_action version");
    fclose(f);
    CHECK(strstr(buf, "9.9.9") != NULL, "%s", buf);
    free(buf);
    /* --help lists every option and environment variable */
    f = open_memstream(&buf, &len);
    config_usage(f, "mobilenetd");
    fclose(f);
    for (size_t i = 0; i < config_n_keys; i++) {
        char opt[80];
        snprintf(opt, sizeof opt, "--%s ", config_keys[i].option);
        CHECK(strstr(buf, opt) != NULL, "--help lacks %s", opt);
    }
    CHECK(strstr(buf, "MOBILENETD_SERVER_MAX_BODY_BYTES") && strstr(buf, "MOBILENETD_MODEL_LABELS"),
          "--help lacks env names");
    free(buf);
}

static int system_resolves(const char *host)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res = NULL;
    int ok = getaddrinfo(host, "80", &hints, &res) == 0;
    if (res)
        freeaddrinfo(res);
    return ok;
}

static void test_listen(void)
{
    const struct { const char *in, *host; int port, family; } ok[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080, AF_INET},
        {"0.0.0.0:1", "0.0.0.0", 1, AF_INET},
        {"[::1]:65535", "::1", 65535, AF_INET6},
        {"localhost:80", "localhost", 80, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *t = mprintf("[server]\nlisten = %s\n[model m]\npath = %s\n", ok[i].in, model_v2);
        struct config c;
        char err[1024];
        int r = load(t, &c, err, sizeof err);
        CHECK(r == 0, "%s: %s", ok[i].in, err);
        if (r == 0) {
            CHECK(!strcmp(c.server.listen_host, ok[i].host) && c.server.listen_port == ok[i].port,
                  "%s -> %s %d", ok[i].in, c.server.listen_host, c.server.listen_port);
            struct sockaddr_storage ss;
            unsigned int sl = 0;
            r = config_listen_addr(&c.server, &ss, &sl);
            if (ok[i].family == 0 && !system_resolves(ok[i].host))
                /* a name: it must fail exactly when the system resolver does
                 * (a chroot without /etc/hosts cannot resolve "localhost") */
                CHECK(r < 0, "listen_addr %s resolved, the system's resolver does not", ok[i].in);
            else
                CHECK(r == 0, "listen_addr %s", ok[i].in);
            if (r == 0 && ok[i].family) {
                CHECK(ss.ss_family == ok[i].family, "family");
                int port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                                   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
                CHECK(port == ok[i].port, "port %d", port);
            }
            config_free(&c);
        }
        free(t);
    }
}

/* print-config output parses back to the same settings and prints identically. */
static void test_print_roundtrip(void)
{
    char *t = mprintf("[server]\nlisten = [::1]:8443\nmax_body_bytes = 3M\nlog_level = warn\n"
                      "access_log = no\nqueue_full_status = 503\nmodel_dir = \" /a;b#c\\\"d \"\n"
                      "default_model = b\n"
                      "[model a]\npath = %s\ncentral_fraction = 0.3333333333333333\n"
                      "[model b]\npath = %s\nlabels = %s\nprecision = float32\nthreads = 3\n",
                      model_v2, model_v2, labels_in);
    struct config c1, c2;
    char err[1024];
    int r = load(t, &c1, err, sizeof err);
    CHECK(r == 0, "%s", err);
    free(t);
    if (r)
        return;
    char *p1 = NULL, *p2 = NULL;
    size_t l1, l2;
    FILE *f = open_memstream(&p1, &l1);
    CHECK(config_print(&c1, f) == 0, "print");
    fclose(f);
    r = config_load_string(p1, l1, "printed", true, &c2, err, sizeof err);
    CHECK(r == 0, "reparse: %s\n%s", err, p1);
    if (r == 0) {
        f = open_memstream(&p2, &l2);
        config_print(&c2, f);
        fclose(f);
        CHECK(l1 == l2 && !strcmp(p1, p2), "print not stable:\n%s\n----\n%s", p1, p2);
        CHECK(!memcmp(&c1.server, &c2.server, sizeof c1.server), "server differs");
        CHECK(c1.n_models == c2.n_models && c2.n_models == 2 &&
                  !memcmp(c1.models, c2.models, sizeof *c1.models * 2),
              "models differ");
        CHECK(c2.default_index == 1, "default b");
        CHECK(!strcmp(c2.server.model_dir, " /a;b#c\"d "), "model_dir '%s'", c2.server.model_dir);
        CHECK(c2.models[0].central_fraction == 0.3333333333333333, "%.17g",
              c2.models[0].central_fraction);
        config_free(&c2);
    }
    free(p1);
    free(p2);
    config_free(&c1);
}

/* The shipped file: valid, every key present, values equal the table defaults. */
static void test_shipped(void)
{
    char path[PATH_MAX + 64], dir[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config/mobilenetd.conf", source);
    snprintf(dir, sizeof dir, "%s/models", shared);
    unset_all_env();
    setenv("MOBILENETD_SERVER_MODEL_DIR", dir, 1);
    struct config c;
    char err[1024];
    int r = parse(&c, err, sizeof err, "--config", path, "--check-config", NULL);
    CHECK(r == 0, "shipped config: %s", err);
    if (r == 0) {
        CHECK(c.action == CONFIG_ACTION_CHECK, "action");
        CHECK(c.n_models >= 1 && !strcmp(c.models[c.default_index].name, "mobilenet"), "default");
        CHECK(strstr(c.models[c.default_index].path, "mobilenet_v2_1.0_224_quant.tflite") != NULL,
              "%s", c.models[c.default_index].path);
        CHECK(strstr(c.models[c.default_index].labels, "imagenet_labels.txt") != NULL, "%s",
              c.models[c.default_index].labels);
        config_free(&c);
    }
    unset_all_env();

    /* Read the file line by line: which keys appear (uncommented) in which section. */
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    if (!f)
        return;
    bool seen[256] = {0};
    char line[4096];
    int sec = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strcmp(line, "[server]"))
            sec = CONFIG_SECTION_SERVER;
        else if (!strncmp(line, "[model ", 7))
            sec = CONFIG_SECTION_MODEL;
        for (size_t i = 0; i < config_n_keys; i++) {
            const struct config_key *k = &config_keys[i];
            size_t n = strlen(k->name);
            /* model_dir's default depends on the install prefix: shown commented out */
            bool install_dependent = !strcmp(k->name, "model_dir");
            const char *l = install_dependent && line[0] == '#' ? line + 1 : line;
            if ((int)k->section != sec || strncmp(l, k->name, n) || strncmp(l + n, " = ", 3))
                continue;
            seen[i] = true;
            const char *v = l + n + 3;
            /* Every key shows its default, except the ones a model file needs. */
            if (strcmp(k->name, "default_model") && strcmp(k->name, "path") &&
                strcmp(k->name, "labels") && !install_dependent)
                CHECK(!strcmp(v, k->def), "shipped %s = %s but the default is %s", k->name, v,
                      k->def);
        }
    }
    fclose(f);
    for (size_t i = 0; i < config_n_keys; i++)
        CHECK(seen[i], "key [%s] %s missing from config/mobilenetd.conf",
              config_keys[i].section == CONFIG_SECTION_SERVER ? "server" : "model",
              config_keys[i].name);
}

/* docs/OPERATIONS.md documents every key (its table is generated from ours). */
static void test_docs(void)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/docs/OPERATIONS.md", source);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    if (!f)
        return;
    static char doc[1 << 20];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = '\0';
    fclose(f);
    for (size_t i = 0; i < config_n_keys; i++) {
        const struct config_key *k = &config_keys[i];
        char env[128], opt[96];
        snprintf(env, sizeof env, "`MOBILENETD_%s_", k->section == CONFIG_SECTION_SERVER ? "SERVER" : "MODEL");
        for (const char *p = k->name; *p; p++) {
            size_t l = strlen(env);
            env[l] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
            env[l + 1] = '\0';
        }
        strcat(env, "`");
        snprintf(opt, sizeof opt, "`--%s`", k->option);
        CHECK(strstr(doc, env) && strstr(doc, opt), "docs/OPERATIONS.md lacks %s or %s "
              "(regenerate the key table with test_config --markdown)", env, opt);
    }
}

static void test_reload(void)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/reload.conf", tmpdir);
    char *t1 = mprintf("[server]\nretry_after_s = 2\n[model m]\npath = %s\nmax_batch_size = 2\n",
                       model_v2);
    write_file(path, t1);
    unset_all_env();
    struct config c, c2;
    char err[1024];
    int r = parse(&c, err, sizeof err, "--config", path, "--max-batch-size", "9", NULL);
    CHECK(r == 0 && c.server.retry_after_s == 2 && c.models[0].max_batch_size == 9, "%s", err);
    if (r)
        return;
    char *t2 = mprintf("[server]\nretry_after_s = 7\n[model m]\npath = %s\nmax_batch_size = 3\n"
                       "[model n]\npath = %s\n",
                       model_v2, model_v2);
    write_file(path, t2);
    r = config_reload(&c, &c2, err, sizeof err);
    CHECK(r == 0, "%s", err);
    if (r == 0) {
        CHECK(c2.server.retry_after_s == 7, "reload reads the file");
        CHECK(c2.models[0].max_batch_size == 9, "command line still wins after reload");
        CHECK(c2.n_models == 2 && c2.action == CONFIG_ACTION_RUN, "new model");
        config_free(&c2);
    }
    write_file(path, "[server]\nretry_after_s = many\n");
    memset(&c2, 0x33, sizeof c2);
    r = config_reload(&c, &c2, err, sizeof err);
    CHECK(r < 0 && strstr(err, "reload.conf:2") && strstr(err, "retry_after_s"), "%s", err);
    CHECK(c.server.retry_after_s == 2 && c.n_models == 1, "old config intact");
    config_free(&c);
    free(t1);
    free(t2);
}

/* Garbage never crashes and always either parses or explains itself. */
static void test_garbage(void)
{
    static const char *const atoms[] = {"[server]", "[model x]", "[model ", "]", "=", " = ",
                                        "\"", "\\", "#", ";", "\n", "\r\n", "listen", "path",
                                        "127.0.0.1:80", "16M", "99999999999999999999", "-1",
                                        "max_body_bytes", "threads", "log_level", "debug", " "};
    unsigned s = 12345;
    for (int it = 0; it < 20000; it++) {
        char buf[512] = "";
        int n = (int)((s = s * 1103515245u + 12345u) >> 16) % 24;
        for (int i = 0; i < n; i++) {
            s = s * 1103515245u + 12345u;
            const char *a = atoms[(s >> 16) % (sizeof atoms / sizeof atoms[0])];
            if (strlen(buf) + strlen(a) < sizeof buf)
                strcat(buf, a);
        }
        struct config c;
        char err[256] = "";
        int r = config_load_string(buf, strlen(buf), "g", false, &c, err, sizeof err);
        if (r == 0)
            config_free(&c);
        else if (!err[0] || strlen(err) >= sizeof err) {
            CHECK(0, "empty error for input '%s'", buf);
            break;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--markdown")) { /* docs/OPERATIONS.md key table */
        config_keys_markdown(stdout);
        return 0;
    }
    const char *s = getenv("MNET_SHARED"), *src = getenv("MNET_SOURCE");
    if (!s || !src) {
        fprintf(stderr, "FAIL: MNET_SHARED and MNET_SOURCE must be set (run through meson test)\n");
        return 1;
    }
    snprintf(shared, sizeof shared, "%s", s);
    snprintf(source, sizeof source, "%s", src);
    snprintf(model_v2, sizeof model_v2, "%s/models/mobilenet_v2_1.0_224_quant.tflite", shared);
    snprintf(labels_in, sizeof labels_in, "%s/models/imagenet_labels.txt", shared);
    if (access(model_v2, R_OK) != 0 || access(labels_in, R_OK) != 0) {
        fprintf(stderr, "FAIL: test data missing: %s\n", model_v2);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_config.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    unset_all_env();

    test_defaults();
    test_syntax();
    test_ranges();
    test_precedence();
    test_shortest_start();
    test_listen();
    test_print_roundtrip();
    test_shipped();
    test_docs();
    test_reload();
    test_garbage();

    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", tmpdir);
    return check_summary();
}
