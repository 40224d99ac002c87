/*
 * compare.c -- many rows of "line a above line b" at once (anvil_compare_rows).
 *
 * A sweep of a crossing strategy compares, for each parameter set, two
 * indicator lines that it shares with many other sets (45 SMAs serve 990
 * SMA-cross pairs). Row by row, each comparison streams both lines from
 * memory; here the bars go in tiles small enough that every line a tile
 * touches stays in the core's cache while all the rows read it. On x86-64
 * sixteen bars are compared and packed into bytes at a time (SSE2, which
 * every x86-64 CPU has).
 */
#include <stddef.h>
#include <stdint.h>

#include "anvil.h"
#include "inline.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define COMPARE_TILE 2048 /* bars per tile: 16 KiB of each line */

/* o[t] for t in [lo, hi): 1 where x > y, and -1 where x < y when `both`. */
ANVIL_INLINE void compare_span(const double *restrict x, const double *restrict y, int both,
                               int64_t lo, int64_t hi, int8_t *restrict o)
{
    int64_t t = lo;
#if defined(__SSE2__)
    for (; t + 16 <= hi; t += 16) {
        __m128i above[2], below[2];
        for (int half = 0; half < 2; half++) {
            __m128 gt[4], lt[4];
            for (int q = 0; q < 4; q++) {
                __m128d xv = _mm_loadu_pd(x + t + 8 * half + 2 * q);
                __m128d yv = _mm_loadu_pd(y + t + 8 * half + 2 * q);
                gt[q] = _mm_castpd_ps(_mm_cmpgt_pd(xv, yv)); /* false on NaN */
                lt[q] = both ? _mm_castpd_ps(_mm_cmplt_pd(xv, yv)) : gt[q];
            }
            /* 64-bit masks -> 32-bit (their low halves) -> 16-bit */
            __m128i g01 = _mm_castps_si128(_mm_shuffle_ps(gt[0], gt[1], _MM_SHUFFLE(2, 0, 2, 0)));
            __m128i g23 = _mm_castps_si128(_mm_shuffle_ps(gt[2], gt[3], _MM_SHUFFLE(2, 0, 2, 0)));
            __m128i l01 = _mm_castps_si128(_mm_shuffle_ps(lt[0], lt[1], _MM_SHUFFLE(2, 0, 2, 0)));
            __m128i l23 = _mm_castps_si128(_mm_shuffle_ps(lt[2], lt[3], _MM_SHUFFLE(2, 0, 2, 0)));
            above[half] = _mm_packs_epi32(g01, g23);
            below[half] = _mm_packs_epi32(l01, l23);
        }
        __m128i a8 = _mm_packs_epi16(above[0], above[1]); /* 0 / -1 per bar */
        __m128i b8 = _mm_packs_epi16(below[0], below[1]);
        __m128i v = both ? _mm_sub_epi8(b8, a8) : _mm_sub_epi8(_mm_setzero_si128(), a8);
        _mm_storeu_si128((__m128i *)(o + t), v);
    }
#endif
    if (both) {
        for (; t < hi; t++)
            o[t] = (int8_t)((x[t] > y[t]) - (x[t] < y[t]));
    } else {
        for (; t < hi; t++)
            o[t] = (int8_t)(x[t] > y[t]);
    }
}

int anvil_compare_rows(const double *const *a, const double *const *b, const int8_t *sign,
                       int64_t rows, int64_t n, int8_t *out)
{
    if (a == NULL || b == NULL || out == NULL)
        return ANVIL_E_NULL;
    if (rows < 0 || n < 0 || (n > 0 && rows > INT64_MAX / n))
        return ANVIL_E_SIZE;
    for (int64_t r = 0; r < rows; r++)
        if (a[r] == NULL || b[r] == NULL)
            return ANVIL_E_NULL;
    for (int64_t lo = 0; lo < n; lo += COMPARE_TILE) {
        const int64_t hi = n - lo < COMPARE_TILE ? n : lo + COMPARE_TILE;
        for (int64_t r = 0; r < rows; r++)
            compare_span(a[r], b[r], sign != NULL && sign[r] != 0, lo, hi, out + r * n);
    }
    return ANVIL_OK;
}
