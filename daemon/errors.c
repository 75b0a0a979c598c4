/* errors.c: errno -> HTTP status, and the JSON error body. */
#include "errors.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int http_status_from_errno(int err)
{
    switch (err) {
    case -EINVAL:
    case -EBADMSG:
    case -ENODATA:
        return 400;
    case -ENOENT:
        return 404;
    case -ENOSYS:
        return 405;
    case -E2BIG:
    case -EFBIG:
    case -EMSGSIZE:
        return 413;
    case -ENOTSUP:
        return 415;
    case -EAGAIN:
        return 429;
    case -EBUSY:
    case -ESHUTDOWN:
    case -ENOMEM:
        return 503;
    case -ETIMEDOUT:
        return 504;
    case -ECANCELED:
        return 499; /* client closed the connection first (logged, never sent) */
    default:
        return 500;
    }
}

const char *http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Error";
    }
}

char *http_error_json(int status, const char *msg)
{
    json_t *o = json_pack("{s:s, s:i}", "error", msg ? msg : http_status_text(status),
                          "code", status);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
