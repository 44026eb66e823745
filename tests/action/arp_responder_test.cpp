// The ARP responder of br-tun (tables 2, 21, 22 of the reference page): the
// reference action sequence with generic actions, and the typed
// arp_responder action producing byte-identical replies in place.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/action/arp_responder.hpp>
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <array>
#include <deque>
#include <vector>

namespace fp = flowpipe;
namespace f = fp::fields;
using namespace fp::actions;
using fp::test::frames;
using fp::test::headroom;
using fid = fp::field_id;

namespace {

constexpr std::uint32_t patch_int = 1, tun_a = 2, tun_b = 3;
constexpr std::uint16_t lvid = 2;
constexpr std::uint64_t seg = 6;
constexpr std::uint64_t vm_local = 0xfa163eb3e77aULL, vm_remote = 0xfa163e734941ULL;
constexpr std::uint32_t ip_local = 0x5101b408, ip_remote = 0x5101b409; // 81.1.180.8, .9
constexpr std::uint64_t bcast = 0xffffffffffffULL;

fp::flow_key arp(std::uint16_t op, std::uint64_t src, std::uint64_t dst, std::uint64_t sha, std::uint32_t spa,
                 std::uint64_t tha, std::uint32_t tpa) {
    fp::flow_key k{};
    k.in_port = patch_int;
    k.eth_src = src;
    k.eth_dst = dst;
    k.vlan_tci = 0x1000 | lvid;
    k.eth_type = 0x0806;
    k.arp_op = op;
    k.arp_sha = sha;
    k.arp_spa = spa;
    k.arp_tha = tha;
    k.arp_tpa = tpa;
    return k;
}
fp::flow_key request(std::uint32_t tpa) { return arp(1, vm_local, bcast, vm_local, ip_local, 0, tpa); }

fp::match table21_match(std::uint32_t ip) {
    fp::match m;
    m.set(fid::eth_type, 0x0806).set(fid::dl_vlan, lvid).set(fid::arp_tpa, ip);
    return m;
}

// The reference sequence, exactly as written on the reference page.
fp::generic_actions reference_sequence(std::uint64_t mac, std::uint32_t ip) {
    return {move{fp::bit_range::whole(fid::eth_src), fp::bit_range::whole(fid::eth_dst)},
            mod_dl_src{mac},
            load{fp::bit_range::whole(fid::arp_op), 0x2},
            move{fp::bit_range::whole(fid::arp_sha), fp::bit_range::whole(fid::arp_tha)},
            move{fp::bit_range::whole(fid::arp_spa), fp::bit_range::whole(fid::arp_tpa)},
            load{fp::bit_range::whole(fid::arp_sha), mac},
            load{fp::bit_range::whole(fid::arp_spa), ip},
            in_port{}};
}

// br-tun tables 0, 2, 21, 22 as text flows would build them; `typed` puts
// the typed action into table 21 instead of the sequence.
void install(fp::generic_pipeline& p, bool typed) {
    ASSERT_TRUE(p.add(0, fp::match{}.set(fid::in_port, patch_int), 1, {resubmit{fp::ports::in_port, 2}}, {}, 0));
    ASSERT_TRUE(p.add(2, fp::match{}.set(fid::eth_type, 0x0806).set(fid::eth_dst, bcast), 1,
                      {resubmit{fp::ports::in_port, 21}}, {}, 0));
    ASSERT_TRUE(p.add(2, fp::match{}.set(fid::eth_dst, 0x010000000000ULL, 0x010000000000ULL), 0,
                      {resubmit{fp::ports::in_port, 22}}, {}, 0));
    fp::generic_actions reply =
        typed ? fp::generic_actions{arp_responder{vm_remote, ip_remote}} : reference_sequence(vm_remote, ip_remote);
    ASSERT_TRUE(p.add(21, table21_match(ip_remote), 1, reply, {}, 0));
    ASSERT_TRUE(p.add(21, fp::match{}, 0, {resubmit{fp::ports::in_port, 22}}, {}, 0));
    ASSERT_TRUE(p.add(22, fp::match{}.set(fid::dl_vlan, lvid), 1,
                      {strip_vlan{}, set_tunnel{seg}, output{tun_a}, output{tun_b}}, {}, 0));
}

// A typed table 21 whose flows carry just (mac, ip).
using typed_p = fp::pipeline<
    fp::table<0, fp::schema<fp::exact<f::in_port>>, fp::allowed<fp::action_list<resubmit_to<2>>>>,
    fp::table<2, fp::schema<fp::exact<f::eth_type>, fp::masked<f::eth_dst>>,
              fp::allowed<fp::action_list<resubmit_to<21>>, fp::action_list<resubmit_to<22>>>>,
    fp::table<21, fp::schema<fp::exact<f::eth_type>, fp::exact<f::vlan_tci::bits<0, 11>>, fp::exact<f::arp_tpa>>,
              fp::allowed<fp::action_list<arp_responder>, fp::action_list<resubmit_to<22>>>>,
    fp::table<22, fp::schema<fp::exact<f::vlan_tci::bits<0, 11>>>,
              fp::allowed<fp::action_list<strip_vlan, set_tunnel, output, output>>>>;

void install(typed_p& p) {
    using fp::action_list;
    ASSERT_TRUE(p.table<0>().add(fp::match{}.set(fid::in_port, patch_int), 1, action_list<resubmit_to<2>>{}, {}, 0));
    ASSERT_TRUE(p.table<2>().add(fp::match{}.set(fid::eth_type, 0x0806).set(fid::eth_dst, bcast), 1,
                                 action_list<resubmit_to<21>>{}, {}, 0));
    ASSERT_TRUE(p.table<2>().add(fp::match{}.set(fid::eth_dst, 0x010000000000ULL, 0x010000000000ULL), 0,
                                 action_list<resubmit_to<22>>{}, {}, 0));
    fp::match m21;
    m21.set(fid::eth_type, 0x0806).set(fid::vlan_tci, lvid, 0x0fff).set(fid::arp_tpa, ip_remote);
    ASSERT_TRUE(p.table<21>().add(m21, 1, action_list<arp_responder>{{vm_remote, ip_remote}}, {}, 0));
    ASSERT_TRUE(p.table<21>().add(fp::match{}, 0, action_list<resubmit_to<22>>{}, {}, 0));
    ASSERT_TRUE(p.table<22>().add(fp::match{}.set(fid::vlan_tci, lvid, 0x0fff), 1,
                                  action_list<strip_vlan, set_tunnel, output, output>{{}, {seg}, {tun_a}, {tun_b}}, {},
                                  0));
}

std::vector<std::uint8_t> bytes_of(const fp::packet& p) { return {p.data, p.data + p.len}; }

// Every byte of the reply a request (or any ARP for a known IP) must get.
void expect_reply_bytes(const fp::packet& tx, const fp::flow_key& req) {
    const std::vector<std::uint8_t> b = bytes_of(tx);
    ASSERT_EQ(b.size(), 60u); // as composed: the minimum frame, tag included
    auto mac_at = [&](std::size_t o) {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < 6; ++i) v = v << 8 | b[o + i];
        return v;
    };
    auto u32_at = [&](std::size_t o) {
        return std::uint32_t{b[o]} << 24 | std::uint32_t{b[o + 1]} << 16 | std::uint32_t{b[o + 2]} << 8 | b[o + 3];
    };
    EXPECT_EQ(mac_at(0), req.eth_src); // Ethernet destination: the asker
    EXPECT_EQ(mac_at(6), vm_remote);   // Ethernet source: the owner of the IP
    EXPECT_EQ(b[12], 0x81);            // 802.1Q tag as it was
    EXPECT_EQ(b[13], 0x00);
    EXPECT_EQ(b[14], 0x00);
    EXPECT_EQ(b[15], lvid);
    EXPECT_EQ(b[16], 0x08); // ARP
    EXPECT_EQ(b[17], 0x06);
    const std::vector<std::uint8_t> arp_fixed{0x00, 0x01, 0x08, 0x00, 6, 4};
    EXPECT_EQ(std::vector<std::uint8_t>(b.begin() + 18, b.begin() + 24), arp_fixed);
    EXPECT_EQ(b[24], 0x00); // opcode 2
    EXPECT_EQ(b[25], 0x02);
    EXPECT_EQ(mac_at(26), vm_remote);   // sha
    EXPECT_EQ(u32_at(32), ip_remote);   // spa
    EXPECT_EQ(mac_at(36), req.arp_sha); // tha
    EXPECT_EQ(u32_at(42), req.arp_spa); // tpa
    for (std::size_t i = 46; i < b.size(); ++i) EXPECT_EQ(b[i], 0) << "padding byte " << i;
    // And the whole frame is what composing the reply's key gives.
    fp::flow_key want = req;
    want.eth_dst = req.eth_src;
    want.eth_src = vm_remote;
    want.arp_op = 2;
    want.arp_tha = req.arp_sha;
    want.arp_tpa = req.arp_spa;
    want.arp_sha = vm_remote;
    want.arp_spa = ip_remote;
    std::array<std::uint8_t, 128> composed{};
    const std::size_t n = fp::compose_frame(want, composed);
    EXPECT_EQ(b, std::vector<std::uint8_t>(composed.begin(), composed.begin() + static_cast<std::ptrdiff_t>(n)));
}

} // namespace

TEST(arp_responder, the_reference_sequence_answers_a_request_for_a_known_ip_out_of_its_input_port) {
    fp::generic_pipeline p;
    install(p, false);
    frames fr;
    const fp::packet& in = fr.add(request(ip_remote));
    const std::uint8_t* buffer = in.data;
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    ASSERT_EQ(out.outputs().size(), 1u);
    ASSERT_EQ(out.on_port(patch_int).size(), 1u);
    EXPECT_EQ(out.on_port(patch_int)[0].data, buffer); // the request's own buffer, rewritten
    expect_reply_bytes(out.on_port(patch_int)[0], request(ip_remote));
}

TEST(arp_responder, typed_action_replies_byte_for_byte_like_the_sequence) {
    const std::vector<fp::flow_key> asks{request(ip_remote), arp(1, 0x020000000001ULL, bcast, 0x020000000002ULL,
                                                                 0x0a000001, 0x0a0b0c0d0e0fULL, ip_remote)};
    for (const fp::flow_key& ask : asks) {
        fp::generic_pipeline seq, one;
        typed_p typed;
        install(seq, false);
        install(one, true);
        install(typed);
        frames a, b, c;
        a.add(ask);
        b.add(ask);
        c.add(ask);
        fp::burst_output oa, ob, oc;
        seq.run(a.pkts, 0, oa);
        one.run(b.pkts, 0, ob);
        typed.run(c.pkts, 0, oc);
        ASSERT_EQ(oa.on_port(patch_int).size(), 1u);
        ASSERT_EQ(ob.on_port(patch_int).size(), 1u);
        ASSERT_EQ(oc.on_port(patch_int).size(), 1u);
        EXPECT_EQ(bytes_of(oa.on_port(patch_int)[0]), bytes_of(ob.on_port(patch_int)[0]));
        EXPECT_EQ(bytes_of(oa.on_port(patch_int)[0]), bytes_of(oc.on_port(patch_int)[0]));
        expect_reply_bytes(oc.on_port(patch_int)[0], ask);
    }
}

TEST(arp_responder, a_request_for_an_unknown_ip_goes_on_to_the_flood_table) {
    fp::generic_pipeline p;
    typed_p t;
    install(p, false);
    install(t);
    for (int typed = 0; typed < 2; ++typed) {
        frames fr;
        fr.add(request(0x5101b40a));
        const auto original = bytes_of(fr.pkts[0]);
        fp::burst_output out;
        typed ? t.run(fr.pkts, 0, out) : p.run(fr.pkts, 0, out);
        EXPECT_EQ(out.on_port(patch_int).size(), 0u);
        ASSERT_EQ(out.on_port(tun_a).size(), 1u);
        ASSERT_EQ(out.on_port(tun_b).size(), 1u);
        // Flooded as it was, only untagged (table 22's strip_vlan).
        std::vector<std::uint8_t> untagged(original.begin(), original.begin() + 12);
        untagged.insert(untagged.end(), original.begin() + 16, original.end());
        EXPECT_EQ(bytes_of(out.on_port(tun_b)[0]), untagged);
        EXPECT_EQ(out.on_port(tun_b)[0].tun_id, seg);
    }
}

TEST(arp_responder, a_non_arp_broadcast_is_not_touched_by_the_responder) {
    fp::generic_pipeline p;
    install(p, false);
    fp::flow_key k{};
    k.in_port = patch_int;
    k.eth_src = vm_local;
    k.eth_dst = bcast;
    k.vlan_tci = 0x1000 | lvid;
    k.eth_type = 0x0800;
    k.nw_src = ip_local;
    k.nw_dst = 0x5101b4ff;
    k.nw_proto = 17;
    k.nw_ttl = 64;
    k.tp_src = 68;
    k.tp_dst = 67;
    frames fr;
    fr.add(k);
    const auto original = bytes_of(fr.pkts[0]);
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    EXPECT_EQ(p.table(21).stats().lookups, 0u);
    EXPECT_EQ(out.on_port(patch_int).size(), 0u);
    ASSERT_EQ(out.on_port(tun_a).size(), 1u);
    std::vector<std::uint8_t> untagged(original.begin(), original.begin() + 12);
    untagged.insert(untagged.end(), original.begin() + 16, original.end());
    EXPECT_EQ(bytes_of(out.on_port(tun_a)[0]), untagged);
}

// Table 2 sends every broadcast ARP to 21, and 21 matches only arp_tpa: a
// gratuitous ARP *reply* (opcode 2) broadcast for a known IP is answered
// like a request. Open vSwitch 3.1's ofproto/trace with the same flows
// gives the same (Datapath actions: set(eth(dst=..)),set(arp(tha=..)),<in_port>);
// for an unknown IP it is flooded.
TEST(arp_responder, a_broadcast_gratuitous_reply_for_a_known_ip_is_answered_as_open_vswitch_does) {
    const std::uint64_t claimer = 0xfa163e000099ULL;
    const fp::flow_key garp = arp(2, claimer, bcast, claimer, ip_remote, 0, ip_remote);
    fp::generic_pipeline p;
    typed_p t;
    install(p, false);
    install(t);
    for (int typed = 0; typed < 2; ++typed) {
        frames fr;
        fr.add(garp);
        fr.add(arp(2, claimer, bcast, claimer, 0x5101b40a, 0, 0x5101b40a)); // unknown IP
        fp::burst_output out;
        typed ? t.run(fr.pkts, 0, out) : p.run(fr.pkts, 0, out);
        ASSERT_EQ(out.on_port(patch_int).size(), 1u);
        expect_reply_bytes(out.on_port(patch_int)[0], garp);
        EXPECT_EQ(out.on_port(tun_a).size(), 1u); // the unknown one, flooded
    }
}
