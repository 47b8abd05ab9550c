/* Shared by the kernels: MurmurHash3's 64-bit finaliser, the C twin of
 * dedupe.core.hashing.fmix64 (a bijection of uint64, arithmetic mod 2**64). */
#ifndef DEDUPE_DD_HASH_H
#define DEDUPE_DD_HASH_H

#include <stdint.h>

static inline uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 33);
}

#endif
