// Pipeline semantics (Open vSwitch 3.1's ofproto-dpif-xlate rules) on real
// frames, through the generic pipeline and through the typed br-tun core.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/neutron/br_tun.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <vector>

namespace fp = flowpipe;
using namespace fp::actions;
using fp::test::eth;
using fp::test::frames;
using fp::test::key_of;

namespace {

fp::match in_port_is(std::uint32_t p) {
    fp::match m;
    m.set(fp::field_id::in_port, p);
    return m;
}

fp::generic_actions resub(std::uint8_t t) { return {resubmit{fp::ports::in_port, t}}; }

} // namespace

TEST(pipeline, resubmit_returns_and_later_actions_run) {
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {resubmit{fp::ports::in_port, 1}, output{2}}, {}, 0));
    ASSERT_TRUE(p.add(1, fp::match{}, 0, {output{3}}, {}, 0));
    frames f;
    f.add(eth(1, 0xa, 0xb));
    fp::burst_output out;
    p.run(f.pkts, 0, out);
    ASSERT_EQ(out.outputs().size(), 2u);
    EXPECT_EQ(out.outputs()[0].port, 3u); // table 1's output comes first
    EXPECT_EQ(out.outputs()[1].port, 2u);
    EXPECT_EQ(out.counters().transmitted, 2u);
}

TEST(pipeline, miss_drops_and_a_miss_after_resubmit_returns) {
    fp::generic_pipeline p;
    frames f;
    f.add(eth(1, 0xa, 0xb));
    fp::burst_output out;
    p.run(f.pkts, 0, out);
    EXPECT_EQ(out.counters().dropped, 1u);
    EXPECT_EQ(out.dropped().size(), 1u);
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {resubmit{fp::ports::in_port, 7}, output{5}}, {}, 0));
    p.run(f.pkts, 0, out);
    ASSERT_EQ(out.outputs().size(), 1u);
    EXPECT_EQ(out.outputs()[0].port, 5u);
}

TEST(pipeline, output_to_in_port_is_dropped_unless_in_port_action) {
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, in_port_is(1), 1, {output{1}}, {}, 0));
    ASSERT_TRUE(p.add(0, in_port_is(2), 1, {in_port{}}, {}, 0));
    frames f;
    f.add(eth(1, 0xa, 0xb));
    f.add(eth(2, 0xa, 0xb));
    fp::burst_output out;
    p.run(f.pkts, 0, out);
    ASSERT_EQ(out.outputs().size(), 1u);
    EXPECT_EQ(out.outputs()[0].port, 2u);
    EXPECT_EQ(out.counters().dropped, 1u);
}

TEST(pipeline, depth_over_64_drops_the_whole_packet_including_earlier_outputs) {
    fp::generic_pipeline p;
    // Each pass outputs and resubmits to the same table: the 65th nested
    // resubmit to a table not after the current one fails.
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {output{9}, resubmit{fp::ports::in_port, 0}}, {}, 0));
    frames f;
    f.add(eth(1, 0xa, 0xb));
    fp::burst_output out;
    p.run(f.pkts, 0, out);
    EXPECT_EQ(out.outputs().size(), 0u);
    EXPECT_EQ(out.counters().too_deep, 1u);
    EXPECT_EQ(out.counters().dropped, 1u);
}

TEST(pipeline, forward_resubmits_do_not_deepen_but_4096_resubmits_are_the_cap) {
    // 16 forward resubmits from each of tables 0..2 fan out to 16^3 = 4096
    // lookups of table 3, plus 16 + 256 earlier ones: over the cap.
    auto build = [](fp::generic_pipeline& p, int fan) {
        for (std::uint8_t t = 0; t < 3; ++t) {
            fp::generic_actions a;
            for (int i = 0; i < fan; ++i)
                a.list.push_back(resubmit{fp::ports::in_port, static_cast<std::uint8_t>(t + 1)});
            ASSERT_TRUE(p.add(t, fp::match{}, 0, a, {}, 0));
        }
        ASSERT_TRUE(p.add(3, fp::match{}, 0, {output{4}}, {}, 0));
    };
    {
        fp::generic_pipeline p;
        build(p, 16);
        frames f;
        f.add(eth(1, 0xa, 0xb));
        fp::burst_output out;
        p.run(f.pkts, 0, out);
        EXPECT_EQ(out.counters().too_deep, 1u);
        EXPECT_EQ(out.outputs().size(), 0u);
    }
    {
        // 15^3 + 15^2 + 15 = 3615 resubmits: under the cap, and 70 levels of
        // forward resubmits would be fine too (they do not deepen).
        fp::generic_pipeline p;
        build(p, 15);
        frames f;
        f.add(eth(1, 0xa, 0xb));
        fp::burst_output out(fp::burst_output::config{.max_clones = 4096, .max_outputs = 4096});
        p.run(f.pkts, 0, out);
        EXPECT_EQ(out.counters().too_deep, 0u);
        EXPECT_EQ(out.on_port(4).size(), 3375u);
    }
    {
        fp::generic_pipeline p;
        for (std::uint8_t t = 0; t < 100; ++t) ASSERT_TRUE(p.add(t, fp::match{}, 0, resub(t + 1), {}, 0));
        ASSERT_TRUE(p.add(100, fp::match{}, 0, {output{4}}, {}, 0));
        frames f;
        f.add(eth(1, 0xa, 0xb));
        fp::burst_output out;
        p.run(f.pkts, 0, out);
        EXPECT_EQ(out.on_port(4).size(), 1u);
    }
}

TEST(pipeline, each_output_sees_the_packet_as_modified_so_far) {
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, fp::match{}, 0,
                      {output{1}, mod_vlan_vid{7}, set_tunnel{5}, output{2}, set_tunnel{6}, strip_vlan{},
                       mod_dl_dst{0x020000000001ULL}, output{3}},
                      {}, 0));
    frames f;
    f.add(eth(9, 0xa, 0xb));
    fp::burst_output out;
    p.run(f.pkts, 0, out);
    ASSERT_EQ(out.outputs().size(), 3u);
    const auto k1 = key_of(out.on_port(1)[0]);
    const auto k2 = key_of(out.on_port(2)[0]);
    const auto k3 = key_of(out.on_port(3)[0]);
    EXPECT_EQ(k1.vlan_tci, 0);
    EXPECT_EQ(k1.eth_dst, 0xbu);
    EXPECT_EQ(k2.vlan_tci, 0x1007);
    EXPECT_EQ(out.on_port(2)[0].tun_id, 5u);
    EXPECT_EQ(k3.vlan_tci, 0);
    EXPECT_EQ(k3.eth_dst, 0x020000000001ULL);
    EXPECT_EQ(out.on_port(3)[0].tun_id, 6u);
    // Two clones, then the driver's own buffer last.
    EXPECT_EQ(out.on_port(1)[0].cookie, fp::clone_cookie);
    EXPECT_EQ(out.on_port(2)[0].cookie, fp::clone_cookie);
    EXPECT_NE(out.on_port(3)[0].cookie, fp::clone_cookie);
    EXPECT_EQ(out.dropped().size(), 0u);
}

// More outputs than a run holds: the ones past it are counted, and every
// frame whose own output did not fit still goes back to its driver (it used
// to be neither sent nor returned).
TEST(pipeline, outputs_past_the_runs_room_are_counted_and_every_buffer_comes_back) {
    for (const bool cached : {false, true}) {
        fp::generic_pipeline p(fp::table_config{}, cached ? 64 : 0);
        ASSERT_TRUE(p.add(0, fp::match{}, 0, {output{2}, output{3}, output{4}}, {}, 0));
        fp::burst_output out(fp::burst_output::config{.max_outputs = 8});
        for (int round = 0; round < 2; ++round) { // the second round replays from the cache
            frames f;
            for (std::uint64_t i = 0; i < 5; ++i) f.add(eth(1, 0xa, 0xb + i)).cookie = 100 + i; // buffer ids
            p.run(f.pkts, 0, out);
            EXPECT_EQ(out.counters().output_overflow, 7u * (round + 1));
            ASSERT_EQ(out.outputs().size(), 8u);
            // Each frame's buffer is either sent (its last output) or returned, once.
            std::vector<std::uint64_t> buffers;
            for (const auto& t : out.outputs())
                if (t.pkt.cookie != fp::clone_cookie) buffers.push_back(t.pkt.cookie);
            for (const fp::packet& d : out.dropped()) buffers.push_back(d.cookie);
            std::sort(buffers.begin(), buffers.end());
            std::vector<std::uint64_t> want;
            for (const fp::packet& q : f.pkts) want.push_back(q.cookie);
            std::sort(want.begin(), want.end());
            EXPECT_EQ(buffers, want) << "cached " << cached << " round " << round;
        }
    }
}

TEST(pipeline, resubmit_with_in_port_changes_it_for_the_lookup_only) {
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, in_port_is(1), 1, {resubmit{5, 1}}, {}, 0));
    // In table 1 the lookup sees in_port 5; the action then outputs to 5,
    // which is not the packet's in_port any more (1 was restored): it goes out.
    ASSERT_TRUE(p.add(1, in_port_is(5), 1, {output{5}, output{1}}, {}, 0));
    frames f;
    f.add(eth(1, 0xa, 0xb));
    fp::burst_output out;
    p.run(f.pkts, 0, out);
    ASSERT_EQ(out.outputs().size(), 1u);
    EXPECT_EQ(out.outputs()[0].port, 5u); // output:1 was skipped: 1 is the in_port again
}

TEST(pipeline, goto_table_must_go_forward) {
    fp::generic_pipeline p;
    auto st = p.add(3, fp::match{}, 0, {goto_table{2}}, {}, 0);
    EXPECT_EQ(st.code, fp::flow_mod_errc::bad_action);
    EXPECT_STREQ(st.what(), "goto_table must go to a later table");
    EXPECT_EQ(p.add(3, fp::match{}, 0, {goto_table{4}, output{1}}, {}, 0).code, fp::flow_mod_errc::bad_action);
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {set_tunnel{9}, goto_table{4}}, {}, 0));
    ASSERT_TRUE(p.add(4, fp::match{}, 0, {output{2}}, {}, 0));
    frames f;
    f.add(eth(1, 0xa, 0xb));
    fp::burst_output out;
    p.run(f.pkts, 0, out);
    ASSERT_EQ(out.on_port(2).size(), 1u);
    EXPECT_EQ(out.on_port(2)[0].tun_id, 9u);
}

TEST(pipeline, bad_moves_and_loads_are_refused_at_install) {
    fp::generic_pipeline p;
    const fp::bit_range mac = fp::bit_range::whole(fp::field_id::eth_src);
    const fp::bit_range ip = fp::bit_range::whole(fp::field_id::arp_spa);
    EXPECT_EQ(p.add(0, fp::match{}, 0, {move{mac, ip}}, {}, 0).code, fp::flow_mod_errc::bad_action);
    EXPECT_EQ(p.add(0, fp::match{}, 0, {load{fp::bit_range{fp::field_id::vlan_tci, 0, 12}, 0x1000}}, {}, 0).code,
              fp::flow_mod_errc::bad_action);
    EXPECT_EQ(p.add(0, fp::match{}, 0, {load{fp::bit_range{fp::field_id::vlan_tci, 8, 12}, 1}}, {}, 0).code,
              fp::flow_mod_errc::bad_action);
}

TEST(pipeline, dec_ttl_stops_an_expiring_packet) {
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {dec_ttl{}, output{2}}, {}, 0));
    frames f;
    auto k = eth(1, 0xa, 0xb);
    f.add(k);
    k.nw_ttl = 1;
    f.add(k);
    fp::burst_output out;
    p.run(f.pkts, 0, out);
    ASSERT_EQ(out.on_port(2).size(), 1u);
    EXPECT_EQ(key_of(out.on_port(2)[0]).nw_ttl, 63);
    EXPECT_EQ(out.counters().dropped, 1u);
}

TEST(pipeline, dec_ttl_ends_only_the_current_action_list) {
    // Open vSwitch: an expiring TTL returns from the flow's action list; the
    // list that resubmitted to it goes on, and earlier outputs stay.
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {resubmit{fp::ports::in_port, 1}, output{3}}, {}, 0));
    ASSERT_TRUE(p.add(1, fp::match{}, 0, {output{2}, dec_ttl{}, output{4}}, {}, 0));
    frames f;
    auto k = eth(1, 0xa, 0xb);
    k.nw_ttl = 1;
    f.add(k);
    fp::burst_output out;
    p.run(f.pkts, 0, out);
    EXPECT_EQ(out.on_port(2).size(), 1u);
    EXPECT_EQ(out.on_port(3).size(), 1u);
    EXPECT_EQ(out.on_port(4).size(), 0u);
}

TEST(pipeline, controller_hook_sees_the_edited_key) {
    struct hooks {
        std::vector<fp::flow_key> seen;
        void controller(const fp::packet&, const fp::flow_key& k, std::uint16_t) { seen.push_back(k); }
    } h;
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {set_tunnel{42}, controller{}}, {}, 0));
    frames f;
    f.add(eth(1, 0xa, 0xb));
    fp::burst_output out;
    p.run(f.pkts, 0, out, h);
    ASSERT_EQ(h.seen.size(), 1u);
    EXPECT_EQ(h.seen[0].tun_id, 42u);
    EXPECT_EQ(out.counters().to_controller, 1u);
}

TEST(pipeline, truncated_frames_are_dropped_and_counted_never_read_past_their_end) {
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {output{2}}, {}, 0));
    std::vector<std::unique_ptr<std::uint8_t[]>> bufs;
    std::vector<fp::packet> pkts;
    for (std::uint32_t len : {0u, 1u, 13u}) {
        bufs.push_back(std::make_unique<std::uint8_t[]>(len + 1));
        fp::packet pk;
        pk.data = bufs.back().get();
        pk.len = len;
        pk.in_port = 1;
        pkts.push_back(pk);
    }
    // A VLAN tag with nothing after it: processed on its L2 fields, counted as malformed.
    auto tagged = std::make_unique<std::uint8_t[]>(16);
    std::memset(tagged.get(), 0, 16);
    tagged[12] = 0x81;
    pkts.push_back(fp::packet{tagged.get(), 16, 0, 1, 0});
    fp::burst_output out;
    p.run(pkts, 0, out);
    EXPECT_EQ(out.counters().not_ethernet, 3u);
    EXPECT_EQ(out.counters().malformed, 1u);
    EXPECT_EQ(out.on_port(2).size(), 1u);
}

// ---- the typed br-tun core (tables 0, 2, 4, 10, 20, 21, 22; no learn, no DVR) ----

namespace {
using fp::neutron::br_tun_core;
constexpr std::uint32_t patch_int = 1, tun_a = 2, tun_b = 3;
constexpr std::uint16_t lvid = 2;
constexpr std::uint64_t seg = 6;
using br_tun = br_tun_core;

const std::uint64_t vm_local = 0xfa163eb3e77aULL, vm_remote = 0xfa163e734941ULL;
const std::uint32_t ip_remote = 0x5101b409; // 81.1.180.9

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
    ASSERT_TRUE(p.table<10>().add(match{}, 1, action_list<output>{{patch_int}}, {}, 0));

    auto& t20 = p.table<20>();
    ASSERT_TRUE(t20.add(match{}.set(field_id::vlan_tci, lvid, 0x0fff).set(field_id::eth_dst, vm_remote), 2,
                        neutron::to_tunnel_actions{{}, {seg}, {tun_b}}, {}, 0));
    ASSERT_TRUE(t20.add(match{}, 0, action_list<resubmit_to<22>>{}, {}, 0));

    auto& t21 = p.table<21>();
    ASSERT_TRUE(t21.add(
        match{}.set(field_id::eth_type, 0x0806).set(field_id::vlan_tci, lvid, 0x0fff).set(field_id::arp_tpa, ip_remote),
        1, neutron::arp_reply(vm_remote, ip_remote), {}, 0));
    ASSERT_TRUE(t21.add(match{}, 0, action_list<resubmit_to<22>>{}, {}, 0));

    auto& t22 = p.table<22>();
    output_ports<neutron::max_flood_ports> flood;
    flood.add(tun_a);
    flood.add(tun_b);
    ASSERT_TRUE(
        t22.add(match{}.set(field_id::vlan_tci, lvid, 0x0fff), 1, neutron::flood_actions{{}, {seg}, flood}, {}, 0));
    ASSERT_TRUE(t22.add(match{}, 0, action_list<drop>{}, {}, 0));
}

fp::flow_key arp_request(std::uint32_t tpa) {
    fp::flow_key k{};
    k.in_port = patch_int;
    k.eth_src = vm_local;
    k.eth_dst = 0xffffffffffffULL;
    k.vlan_tci = 0x1000 | lvid;
    k.eth_type = 0x0806;
    k.arp_op = 1;
    k.arp_sha = vm_local;
    k.arp_spa = 0x5101b408;
    k.arp_tpa = tpa;
    return k;
}
} // namespace

TEST(br_tun, known_unicast_from_a_vm_goes_to_its_tunnel_untagged_with_the_segment) {
    br_tun p;
    install(p);
    frames fr;
    fr.add(eth(patch_int, vm_local, vm_remote, 0x1000 | lvid));
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    ASSERT_EQ(out.on_port(tun_b).size(), 1u);
    const fp::packet& tx = out.on_port(tun_b)[0];
    EXPECT_EQ(tx.tun_id, seg);
    const auto k = key_of(tx);
    EXPECT_EQ(k.vlan_tci, 0);
    EXPECT_EQ(k.eth_dst, vm_remote);
    EXPECT_EQ(out.outputs().size(), 1u);
}

TEST(br_tun, unknown_unicast_and_broadcast_flood_to_every_tunnel_of_the_network) {
    br_tun p;
    install(p);
    frames fr;
    fr.add(eth(patch_int, vm_local, 0xfa163e000001ULL, 0x1000 | lvid)); // unknown unicast
    fr.add(eth(patch_int, vm_local, 0xffffffffffffULL, 0x1000 | lvid)); // broadcast, not ARP
    fr.add(eth(patch_int, vm_local, 0xffffffffffffULL, 0x1000 | 9));    // another VLAN: dropped
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    ASSERT_EQ(out.on_port(tun_a).size(), 2u);
    ASSERT_EQ(out.on_port(tun_b).size(), 2u);
    for (const auto& tx : out.on_port(tun_a)) {
        EXPECT_EQ(key_of(tx).vlan_tci, 0);
        EXPECT_EQ(tx.tun_id, seg);
    }
    EXPECT_EQ(out.counters().dropped, 1u);
}

TEST(br_tun, arp_for_a_known_ip_is_answered_out_of_the_input_port) {
    br_tun p;
    install(p);
    frames fr;
    fr.add(arp_request(ip_remote));
    fr.add(arp_request(0x5101b40a)); // unknown IP: flooded
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    ASSERT_EQ(out.on_port(patch_int).size(), 1u);
    const auto r = key_of(out.on_port(patch_int)[0]);
    EXPECT_EQ(r.eth_src, vm_remote);
    EXPECT_EQ(r.eth_dst, vm_local);
    EXPECT_EQ(r.vlan_tci, 0x1000 | lvid); // VLAN tag as it was
    EXPECT_EQ(r.arp_op, 2);
    EXPECT_EQ(r.arp_sha, vm_remote);
    EXPECT_EQ(r.arp_spa, ip_remote);
    EXPECT_EQ(r.arp_tha, vm_local);
    EXPECT_EQ(r.arp_tpa, 0x5101b408u);
    EXPECT_EQ(out.on_port(tun_a).size(), 1u); // the unknown one
    EXPECT_EQ(out.on_port(tun_b).size(), 1u);
}

TEST(br_tun, from_a_tunnel_right_segment_is_tagged_wrong_segment_dropped) {
    br_tun p;
    install(p);
    frames fr;
    auto k = eth(tun_a, vm_remote, vm_local);
    k.tun_id = seg;
    fr.add(k);
    k.tun_id = seg + 1;
    fr.add(k);
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    ASSERT_EQ(out.on_port(patch_int).size(), 1u);
    EXPECT_EQ(key_of(out.on_port(patch_int)[0]).vlan_tci, 0x1000 | lvid);
    EXPECT_EQ(out.counters().dropped, 1u);
    EXPECT_EQ(p.table<4>().stats().lookups, 2u);
    EXPECT_EQ(p.table<4>().stats().matched, 2u); // the wrong one matched the drop flow
}

TEST(br_tun, typed_tables_refuse_flows_they_cannot_hold_and_take_run_time_deletes) {
    br_tun p;
    install(p);
    fp::match m;
    m.set(fp::field_id::nw_src, 1).set(fp::field_id::eth_type, 0x0800);
    EXPECT_EQ(p.table<20>().add(m, 1, fp::action_list<resubmit_to<22>>{}, {}, 0).code,
              fp::flow_mod_errc::field_not_in_table);
    EXPECT_EQ(p.add(20, fp::match{}, 1, fp::generic_actions{}, {}, 0).code, fp::flow_mod_errc::bad_action);
    EXPECT_EQ(p.add(77, fp::match{}, 1, fp::generic_actions{}, {}, 0).code, fp::flow_mod_errc::no_such_table);
    // del-flows with no table: every table, loose.
    fp::match vlan;
    vlan.set(fp::field_id::vlan_tci, lvid, 0x0fff);
    // table 20's unicast flow, table 21's ARP flow and table 22's flood flow
    EXPECT_EQ(p.remove(255, vlan, false).count, 3u);
    EXPECT_EQ(p.table<20>().size(), 1u);
}

// ---- the staged pre-lookup of big exact tables ----

namespace {
struct remove_on_controller {
    fp::flow_table<fp::schema<fp::exact<fp::fields::eth_dst>>, fp::allowed<fp::action_list<output>>>* table = nullptr;
    std::uint64_t mac = 0;
    void controller(const fp::packet&, const fp::flow_key&, std::uint16_t) {
        fp::match m;
        m.set(fp::field_id::eth_dst, mac);
        table->remove(m, true, 1);
    }
};
} // namespace

TEST(pipeline, big_exact_tables_looked_up_ahead_give_the_same_answers) {
    using big = fp::pipeline<
        fp::table<0, fp::schema<fp::exact<fp::fields::in_port>>,
                  fp::allowed<fp::action_list<resubmit_to<20>>, fp::action_list<mod_dl_dst, resubmit_to<20>>,
                              fp::action_list<controller, resubmit_to<20>>>>,
        fp::table<20, fp::schema<fp::exact<fp::fields::eth_dst>>, fp::allowed<fp::action_list<output>>>>;
    big p(fp::pipeline_config{.default_table = {.max_flows = 65536}});
    constexpr std::uint64_t n_macs = 40000; // above the pre-lookup threshold
    auto& t20 = p.table<20>();
    for (std::uint64_t i = 0; i < n_macs; ++i)
        ASSERT_TRUE(t20.add(fp::match{}.set(fp::field_id::eth_dst, 0x020000000000ULL + i), 1,
                            fp::action_list<output>{{static_cast<std::uint32_t>(100 + i % 50)}}, {}, 0));
    ASSERT_TRUE(t20.worth_prelookup());
    auto& t0 = p.table<0>();
    ASSERT_TRUE(t0.add(in_port_is(1), 1, fp::action_list<resubmit_to<20>>{}, {}, 0));
    // Port 2 rewrites the destination before table 20: the looked-ahead key is stale.
    ASSERT_TRUE(
        t0.add(in_port_is(2), 1, fp::action_list<mod_dl_dst, resubmit_to<20>>{{0x020000000000ULL + 7}, {}}, {}, 0));
    // Port 3 removes the flow of MAC 0x...05 mid-burst (as a learn or an expiry would).
    ASSERT_TRUE(t0.add(in_port_is(3), 1, fp::action_list<controller, resubmit_to<20>>{}, {}, 0));
    remove_on_controller hooks{&t20, 0x020000000000ULL + 5};

    frames f;
    f.add(eth(1, 0xa, 0x020000000000ULL + 5));      // hit: port 105
    f.add(eth(2, 0xa, 0x020000000000ULL + 999999)); // unknown, rewritten to MAC 7: port 107
    f.add(eth(1, 0xa, 0x030000000000ULL));          // miss
    f.add(eth(3, 0xa, 0x020000000000ULL + 9));      // removes MAC 5's flow, then hits 109
    f.add(eth(1, 0xa, 0x020000000000ULL + 5));      // looked up ahead as a hit, but the flow is gone now
    f.add(eth(1, 0xa, 0x020000000000ULL + 8));      // still a hit: port 108
    fp::burst_output out;
    p.run(f.pkts, 0, out, hooks);
    std::vector<std::uint32_t> ports;
    for (const auto& t : out.outputs()) ports.push_back(t.port);
    EXPECT_EQ(ports, (std::vector<std::uint32_t>{105, 107, 109, 108}));
    EXPECT_EQ(t20.stats().lookups, 6u);
    EXPECT_EQ(t20.stats().matched, 4u);
}
