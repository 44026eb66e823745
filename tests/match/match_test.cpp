// Matches as data: views, covering (for non-strict flow mods) and prerequisites.
#include <flowpipe/match/match.hpp>

#include <gtest/gtest.h>

namespace fp = flowpipe;

TEST(match, views_set_their_storage_bits) {
    fp::match m;
    m.set(fp::field_id::dl_vlan, 2);
    EXPECT_EQ(m.value.vlan_tci, 0x1002);
    EXPECT_EQ(m.mask.vlan_tci, 0x1fff); // dl_vlan=2 is vlan_tci=0x1002/0x1fff
    m.set(fp::field_id::vlan_pcp, 5);
    EXPECT_EQ(m.value.vlan_tci, 0xb002);
    EXPECT_EQ(m.mask.vlan_tci, 0xffff);
    fp::match mac;
    mac.set(fp::field_id::eth_dst, 0x010000000000ULL, 0x010000000000ULL);
    fp::flow_key k{};
    k.eth_dst = 0xffffffffffffULL;
    EXPECT_TRUE(mac.matches(k));
    k.eth_dst = 0x001122334455ULL;
    EXPECT_FALSE(mac.matches(k));
}

TEST(match, covers_is_what_non_strict_flow_mods_select) {
    fp::match any, vlan2, vlan2_mac;
    vlan2.set(fp::field_id::dl_vlan, 2);
    vlan2_mac.set(fp::field_id::dl_vlan, 2).set(fp::field_id::eth_dst, 7);
    EXPECT_TRUE(any.covers(vlan2_mac));
    EXPECT_TRUE(vlan2.covers(vlan2_mac));
    EXPECT_FALSE(vlan2_mac.covers(vlan2));
    fp::match vlan3;
    vlan3.set(fp::field_id::dl_vlan, 3);
    EXPECT_FALSE(vlan3.covers(vlan2_mac));
    fp::match prefix8, prefix16;
    prefix8.set(fp::field_id::nw_dst, 0x0a000000, 0xff000000);
    prefix16.set(fp::field_id::nw_dst, 0x0a010000, 0xffff0000);
    EXPECT_TRUE(prefix8.covers(prefix16));
    EXPECT_FALSE(prefix16.covers(prefix8));
}

TEST(match, prerequisites) {
    fp::match m;
    m.set(fp::field_id::arp_tpa, 1);
    EXPECT_EQ(fp::unmet_prerequisite(m), fp::field_id::arp_tpa);
    m.set(fp::field_id::eth_type, 0x0806);
    EXPECT_FALSE(fp::unmet_prerequisite(m));

    fp::match tcp;
    tcp.set(fp::field_id::tp_dst, 80).set(fp::field_id::eth_type, 0x0800);
    EXPECT_EQ(fp::unmet_prerequisite(tcp), fp::field_id::tp_dst); // needs nw_proto too
    tcp.set(fp::field_id::nw_proto, 6);
    EXPECT_FALSE(fp::unmet_prerequisite(tcp));

    fp::match nd;
    nd.set(fp::field_id::nd_target, 1).set(fp::field_id::eth_type, 0x86dd).set(fp::field_id::nw_proto, 58);
    EXPECT_EQ(fp::unmet_prerequisite(nd), fp::field_id::nd_target);
    nd.set(fp::field_id::icmp_type, 135);
    EXPECT_FALSE(fp::unmet_prerequisite(nd));

    fp::match partial_type; // a masked eth_type does not satisfy a prerequisite
    partial_type.set(fp::field_id::eth_type, 0x0806, 0xff00).set(fp::field_id::arp_op, 1);
    EXPECT_EQ(fp::unmet_prerequisite(partial_type), fp::field_id::arp_op);
}
