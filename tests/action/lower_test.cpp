// Lowering run-time action lists into typed tables: every flow the Neutron
// agent writes into the typed br-tun, printed as text and installed back
// through ofctl::install into an empty br-tun, gives the same flows and the
// same forwarding; actions a table does not allow are refused with a reason
// and change nothing.
#include <gtest/gtest.h>

#include <flowpipe/action/lower.hpp>
#include <flowpipe/neutron/agent.hpp>
#include <flowpipe/neutron/dump.hpp>
#include <flowpipe/ofctl/parse.hpp>

#include "../support/frames.hpp"

namespace fp = flowpipe;
namespace nt = flowpipe::neutron;
using fp::test::eth;
using fp::test::frames;

namespace {

constexpr std::uint64_t vm8 = 0xfa163eb3e77aULL, vm9 = 0xfa163e734941ULL;

// A br-tun as the agent programs it: two networks, three tunnels, l2pop
// unicast and ARP entries, DVR (tables 1 and 9), and one learned flow.
struct programmed : ::testing::Test {
    nt::br_tun p;
    nt::agent a{p, {.local_ip = "10.0.1.31", .arp_responder = true, .dvr = true, .dvr_host_mac = "fa:16:3f:b2:34:82"}};
    void SetUp() override {
        ASSERT_TRUE(a.set_patch_int(1));
        ASSERT_TRUE(a.provision_local_vlan("net-a", "vxlan", 6, 2));
        ASSERT_TRUE(a.provision_local_vlan("net-b", "gre", 7, 3));
        ASSERT_TRUE(a.add_fdb_entries({{"net-a",
                                        {6,
                                         "vxlan",
                                         {{"10.0.1.39", {nt::flooding_entry, {"fa:16:3e:73:49:41", "81.1.180.9"}}},
                                          {"10.0.1.21", {nt::flooding_entry}}}}},
                                       {"net-b", {7, "gre", {{"10.0.1.40", {nt::flooding_entry}}}}}}));
        ASSERT_TRUE(a.add_dvr_mac("fa:16:3f:00:00:39"));
        ASSERT_TRUE(a.add_dvr_router_interface("net-a", "fa:16:3e:87:40:f3", "81.1.180.1"));
        // A frame from compute2's tunnel learns vm9 into table 20.
        auto k = eth(c2(), 0xfa163e000077ULL, vm8);
        k.tun_id = 6;
        run(p, k);
    }
    std::uint32_t c2() const { return a.tunnels().at({nt::network_type::vxlan, *nt::parse_ipv4("10.0.1.39")}).ofport; }

    std::vector<frames> keep;
    std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>> run(nt::br_tun& q, const fp::flow_key& k) {
        frames f;
        f.add(k);
        fp::burst_output out;
        q.run(f.pkts, 0, out);
        std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>> sent;
        out.for_each_port([&](std::uint32_t port, std::span<const fp::packet> ps) {
            for (const fp::packet& x : ps) sent.push_back({port, {x.data, x.data + x.len}});
        });
        keep.push_back(std::move(f));
        return sent;
    }
};

} // namespace

TEST_F(programmed, every_agent_flow_installs_back_from_its_text_into_a_typed_br_tun) {
    const std::vector<std::string> lines = nt::flow_lines(p);
    ASSERT_GE(lines.size(), 28u); // every table of br_tun has flows
    nt::br_tun q;
    for (const std::string& line : lines) {
        auto st = fp::ofctl::install(q, line, 0);
        ASSERT_TRUE(st) << line << "\n  -> " << st.error().message;
    }
    EXPECT_EQ(nt::flows_text(q), nt::flows_text(p));
}

TEST_F(programmed, lowered_flows_forward_as_the_agent_flows_do) {
    nt::br_tun q;
    for (const std::string& line : nt::flow_lines(p)) ASSERT_TRUE(fp::ofctl::install(q, line, 0)) << line;
    const std::vector<fp::flow_key> ks = [&] {
        std::vector<fp::flow_key> v;
        v.push_back(eth(1, vm8, vm9, 0x1002));               // l2pop unicast to compute2
        v.push_back(eth(1, vm8, 0xffffffffffffULL, 0x1002)); // flood of net-a
        v.push_back(eth(1, vm8, 0xfa163e000077ULL, 0x1002)); // to the learned MAC
        v.push_back(eth(1, vm8, 0xffffffffffffULL, 0x1003)); // flood of net-b (GRE)
        fp::flow_key arp = eth(1, vm8, 0xffffffffffffULL, 0x1002);
        arp.eth_type = 0x0806;
        arp.arp_op = 1;
        arp.arp_sha = vm8;
        arp.arp_spa = 0x5101b408;
        arp.arp_tpa = 0x5101b409; // 81.1.180.9: the ARP responder answers
        v.push_back(arp);
        auto t = eth(c2(), 0xfa163e000099ULL, vm8);
        t.tun_id = 6;
        v.push_back(t); // from a tunnel: learn + output to patch-int
        return v;
    }();
    for (const fp::flow_key& k : ks) {
        auto expected = run(p, k);
        EXPECT_FALSE(expected.empty());
        EXPECT_EQ(run(q, k), expected);
    }
    EXPECT_EQ(nt::flows_text(q, 20), nt::flows_text(p, 20)); // the same flow learned on both
}

TEST(lower, picks_the_typed_list_that_spells_the_actions_with_their_values) {
    using L = nt::to_tunnel_actions; // strip_vlan,set_tunnel,output
    auto g = fp::ofctl::parse_flow("actions=strip_vlan,set_tunnel:0x6,output:4");
    ASSERT_TRUE(g);
    auto l = fp::lower<L>(g->actions);
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ(std::get<1>(l->actions).id, 6u);
    EXPECT_EQ(std::get<2>(l->actions).port, 4u);
    // Order matters, and nothing may be left over.
    EXPECT_FALSE(fp::lower<L>(fp::ofctl::parse_flow("actions=set_tunnel:0x6,strip_vlan,output:4")->actions));
    EXPECT_FALSE(fp::lower<L>(fp::ofctl::parse_flow("actions=strip_vlan,set_tunnel:0x6,output:4,output:5")->actions));
    // output_ports<N> takes a run of outputs, at least one and at most N.
    using F = fp::action_list<fp::actions::output_ports<2>>;
    auto two = fp::lower<F>(fp::ofctl::parse_flow("actions=output:3,output:5")->actions);
    ASSERT_TRUE(two);
    EXPECT_EQ(std::get<0>(two->actions).count, 2u);
    EXPECT_EQ(std::get<0>(two->actions).ports[1], 5u);
    EXPECT_FALSE(fp::lower<F>(fp::ofctl::parse_flow("actions=output:3,output:5,output:6")->actions));
    EXPECT_FALSE(fp::lower<F>(fp::ofctl::parse_flow("actions=drop")->actions));
    // drop is the empty list.
    EXPECT_TRUE(fp::lower<fp::action_list<fp::actions::drop>>(fp::ofctl::parse_flow("actions=drop")->actions));
}

TEST(lower, compile_time_parts_must_be_equal) {
    using R = fp::action_list<fp::actions::resubmit_to<20>>;
    EXPECT_TRUE(fp::lower<R>(fp::ofctl::parse_flow("actions=resubmit(,20)")->actions));
    EXPECT_FALSE(fp::lower<R>(fp::ofctl::parse_flow("actions=resubmit(,21)")->actions));
    EXPECT_FALSE(fp::lower<R>(fp::ofctl::parse_flow("actions=resubmit(3,20)")->actions));
    using V = fp::action_list<fp::actions::load_to<fp::fields::vlan_tci::bits<0, 11>>>;
    auto v = fp::lower<V>(fp::ofctl::parse_flow("actions=load:0x7->NXM_OF_VLAN_TCI[0..11]")->actions);
    ASSERT_TRUE(v);
    EXPECT_EQ(std::get<0>(v->actions).value, 7u);
    EXPECT_FALSE(fp::lower<V>(fp::ofctl::parse_flow("actions=load:0x7->NXM_OF_VLAN_TCI[0..10]")->actions));
    // A learn matches only the very same learn (cookie and limit are run-time values).
    using Learn = fp::action_list<nt::learn_ucast>;
    const std::string learn = "actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],"
                              "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],"
                              "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[])";
    EXPECT_TRUE(fp::lower<Learn>(fp::ofctl::parse_flow(learn)->actions));
    std::string other = learn;
    other.replace(other.find("300"), 3, "301");
    EXPECT_FALSE(fp::lower<Learn>(fp::ofctl::parse_flow(other)->actions));
}

TEST_F(programmed, actions_a_table_does_not_allow_are_refused_and_change_nothing) {
    const std::string before = nt::flows_text(p);
    const char* refused[] = {
        // table 20 takes strip_vlan,set_tunnel,output / resubmit(,22) / the learned list
        "table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:00:00:01 actions=output:3",
        "table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:00:00:01 actions=strip_vlan,output:3",
        "table=0,priority=1,in_port=9 actions=resubmit(,5)",
        "table=10,priority=1 actions=learn(table=20,hard_timeout=301,priority=1,NXM_OF_VLAN_TCI[0..11],"
        "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],"
        "output:NXM_OF_IN_PORT[]),output:1",
    };
    for (const char* flow : refused) {
        auto st = fp::ofctl::install(p, flow, 0);
        ASSERT_FALSE(st) << flow;
        EXPECT_NE(st.error().message.find("none of the action lists this table allows"), std::string::npos)
            << st.error().message;
    }
    // A flood list longer than table 22's output_ports<64>.
    std::string flood = "table=22,priority=1,dl_vlan=2 actions=strip_vlan,set_tunnel:0x6";
    for (int i = 0; i < 65; ++i) flood += ",output:" + std::to_string(100 + i);
    EXPECT_FALSE(fp::ofctl::install(p, flood, 0));
    EXPECT_EQ(nt::flows_text(p), before);
}

TEST_F(programmed, mod_flows_replaces_actions_in_a_typed_table) {
    const std::string vm9_flow = "table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:73:49:41 actions=strip_vlan,"
                                 "set_tunnel:0x6,output:77";
    auto st = fp::ofctl::install(p, vm9_flow, 0, fp::ofctl::flow_command::modify_strict);
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ(st->count, 1u);
    EXPECT_NE(nt::flows_text(p, 20).find("dl_dst=fa:16:3e:73:49:41 actions=strip_vlan,set_tunnel:0x6,output:77"),
              std::string::npos);
    // Without table=N a typed pipeline cannot know which lists apply.
    EXPECT_FALSE(fp::ofctl::install(p, "dl_dst=fa:16:3e:73:49:41 actions=drop", 0, fp::ofctl::flow_command::modify));
}
