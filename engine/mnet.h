/* mnet.h: the mobilenetd engine's one public header.
 *
 * Loads a MobileNet TensorFlow Lite file (or builds a v1/v2 network with
 * random weights), plans it once, and runs batches of NHWC images.  Also
 * holds the image preprocessing shared by every front end.
 *
 * Errors: functions return 0 or a negative errno:
 *   -EINVAL   bad argument          -ENOMEM   out of memory
 *   -EBADMSG  corrupt model/image   -ENOTSUP  unsupported op, type or format
 *   -EFBIG    image over the pixel limit   -ENOENT/-EACCES/...  from open()
 * When err is not NULL a one-line reason is written to it (always
 * NUL-terminated, truncated to errlen).  Out-parameters are left untouched on
 * failure.  The engine never logs.
 *
 * Thread-safety: a model owns its activation arena, so mnet_run and
 * mnet_classify must be called by one thread at a time per model.  Everything
 * else on a loaded model is read-only and safe from any thread.
 */
#ifndef MNET_H
#define MNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mnet_model mnet_model;

enum mnet_dtype { MNET_F32, MNET_U8, MNET_I8, MNET_I32 };
/* "float32", "uint8", "int8", "int32" (as TFLite and the JSON API spell them). */
const char *mnet_dtype_name(enum mnet_dtype t);

enum mnet_precision {
    MNET_PRECISION_NATIVE,  /* run the model in its own numerics */
    MNET_PRECISION_FLOAT32, /* quantized model run in float32 (weights dequantized at load) */
};

struct mnet_options {
    int threads;                   /* OpenMP threads used by mnet_run; 0 = number of cores */
    int max_batch;                 /* activation arena sized for this many images; 0 = 1 */
    enum mnet_precision precision;
};

struct mnet_info {
    char arch[32];              /* "mobilenet_v1", "mobilenet_v2", "mobilenet_v3" or "unknown" */
    int height, width, channels; /* input image size (NHWC, channels == 3) */
    int classes;                /* output vector length (1001 for the ImageNet models) */
    enum mnet_dtype numerics;   /* F32, U8 or I8: how the weights are computed as loaded */
    enum mnet_dtype input_type; /* dtype of the raw input tensor as mnet_run takes it */
    float input_scale;          /* quantization of the raw input (scale 0 when float) */
    int32_t input_zero_point;
    enum mnet_dtype output_type; /* dtype of the raw output tensor as mnet_run writes it */
    float output_scale;
    int32_t output_zero_point;
    int output_is_softmax;      /* 1 when the graph ends in SOFTMAX (scores are probabilities) */
    int ops;                    /* operators in the graph as loaded */
    size_t weights_bytes;       /* bytes of constant tensors */
    size_t arena_bytes;         /* activation arena for max_batch images */
    int max_batch;
    int threads;
    char sha256[65];            /* hex sha256 of the model file ("" for built networks) */
    char kernels[16];           /* the kernel table it runs on, picked by cpuid / hwcaps at
                                 * load ("avx512vnni", "avx2", "neondot", "c", ...) */
};

/* Load a .tflite file.  The whole file is validated before anything is trusted. */
int mnet_load_file(const char *path, const struct mnet_options *opt, mnet_model **out,
                   char *err, size_t errlen);
/* Same from memory; the bytes are copied, the caller keeps its buffer. */
int mnet_load_buffer(const void *data, size_t size, const struct mnet_options *opt,
                     mnet_model **out, char *err, size_t errlen);

/* MobileNet from the papers' layer tables with seeded random weights, for
 * benchmarks at sizes no file has.  Same graph shape a converted model has. */
struct mnet_build_spec {
    int version;              /* 1 or 2 */
    float alpha;              /* width multiplier, e.g. 1.0, 0.75, 0.5, 0.35, 0.25 */
    int resolution;           /* input height == width, e.g. 224 */
    int classes;              /* e.g. 1001 */
    enum mnet_dtype numerics; /* MNET_F32 or MNET_I8 (int8 per-channel weights) */
    uint64_t seed;
};
int mnet_build(const struct mnet_build_spec *spec, const struct mnet_options *opt,
               mnet_model **out, char *err, size_t errlen);

void mnet_free(mnet_model *m); /* NULL is fine */

const struct mnet_info *mnet_get_info(const mnet_model *m);

/* Raw run on n images, n >= 1 (batches over max_batch run in chunks).
 * input:  (n, H, W, C) in info.input_type
 * output: (n, classes) in info.output_type
 * Bit-exact with TFLite's reference kernels on the integer path. */
int mnet_run(mnet_model *m, const void *input, int n, void *output);

/* RGB bytes (n, H, W, 3), already cropped and resized to the model's input,
 * to scores (n, classes) that sum to 1: the input is normalized the model's
 * way (raw bytes for uint8 inputs with scale 1/128 and zero point 128, else
 * (x - 127.5) / 127.5 quantized to the input), the output dequantized, and a
 * softmax applied when the graph has none. */
int mnet_classify(mnet_model *m, const uint8_t *rgb, int n, float *scores);

/* The k best entries of scores (descending score, ties by lower index).
 * Writes min(k, classes) entries; returns that count. */
int mnet_top_k(const float *scores, int classes, int k, int *index, float *score);

/* ---- image preprocessing ---- */

struct mnet_image_options {
    uint64_t max_pixels;    /* width * height from the header must not exceed this; 0 = no limit */
    float central_fraction; /* central crop kept before resizing, (0, 1]; 0 = 0.875 */
};

/* Decode a JPEG or PNG (sniffed from its magic bytes; greyscale, CMYK and
 * 16-bit are converted), crop the central fraction and resize bilinearly to
 * (out_h, out_w, 3) RGB bytes.  Big JPEGs are decoded at a reduced DCT scale
 * that still covers the output.  Errors: -EBADMSG corrupt or truncated,
 * -ENOTSUP not a JPEG/PNG, -EFBIG over max_pixels (checked from the header
 * before any pixel buffer exists). */
int mnet_image_prepare(const void *data, size_t size, const struct mnet_image_options *opt,
                       int out_h, int out_w, uint8_t *rgb, char *err, size_t errlen);

/* Image format from the first bytes: "jpeg", "png" or NULL. */
const char *mnet_image_format(const void *data, size_t size);

#ifdef __cplusplus
}
#endif
#endif
