// Test support shared by the wildcard lookup structures' tests
// (masked_index, scan_index): keys from word lists, random masks of the
// shapes flows use, and the lookup check against reference_index through
// find() and every burst size.
#pragma once

#include <flowpipe/match/packed_key.hpp>
#include <flowpipe/table/reference_index.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <type_traits>
#include <vector>

namespace flowpipe::test {

template <std::size_t Words>
packed_key<Words> key_of(std::initializer_list<std::uint64_t> ws) {
    packed_key<Words> k;
    std::size_t i = 0;
    for (std::uint64_t w : ws) k.w[i++] = w;
    return k;
}

using word_counts = ::testing::Types<std::integral_constant<std::size_t, 1>, std::integral_constant<std::size_t, 2>,
                                     std::integral_constant<std::size_t, 22>>;

template <std::size_t Words>
packed_key<Words> random_mask(std::mt19937_64& rng, bool allow_zero) {
    packed_key<Words> m{};
    // The generic 22-word key is matched on a few fields: 1..3 nonzero words.
    const std::size_t words = Words <= 2 ? Words : 1 + rng() % 3;
    for (std::size_t t = 0; t < words; ++t) {
        const std::size_t w = Words <= 2 ? t : rng() % Words;
        switch (rng() % 5) {
        case 0: m.w[w] = ~0ull; break;                        // exact word
        case 1: m.w[w] = ~0ull << (rng() % 64); break;        // prefix
        case 2: m.w[w] = rng() & rng() & rng(); break;        // sparse bits
        case 3: m.w[w] = 0xffull << (8 * (rng() % 8)); break; // one byte
        default: m.w[w] = 0; break;                           // word not matched
        }
    }
    if (m.is_zero() && !allow_zero) m.w[0] = 0xff;
    return m;
}

struct diff_totals {
    std::size_t rules_inserted = 0;
    std::size_t erases = 0;
    std::size_t lookups = 0; // keys checked (each through find and every burst size)
    std::size_t hits = 0;
    std::size_t mismatches = 0;
};

// Looks `count` keys up (80% derived from live rules so they hit) through
// find() and find_burst() with bursts of 1, 7, 32, 33 and 256, each answer
// checked against the reference (ties between equal priorities may go either
// way). A structure with a scalar twin (find_scalar) is deterministic: its
// twin and its bursts must give exactly find()'s answer.
template <class Index, std::size_t Words>
void check_lookups(const Index& t, const reference_index<Words>& ref,
                   const std::vector<typename reference_index<Words>::rule>& live, std::size_t count,
                   std::mt19937_64& rng, diff_totals& tot) {
    using key = packed_key<Words>;
    constexpr bool deterministic = requires(const Index& i, const key& k) { i.find_scalar(k); };
    std::vector<key> keys(count);
    for (key& k : keys) {
        for (std::size_t w = 0; w < Words; ++w) k.w[w] = rng();
        if (!live.empty() && rng() % 10 < 8) { // mostly keys that hit a rule
            const auto& r = live[rng() % live.size()];
            for (std::size_t w = 0; w < Words; ++w) k.w[w] = r.value.w[w] | (k.w[w] & ~r.mask.w[w]);
        }
    }
    auto right = [&](const key& k, std::uint32_t id) {
        return id == t.npos ? ref.find(k) == ref.npos : ref.is_a_best_match(k, id);
    };
    std::vector<std::uint32_t> single(count);
    for (std::size_t i = 0; i < count; ++i) {
        single[i] = t.find(keys[i]);
        const bool ok = right(keys[i], single[i]);
        tot.mismatches += !ok;
        tot.hits += single[i] != t.npos;
        EXPECT_TRUE(ok) << "find, key " << i;
        if constexpr (deterministic) {
            const bool twin = t.find_scalar(keys[i]) == single[i];
            tot.mismatches += !twin;
            EXPECT_TRUE(twin) << "find vs find_scalar, key " << i;
        }
    }
    for (std::size_t burst : {1, 7, 32, 33, 256}) {
        std::vector<std::uint32_t> out(count, 0xdeadbeef);
        for (std::size_t base = 0; base < count; base += burst)
            t.find_burst(keys.data() + base, std::min(burst, count - base), out.data() + base);
        for (std::size_t i = 0; i < count; ++i) {
            if (out[i] == single[i]) continue; // already checked
            const bool ok = !deterministic && right(keys[i], out[i]);
            tot.mismatches += !ok;
            EXPECT_TRUE(ok) << "find_burst(" << burst << "), key " << i << ": " << out[i] << " vs find " << single[i];
        }
    }
    tot.lookups += count;
}

} // namespace flowpipe::test
