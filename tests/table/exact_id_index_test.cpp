// exact_id_index against its trivially correct twin (reference_index with
// all-ones masks): the index keeps only tags and ids, so the test keeps the
// keys, by id, where a flow table keeps them in its flows.
#include <flowpipe/table/exact_id_index.hpp>
#include <flowpipe/table/reference_index.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <unordered_map>
#include <vector>

namespace {

using flowpipe::exact_id_index;
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

// The keys by id, as a flow table's slab holds them; counts key reads.
template <std::size_t Words>
struct key_store {
    std::vector<packed_key<Words>> keys;
    mutable std::size_t reads = 0;
    std::uint32_t add(const packed_key<Words>& k) {
        keys.push_back(k);
        return static_cast<std::uint32_t>(keys.size() - 1);
    }
};
template <std::size_t Words>
struct key_reader {
    const key_store<Words>* s;
    const packed_key<Words>& operator()(std::uint32_t id) const {
        ++s->reads;
        return s->keys.at(id); // at(): an id the index never stored would throw here
    }
};
struct no_prefetch {
    void operator()(std::uint32_t) const noexcept {}
};

template <class T>
class ExactIdIndexTest : public ::testing::Test {};

template <std::size_t N>
using words = std::integral_constant<std::size_t, N>;
using WordCounts = ::testing::Types<words<1>, words<2>, words<3>>;
TYPED_TEST_SUITE(ExactIdIndexTest, WordCounts);

// Random inserts, erases and replaces (keys that differ in one bit, a small
// table whose buckets overflow, fills to capacity) against reference_index;
// find, find_burst, probe_burst and probe_near checked against it every so
// often.
TYPED_TEST(ExactIdIndexTest, DifferentialAgainstReferenceIndex) {
    constexpr std::size_t W = TypeParam::value;
    using index = exact_id_index<W>;
    using key = packed_key<W>;
    const key ones = all_ones<W>();
    std::size_t lookups = 0, mismatches = 0, home_settled = 0, next_settled = 0, declined = 0;
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        for (std::size_t cap : {std::size_t{200}, std::size_t{3000}}) {
            SCOPED_TRACE(testing::Message() << "seed " << seed << " capacity " << cap);
            std::mt19937_64 rng(seed * 1000 + cap);
            index x(cap);
            key_store<W> store;
            const key_reader<W> rd{&store};
            flowpipe::reference_index<W> ref;
            std::unordered_map<std::uint64_t, std::uint32_t> present; // universe index -> id
            const std::uint64_t universe = x.capacity() * 3 / 2;
            auto make = [&](std::uint64_t u) {
                key k = key_of<W>(u / 2);
                if (u % 2) k.w[W - 1] ^= 1;
                return k;
            };
            auto check = [&](const std::vector<std::uint64_t>& us) {
                std::vector<key> ks;
                std::vector<std::uint32_t> want;
                std::vector<std::uint64_t> hs;
                for (auto u : us) {
                    ks.push_back(make(u));
                    want.push_back(ref.find(ks.back()));
                    hs.push_back(index::hash(ks.back()));
                }
                for (std::size_t i = 0; i < ks.size(); ++i) {
                    mismatches += x.find(ks[i], rd) != want[i];
                    ++lookups;
                    // probe_home and probe_near, when they settle a key, say
                    // what probe() says (probe_home in the home bucket only).
                    const auto p = x.probe(ks[i], hs[i], rd);
                    const auto differs = [&](const typename index::probe_result& q) {
                        return q.found != p.found || q.has_free != p.has_free || q.bucket != p.bucket ||
                               q.slot != p.slot || q.skipped != p.skipped || (p.found && q.id != p.id);
                    };
                    typename index::probe_result ph{}, pn{};
                    const bool home = x.probe_home(ks[i], hs[i], rd, ph);
                    const bool near = x.probe_near(ks[i], hs[i], rd, pn);
                    if (home) mismatches += differs(ph) || p.skipped != 0 || !near; // (near settles it too)
                    if (near) {
                        mismatches += differs(pn) || p.skipped > 1;
                        ++(pn.skipped == 0 ? home_settled : next_settled);
                    } else {
                        ++declined;
                    }
                }
                for (std::size_t burst : {1u, 7u, 32u, 33u, 256u}) {
                    std::vector<std::uint32_t> out(ks.size(), 12345);
                    std::vector<typename index::probe_result> pr(ks.size());
                    for (std::size_t i = 0; i < ks.size(); i += burst) {
                        const std::size_t m = std::min(burst, ks.size() - i);
                        x.find_burst(ks.data() + i, m, out.data() + i, rd, no_prefetch{});
                        x.probe_burst(ks.data() + i, hs.data() + i, m, pr.data() + i, rd, no_prefetch{});
                    }
                    for (std::size_t i = 0; i < ks.size(); ++i) {
                        mismatches += out[i] != want[i];
                        const auto p = x.probe(ks[i], hs[i], rd);
                        mismatches += pr[i].found != p.found || pr[i].has_free != p.has_free;
                        mismatches += p.found != (want[i] != index::npos);
                        if (p.found) mismatches += pr[i].id != want[i] || p.id != want[i];
                        if (p.found || p.has_free)
                            mismatches += pr[i].bucket != p.bucket || pr[i].slot != p.slot ||
                                          pr[i].skipped != p.skipped || x.slot_free(p.bucket, p.slot) == p.found;
                    }
                    lookups += 2 * ks.size();
                }
            };
            for (int step = 0; step < 20000; ++step) {
                const std::uint64_t u = rng() % universe;
                const key k = make(u);
                const int op = static_cast<int>(rng() % 10);
                if (op < 5) { // insert, half of them through probe + insert_at
                    const std::uint32_t id = store.add(k);
                    const auto r = rng() % 2 ? x.insert(k, id, rd) : x.insert_at(x.probe(k, index::hash(k), rd), id);
                    if (present.count(u)) {
                        ASSERT_EQ(r, index::insert_result::exists);
                    } else if (present.size() >= x.capacity()) {
                        ASSERT_EQ(r, index::insert_result::full);
                    } else {
                        ASSERT_EQ(r, index::insert_result::inserted);
                        ref.insert(k, ones, 0, id);
                        present[u] = id;
                    }
                } else if (op < 8) { // erase
                    const bool had = present.count(u) != 0;
                    ASSERT_EQ(x.erase(k, rd), had);
                    if (had) {
                        ASSERT_TRUE(ref.erase(k, ones, present[u]));
                        present.erase(u);
                    }
                } else { // replace: the new id's stored key is the same key
                    const bool had = present.count(u) != 0;
                    const std::uint32_t id = store.add(k);
                    ASSERT_EQ(x.replace(k, id, rd), had);
                    if (had) {
                        ASSERT_TRUE(ref.erase(k, ones, present[u]));
                        ref.insert(k, ones, 0, id);
                        present[u] = id;
                    }
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
    EXPECT_GT(home_settled, next_settled + declined); // most keys, found or not, settle in their home bucket,
    EXPECT_GT(next_settled, 0u);                      // some in the next one
    EXPECT_GT(declined, 0u);                          // and those further on do not
    std::printf("[ exact_id_index<%zu> differential ] %zu lookups, %zu mismatches\n", W, lookups, mismatches);
}

// Fills to capacity, refuses the next key, and after erasing everything
// probes like an empty table (the overflow counts went back to zero).
TYPED_TEST(ExactIdIndexTest, FillsToCapacityAndEmptiesCleanly) {
    constexpr std::size_t W = TypeParam::value;
    using index = exact_id_index<W>;
    index x(100);
    key_store<W> store;
    const key_reader<W> rd{&store};
    std::vector<packed_key<W>> keys;
    for (std::size_t i = 0; i < x.capacity(); ++i) {
        keys.push_back(key_of<W>(i + 7));
        ASSERT_EQ(x.insert(keys.back(), store.add(keys.back()), rd), index::insert_result::inserted) << i;
    }
    const auto extra = key_of<W>(999999);
    EXPECT_EQ(x.insert(extra, store.add(extra), rd), index::insert_result::full);
    for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(x.find(keys[i], rd), i);
    for (const auto& k : keys) ASSERT_TRUE(x.erase(k, rd));
    EXPECT_EQ(x.size(), 0u);
    store.reads = 0;
    for (const auto& k : keys) {
        const auto p = x.probe(k, rd);
        EXPECT_FALSE(p.found);
        EXPECT_TRUE(p.has_free);
        EXPECT_EQ(p.skipped, 0u); // nothing overflows any more
    }
    EXPECT_EQ(store.reads, 0u); // an empty table reads no key
    // A bucket is one line: 6.4 bytes a slot; and only as many buckets as
    // 100 keys need at 2/3 load (150 slots: 15 buckets, not 16), so keys
    // probe past the last bucket to the first when they fill it.
    EXPECT_EQ(x.memory_bytes() - sizeof(x), x.bucket_count() * 64);
    EXPECT_EQ(x.bucket_count(), 15u);
    EXPECT_EQ(x.capacity(), 100u);
}

} // namespace
