// Hashing of packed keys.
//
// A multiply-xorshift mix per 64-bit word (the finaliser of Murmur3/SplitMix
// style hashes): a handful of cycles per word, every input bit reaching every
// output bit, so both the bucket index (low bits) and the tag (high bits) of
// a hash are usable. Not keyed: tables are sized up front and a flow table is
// filled by its owner, not by packets, except through learn with a limit.
#pragma once

#include <cstddef>
#include <cstdint>

#include <flowpipe/match/packed_key.hpp>

namespace flowpipe {

[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

template <std::size_t Words>
[[nodiscard]] constexpr std::uint64_t hash_key(const packed_key<Words>& k, std::uint64_t seed = 0) noexcept {
    std::uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;
    for (std::size_t i = 0; i < Words; ++i) h = mix64(h ^ (k.w[i] + 0x632be59bd9b4e019ULL * (i + 1)));
    return h;
}

// Hash of (key & mask), without materialising the masked key.
template <std::size_t Words>
[[nodiscard]] constexpr std::uint64_t hash_masked(const packed_key<Words>& k, const packed_key<Words>& m,
                                                  std::uint64_t seed = 0) noexcept {
    std::uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;
    for (std::size_t i = 0; i < Words; ++i) h = mix64(h ^ ((k.w[i] & m.w[i]) + 0x632be59bd9b4e019ULL * (i + 1)));
    return h;
}

} // namespace flowpipe
