// Real frames through a br-tun the agent programmed: unicast over a tunnel,
// ARP answered locally, flooding to exactly the network's tunnels, learning
// from tunnels with the 300 s hard timeout, DVR rewrite and not-learn.
#include <gtest/gtest.h>

#include <flowpipe/neutron/agent.hpp>
#include <flowpipe/neutron/dump.hpp>

#include "../support/frames.hpp"

namespace fp = flowpipe;
namespace nt = flowpipe::neutron;
using fp::test::eth;
using fp::test::frames;
using fp::test::key_of;

namespace {

constexpr std::uint64_t vm8 = 0xfa163eb3e77aULL, vm9 = 0xfa163e734941ULL, gwmac = 0xfa163e8740f3ULL;

struct cloud : ::testing::Test {
    nt::br_tun p;
    nt::agent a{p, {.local_ip = "10.0.1.31", .arp_responder = true, .dvr = true, .dvr_host_mac = "fa:16:3f:b2:34:82"}};
    std::uint32_t c2 = 0, nn = 0, c3 = 0;
    void SetUp() override {
        ASSERT_TRUE(a.set_patch_int(1));
        ASSERT_TRUE(a.provision_local_vlan("net-a", "vxlan", 6, 2));
        ASSERT_TRUE(a.provision_local_vlan("net-b", "vxlan", 7, 3));
        ASSERT_TRUE(a.add_fdb_entries({{"net-a",
                                        {6,
                                         "vxlan",
                                         {{"10.0.1.39", {nt::flooding_entry, {"fa:16:3e:73:49:41", "81.1.180.9"}}},
                                          {"10.0.1.21", {nt::flooding_entry}}}}},
                                       {"net-b", {7, "vxlan", {{"10.0.1.40", {nt::flooding_entry}}}}}}));
        ASSERT_TRUE(a.add_dvr_mac("fa:16:3f:00:00:39"));
        ASSERT_TRUE(a.add_dvr_router_interface("net-a", "fa:16:3e:87:40:f3", "81.1.180.1"));
        auto port = [&](const char* ip) {
            return a.tunnels().at({nt::network_type::vxlan, *nt::parse_ipv4(ip)}).ofport;
        };
        c2 = port("10.0.1.39");
        nn = port("10.0.1.21");
        c3 = port("10.0.1.40");
    }
    fp::burst_output run(const fp::flow_key& k, std::int64_t now = 0) {
        frames f;
        f.add(k);
        fp::burst_output out;
        p.expire(now);
        p.run(f.pkts, now, out);
        keep.push_back(std::move(f));
        return out;
    }
    std::vector<frames> keep;
    static fp::flow_key from_tun(std::uint32_t port, std::uint64_t seg, std::uint64_t src, std::uint64_t dst) {
        auto k = eth(port, src, dst);
        k.tun_id = seg;
        return k;
    }
    static std::vector<std::uint32_t> ports(const fp::burst_output& o) {
        std::vector<std::uint32_t> v;
        for (const auto& t : o.outputs()) v.push_back(t.port);
        std::sort(v.begin(), v.end());
        return v;
    }
};

} // namespace

TEST_F(cloud, vm_to_vm_unicast_goes_untagged_to_its_tunnel_with_the_segment) {
    auto out = run(eth(1, vm8, vm9, 0x1002));
    ASSERT_EQ(ports(out), std::vector<std::uint32_t>{c2});
    const auto& tx = out.outputs()[0].pkt;
    EXPECT_EQ(tx.tun_id, 6u);
    EXPECT_EQ(key_of(tx).vlan_tci, 0);
    // and back: from compute2's tunnel, tagged for br-int
    out = run(from_tun(c2, 6, vm9, vm8));
    ASSERT_EQ(ports(out), std::vector<std::uint32_t>{1});
    EXPECT_EQ(key_of(out.outputs()[0].pkt).vlan_tci, 0x1002);
}

TEST_F(cloud, arp_for_a_known_ip_is_answered_locally_no_tunnel_sees_it) {
    fp::flow_key k{};
    k.in_port = 1;
    k.vlan_tci = 0x1002;
    k.eth_src = vm8;
    k.eth_dst = 0xffffffffffffULL;
    k.eth_type = 0x0806;
    k.arp_op = 1;
    k.arp_sha = vm8;
    k.arp_spa = 0x5101b408;
    k.arp_tpa = 0x5101b409;
    auto out = run(k);
    ASSERT_EQ(ports(out), std::vector<std::uint32_t>{1});
    const auto r = key_of(out.outputs()[0].pkt);
    EXPECT_EQ(r.arp_op, 2);
    EXPECT_EQ(r.arp_sha, vm9);
    EXPECT_EQ(r.arp_spa, 0x5101b409u);
    EXPECT_EQ(r.eth_dst, vm8);
    // The distributed gateway's IP is never flooded (DVR), an unknown IP is.
    k.arp_tpa = 0x5101b401;
    EXPECT_TRUE(run(k).outputs().empty());
    k.arp_tpa = 0x5101b463;
    EXPECT_EQ(ports(run(k)), (std::vector<std::uint32_t>{std::min(c2, nn), std::max(c2, nn)}));
}

TEST_F(cloud, unknown_unicast_and_broadcast_flood_to_exactly_the_networks_tunnels) {
    const std::vector<std::uint32_t> a_tuns{std::min(c2, nn), std::max(c2, nn)};
    EXPECT_EQ(ports(run(eth(1, vm8, 0xfa163e999999ULL, 0x1002))), a_tuns);
    EXPECT_EQ(ports(run(eth(1, vm8, 0xffffffffffffULL, 0x1002))), a_tuns);
    EXPECT_EQ(ports(run(eth(1, vm8, 0xffffffffffffULL, 0x1003))), std::vector<std::uint32_t>{c3});
    EXPECT_TRUE(run(eth(1, vm8, 0xffffffffffffULL, 0x1009)).outputs().empty()); // no such local VLAN
    EXPECT_TRUE(run(from_tun(c2, 99, vm9, vm8)).outputs().empty());             // wrong tun_id
}

TEST_F(cloud, learning_from_tunnels_and_expiry_after_300_s_of_silence) {
    const std::uint64_t mover = 0xfa163eaaaaaaULL;
    EXPECT_EQ(ports(run(from_tun(nn, 6, mover, vm8), 1000)), std::vector<std::uint32_t>{1});
    EXPECT_NE(nt::flows_text(p, 20).find(
                  "table=20,hard_timeout=300,priority=1,vlan_tci=0x0002/0x0fff,dl_dst=fa:16:3e:aa:aa:aa "
                  "actions=load:0->NXM_OF_VLAN_TCI[],load:0x6->NXM_NX_TUN_ID[],output:" +
                  std::to_string(nn)),
              std::string::npos)
        << nt::flows_text(p, 20);
    EXPECT_EQ(ports(run(eth(1, vm8, mover, 0x1002), 2000)), std::vector<std::uint32_t>{nn}); // learned, not flooded
    // re-learned at 200 s: lives until 500 s
    run(from_tun(nn, 6, mover, vm8), 200'000);
    EXPECT_EQ(ports(run(eth(1, vm8, mover, 0x1002), 499'000)), std::vector<std::uint32_t>{nn});
    EXPECT_EQ(ports(run(eth(1, vm8, mover, 0x1002), 501'000)),
              (std::vector<std::uint32_t>{std::min(c2, nn), std::max(c2, nn)}));
    EXPECT_EQ(nt::flows_text(p, 20).find("fa:16:3e:aa:aa:aa"), std::string::npos);
}

TEST_F(cloud, dvr_rewrites_the_router_source_mac_and_never_learns_remote_dvr_macs) {
    auto out = run(eth(1, gwmac, vm9, 0x1002));
    ASSERT_EQ(ports(out), std::vector<std::uint32_t>{c2});
    EXPECT_EQ(key_of(out.outputs()[0].pkt).eth_src, 0xfa163fb23482ULL);
    EXPECT_TRUE(run(eth(1, vm8, gwmac, 0x1002)).outputs().empty()); // to the local router interface: dropped
    const std::string t20 = nt::flows_text(p, 20);
    out = run(from_tun(c2, 6, 0xfa163f000039ULL, vm8));
    EXPECT_EQ(ports(out), std::vector<std::uint32_t>{1});
    EXPECT_EQ(nt::flows_text(p, 20), t20); // not learned
}
