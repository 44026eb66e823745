// A table's search key: the fields its schema names, packed into a few
// 64-bit words, plus the word-wise operations lookup structures need.
//
// Every lookup structure (exact hash, tuple-space subtables, scan) works on
// packed keys of a fixed word count known at compile time, so comparing or
// masking a key is a short, fully unrolled loop over words.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace flowpipe {

template <std::size_t Words>
struct packed_key {
    static_assert(Words > 0, "a packed key has at least one word");
    static constexpr std::size_t word_count = Words;
    std::array<std::uint64_t, Words> w{};

    friend constexpr bool operator==(const packed_key&, const packed_key&) = default;

    [[nodiscard]] constexpr packed_key operator&(const packed_key& m) const noexcept {
        packed_key r;
        for (std::size_t i = 0; i < Words; ++i) r.w[i] = w[i] & m.w[i];
        return r;
    }
    [[nodiscard]] constexpr bool is_zero() const noexcept {
        std::uint64_t acc = 0;
        for (std::size_t i = 0; i < Words; ++i) acc |= w[i];
        return acc == 0;
    }
    // True when every bit set in *this is also set in `other` (mask inclusion).
    [[nodiscard]] constexpr bool subset_of(const packed_key& other) const noexcept {
        for (std::size_t i = 0; i < Words; ++i)
            if ((w[i] & ~other.w[i]) != 0) return false;
        return true;
    }
};

// (key & mask) == value, word by word, stopping at the first difference.
template <std::size_t Words>
[[nodiscard]] constexpr bool masked_equal(const packed_key<Words>& key, const packed_key<Words>& mask,
                                          const packed_key<Words>& value) noexcept {
    for (std::size_t i = 0; i < Words; ++i)
        if ((key.w[i] & mask.w[i]) != value.w[i]) return false;
    return true;
}

} // namespace flowpipe
