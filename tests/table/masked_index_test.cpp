// masked_index (tuple space search) against the trivially correct
// reference_index: a few hand-written cases, then randomised differential
// runs (fixed seeds) over 1, 8, 32 and fully random masks, many priority
// ties, interleaved inserts and erases, through find() and find_burst().
#include <flowpipe/table/masked_index.hpp>
#include <flowpipe/table/reference_index.hpp>

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
class masked_index_basic : public ::testing::Test {};
TYPED_TEST_SUITE(masked_index_basic, word_counts);

TYPED_TEST(masked_index_basic, highest_priority_wins_and_erase_reveals_the_next) {
    constexpr std::size_t W = TypeParam::value;
    using key = fp::packed_key<W>;
    fp::masked_index<W> t(16);
    key m8 = key_of<W>({0xff});
    key m16 = key_of<W>({0xffff});
    key zero{};
    EXPECT_EQ(t.find(key_of<W>({0x1234})), t.npos);
    ASSERT_TRUE(t.insert(key_of<W>({0x34}), m8, 10, 1));
    ASSERT_TRUE(t.insert(key_of<W>({0x1234}), m16, 20, 2));
    ASSERT_TRUE(t.insert(zero, zero, 0, 3)); // catch-all
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(t.subtable_count(), 3u);
    EXPECT_EQ(t.find(key_of<W>({0x1234})), 2u);
    EXPECT_EQ(t.find(key_of<W>({0x5534})), 1u);
    EXPECT_EQ(t.find(key_of<W>({0x5535})), 3u);
    EXPECT_TRUE(t.erase(key_of<W>({0x1234}), m16, 2));
    EXPECT_EQ(t.subtable_count(), 2u); // the empty subtable is gone
    EXPECT_EQ(t.find(key_of<W>({0x1234})), 1u);
    EXPECT_FALSE(t.erase(key_of<W>({0x1234}), m16, 2));
    EXPECT_TRUE(t.erase(zero, zero, 3));
    EXPECT_EQ(t.find(key_of<W>({0x5535})), t.npos);
    EXPECT_EQ(t.subtable_count(), 1u);
    EXPECT_GT(t.memory_bytes(), 0u);
    t.clear();
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.subtable_count(), 0u);
    EXPECT_EQ(t.find(key_of<W>({0x34})), t.npos);
}

TYPED_TEST(masked_index_basic, same_value_and_mask_with_several_priorities) {
    constexpr std::size_t W = TypeParam::value;
    using key = fp::packed_key<W>;
    fp::masked_index<W> t(8);
    key m = key_of<W>({0xf0f0});
    key v = key_of<W>({0x1020});
    ASSERT_TRUE(t.insert(v, m, 5, 50));
    ASSERT_TRUE(t.insert(v, m, 7, 70));
    ASSERT_TRUE(t.insert(v, m, 6, 60));
    ASSERT_TRUE(t.insert(v, m, INT32_MIN, 1));
    EXPECT_EQ(t.subtable_count(), 1u);
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), 70u);
    EXPECT_EQ(t.find_rule(v, m, 6), 60u); // strict: each priority its own rule
    EXPECT_EQ(t.find_rule(v, m, INT32_MIN), 1u);
    EXPECT_EQ(t.find_rule(v, m, 8), t.npos);
    EXPECT_EQ(t.find_rule(key_of<W>({0x1030}), m, 7), t.npos);
    EXPECT_TRUE(t.erase(v, m, 60)); // from the middle
    EXPECT_EQ(t.find_rule(v, m, 6), t.npos);
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), 70u);
    EXPECT_TRUE(t.erase(v, m, 70)); // the best
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), 50u);
    EXPECT_FALSE(t.erase(v, m, 70));
    EXPECT_FALSE(t.erase(v, m, 999));
    EXPECT_TRUE(t.erase(v, m, 50));
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), 1u);
    EXPECT_TRUE(t.erase(v, m, 1));
    EXPECT_EQ(t.subtable_count(), 0u);
    EXPECT_EQ(t.find(key_of<W>({0x1a2b})), t.npos);
}

TYPED_TEST(masked_index_basic, full_table_refuses_and_accepts_again_after_erase) {
    constexpr std::size_t W = TypeParam::value;
    fp::masked_index<W> t(3);
    auto m = key_of<W>({~0ull});
    for (std::uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(t.insert(key_of<W>({i}), m, 1, i));
    EXPECT_FALSE(t.insert(key_of<W>({7}), m, 1, 7));
    EXPECT_TRUE(t.erase(key_of<W>({1}), m, 1));
    EXPECT_TRUE(t.insert(key_of<W>({7}), m, 1, 7));
    EXPECT_EQ(t.find(key_of<W>({7})), 7u);
    EXPECT_EQ(t.find(key_of<W>({1})), t.npos);
}

TYPED_TEST(masked_index_basic, subtables_are_searched_by_max_priority) {
    constexpr std::size_t W = TypeParam::value;
    fp::masked_index<W> t(8);
    t.insert(key_of<W>({1}), key_of<W>({0xf}), 1, 1);
    t.insert(key_of<W>({2}), key_of<W>({0xff}), 30, 2);
    t.insert(key_of<W>({3}), key_of<W>({0xfff}), 20, 3);
    t.insert(key_of<W>({1}), key_of<W>({0xf}), 40, 4); // lifts the 0xf subtable to the front
    std::vector<std::int32_t> order;
    t.for_each_subtable([&](const auto&, std::int32_t p, std::uint32_t) { order.push_back(p); });
    EXPECT_EQ(order, (std::vector<std::int32_t>{40, 30, 20}));
    t.erase(key_of<W>({1}), key_of<W>({0xf}), 4); // and drops it back
    order.clear();
    t.for_each_subtable([&](const auto&, std::int32_t p, std::uint32_t) { order.push_back(p); });
    EXPECT_EQ(order, (std::vector<std::int32_t>{30, 20, 1}));
}

// Thousands of values in one subtable: the open-addressing table grows, and
// erasing with backward shifts keeps every survivor reachable.
TEST(masked_index, one_subtable_grows_and_shrinks) {
    fp::masked_index<2> t(20000);
    const auto m = key_of<2>({~0ull, 0xffff});
    std::mt19937_64 rng(7);
    std::vector<fp::packed_key<2>> vals;
    for (std::uint32_t i = 0; i < 20000; ++i) {
        auto v = key_of<2>({rng(), rng() & 0xffff});
        vals.push_back(v);
        ASSERT_TRUE(t.insert(v, m, static_cast<std::int32_t>(i % 5), i));
    }
    EXPECT_FALSE(t.insert(key_of<2>({1, 1}), m, 0, 99999));
    for (std::uint32_t i = 0; i < 20000; i += 2) ASSERT_TRUE(t.erase(vals[i], m, i));
    for (std::uint32_t i = 0; i < 20000; ++i) ASSERT_EQ(t.find(vals[i]), i % 2 ? i : t.npos) << i;
    EXPECT_EQ(t.size(), 10000u);
}

// Heavy insert/erase churn inside one subtable of 4096 possible values at
// up to half load: groups fill up, erases leave tombstones, inserts reuse
// them and rebuilds drop them; every value stays findable exactly when present.
TEST(masked_index, churn_in_one_subtable_keeps_every_value_reachable) {
    fp::masked_index<1> t(2048);
    const auto m = key_of<1>({0xfff0});
    std::vector<bool> present(4096);
    std::size_t count = 0;
    std::mt19937_64 rng(11);
    for (int round = 0; round < 200; ++round) {
        for (int op = 0; op < 500; ++op) {
            const std::uint32_t v = static_cast<std::uint32_t>(rng() % 4096);
            const auto value = key_of<1>({static_cast<std::uint64_t>(v) << 4});
            if (present[v]) {
                ASSERT_TRUE(t.erase(value, m, v));
                present[v] = false;
                --count;
            } else if (t.insert(value, m, 1, v)) {
                present[v] = true;
                ++count;
            } else {
                ASSERT_EQ(count, 2048u);
            }
        }
        ASSERT_EQ(t.size(), count);
        for (std::uint32_t v = 0; v < 4096; ++v) {
            const auto k = key_of<1>({(static_cast<std::uint64_t>(v) << 4) | (rng() & 0xf) | (rng() << 16)});
            ASSERT_EQ(t.find(k), present[v] ? v : t.npos) << "round " << round << " value " << v;
        }
    }
    fp::masked_index<1> none(0);
    EXPECT_FALSE(none.insert(key_of<1>({0}), m, 1, 1));
    EXPECT_EQ(none.find(key_of<1>({0})), none.npos);
}

// ---------------------------------------------------------------------------
// Randomised differential test against reference_index.

struct diff_config {
    std::size_t distinct_masks; // 0: every rule draws a fresh random mask
    std::size_t target_rules;
    std::int32_t priority_range; // small: many ties
    std::uint64_t seed;
};

template <class Index, std::size_t Words>
diff_totals run_differential(const diff_config& cfg, std::size_t capacity, std::size_t lookups_per_phase) {
    using key = fp::packed_key<Words>;
    using rule = typename fp::reference_index<Words>::rule;
    std::mt19937_64 rng(cfg.seed);
    Index t(capacity);
    fp::reference_index<Words> ref;
    diff_totals tot;

    std::vector<key> masks;
    for (std::size_t i = 0; i < cfg.distinct_masks; ++i) masks.push_back(random_mask<Words>(rng, false));
    // A small pool of base values, so that rules share (value, mask) and overlap.
    std::vector<key> bases(std::max<std::size_t>(cfg.target_rules / 4, 4));
    for (key& b : bases)
        for (std::size_t w = 0; w < Words; ++w) b.w[w] = rng();

    std::vector<rule> live;
    std::set<std::tuple<std::array<std::uint64_t, Words>, std::array<std::uint64_t, Words>, std::int32_t>> triples;
    std::uint32_t next_id = 0;

    auto insert_one = [&] {
        const key m = masks.empty() ? random_mask<Words>(rng, rng() % 64 == 0) : masks[rng() % masks.size()];
        key v = bases[rng() % bases.size()];
        if (rng() % 4 == 0)
            for (std::size_t w = 0; w < Words; ++w) v.w[w] = rng();
        v = v & m;
        const auto p =
            static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(cfg.priority_range)) - cfg.priority_range / 2;
        if (!triples.insert({v.w, m.w, p}).second) return; // (value, mask, priority) must be unique
        const std::uint32_t id = next_id++;
        const bool ok = t.insert(v, m, p, id);
        ASSERT_EQ(ok, live.size() < capacity);
        if (!ok) {
            triples.erase({v.w, m.w, p});
            return;
        }
        ref.insert(v, m, p, id);
        live.push_back({v, m, p, id});
        ++tot.rules_inserted;
    };
    auto erase_one = [&] {
        if (live.empty()) return;
        const std::size_t i = rng() % live.size();
        const rule r = live[i];
        ASSERT_TRUE(t.erase(r.value, r.mask, r.id));
        ASSERT_FALSE(t.erase(r.value, r.mask, r.id));
        ASSERT_TRUE(ref.erase(r.value, r.mask, r.id));
        triples.erase({r.value.w, r.mask.w, r.priority});
        live[i] = live.back();
        live.pop_back();
        ++tot.erases;
    };
    auto check_shape = [&] {
        ASSERT_EQ(t.size(), live.size());
        // Strict flow mods find a rule by (value, mask, priority): every live
        // triple, and none that is not (a neighbouring priority, a wider mask).
        for (const rule& r : live) {
            ASSERT_EQ(t.find_rule(r.value, r.mask, r.priority), r.id);
            if (r.priority < INT32_MAX && !triples.count({r.value.w, r.mask.w, r.priority + 1})) {
                ASSERT_EQ(t.find_rule(r.value, r.mask, r.priority + 1), t.npos);
            }
            key wider = r.mask;
            wider.w[0] >>= 1;
            if (wider != r.mask && !triples.count({(r.value & wider).w, wider.w, r.priority})) {
                ASSERT_EQ(t.find_rule(r.value & wider, wider, r.priority), t.npos);
            }
        }
        std::set<std::array<std::uint64_t, Words>> distinct;
        for (const rule& r : live) distinct.insert(r.mask.w);
        ASSERT_EQ(t.subtable_count(), distinct.size());
        std::int64_t previous = INT64_MAX; // search order: max priority, descending
        t.for_each_subtable([&](const key&, std::int32_t p, std::uint32_t) {
            EXPECT_LE(p, previous);
            previous = p;
        });
    };

    // Phase 1: fill; phase 2: churn (half inserts, half erases); phase 3: drain to a third.
    for (std::size_t i = 0; i < cfg.target_rules * 5 / 4; ++i) {
        insert_one();
        if (rng() % 8 == 0) erase_one();
    }
    check_shape();
    check_lookups<Index, Words>(t, ref, live, lookups_per_phase, rng, tot);
    for (std::size_t i = 0; i < cfg.target_rules; ++i) rng() % 2 ? insert_one() : erase_one();
    check_shape();
    check_lookups<Index, Words>(t, ref, live, lookups_per_phase, rng, tot);
    while (live.size() > cfg.target_rules / 3) {
        erase_one();
        if (rng() % 4 == 0) insert_one();
    }
    check_shape();
    check_lookups<Index, Words>(t, ref, live, lookups_per_phase, rng, tot);
    return tot;
}

template <std::size_t Words>
void differential_suite(std::size_t target_rules) {
    diff_totals all;
    std::uint64_t seed = 1000 + Words;
    for (std::size_t masks : {1, 8, 32, 0}) {
        for (std::int32_t prange : {8, 1 << 20}) {
            const diff_config cfg{masks, target_rules, prange, seed++};
            const diff_totals tot = run_differential<fp::masked_index<Words>, Words>(cfg, target_rules, 2000);
            EXPECT_EQ(tot.mismatches, 0u) << "masks " << masks << " priorities " << prange;
            EXPECT_GT(tot.hits, tot.lookups / 2) << "keys should mostly hit a rule";
            all.rules_inserted += tot.rules_inserted;
            all.erases += tot.erases;
            all.lookups += tot.lookups;
            all.hits += tot.hits;
            all.mismatches += tot.mismatches;
        }
    }
    std::printf("masked_index<%zu>: %zu rules inserted, %zu erased, %zu keys (%zu hits) x (find + 5 burst sizes), "
                "%zu mismatches\n",
                Words, all.rules_inserted, all.erases, all.lookups, all.hits, all.mismatches);
}

TEST(masked_index_differential, words_1) { differential_suite<1>(3000); }
TEST(masked_index_differential, words_2) { differential_suite<2>(3000); }
TEST(masked_index_differential, words_22) { differential_suite<22>(2000); }

} // namespace
