/* sha256.h: SHA-256 (FIPS 180-4) of a memory buffer, for model digests.
 * Pure function, thread-safe, no allocation. */
#ifndef MNET_SHA256_H
#define MNET_SHA256_H

#include <stddef.h>

/* Writes the 64 lowercase hex digits of SHA-256(data[0..len)) and a NUL. */
void mnet_sha256_hex(const void *data, size_t len, char out[65]);

#endif
