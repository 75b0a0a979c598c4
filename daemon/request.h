/* request.h: request-body handling that does not need a socket.
 *
 * - http_body: accumulates an upload up to a hard cap (max_body_bytes); the
 *   cap is enforced as bytes arrive, so chunked bodies cannot grow past it.
 * - Content-Type classification, multipart/form-data parsing (a bounded
 *   parser over the accumulated body: every offset is checked against the
 *   buffer, nothing is trusted), and strict integer query parameters.
 *
 * All functions are pure (no MHD, no globals), so the parser can be fuzzed.
 * Errors: 0 or a negative errno (see errors.h for the HTTP mapping).
 * Thread-safety: an http_body belongs to one request / one thread.
 */
#ifndef MNETD_REQUEST_H
#define MNETD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_body {
    uint8_t *data;  /* malloc'd, NUL-terminated after len (handy for JSON) */
    size_t len;
    size_t cap;     /* allocated bytes (excluding the NUL) */
    size_t limit;   /* hard cap: append past it fails with -E2BIG */
};

void http_body_init(struct http_body *b, size_t limit, size_t expected);
/* Append; -E2BIG when len would exceed limit (nothing appended), -ENOMEM. */
int http_body_append(struct http_body *b, const void *data, size_t n);
void http_body_free(struct http_body *b); /* leaves *b zeroed except limit */

enum http_body_kind {
    HTTP_BODY_IMAGE,      /* image/jpeg, image/png, octet-stream, curl's default form type, none */
    HTTP_BODY_MULTIPART,  /* multipart/form-data; boundary=... */
    HTTP_BODY_JSON,       /* application/json */
    HTTP_BODY_OTHER,      /* anything else: 415 on image endpoints */
};

/* Classify a Content-Type header value (NULL = absent).  For multipart the
 * boundary (1..70 chars, quotes removed) is copied to boundary; a multipart
 * type without a usable boundary is -EINVAL. */
int http_content_kind(const char *content_type, enum http_body_kind *kind, char *boundary,
                      size_t boundary_len);

struct http_part {
    const char *name;         /* form field name, NUL-terminated copy ("" if none) */
    const char *filename;     /* "" when the part is not a file */
    const char *content_type; /* "" when absent */
    const uint8_t *data;      /* points into the body */
    size_t len;
};

/* Walk the parts of a multipart/form-data body.  cb is called per part in
 * order; a non-zero return from cb stops the walk and is returned.  At most
 * max_parts parts (-EMSGSIZE beyond).  Malformed bodies: -EINVAL. */
int http_multipart_parse(const uint8_t *body, size_t len, const char *boundary, int max_parts,
                         int (*cb)(void *ctx, const struct http_part *part), void *ctx);

/* Strict decimal integer in [min, max]; -EINVAL otherwise (empty, junk, overflow). */
int http_parse_int(const char *s, long min, long max, long *out);

/* A name for an image format sniffed from magic bytes that the engine does not
 * decode ("gif", "bmp", "webp", "tiff"), or NULL. */
const char *http_sniff_unsupported_image(const uint8_t *data, size_t len);

#endif
