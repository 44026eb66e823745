// The Neutron agent API on br-tun: the l2pop walkthrough of
// shared/reference/neutron-br-tun.md step by step (dump-flows text of the
// affected tables), and errors that leave every flow as it was.
#include <gtest/gtest.h>

#include <flowpipe/neutron/agent.hpp>
#include <flowpipe/neutron/dump.hpp>

namespace fp = flowpipe;
namespace nt = flowpipe::neutron;

namespace {

constexpr std::uint32_t patch_int = 1;

// The reference page's numbers: compute1 = 10.0.1.31, compute2 = 10.0.1.39,
// network node = 10.0.1.21, segment 6 on VLAN 2.
nt::fdb_entries net_a(std::map<std::string, std::vector<nt::fdb_port_entry>> ports) {
    return {{"net-a", {6, "vxlan", std::move(ports)}}};
}
const nt::fdb_port_entry gw{"fa:16:3e:87:40:f3", "81.1.180.1"};
const nt::fdb_port_entry vm9{"fa:16:3e:73:49:41", "81.1.180.9"};

std::string table(nt::br_tun& p, std::uint8_t t) { return nt::flows_text(p, t); }

struct walkthrough : ::testing::Test {
    nt::br_tun p;
    nt::agent a{p, {.local_ip = "10.0.1.31"}};
    void SetUp() override { ASSERT_TRUE(a.set_patch_int(patch_int)); }
    std::uint32_t port_to(const char* ip) {
        auto it = a.tunnels().find({nt::network_type::vxlan, *nt::parse_ipv4(ip)});
        return it == a.tunnels().end() ? 0 : it->second.ofport;
    }
    // Step 1: the first VM of net-a on compute1; the server sends the fdb of
    // the network (the gateway on the network node).
    void first_vm() {
        auto st = a.provision_local_vlan("net-a", "vxlan", 6, 2);
        ASSERT_TRUE(st) << st.what();
        EXPECT_EQ(st.lvid, 2);
        st = a.add_fdb_entries(net_a({{"10.0.1.21", {nt::flooding_entry, gw}}}));
        ASSERT_TRUE(st) << st.what();
    }
};

} // namespace

TEST_F(walkthrough, step0_defaults_as_neutron_installs_them) {
    EXPECT_EQ(table(p, 0), "table=0,priority=1,in_port=1 actions=resubmit(,2)\n"
                           "table=0,priority=0 actions=drop\n");
    EXPECT_EQ(table(p, 2), "table=2,priority=1,arp,dl_dst=ff:ff:ff:ff:ff:ff actions=resubmit(,21)\n"
                           "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)\n"
                           "table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)\n");
    EXPECT_EQ(table(p, 10), "table=10,priority=1 actions=learn(table=20,hard_timeout=300,priority=1,"
                            "NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],"
                            "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1\n");
    EXPECT_EQ(table(p, 20), "table=20,priority=0 actions=resubmit(,22)\n");
    EXPECT_EQ(table(p, 21), "table=21,priority=0 actions=resubmit(,22)\n");
    EXPECT_EQ(table(p, 22), "table=22,priority=0 actions=drop\n");
}

TEST_F(walkthrough, step1_first_vm_on_compute1) {
    first_vm();
    const std::string nn = std::to_string(port_to("10.0.1.21"));
    ASSERT_NE(nn, "0");
    EXPECT_EQ(a.tunnels().size(), 1u);
    EXPECT_EQ(table(p, 0), "table=0,priority=1,in_port=1 actions=resubmit(,2)\n"
                           "table=0,priority=1,in_port=" +
                               nn +
                               " actions=resubmit(,4)\n"
                               "table=0,priority=0 actions=drop\n");
    EXPECT_EQ(table(p, 4), "table=4,priority=1,tun_id=0x6 actions=mod_vlan_vid:2,resubmit(,10)\n"
                           "table=4,priority=0 actions=drop\n");
    EXPECT_EQ(table(p, 20),
              "table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:87:40:f3 actions=strip_vlan,set_tunnel:0x6,output:" + nn +
                  "\n"
                  "table=20,priority=0 actions=resubmit(,22)\n");
    EXPECT_EQ(table(p, 21),
              "table=21,priority=1,arp,dl_vlan=2,arp_tpa=81.1.180.1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
              "mod_dl_src:fa:16:3e:87:40:f3,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
              "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0xfa163e8740f3->NXM_NX_ARP_SHA[],"
              "load:0x5101b401->NXM_OF_ARP_SPA[],IN_PORT\n"
              "table=21,priority=0 actions=resubmit(,22)\n");
    EXPECT_EQ(table(p, 22), "table=22,priority=1,dl_vlan=2 actions=strip_vlan,set_tunnel:0x6,output:" + nn +
                                "\n"
                                "table=22,priority=0 actions=drop\n");
}

TEST_F(walkthrough, step2_a_vm_on_compute2) {
    first_vm();
    ASSERT_TRUE(a.add_fdb_entries(net_a({{"10.0.1.39", {nt::flooding_entry, vm9}}})));
    const std::string nn = std::to_string(port_to("10.0.1.21")), c2 = std::to_string(port_to("10.0.1.39"));
    ASSERT_NE(c2, "0");
    EXPECT_EQ(a.tunnels().size(), 2u);
    const std::string t0 = table(p, 0);
    EXPECT_NE(t0.find("table=0,priority=1,in_port=" + c2 + " actions=resubmit(,4)\n"), std::string::npos) << t0;
    const std::string t20 = table(p, 20);
    EXPECT_NE(
        t20.find("table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:73:49:41 actions=strip_vlan,set_tunnel:0x6,output:" +
                 c2 + "\n"),
        std::string::npos)
        << t20;
    const std::string t21 = table(p, 21);
    EXPECT_NE(
        t21.find("table=21,priority=1,arp,dl_vlan=2,arp_tpa=81.1.180.9 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                 "mod_dl_src:fa:16:3e:73:49:41,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                 "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0xfa163e734941->NXM_NX_ARP_SHA[],"
                 "load:0x5101b409->NXM_OF_ARP_SPA[],IN_PORT\n"),
        std::string::npos)
        << t21;
    const std::string lo = std::min(nn, c2, [](auto& x, auto& y) { return std::stoi(x) < std::stoi(y); });
    const std::string hi = lo == nn ? c2 : nn;
    EXPECT_EQ(table(p, 22), "table=22,priority=1,dl_vlan=2 actions=strip_vlan,set_tunnel:0x6,output:" + lo +
                                ",output:" + hi +
                                "\n"
                                "table=22,priority=0 actions=drop\n");
}

TEST_F(walkthrough, step3_delete_the_only_vm_of_compute1) {
    first_vm();
    ASSERT_TRUE(a.add_fdb_entries(net_a({{"10.0.1.39", {nt::flooding_entry, vm9}}})));
    ASSERT_TRUE(a.reclaim_local_vlan("net-a"));
    EXPECT_TRUE(a.tunnels().empty());
    EXPECT_EQ(table(p, 0), "table=0,priority=1,in_port=1 actions=resubmit(,2)\n"
                           "table=0,priority=0 actions=drop\n");
    EXPECT_EQ(table(p, 4), "table=4,priority=0 actions=drop\n");
    EXPECT_EQ(table(p, 20), "table=20,priority=0 actions=resubmit(,22)\n");
    EXPECT_EQ(table(p, 21), "table=21,priority=0 actions=resubmit(,22)\n");
    EXPECT_EQ(table(p, 22), "table=22,priority=0 actions=drop\n");
    // The remote side's removal of its own entries then finds nothing to do.
    EXPECT_TRUE(a.remove_fdb_entries(net_a({{"10.0.1.39", {nt::flooding_entry, vm9}}})));
}

TEST_F(walkthrough, step4_a_vm_of_another_network) {
    first_vm();
    const std::string before = nt::flows_text(p);
    // A VM of net-b on compute2, while compute1 has no port in net-b: ignored.
    nt::fdb_entries b{
        {"net-b", {7, "vxlan", {{"10.0.1.39", {nt::flooding_entry, {"fa:16:3e:22:22:22", "10.7.0.4"}}}}}}};
    auto st = a.add_fdb_entries(b);
    ASSERT_TRUE(st) << st.what();
    EXPECT_EQ(st.ignored, 1u);
    EXPECT_EQ(nt::flows_text(p), before);
    EXPECT_EQ(a.tunnels().size(), 1u);
    // Then a VM of net-b on compute1: a local VLAN, and the full fdb of net-b.
    st = a.provision_local_vlan("net-b", "vxlan", 7);
    ASSERT_TRUE(st) << st.what();
    EXPECT_EQ(st.lvid, 1); // lowest free
    ASSERT_TRUE(a.add_fdb_entries(b));
    const std::string c2 = std::to_string(port_to("10.0.1.39")), nn = std::to_string(port_to("10.0.1.21"));
    EXPECT_EQ(table(p, 4), "table=4,priority=1,tun_id=0x6 actions=mod_vlan_vid:2,resubmit(,10)\n"
                           "table=4,priority=1,tun_id=0x7 actions=mod_vlan_vid:1,resubmit(,10)\n"
                           "table=4,priority=0 actions=drop\n");
    EXPECT_EQ(table(p, 22), "table=22,priority=1,dl_vlan=1 actions=strip_vlan,set_tunnel:0x7,output:" + c2 +
                                "\n"
                                "table=22,priority=1,dl_vlan=2 actions=strip_vlan,set_tunnel:0x6,output:" +
                                nn +
                                "\n"
                                "table=22,priority=0 actions=drop\n");
    // net-b goes from compute2: its tunnel is used by no network and goes with its flows.
    ASSERT_TRUE(a.remove_fdb_entries(b));
    EXPECT_EQ(a.tunnels().size(), 1u);
    EXPECT_EQ(table(p, 0).find("in_port=" + c2 + " "), std::string::npos);
    EXPECT_EQ(table(p, 22), "table=22,priority=1,dl_vlan=2 actions=strip_vlan,set_tunnel:0x6,output:" + nn +
                                "\n"
                                "table=22,priority=0 actions=drop\n");
}

TEST_F(walkthrough, update_fdb_entries_moves_only_the_arp_entry) {
    first_vm();
    ASSERT_TRUE(a.add_fdb_entries(net_a({{"10.0.1.39", {nt::flooding_entry, vm9}}})));
    const std::string t20 = table(p, 20), t22 = table(p, 22);
    nt::fdb_ip_changes chg{{"net-a", {{"10.0.1.39", {{vm9}, {{vm9.mac, "81.1.180.10"}}}}}}};
    ASSERT_TRUE(a.update_fdb_entries(chg));
    EXPECT_EQ(table(p, 20), t20);
    EXPECT_EQ(table(p, 22), t22);
    const std::string t21 = table(p, 21);
    EXPECT_EQ(t21.find("arp_tpa=81.1.180.9 "), std::string::npos);
    EXPECT_NE(
        t21.find("arp_tpa=81.1.180.10 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],mod_dl_src:fa:16:3e:73:49:41"),
        std::string::npos);
}

TEST_F(walkthrough, dvr_tables_1_9_and_the_gateway_arp_drop) {
    nt::br_tun q;
    nt::agent d{q, {.local_ip = "10.0.1.31", .dvr = true, .dvr_host_mac = "fa:16:3f:b2:34:82"}};
    ASSERT_TRUE(d.set_patch_int(1));
    ASSERT_TRUE(d.provision_local_vlan("net-a", "vxlan", 6, 2));
    ASSERT_TRUE(d.add_dvr_mac("fa:16:3f:00:00:39"));
    ASSERT_TRUE(d.add_dvr_router_interface("net-a", gw.mac, gw.ip));
    EXPECT_EQ(nt::flows_text(q, 0), "table=0,priority=1,in_port=1 actions=resubmit(,1)\n"
                                    "table=0,priority=0 actions=drop\n");
    EXPECT_EQ(
        nt::flows_text(q, 1),
        "table=1,priority=2,dl_vlan=2,dl_dst=fa:16:3e:87:40:f3 actions=drop\n"
        "table=1,priority=1,dl_vlan=2,dl_src=fa:16:3e:87:40:f3 actions=mod_dl_src:fa:16:3f:b2:34:82,resubmit(,2)\n"
        "table=1,priority=0 actions=resubmit(,2)\n");
    EXPECT_EQ(nt::flows_text(q, 4), "table=4,priority=1,tun_id=0x6 actions=mod_vlan_vid:2,resubmit(,9)\n"
                                    "table=4,priority=0 actions=drop\n");
    EXPECT_EQ(nt::flows_text(q, 9), "table=9,priority=1,dl_src=fa:16:3f:00:00:39 actions=output:1\n"
                                    "table=9,priority=0 actions=resubmit(,10)\n");
    EXPECT_EQ(nt::flows_text(q, 22), "table=22,priority=3,arp,dl_vlan=2,arp_tpa=81.1.180.1 actions=drop\n"
                                     "table=22,priority=0 actions=drop\n");
    ASSERT_TRUE(d.remove_dvr_router_interface("net-a", gw.mac, gw.ip));
    EXPECT_EQ(nt::flows_text(q, 1), "table=1,priority=0 actions=resubmit(,2)\n");
    EXPECT_EQ(nt::flows_text(q, 22), "table=22,priority=0 actions=drop\n");
}

// ---- errors: nothing changes ---------------------------------------------------

TEST_F(walkthrough, refused_messages_change_nothing) {
    first_vm();
    const std::string before = nt::flows_text(p);
    const auto tunnels = a.tunnels().size();
    auto refused = [&](nt::agent_status st, nt::agent_errc want) {
        EXPECT_EQ(st.code, want) << st.what();
        EXPECT_FALSE(st.what().empty());
        EXPECT_EQ(nt::flows_text(p), before);
        EXPECT_EQ(a.tunnels().size(), tunnels);
    };
    // A good remote first, then a malformed MAC: the good part is not applied either.
    refused(a.add_fdb_entries(net_a(
                {{"10.0.1.39", {nt::flooding_entry, vm9}}, {"10.0.1.40", {{"fa:16:3e:zz:00:01", "81.1.180.20"}}}})),
            nt::agent_errc::malformed_mac);
    refused(a.add_fdb_entries(net_a({{"10.0.1.39", {nt::flooding_entry, {vm9.mac, "81.1.180"}}}})),
            nt::agent_errc::malformed_ip);
    refused(a.add_fdb_entries(net_a({{"10.0.1.300", {nt::flooding_entry}}})), nt::agent_errc::malformed_ip);
    refused(a.add_fdb_entries({{"net-a", {7, "vxlan", {{"10.0.1.39", {nt::flooding_entry}}}}}}),
            nt::agent_errc::unknown_network);
    refused(a.add_fdb_entries({{"net-a", {6, "vlan", {{"10.0.1.39", {nt::flooding_entry}}}}}}),
            nt::agent_errc::bad_network_type);
    refused(a.add_fdb_entries({{"net-x", {1u << 24, "vxlan", {{"10.0.1.39", {nt::flooding_entry}}}}}}),
            nt::agent_errc::segment_out_of_range);
    refused(a.remove_fdb_entries(net_a({{"10.0.1.21", {{"fa:16:3e:87:40", gw.ip}}}})), nt::agent_errc::malformed_mac);
    refused(a.update_fdb_entries({{"net-a", {{"10.0.1.21", {{gw}, {{gw.mac, "81.1.180.256"}}}}}}}),
            nt::agent_errc::malformed_ip);
    refused(a.provision_local_vlan("net-b", "vxlan", 0), nt::agent_errc::segment_out_of_range);
    refused(a.provision_local_vlan("net-b", "geneve", 1u << 24), nt::agent_errc::segment_out_of_range);
    refused(a.provision_local_vlan("net-a", "vxlan", 9), nt::agent_errc::network_exists);
    refused(a.provision_local_vlan("net-b", "vxlan", 9, 2), nt::agent_errc::lvid_in_use);
    refused(a.reclaim_local_vlan("net-zz"), nt::agent_errc::unknown_network);
    refused(a.add_dvr_mac("fa:16:3f:00:00:01"), nt::agent_errc::dvr_off);
    refused(a.add_tunnel_port("vxlan", "10.0.1.50", 1), nt::agent_errc::port_in_use);
}

TEST(agent, lvid_pool_exhausted_is_an_error_and_changes_nothing) {
    nt::br_tun p(fp::pipeline_config{.default_table = {.max_flows = 8192}});
    nt::agent a{p, {.local_ip = "10.0.0.1"}};
    ASSERT_TRUE(a.set_patch_int(1));
    for (int i = 1; i <= 4094; ++i)
        ASSERT_TRUE(a.provision_local_vlan("n" + std::to_string(i), "gre", static_cast<std::uint64_t>(i)));
    const std::string before = nt::flows_text(p, 3);
    auto st = a.provision_local_vlan("one-too-many", "gre", 5000);
    EXPECT_EQ(st.code, nt::agent_errc::lvid_pool_exhausted);
    EXPECT_EQ(nt::flows_text(p, 3), before);
    ASSERT_TRUE(a.reclaim_local_vlan("n17"));
    st = a.provision_local_vlan("one-too-many", "gre", 5000);
    ASSERT_TRUE(st);
    EXPECT_EQ(st.lvid, 17);
}

TEST(agent, embedder_supplies_tunnel_port_numbers) {
    nt::br_tun p;
    std::uint32_t next = 100;
    nt::agent a{p, {.local_ip = "10.0.1.31"}, [&](nt::network_type, std::uint32_t) {
                    return std::optional<std::uint32_t>(next++);
                }};
    ASSERT_TRUE(a.set_patch_int(1));
    ASSERT_TRUE(a.provision_local_vlan("net-a", "gre", 6));
    ASSERT_TRUE(a.add_fdb_entries(
        {{"net-a", {6, "gre", {{"10.0.1.39", {nt::flooding_entry}}, {"10.0.1.31", {nt::flooding_entry}}}}}}));
    ASSERT_EQ(a.tunnels().size(), 1u); // its own IP is skipped
    EXPECT_EQ(a.tunnels().begin()->second.ofport, 100u);
    EXPECT_EQ(a.tunnels().begin()->second.name, "gre-0a000127");
    EXPECT_NE(nt::flows_text(p, 0).find("in_port=100 actions=resubmit(,3)"), std::string::npos);
}
