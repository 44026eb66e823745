// Schemas: packing keys and matches, what fits and what does not, and the
// packed form agreeing with the unpacked match on random keys.
#include <flowpipe/match/schema.hpp>

#include <gtest/gtest.h>

#include <random>

namespace fp = flowpipe;
namespace f = fp::fields;

namespace {
using table20 = fp::schema<fp::exact<f::vlan_tci::bits<0, 11>>, fp::exact<f::eth_dst>>;
using table21 = fp::schema<fp::exact<f::eth_type>, fp::exact<f::vlan_tci::bits<0, 11>>, fp::exact<f::arp_tpa>>;
using routed = fp::schema<fp::exact<f::eth_type>, fp::prefix<f::nw_dst>, fp::masked<f::tun_id>>;
} // namespace

TEST(schema, sizes_and_kinds) {
    static_assert(table20::packed_bytes == 8); // 2 bytes of TCI, 6 of MAC: one word
    static_assert(table20::words == 1);
    static_assert(table20::all_exact);
    static_assert(table21::words == 1);
    static_assert(!routed::all_exact);
    static_assert(routed::words == 2);
    static_assert(table20::has(fp::field_id::eth_dst));
    static_assert(table20::has(fp::field_id::dl_vlan)); // a view of vlan_tci
    static_assert(!table20::has(fp::field_id::eth_src));
}

TEST(schema, pack_keeps_only_the_schema_bits) {
    fp::flow_key k{};
    k.vlan_tci = 0xf123; // PCP and present bit are outside bits 0..11
    k.eth_dst = 0x112233445566ULL;
    k.eth_src = 0xffffffffffffULL;
    fp::flow_key other = k;
    other.vlan_tci = 0x1123;
    other.eth_src = 0;
    EXPECT_EQ(table20::pack(k), table20::pack(other));
    other.eth_dst ^= 1;
    EXPECT_NE(table20::pack(k), table20::pack(other));
}

TEST(schema, matches_fit_or_say_why_not) {
    table20::key_type v, m;
    fp::match learned; // what table 10's learn installs: vlan_tci=0x0002/0x0fff,dl_dst=...
    learned.set(fp::field_id::vlan_tci, 2, 0x0fff).set(fp::field_id::eth_dst, 0xfa163e7eabccULL);
    EXPECT_EQ(table20::pack(learned, v, m), fp::schema_error::none);
    EXPECT_EQ(m, table20::full_mask());
    EXPECT_EQ(table20::unpack(v, m), learned);

    fp::match dl_vlan; // dl_vlan=2 also matches the present bit, which table 20 does not hold
    dl_vlan.set(fp::field_id::dl_vlan, 2).set(fp::field_id::eth_dst, 1);
    EXPECT_EQ(table20::pack(dl_vlan, v, m), fp::schema_error::field_not_in_table);

    fp::match catch_all;
    EXPECT_EQ(table20::pack(catch_all, v, m), fp::schema_error::none);
    EXPECT_TRUE(m.is_zero());

    fp::match half;
    half.set(fp::field_id::eth_dst, 1);
    EXPECT_EQ(table20::pack(half, v, m), fp::schema_error::exact_table_partial);

    fp::match masked_mac;
    masked_mac.set(fp::field_id::eth_dst, 0x010000000000ULL, 0x010000000000ULL).set(fp::field_id::vlan_tci, 2, 0x0fff);
    EXPECT_EQ(table20::pack(masked_mac, v, m), fp::schema_error::partial_exact_match);

    routed::key_type rv, rm;
    fp::match route;
    route.set(fp::field_id::eth_type, 0x0800).set(fp::field_id::nw_dst, 0x0a000000, 0xff000000);
    EXPECT_EQ(routed::pack(route, rv, rm), fp::schema_error::none);
    fp::match not_prefix;
    not_prefix.set(fp::field_id::eth_type, 0x0800).set(fp::field_id::nw_dst, 0x0a000000, 0xff00ff00);
    EXPECT_EQ(routed::pack(not_prefix, rv, rm), fp::schema_error::not_a_prefix);
    fp::match tun;
    tun.set(fp::field_id::tun_id, 0x5, 0xff);
    EXPECT_EQ(routed::pack(tun, rv, rm), fp::schema_error::none);
}

TEST(schema, packed_masked_equal_agrees_with_match_on_random_keys) {
    std::mt19937_64 rng(11);
    std::size_t agree = 0;
    for (int i = 0; i < 20000; ++i) {
        fp::match m;
        m.set(fp::field_id::eth_type, 0x0800);
        m.set(fp::field_id::nw_dst, rng(), ~0u << (rng() % 33 == 32 ? 0 : rng() % 32));
        if (rng() % 2) m.set(fp::field_id::tun_id, rng() % 4, rng() % 2 ? ~0ULL : 1ULL);
        routed::key_type v, mk;
        ASSERT_EQ(routed::pack(m, v, mk), fp::schema_error::none);
        fp::flow_key k{};
        k.eth_type = rng() % 8 ? 0x0800 : 0x0806;
        k.nw_dst = static_cast<std::uint32_t>(rng() % 2 ? get(m.value, fp::field_id::nw_dst) ^ (rng() % 256) : rng());
        k.tun_id = rng() % 4;
        k.eth_src = rng(); // not in the schema: must not matter
        const bool packed = fp::masked_equal(routed::pack(k), mk, v);
        EXPECT_EQ(packed, m.matches(k));
        agree += packed;
    }
    EXPECT_GT(agree, 1000u); // the keys hit often enough to mean something
}

TEST(schema, generic_schema_is_the_whole_key) {
    fp::match m;
    m.set(fp::field_id::arp_tpa, 0x0a000001).set(fp::field_id::eth_type, 0x0806);
    fp::generic_schema::key_type v, mk;
    EXPECT_EQ(fp::generic_schema::pack(m, v, mk), fp::schema_error::none);
    EXPECT_EQ(fp::generic_schema::unpack(v, mk), m);
}
