#include <flowpipe/core/field.hpp>

#include <gtest/gtest.h>

namespace fp = flowpipe;

TEST(field, names_resolve_to_one_field) {
    EXPECT_EQ(fp::find_field("dl_src"), fp::field_id::eth_src);
    EXPECT_EQ(fp::find_field("eth_src"), fp::field_id::eth_src);
    EXPECT_EQ(fp::find_field("NXM_OF_ETH_SRC"), fp::field_id::eth_src);
    EXPECT_EQ(fp::find_field("NXM_NX_TUN_ID"), fp::field_id::tun_id);
    EXPECT_EQ(fp::find_field("OXM_OF_IN_PORT"), fp::field_id::in_port);
    EXPECT_EQ(fp::find_field("NXM_OF_VLAN_TCI"), fp::field_id::vlan_tci);
    EXPECT_FALSE(fp::find_field("no_such_field").has_value());
}

TEST(field, widths) {
    EXPECT_EQ(fp::fields::eth_dst::width, 48u);
    EXPECT_EQ(fp::fields::tun_id::width, 64u);
    EXPECT_EQ(fp::fields::dl_vlan::width, 12u);
    EXPECT_EQ(fp::fields::ipv6_src::width, 128u);
    EXPECT_EQ((fp::fields::vlan_tci::bits<0, 11>::width), 12u);
}

TEST(field, dl_vlan_view_sets_present_bit) {
    fp::flow_key k{};
    fp::fields::dl_vlan::set(k, 5);
    EXPECT_EQ(k.vlan_tci, 0x1005);
    EXPECT_EQ(fp::fields::dl_vlan::get(k), 5);
    fp::set(k, fp::field_id::vlan_pcp, 3);
    EXPECT_EQ(k.vlan_tci, 0x7005);
}

TEST(field, bit_range_load_only_touches_its_bits) {
    fp::flow_key k{};
    k.vlan_tci = 0x1234;
    fp::set(k, fp::fields::vlan_tci::bits<0, 11>::range, 0);
    EXPECT_EQ(k.vlan_tci, 0x1000);
    fp::set(k, fp::bit_range::whole(fp::field_id::vlan_tci), 0);
    EXPECT_EQ(k.vlan_tci, 0); // load:0->NXM_OF_VLAN_TCI[] removes the tag
    k.regs[3] = 0xffffffff;
    fp::set(k, fp::bit_range{fp::field_id::reg3, 4, 8}, 0);
    EXPECT_EQ(k.regs[3], 0xfffff00fu);
    EXPECT_EQ(fp::get(k, fp::bit_range{fp::field_id::reg3, 0, 4}), 0xfu);
}

TEST(field, typed_and_generic_access_agree) {
    fp::flow_key k{};
    fp::fields::eth_dst::set(k, 0xfa163e7eabccULL);
    EXPECT_EQ(fp::get(k, fp::field_id::eth_dst), 0xfa163e7eabccULL);
    fp::set(k, fp::field_id::tun_id, 0x3e9);
    EXPECT_EQ(fp::fields::tun_id::get(k), 0x3e9u);
    fp::set(k, fp::field_id::eth_src, ~fp::uint128{0});
    EXPECT_EQ(k.eth_src, 0xffffffffffffULL); // truncated to 48 bits
}

TEST(field, arp_op_keeps_eight_bits_as_open_vswitch_does) {
    fp::flow_key k{};
    fp::set(k, fp::field_id::arp_op, 0x1234);
    EXPECT_EQ(k.arp_op, 0x34);
    fp::set(k, fp::bit_range::whole(fp::field_id::arp_op), 0x0102);
    EXPECT_EQ(k.arp_op, 0x02);
    fp::fields::arp_op::set(k, 0x0203);
    EXPECT_EQ(k.arp_op, 0x03);
    EXPECT_EQ(fp::fields::arp_op::width, 16u); // NXM_OF_ARP_OP[] is still a 16-bit field
}
