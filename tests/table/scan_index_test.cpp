// scan_index (linear scan for tiny tables) against reference_index, and its
// SIMD path against its scalar twin: hand-written cases, then randomised
// differential runs (fixed seeds) up to the table's capacity with 1, 8, 32
// and fully random masks, many priority ties, interleaved inserts and erases.
#include <flowpipe/table/reference_index.hpp>
#include <flowpipe/table/scan_index.hpp>

#include <gtest/gtest.h>

#include "wildcard_index_support.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <tuple>
#include <vector>

namespace fp = flowpipe;
using fp::test::check_lookups;
using fp::test::diff_totals;
using fp::test::key_of;
using fp::test::random_mask;
using fp::test::word_counts;

namespace {

template <class T>
class scan_index_basic : public ::testing::Test {};
TYPED_TEST_SUITE(scan_index_basic, word_counts);

TYPED_TEST(scan_index_basic, highest_priority_wins_and_erase_reveals_the_next) {
    constexpr std::size_t W = TypeParam::value;
    using key = fp::packed_key<W>;
    fp::scan_index<W> t(16);
    key m8 = key_of<W>({0xff});
    key m16 = key_of<W>({0xffff});
    key zero{};
    EXPECT_EQ(t.find(key_of<W>({0x1234})), t.npos);
    EXPECT_EQ(t.subtable_count(), 0u);
    ASSERT_TRUE(t.insert(key_of<W>({0x34}), m8, 10, 1));
    ASSERT_TRUE(t.insert(key_of<W>({0x1234}), m16, 20, 2));
    ASSERT_TRUE(t.insert(zero, zero, 0, 3)); // catch-all
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(t.subtable_count(), 1u);
    EXPECT_EQ(t.find(key_of<W>({0x1234})), 2u);
    EXPECT_EQ(t.find(key_of<W>({0x5534})), 1u);
    EXPECT_EQ(t.find(key_of<W>({0x5535})), 3u);
    EXPECT_TRUE(t.erase(key_of<W>({0x1234}), m16, 2));
    EXPECT_EQ(t.find(key_of<W>({0x1234})), 1u);
    EXPECT_FALSE(t.erase(key_of<W>({0x1234}), m16, 2));
    EXPECT_TRUE(t.erase(zero, zero, 3));
    EXPECT_EQ(t.find(key_of<W>({0x5535})), t.npos);
    EXPECT_GT(t.memory_bytes(), 0u);
    t.clear();
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.subtable_count(), 0u);
    EXPECT_EQ(t.find(key_of<W>({0x34})), t.npos);
}

TYPED_TEST(scan_index_basic, same_value_and_mask_with_several_priorities) {
    constexpr std::size_t W = TypeParam::value;
    using key = fp::packed_key<W>;
    fp::scan_index<W> t(8);
    key m = key_of<W>({0xf0f0});
    key v = key_of<W>({0x1020});
    ASSERT_TRUE(t.insert(v, m, 5, 50));
    ASSERT_TRUE(t.insert(v, m, 7, 70));
    ASSERT_TRUE(t.insert(v, m, 6, 60));
    ASSERT_TRUE(t.insert(v, m, INT32_MIN, 1));
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), 70u);
    EXPECT_TRUE(t.erase(v, m, 60));
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), 70u);
    EXPECT_TRUE(t.erase(v, m, 70));
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), 50u);
    EXPECT_FALSE(t.erase(v, m, 70));
    EXPECT_TRUE(t.erase(v, m, 50));
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), 1u);
    EXPECT_TRUE(t.erase(v, m, 1));
    EXPECT_EQ(t.subtable_count(), 0u);
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), t.npos);
}

TYPED_TEST(scan_index_basic, full_table_refuses_and_accepts_again_after_erase) {
    constexpr std::size_t W = TypeParam::value;
    fp::scan_index<W> t(3);
    auto m = key_of<W>({~0ull});
    for (std::uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(t.insert(key_of<W>({i}), m, 1, i));
    EXPECT_FALSE(t.insert(key_of<W>({7}), m, 1, 7));
    EXPECT_TRUE(t.erase(key_of<W>({1}), m, 1));
    EXPECT_TRUE(t.insert(key_of<W>({7}), m, 1, 7));
    EXPECT_EQ(t.find(key_of<W>({7})), 7u);
    EXPECT_EQ(t.find(key_of<W>({1})), t.npos);
    fp::scan_index<W> empty(0);
    EXPECT_FALSE(empty.insert(key_of<W>({7}), m, 1, 7));
    EXPECT_EQ(empty.find(key_of<W>({7})), empty.npos);
}

// ---------------------------------------------------------------------------
// Randomised differential test against reference_index (and the scalar twin).

template <std::size_t Words>
void run_differential(std::size_t distinct_masks, std::size_t capacity, std::int32_t priority_range, std::uint64_t seed,
                      diff_totals& tot) {
    using key = fp::packed_key<Words>;
    std::mt19937_64 rng(seed);
    fp::scan_index<Words> t(capacity);
    fp::reference_index<Words> ref;
    std::vector<key> masks;
    for (std::size_t i = 0; i < distinct_masks; ++i) masks.push_back(random_mask<Words>(rng, false));
    std::vector<key> bases(4);
    for (key& b : bases)
        for (std::size_t w = 0; w < Words; ++w) b.w[w] = rng();
    std::set<std::tuple<std::array<std::uint64_t, Words>, std::array<std::uint64_t, Words>, std::int32_t>> triples;
    std::uint32_t next_id = 0;

    // Rounds of churn around the capacity: each round inserts or erases a
    // few rules (sometimes past capacity, which must be refused), then looks up.
    for (std::size_t round = 0; round < 100; ++round) {
        for (std::size_t op = 0; op < 4; ++op) {
            if (ref.size() > 0 && rng() % 5 < 2) {
                const auto r = ref.rules()[rng() % ref.size()];
                ASSERT_TRUE(t.erase(r.value, r.mask, r.id));
                ASSERT_FALSE(t.erase(r.value, r.mask, r.id));
                ASSERT_TRUE(ref.erase(r.value, r.mask, r.id));
                triples.erase({r.value.w, r.mask.w, r.priority});
                continue;
            }
            const key m = masks.empty() ? random_mask<Words>(rng, rng() % 16 == 0) : masks[rng() % masks.size()];
            key v = bases[rng() % bases.size()];
            if (rng() % 2 == 0)
                for (std::size_t w = 0; w < Words; ++w) v.w[w] = rng();
            v = v & m;
            const auto p = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(priority_range));
            if (!triples.insert({v.w, m.w, p}).second) continue;
            const std::uint32_t id = next_id++;
            const bool ok = t.insert(v, m, p, id);
            ASSERT_EQ(ok, ref.size() < capacity);
            if (!ok) {
                triples.erase({v.w, m.w, p});
                continue;
            }
            ref.insert(v, m, p, id);
            ++tot.rules_inserted;
        }
        ASSERT_EQ(t.size(), ref.size());
        ASSERT_EQ(t.subtable_count(), ref.size() > 0 ? 1u : 0u);
        // Strict flow mods: every rule by (value, mask, priority), no other priority.
        for (const auto& r : ref.rules()) {
            ASSERT_EQ(t.find_rule(r.value, r.mask, r.priority), r.id);
            if (!triples.count({r.value.w, r.mask.w, r.priority + 1})) {
                ASSERT_EQ(t.find_rule(r.value, r.mask, r.priority + 1), t.npos);
            }
        }
        check_lookups<fp::scan_index<Words>, Words>(t, ref, ref.rules(), 40, rng, tot);
    }
}

template <std::size_t Words>
void differential_suite() {
    diff_totals all;
    std::uint64_t seed = 2000 + Words;
    for (std::size_t capacity : {4, 8, 16, 40}) {
        for (std::size_t masks : {1, 8, 32, 0}) {
            for (std::int32_t prange : {3, 1 << 20}) {
                diff_totals tot;
                run_differential<Words>(masks, capacity, prange, seed++, tot);
                EXPECT_EQ(tot.mismatches, 0u) << "capacity " << capacity << " masks " << masks;
                all.rules_inserted += tot.rules_inserted;
                all.lookups += tot.lookups;
                all.hits += tot.hits;
                all.mismatches += tot.mismatches;
            }
        }
    }
    std::printf("scan_index<%zu>: %zu rules inserted, %zu keys (%zu hits) x (find + find_scalar + 5 burst sizes), "
                "%zu mismatches\n",
                Words, all.rules_inserted, all.lookups, all.hits, all.mismatches);
}

TEST(scan_index_differential, words_1) { differential_suite<1>(); }
TEST(scan_index_differential, words_2) { differential_suite<2>(); }
TEST(scan_index_differential, words_22) { differential_suite<22>(); }

} // namespace
