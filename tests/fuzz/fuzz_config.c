/* fuzz_config.c: libFuzzer target for the config parser (daemon/config.c).
 *
 * Oracles beyond "no crash, no sanitizer report":
 *   - a rejected input always gets a non-empty one-line error that names a
 *     location ("fuzz:LINE") or says why no model is configured;
 *   - an accepted input printed with config_print() parses again and gives
 *     the same settings byte for byte (strings are zero-padded), and printing
 *     that gives the same text.
 * Model paths are not resolved (no file system access).
 *
 * Build: meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *        -Db_lundef=false (with CC=clang); run:
 *        build-fuzz/tests/fuzz_config -max_total_time=300 CORPUS_DIR config/
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *print(const struct config *c, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        abort();
    if (config_print(c, f) != 0)
        abort();
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config c;
    char err[512];
    err[0] = '\0';
    int r = config_load_string((const char *)data, size, "fuzz", false, &c, err, sizeof err);
    if (r != 0) {
        if (!err[0] || strchr(err, '\n') || (!strstr(err, "fuzz:") && !strstr(err, "no model") &&
                                             !strstr(err, "fuzz: contains")))
            abort();
        return 0;
    }
    size_t l1, l2;
    char *p1 = print(&c, &l1);
    struct config c2;
    char err2[512];
    if (config_load_string(p1, l1, "printed", false, &c2, err2, sizeof err2) != 0) {
        fprintf(stderr, "printed config does not parse: %s\n%s\n", err2, p1);
        abort();
    }
    if (memcmp(&c.server, &c2.server, sizeof c.server) != 0 || c.n_models != c2.n_models ||
        c.default_index != c2.default_index ||
        memcmp(c.models, c2.models, (size_t)c.n_models * sizeof *c.models) != 0) {
        fprintf(stderr, "round trip changed the config:\n%s\n", p1);
        abort();
    }
    char *p2 = print(&c2, &l2);
    if (l1 != l2 || memcmp(p1, p2, l1) != 0)
        abort();
    free(p1);
    free(p2);
    config_free(&c);
    config_free(&c2);
    return 0;
}
