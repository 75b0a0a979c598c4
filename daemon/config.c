/* config.c: the key table, a strict INI parser, environment and command-line
 * overrides, validation, model path search and --print-config.
 *
 * Why our own parser instead of libinih: every error must name the key and
 * file:line, duplicates must be errors, and quoting/inline comments must be
 * exact; inih's handler gets no line numbers in Debian's build and accepts
 * duplicates silently.  The parser is ~150 lines and fuzzed
 * (tests/fuzz/fuzz_config.c).
 */
#include "config.h"
#include "modelpath.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1u << 20)

/* ---- the key table ---- */

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const int log_level_values[] = {CONFIG_LOG_ERROR, CONFIG_LOG_WARN, CONFIG_LOG_INFO,
                                       CONFIG_LOG_DEBUG};
static const char *const precisions[] = {"native", "float32", NULL};
static const int precision_values[] = {CONFIG_PRECISION_NATIVE, CONFIG_PRECISION_FLOAT32};
static const char *const full_statuses[] = {"429", "503", NULL};
static const int full_status_values[] = {429, 503};

#define SRV(field) .section = CONFIG_SECTION_SERVER, .offset = offsetof(struct config_server, field)
#define MDL(field) .section = CONFIG_SECTION_MODEL, .offset = offsetof(struct config_model, field)

const struct config_key config_keys[] = {
    {SRV(listen), .name = "listen", .option = "listen", .type = CONFIG_T_LISTEN,
     .def = "127.0.0.1:8080",
     .help = "Address and TCP port to serve HTTP on: IPV4:PORT, [IPV6]:PORT or localhost:PORT. "
             "Ignored when systemd passes a socket (mobilenetd.socket)."},
    {SRV(max_body_bytes), .name = "max_body_bytes", .option = "max-body-bytes",
     .type = CONFIG_T_BYTES, .def = "16M", .min = 1024, .max = 1073741824.0,
     .help = "Largest request body accepted (413 above it; a Content-Length over it is refused "
             "before the body is read). Suffixes K, M, G are binary (KiB, MiB, GiB)."},
    {SRV(max_pixels), .name = "max_pixels", .option = "max-pixels", .type = CONFIG_T_U64,
     .def = "50000000", .min = 1, .max = 1e9,
     .help = "Largest width*height an uploaded image may declare, checked from its header "
             "before any pixel buffer exists (413)."},
    {SRV(max_connections), .name = "max_connections", .option = "max-connections",
     .type = CONFIG_T_INT, .def = "256", .min = 1, .max = 65536,
     .help = "Open HTTP connections at most; further connections are refused."},
    {SRV(max_connections_per_ip), .name = "max_connections_per_ip",
     .option = "max-connections-per-ip", .type = CONFIG_T_INT, .def = "64", .min = 0,
     .max = 65536, .help = "Open connections from one client address at most; 0 = no limit."},
    {SRV(connection_timeout_s), .name = "connection_timeout_s", .option = "connection-timeout-s",
     .type = CONFIG_T_INT, .def = "30", .min = 1, .max = 3600,
     .help = "Close a connection idle (no bytes sent or received) this many seconds; "
             "this also bounds slow senders."},
    {SRV(request_timeout_ms), .name = "request_timeout_ms", .option = "request-timeout-ms",
     .type = CONFIG_T_INT, .def = "10000", .min = 1, .max = 600000,
     .help = "Default deadline of a classify request (the timeout_ms query parameter "
             "overrides it); an image still queued at its deadline gets 504."},
    {SRV(max_header_bytes), .name = "max_header_bytes", .option = "max-header-bytes",
     .type = CONFIG_T_INT, .def = "16384", .min = 1024, .max = 1048576,
     .help = "Largest request line plus headers (431/413 above it)."},
    {SRV(drain_timeout_s), .name = "drain_timeout_s", .option = "drain-timeout-s",
     .type = CONFIG_T_INT, .def = "20", .min = 0, .max = 3600,
     .help = "On SIGTERM, time allowed for queued and running work to finish before exit "
             "(keep it below the unit's TimeoutStopSec)."},
    {SRV(queue_full_status), .name = "queue_full_status", .option = "queue-full-status",
     .type = CONFIG_T_ENUM, .def = "429", .choices = full_statuses,
     .choice_values = full_status_values,
     .help = "HTTP status when a model's queue is full: 429 or 503 (both with Retry-After)."},
    {SRV(retry_after_s), .name = "retry_after_s", .option = "retry-after-s", .type = CONFIG_T_INT,
     .def = "1", .min = 0, .max = 3600,
     .help = "Retry-After seconds sent with 429/503 answers."},
    {SRV(log_level), .name = "log_level", .option = "log-level", .type = CONFIG_T_ENUM,
     .def = "info", .choices = log_levels, .choice_values = log_level_values,
     .help = "Least severe message logged to stderr: error, warn, info or debug."},
    {SRV(access_log), .name = "access_log", .option = "access-log", .type = CONFIG_T_BOOL,
     .def = "on", .help = "One line per request to stderr (on/off)."},
    {SRV(default_model), .name = "default_model", .option = "default-model",
     .type = CONFIG_T_NAME, .def = "",
     .help = "Model served by POST /v1/classify; empty = the first [model] section."},
    {SRV(threads), .name = "threads", .option = "http-threads", .type = CONFIG_T_INT, .def = "2",
     .min = 1, .max = 256,
     .help = "HTTP threads (they also decode images; the engine has its own threads)."},
    {SRV(model_dir), .name = "model_dir", .option = "model-dir", .type = CONFIG_T_STRING,
     .def = ".:models:../shared/models:" MNETD_MODEL_DIR,
     .help = "Colon-separated directories searched for model and label files given "
             "without a '/' (relative ones from the working directory); then $MNET_MODEL_PATH, "
             "./models, ../shared/models."},

    {MDL(path), .name = "path", .option = "model", .type = CONFIG_T_PATH, .def = "",
     .help = "The .tflite model file (required)."},
    {MDL(labels), .name = "labels", .option = "labels", .type = CONFIG_T_PATH, .def = "",
     .help = "Labels file, one class name per line; empty = answers carry indices only."},
    {MDL(precision), .name = "precision", .option = "precision", .type = CONFIG_T_ENUM,
     .def = "native", .choices = precisions, .choice_values = precision_values,
     .help = "native = the model's own numerics (uint8/int8 or float32); float32 = run a "
             "quantized model in float."},
    {MDL(threads), .name = "threads", .option = "threads", .type = CONFIG_T_INT, .def = "0",
     .min = 0, .max = 256, .help = "Engine (OpenMP) threads for this model; 0 = all cores."},
    {MDL(max_batch_size), .name = "max_batch_size", .option = "max-batch-size",
     .type = CONFIG_T_INT, .def = "8", .min = 1, .max = 256,
     .help = "Most images the engine runs at once."},
    {MDL(max_batch_delay_us), .name = "max_batch_delay_us", .option = "max-batch-delay-us",
     .type = CONFIG_T_INT, .def = "2000", .min = 0, .max = 1000000,
     .help = "How long the engine waits for more images to fill a batch; 0 = run what is "
             "queued as soon as the engine is free."},
    {MDL(max_queue_images), .name = "max_queue_images", .option = "max-queue-images",
     .type = CONFIG_T_INT, .def = "64", .min = 1, .max = 65536,
     .help = "Images waiting for this model at most; more get queue_full_status."},
    {MDL(central_fraction), .name = "central_fraction", .option = "central-fraction",
     .type = CONFIG_T_DOUBLE, .def = "0.875", .min = 0.05, .max = 1.0,
     .help = "Central part of the image kept before resizing to the model input."},
    {MDL(top_k_default), .name = "top_k_default", .option = "top-k-default",
     .type = CONFIG_T_INT, .def = "5", .min = 1, .max = 100000,
     .help = "Predictions per image when the request has no top_k (capped at the class count)."},
};
const size_t config_n_keys = sizeof config_keys / sizeof config_keys[0];

#define N_KEYS (sizeof config_keys / sizeof config_keys[0])

/* ---- small helpers ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *section_name(enum config_section s)
{
    return s == CONFIG_SECTION_SERVER ? "server" : "model";
}

const char *config_log_level_name(enum config_log_level l)
{
    return (unsigned)l < 4 ? log_levels[l] : "?";
}

const char *config_precision_name(enum config_precision p)
{
    return (unsigned)p < 2 ? precisions[p] : "?";
}

static bool valid_model_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CONFIG_NAME_MAX || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* Shortest %g that reads back as the same double. */
static void format_double(double v, char *buf, size_t n)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* host:port -> host, port.  "[::1]:80" -> "::1", 80. */
static int parse_listen(const char *v, char *host, size_t hostlen, int *port, char *why,
                        size_t whylen)
{
    const char *colon;
    const char *h = v;
    size_t hl;
    if (v[0] == '[') {
        const char *end = strchr(v, ']');
        if (!end || end[1] != ':') {
            set_err(why, whylen, "'%s' is not [IPV6]:PORT", v);
            return -EINVAL;
        }
        h = v + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon) {
            set_err(why, whylen, "'%s' is not HOST:PORT", v);
            return -EINVAL;
        }
        hl = (size_t)(colon - v);
        if (memchr(v, ':', hl)) {
            set_err(why, whylen, "'%s': write IPv6 addresses as [ADDR]:PORT", v);
            return -EINVAL;
        }
    }
    if (hl == 0 || hl >= hostlen) {
        set_err(why, whylen, "'%s' has no host (use 0.0.0.0:PORT for every address)", v);
        return -EINVAL;
    }
    char hb[256];
    memcpy(hb, h, hl);
    hb[hl] = '\0';
    unsigned char addr[16];
    bool numeric = inet_pton(v[0] == '[' ? AF_INET6 : AF_INET, hb, addr) == 1;
    if (!numeric && strcmp(hb, "localhost") != 0) {
        set_err(why, whylen, "'%s': host must be a numeric address or localhost", v);
        return -EINVAL;
    }
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p)) {
        set_err(why, whylen, "'%s': port must be a number 1..65535", v);
        return -EINVAL;
    }
    long pn = strtol(p, NULL, 10);
    if (pn < 1 || pn > 65535) {
        set_err(why, whylen, "'%s': port must be a number 1..65535", v);
        return -EINVAL;
    }
    memcpy(host, hb, hl + 1);
    *port = (int)pn;
    return 0;
}

/* Parse one value for key k into the struct at base.  why gets the reason. */
static int set_value(const struct config_key *k, void *base, const char *v, char *why,
                     size_t whylen)
{
    char *field = (char *)base + k->offset;
    char *end;
    switch (k->type) {
    case CONFIG_T_NAME:
        if (*v && !valid_model_name(v)) {
            set_err(why, whylen, "'%s' is not a model name (letters, digits, '_', '-', '.'; "
                    "at most %d)", v, CONFIG_NAME_MAX - 1);
            return -EINVAL;
        }
        memset(field, 0, CONFIG_NAME_MAX); /* zero padding: configs compare with memcmp */
        snprintf(field, CONFIG_NAME_MAX, "%s", v);
        return 0;
    case CONFIG_T_STRING:
    case CONFIG_T_PATH:
        if (strlen(v) >= CONFIG_PATH_MAX) {
            set_err(why, whylen, "value longer than %d bytes", CONFIG_PATH_MAX - 1);
            return -EINVAL;
        }
        memset(field, 0, CONFIG_PATH_MAX);
        snprintf(field, CONFIG_PATH_MAX, "%s", v);
        return 0;
    case CONFIG_T_LISTEN: {
        struct config_server *s = base;
        char host[sizeof s->listen_host] = "";
        int port;
        if (strlen(v) >= CONFIG_PATH_MAX) {
            set_err(why, whylen, "value too long");
            return -EINVAL;
        }
        int r = parse_listen(v, host, sizeof host, &port, why, whylen);
        if (r < 0)
            return r;
        memset(s->listen, 0, sizeof s->listen);
        snprintf(s->listen, sizeof s->listen, "%s", v);
        memcpy(s->listen_host, host, sizeof host);
        s->listen_port = port;
        return 0;
    }
    case CONFIG_T_INT:
    case CONFIG_T_U64:
    case CONFIG_T_BYTES: {
        if (!isdigit((unsigned char)v[0]) && !(v[0] == '-' && k->type == CONFIG_T_INT)) {
            set_err(why, whylen, "'%s' is not %s", v,
                    k->type == CONFIG_T_BYTES ? "a byte size (e.g. 16M)" : "an integer");
            return -EINVAL;
        }
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno == ERANGE) {
            set_err(why, whylen, "%s is out of range %.0f..%.0f", v, k->min, k->max);
            return -EINVAL;
        }
        if (k->type == CONFIG_T_BYTES && *end) {
            int shift = 0;
            switch (*end) {
            case 'k': case 'K': shift = 10; break;
            case 'm': case 'M': shift = 20; break;
            case 'g': case 'G': shift = 30; break;
            }
            if (shift && (!strcmp(end + 1, "") || !strcmp(end + 1, "iB") || !strcmp(end + 1, "B"))) {
                if (n > (LLONG_MAX >> shift)) {
                    set_err(why, whylen, "%s is out of range %.0f..%.0f", v, k->min, k->max);
                    return -EINVAL;
                }
                n <<= shift;
                end = (char *)"";
            }
        }
        if (*end) {
            set_err(why, whylen, "'%s' is not %s", v,
                    k->type == CONFIG_T_BYTES ? "a byte size (e.g. 16M)" : "an integer");
            return -EINVAL;
        }
        if ((double)n < k->min || (double)n > k->max) {
            set_err(why, whylen, "%s is out of range %.0f..%.0f", v, k->min, k->max);
            return -EINVAL;
        }
        if (k->type == CONFIG_T_INT)
            *(int *)(void *)field = (int)n;
        else
            *(uint64_t *)(void *)field = (uint64_t)n;
        return 0;
    }
    case CONFIG_T_DOUBLE: {
        errno = 0;
        double d = strtod(v, &end);
        if (!*v || *end || errno == ERANGE || !isfinite(d) || isspace((unsigned char)v[0])) {
            set_err(why, whylen, "'%s' is not a number", v);
            return -EINVAL;
        }
        if (d < k->min || d > k->max) {
            char lo[32], hi[32];
            format_double(k->min, lo, sizeof lo);
            format_double(k->max, hi, sizeof hi);
            set_err(why, whylen, "%s is out of range %s..%s", v, lo, hi);
            return -EINVAL;
        }
        *(double *)(void *)field = d;
        return 0;
    }
    case CONFIG_T_BOOL: {
        static const char *const yes[] = {"on", "yes", "true", "1"};
        static const char *const no[] = {"off", "no", "false", "0"};
        for (int i = 0; i < 4; i++) {
            if (!strcmp(v, yes[i])) {
                *(bool *)(void *)field = true;
                return 0;
            }
            if (!strcmp(v, no[i])) {
                *(bool *)(void *)field = false;
                return 0;
            }
        }
        set_err(why, whylen, "'%s' is not on/off (or yes/no, true/false, 1/0)", v);
        return -EINVAL;
    }
    case CONFIG_T_ENUM: {
        char list[128] = "";
        for (int i = 0; k->choices[i]; i++) {
            if (!strcmp(v, k->choices[i])) {
                *(int *)(void *)field = k->choice_values[i];
                return 0;
            }
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", k->choices[i]);
        }
        set_err(why, whylen, "'%s' is not one of: %s", v, list);
        return -EINVAL;
    }
    }
    set_err(why, whylen, "internal: bad key type");
    return -EINVAL;
}

/* Format a field's current value in file syntax (unquoted). */
static void get_value(const struct config_key *k, const void *base, char *buf, size_t n)
{
    const char *field = (const char *)base + k->offset;
    switch (k->type) {
    case CONFIG_T_NAME:
    case CONFIG_T_STRING:
    case CONFIG_T_PATH:
    case CONFIG_T_LISTEN:
        snprintf(buf, n, "%s", field);
        return;
    case CONFIG_T_INT:
        snprintf(buf, n, "%d", *(const int *)(const void *)field);
        return;
    case CONFIG_T_U64:
    case CONFIG_T_BYTES:
        snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)(const void *)field);
        return;
    case CONFIG_T_DOUBLE:
        format_double(*(const double *)(const void *)field, buf, n);
        return;
    case CONFIG_T_BOOL:
        snprintf(buf, n, "%s", *(const bool *)(const void *)field ? "on" : "off");
        return;
    case CONFIG_T_ENUM: {
        int val = *(const int *)(const void *)field;
        for (int i = 0; k->choices[i]; i++)
            if (k->choice_values[i] == val) {
                snprintf(buf, n, "%s", k->choices[i]);
                return;
            }
        snprintf(buf, n, "?");
        return;
    }
    }
}

/* ---- parse state ---- */

struct model_src {
    char where[CONFIG_PATH_MAX + 32]; /* "file:12" of the [model] header, or "--model" */
    char key_where[N_KEYS][CONFIG_PATH_MAX + 32]; /* where each key was last set */
};

struct state {
    struct config cfg;
    struct config_model models[CONFIG_MAX_MODELS];
    struct model_src src[CONFIG_MAX_MODELS];
    char server_where[N_KEYS][CONFIG_PATH_MAX + 32];
    bool resolve_paths;
};

static void defaults_server(struct config_server *s)
{
    char why[8];
    for (size_t i = 0; i < N_KEYS; i++)
        if (config_keys[i].section == CONFIG_SECTION_SERVER)
            (void)set_value(&config_keys[i], s, config_keys[i].def, why, sizeof why);
}

static void defaults_model(struct config_model *m)
{
    char why[8];
    for (size_t i = 0; i < N_KEYS; i++)
        if (config_keys[i].section == CONFIG_SECTION_MODEL)
            (void)set_value(&config_keys[i], m, config_keys[i].def, why, sizeof why);
}

static struct state *state_new(void)
{
    struct state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    defaults_server(&st->cfg.server);
    st->cfg.default_index = -1;
    st->resolve_paths = true;
    for (size_t i = 0; i < N_KEYS; i++)
        snprintf(st->server_where[i], sizeof st->server_where[i], "default");
    return st;
}

static int find_model(const struct state *st, const char *name)
{
    for (int i = 0; i < st->cfg.n_models; i++)
        if (!strcmp(st->models[i].name, name))
            return i;
    return -1;
}

static int add_model(struct state *st, const char *name, const char *where, char *err,
                     size_t errlen)
{
    if (st->cfg.n_models >= CONFIG_MAX_MODELS) {
        set_err(err, errlen, "%s: too many models (at most %d)", where, CONFIG_MAX_MODELS);
        return -EINVAL;
    }
    int i = st->cfg.n_models++;
    memset(&st->models[i], 0, sizeof st->models[i]);
    defaults_model(&st->models[i]);
    snprintf(st->models[i].name, sizeof st->models[i].name, "%s", name);
    snprintf(st->src[i].where, sizeof st->src[i].where, "%s", where);
    for (size_t k = 0; k < N_KEYS; k++)
        snprintf(st->src[i].key_where[k], sizeof st->src[i].key_where[k], "default");
    return i;
}

static const struct config_key *find_key(enum config_section sec, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (config_keys[i].section == sec && !strcmp(config_keys[i].name, name))
            return &config_keys[i];
    return NULL;
}

/* ---- the INI parser ---- */

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static char *trim(char *s)
{
    while (blank(*s))
        s++;
    size_t n = strlen(s);
    while (n && blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Only a comment may follow at rest: "" or "# ..." / "; ...". */
static bool rest_is_comment(const char *p)
{
    while (blank(*p))
        p++;
    return *p == '\0' || *p == '#' || *p == ';';
}

/* Unquote/strip a value in place.  Returns NULL on a syntax error. */
static char *parse_value(char *v, const char **why)
{
    v = trim(v);
    if (*v == '"') {
        char *o = v, *p = v + 1;
        for (;;) {
            if (*p == '\0') {
                *why = "unterminated quoted value";
                return NULL;
            }
            if (*p == '"')
                break;
            if (*p == '\\') {
                p++;
                if (*p != '"' && *p != '\\') {
                    *why = "only \\\" and \\\\ escapes are allowed in quoted values";
                    return NULL;
                }
            }
            *o++ = *p++;
        }
        if (!rest_is_comment(p + 1)) {
            *why = "text after the closing quote";
            return NULL;
        }
        *o = '\0';
        return v;
    }
    /* Inline comment: '#' or ';' preceded by whitespace. */
    for (char *p = v; *p; p++) {
        if ((*p == '#' || *p == ';') && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    }
    return trim(v);
}

static int parse_text(struct state *st, const char *text, size_t len, const char *name, char *err,
                      size_t errlen)
{
    enum { NONE, SERVER, MODEL } cur = NONE;
    int model = -1;
    int server_line = 0;
    int seen[N_KEYS]; /* line where each key was set in the current section */
    memset(seen, 0, sizeof seen);
    char line[CONFIG_LINE_MAX + 2];
    size_t pos = 0;
    int lineno = 0;

    if (memchr(text, '\0', len)) {
        set_err(err, errlen, "%s: contains a NUL byte (not a text file?)", name);
        return -EINVAL;
    }
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (l > CONFIG_LINE_MAX) {
            set_err(err, errlen, "%s:%d: line longer than %d bytes", name, lineno, CONFIG_LINE_MAX);
            return -EINVAL;
        }
        memcpy(line, text + pos, l);
        line[l] = '\0';
        pos += l + (nl ? 1 : 0);
        if (l && line[l - 1] == '\r')
            line[l - 1] = '\0';

        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;

        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || !rest_is_comment(close + 1)) {
                set_err(err, errlen, "%s:%d: malformed section header (expected [server] or "
                        "[model NAME])", name, lineno);
                return -EINVAL;
            }
            *close = '\0';
            char *inner = trim(s + 1);
            memset(seen, 0, sizeof seen);
            if (!strcmp(inner, "server")) {
                if (server_line) {
                    set_err(err, errlen, "%s:%d: duplicate section [server] (first at %s:%d)",
                            name, lineno, name, server_line);
                    return -EINVAL;
                }
                server_line = lineno;
                cur = SERVER;
                continue;
            }
            if (!strncmp(inner, "model", 5) && (inner[5] == ' ' || inner[5] == '\t')) {
                char *mname = trim(inner + 5);
                if (*mname == '"') { /* allow [model "name"] */
                    size_t ml = strlen(mname);
                    if (ml < 2 || mname[ml - 1] != '"') {
                        set_err(err, errlen, "%s:%d: malformed model name", name, lineno);
                        return -EINVAL;
                    }
                    mname[ml - 1] = '\0';
                    mname++;
                }
                if (!valid_model_name(mname)) {
                    set_err(err, errlen, "%s:%d: [model %s]: not a model name (letters, digits, "
                            "'_', '-', '.'; at most %d)", name, lineno, mname, CONFIG_NAME_MAX - 1);
                    return -EINVAL;
                }
                int prev = find_model(st, mname);
                if (prev >= 0) {
                    set_err(err, errlen, "%s:%d: duplicate section [model %s] (first at %s)", name,
                            lineno, mname, st->src[prev].where);
                    return -EINVAL;
                }
                char where[CONFIG_PATH_MAX + 32];
                snprintf(where, sizeof where, "%s:%d", name, lineno);
                model = add_model(st, mname, where, err, errlen);
                if (model < 0)
                    return model;
                cur = MODEL;
                continue;
            }
            if (!strcmp(inner, "model"))
                set_err(err, errlen, "%s:%d: [model] needs a name: [model NAME]", name, lineno);
            else
                set_err(err, errlen, "%s:%d: unknown section [%s] (expected [server] or "
                        "[model NAME])", name, lineno, inner);
            return -EINVAL;
        }

        char *eq = strchr(s, '=');
        if (!eq) {
            set_err(err, errlen, "%s:%d: expected KEY = VALUE, [server] or [model NAME]", name,
                    lineno);
            return -EINVAL;
        }
        *eq = '\0';
        char *key = trim(s);
        if (*key == '\0') {
            set_err(err, errlen, "%s:%d: missing key before '='", name, lineno);
            return -EINVAL;
        }
        if (cur == NONE) {
            set_err(err, errlen, "%s:%d: key '%s' outside a section (put it under [server] or "
                    "[model NAME])", name, lineno, key);
            return -EINVAL;
        }
        enum config_section sec = cur == SERVER ? CONFIG_SECTION_SERVER : CONFIG_SECTION_MODEL;
        const struct config_key *k = find_key(sec, key);
        if (!k) {
            const struct config_key *other =
                find_key(sec == CONFIG_SECTION_SERVER ? CONFIG_SECTION_MODEL : CONFIG_SECTION_SERVER,
                         key);
            if (other)
                set_err(err, errlen, "%s:%d: key '%s' belongs in a %s section, not [%s]", name,
                        lineno, key, sec == CONFIG_SECTION_SERVER ? "[model NAME]" : "[server]",
                        section_name(sec));
            else
                set_err(err, errlen, "%s:%d: unknown key '%s' in [%s]", name, lineno, key,
                        section_name(sec));
            return -EINVAL;
        }
        size_t ki = (size_t)(k - config_keys);
        if (seen[ki]) {
            set_err(err, errlen, "%s:%d: duplicate key '%s' (first set at %s:%d)", name, lineno,
                    key, name, seen[ki]);
            return -EINVAL;
        }
        seen[ki] = lineno;
        const char *synerr = NULL;
        char *val = parse_value(eq + 1, &synerr);
        if (!val) {
            set_err(err, errlen, "%s:%d: %s: %s", name, lineno, key, synerr);
            return -EINVAL;
        }
        char why[CONFIG_PATH_MAX + 128];
        void *base = cur == SERVER ? (void *)&st->cfg.server : (void *)&st->models[model];
        if (set_value(k, base, val, why, sizeof why) < 0) {
            set_err(err, errlen, "%s:%d: %s: %s", name, lineno, key, why);
            return -EINVAL;
        }
        char *where = cur == SERVER ? st->server_where[ki] : st->src[model].key_where[ki];
        snprintf(where, CONFIG_PATH_MAX + 32, "%s:%d", name, lineno);
    }
    return 0;
}

static int read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        set_err(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        set_err(err, errlen, "%s: read error", path);
        return -EIO;
    }
    if (n > CONFIG_FILE_MAX) {
        free(buf);
        set_err(err, errlen, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
        return -EINVAL;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

/* ---- model file search ---- */

/* 0 when p is a regular file, else a negative errno. */
static int check_file(const char *p)
{
    struct stat sb;
    if (stat(p, &sb) != 0)
        return -errno;
    return S_ISREG(sb.st_mode) ? 0 : -EISDIR;
}

static void path_error(char *err, size_t errlen, const char *where, const char *model,
                       const char *key, const char *value, const char *model_dir, int r)
{
    if (strchr(value, '/'))
        set_err(err, errlen, "%s: [model %s] %s '%s': %s", where, model, key, value,
                r == -EISDIR ? "not a regular file" : strerror(-r));
    else
        set_err(err, errlen, "%s: [model %s] %s '%s' not found in model_dir '%s' (nor in "
                "$MNET_MODEL_PATH, ./models, ../shared/models)", where, model, key, value,
                model_dir);
}

/* Absolute form of an existing path, so later chdir()s and logs are unambiguous. */
static int absolute(const char *in, char *out, size_t outlen)
{
    char *abs = realpath(in, NULL);
    if (!abs)
        return -errno;
    if (strlen(abs) >= outlen) {
        free(abs);
        return -ENAMETOOLONG;
    }
    memcpy(out, abs, strlen(abs) + 1);
    free(abs);
    return 0;
}

/* Bare names (no '/') are searched in model_dir; others are used as given.
 * out gets the absolute path. */
static int resolve_path(const char *model_dir, const char *in, char *out, size_t outlen)
{
    if (strchr(in, '/')) {
        int r = check_file(in);
        if (r < 0)
            return r;
        return absolute(in, out, outlen);
    }
    const char *d = model_dir;
    while (1) {
        const char *c = strchr(d, ':');
        size_t dl = c ? (size_t)(c - d) : strlen(d);
        if (dl > 0) {
            char cand[CONFIG_PATH_MAX * 2 + 2];
            snprintf(cand, sizeof cand, "%.*s/%s", (int)dl, d, in);
            if (check_file(cand) == 0)
                return absolute(cand, out, outlen);
        }
        if (!c)
            break;
        d = c + 1;
    }
    /* Then the search path every front end shares (engine/modelpath.h:
     * $MNET_MODEL_PATH, ./models, ../shared/models, the build's shared dir),
     * so a name that works with mnet-classify works here too. */
    char found[CONFIG_PATH_MAX];
    if (mnet_path_find(in, NULL, found, sizeof found) == 0 && check_file(found) == 0)
        return absolute(found, out, outlen);
    return -ENOENT;
}

/* ---- overrides from the environment and the command line ---- */

struct override {
    const struct config_key *k;
    const char *value;
    char where[160]; /* "option --listen" or "environment MOBILENETD_SERVER_LISTEN" */
};

static void env_name(const struct config_key *k, char *buf, size_t n)
{
    snprintf(buf, n, "MOBILENETD_%s_", k->section == CONFIG_SECTION_SERVER ? "SERVER" : "MODEL");
    size_t l = strlen(buf);
    for (const char *p = k->name; *p && l + 1 < n; p++)
        buf[l++] = (char)toupper((unsigned char)*p);
    buf[l] = '\0';
}

static int apply_override(struct state *st, const struct override *o, int model, char *err,
                          size_t errlen)
{
    char why[CONFIG_PATH_MAX + 128];
    size_t ki = (size_t)(o->k - config_keys);
    void *base;
    char *where;
    if (o->k->section == CONFIG_SECTION_SERVER) {
        base = &st->cfg.server;
        where = st->server_where[ki];
    } else {
        if (model < 0 || model >= CONFIG_MAX_MODELS)
            return -EINVAL; /* programmer error: model keys need a model */
        base = &st->models[model];
        where = st->src[model].key_where[ki];
    }
    if (set_value(o->k, base, o->value, why, sizeof why) < 0) {
        set_err(err, errlen, "%s: %s", o->where, why);
        return -EINVAL;
    }
    snprintf(where, CONFIG_PATH_MAX + 32, "%s", o->where);
    return 0;
}

/* Model name for `--model FILE`: the file's stem if that is a valid name. */
static void stem_name(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char tmp[CONFIG_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", b);
    char *dot = strrchr(tmp, '.');
    if (dot && dot != tmp)
        *dot = '\0';
    size_t len = strlen(tmp); /* a valid name is shorter than n: copied whole */
    if (valid_model_name(tmp) && len < n)
        memcpy(out, tmp, len + 1);
    else
        snprintf(out, n, "mobilenet");
}

/* Choose the default model, apply model overrides to it, check and resolve. */
static int finish(struct state *st, const struct override *mo, int n_mo, char *err, size_t errlen)
{
    struct config *c = &st->cfg;
    const char *dm = c->server.default_model;
    size_t dmk = (size_t)(find_key(CONFIG_SECTION_SERVER, "default_model") - config_keys);
    int def = -1;
    if (*dm) {
        def = find_model(st, dm);
        if (def < 0 && n_mo == 0) {
            set_err(err, errlen, "%s: default_model '%s' has no [model %s] section",
                    st->server_where[dmk], dm, dm);
            return -EINVAL;
        }
    } else if (c->n_models > 0) {
        def = 0;
    }
    if (def < 0 && n_mo > 0) {
        /* No such model yet: the overrides define it, and must give its path. */
        const struct override *path = NULL;
        for (int i = 0; i < n_mo; i++)
            if (!strcmp(mo[i].k->name, "path"))
                path = &mo[i];
        if (!path) {
            set_err(err, errlen, "%s given but no model: add --model FILE or a [model NAME] "
                    "section", mo[0].where);
            return -EINVAL;
        }
        char name[CONFIG_NAME_MAX];
        if (*dm)
            snprintf(name, sizeof name, "%s", dm);
        else
            stem_name(path->value, name, sizeof name);
        def = add_model(st, name, path->where, err, errlen);
        if (def < 0)
            return def;
    }
    if (def < 0) {
        set_err(err, errlen, "no model configured: use --model FILE or a [model NAME] section "
                "in --config FILE");
        return -EINVAL;
    }
    for (int i = 0; i < n_mo; i++) {
        int r = apply_override(st, &mo[i], def, err, errlen);
        if (r < 0)
            return r;
    }
    c->default_index = def;
    memset(c->server.default_model, 0, sizeof c->server.default_model);
    snprintf(c->server.default_model, sizeof c->server.default_model, "%s", st->models[def].name);

    size_t pk = (size_t)(find_key(CONFIG_SECTION_MODEL, "path") - config_keys);
    size_t lk = (size_t)(find_key(CONFIG_SECTION_MODEL, "labels") - config_keys);
    for (int i = 0; i < c->n_models; i++) {
        struct config_model *m = &st->models[i];
        if (!*m->path) {
            set_err(err, errlen, "%s: [model %s] has no path (path = FILE.tflite is required)",
                    st->src[i].where, m->name);
            return -EINVAL;
        }
        if (!st->resolve_paths)
            continue;
        char out[CONFIG_PATH_MAX] = "";
        int r = resolve_path(c->server.model_dir, m->path, out, sizeof out);
        if (r < 0) {
            path_error(err, errlen, st->src[i].key_where[pk], m->name, "path", m->path,
                       c->server.model_dir, r);
            return r;
        }
        memcpy(m->path, out, sizeof out);
        if (*m->labels) {
            memset(out, 0, sizeof out);
            r = resolve_path(c->server.model_dir, m->labels, out, sizeof out);
            if (r < 0) {
                path_error(err, errlen, st->src[i].key_where[lk], m->name, "labels", m->labels,
                           c->server.model_dir, r);
                return r;
            }
            memcpy(m->labels, out, sizeof out);
        }
    }
    return 0;
}

static int state_to_config(struct state *st, struct config *out, char *err, size_t errlen)
{
    struct config_model *models = calloc((size_t)st->cfg.n_models, sizeof *models);
    if (!models && st->cfg.n_models) {
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    memcpy(models, st->models, (size_t)st->cfg.n_models * sizeof *models);
    *out = st->cfg;
    out->models = models;
    return 0;
}

int config_load_string(const char *text, size_t len, const char *name, bool resolve_paths,
                       struct config *out, char *err, size_t errlen)
{
    struct state *st = state_new();
    if (!st) {
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    st->resolve_paths = resolve_paths;
    int r = parse_text(st, text, len, name, err, errlen);
    if (r == 0)
        r = finish(st, NULL, 0, err, errlen);
    if (r == 0)
        r = state_to_config(st, out, err, errlen);
    free(st);
    return r;
}

int config_load_file(const char *path, struct config *out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int r = read_file(path, &text, &len, err, errlen);
    if (r < 0)
        return r;
    r = config_load_string(text, len, path, true, out, err, errlen);
    if (r == 0)
        snprintf(out->config_path, sizeof out->config_path, "%s", path);
    free(text);
    return r;
}

static const struct config_key *find_option(const char *opt)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(config_keys[i].option, opt))
            return &config_keys[i];
    return NULL;
}

int config_parse_args(int argc, char **argv, struct config *out, char *err, size_t errlen)
{
    enum config_action action = CONFIG_ACTION_RUN;
    const char *config_path = NULL;
    int n_cli = 0;
    struct override *cli = calloc((size_t)(argc > 0 ? argc : 1), sizeof *cli);
    struct override *env = calloc(N_KEYS, sizeof *env);
    struct override *mo = calloc((size_t)argc + N_KEYS + 1, sizeof *mo);
    struct state *st = NULL;
    int r = -ENOMEM;
    if (!cli || !env || !mo) {
        set_err(err, errlen, "out of memory");
        goto out;
    }

    /* 1. The command line: flags, --config, and key options (applied later). */
    r = -EINVAL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (!strcmp(a, "-h")) {
                action = CONFIG_ACTION_HELP;
                break;
            }
            if (!strcmp(a, "-V")) {
                action = CONFIG_ACTION_VERSION;
                break;
            }
            set_err(err, errlen, "unexpected argument '%s' (see --help)", a);
            goto out;
        }
        char opt[64];
        const char *eq = strchr(a + 2, '=');
        size_t ol = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (ol >= sizeof opt) {
            set_err(err, errlen, "unknown option '%s' (see --help)", a);
            goto out;
        }
        memcpy(opt, a + 2, ol);
        opt[ol] = '\0';
        if (!strcmp(opt, "help") || !strcmp(opt, "version")) {
            action = opt[0] == 'h' ? CONFIG_ACTION_HELP : CONFIG_ACTION_VERSION;
            break;
        }
        if (!strcmp(opt, "check-config") || !strcmp(opt, "print-config")) {
            if (eq) {
                set_err(err, errlen, "option --%s takes no value", opt);
                goto out;
            }
            action = opt[0] == 'c' ? CONFIG_ACTION_CHECK : CONFIG_ACTION_PRINT;
            continue;
        }
        const struct config_key *k = find_option(opt);
        if (!k && strcmp(opt, "config") != 0) {
            set_err(err, errlen, "unknown option '--%s' (see --help)", opt);
            goto out;
        }
        const char *val;
        if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc) {
                set_err(err, errlen, "option --%s needs a value", opt);
                goto out;
            }
            val = argv[++i];
        }
        if (!k) {
            config_path = val;
            continue;
        }
        cli[n_cli].k = k;
        cli[n_cli].value = val;
        snprintf(cli[n_cli].where, sizeof cli[n_cli].where, "option --%s", opt);
        n_cli++;
    }
    if (action == CONFIG_ACTION_HELP || action == CONFIG_ACTION_VERSION) {
        memset(out, 0, sizeof *out);
        out->action = action;
        out->default_index = -1;
        out->argc = argc;
        out->argv = argv;
        r = 0;
        goto out;
    }

    /* 2. Defaults, 3. the file. */
    st = state_new();
    if (!st) {
        set_err(err, errlen, "out of memory");
        r = -ENOMEM;
        goto out;
    }
    if (config_path) {
        char *text = NULL;
        size_t len = 0;
        r = read_file(config_path, &text, &len, err, errlen);
        if (r < 0)
            goto out;
        r = parse_text(st, text, len, config_path, err, errlen);
        free(text);
        if (r < 0)
            goto out;
        snprintf(st->cfg.config_path, sizeof st->cfg.config_path, "%s", config_path);
    }

    /* 4. The environment (strict: an unknown MOBILENETD_* variable is an error,
     *    like an unknown key in the file). */
    int n_env = 0;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "MOBILENETD_", 11) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        const struct config_key *k = NULL;
        char nm[96];
        for (size_t i = 0; i < N_KEYS && !k; i++) {
            env_name(&config_keys[i], nm, sizeof nm);
            if (strlen(nm) == (size_t)(eq - *e) && !strncmp(*e, nm, (size_t)(eq - *e)))
                k = &config_keys[i];
        }
        if (!k) {
            set_err(err, errlen, "unknown environment variable %.*s (see --help)",
                    (int)(eq - *e > 80 ? 80 : eq - *e), *e);
            r = -EINVAL;
            goto out;
        }
        env[n_env].k = k;
        env[n_env].value = eq + 1;
        snprintf(env[n_env].where, sizeof env[n_env].where, "environment %s", nm);
        n_env++;
    }

    /* 5. Apply: environment then command line, so the command line wins.
     *    Server keys now; model keys collected for the default model. */
    int n_mo = 0;
    for (int pass = 0; pass < 2; pass++) {
        const struct override *list = pass == 0 ? env : cli;
        int n = pass == 0 ? n_env : n_cli;
        for (int i = 0; i < n; i++) {
            if (list[i].k->section == CONFIG_SECTION_SERVER) {
                r = apply_override(st, &list[i], -1, err, errlen);
                if (r < 0)
                    goto out;
            } else {
                mo[n_mo++] = list[i];
            }
        }
    }
    r = finish(st, mo, n_mo, err, errlen);
    if (r < 0)
        goto out;
    st->cfg.action = action;
    st->cfg.argc = argc;
    st->cfg.argv = argv;
    r = state_to_config(st, out, err, errlen);
out:
    free(st);
    free(cli);
    free(env);
    free(mo);
    return r;
}

int config_reload(const struct config *cur, struct config *out, char *err, size_t errlen)
{
    struct config tmp;
    int r = config_parse_args(cur->argc, cur->argv, &tmp, err, errlen);
    if (r < 0)
        return r;
    tmp.action = CONFIG_ACTION_RUN;
    *out = tmp;
    return 0;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    free(c->models);
    memset(c, 0, sizeof *c);
}

const struct config_model *config_find_model(const struct config *c, const char *name)
{
    for (int i = 0; i < c->n_models; i++)
        if (!strcmp(c->models[i].name, name))
            return &c->models[i];
    return NULL;
}

int config_listen_addr(const struct config_server *s, struct sockaddr_storage *ss,
                       unsigned int *len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    if (strcmp(s->listen_host, "localhost") != 0)
        hints.ai_flags |= AI_NUMERICHOST;
    char port[16];
    snprintf(port, sizeof port, "%d", s->listen_port);
    struct addrinfo *res = NULL;
    if (getaddrinfo(s->listen_host, port, &hints, &res) != 0 || !res)
        return -EINVAL;
    if (res->ai_addrlen > sizeof *ss) {
        freeaddrinfo(res);
        return -EINVAL;
    }
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = (unsigned int)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ---- output ---- */

static void describe_limits(const struct config_key *k, char *buf, size_t n)
{
    char lo[32], hi[32];
    switch (k->type) {
    case CONFIG_T_INT:
    case CONFIG_T_U64:
    case CONFIG_T_BYTES:
        snprintf(buf, n, "%.0f..%.0f", k->min, k->max);
        return;
    case CONFIG_T_DOUBLE:
        format_double(k->min, lo, sizeof lo);
        format_double(k->max, hi, sizeof hi);
        snprintf(buf, n, "%s..%s", lo, hi);
        return;
    case CONFIG_T_BOOL:
        snprintf(buf, n, "on|off");
        return;
    case CONFIG_T_ENUM:
        buf[0] = '\0';
        for (int i = 0; k->choices[i]; i++) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", i ? "|" : "", k->choices[i]);
        }
        return;
    default:
        buf[0] = '\0';
    }
}

/* Values that would not survive unquoted get quotes. */
static void print_value(FILE *f, const char *v)
{
    bool quote = *v == '\0' || isspace((unsigned char)v[0]) ||
                 isspace((unsigned char)v[strlen(v) - 1]) || v[0] == '"' ||
                 strpbrk(v, "#;") != NULL;
    if (!quote) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void print_section(FILE *f, enum config_section sec, const void *base)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct config_key *k = &config_keys[i];
        if (k->section != sec)
            continue;
        char lim[128], val[CONFIG_PATH_MAX];
        describe_limits(k, lim, sizeof lim);
        get_value(k, base, val, sizeof val);
        fprintf(f, "# %s (default %s%s%s%s)\n%s = ", k->help, *k->def ? k->def : "\"\"",
                *lim ? ", " : "", *lim ? "limits " : "", lim, k->name);
        print_value(f, val);
        fputc('\n', f);
    }
}

int config_print(const struct config *c, FILE *f)
{
    fprintf(f, "# mobilenetd effective configuration%s%s\n", *c->config_path ? " from " : "",
            c->config_path);
    fprintf(f, "# Precedence: command line > MOBILENETD_* environment > file > defaults.\n\n");
    fprintf(f, "[server]\n");
    print_section(f, CONFIG_SECTION_SERVER, &c->server);
    for (int i = 0; i < c->n_models; i++) {
        fprintf(f, "\n[model %s]\n", c->models[i].name);
        print_section(f, CONFIG_SECTION_MODEL, &c->models[i]);
    }
    return ferror(f) ? -EIO : 0;
}

void config_usage(FILE *f, const char *progname)
{
    fprintf(f,
            "Usage: %s [--config FILE] [OPTION VALUE]...\n"
            "       %s --listen 127.0.0.1:8080 --model FILE.tflite [--labels FILE]\n\n"
            "MobileNet image classification over HTTP.\n\n"
            "  --config FILE        read settings from an INI file ([server], [model NAME])\n"
            "  --check-config       validate the configuration and exit 0 (valid) or 1\n"
            "  --print-config       print the effective settings in config-file syntax\n"
            "  -h, --help           this text\n"
            "  -V, --version        print the version\n\n"
            "Every key below is also an environment variable; precedence is\n"
            "command line > environment > file > defaults.  Options may be written\n"
            "--option VALUE or --option=VALUE.\n",
            progname, progname);
    for (int sec = 0; sec < 2; sec++) {
        fprintf(f, "\n%s\n", sec == 0 ? "[server] keys:"
                                      : "[model NAME] keys (on the command line and in the "
                                        "environment they set the default model):");
        for (size_t i = 0; i < N_KEYS; i++) {
            const struct config_key *k = &config_keys[i];
            if ((int)k->section != sec)
                continue;
            char lim[128], envn[96];
            describe_limits(k, lim, sizeof lim);
            env_name(k, envn, sizeof envn);
            fprintf(f, "  --%-24s %s = ...  (%s)\n", k->option, k->name, envn);
            fprintf(f, "      %s\n      default: %s%s%s\n", k->help, *k->def ? k->def : "(none)",
                    *lim ? "  limits: " : "", lim);
        }
    }
}

void config_keys_markdown(FILE *f)
{
    fprintf(f, "| section | key | option | environment | default | limits | meaning |\n");
    fprintf(f, "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct config_key *k = &config_keys[i];
        char lim[128], envn[96];
        describe_limits(k, lim, sizeof lim);
        env_name(k, envn, sizeof envn);
        fprintf(f, "| %s | `%s` | `--%s` | `%s` | %s%s%s | %s | %s |\n",
                k->section == CONFIG_SECTION_SERVER ? "server" : "model NAME", k->name, k->option,
                envn, *k->def ? "`" : "", *k->def ? k->def : "(empty)", *k->def ? "`" : "",
                *lim ? lim : "", k->help);
    }
}

int config_run_action(const struct config *c, FILE *f, const char *version)
{
    switch (c->action) {
    case CONFIG_ACTION_RUN:
        return -1;
    case CONFIG_ACTION_CHECK:
        fprintf(f, "configuration OK: %d model%s, default '%s', listen %s\n", c->n_models,
                c->n_models == 1 ? "" : "s", c->server.default_model, c->server.listen);
        return 0;
    case CONFIG_ACTION_PRINT:
        return config_print(c, f) == 0 ? 0 : 1;
    case CONFIG_ACTION_HELP:
        config_usage(f, c->argc > 0 && c->argv ? c->argv[0] : "mobilenetd");
        return 0;
    case CONFIG_ACTION_VERSION:
        fprintf(f, "mobilenetd %s\n", version ? version : "");
        return 0;
    }
    return -1;
}
