// The normal action: Open vSwitch's L2 learning switch on real frames
// (learning per VLAN, forwarding, flooding, access and trunk ports, aging,
// the MAC limit with fair eviction, moves), and the MAC table on its own.
// tests/ovs/normal_oracle.py compares the same behaviour with a real
// ovs-vswitchd; the tests marked "(oracle)" pin what that comparison found.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/action/normal.hpp>
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace fp = flowpipe;
namespace f = fp::fields;
using namespace fp::actions;
using fp::test::eth;
using fp::test::frames;
using fp::test::headroom;
using fp::test::key_of;

namespace {

// br-int style: one table whose only flow is `actions=NORMAL`.
using bridge = fp::pipeline<fp::table<0, fp::schema<fp::exact<f::in_port>>, fp::allowed<fp::action_list<normal>>>>;

// Ports: 1, 2 access VLAN 10; 3 access VLAN 20; 4 trunk (all VLANs); 5 trunk (VLAN 20 only).
struct fixture {
    fp::l2_switch sw;
    bridge p;
    explicit fixture(fp::l2_switch::config c = {}) : sw(c) {
        sw.add_access_port(1, 10);
        sw.add_access_port(2, 10);
        sw.add_access_port(3, 20);
        sw.add_trunk_port(4);
        sw.add_trunk_port(5, {20});
        EXPECT_TRUE(p.table<0>().add(fp::match{}, 0, fp::action_list<normal>{{&sw}}, {}, 0));
    }
    fp::burst_output out;
    // Sends one frame; returns the ports it left on, sorted.
    std::vector<std::uint32_t> send(const fp::flow_key& k, std::int64_t now = 0) {
        frames fr;
        fr.add(k);
        // A fresh output per run: burst_output::finish() keeps a stale group
        // index across runs (reported; reusing it here reads past groups_).
        out = fp::burst_output{};
        p.run(fr.pkts, now, out);
        std::vector<std::uint32_t> ports;
        for (const auto& tx : out.outputs()) ports.push_back(tx.port);
        std::sort(ports.begin(), ports.end());
        return ports;
    }
};

using ports = std::vector<std::uint32_t>;
constexpr std::uint64_t A = 0x020000000001ULL, B = 0x020000000002ULL, C = 0x020000000003ULL;
constexpr std::uint64_t bcast = 0xffffffffffffULL;

} // namespace

TEST(normal, unknown_unicast_floods_its_vlan_then_known_unicast_goes_to_one_port) {
    fixture x;
    EXPECT_EQ(x.send(eth(1, A, B)), (ports{2, 4})); // VLAN 10: port 2 and the all-VLAN trunk, never 1
    // On the access port untagged, on the trunk tagged with VLAN 10.
    EXPECT_EQ(key_of(x.out.on_port(2)[0]).vlan_tci, 0);
    EXPECT_EQ(key_of(x.out.on_port(4)[0]).vlan_tci, 0x1000 | 10);
    EXPECT_EQ(x.sw.lookup(A, 10, 0), 1u);
    EXPECT_EQ(x.sw.lookup(A, 20, 0), fp::l2_switch::npos); // learned per VLAN
    EXPECT_EQ(x.send(eth(2, B, A)), (ports{1}));
    EXPECT_EQ(x.send(eth(1, A, B)), (ports{2}));
    // From the trunk, tagged 10, to A: out of access port 1 untagged.
    EXPECT_EQ(x.send(eth(4, C, A, 0x1000 | 10)), (ports{1}));
    EXPECT_EQ(key_of(x.out.on_port(1)[0]).vlan_tci, 0);
    EXPECT_EQ(x.sw.lookup(C, 10, 0), 4u);
    // And back: A to C goes to the trunk, tagged.
    EXPECT_EQ(x.send(eth(1, A, C)), (ports{4}));
    EXPECT_EQ(key_of(x.out.on_port(4)[0]).vlan_tci, 0x1000 | 10);
}

TEST(normal, broadcast_and_multicast_flood_every_other_port_of_the_vlan) {
    fixture x;
    EXPECT_EQ(x.send(eth(3, A, bcast)), (ports{4, 5}));
    EXPECT_EQ(key_of(x.out.on_port(5)[0]).vlan_tci, 0x1000 | 20);
    EXPECT_EQ(x.send(eth(5, B, 0x01005e000001ULL, 0x1000 | 20)), (ports{3, 4}));
    EXPECT_EQ(x.send(eth(4, C, bcast, 0x1000 | 10)), (ports{1, 2}));
    // A broadcast source is never learned; a multicast destination never looked up.
    EXPECT_EQ(x.send(eth(1, bcast, A)), (ports{2, 4}));
    EXPECT_EQ(x.sw.size(), 3u);
}

TEST(normal, a_tagged_frame_keeps_its_priority_on_trunks) {
    fixture x;
    EXPECT_EQ(x.send(eth(4, A, bcast, 0xa000 | 0x1000 | 20)), (ports{3, 5}));
    EXPECT_EQ(key_of(x.out.on_port(5)[0]).vlan_tci, 0xa000 | 0x1000 | 20);
    EXPECT_EQ(key_of(x.out.on_port(3)[0]).vlan_tci, 0);
}

// (oracle) VLAN 0 with a priority (a priority-tagged frame on a trunk, or
// on an access port of VLAN 0) leaves trunks with a priority tag, VID 0:
// xvlan_put writes a tag whenever VID or PCP is not 0.
TEST(normal, vlan_0_keeps_its_priority_tag_on_trunks) {
    fp::l2_switch sw;
    sw.add_access_port(1, 0);
    sw.add_trunk_port(2);
    sw.add_trunk_port(3, {0, 20});
    bridge p;
    ASSERT_TRUE(p.table<0>().add(fp::match{}, 0, fp::action_list<normal>{{&sw}}, {}, 0));
    frames fr;
    fr.add(eth(1, A, bcast, 0xa000 | 0x1000)); // access VLAN 0, PCP 5
    fr.add(eth(2, B, bcast, 0x2000 | 0x1000)); // trunk, priority tag PCP 1
    fr.add(eth(2, C, bcast, 0x1000));          // trunk, priority tag PCP 0: untagged out
    for (std::size_t i = 0; i < 3; ++i) {
        fp::burst_output out;
        p.run(std::span<fp::packet>(&fr.pkts[i], 1), 0, out);
        std::map<std::uint32_t, std::uint16_t> tci;
        for (const auto& tx : out.outputs()) tci[tx.port] = key_of(tx.pkt).vlan_tci;
        using tcis = std::map<std::uint32_t, std::uint16_t>;
        const tcis want[] = {{{2, 0xb000}, {3, 0xb000}}, {{1, 0}, {3, 0x3000}}, {{1, 0}, {3, 0}}};
        EXPECT_EQ(tci, want[i]) << "frame " << i;
    }
}

// (oracle) Open vSwitch drops every destination of eth_addr_is_reserved, not
// only 01:80:c2:00:00:0x: Extreme's and Cisco's control protocols too.
TEST(normal, reserved_destinations_are_open_vswitchs_whole_list) {
    for (std::uint64_t d : {0x0180c2000000ULL, 0x0180c200000fULL, 0x00e02b000000ULL, 0x00e02b000004ULL,
                            0x00e02b000006ULL, 0x01000c000000ULL, 0x01000cccccccULL, 0x01000ccccccdULL,
                            0x01000ccdcdcdULL, 0x01000cccccc0ULL, 0x01000cccccc7ULL}) {
        fixture x;
        EXPECT_EQ(x.send(eth(1, A, d)), ports{}) << std::hex << d;
        EXPECT_EQ(x.sw.size(), 0u) << std::hex << d; // not learned either
    }
    for (std::uint64_t d : {0x0180c2000010ULL, 0x00e02b000001ULL, 0x01000cccccc8ULL, 0x01000c000001ULL}) {
        fixture x;
        EXPECT_EQ(x.send(eth(1, A, d)), (ports{2, 4})) << std::hex << d;
    }
}

TEST(normal, vlan_admission_as_open_vswitch_does_it) {
    fixture x;
    EXPECT_EQ(x.send(eth(1, A, bcast, 0x1000 | 10)), ports{});      // tagged (VID 10) on an access port: dropped
    EXPECT_EQ(x.send(eth(1, A, bcast, 0x1000 | 0)), (ports{2, 4})); // priority-tagged: VLAN 10
    EXPECT_EQ(x.send(eth(5, A, bcast, 0x1000 | 10)), ports{});      // trunk 5 does not carry VLAN 10
    EXPECT_EQ(x.send(eth(4, B, bcast)), ports{});                   // untagged on a trunk: VLAN 0, nobody else there
    EXPECT_EQ(x.send(eth(9, A, bcast)), ports{});                   // not a port of the switch
    EXPECT_EQ(x.send(eth(1, A, 0x0180c2000000ULL)), ports{});       // STP: reserved multicast
    EXPECT_EQ(x.send(eth(1, A, 0x0180c2000002ULL)), ports{});       // LACP
}

TEST(normal, a_destination_learned_on_the_input_port_is_dropped) {
    fixture x;
    x.send(eth(1, A, bcast));
    EXPECT_EQ(x.send(eth(1, B, A)), ports{});
}

TEST(normal, a_mac_that_moves_is_relearned_on_its_new_port) {
    fixture x;
    x.send(eth(1, A, bcast));
    x.send(eth(2, B, bcast));
    EXPECT_EQ(x.send(eth(2, B, A)), (ports{1}));
    EXPECT_EQ(x.send(eth(4, A, bcast, 0x1000 | 10)), (ports{1, 2})); // A now behind the trunk
    EXPECT_EQ(x.sw.lookup(A, 10, 0), 4u);
    EXPECT_EQ(x.sw.stats().moved, 1u);
    EXPECT_EQ(x.send(eth(2, B, A)), (ports{4}));
    EXPECT_EQ(x.sw.macs_on(1), 0u);
    EXPECT_EQ(x.sw.macs_on(4), 1u);
}

TEST(normal, macs_age_out_300_s_after_their_last_frame) {
    fixture x;
    constexpr std::int64_t s = 1000;
    x.send(eth(1, A, bcast), 0);
    EXPECT_EQ(x.send(eth(2, B, A), 200 * s), (ports{1}));
    x.send(eth(1, A, bcast), 250 * s); // refreshed
    EXPECT_EQ(x.send(eth(2, B, A), 549 * s + 999), (ports{1}));
    EXPECT_EQ(x.send(eth(2, B, A), 550 * s + 1), (ports{1, 4})); // aged: flooded again
    // Freed by the frames themselves: B (learned at 200 s) at 549 s, A now.
    EXPECT_EQ(x.sw.stats().expired, 2u);
    EXPECT_EQ(x.sw.expire(550 * s + 1), 0u);
    EXPECT_EQ(x.sw.size(), 1u);
}

// (oracle) Open vSwitch's clock is in seconds: a MAC learned in second t is
// gone at second t + 300 exactly (mac_learning_run: time_now() >= expires),
// not 300 s + 1 ms later.
TEST(normal, a_mac_is_gone_at_exactly_idle_time_seconds) {
    fixture x;
    constexpr std::int64_t s = 1000;
    x.send(eth(1, A, bcast), 10 * s + 700); // second 10
    EXPECT_EQ(x.send(eth(2, B, A), 309 * s + 999), (ports{1}));
    EXPECT_EQ(x.sw.lookup(A, 10, 310 * s), fp::l2_switch::npos);
    EXPECT_EQ(x.send(eth(2, B, A), 310 * s), (ports{1, 4}));
}

// (oracle) Within one second a MAC seen again keeps its place in the LRU
// lists (mac_learning_update: only an age above 0 or a move updates it), so
// it is still its port's oldest when the table is full; a gratuitous ARP
// does move it to the back.
TEST(normal, a_mac_is_refreshed_at_most_once_a_second_except_by_a_gratuitous_arp) {
    fp::l2_switch::config c;
    c.max_entries = 3;
    fixture x(c);
    auto lru = [&](std::int64_t now) {
        std::vector<std::uint64_t> macs;
        x.sw.for_each_mac(now, [&](std::uint64_t m, std::uint16_t, std::uint32_t, std::int64_t) { macs.push_back(m); });
        return macs;
    };
    x.send(eth(1, A, bcast), 5000);
    x.send(eth(1, B, bcast), 5100);
    x.send(eth(1, A, bcast), 5200); // same second: no refresh
    EXPECT_EQ(lru(5200), (std::vector<std::uint64_t>{A, B}));
    fp::flow_key garp = eth(1, A, bcast);
    garp.eth_type = 0x0806;
    garp.arp_op = 1;
    garp.arp_spa = garp.arp_tpa = 0x0a000001;
    garp.arp_sha = A;
    x.send(garp, 5300);
    EXPECT_EQ(lru(5300), (std::vector<std::uint64_t>{B, A}));
    x.send(eth(1, B, bcast), 6000); // a second later: refreshed, age 0
    EXPECT_EQ(lru(6000), (std::vector<std::uint64_t>{A, B}));
    x.send(eth(1, C, bcast), 6000);
    x.send(eth(1, 0x020000000004ULL, bcast), 6000); // full: port 1's oldest, A, goes
    EXPECT_EQ(lru(6000), (std::vector<std::uint64_t>{B, C, 0x020000000004ULL}));
}

TEST(normal, a_full_table_evicts_the_oldest_mac_of_the_port_with_the_most) {
    fp::l2_switch::config c;
    c.max_entries = 4;
    fixture x(c);
    constexpr std::int64_t s = 1000;
    x.send(eth(2, 0x02000000aa01ULL, bcast), 1 * s);
    x.send(eth(1, 0x02000000bb01ULL, bcast), 2 * s);
    x.send(eth(1, 0x02000000bb02ULL, bcast), 3 * s);
    x.send(eth(1, 0x02000000bb03ULL, bcast), 4 * s);
    x.send(eth(1, 0x02000000bb01ULL, bcast), 5 * s); // bb01 used again: bb02 is port 1's oldest
    x.send(eth(2, 0x02000000aa02ULL, bcast), 6 * s); // full: port 1 has the most
    EXPECT_EQ(x.sw.size(), 4u);
    EXPECT_EQ(x.sw.stats().evicted, 1u);
    EXPECT_EQ(x.sw.lookup(0x02000000bb02ULL, 10, 6 * s), fp::l2_switch::npos);
    EXPECT_EQ(x.sw.lookup(0x02000000bb01ULL, 10, 6 * s), 1u);
    EXPECT_EQ(x.sw.lookup(0x02000000aa01ULL, 10, 6 * s), 2u);
    EXPECT_EQ(x.sw.lookup(0x02000000aa02ULL, 10, 6 * s), 2u);
}

// (oracle) Ports with equally many MACs: Open vSwitch evicts from the port
// on top of its heap of ports by count (lib/heap.c), which depends on the
// order the counts grew in, not on the port number.
TEST(normal, eviction_among_equal_ports_follows_open_vswitchs_heap) {
    fp::l2_switch::config c;
    c.max_entries = 4;
    fixture x(c);
    x.send(eth(1, 0x02000000aa01ULL, bcast)); // heap: 1
    x.send(eth(2, 0x02000000bb01ULL, bcast)); // 1, 2
    x.send(eth(2, 0x02000000bb02ULL, bcast)); // 2 (2 MACs) rises above 1
    x.send(eth(1, 0x02000000aa02ULL, bcast)); // 1 (2 MACs) does not pass 2: a tie, 2 on top
    x.send(eth(3, 0x02000000cc01ULL, bcast)); // full: port 2's oldest goes, not port 1's
    EXPECT_EQ(x.sw.lookup(0x02000000bb01ULL, 10, 0), fp::l2_switch::npos);
    EXPECT_EQ(x.sw.lookup(0x02000000aa01ULL, 10, 0), 1u);
    EXPECT_EQ(x.sw.macs_on(2), 1u);
    // Now 1 (2 MACs) is alone on top.
    x.send(eth(3, 0x02000000cc02ULL, bcast));
    EXPECT_EQ(x.sw.lookup(0x02000000aa01ULL, 10, 0), fp::l2_switch::npos);
}

TEST(normal, flooding_random_macs_from_one_port_evicts_only_its_own) {
    fp::l2_switch::config c;
    c.max_entries = 64;
    fixture x(c);
    x.send(eth(2, B, bcast));
    std::mt19937_64 rng(3);
    frames fr;
    for (int i = 0; i < 200; ++i) fr.add(eth(1, rng() & 0xfeffffffffffULL, bcast));
    x.p.run(fr.pkts, 0, x.out);
    EXPECT_EQ(x.sw.size(), 64u);
    EXPECT_EQ(x.sw.lookup(B, 10, 0), 2u); // the victim port's MAC survives
    EXPECT_EQ(x.sw.stats().evicted, 137u);
}

// The MAC table against a trivially correct model, on random operations
// (exercises the backward-shift deletion of the index).
TEST(normal, mac_table_agrees_with_a_naive_model) {
    fp::l2_switch::config c;
    c.max_entries = 300;
    c.idle_time_s = 1;
    fp::l2_switch sw(c);
    for (std::uint32_t p = 1; p <= 4; ++p) sw.add_trunk_port(p);
    struct model_entry {
        std::uint32_t port;
        std::int64_t expires_s; // gone from this second on
    };
    std::map<std::pair<std::uint64_t, std::uint16_t>, model_entry> model;
    std::mt19937_64 rng(7);
    std::int64_t now = 0;
    for (int step = 0; step < 20000; ++step) {
        now += static_cast<std::int64_t>(rng() % 3);
        const std::uint64_t mac = 0x020000000000ULL | (rng() % 400);
        const std::uint16_t vlan = static_cast<std::uint16_t>(rng() % 2);
        const std::uint32_t pi = static_cast<std::uint32_t>(rng() % 4);
        const std::int64_t now_s = now / 1000;
        if (rng() % 8 == 0) {
            sw.expire(now);
            std::erase_if(model, [&](const auto& kv) { return kv.second.expires_s <= now_s; });
        }
        if (model.size() < c.max_entries || model.count({mac, vlan})) {
            sw.learn(mac, vlan, pi, now);
            model[{mac, vlan}] = {pi + 1, now_s + 1};
        }
        for (int q = 0; q < 4; ++q) {
            const std::uint64_t qm = 0x020000000000ULL | (rng() % 400);
            const std::uint16_t qv = static_cast<std::uint16_t>(rng() % 2);
            const auto it = model.find({qm, qv});
            const std::uint32_t want =
                it == model.end() || it->second.expires_s <= now_s ? fp::l2_switch::npos : it->second.port;
            ASSERT_EQ(sw.lookup(qm, qv, now), want) << "step " << step;
        }
    }
}

TEST(normal, works_as_a_generic_action_too) {
    fp::l2_switch sw;
    sw.add_access_port(1, 0);
    sw.add_access_port(2, 0);
    sw.add_access_port(3, 0);
    fp::generic_pipeline p;
    ASSERT_TRUE(p.add(0, fp::match{}, 0, {normal{&sw}}, {}, 0));
    frames fr;
    fr.add(eth(1, A, B));
    fr.add(eth(2, B, A)); // learned by the frame before, in the same burst
    fp::burst_output out;
    p.run(fr.pkts, 0, out);
    EXPECT_EQ(out.on_port(2).size(), 1u);
    EXPECT_EQ(out.on_port(3).size(), 1u);
    EXPECT_EQ(out.on_port(1).size(), 1u);
}
