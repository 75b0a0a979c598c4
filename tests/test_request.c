/* test_request.c: daemon/request.c against hand-built cases: the body cap,
 * Content-Type classification, the multipart parser (good, hostile and
 * truncated bodies), strict integers.  Every expectation is written out here,
 * from RFC 7578 / RFC 2046 framing, not from the parser's own output. */
#include "request.h"
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct parts {
    int n;
    char name[8][64], filename[8][64], ctype[8][64];
    char data[8][256];
    size_t len[8];
};

static int collect(void *ctx, const struct http_part *p)
{
    struct parts *ps = ctx;
    if (ps->n >= 8)
        return -ENOSPC;
    int i = ps->n++;
    snprintf(ps->name[i], 64, "%s", p->name);
    snprintf(ps->filename[i], 64, "%s", p->filename);
    snprintf(ps->ctype[i], 64, "%s", p->content_type);
    ps->len[i] = p->len;
    memcpy(ps->data[i], p->data, p->len < 255 ? p->len : 255);
    ps->data[i][p->len < 255 ? p->len : 255] = 0;
    return 0;
}

static int parse(const char *body, const char *boundary, struct parts *ps)
{
    memset(ps, 0, sizeof(*ps));
    return http_multipart_parse((const uint8_t *)body, strlen(body), boundary, 8, collect, ps);
}

int main(void)
{
    /* ---- body cap */
    struct http_body b;
    http_body_init(&b, 10, 0);
    CHECK(http_body_append(&b, "12345", 5) == 0, "append 5 of 10");
    CHECK(http_body_append(&b, "67890", 5) == 0, "append to exactly the cap");
    CHECK(http_body_append(&b, "x", 1) == -E2BIG, "one byte over the cap");
    CHECK(b.len == 10 && memcmp(b.data, "1234567890", 10) == 0 && b.data[10] == 0,
          "content kept, NUL-terminated");
    http_body_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.limit == 10, "free keeps the limit");
    http_body_init(&b, 1000, 5000); /* a Content-Length hint over the limit is ignored */
    CHECK(b.cap == 0, "no preallocation past the limit");
    CHECK(http_body_append(&b, "a", 1) == 0, "append after an ignored hint");
    http_body_free(&b);
    http_body_init(&b, (size_t)-1, 0);
    CHECK(http_body_append(&b, "ab", 2) == 0, "huge limit");
    http_body_free(&b);

    /* ---- Content-Type */
    enum http_body_kind k;
    char bnd[80];
    struct { const char *ct; enum http_body_kind kind; int rc; const char *boundary; } cts[] = {
        { NULL, HTTP_BODY_IMAGE, 0, NULL },
        { "", HTTP_BODY_IMAGE, 0, NULL },
        { "image/jpeg", HTTP_BODY_IMAGE, 0, NULL },
        { "IMAGE/PNG", HTTP_BODY_IMAGE, 0, NULL },
        { "application/octet-stream; foo=bar", HTTP_BODY_IMAGE, 0, NULL },
        { "application/x-www-form-urlencoded", HTTP_BODY_IMAGE, 0, NULL },
        { "application/json; charset=utf-8", HTTP_BODY_JSON, 0, NULL },
        { "text/plain", HTTP_BODY_OTHER, 0, NULL },
        { "image/jpegx", HTTP_BODY_OTHER, 0, NULL },
        { "image/gif", HTTP_BODY_OTHER, 0, NULL },
        { "multipart/form-data; boundary=abc", HTTP_BODY_MULTIPART, 0, "abc" },
        { "multipart/form-data; charset=x; boundary=\"a b;c\"", HTTP_BODY_MULTIPART, 0, "a b;c" },
        { "Multipart/Form-Data;BOUNDARY=----X", HTTP_BODY_MULTIPART, 0, "----X" },
        { "multipart/form-data", HTTP_BODY_OTHER, -EINVAL, NULL },
        { "multipart/form-data; boundary=", HTTP_BODY_OTHER, -EINVAL, NULL },
        { "multipart/form-data; boundary=\"unterminated", HTTP_BODY_OTHER, -EINVAL, NULL },
        { "multipart/form-data; boundary=0123456789012345678901234567890123456789"
          "0123456789012345678901234567890", HTTP_BODY_OTHER, -EINVAL, NULL }, /* 71 chars */
    };
    for (size_t i = 0; i < sizeof(cts) / sizeof(cts[0]); i++) {
        k = HTTP_BODY_OTHER;
        bnd[0] = 0;
        int rc = http_content_kind(cts[i].ct, &k, bnd, sizeof(bnd));
        CHECK(rc == cts[i].rc, "content kind rc for %s: %d", cts[i].ct ? cts[i].ct : "(null)", rc);
        if (rc == 0)
            CHECK(k == cts[i].kind, "content kind for %s: %d", cts[i].ct ? cts[i].ct : "(null)", k);
        if (cts[i].boundary)
            CHECK(strcmp(bnd, cts[i].boundary) == 0, "boundary of %s: [%s]", cts[i].ct, bnd);
    }

    /* ---- multipart: what curl -F sends */
    struct parts ps;
    const char *curl_body =
        "--------------------------d74496d66958873e\r\n"
        "Content-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
        "Content-Type: image/jpeg\r\n"
        "\r\n"
        "AAA\r\nstill A\r\n"
        "--------------------------d74496d66958873e\r\n"
        "Content-Disposition: form-data; name=\"image\"; filename=\"b.png\"\r\n"
        "Content-Type: image/png\r\n"
        "\r\n"
        "BB\r\n"
        "--------------------------d74496d66958873e\r\n"
        "Content-Disposition: form-data; name=\"top_k\"\r\n"
        "\r\n"
        "3\r\n"
        "--------------------------d74496d66958873e--\r\n";
    int rc = parse(curl_body, "------------------------d74496d66958873e", &ps);
    CHECK(rc == 0 && ps.n == 3, "curl body: 3 parts (rc %d, n %d)", rc, ps.n);
    CHECK(strcmp(ps.name[0], "image") == 0 && strcmp(ps.filename[0], "a.jpg") == 0 &&
          strcmp(ps.ctype[0], "image/jpeg") == 0, "part 1 headers");
    CHECK(ps.len[0] == 12 && memcmp(ps.data[0], "AAA\r\nstill A", 12) == 0,
          "part 1 data keeps inner CRLFs (%zu)", ps.len[0]);
    CHECK(strcmp(ps.filename[1], "b.png") == 0 && ps.len[1] == 2 && !strcmp(ps.data[1], "BB"),
          "part 2");
    CHECK(strcmp(ps.name[2], "top_k") == 0 && ps.filename[2][0] == 0 && !strcmp(ps.data[2], "3"),
          "plain field part");

    /* preamble, epilogue, quoted names with escapes, no part headers, empty data */
    rc = parse("preamble\r\n--XY\r\n\r\n\r\n--XY\r\nContent-Disposition: form-data; "
               "name=\"a\\\"b\"\r\n\r\nz\r\n--XY--epilogue", "XY", &ps);
    CHECK(rc == 0 && ps.n == 2 && ps.len[0] == 0 && !strcmp(ps.name[1], "a\"b") &&
          !strcmp(ps.data[1], "z"), "preamble/epilogue/escapes (rc %d n %d)", rc, ps.n);
    /* a boundary-like line inside the data that is not the delimiter */
    rc = parse("--B\r\n\r\nx--B\r\ny\r\n--Bz\r\n--B--", "B", &ps);
    CHECK(rc == 0 && ps.n == 1 && ps.len[0] == 13, "near-delimiters inside data (rc %d n %d len %zu)",
          rc, ps.n, ps.len[0]);

    /* hostile / broken bodies */
    CHECK(parse("", "B", &ps) == -EINVAL, "empty body");
    CHECK(parse("--B--", "B", &ps) == -ENODATA, "no parts");
    CHECK(parse("--B\r\n\r\ndata without end", "B", &ps) == -EINVAL, "no closing delimiter");
    CHECK(parse("--B\r\nContent-Disposition: form-data\r\n", "B", &ps) == -EINVAL,
          "headers without an empty line");
    CHECK(parse("--Bxx\r\n\r\nd\r\n--B--", "B", &ps) == -EINVAL, "junk after the first delimiter");
    CHECK(parse("--B\r\nContent-Disposition: form-data; name=\"unterminated\r\n\r\nd\r\n--B--",
                "B", &ps) == -EINVAL, "unterminated quoted name");
    CHECK(parse("no delimiter at all", "B", &ps) == -EINVAL, "not multipart at all");
    char many[2048] = "";
    for (int i = 0; i < 10; i++)
        strcat(many, "--B\r\n\r\nx\r\n");
    strcat(many, "--B--");
    CHECK(parse(many, "B", &ps) == -EMSGSIZE, "more parts than max_parts");
    char longname[600];
    snprintf(longname, sizeof(longname),
             "--B\r\nContent-Disposition: form-data; name=\"%0400d\"\r\n\r\nx\r\n--B--", 7);
    CHECK(parse(longname, "B", &ps) == -EINVAL, "name longer than the parser keeps");
    /* a callback error stops the walk and is returned */
    CHECK(http_multipart_parse((const uint8_t *)many, strlen(many), "B", 100, collect, &ps) ==
              -ENOSPC, "callback error propagates");

    /* ---- integers */
    long v = -1;
    CHECK(http_parse_int("5", 1, 10, &v) == 0 && v == 5, "5");
    CHECK(http_parse_int("10", 1, 10, &v) == 0 && v == 10, "upper bound");
    v = 42;
    CHECK(http_parse_int("11", 1, 10, &v) == -EINVAL && v == 42, "over: out untouched");
    CHECK(http_parse_int("0", 1, 10, &v) == -EINVAL, "under");
    CHECK(http_parse_int("", 1, 10, &v) == -EINVAL, "empty");
    CHECK(http_parse_int(NULL, 1, 10, &v) == -EINVAL, "null");
    CHECK(http_parse_int(" 5", 1, 10, &v) == -EINVAL, "leading space");
    CHECK(http_parse_int("5x", 1, 10, &v) == -EINVAL, "trailing junk");
    CHECK(http_parse_int("99999999999999999999999", 1, 10, &v) == -EINVAL, "overflow");
    CHECK(http_parse_int("-3", -5, 5, &v) == 0 && v == -3, "negative in range");

    /* ---- sniffing */
    CHECK(!strcmp(http_sniff_unsupported_image((const uint8_t *)"GIF89a...", 9), "gif"), "gif");
    CHECK(!strcmp(http_sniff_unsupported_image((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16),
                  "webp"), "webp");
    CHECK(http_sniff_unsupported_image((const uint8_t *)"\xff\xd8\xff", 3) == NULL, "jpeg is not");
    CHECK(http_sniff_unsupported_image((const uint8_t *)"G", 1) == NULL, "short input");

    return check_summary();
}
