/*
 * The exports of zarrflow's WASM zstd decoder (src/codecs/zstd-wasm.ts): a reused
 * decompression context, and memory the JavaScript side fills and reads. Built by
 * scripts/build-zstd-wasm.mjs with the zstd library sources zstd-napi vendors.
 */
#include <stdlib.h>
#include "zstd.h"
#include "zstd_errors.h"

static ZSTD_DCtx* dctx;

void* zf_malloc(size_t n) { return malloc(n); }
void zf_free(void* p) { free(p); }

/* Decompresses the frame(s) at src into dst (cap bytes at most); the size, or -(zstd error code). */
long long zf_decompress(void* dst, size_t cap, const void* src, size_t len) {
  if (!dctx) dctx = ZSTD_createDCtx();
  if (!dctx) return -(long long)ZSTD_error_memory_allocation;
  size_t r = ZSTD_decompressDCtx(dctx, dst, cap, src, len);
  if (ZSTD_isError(r)) return -(long long)ZSTD_getErrorCode(r);
  return (long long)r;
}

/* The size the first frame declares: -1 when it does not say, -2 when it is not a zstd frame. */
long long zf_content_size(const void* src, size_t len) {
  unsigned long long n = ZSTD_getFrameContentSize(src, len);
  if (n == ZSTD_CONTENTSIZE_UNKNOWN) return -1;
  if (n == ZSTD_CONTENTSIZE_ERROR) return -2;
  return (long long)n;
}

/* A zstd error code's description (a NUL-terminated string in the module's memory). */
const char* zf_error_string(int code) { return ZSTD_getErrorString((ZSTD_ErrorCode)code); }
