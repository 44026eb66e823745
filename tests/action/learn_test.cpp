// learn, typed and run-time, with Open vSwitch 3.1's semantics: strict
// modify, timer refresh, action replacement keeping counters, limit and
// result_dst, delete_learned, same-burst visibility, and br-tun's table 10
// learning into table 20 on real frames.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/action/learn.hpp>
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/neutron/br_tun.hpp>
#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/ofctl/print.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <array>
#include <deque>
#include <map>
#include <random>
#include <vector>

namespace fp = flowpipe;
namespace f = fp::fields;
namespace la = fp::learn_args;
using namespace fp::actions;
using fp::test::eth;
using fp::test::frames;
using fp::test::key_of;

namespace {

// ---- the typed br-tun core with table 10's learn ----
using br_tun = fp::neutron::br_tun_core;
constexpr std::uint32_t patch_int = 1, tun_a = 2, tun_b = 3;
constexpr std::uint16_t lvid = 2;
constexpr std::uint64_t seg = 6;
const std::uint64_t vm_local = 0xfa163eb3e77aULL, vm_remote = 0xfa163e734941ULL;
constexpr std::int64_t s = 1000; // ms

void install(br_tun& p) {
    using namespace fp;
    auto& t0 = p.table<0>();
    ASSERT_TRUE(t0.add(match{}.set(field_id::in_port, patch_int), 1, action_list<resubmit_to<2>>{}, {}, 0));
    ASSERT_TRUE(t0.add(match{}.set(field_id::in_port, tun_a), 1, action_list<resubmit_to<4>>{}, {}, 0));
    ASSERT_TRUE(t0.add(match{}.set(field_id::in_port, tun_b), 1, action_list<resubmit_to<4>>{}, {}, 0));
    ASSERT_TRUE(t0.add(match{}, 0, action_list<drop>{}, {}, 0));
    auto& t2 = p.table<2>();
    ASSERT_TRUE(t2.add(match{}.set(field_id::eth_type, 0x0806).set(field_id::eth_dst, 0xffffffffffffULL), 1,
                       action_list<resubmit_to<21>>{}, {}, 0));
    ASSERT_TRUE(t2.add(match{}.set(field_id::eth_dst, 0, 0x010000000000ULL), 0, action_list<resubmit_to<20>>{}, {}, 0));
    ASSERT_TRUE(t2.add(match{}.set(field_id::eth_dst, 0x010000000000ULL, 0x010000000000ULL), 0,
                       action_list<resubmit_to<22>>{}, {}, 0));
    auto& t4 = p.table<4>();
    ASSERT_TRUE(t4.add(match{}.set(field_id::tun_id, seg), 1, neutron::tun_to_lv_actions{{lvid}, {}}, {}, 0));
    ASSERT_TRUE(t4.add(match{}, 0, action_list<drop>{}, {}, 0));
    // table=10,priority=1 actions=learn(...),output:<patch-int>
    ASSERT_TRUE(p.table<10>().add(match{}, 1, neutron::learn_from_tun_actions{{}, {patch_int}}, {}, 0));
    ASSERT_TRUE(p.table<20>().add(match{}, 0, action_list<resubmit_to<22>>{}, {}, 0));
    ASSERT_TRUE(p.table<21>().add(match{}, 0, action_list<resubmit_to<22>>{}, {}, 0));
    auto& t22 = p.table<22>();
    output_ports<neutron::max_flood_ports> flood;
    flood.add(tun_a);
    flood.add(tun_b);
    ASSERT_TRUE(
        t22.add(match{}.set(field_id::vlan_tci, lvid, 0x0fff), 1, neutron::flood_actions{{}, {seg}, flood}, {}, 0));
    ASSERT_TRUE(t22.add(match{}, 0, action_list<drop>{}, {}, 0));
}

fp::flow_key from_tunnel(std::uint32_t tun, std::uint64_t src, std::uint64_t dst) {
    auto k = eth(tun, src, dst);
    k.tun_id = seg;
    return k;
}

fp::match learned_match(std::uint64_t mac) {
    fp::match m;
    m.set(fp::field_id::vlan_tci, lvid, 0x0fff).set(fp::field_id::eth_dst, mac);
    return m;
}

const fp::neutron::learn_ucast& table10_learn(br_tun& p) {
    auto* f = p.table<10>().find_strict(fp::match{}, 1);
    return std::get<0>(std::get<fp::neutron::learn_from_tun_actions>(f->actions).actions);
}

} // namespace

TEST(learn, br_tun_frame_from_a_tunnel_teaches_its_source_mac_and_unicast_follows) {
    br_tun p;
    install(p);
    fp::burst_output out;
    {
        frames fr;
        fr.add(from_tunnel(tun_a, vm_remote, vm_local));
        p.run(fr.pkts, 10 * s, out);
        ASSERT_EQ(out.on_port(patch_int).size(), 1u); // and it went on to patch-int, tagged
        EXPECT_EQ(key_of(out.on_port(patch_int)[0]).vlan_tci, 0x1000 | lvid);
    }
    // The learned flow, as dump-flows would show it:
    // priority=1,vlan_tci=0x0002/0x0fff,dl_dst=<mac> actions=load:0->NXM_OF_VLAN_TCI[],load:0x6->NXM_NX_TUN_ID[],output:2
    auto* lf = p.table<20>().find_strict(learned_match(vm_remote), 1);
    ASSERT_NE(lf, nullptr);
    EXPECT_EQ(lf->hard_timeout, 300);
    EXPECT_EQ(lf->idle_timeout, 0);
    EXPECT_EQ(lf->cookie, 0u);
    EXPECT_EQ(lf->get_match(), learned_match(vm_remote));
    EXPECT_EQ(lf->get_match().mask_of(fp::field_id::vlan_tci), 0x0fffu); // no present bit, as OVS learns it
    const auto& acts = std::get<fp::neutron::learned_ucast_actions>(lf->actions);
    EXPECT_EQ(std::get<0>(acts.actions).value, 0);
    EXPECT_EQ(std::get<0>(acts.actions).dst, fp::bit_range::whole(fp::field_id::vlan_tci));
    EXPECT_EQ(std::get<1>(acts.actions).value, seg);
    EXPECT_EQ(std::get<2>(acts.actions).port, tun_a);
    EXPECT_EQ(table10_learn(p).stats().added, 1u);

    // A VM behind patch-int sends to that MAC: out of tun_a, untagged, with the segment.
    frames fr;
    fr.add(eth(patch_int, vm_local, vm_remote, 0x1000 | lvid));
    p.run(fr.pkts, 11 * s, out);
    ASSERT_EQ(out.on_port(tun_a).size(), 1u);
    EXPECT_EQ(out.on_port(tun_b).size(), 0u);
    EXPECT_EQ(out.on_port(tun_a)[0].tun_id, seg);
    const auto k = key_of(out.on_port(tun_a)[0]);
    EXPECT_EQ(k.vlan_tci, 0);
    EXPECT_EQ(k.eth_dst, vm_remote);
    EXPECT_EQ(k.eth_src, vm_local);
    EXPECT_EQ(lf->n_packets, 1u);
}

TEST(learn, a_flow_learned_by_packet_k_is_seen_by_packet_k_plus_1_of_the_same_burst) {
    br_tun p;
    install(p);
    frames fr;
    fr.add(eth(patch_int, vm_local, vm_remote, 0x1000 | lvid)); // not learned yet: flooded
    fr.add(from_tunnel(tun_b, vm_remote, vm_local));            // learns vm_remote -> tun_b
    fr.add(eth(patch_int, vm_local, vm_remote, 0x1000 | lvid)); // unicast to tun_b
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    EXPECT_EQ(out.on_port(tun_a).size(), 1u); // only the flooded first frame
    EXPECT_EQ(out.on_port(tun_b).size(), 2u); // flooded first frame, then the unicast one
    EXPECT_EQ(out.on_port(patch_int).size(), 1u);
}

TEST(learn, hard_timeout_300_counts_from_the_last_packet_that_relearned) {
    br_tun p;
    install(p);
    fp::burst_output out;
    auto teach = [&](std::int64_t now) {
        frames fr;
        fr.add(from_tunnel(tun_a, vm_remote, vm_local));
        p.run(fr.pkts, now, out);
    };
    teach(0);
    auto* lf = p.table<20>().find_strict(learned_match(vm_remote), 1);
    ASSERT_NE(lf, nullptr);
    // Silence for 300 s: still there at 300 s, gone just after.
    EXPECT_EQ(p.expire(300 * s), 0u);
    EXPECT_NE(p.table<20>().find_strict(learned_match(vm_remote), 1), nullptr);
    EXPECT_EQ(p.expire(300 * s + 1), 1u);
    EXPECT_EQ(p.table<20>().find_strict(learned_match(vm_remote), 1), nullptr);

    // Re-learning restarts the hard timeout: only the timers move.
    teach(1000 * s);
    lf = p.table<20>().find_strict(learned_match(vm_remote), 1);
    ASSERT_NE(lf, nullptr);
    const auto id = lf->id;
    teach(1200 * s);
    teach(1250 * s);
    EXPECT_EQ(table10_learn(p).stats().added, 2u);
    EXPECT_EQ(table10_learn(p).stats().refreshed, 2u);
    EXPECT_EQ(lf->id, id);
    EXPECT_EQ(lf->created_ms, 1000 * s);
    EXPECT_EQ(lf->modified_ms, 1250 * s);
    EXPECT_EQ(p.expire(1300 * s + 1), 0u); // 300 s after the first learn: kept
    EXPECT_EQ(p.expire(1550 * s), 0u);
    EXPECT_EQ(p.expire(1550 * s + 1), 1u); // 300 s after the last one: gone
    EXPECT_EQ(p.table<20>().size(), 1u);   // the catch-all
}

TEST(learn, a_mac_that_moves_to_another_tunnel_gets_new_actions_and_keeps_its_counters) {
    br_tun p;
    install(p);
    fp::burst_output out;
    {
        frames fr;
        fr.add(from_tunnel(tun_a, vm_remote, vm_local));
        fr.add(eth(patch_int, vm_local, vm_remote, 0x1000 | lvid));
        fr.add(eth(patch_int, vm_local, vm_remote, 0x1000 | lvid));
        p.run(fr.pkts, 5 * s, out);
    }
    auto* lf = p.table<20>().find_strict(learned_match(vm_remote), 1);
    ASSERT_NE(lf, nullptr);
    EXPECT_EQ(lf->n_packets, 2u);
    frames fr;
    fr.add(from_tunnel(tun_b, vm_remote, vm_local)); // the VM migrated
    fr.add(eth(patch_int, vm_local, vm_remote, 0x1000 | lvid));
    p.run(fr.pkts, 20 * s, out);
    EXPECT_EQ(out.on_port(tun_b).size(), 1u);
    EXPECT_EQ(out.on_port(tun_a).size(), 0u);
    // The same flow, modified (in a new slot: the packet that learned it
    // went on with the old actions, flow_table.hpp), counters kept.
    lf = p.table<20>().find_strict(learned_match(vm_remote), 1);
    ASSERT_NE(lf, nullptr);
    EXPECT_EQ(p.table<20>().size(), 2u); // the learned flow and the catch-all
    EXPECT_EQ(lf->n_packets, 3u);
    EXPECT_EQ(lf->created_ms, 5 * s);
    EXPECT_EQ(lf->modified_ms, 20 * s);
    EXPECT_EQ(std::get<2>(std::get<fp::neutron::learned_ucast_actions>(lf->actions).actions).port, tun_b);
    EXPECT_EQ(table10_learn(p).stats().modified, 1u);
}

// ---- limit, result_dst, cookie, delete_learned on a small typed pipeline ----
namespace {
constexpr std::uint64_t learned_cookie = 0x55;
using mac_learn = learn<la::table<1>, la::priority<7>, la::idle_timeout<60>, la::cookie<learned_cookie>, la::limit<2>,
                        la::result_dst<f::reg0::bits<0, 0>>, la::delete_learned,
                        la::match_field<f::eth_dst, f::eth_src>, la::output_field<f::in_port>>;
using mac_learn_actions = fp::action_list<mac_learn, resubmit_to<2>>;
using small = fp::pipeline<
    fp::table<0, fp::schema<fp::exact<f::in_port>>, fp::allowed<mac_learn_actions>>,
    fp::table<1, fp::schema<fp::exact<f::eth_dst>>, fp::allowed<mac_learn::flow_actions, fp::action_list<drop>>>,
    fp::table<2, fp::schema<fp::exact<f::reg0>>, fp::allowed<fp::action_list<output>>>>;
static_assert(std::is_same_v<mac_learn::flow_actions, fp::action_list<output>>);

void install(small& p, std::uint32_t in_port = 9) {
    ASSERT_TRUE(p.table<0>().add(fp::match{}.set(fp::field_id::in_port, in_port), 1, mac_learn_actions{}, {}, 0));
    ASSERT_TRUE(p.table<2>().add(fp::match{}.set(fp::field_id::reg0, 1), 1, fp::action_list<output>{{100}}, {}, 0));
    ASSERT_TRUE(p.table<2>().add(fp::match{}.set(fp::field_id::reg0, 0), 1, fp::action_list<output>{{200}}, {}, 0));
}
} // namespace

TEST(learn, limit_refuses_new_flows_past_n_with_that_cookie_and_result_dst_says_so) {
    small p;
    install(p);
    // A flow with the learned cookie that no learn made counts too (OVS counts by cookie).
    ASSERT_TRUE(p.table<1>().add(fp::match{}.set(fp::field_id::eth_dst, 0x99), 3, fp::action_list<drop>{},
                                 {learned_cookie, 0, 0}, 0));
    frames fr;
    fr.add(eth(9, 0xa1, 0xff));
    fr.add(eth(9, 0xa2, 0xff)); // two with the cookie now: the limit
    fr.add(eth(9, 0xa1, 0xff)); // identical: a refresh, never refused
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    EXPECT_EQ(out.on_port(100).size(), 2u);
    EXPECT_EQ(out.on_port(200).size(), 1u); // 0xa2 refused: result_dst 0
    EXPECT_EQ(p.table<1>().size(), 2u);
    // Once a flow with the cookie goes, learning goes on.
    EXPECT_EQ(p.table<1>().remove(fp::match{}.set(fp::field_id::eth_dst, 0x99), true, 3).count, 1u);
    frames fr2;
    fr2.add(eth(9, 0xa2, 0xff));
    fr2.add(eth(9, 0xa3, 0xff));
    p.run(fr2.pkts, 0, out);
    EXPECT_EQ(out.on_port(100).size(), 1u);
    EXPECT_EQ(out.on_port(200).size(), 1u);
    const auto* f0 = p.table<0>().find_strict(fp::match{}.set(fp::field_id::in_port, 9), 1);
    const auto& st = std::get<0>(std::get<0>(f0->actions).actions).stats();
    EXPECT_EQ(st.added, 2u);
    EXPECT_EQ(st.refreshed, 1u);
    EXPECT_EQ(st.refused_limit, 2u);
    // The learned flows carry the cookie, priority and idle timeout of the learn.
    const auto* lf = p.table<1>().find_strict(fp::match{}.set(fp::field_id::eth_dst, 0xa1), 7);
    ASSERT_NE(lf, nullptr);
    EXPECT_EQ(lf->cookie, learned_cookie);
    EXPECT_EQ(lf->idle_timeout, 60);
    EXPECT_EQ(std::get<0>(std::get<mac_learn::flow_actions>(lf->actions).actions).port, 9u);
}

TEST(learn, a_modify_at_the_limit_is_refused_too_as_in_open_vswitch) {
    small p;
    install(p, 9);
    install(p, 8); // same learn (same cookie), another port
    frames fr;
    fr.add(eth(9, 0xa1, 0xff));
    fr.add(eth(9, 0xa2, 0xff));
    fr.add(eth(8, 0xa1, 0xff)); // 0xa1 moved: a new rule for OVS, and the limit is reached
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    EXPECT_EQ(out.on_port(200).size(), 1u);
    const auto* lf = p.table<1>().find_strict(fp::match{}.set(fp::field_id::eth_dst, 0xa1), 7);
    EXPECT_EQ(std::get<0>(std::get<mac_learn::flow_actions>(lf->actions).actions).port, 9u);
}

TEST(learn, delete_learned_removes_the_learned_flows_with_the_flow_that_learned_them) {
    small p;
    install(p, 9);
    install(p, 8); // a second flow holding the same learn (same table and cookie)
    ASSERT_TRUE(p.table<1>().add(fp::match{}.set(fp::field_id::eth_dst, 0x77), 1, fp::action_list<drop>{}, {0x1}, 0));
    frames fr;
    fr.add(eth(9, 0xa1, 0xff));
    fr.add(eth(8, 0xa2, 0xff));
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    ASSERT_EQ(p.table<1>().size(), 3u);
    // Deleting one holder leaves the other: OVS's count for (table 1, 0x55) is still 1.
    EXPECT_EQ(fp::remove_flows(p, 0, fp::match{}.set(fp::field_id::in_port, 9), true, 1).count, 1u);
    EXPECT_EQ(p.table<1>().size(), 3u);
    // The last one: every flow with the cookie in table 1 goes, others stay.
    EXPECT_EQ(fp::remove_flows(p, 0, fp::match{}, false).count, 1u);
    EXPECT_EQ(p.table<1>().size(), 1u);
    EXPECT_NE(p.table<1>().find_strict(fp::match{}.set(fp::field_id::eth_dst, 0x77), 1), nullptr);
}

TEST(learn, delete_learned_also_when_the_learning_flow_expires) {
    small p;
    ASSERT_TRUE(p.table<0>().add(fp::match{}.set(fp::field_id::in_port, 9), 1, mac_learn_actions{}, {0, 0, 10}, 0));
    frames fr;
    fr.add(eth(9, 0xa1, 0xff));
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    ASSERT_EQ(p.table<1>().size(), 1u);
    EXPECT_EQ(fp::expire_flows(p, 5 * s), 0u);
    EXPECT_EQ(p.table<1>().size(), 1u);
    EXPECT_EQ(fp::expire_flows(p, 10 * s + 1), 1u); // the table-0 flow's hard timeout
    EXPECT_EQ(p.table<1>().size(), 0u);
}

// Flows given as ovs-ofctl text, into a generic pipeline.
namespace {
void add_text(fp::generic_pipeline& p, std::string_view text) {
    const auto fm = fp::ofctl::parse_flow(text);
    ASSERT_TRUE(fm) << text;
    ASSERT_TRUE(p.add(fm->table, fm->m, fm->priority, fm->actions, fm->options(), 0)) << text;
}
} // namespace

// Open vSwitch's delete_learned cascades: a flushed flow that held a
// delete_learned learn itself has its own learned flows flushed in turn
// (the tests/ovs oracle's former "cascade" difference, now agreeing).
TEST(learn, delete_learned_cascades_through_flushed_holders) {
    fp::generic_pipeline p;
    add_text(p, "table=0,priority=10 actions=learn(table=1,delete_learned,cookie=0x1,NXM_OF_ETH_SRC[])");
    add_text(p, "cookie=0x1,table=1,priority=5 actions=learn(table=2,delete_learned,cookie=0x2,NXM_OF_ETH_DST[])");
    add_text(p, "cookie=0x2,table=2,priority=5 actions=drop");
    add_text(p, "cookie=0x3,table=2,priority=6 actions=drop"); // another cookie: stays
    frames fr;
    fr.add(eth(1, 0xa1, 0xb1));
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    ASSERT_EQ(p.table(1).size(), 2u); // the static flow and the learned one
    EXPECT_EQ(fp::remove_flows(p, 0, fp::match{}, true, 10).count, 1u);
    EXPECT_EQ(p.table(0).size(), 0u);
    EXPECT_EQ(p.table(1).size(), 0u);
    EXPECT_EQ(p.table(2).size(), 1u); // cookie 0x2 went with its last holder, 0x3 stays
}

// A learn that rewrites the only flow holding a delete_learned learn drops
// that hold, and Open vSwitch flushes what it learned (the oracle's former
// "replaced-holder" difference).
TEST(learn, a_learn_that_rewrites_the_last_holder_flushes_its_learned_flows) {
    fp::generic_pipeline p;
    add_text(p, "table=0,priority=20,reg3=7 actions=learn(table=1,delete_learned,cookie=0x5,NXM_OF_ETH_SRC[]),"
                "output:3");
    add_text(p, "table=0,priority=10,in_port=1 actions=learn(table=0,priority=20,NXM_NX_REG3[]=7,"
                "load:0x1->NXM_NX_REG0[]),output:3");
    add_text(p, "cookie=0x5,table=1,priority=1 actions=drop");
    frames fr;
    fr.add(eth(1, 0xa1, 0xb1)); // table 0's priority-10 flow rewrites the reg3=7 holder
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    EXPECT_EQ(p.table(0).size(), 2u);
    EXPECT_EQ(p.table(1).size(), 0u);
}

// Open vSwitch's in_port is 16 bits and cannot be masked, nor can nw_ttl:
// NXM_OF_IN_PORT[] is all of in_port (a reserved port its 32-bit self),
// and a spec setting only some bits of such a field is left out of the
// learned match (oracle cases found both).
TEST(learn, learned_matches_on_fields_open_vswitch_cannot_mask) {
    auto learned = [](std::string_view learn_text, const fp::flow_key& k) {
        const auto fm = fp::ofctl::parse_flow("ip actions=" + std::string(learn_text)); // ip: nw_ttl's prerequisite
        EXPECT_TRUE(fm) << learn_text;
        return std::get<fp::actions::generic_learn>(fm->actions.list.at(0)).build_match(k);
    };
    fp::flow_key k{};
    k.in_port = 7;
    k.eth_type = 0x0800;
    k.nw_ttl = 64;
    fp::match m = learned("learn(table=1,NXM_OF_IN_PORT[])", k);
    EXPECT_EQ(m.mask_of(fp::field_id::in_port), 0xffffffffu);
    EXPECT_EQ(m, fp::match{}.set(fp::field_id::in_port, 7)); // the same flow as in_port=7
    k.in_port = fp::ports::local;                            // 0xfffe in 16 bits
    EXPECT_EQ(learned("learn(table=1,NXM_OF_IN_PORT[])", k), fp::match{}.set(fp::field_id::in_port, fp::ports::local));
    EXPECT_EQ(learned("learn(table=1,NXM_OF_IN_PORT[0..14]=0x3,NXM_OF_ETH_SRC[])", k).mask_of(fp::field_id::in_port),
              0u);
    // Bits of an unmaskable field that together cover it do count.
    m = learned("learn(table=1,eth_type=0x800,NXM_NX_IP_TTL[0..3],NXM_NX_IP_TTL[4..7])", k);
    EXPECT_EQ(m.mask_of(fp::field_id::nw_ttl), 0xffu);
    EXPECT_EQ(learned("learn(table=1,eth_type=0x800,NXM_NX_IP_TTL[0..3])", k).mask_of(fp::field_id::nw_ttl), 0u);
    // OXM_OF_IN_PORT[0..15] names the same bits as NXM_OF_IN_PORT[] but is
    // half of the 32-bit OXM in_port: left out, even with its other half
    // (oracle case learn-known/oxm-in_port-bits).
    k.in_port = 7;
    for (const char* spec : {"OXM_OF_IN_PORT[0..15]", "OXM_OF_IN_PORT[0..15]=0x7", "in_port_oxm[0..15]",
                             "OXM_OF_IN_PORT[0..15]=NXM_OF_IN_PORT[]", "OXM_OF_IN_PORT[0..15],OXM_OF_IN_PORT[16..31]",
                             "NXM_OF_IN_PORT[0..7],NXM_OF_IN_PORT[8..15]"})
        EXPECT_EQ(learned(std::string("learn(table=1,") + spec + ")", k), fp::match{}) << spec;
    EXPECT_EQ(learned("learn(table=1,OXM_OF_IN_PORT[])", k), fp::match{}.set(fp::field_id::in_port, 7));
    EXPECT_EQ(learned("learn(table=1,NXM_OF_IN_PORT[0..15])", k), fp::match{}.set(fp::field_id::in_port, 7));
    // printed as Open vSwitch prints them, and read back the same
    for (const char* text :
         {"actions=learn(table=1,OXM_OF_IN_PORT[0..15])", "actions=learn(table=1,OXM_OF_IN_PORT[0..15]=0x3)",
          "actions=learn(table=1,OXM_OF_IN_PORT[0..15]=NXM_NX_REG0[0..15])"}) {
        const auto fm = fp::ofctl::parse_flow(text);
        ASSERT_TRUE(fm) << text;
        EXPECT_EQ(fp::ofctl::format_flow(*fm), text);
    }
}

TEST(learn, typed_learns_on_in_port_bits_0_to_15_learn_all_of_in_port_as_open_vswitch) {
    // NXM_OF_IN_PORT[] is Open vSwitch's whole (16-bit) in_port: the typed
    // learn's flow is in_port=N with every bit of flowpipe's 32-bit field,
    // the same flow as a static in_port=N (which it rewrites), a reserved
    // port its 32-bit self.
    using by_port =
        learn<la::table<1>, la::priority<3>, la::match_field<f::in_port::bits<0, 15>>, la::load_const<1, f::reg0>>;
    using by_const = learn<la::table<1>, la::priority<3>, la::match_const<f::in_port::bits<0, 15>, 0xfffe>,
                           la::load_const<2, f::reg0>>;
    static_assert(std::is_same_v<by_port::flow_actions, fp::action_list<load_to<f::reg0>>>);
    fp::flow_table<fp::schema<fp::exact<f::in_port>>, fp::allowed<by_port::flow_actions>> t;
    ASSERT_TRUE(t.add(fp::match{}.set(fp::field_id::in_port, 7), 3, by_port::flow_actions{{9}}, {}, 0));
    fp::flow_key k{};
    k.in_port = 7;
    EXPECT_EQ(by_port{}.install(t, k, 0), fp::learn_result::modified);
    EXPECT_EQ(t.size(), 1u);
    k.in_port = fp::ports::local;
    EXPECT_EQ(by_port{}.install(t, k, 0), fp::learn_result::added);
    EXPECT_NE(t.find_strict(fp::match{}.set(fp::field_id::in_port, fp::ports::local), 3), nullptr);
    EXPECT_EQ(by_const{}.install(t, fp::flow_key{}, 0), fp::learn_result::modified); // 0xfffe: LOCAL
    EXPECT_EQ(t.size(), 2u);
    // In a generic table the match is the generic learn's.
    fp::flow_table<fp::generic_schema, fp::allowed<by_port::flow_actions>> g;
    k.in_port = 0x1234;
    EXPECT_EQ(by_port{}.install(g, k, 0), fp::learn_result::added);
    const auto* lf = g.find_strict(fp::match{}.set(fp::field_id::in_port, 0x1234), 3);
    ASSERT_NE(lf, nullptr);
    EXPECT_EQ(lf->get_match().mask_of(fp::field_id::in_port), 0xffffffffu);
}

TEST(learn, fin_timeouts_put_a_fin_timeout_action_first_in_the_learned_flow) {
    using L = learn<la::table<1>, la::fin_idle_timeout<5>, la::fin_hard_timeout<10>,
                    la::match_field<f::eth_dst, f::eth_src>, la::load_field<f::in_port, f::reg1>>;
    static_assert(std::is_same_v<L::flow_actions, fp::action_list<fin_timeout, load_to<f::reg1>>>);
    static_assert(L::priority == 0x8000 && L::target_table == 1); // OVS's defaults
    fp::flow_key k{};
    k.in_port = 42;
    const auto a = L::build_actions(k);
    EXPECT_EQ(std::get<0>(a.actions), (fin_timeout{5, 10}));
    EXPECT_EQ(std::get<1>(a.actions).value, 42u);
}

TEST(learn, output_field_accepts_the_ports_open_vswitch_accepts) {
    using fp::detail::learned_output_port;
    EXPECT_EQ(learned_output_port(5, 16), 5u);
    EXPECT_EQ(learned_output_port(0xfeff, 16), 0xfeffu);
    EXPECT_EQ(learned_output_port(0xff00, 16), fp::ports::none);
    EXPECT_EQ(learned_output_port(0xfff8, 16), fp::ports::in_port);
    EXPECT_EQ(learned_output_port(0xfffe, 16), fp::ports::local);
    EXPECT_EQ(learned_output_port(0x10005, 32), fp::ports::none); // high bits set
    EXPECT_EQ(learned_output_port(0x10005, 16), 5u);              // 16 bits: the low 16
}

// ---- the run-time learn, on generic tables ----
namespace {
generic_learn br_tun_generic_learn() {
    using K = learn_spec::kind;
    using fid = fp::field_id;
    learn_description d;
    d.table = 20;
    d.hard_timeout = 300;
    d.priority = 1;
    d.specs = {
        {K::match_field, {fid::vlan_tci, 0, 12}, {fid::vlan_tci, 0, 12}, 0},
        {K::match_field, fp::bit_range::whole(fid::eth_dst), fp::bit_range::whole(fid::eth_src), 0},
        {K::load_const, fp::bit_range::whole(fid::vlan_tci), {}, 0},
        {K::load_field, fp::bit_range::whole(fid::tun_id), fp::bit_range::whole(fid::tun_id), 0},
        {K::output, {}, fp::bit_range{fid::in_port, 0, 16}, 0},
    };
    return generic_learn{d};
}
} // namespace

TEST(learn, generic_learn_builds_the_same_flow_and_forwards_the_same_way) {
    fp::generic_pipeline p;
    fp::match m;
    m.set(fp::field_id::in_port, tun_a);
    ASSERT_TRUE(p.add(0, m, 1, {mod_vlan_vid{lvid}, br_tun_generic_learn(), output{patch_int}}, {}, 0));
    ASSERT_TRUE(
        p.add(0, fp::match{}.set(fp::field_id::in_port, patch_int), 1, {resubmit{fp::ports::in_port, 20}}, {}, 0));
    frames fr;
    fr.add(from_tunnel(tun_a, vm_remote, vm_local));
    fr.add(eth(patch_int, vm_local, vm_remote, 0x1000 | lvid));
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    auto* lf = p.table(20).find_strict(learned_match(vm_remote), 1);
    ASSERT_NE(lf, nullptr);
    EXPECT_EQ(lf->hard_timeout, 300);
    const auto& acts = std::get<fp::generic_actions>(lf->actions);
    EXPECT_EQ(acts, (fp::generic_actions{load{fp::bit_range::whole(fp::field_id::vlan_tci), 0},
                                         load{fp::bit_range::whole(fp::field_id::tun_id), seg}, output{tun_a}}));
    ASSERT_EQ(out.on_port(tun_a).size(), 1u);
    EXPECT_EQ(out.on_port(tun_a)[0].tun_id, seg);
    EXPECT_EQ(key_of(out.on_port(tun_a)[0]).vlan_tci, 0);
    // Relearn: a refresh.
    frames fr2;
    fr2.add(from_tunnel(tun_a, vm_remote, vm_local));
    fp::burst_output out2; // burst_output::finish() keeps a stale group index across runs (reported)
    p.run(fr2.pkts, 100 * s, out2);
    EXPECT_EQ(lf->modified_ms, 100 * s);
    EXPECT_EQ(p.expire(400 * s), 0u);
    EXPECT_EQ(p.expire(400 * s + 1), 1u);
}

TEST(learn, generic_learn_limit_result_dst_and_validation) {
    using K = learn_spec::kind;
    using fid = fp::field_id;
    learn_description d;
    d.table = 1;
    d.limit = 1;
    d.cookie = 3;
    d.result_dst = fp::bit_range{fid::reg0, 0, 1};
    d.specs = {{K::match_field, fp::bit_range::whole(fid::eth_dst), fp::bit_range::whole(fid::eth_src), 0}};
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {generic_learn{d}, resubmit{fp::ports::in_port, 2}}, {}, 0));
    ASSERT_TRUE(p.add(2, fp::match{}.set(fid::reg0, 1), 1, {output{100}}, {}, 0));
    ASSERT_TRUE(p.add(2, fp::match{}.set(fid::reg0, 0), 1, {output{200}}, {}, 0));
    frames fr;
    fr.add(eth(9, 0xa1, 0xff));
    fr.add(eth(9, 0xa2, 0xff));
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    EXPECT_EQ(out.on_port(100).size(), 1u);
    EXPECT_EQ(out.on_port(200).size(), 1u);
    EXPECT_EQ(p.table(1).size(), 1u);

    learn_description bad = d;
    bad.specs = {{K::match_field, fp::bit_range::whole(fid::eth_dst), fp::bit_range::whole(fid::in_port), 0}};
    EXPECT_EQ(p.add(0, fp::match{}, 5, {generic_learn{bad}}, {}, 0).code, fp::flow_mod_errc::bad_action);
    bad = d;
    bad.result_dst = fp::bit_range{fid::reg0, 0, 2};
    EXPECT_EQ(p.add(0, fp::match{}, 5, {generic_learn{bad}}, {}, 0).code, fp::flow_mod_errc::bad_action);
    bad = d;
    bad.specs = {{K::load_const, fp::bit_range{fid::vlan_tci, 0, 12}, {}, 0x1000}};
    EXPECT_EQ(p.add(0, fp::match{}, 5, {generic_learn{bad}}, {}, 0).code, fp::flow_mod_errc::bad_action);
}

TEST(learn, generic_learn_into_a_typed_table_that_takes_run_time_lists_only) {
    // br-tun's typed tables take no generic_actions: the learn fails, counted.
    br_tun p;
    install(p);
    generic_learn g = br_tun_generic_learn();
    struct ctx_t {
        br_tun& p;
        fp::flow_key k;
        br_tun& tables() { return p; }
        std::int64_t now() const { return 0; }
        const fp::flow_key& key() const { return k; }
        fp::flow_key& edit() { return k; }
    } ctx{p, from_tunnel(tun_a, vm_remote, vm_local)};
    g(ctx);
    EXPECT_EQ(g.stats().failed, 1u);
}

// install_burst gives what installing packet by packet gives, including
// bursts that learn a MAC twice, move it, and fill the table.
TEST(learn, install_burst_agrees_with_packet_by_packet_installs) {
    fp::pipeline_config cfg;
    cfg.tables.emplace_back(std::uint8_t{20}, fp::table_config{200, fp::overflow_policy::refuse});
    br_tun a(cfg), b(cfg);
    fp::neutron::learn_ucast la_, lb_;
    std::mt19937_64 rng(11);
    std::vector<fp::learn_result> ra, rb;
    for (int round = 0; round < 40; ++round) {
        std::vector<fp::flow_key> keys;
        const std::size_t n = 1 + rng() % 40;
        for (std::size_t i = 0; i < n; ++i) {
            fp::flow_key k = from_tunnel(rng() % 2 ? tun_a : tun_b, 0x020000000000ULL | (rng() % 300), vm_local);
            k.vlan_tci = static_cast<std::uint16_t>(0x1000 | (1 + rng() % 2));
            keys.push_back(k);
        }
        std::vector<const fp::flow_key*> ptrs;
        for (const auto& k : keys) ptrs.push_back(&k);
        std::vector<fp::learn_result> res(n);
        // The staged path itself: a table this small takes install_burst packet by packet.
        la_.install_burst_exact(a.table<20>(), ptrs.data(), n, round * s, res.data());
        for (std::size_t i = 0; i < n; ++i) {
            ra.push_back(res[i]);
            rb.push_back(lb_.install(b.table<20>(), keys[i], round * s));
        }
    }
    EXPECT_EQ(ra, rb);
    EXPECT_EQ(a.table<20>().size(), b.table<20>().size());
    EXPECT_EQ(la_.stats().failed, lb_.stats().failed);
    EXPECT_GT(la_.stats().failed, 0u); // the table did fill up
    EXPECT_GT(la_.stats().modified, 0u);
    EXPECT_GT(la_.stats().refreshed, 0u);
    a.table<20>().for_each([&](const auto& fa) {
        const auto* fb = b.table<20>().find_strict(fa.get_match(), fa.priority);
        ASSERT_NE(fb, nullptr);
        EXPECT_EQ(fa.actions, fb->actions);
        EXPECT_EQ(fa.modified_ms, fb->modified_ms);
    });
}

namespace {

// ---- the learned match built straight into packed words ----

// build_match packs a typed learn's match without a flow key in between; it
// must give exactly what the reference route (set() into a zeroed key, then
// Schema::pack, masked) gives, for views that imply the VLAN present bit,
// several specs writing one storage field, constants, and schemas that
// cover more or fewer bits than the learn sets.
template <class L, class Schema>
void expect_direct_pack_matches_reference(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 2000; ++i) {
        fp::flow_key k{};
        k.in_port = static_cast<std::uint32_t>(rng());
        k.tun_id = rng();
        k.eth_src = rng() & 0xffffffffffffULL;
        k.eth_dst = rng() & 0xffffffffffffULL;
        k.vlan_tci = static_cast<std::uint16_t>(rng());
        k.regs[0] = static_cast<std::uint32_t>(rng());
        k.regs[1] = static_cast<std::uint32_t>(rng());
        typename Schema::key_type v1, m1, v2, m2;
        L::template build_match<Schema>(k, v1, m1);
        L::template build_match_via_key<Schema>(k, v2, m2);
        ASSERT_EQ(v1, v2) << "packet " << i;
        ASSERT_EQ(m1, m2) << "packet " << i;
    }
}

TEST(learn, direct_match_pack_agrees_with_the_flow_key_route) {
    using table20_schema = std::remove_reference_t<decltype(std::declval<br_tun&>().table<20>())>::schema_type;
    expect_direct_pack_matches_reference<fp::neutron::learn_ucast, table20_schema>(1);
    // The dvr br-tun's table 20 matches the whole vlan_tci, masked.
    expect_direct_pack_matches_reference<fp::neutron::learn_ucast,
                                         fp::schema<fp::masked<f::vlan_tci>, fp::exact<f::eth_dst>>>(2);
    // dl_vlan implies the present bit; vlan_pcp writes the same storage; a
    // constant into a register; a schema wider than what is learned.
    using L = learn<la::table<1>, la::match_field<f::dl_vlan>, la::match_field<f::vlan_pcp>,
                    la::match_field<f::eth_dst, f::eth_src>, la::match_const<f::reg0::bits<4, 11>, 0x5a>,
                    la::match_field<f::reg1::bits<8, 15>, f::in_port::bits<0, 7>>, la::output_field<f::in_port>>;
    expect_direct_pack_matches_reference<L,
                                         fp::schema<fp::masked<f::vlan_tci>, fp::exact<f::eth_dst>, fp::masked<f::reg0>,
                                                    fp::masked<f::reg1>, fp::exact<f::eth_type>>>(3);
    expect_direct_pack_matches_reference<L, fp::schema<fp::exact<f::dl_vlan>, fp::exact<f::eth_dst>>>(4);
    // A learn whose specs overlap: the later one wins, as in set() order.
    using O = learn<la::table<1>, la::match_field<f::vlan_tci>, la::match_const<f::dl_vlan, 7>>;
    expect_direct_pack_matches_reference<O, fp::schema<fp::masked<f::vlan_tci>>>(5);
}

// install_burst picks the staged path for a table past the threshold, and
// the results stay those of packet-by-packet installs.
TEST(learn, install_burst_in_a_big_table_agrees_with_packet_by_packet_installs) {
    using L = fp::neutron::learn_ucast;
    const std::size_t prefill = L::staged_learn_threshold + 100;
    fp::pipeline_config cfg;
    cfg.tables.emplace_back(std::uint8_t{20}, fp::table_config{prefill + 3000, fp::overflow_policy::refuse});
    br_tun a(cfg), b(cfg);
    L la_, lb_;
    for (std::size_t i = 0; i < prefill; ++i) {
        fp::flow_key k = from_tunnel(tun_a, 0x020000000000ULL | i, vm_local);
        k.vlan_tci = 0x1001;
        ASSERT_EQ(la_.install(a.table<20>(), k, 0), fp::learn_result::added);
        ASSERT_EQ(lb_.install(b.table<20>(), k, 0), fp::learn_result::added);
    }
    std::mt19937_64 rng(5);
    std::vector<fp::learn_result> ra, rb;
    for (int round = 0; round < 100; ++round) {
        std::vector<fp::flow_key> keys(32);
        for (auto& k : keys) {
            k = from_tunnel(rng() % 2 ? tun_a : tun_b, 0x020000000000ULL | (rng() % (prefill + 1000)), vm_local);
            k.vlan_tci = 0x1001;
        }
        std::vector<const fp::flow_key*> ptrs;
        for (const auto& k : keys) ptrs.push_back(&k);
        std::vector<fp::learn_result> res(keys.size());
        la_.install_burst(a.table<20>(), ptrs.data(), keys.size(), round * s, res.data());
        for (std::size_t i = 0; i < keys.size(); ++i) {
            ra.push_back(res[i]);
            rb.push_back(lb_.install(b.table<20>(), keys[i], round * s));
        }
    }
    EXPECT_EQ(ra, rb);
    EXPECT_GT(la_.stats().added, prefill);
    EXPECT_GT(la_.stats().modified, 0u);
    EXPECT_GT(la_.stats().refreshed, 0u);
    EXPECT_EQ(a.table<20>().size(), b.table<20>().size());
}

// install_burst into a table that keeps the learn's flows as records
// (br_tun_core's table 20) against install() packet by packet into the plain
// exact table it stands for: bursts that add, re-learn, move MACs to another
// tunnel or to a tun_id past 32 bits, learn one MAC twice in a burst, and
// fill the table; with and without a limit; a small table and one past
// staged_learn_threshold; the small table's clock moving on past the hard
// timeout, with expiry, and out of the store's time window. Every result,
// flow, time and counter the same. (The store takes most learns on its fast
// path, from the key's home bucket; the rest go through a full probe. Bursts
// with room for all their learns, no limit and the clock in the window take
// it with those checked once per burst, the rest per learn.)
TEST(learn, install_burst_into_the_store_agrees_with_installs_into_a_plain_table) {
    using L = fp::neutron::learn_ucast;
    using table_20 = std::remove_reference_t<decltype(std::declval<br_tun&>().table<20>())>;
    static_assert(table_20::store_mode);
    using plain_20 = fp::flow_table<table_20::schema_type, table_20::allowed_type>;
    for (const std::size_t size : {std::size_t{150}, L::staged_learn_threshold + 2000}) {
        for (const bool limited : {false, true}) {
            SCOPED_TRACE(testing::Message() << "size " << size << (limited ? ", limited" : ""));
            const fp::table_config cfg{size, fp::overflow_policy::refuse};
            table_20 a(cfg, 20);
            plain_20 b(cfg, 20);
            L la_, lb_;
            if (limited) la_.limit = lb_.limit = static_cast<std::uint32_t>(size - size / 16);
            std::mt19937_64 rng(size + limited);
            const std::uint64_t macs = size + size / 4; // more than fit
            auto key_of = [&](std::uint64_t mac) {
                fp::flow_key k = from_tunnel(rng() % 2 ? tun_a : tun_b, 0x020000000000ULL | mac, vm_local);
                if (rng() % 16 == 0) k.tun_id = (std::uint64_t{1} << 32) | seg; // spills
                k.vlan_tci = static_cast<std::uint16_t>(0x1000 | (1 + rng() % 2));
                return k;
            };
            if (size > L::staged_learn_threshold) // most of the table full before the bursts
                for (std::uint64_t mac = 0; mac < size - 1000; ++mac) {
                    const fp::flow_key k = key_of(mac);
                    ASSERT_EQ(la_.install(a, k, 0), lb_.install(b, k, 0));
                }
            std::vector<fp::learn_result> ra, rb;
            std::int64_t now = 0;
            for (int round = 0; round < 300; ++round) {
                std::vector<fp::flow_key> keys;
                const std::size_t n = 1 + rng() % 40;
                for (std::size_t i = 0; i < n; ++i) {
                    fp::flow_key k = key_of(rng() % macs);
                    if (i > 0 && rng() % 4 == 0) { // a MAC of this burst again, maybe moved
                        const fp::flow_key& e = keys[rng() % i];
                        k.eth_src = e.eth_src;
                        k.vlan_tci = e.vlan_tci;
                    }
                    keys.push_back(k);
                }
                std::vector<const fp::flow_key*> ptrs;
                for (const auto& k : keys) ptrs.push_back(&k);
                std::vector<fp::learn_result> res(n);
                // (The big table is to fill: its clock stays within the hard timeout.)
                now += rng() % 4 == 0 ? (size > L::staged_learn_threshold ? s : 60 * s) : 1;
                // Three times, the small table's clock leaves the store's
                // 32-bit window: the burst's learns rebase it.
                if (size < L::staged_learn_threshold && round % 100 == 50) now += std::int64_t{1} << 32;
                la_.install_burst(a, ptrs.data(), n, now, res.data());
                for (std::size_t i = 0; i < n; ++i) {
                    ra.push_back(res[i]);
                    rb.push_back(lb_.install(b, keys[i], now));
                }
                if (round % 25 == 24) {
                    EXPECT_EQ(a.expire(now), b.expire(now));
                }
            }
            EXPECT_EQ(ra, rb);
            for (const auto r : {fp::learn_result::added, fp::learn_result::refreshed, fp::learn_result::modified}) {
                EXPECT_GT(std::count(ra.begin(), ra.end(), r), 0) << static_cast<int>(r);
            }
            // The table fills, or the limit refuses first.
            EXPECT_EQ(!limited, std::count(ra.begin(), ra.end(), fp::learn_result::failed) > 0);
            EXPECT_EQ(limited, std::count(ra.begin(), ra.end(), fp::learn_result::refused_limit) > 0);
            EXPECT_EQ(la_.stats().added, lb_.stats().added);
            EXPECT_EQ(la_.stats().refreshed, lb_.stats().refreshed);
            EXPECT_EQ(la_.stats().modified, lb_.stats().modified);
            EXPECT_EQ(la_.stats().refused_limit, lb_.stats().refused_limit);
            EXPECT_EQ(la_.stats().failed, lb_.stats().failed);
            EXPECT_GT(a.store().stats().spilled, 0u);
            EXPECT_EQ(a.store().stats().rebased > 0, size < L::staged_learn_threshold);
            ASSERT_EQ(a.size(), b.size());
            std::size_t compared = 0;
            a.for_each([&](const auto& fa) { // (a copy of each record's flow)
                const auto* fb = b.find_strict(fa.get_match(), fa.priority);
                ASSERT_NE(fb, nullptr);
                EXPECT_EQ(fa.actions, fb->actions);
                EXPECT_EQ(fa.cookie, fb->cookie);
                EXPECT_EQ(fa.created_ms, fb->created_ms);
                EXPECT_EQ(fa.modified_ms, fb->modified_ms);
                EXPECT_EQ(fa.used_ms, fb->used_ms);
                EXPECT_EQ(fa.n_packets, fb->n_packets);
                ++compared;
            });
            EXPECT_EQ(compared, b.size());
        }
    }
}

// A burst into a store that holds the flows of another cookie (the same
// learn with another cookie learned first): the store does not take the
// burst's learns, which go to the table's slab one by one, and re-learns of
// the other cookie's MACs take them over (a strict modify: the cookie
// changes). Every result, flow and cookie as in the plain table.
TEST(learn, install_burst_into_a_store_of_another_cookie_agrees_with_a_plain_table) {
    using L = fp::neutron::learn_ucast;
    using table_20 = std::remove_reference_t<decltype(std::declval<br_tun&>().table<20>())>;
    using plain_20 = fp::flow_table<table_20::schema_type, table_20::allowed_type>;
    const fp::table_config cfg{200, fp::overflow_policy::refuse};
    table_20 a(cfg, 20);
    plain_20 b(cfg, 20);
    L first_a, first_b, second_a, second_b;
    first_a.cookie = first_b.cookie = 0x1;
    second_a.cookie = second_b.cookie = 0x2;
    auto key_of = [](std::uint64_t mac) {
        fp::flow_key k = from_tunnel(tun_a, 0x020000000000ULL | mac, vm_local);
        k.vlan_tci = 0x1000 | lvid;
        return k;
    };
    for (std::uint64_t mac = 0; mac < 40; ++mac)
        ASSERT_EQ(first_a.install(a, key_of(mac), 0), first_b.install(b, key_of(mac), 0));
    ASSERT_EQ(a.store().size(), 40u);
    std::mt19937_64 rng(3);
    std::vector<fp::learn_result> ra, rb;
    for (std::int64_t now = 1; now <= 20; ++now) {
        std::vector<fp::flow_key> keys;
        for (int i = 0; i < 16; ++i) keys.push_back(key_of(rng() % 80)); // half the first cookie's MACs
        std::vector<const fp::flow_key*> ptrs;
        for (const auto& k : keys) ptrs.push_back(&k);
        std::vector<fp::learn_result> res(keys.size());
        second_a.install_burst(a, ptrs.data(), keys.size(), now, res.data());
        for (std::size_t i = 0; i < keys.size(); ++i) {
            ra.push_back(res[i]);
            rb.push_back(second_b.install(b, keys[i], now));
        }
    }
    EXPECT_EQ(ra, rb);
    EXPECT_GT(second_a.stats().added, 0u);
    EXPECT_GT(second_a.stats().modified, 0u); // the first cookie's flows taken over
    EXPECT_EQ(a.store().cookie(), 0x1u);
    ASSERT_EQ(a.size(), b.size());
    b.for_each([&](const auto& fb) {
        const auto* fa = a.find_strict(fb.get_match(), fb.priority);
        ASSERT_NE(fa, nullptr);
        EXPECT_EQ(fa->cookie, fb.cookie);
        EXPECT_EQ(fa->actions, fb.actions);
        EXPECT_EQ(fa->modified_ms, fb.modified_ms);
    });
}

// The store's values taken straight from a packet's key (the fast path's
// learned_store::values_of_key) are those of the action list the learn
// builds from it: for every 16-bit in_port (the reserved ones 0xff00.. too)
// and some wider, with tun_ids that fit a lane and some that do not.
TEST(learn, store_values_from_the_key_are_those_of_the_built_actions) {
    using L = fp::neutron::learn_ucast;
    using store_t = std::remove_reference_t<decltype(std::declval<br_tun&>().table<20>())>::store_type;
    std::mt19937_64 rng(7);
    std::size_t unfit = 0;
    for (std::uint32_t port = 0; port < 0x10000 + 64; ++port) {
        fp::flow_key k = from_tunnel(port < 0x10000 ? port : static_cast<std::uint32_t>(rng()), vm_remote, vm_local);
        k.tun_id = rng() % 4 == 0 ? rng() : rng() & 0xffffffffu;
        store_t::values_type a{}, b{};
        const bool fit_a = store_t::values_of_key(k, a);
        const bool fit_b = store_t::values_of(L::build_actions(k), b);
        ASSERT_EQ(fit_a, fit_b) << "in_port " << k.in_port;
        ASSERT_EQ(a, b) << "in_port " << k.in_port;
        unfit += !fit_a;
    }
    EXPECT_GT(unfit, 0u);
}

// A small store table kept near full while MACs come and go, so that home
// buckets and the ones after them overflow: every learn must find its key,
// or the free slot for it, exactly as the plain table does, whether the
// home bucket settles it, the home bucket and the next (the fast path's
// second try), or only the full probe.
TEST(learn, a_full_store_with_long_probe_chains_agrees_with_a_plain_table) {
    using L = fp::neutron::learn_ucast;
    using table_20 = std::remove_reference_t<decltype(std::declval<br_tun&>().table<20>())>;
    using plain_20 = fp::flow_table<table_20::schema_type, table_20::allowed_type>;
    for (const std::size_t size : {std::size_t{30}, std::size_t{64}, std::size_t{200}}) {
        SCOPED_TRACE(testing::Message() << "size " << size);
        const fp::table_config cfg{size, fp::overflow_policy::refuse};
        table_20 a(cfg, 20);
        plain_20 b(cfg, 20);
        L la_, lb_;
        std::mt19937_64 rng(size);
        std::map<fp::learn_result, std::size_t> seen;
        std::size_t removed = 0;
        for (std::int64_t step = 0; step < 20000; ++step) {
            const std::uint64_t mac = 0x020000000000ULL | (rng() % (2 * size));
            if (rng() % 3 == 0) {
                const auto ra = a.remove(learned_match(mac), true, L::priority);
                const auto rb = b.remove(learned_match(mac), true, L::priority);
                ASSERT_EQ(ra.count, rb.count) << "step " << step;
                removed += ra.count;
                continue;
            }
            fp::flow_key k = from_tunnel(rng() % 2 ? tun_a : tun_b, mac, vm_local);
            k.vlan_tci = 0x1000 | lvid; // (tagged by table 4)
            const fp::learn_result r = la_.install(a, k, step);
            ASSERT_EQ(r, lb_.install(b, k, step)) << "step " << step;
            ++seen[r];
        }
        ASSERT_EQ(a.size(), b.size());
        b.for_each([&](const auto& fb) {
            const auto* fa = a.find_strict(fb.get_match(), fb.priority);
            ASSERT_NE(fa, nullptr);
            EXPECT_EQ(fa->actions, fb.actions);
        });
        for (const auto r : {fp::learn_result::added, fp::learn_result::refreshed, fp::learn_result::modified,
                             fp::learn_result::failed})
            EXPECT_GT(seen[r], 0u) << static_cast<int>(r);
        EXPECT_GT(removed, 0u);
    }
}

// install_burst against packet-by-packet installs in tables that evict when
// full, with bursts that repeat and move MACs, and a limit: every result,
// every flow and every counter the same.
TEST(learn, install_burst_agrees_in_evicting_and_limited_tables) {
    for (const bool limited : {false, true}) {
        fp::pipeline_config cfg;
        cfg.tables.emplace_back(std::uint8_t{20}, fp::table_config{64, fp::overflow_policy::evict});
        br_tun a(cfg), b(cfg);
        fp::neutron::learn_ucast la_, lb_;
        if (limited) la_.limit = lb_.limit = 40;
        std::mt19937_64 rng(limited ? 21 : 22);
        std::vector<fp::learn_result> ra, rb;
        for (int round = 0; round < 200; ++round) {
            std::vector<fp::flow_key> keys;
            const std::size_t n = 1 + rng() % 48;
            for (std::size_t i = 0; i < n; ++i) {
                fp::flow_key k = from_tunnel(rng() % 2 ? tun_a : tun_b, 0x020000000000ULL | (rng() % 120), vm_local);
                k.vlan_tci = static_cast<std::uint16_t>(0x1000 | (1 + rng() % 2));
                keys.push_back(k);
            }
            std::vector<const fp::flow_key*> ptrs;
            for (const auto& k : keys) ptrs.push_back(&k);
            std::vector<fp::learn_result> res(n);
            // Time moves on, so flows expire and the table evicts by expiry.
            const std::int64_t now = round * 20 * s;
            la_.install_burst_exact(a.table<20>(), ptrs.data(), n, now, res.data());
            for (std::size_t i = 0; i < n; ++i) {
                ra.push_back(res[i]);
                rb.push_back(lb_.install(b.table<20>(), keys[i], now));
            }
            if (round % 50 == 49) {
                EXPECT_EQ(a.expire(now), b.expire(now));
            }
        }
        EXPECT_EQ(ra, rb);
        EXPECT_EQ(a.table<20>().size(), b.table<20>().size());
        EXPECT_EQ(a.table<20>().stats().evicted, b.table<20>().stats().evicted);
        EXPECT_EQ(la_.stats().added, lb_.stats().added);
        EXPECT_EQ(la_.stats().refused_limit, lb_.stats().refused_limit);
        if (limited)
            EXPECT_GT(la_.stats().refused_limit, 0u);
        else
            EXPECT_GT(a.table<20>().stats().evicted, 0u);
        a.table<20>().for_each([&](const auto& fa) {
            const auto* fb = b.table<20>().find_strict(fa.get_match(), fa.priority);
            ASSERT_NE(fb, nullptr);
            EXPECT_EQ(fa.actions, fb->actions);
            EXPECT_EQ(fa.created_ms, fb->created_ms);
            EXPECT_EQ(fa.modified_ms, fb->modified_ms);
        });
    }
}

} // namespace

// limit=N counts the flows that carry the learn's cookie now. A flow that
// another learn (with another cookie) took over no longer counts, even
// though the table holds the same flows: its limit must see that. (The
// count was cached on the table's flow set alone, and the learn refused.)
TEST(learn, a_limit_stops_counting_a_flow_another_learn_took_over) {
    using table_20 = std::remove_reference_t<decltype(std::declval<br_tun&>().table<20>())>;
    fp::flow_table<table_20::schema_type, table_20::allowed_type> t(fp::table_config{100}, 20);
    fp::neutron::learn_ucast limited, other;
    limited.cookie = 5;
    limited.limit = 2;
    const fp::flow_key a = from_tunnel(tun_a, 0x020000000001ULL, vm_local);
    const fp::flow_key b = from_tunnel(tun_a, 0x020000000002ULL, vm_local);
    const fp::flow_key c = from_tunnel(tun_a, 0x020000000003ULL, vm_local);
    EXPECT_EQ(limited.install(t, a, 0), fp::learn_result::added);
    EXPECT_EQ(limited.install(t, b, 0), fp::learn_result::added);
    EXPECT_EQ(limited.install(t, c, 0), fp::learn_result::refused_limit); // 2 flows with cookie 5
    EXPECT_EQ(other.install(t, a, s), fp::learn_result::modified);        // a's flow now has cookie 0
    EXPECT_EQ(limited.install(t, c, 2 * s), fp::learn_result::added);     // 1 flow with cookie 5: room for c
    EXPECT_EQ(limited.install(t, a, 3 * s), fp::learn_result::refused_limit);
    EXPECT_EQ(t.size(), 3u);
}

// br_tun_core's table 20 keeps learned flows as records; its public lookups
// return flows, so a record they find becomes an ordinary flow, once, even
// when a burst looks its key up twice.
TEST(learn, a_burst_lookup_of_a_learned_key_twice_finds_one_flow) {
    br_tun p;
    auto& t = p.table<20>();
    fp::neutron::learn_ucast l;
    fp::flow_key k = from_tunnel(tun_a, 0x020000000009ULL, vm_local);
    k.vlan_tci = 0x1000 | lvid; // (table 4's mod_vlan_vid)
    ASSERT_EQ(l.install(t, k, 0), fp::learn_result::added);
    ASSERT_EQ(t.store().size(), 1u);
    fp::flow_key lookup{};
    lookup.vlan_tci = 0x1000 | lvid;
    lookup.eth_dst = 0x020000000009ULL;
    const fp::flow_key* keys[] = {&lookup, &lookup};
    std::remove_reference_t<decltype(t)>::flow_type* out[2];
    t.lookup_burst(keys, 2, out);
    ASSERT_NE(out[0], nullptr);
    EXPECT_EQ(out[0], out[1]);
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.store().size(), 0u);
    EXPECT_EQ(out[0]->priority, 1);
    EXPECT_EQ(out[0]->hard_timeout, 300);
    EXPECT_EQ(l.install(t, k, s), fp::learn_result::refreshed); // the flow, as the record was
    EXPECT_EQ(out[0]->modified_ms, s);
}
