/* errors.h: the one place where an error becomes an HTTP status.
 *
 * Every layer below the routes (engine, request parser, batcher) returns a
 * negative errno; http_status_from_errno() is the single mapping to a status
 * code, and http_error_json() renders the body every error response carries:
 *   {"error": "<message>", "code": <status>}
 * Thread-safe, no state.
 */
#ifndef MNETD_ERRORS_H
#define MNETD_ERRORS_H

#include <stddef.h>

/* Errno values the daemon itself uses, with their meaning at the HTTP edge:
 *   -EINVAL     bad parameter or malformed request        400
 *   -EBADMSG    undecodable / truncated image             400
 *   -ENODATA    empty body / no image part                400
 *   -ENOENT     unknown model or path                     404
 *   -ENOSYS     method not allowed on this path           405
 *   -E2BIG      body over max_body_bytes                  413
 *   -EFBIG      image over max_pixels                     413
 *   -EMSGSIZE   more images than the queue can ever hold  413
 *   -ENOTSUP    unsupported content type / image format   415
 *   -EAGAIN     queue full (429; 503 when so configured)  429
 *   -EBUSY      not ready yet (loading)                   503
 *   -ESHUTDOWN  draining for shutdown                     503
 *   -ENOMEM     out of memory (transient: retry)          503
 *   -ETIMEDOUT  deadline passed before inference          504
 *   -ECANCELED  client hung up while queued (log only)    499
 *   anything else                                         500 */
int http_status_from_errno(int err);

/* Short reason phrase for a status ("Not Found"). */
const char *http_status_text(int status);

/* {"error": msg, "code": status} as a malloc'd NUL-terminated string
 * (NULL only when out of memory).  msg may be NULL (the reason phrase is used). */
char *http_error_json(int status, const char *msg);

#endif
