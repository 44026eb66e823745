// exact_index against its trivially correct twin (reference_index with
// all-ones masks), and the SIMD tag matcher against its scalar twin.
#include <flowpipe/table/exact_index.hpp>
#include <flowpipe/table/reference_index.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <unordered_map>
#include <vector>

namespace {

using flowpipe::exact_index;
using flowpipe::packed_key;

template <std::size_t Words>
packed_key<Words> key_of(std::uint64_t seed) {
    packed_key<Words> k;
    for (std::size_t i = 0; i < Words; ++i) k.w[i] = flowpipe::mix64(seed * 0x9e3779b97f4a7c15ULL + i + 1);
    return k;
}

template <std::size_t Words>
packed_key<Words> all_ones() {
    packed_key<Words> m;
    for (auto& w : m.w) w = ~std::uint64_t{0};
    return m;
}

template <class T>
class ExactIndexTest : public ::testing::Test {};

template <std::size_t N>
using words = std::integral_constant<std::size_t, N>;
using WordCounts = ::testing::Types<words<1>, words<2>, words<3>>;
TYPED_TEST_SUITE(ExactIndexTest, WordCounts);

TYPED_TEST(ExactIndexTest, InsertFindEraseReplace) {
    constexpr std::size_t W = TypeParam::value;
    using index = exact_index<W>;
    index x(100);
    EXPECT_EQ(x.size(), 0u);
    EXPECT_GE(x.capacity(), 100u);
    const auto a = key_of<W>(1), b = key_of<W>(2), c = key_of<W>(3);
    EXPECT_EQ(x.find(a), index::npos);
    EXPECT_EQ(x.insert(a, 10), index::insert_result::inserted);
    EXPECT_EQ(x.insert(b, 20), index::insert_result::inserted);
    EXPECT_EQ(x.insert(a, 11), index::insert_result::exists);
    EXPECT_EQ(x.size(), 2u);
    EXPECT_EQ(x.find(a), 10u); // exists does not overwrite
    EXPECT_EQ(x.find(b), 20u);
    EXPECT_EQ(x.find(c), index::npos);

    EXPECT_TRUE(x.replace(a, 12));
    EXPECT_EQ(x.find(a), 12u);
    EXPECT_FALSE(x.replace(c, 30));
    EXPECT_EQ(x.find(c), index::npos);

    EXPECT_TRUE(x.erase(a));
    EXPECT_FALSE(x.erase(a));
    EXPECT_FALSE(x.erase(c));
    EXPECT_EQ(x.find(a), index::npos);
    EXPECT_EQ(x.find(b), 20u);
    EXPECT_EQ(x.size(), 1u);

    EXPECT_EQ(x.insert(a, 13), index::insert_result::inserted);
    EXPECT_EQ(x.find(a), 13u);
    EXPECT_EQ(x.insert(packed_key<W>{}, 0), index::insert_result::inserted); // all-zero key, id 0
    EXPECT_EQ(x.find(packed_key<W>{}), 0u);

    const std::size_t mem = x.memory_bytes();
    x.clear();
    EXPECT_EQ(x.size(), 0u);
    EXPECT_EQ(x.find(a), index::npos);
    EXPECT_EQ(x.find(b), index::npos);
    EXPECT_EQ(x.memory_bytes(), mem);
    EXPECT_EQ(x.insert(b, 21), index::insert_result::inserted);
    EXPECT_EQ(x.find(b), 21u);
}

TYPED_TEST(ExactIndexTest, FillsToCapacityThenReportsFull) {
    constexpr std::size_t W = TypeParam::value;
    using index = exact_index<W>;
    for (std::size_t cap : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, std::size_t{65536}}) {
        SCOPED_TRACE(cap);
        index x(cap);
        ASSERT_GE(x.capacity(), cap);
        const std::size_t mem = x.memory_bytes();
        for (std::size_t i = 0; i < x.capacity(); ++i)
            ASSERT_EQ(x.insert(key_of<W>(i), static_cast<std::uint32_t>(i)), index::insert_result::inserted) << i;
        EXPECT_EQ(x.size(), x.capacity());
        EXPECT_EQ(x.insert(key_of<W>(x.capacity()), 0), index::insert_result::full);
        EXPECT_EQ(x.insert(key_of<W>(0), 0), index::insert_result::exists);
        EXPECT_EQ(x.memory_bytes(), mem); // never reallocates
        std::vector<packed_key<W>> keys;
        for (std::size_t i = 0; i < x.capacity(); ++i) keys.push_back(key_of<W>(i));
        std::vector<std::uint32_t> out(keys.size());
        x.find_burst(keys.data(), keys.size(), out.data());
        for (std::size_t i = 0; i < keys.size(); ++i) {
            ASSERT_EQ(x.find(keys[i]), i);
            ASSERT_EQ(out[i], i);
        }
        // A full table drains and refills.
        for (std::size_t i = 0; i < x.capacity(); i += 2) ASSERT_TRUE(x.erase(key_of<W>(i)));
        for (std::size_t i = 0; i < x.capacity(); ++i)
            ASSERT_EQ(x.find(key_of<W>(i)), i % 2 ? static_cast<std::uint32_t>(i) : index::npos);
        for (std::size_t i = 0; i < x.capacity(); i += 2)
            ASSERT_EQ(x.insert(key_of<W>(i), static_cast<std::uint32_t>(i)), index::insert_result::inserted);
        EXPECT_EQ(x.size(), x.capacity());
    }
}

// Keys drawn from a small universe so that inserts hit existing keys, erases
// hit absent ones, and lookups are a mix of present and absent keys. A small
// table (high load, much overflow) and a larger one.
TYPED_TEST(ExactIndexTest, DifferentialAgainstReferenceIndex) {
    constexpr std::size_t W = TypeParam::value;
    using index = exact_index<W>;
    using key = packed_key<W>;
    const key ones = all_ones<W>();
    std::size_t lookups = 0, mismatches = 0;
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        for (std::size_t cap : {std::size_t{200}, std::size_t{3000}}) {
            SCOPED_TRACE(testing::Message() << "seed " << seed << " capacity " << cap);
            std::mt19937_64 rng(seed * 1000 + cap);
            index x(cap);
            flowpipe::reference_index<W> ref;
            std::unordered_map<std::uint64_t, std::uint32_t> present; // universe index -> id
            const std::uint64_t universe = x.capacity() * 3 / 2;
            // Keys that share low hash bits are common in a small table; some
            // keys also differ from each other in only one word.
            auto make = [&](std::uint64_t u) {
                key k = key_of<W>(u / 2);
                if (u % 2) k.w[W - 1] ^= 1;
                return k;
            };
            std::uint32_t next_id = 0;
            auto check = [&](const std::vector<std::uint64_t>& us) {
                std::vector<key> ks;
                std::vector<std::uint32_t> want;
                for (auto u : us) {
                    ks.push_back(make(u));
                    want.push_back(ref.find(ks.back()));
                }
                for (std::size_t i = 0; i < ks.size(); ++i) {
                    mismatches += x.find(ks[i]) != want[i];
                    ++lookups;
                }
                for (std::size_t burst : {1u, 7u, 32u, 33u, 256u}) {
                    std::vector<std::uint32_t> out(ks.size(), 12345);
                    for (std::size_t i = 0; i < ks.size(); i += burst)
                        x.find_burst(ks.data() + i, std::min(burst, ks.size() - i), out.data() + i);
                    for (std::size_t i = 0; i < ks.size(); ++i) mismatches += out[i] != want[i];
                    lookups += ks.size();
                }
            };
            for (int step = 0; step < 20000; ++step) {
                const std::uint64_t u = rng() % universe;
                const key k = make(u);
                const int op = static_cast<int>(rng() % 10);
                if (op < 5) { // insert
                    const auto r = x.insert(k, next_id);
                    if (present.count(u)) {
                        ASSERT_EQ(r, index::insert_result::exists);
                    } else if (present.size() >= x.capacity()) {
                        ASSERT_EQ(r, index::insert_result::full);
                    } else {
                        ASSERT_EQ(r, index::insert_result::inserted);
                        ref.insert(k, ones, 0, next_id);
                        present[u] = next_id;
                    }
                    ++next_id;
                } else if (op < 8) { // erase
                    const bool had = present.count(u) != 0;
                    ASSERT_EQ(x.erase(k), had);
                    if (had) {
                        ASSERT_TRUE(ref.erase(k, ones, present[u]));
                        present.erase(u);
                    }
                } else { // replace
                    const bool had = present.count(u) != 0;
                    ASSERT_EQ(x.replace(k, next_id), had);
                    if (had) {
                        ASSERT_TRUE(ref.erase(k, ones, present[u]));
                        ref.insert(k, ones, 0, next_id);
                        present[u] = next_id;
                    }
                    ++next_id;
                }
                ASSERT_EQ(x.size(), ref.size());
                if (step % 4000 == 3999) {
                    std::vector<std::uint64_t> us(1000);
                    for (auto& v : us) v = rng() % (universe + universe / 4); // some never inserted
                    check(us);
                }
            }
        }
    }
    EXPECT_EQ(mismatches, 0u);
    EXPECT_GE(lookups, 10000u);
    std::printf("[ exact_index<%zu> differential ] %zu lookups, %zu mismatches\n", W, lookups, mismatches);
}

// Keys as real tables have them: mostly zero words, small counters, keys that
// differ in one bit. The index's own hash must spread them (a bad spread
// would show as a failed fill or, in the benchmark, as slowness).
TYPED_TEST(ExactIndexTest, StructuredKeys) {
    constexpr std::size_t W = TypeParam::value;
    using index = exact_index<W>;
    index x(65536);
    std::vector<packed_key<W>> ks;
    for (std::uint64_t i = 0; ks.size() < x.capacity(); ++i) {
        packed_key<W> k{};
        switch (i % 3) {
        case 0: k.w[0] = i; break;                      // counter in the first word
        case 1: k.w[W - 1] = (i << 32) | 0x0800; break; // counter high in the last word
        default: k.w[(i / 3) % W] = std::uint64_t{1} << (i / 3 / W % 64) | (i << 40); break; // sparse bits
        }
        ks.push_back(k);
    }
    for (std::size_t i = 0; i < ks.size(); ++i)
        ASSERT_EQ(x.insert(ks[i], static_cast<std::uint32_t>(i)), index::insert_result::inserted) << i;
    std::vector<std::uint32_t> out(ks.size());
    x.find_burst(ks.data(), ks.size(), out.data());
    for (std::size_t i = 0; i < ks.size(); ++i) ASSERT_EQ(out[i], i);
    for (std::size_t i = 0; i < ks.size(); i += 3) ASSERT_TRUE(x.erase(ks[i]));
    x.find_burst(ks.data(), ks.size(), out.data());
    for (std::size_t i = 0; i < ks.size(); ++i) ASSERT_EQ(out[i], i % 3 ? static_cast<std::uint32_t>(i) : index::npos);
}

// find_burst on absent keys in a full table whose probe sequences wrap.
TYPED_TEST(ExactIndexTest, MissesInAFullSmallTable) {
    constexpr std::size_t W = TypeParam::value;
    using index = exact_index<W>;
    index x(1);
    for (std::size_t i = 0; i < x.capacity(); ++i) ASSERT_EQ(x.insert(key_of<W>(i), 7), index::insert_result::inserted);
    std::vector<packed_key<W>> ks;
    for (std::size_t i = 0; i < 100; ++i) ks.push_back(key_of<W>(i));
    std::vector<std::uint32_t> out(ks.size());
    x.find_burst(ks.data(), ks.size(), out.data());
    for (std::size_t i = 0; i < ks.size(); ++i) EXPECT_EQ(out[i], i < x.capacity() ? 7u : index::npos);
}

// ---------------------------------------------------------------------------
// The SIMD tag matcher equals its scalar twin.

template <std::size_t N, class Arch>
void compare_tag_matchers(std::mt19937_64& rng) {
    alignas(64) std::uint16_t tags[N + 1];
    for (int round = 0; round < 20000; ++round) {
        // Few distinct values so that matches are frequent; sometimes any value.
        const bool narrow = round % 2 == 0;
        for (auto& t : tags) t = static_cast<std::uint16_t>(narrow ? rng() % 4 : rng());
        const std::uint16_t needle = narrow ? static_cast<std::uint16_t>(rng() % 4) : tags[rng() % N];
        const std::uint16_t* p = tags + (round % 3 == 0); // unaligned too
        ASSERT_EQ((flowpipe::detail::match_tags<N, Arch>(p, needle)), flowpipe::detail::match_tags_scalar<N>(p, needle))
            << Arch::name() << " N=" << N;
        if constexpr (N <= 16) {
            ASSERT_EQ((flowpipe::detail::match_tag_pairs<N, Arch>(p, needle)),
                      flowpipe::detail::match_tag_pairs_scalar<N>(p, needle))
                << Arch::name() << " N=" << N;
        }
    }
    // Extremes: lanes with 0xffff and 0x8000 (saturation in packs).
    for (std::uint16_t v : {std::uint16_t{0}, std::uint16_t{0x7fff}, std::uint16_t{0x8000}, std::uint16_t{0xffff}}) {
        for (std::size_t i = 0; i < N; ++i) tags[i] = static_cast<std::uint16_t>(i % 2 ? v : v ^ 1);
        ASSERT_EQ((flowpipe::detail::match_tags<N, Arch>(tags, v)), flowpipe::detail::match_tags_scalar<N>(tags, v));
        if constexpr (N <= 16) {
            ASSERT_EQ((flowpipe::detail::match_tag_pairs<N, Arch>(tags, v)),
                      flowpipe::detail::match_tag_pairs_scalar<N>(tags, v));
        }
    }
}

// Every architecture this build enables, at every group size it can do.
template <class Arch>
void compare_arch(std::mt19937_64& rng) {
    if constexpr (Arch::supported()) {
        constexpr std::size_t lanes = flowpipe::detail::tag_lanes<Arch>;
        if constexpr (lanes <= 8) compare_tag_matchers<8, Arch>(rng);
        if constexpr (lanes <= 16) compare_tag_matchers<16, Arch>(rng);
        compare_tag_matchers<32, Arch>(rng);
    }
}

// probe + insert_at (one hash) against insert/find on a twin index: the same
// answers, the same placement (so the same fill limit), through random
// inserts and erases on a small table that overflows buckets and fills up.
TYPED_TEST(ExactIndexTest, ProbeInsertAtMatchesInsert) {
    constexpr std::size_t W = TypeParam::value;
    using index = exact_index<W>;
    index a(60), b(60);
    std::mt19937_64 rng(99);
    std::vector<std::uint64_t> live;
    for (int step = 0; step < 20000; ++step) {
        const std::uint64_t seed = rng() % 200;
        const auto k = key_of<W>(seed);
        if (rng() % 3 != 0) {
            const auto want = a.insert(k, static_cast<std::uint32_t>(seed));
            const auto p = b.probe(k);
            ASSERT_EQ(p.found, b.find(k) != index::npos);
            if (p.found) {
                ASSERT_EQ(p.id, b.find(k));
            }
            const auto p2 = b.probe(k, index::hash(k)); // the hash-given form agrees
            ASSERT_EQ(p2.found, p.found);
            ASSERT_EQ(p2.bucket, p.bucket);
            ASSERT_EQ(p2.slot, p.slot);
            const auto got = b.insert_at(p, k, static_cast<std::uint32_t>(seed));
            ASSERT_EQ(got, want) << "step " << step;
            if (got == index::insert_result::inserted) live.push_back(seed);
        } else if (!live.empty()) {
            const std::size_t i = rng() % live.size();
            ASSERT_TRUE(a.erase(key_of<W>(live[i])));
            ASSERT_TRUE(b.erase(key_of<W>(live[i])));
            live[i] = live.back();
            live.pop_back();
        }
        ASSERT_EQ(a.size(), b.size());
        for (int q = 0; q < 3; ++q) {
            const auto qk = key_of<W>(rng() % 200);
            ASSERT_EQ(a.find(qk), b.find(qk));
        }
    }
    // replace_at rewrites the id of a found probe.
    if (!live.empty()) {
        const auto k = key_of<W>(live[0]);
        const auto p = b.probe(k);
        ASSERT_TRUE(p.found);
        b.replace_at(p, 4242);
        EXPECT_EQ(b.find(k), 4242u);
    }
}

TEST(TagMatch, SimdEqualsScalarTwin) {
    std::mt19937_64 rng(42);
    using flowpipe::detail::scalar_arch;
    compare_tag_matchers<8, scalar_arch>(rng);
    compare_tag_matchers<8, flowpipe::detail::tag_arch<8>>(rng);
    compare_tag_matchers<16, flowpipe::detail::tag_arch<16>>(rng);
    compare_tag_matchers<32, flowpipe::detail::tag_arch<32>>(rng);
    compare_arch<xsimd::sse2>(rng);
    compare_arch<xsimd::avx2>(rng);
    compare_arch<flowpipe::detail::avx512vl_256>(rng);
    compare_arch<xsimd::avx512bw>(rng);
    std::printf("[ tag_match ] tag_arch<8>=%s tag_arch<16>=%s tag_arch<32>=%s\n", flowpipe::detail::tag_arch<8>::name(),
                flowpipe::detail::tag_arch<16>::name(), flowpipe::detail::tag_arch<32>::name());
}

} // namespace
