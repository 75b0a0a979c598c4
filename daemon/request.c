/* request.c: body accumulation with a cap, Content-Type, multipart, integers. */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_body_init(struct http_body *b, size_t limit, size_t expected)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
    /* Content-Length is a hint for the first allocation only (already checked
     * against the limit by the caller); chunked bodies grow geometrically. */
    if (expected > 0 && expected <= limit) {
        /* a client's claim is not a reason to commit much memory before any
         * byte arrives: preallocate at most 1 MiB, grow as data comes */
        if (expected > (1u << 20))
            expected = 1u << 20;
        b->data = malloc(expected + 1);
        if (b->data)
            b->cap = expected;
    }
}

int http_body_append(struct http_body *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (n > b->limit || b->len > b->limit - n)
        return -E2BIG;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX - 1 : cap * 2;
        if (cap > b->limit)
            cap = b->limit;
        uint8_t *p = realloc(b->data, cap + 1);
        if (!p)
            return -ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

void http_body_free(struct http_body *b)
{
    size_t limit = b->limit;
    free(b->data);
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

/* Case-insensitive prefix match of a media type, ending at ';', space or NUL. */
static bool media_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0)
        return false;
    char c = ct[n];
    return c == 0 || c == ';' || c == ' ' || c == '\t';
}

/* Find parameter `name` in a header value like `form-data; name="x"; filename=y`.
 * Copies the (unquoted) value to out; returns 0, or -ENOENT / -EINVAL. */
static int header_param(const char *v, size_t vlen, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    /* skip the media type / disposition itself */
    while (i < vlen && v[i] != ';')
        i++;
    while (i < vlen) {
        i++; /* past ';' */
        while (i < vlen && (v[i] == ' ' || v[i] == '\t'))
            i++;
        size_t k = i;
        while (k < vlen && v[k] != '=' && v[k] != ';')
            k++;
        size_t klen = k - i;
        while (klen > 0 && (v[i + klen - 1] == ' ' || v[i + klen - 1] == '\t'))
            klen--;
        bool match = klen == nlen && strncasecmp(v + i, name, nlen) == 0;
        if (k >= vlen || v[k] == ';') {
            i = k;
            continue;
        }
        k++; /* past '=' */
        while (k < vlen && (v[k] == ' ' || v[k] == '\t'))
            k++;
        size_t o = 0;
        if (k < vlen && v[k] == '"') {
            k++;
            while (k < vlen && v[k] != '"') {
                if (v[k] == '\\' && k + 1 < vlen)
                    k++;
                if (match) {
                    if (o + 1 >= outlen)
                        return -EINVAL;
                    out[o++] = v[k];
                }
                k++;
            }
            if (k >= vlen)
                return -EINVAL; /* unterminated quote */
            k++;
        } else {
            while (k < vlen && v[k] != ';' && v[k] != ' ' && v[k] != '\t') {
                if (match) {
                    if (o + 1 >= outlen)
                        return -EINVAL;
                    out[o++] = v[k];
                }
                k++;
            }
        }
        if (match) {
            out[o] = 0;
            return 0;
        }
        while (k < vlen && v[k] != ';')
            k++;
        i = k;
    }
    return -ENOENT;
}

int http_content_kind(const char *ct, enum http_body_kind *kind, char *boundary,
                      size_t boundary_len)
{
    if (!ct || !*ct) {
        *kind = HTTP_BODY_IMAGE;
        return 0;
    }
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (media_is(ct, "image/jpeg") || media_is(ct, "image/jpg") || media_is(ct, "image/png") ||
        media_is(ct, "application/octet-stream") ||
        /* curl --data-binary sends this by default: the body is still raw bytes */
        media_is(ct, "application/x-www-form-urlencoded")) {
        *kind = HTTP_BODY_IMAGE;
        return 0;
    }
    if (media_is(ct, "application/json")) {
        *kind = HTTP_BODY_JSON;
        return 0;
    }
    if (media_is(ct, "multipart/form-data")) {
        char b[80];
        int rc = header_param(ct, strlen(ct), "boundary", b, sizeof(b));
        size_t n = rc == 0 ? strlen(b) : 0;
        if (n < 1 || n > 70 || n + 1 > boundary_len)
            return -EINVAL;
        memcpy(boundary, b, n + 1);
        *kind = HTTP_BODY_MULTIPART;
        return 0;
    }
    *kind = HTTP_BODY_OTHER;
    return 0;
}

static const uint8_t *find(const uint8_t *hay, size_t hlen, const char *needle, size_t nlen)
{
    return memmem(hay, hlen, needle, nlen);
}

#define PART_HEADER_MAX 8192

int http_multipart_parse(const uint8_t *body, size_t len, const char *boundary, int max_parts,
                         int (*cb)(void *ctx, const struct http_part *part), void *ctx)
{
    char delim[80];
    size_t blen = strlen(boundary);
    if (blen < 1 || blen > 70)
        return -EINVAL;
    /* "\r\n--boundary": the delimiter between parts.  The first one may lack
     * the leading CRLF (no preamble). */
    delim[0] = '\r';
    delim[1] = '\n';
    delim[2] = '-';
    delim[3] = '-';
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;

    const uint8_t *end = body + len;
    const uint8_t *p;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = body + dlen - 2;
    } else {
        const uint8_t *q = find(body, len, delim, dlen);
        if (!q)
            return -EINVAL;
        p = q + dlen;
    }
    int nparts = 0;
    for (;;) {
        /* after a delimiter: "--" ends the body, else optional spaces + CRLF */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return nparts > 0 ? 0 : -ENODATA;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return -EINVAL;
        p += 2;
        /* part headers, up to the empty line */
        size_t avail = (size_t)(end - p);
        const uint8_t *hend;
        if (avail >= 2 && p[0] == '\r' && p[1] == '\n') {
            hend = p; /* no headers at all */
        } else {
            hend = find(p, avail < PART_HEADER_MAX ? avail : PART_HEADER_MAX, "\r\n\r\n", 4);
            if (!hend)
                return -EINVAL;
            hend += 2; /* keep the CRLF ending the last header line */
        }
        char name[256] = "", filename[256] = "", ctype[128] = "";
        const uint8_t *line = p;
        while (line < hend) {
            const uint8_t *eol = find(line, (size_t)(hend - line), "\r\n", 2);
            if (!eol)
                return -EINVAL;
            const char *l = (const char *)line;
            size_t llen = (size_t)(eol - line);
            const char *colon = memchr(l, ':', llen);
            if (colon) {
                size_t klen = (size_t)(colon - l);
                const char *v = colon + 1;
                size_t vlen = llen - klen - 1;
                while (vlen > 0 && (*v == ' ' || *v == '\t')) {
                    v++;
                    vlen--;
                }
                if (klen == 19 && strncasecmp(l, "Content-Disposition", 19) == 0) {
                    int rc = header_param(v, vlen, "name", name, sizeof(name));
                    if (rc == -EINVAL)
                        return rc;
                    rc = header_param(v, vlen, "filename", filename, sizeof(filename));
                    if (rc == -EINVAL)
                        return rc;
                } else if (klen == 12 && strncasecmp(l, "Content-Type", 12) == 0) {
                    size_t n = vlen < sizeof(ctype) - 1 ? vlen : sizeof(ctype) - 1;
                    memcpy(ctype, v, n);
                    ctype[n] = 0;
                }
            }
            line = eol + 2;
        }
        const uint8_t *data = hend + 2;
        if (data > end)
            return -EINVAL;
        /* the next delimiter: "\r\n--boundary" followed by "--" or [ \t]*CRLF;
         * anything else that merely starts like one is data */
        const uint8_t *next = NULL, *from = data;
        while (from <= end) {
            const uint8_t *q = find(from, (size_t)(end - from), delim, dlen);
            if (!q)
                break;
            const uint8_t *t = q + dlen;
            if (end - t >= 2 && t[0] == '-' && t[1] == '-') {
                next = q;
                break;
            }
            while (t < end && (*t == ' ' || *t == '\t'))
                t++;
            if (end - t >= 2 && t[0] == '\r' && t[1] == '\n') {
                next = q;
                break;
            }
            from = q + 1;
        }
        if (!next)
            return -EINVAL; /* truncated: no closing delimiter */
        if (nparts >= max_parts)
            return -EMSGSIZE;
        struct http_part part = {
            .name = name, .filename = filename, .content_type = ctype,
            .data = data, .len = (size_t)(next - data),
        };
        nparts++;
        int rc = cb(ctx, &part);
        if (rc)
            return rc;
        p = next + dlen;
    }
}

int http_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -EINVAL;
    const char *q = s;
    if (*q == '-' || *q == '+')
        q++;
    if (!isdigit((unsigned char)*q))
        return -EINVAL;
    errno = 0;
    char *e;
    long v = strtol(s, &e, 10);
    if (errno || *e || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

const char *http_sniff_unsupported_image(const uint8_t *d, size_t n)
{
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return "gif";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M')
        return "bmp";
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return "webp";
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
        return "tiff";
    return NULL;
}
