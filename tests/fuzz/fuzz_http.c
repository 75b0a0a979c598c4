/* fuzz_http.c: libFuzzer target for the daemon's request parsing
 * (daemon/request.c): Content-Type classification, the multipart/form-data
 * parser, strict integers and the capped body buffer.
 *
 * Input: the first line is a Content-Type value, the rest is the body.
 * Oracles beyond "no crash, no sanitizer report":
 *   - every part's data lies inside the body, parts never overlap and come in
 *     increasing order, and there are at most max_parts of them;
 *   - the body buffer never holds more than its cap and keeps every byte;
 *   - http_parse_int accepts only values inside its bounds.
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *        -Db_lundef=false; run: build-fuzz/tests/fuzz_http -max_total_time=300
 */
#include "request.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct walk {
    const uint8_t *body;
    size_t len;
    const uint8_t *last_end;
    int n;
};

static int on_part(void *ctx, const struct http_part *p)
{
    struct walk *w = ctx;
    if (p->data < w->body || p->data + p->len > w->body + w->len)
        abort(); /* part outside the body */
    if (p->data < w->last_end)
        abort(); /* parts overlap or go backwards */
    w->last_end = p->data + p->len;
    if (strlen(p->name) > 255 || strlen(p->filename) > 255 || strlen(p->content_type) > 127)
        abort();
    w->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ctlen = nl ? (size_t)(nl - data) : size;
    char ct[256];
    if (ctlen >= sizeof(ct))
        ctlen = sizeof(ct) - 1;
    memcpy(ct, data, ctlen);
    ct[ctlen] = 0;
    const uint8_t *body = nl ? nl + 1 : data + size;
    size_t blen = (size_t)(data + size - body);

    enum http_body_kind kind;
    char boundary[80];
    if (http_content_kind(ct, &kind, boundary, sizeof(boundary)) == 0 &&
        kind == HTTP_BODY_MULTIPART) {
        if (strlen(boundary) < 1 || strlen(boundary) > 70)
            abort();
        /* a heap copy of exactly blen bytes, so ASan sees any read past the end */
        uint8_t *copy = malloc(blen ? blen : 1);
        if (!copy)
            return 0;
        memcpy(copy, body, blen);
        struct walk w = { .body = copy, .len = blen, .last_end = copy };
        int rc = http_multipart_parse(copy, blen, boundary, 16, on_part, &w);
        if (w.n > 16 || (rc == 0 && w.n == 0))
            abort();
        free(copy);
    }

    /* the capped body: append the input in uneven chunks */
    struct http_body b;
    size_t cap = size / 2 + 1;
    http_body_init(&b, cap, size % 7 == 0 ? size : 0);
    size_t off = 0, kept = 0;
    while (off < size) {
        size_t n = 1 + (data[off] % 13);
        if (n > size - off)
            n = size - off;
        int rc = http_body_append(&b, data + off, n);
        if (rc == 0) {
            if (memcmp(b.data + kept, data + off, n) != 0)
                abort();
            kept += n;
        } else if (rc != -E2BIG && rc != -ENOMEM) {
            abort();
        }
        if (b.len > cap || b.len != kept)
            abort();
        off += n;
    }
    http_body_free(&b);

    long v;
    if (http_parse_int(ct, -1000, 1000, &v) == 0 && (v < -1000 || v > 1000))
        abort();
    return 0;
}
