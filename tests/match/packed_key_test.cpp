#include <flowpipe/match/hash.hpp>
#include <flowpipe/match/packed_key.hpp>

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace fp = flowpipe;

TEST(packed_key, mask_operations) {
    fp::packed_key<2> a{{0xff00, 0x1}}, m{{0x0f00, 0x0}}, zero{};
    EXPECT_EQ((a & m), (fp::packed_key<2>{{0x0f00, 0x0}}));
    EXPECT_TRUE(zero.is_zero());
    EXPECT_TRUE(m.subset_of(a));
    EXPECT_FALSE(a.subset_of(m));
    EXPECT_TRUE(fp::masked_equal(a, m, fp::packed_key<2>{{0x0f00, 0}}));
    EXPECT_FALSE(fp::masked_equal(a, m, fp::packed_key<2>{{0x0e00, 0}}));
}

TEST(hash, masked_hash_equals_hash_of_masked_key_and_spreads) {
    std::mt19937_64 rng(3);
    std::set<std::uint64_t> low_bits, tags;
    for (int i = 0; i < 4096; ++i) {
        fp::packed_key<2> k{{rng(), rng()}}, m{{rng(), rng()}};
        EXPECT_EQ(fp::hash_masked(k, m), fp::hash_key(k & m));
        // Sequential keys (like MACs of one vendor) must still spread over buckets and tags.
        fp::packed_key<2> seq{{0xfa163e000000ULL + static_cast<std::uint64_t>(i), 2}};
        const auto h = fp::hash_key(seq);
        low_bits.insert(h & 4095);
        tags.insert(h >> 48);
    }
    EXPECT_GT(low_bits.size(), 2400u); // ~2590 expected for 4096 balls in 4096 bins
    EXPECT_GT(tags.size(), 3900u);
}
