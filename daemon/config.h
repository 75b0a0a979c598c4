/* config.h: mobilenetd settings from defaults, an INI file, the environment
 * and the command line.
 *
 * One table (config.c: config_keys[]) defines every key: its section, name,
 * type, default, limits and help.  The same table drives the file parser,
 * validation, MOBILENETD_<SECTION>_<KEY> environment variables, --<key>
 * command-line options, --print-config and --help, so they cannot drift.
 *
 * Precedence: command line > environment > file > defaults.
 *
 * File syntax (our own small strict parser, not libinih, so every error can
 * name file:line and the key):
 *     # comment            ; comment
 *     [server]
 *     listen = 127.0.0.1:8080
 *     [model mobilenet]    one section per model; the name is used in URLs
 *     path = mobilenet_v2_1.0_224_quant.tflite
 * Values may be "double quoted" (then \" and \\ are escapes).  Unknown
 * sections or keys, duplicate sections or keys, bad or out-of-range values
 * are errors.  Byte sizes accept K/M/G (KiB/MiB/GiB) suffixes.
 *
 * Model keys given on the command line or in the environment (--model,
 * --labels, MOBILENETD_MODEL_PATH, ...) apply to the default model.  With no
 * [model] section, `--model FILE` creates one model named after the file's
 * stem (or [server] default_model when that is set, or "mobilenet" when the
 * stem is not a valid name) and makes it the default.
 *
 * Model and label paths without a '/' are looked up in [server] model_dir, a
 * colon-separated search path (default ".:models:../shared/models:
 * DATADIR/mobilenetd/models", the install's data directory), then in the search path the CLIs share
 * (engine/modelpath.h: $MNET_MODEL_PATH, ./models, ../shared/models, the
 * build's shared_dir); config->models[i].path holds the absolute path, and a
 * file not found is a config error.
 *
 * Errors: functions return 0 or a negative errno (-EINVAL for any bad input,
 * -ENOENT for a missing file, -ENOMEM); err gets one line that names the key
 * and file:line (or the option / environment variable).  Out-parameters are
 * untouched on failure.  Nothing here logs.
 *
 * Thread-safety: a struct config is plain data; parse into a fresh struct and
 * swap it under the caller's own lock (SIGHUP reload).  Strings are
 * zero-padded, so memcmp() of two struct config_model tells whether a model's
 * settings changed across a reload (then reload that model, else keep it).
 */
#ifndef MOBILENETD_CONFIG_H
#define MOBILENETD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_NAME_MAX 64    /* model names, incl. NUL: [A-Za-z0-9_.-]{1,63} */
#define CONFIG_PATH_MAX 1024
#define CONFIG_MAX_MODELS 16

enum config_log_level { CONFIG_LOG_ERROR, CONFIG_LOG_WARN, CONFIG_LOG_INFO, CONFIG_LOG_DEBUG };
enum config_precision { CONFIG_PRECISION_NATIVE, CONFIG_PRECISION_FLOAT32 };

/* What main() should do after config_parse_args succeeded. */
enum config_action {
    CONFIG_ACTION_RUN,     /* serve */
    CONFIG_ACTION_CHECK,   /* --check-config: the config is valid, exit 0 */
    CONFIG_ACTION_PRINT,   /* --print-config: print it (config_print) and exit 0 */
    CONFIG_ACTION_HELP,    /* --help: config_usage(stdout), exit 0 (nothing else was parsed) */
    CONFIG_ACTION_VERSION, /* --version */
};

/* [server] */
struct config_server {
    char listen[CONFIG_PATH_MAX];   /* "host:port" as written; "[::1]:8080" for IPv6 */
    char listen_host[256];          /* parsed from listen: "127.0.0.1", "::1", "0.0.0.0" */
    int listen_port;                /* 1..65535 */
    uint64_t max_body_bytes;        /* request body cap (413 names "max_body_bytes") */
    uint64_t max_pixels;            /* width*height cap from the image header (413) */
    int max_connections;            /* MHD_OPTION_CONNECTION_LIMIT */
    int max_connections_per_ip;     /* MHD_OPTION_PER_IP_CONNECTION_LIMIT; 0 = no limit */
    int connection_timeout_s;       /* MHD_OPTION_CONNECTION_TIMEOUT (idle connection) */
    int request_timeout_ms;         /* default request deadline (query timeout_ms overrides, 504) */
    int max_header_bytes;           /* MHD_OPTION_CONNECTION_MEMORY_LIMIT-ish: header bytes cap */
    int drain_timeout_s;            /* SIGTERM: finish queued work within this, then exit */
    int queue_full_status;          /* 429 or 503 */
    int retry_after_s;              /* Retry-After on 429/503 */
    enum config_log_level log_level;
    bool access_log;                /* one line per request to stderr */
    char default_model[CONFIG_NAME_MAX]; /* after parsing: always the name of an existing model */
    int threads;                    /* HTTP threads (MHD_OPTION_THREAD_POOL_SIZE) */
    char model_dir[CONFIG_PATH_MAX];/* colon-separated search path for bare file names */
};

/* [model NAME] */
struct config_model {
    char name[CONFIG_NAME_MAX];
    char path[CONFIG_PATH_MAX];     /* absolute .tflite path (exists when parsing succeeded) */
    char labels[CONFIG_PATH_MAX];   /* absolute labels path, "" = none (answers carry indices) */
    enum config_precision precision;/* maps to enum mnet_precision */
    int threads;                    /* engine OpenMP threads; 0 = all cores */
    int max_batch_size;             /* images per engine run */
    int max_batch_delay_us;         /* wait this long for a fuller batch; 0 = take what is queued */
    int max_queue_images;           /* bounded queue; full -> queue_full_status */
    double central_fraction;        /* central crop before resize, (0, 1] */
    int top_k_default;              /* top_k when the request has none */
};

struct config {
    enum config_action action;
    struct config_server server;
    int n_models;
    struct config_model *models;    /* malloc'd, n_models entries; [0..n) in file order */
    int default_index;              /* models[default_index].name == server.default_model */
    char config_path[CONFIG_PATH_MAX]; /* --config FILE, "" when none */
    /* For config_reload: the argv given to config_parse_args (not copied:
     * main's argv lives as long as the process). */
    int argc;
    char **argv;
};

/* Everything at once: --help/--version short-circuit; otherwise defaults, then
 * --config FILE, then MOBILENETD_* environment, then the other options; then
 * validation and path resolution.  On success *out is filled (release with
 * config_free) and out->action says what to do.  On error *out is untouched. */
int config_parse_args(int argc, char **argv, struct config *out, char *err, size_t errlen);

/* SIGHUP: the same as config_parse_args with the argv saved in cur (so the
 * command line and environment keep their precedence over the re-read file).
 * cur is not modified; on error the caller keeps running with cur. */
int config_reload(const struct config *cur, struct config *out, char *err, size_t errlen);

/* Defaults + one file, no environment or command line (tests, fuzzing). */
int config_load_file(const char *path, struct config *out, char *err, size_t errlen);
/* Defaults + text (name is used in messages as the file name).  resolve_paths
 * = false skips the model-file lookup (fuzzing, printing examples). */
int config_load_string(const char *text, size_t len, const char *name, bool resolve_paths,
                       struct config *out, char *err, size_t errlen);

void config_free(struct config *c); /* NULL-safe; leaves *c zeroed */

/* The effective settings in the config file's own syntax (every key, with a
 * comment per key); the output parses back to the same config.  0 or -EIO. */
int config_print(const struct config *c, FILE *f);

/* --help text, generated from the key table. */
void config_usage(FILE *f, const char *progname);

/* Convenience for main(): handles CHECK/PRINT/HELP/VERSION by writing to f
 * and returning the exit code (0); returns -1 for CONFIG_ACTION_RUN. */
int config_run_action(const struct config *c, FILE *f, const char *version);

/* Resolve server.listen_host/listen_port (numeric address or "localhost")
 * into a sockaddr for bind() or MHD_OPTION_SOCK_ADDR.  0 or -EINVAL. */
struct sockaddr_storage;
int config_listen_addr(const struct config_server *s, struct sockaddr_storage *ss,
                       unsigned int *len);

/* The key table as a Markdown table (docs/OPERATIONS.md is generated from it). */
void config_keys_markdown(FILE *f);

/* The model named name, or NULL. */
const struct config_model *config_find_model(const struct config *c, const char *name);

/* Name tables for logs and /v1/models. */
const char *config_log_level_name(enum config_log_level l);
const char *config_precision_name(enum config_precision p);

/* ---- the key table (exposed for --help, docs and tests) ---- */
enum config_section { CONFIG_SECTION_SERVER, CONFIG_SECTION_MODEL };
enum config_type {
    CONFIG_T_NAME,   /* char[CONFIG_NAME_MAX], a model name or "" */
    CONFIG_T_STRING, /* char[CONFIG_PATH_MAX] */
    CONFIG_T_PATH,   /* char[CONFIG_PATH_MAX], resolved through model_dir */
    CONFIG_T_LISTEN, /* char[CONFIG_PATH_MAX] host:port (also fills listen_host/port) */
    CONFIG_T_INT,    /* int */
    CONFIG_T_U64,    /* uint64_t, plain integer */
    CONFIG_T_BYTES,  /* uint64_t, K/M/G suffixes (binary) */
    CONFIG_T_DOUBLE, /* double */
    CONFIG_T_BOOL,   /* bool: on/off, yes/no, true/false, 1/0 */
    CONFIG_T_ENUM,   /* int (or enum), one of choices */
};
struct config_key {
    enum config_section section;
    const char *name;        /* key in the file: "max_body_bytes" */
    const char *option;      /* command line, without "--": "max-body-bytes" */
    enum config_type type;
    size_t offset;           /* into struct config_server or struct config_model */
    const char *def;         /* default, in file syntax (parsed like a file value) */
    double min, max;         /* INT/BYTES/DOUBLE bounds, inclusive */
    const char *const *choices; /* ENUM: NULL-terminated names */
    const int *choice_values;   /* ENUM: the int stored for each name */
    const char *help;
};
extern const struct config_key config_keys[];
extern const size_t config_n_keys;

#endif
