/* fuzz_image: libFuzzer target for mnet_image_prepare (JPEG and PNG).
 *
 * The first two input bytes pick the output size, crop, resize filter and DCT
 * scaling, the rest is the image.  The pixel limit is 4 Mpx so that a header
 * declaring a huge image is refused (as the daemon does) rather than decoded
 * slowly.  Checks beyond "no crash": the error codes are the documented ones,
 * and the output buffer is untouched on failure.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false \
 *       -Db_sanitize=address,undefined && ninja -C build-fuzz tests/fuzz_image
 *   build-fuzz/tests/fuzz_image -max_len=65536 corpus/ ../shared/testdata/samples
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "mnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int sides[4] = { 1, 7, 32, 224 };
    static const float fracs[4] = { 0.875f, 1.0f, 0.5f, 0.1f };
    uint8_t sel = 0, sel2 = 0;
    if (size >= 2) {
        sel = data[0];
        sel2 = data[1];
        data += 2;
        size -= 2;
    }
    int oh = sides[sel & 3], ow = sides[(sel >> 2) & 3];
    struct mnet_image_options opt = { .max_pixels = 4u << 20, .central_fraction = fracs[(sel >> 4) & 3] };
    struct mnet_image_tuning tun = { .resize = (enum mnet_resize)(sel2 & 3),
                                     .dct_scaling = (int[]){ 4, 0, 1, 2 }[(sel2 >> 2) & 3],
                                     .square_crop = !!(sel2 & 16) };
    size_t n = (size_t)oh * ow * 3;
    uint8_t *out = malloc(n);
    if (!out)
        return 0;
    memset(out, 0x5a, n);
    char err[128];
    int rc = mnet_image_prepare_tuned(data, size, &opt, &tun, oh, ow, out, err, sizeof err);
    if (rc != 0 && rc != -EBADMSG && rc != -ENOTSUP && rc != -EFBIG && rc != -ENOMEM)
        abort(); /* an undocumented error code */
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            if (out[i] != 0x5a)
                abort(); /* output written on failure */
        if (memchr(err, '\0', sizeof err) == NULL)
            abort();
    }
    free(out);
    return 0;
}
