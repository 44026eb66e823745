// ofproto/trace-style traces: tables visited, matches, changes, final flow
// and outputs, with the engine's (Open vSwitch's) rules, and no effect on
// flow counters.
#include <flowpipe/ofctl/trace.hpp>

#include <gtest/gtest.h>

#include <flowpipe/neutron/br_tun.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>

namespace {

using namespace flowpipe;
using namespace flowpipe::ofctl;

void load(generic_pipeline& p, std::string_view flows) {
    auto fs = parse_flows(flows);
    ASSERT_TRUE(fs) << to_string(fs.error());
    for (const auto& f : *fs) ASSERT_TRUE(apply(p, f, 0));
}

trace_result run(generic_pipeline& p, std::string_view packet) {
    auto k = parse_packet(packet);
    EXPECT_TRUE(k) << packet;
    return trace(p, *k);
}

constexpr std::string_view br_tun = R"(
table=0,priority=1,in_port=1 actions=resubmit(,2)
table=0,priority=1,in_port=2 actions=resubmit(,4)
table=0,priority=0 actions=drop
table=2,priority=1,arp,dl_dst=ff:ff:ff:ff:ff:ff actions=resubmit(,21)
table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)
table=4,priority=1,tun_id=0x6 actions=mod_vlan_vid:2,resubmit(,10)
table=4,priority=0 actions=drop
table=10,priority=1 actions=output:1
table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:73:49:41 actions=strip_vlan,set_tunnel:0x6,output:2
table=20,priority=0 actions=resubmit(,22)
table=21,priority=1,arp,dl_vlan=2,arp_tpa=81.1.180.9 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],mod_dl_src:fa:16:3e:73:49:41,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0xfa163e734941->NXM_NX_ARP_SHA[],load:0x5101b409->NXM_OF_ARP_SPA[],in_port
table=21,priority=0 actions=resubmit(,22)
table=22,priority=1,dl_vlan=2 actions=strip_vlan,set_tunnel:0x6,output:2,output:3
table=22,priority=0 actions=drop
)";

TEST(OfctlTrace, ArpResponder) {
    generic_pipeline p;
    load(p, br_tun);
    const auto r = run(p, "in_port=1,dl_vlan=2,dl_src=fa:16:3e:b3:e7:7a,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,"
                          "arp_spa=81.1.180.8,arp_tpa=81.1.180.9");
    EXPECT_EQ(r.output_ports(), "1");
    EXPECT_EQ(r.final_key.arp_op, 2);
    EXPECT_EQ(r.final_key.eth_dst, 0xfa163eb3e77aULL);
    EXPECT_NE(r.text.find("21. arp,dl_vlan=2,arp_tpa=81.1.180.9, priority 1\n"), std::string::npos) << r.text;
    EXPECT_NE(r.text.find(" -> arp_tpa is now 81.1.180.8\n"), std::string::npos) << r.text;
    EXPECT_NE(r.text.find("\nFinal flow: arp,in_port=1,dl_vlan=2,"), std::string::npos) << r.text;
    EXPECT_NE(r.text.find("\nOutput: 1\n"), std::string::npos);
    // The final flow parses back to the final key.
    const auto at = r.text.find("Final flow: ") + 12;
    EXPECT_EQ(*parse_packet(r.text.substr(at, r.text.find('\n', at) - at)), r.final_key);
}

TEST(OfctlTrace, FloodUnknownAndDrop) {
    generic_pipeline p;
    load(p, br_tun);
    auto r = run(p, "in_port=1,dl_vlan=2,dl_dst=01:00:5e:00:00:01");
    EXPECT_EQ(r.output_ports(), "2,3");
    EXPECT_EQ(r.final_key.tun_id, 6u);
    EXPECT_EQ(r.final_key.vlan_tci, 0);
    r = run(p, "in_port=2,tun_id=0x7,dl_dst=fa:16:3e:00:00:01");
    EXPECT_EQ(r.output_ports(), "drop");
    r = run(p, "in_port=2,tun_id=0x6,dl_dst=fa:16:3e:00:00:01");
    EXPECT_EQ(r.output_ports(), "1");
    EXPECT_EQ(r.final_key.vlan_tci, 0x1002);
    r = run(p, "in_port=9");
    EXPECT_EQ(r.output_ports(), "drop");
    // Tracing does not credit flows.
    p.for_each_table([](auto& t) { t.for_each([](const auto& f) { EXPECT_EQ(f.n_packets, 0u); }); });
}

TEST(OfctlTrace, ResubmitReturnsInPortAndLimits) {
    generic_pipeline p;
    load(p, "priority=1,in_port=1 actions=resubmit(5,1),output:1,output:2,in_port\n"
            "table=1,in_port=5 actions=load:0x7->NXM_NX_REG0[],output:3\n"
            "table=2 actions=resubmit(,2)\n");
    auto r = run(p, "in_port=1");
    EXPECT_EQ(r.output_ports(), "3,2,1"); // output:1 to the input port is skipped; in_port is explicit
    EXPECT_EQ(r.final_key.regs[0], 7u);
    EXPECT_EQ(r.final_key.in_port, 1u);
    EXPECT_NE(r.text.find("skipping output to input port"), std::string::npos);
    generic_pipeline loop;
    load(loop, "actions=output:4,resubmit(,0)\n");
    r = run(loop, "in_port=1");
    EXPECT_TRUE(r.too_many_resubmits);
    EXPECT_EQ(r.output_ports(), "drop");
}

TEST(OfctlTrace, DecTtlStops) {
    generic_pipeline p;
    load(p, "ip actions=output:1,dec_ttl,output:2\n");
    EXPECT_EQ(run(p, "in_port=3,ip,nw_ttl=64").output_ports(), "1,2");
    EXPECT_EQ(run(p, "in_port=3,ip,nw_ttl=1").output_ports(), "1");
}

TEST(OfctlTrace, LearnOnlyWithGenerate) {
    generic_pipeline p;
    load(p, std::string(br_tun) +
                "table=10,priority=2 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],"
                "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],"
                "output:NXM_OF_IN_PORT[]),output:1\n");
    const std::string from_tunnel = "in_port=2,tun_id=0x6,dl_src=fa:16:3e:7e:ab:cc,dl_dst=fa:16:3e:b3:e7:7a";
    const std::string to_learned = "in_port=1,dl_vlan=2,dl_src=fa:16:3e:b3:e7:7a,dl_dst=fa:16:3e:7e:ab:cc";
    auto count20 = [&] {
        std::size_t n = 0;
        p.table(20).for_each([&](const auto&) { ++n; });
        return n;
    };
    auto r = run(p, from_tunnel);
    EXPECT_NE(r.text.find("learn changes tables only with --generate"), std::string::npos) << r.text;
    EXPECT_EQ(count20(), 2u);
    EXPECT_EQ(run(p, to_learned).output_ports(), "2,3"); // unknown: flooded
    auto k = parse_packet(from_tunnel);
    r = trace(p, *k, {.generate = true, .now_ms = 1000});
    EXPECT_EQ(r.output_ports(), "1");
    EXPECT_NE(r.text.find(" -> table=20 vlan_tci=0x0002/0x0fff,dl_dst=fa:16:3e:7e:ab:cc priority=1 hard=300 "
                          "actions=load:0->NXM_OF_VLAN_TCI[],load:0x6->NXM_NX_TUN_ID[],output:2\n"),
              std::string::npos)
        << r.text;
    EXPECT_NE(r.text.find(" -> learned: a new flow\n"), std::string::npos) << r.text;
    EXPECT_EQ(count20(), 3u);
    r = trace(p, *k, {.generate = true, .now_ms = 2000});
    EXPECT_NE(r.text.find(" -> learned: the same flow was there, its timers restart\n"), std::string::npos) << r.text;
    EXPECT_EQ(count20(), 3u);
    // Now known: unicast to the tunnel it was learned from, untagged, with its tun_id.
    r = run(p, to_learned);
    EXPECT_EQ(r.output_ports(), "2");
    EXPECT_EQ(r.final_key.vlan_tci, 0);
    EXPECT_EQ(r.final_key.tun_id, 6u);
    const std::string dump = dump_flows(p, 2000);
    EXPECT_NE(dump.find("table=20, n_packets=0, n_bytes=0, hard_timeout=300, "), std::string::npos) << dump;
    EXPECT_NE(dump.find("priority=1,vlan_tci=0x0002/0x0fff,dl_dst=fa:16:3e:7e:ab:cc actions=load:0->NXM_OF_VLAN_TCI[],"
                        "load:0x6->NXM_NX_TUN_ID[],output:2\n"),
              std::string::npos)
        << dump;
}

TEST(OfctlTrace, TypedLearnOnlyWithGenerate) {
    // br-tun's typed learn (table 10 into table 20's learned records), as
    // the generic one above: shown, not run, without -generate.
    neutron::br_tun_core p;
    ASSERT_TRUE(p.table<0>().add(match{}.set(field_id::in_port, 2), 1,
                                 action_list<actions::resubmit_to<neutron::vxlan_tun_to_lv>>{}, {}, 0));
    ASSERT_TRUE(p.table<neutron::vxlan_tun_to_lv>().add(match{}.set(field_id::tun_id, 6), 1,
                                                        neutron::tun_to_lv_actions{{2}, {}}, {}, 0));
    ASSERT_TRUE(p.table<neutron::learn_from_tun>().add(match{}, 1, neutron::learn_from_tun_actions{{}, {1}}, {}, 0));
    auto& t20 = p.table<neutron::ucast_to_tun>();
    auto k = parse_packet("in_port=2,tun_id=0x6,dl_src=fa:16:3e:7e:ab:cc,dl_dst=fa:16:3e:b3:e7:7a");
    ASSERT_TRUE(k);
    auto r = trace(p, *k);
    EXPECT_EQ(r.output_ports(), "1");
    EXPECT_NE(r.text.find("learn changes tables only with --generate"), std::string::npos) << r.text;
    EXPECT_EQ(t20.size(), 0u);
    r = trace(p, *k, {.generate = true, .now_ms = 1000});
    EXPECT_NE(r.text.find(" -> learned: a new flow\n"), std::string::npos) << r.text;
    EXPECT_EQ(t20.size(), 1u);
    EXPECT_EQ(t20.store().size(), 1u); // a record, as the engine's learn makes it
    r = trace(p, *k, {.generate = true, .now_ms = 2000});
    EXPECT_NE(r.text.find(" -> learned: the same flow was there, its timers restart\n"), std::string::npos) << r.text;
    EXPECT_EQ(t20.store().size(), 1u);
}

TEST(OfctlTrace, NormalNeedsASwitch) {
    auto fs = parse_flows("priority=0 actions=NORMAL\n");
    ASSERT_TRUE(fs);
    generic_pipeline unbound;
    ASSERT_TRUE(apply(unbound, (*fs)[0], 0));
    auto r = run(unbound, "in_port=1,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff");
    EXPECT_EQ(r.output_ports(), "drop");
    EXPECT_NE(r.text.find("no l2_switch is bound to NORMAL"), std::string::npos) << r.text;
    l2_switch sw;
    sw.add_trunk_port(1);
    sw.add_trunk_port(2);
    sw.add_trunk_port(3);
    bind_normal(*fs, &sw);
    generic_pipeline p;
    ASSERT_TRUE(apply(p, (*fs)[0], 0));
    r = run(p, "in_port=1,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff");
    EXPECT_EQ(r.output_ports(), "2,3");
}

} // namespace
