// The typed br-tun core against the generic pipeline carrying the same flows
// as run-time actions: random l2pop states and random traffic must leave
// byte-identical frames on the same ports. The generic pipeline is what the
// Open vSwitch oracle checks (tests/ovs), so agreement here carries that
// check over to the typed tables.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/core/compose.hpp>
#include <flowpipe/neutron/br_tun.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <array>
#include <deque>
#include <random>
#include <vector>

namespace fp = flowpipe;
namespace nt = flowpipe::neutron;
using namespace fp::actions;

namespace {

constexpr std::uint32_t patch_int = 1;

struct remote_vm {
    std::uint64_t mac;
    std::uint32_t ip;
    std::uint32_t tunnel;
};
struct network {
    std::uint64_t segment;
    std::uint16_t lvid;
    std::vector<remote_vm> vms;
    std::vector<std::uint32_t> flood;
};

struct scenario {
    std::vector<std::uint32_t> tunnels;
    std::vector<network> nets;
};

scenario random_scenario(std::mt19937_64& rng) {
    scenario s;
    const int n_tunnels = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n_tunnels; ++i) s.tunnels.push_back(2 + static_cast<std::uint32_t>(i));
    const int n_nets = 1 + static_cast<int>(rng() % 4);
    for (int n = 0; n < n_nets; ++n) {
        network net{100 + static_cast<std::uint64_t>(n), static_cast<std::uint16_t>(1 + n), {}, {}};
        for (std::uint32_t t : s.tunnels)
            if (rng() % 3) net.flood.push_back(t);
        const int n_vms = static_cast<int>(rng() % 8);
        for (int v = 0; v < n_vms; ++v)
            net.vms.push_back(
                {0xfa163e000000ULL | (static_cast<std::uint64_t>(n) << 16) | static_cast<std::uint64_t>(v),
                 0x0a000000u | static_cast<std::uint32_t>(n << 8 | v), s.tunnels[rng() % s.tunnels.size()]});
        s.nets.push_back(net);
    }
    return s;
}

fp::match m_in_port(std::uint32_t p) { return fp::match{}.set(fp::field_id::in_port, p); }
fp::match m_vlan(std::uint16_t lvid) { return fp::match{}.set(fp::field_id::vlan_tci, lvid, 0x0fff); }

// The same flows twice: typed action lists into the typed tables, run-time
// action lists into the generic tables.
void install(const scenario& s, nt::br_tun_core& t, fp::generic_pipeline& g) {
    using namespace fp;
    auto both = [&](std::uint8_t table, const match& m, int prio, auto typed_list, generic_actions generic) {
        flow_mod_status st;
        t.for_each_table([&](auto& tab) {
            using A = typename std::remove_reference_t<decltype(tab)>::actions_type;
            if constexpr (std::is_constructible_v<A, decltype(typed_list)>)
                if (tab.id() == table) st = tab.add(m, prio, typed_list, {}, 0);
        });
        ASSERT_TRUE(st) << "typed table " << int(table) << ": " << st.what();
        ASSERT_TRUE(g.add(table, m, prio, generic, {}, 0));
    };
    both(0, m_in_port(patch_int), 1, action_list<resubmit_to<2>>{}, {resubmit{ports::in_port, 2}});
    for (std::uint32_t tun : s.tunnels)
        both(0, m_in_port(tun), 1, action_list<resubmit_to<4>>{}, {resubmit{ports::in_port, 4}});
    both(0, match{}, 0, action_list<drop>{}, {drop{}});
    both(2, match{}.set(field_id::eth_type, 0x0806).set(field_id::eth_dst, 0xffffffffffffULL), 1,
         action_list<resubmit_to<21>>{}, {resubmit{ports::in_port, 21}});
    both(2, match{}.set(field_id::eth_dst, 0, 0x010000000000ULL), 0, action_list<resubmit_to<20>>{},
         {resubmit{ports::in_port, 20}});
    both(2, match{}.set(field_id::eth_dst, 0x010000000000ULL, 0x010000000000ULL), 0, action_list<resubmit_to<22>>{},
         {resubmit{ports::in_port, 22}});
    both(4, match{}, 0, action_list<drop>{}, {drop{}});
    both(10, match{}, 1, action_list<output>{{patch_int}}, {output{patch_int}});
    both(20, match{}, 0, action_list<resubmit_to<22>>{}, {resubmit{ports::in_port, 22}});
    both(21, match{}, 0, action_list<resubmit_to<22>>{}, {resubmit{ports::in_port, 22}});
    both(22, match{}, 0, action_list<drop>{}, {drop{}});
    const auto bits = [](field_id f) { return bit_range::whole(f); };
    for (const network& n : s.nets) {
        both(4, match{}.set(field_id::tun_id, n.segment), 1, nt::tun_to_lv_actions{{n.lvid}, {}},
             {mod_vlan_vid{n.lvid}, resubmit{ports::in_port, 10}});
        for (const remote_vm& v : n.vms) {
            both(20, m_vlan(n.lvid).set(field_id::eth_dst, v.mac), 2,
                 nt::to_tunnel_actions{{}, {n.segment}, {v.tunnel}},
                 {strip_vlan{}, set_tunnel{n.segment}, output{v.tunnel}});
            both(21, m_vlan(n.lvid).set(field_id::eth_type, 0x0806).set(field_id::arp_tpa, v.ip), 1,
                 nt::arp_reply(v.mac, v.ip),
                 {move{bits(field_id::eth_src), bits(field_id::eth_dst)}, mod_dl_src{v.mac},
                  load{bits(field_id::arp_op), 2}, move{bits(field_id::arp_sha), bits(field_id::arp_tha)},
                  move{bits(field_id::arp_spa), bits(field_id::arp_tpa)}, load{bits(field_id::arp_sha), v.mac},
                  load{bits(field_id::arp_spa), v.ip}, in_port{}});
        }
        if (!n.flood.empty()) {
            output_ports<nt::max_flood_ports> ports;
            generic_actions ga{strip_vlan{}, set_tunnel{n.segment}};
            for (std::uint32_t p : n.flood) {
                ports.add(p);
                ga.list.push_back(output{p});
            }
            both(22, m_vlan(n.lvid), 1, nt::flood_actions{{}, {n.segment}, ports}, ga);
        }
    }
}

fp::flow_key random_packet(const scenario& s, std::mt19937_64& rng) {
    fp::flow_key k{};
    const network& n = s.nets[rng() % s.nets.size()];
    const bool from_tunnel = rng() % 3 == 0;
    const auto some_vm = [&]() -> const remote_vm* { return n.vms.empty() ? nullptr : &n.vms[rng() % n.vms.size()]; };
    k.eth_src = 0xfa163e100000ULL | (rng() % 64);
    if (from_tunnel) {
        k.in_port = s.tunnels[rng() % s.tunnels.size()];
        k.tun_id = rng() % 5 ? n.segment : 999; // sometimes a wrong tun_id
    } else {
        k.in_port = rng() % 10 ? patch_int : 77; // sometimes an unknown port
        k.vlan_tci = static_cast<std::uint16_t>(0x1000 | (rng() % 8 ? n.lvid : 9));
    }
    switch (rng() % 4) {
    case 0: { // ARP request
        k.eth_dst = 0xffffffffffffULL;
        k.eth_type = 0x0806;
        k.arp_op = static_cast<std::uint16_t>(rng() % 4 ? 1 : 2);
        k.arp_sha = k.eth_src;
        k.arp_spa = 0x0a0000fe;
        const remote_vm* v = some_vm();
        k.arp_tpa = v && rng() % 3 ? v->ip : 0x0a0000aa;
        break;
    }
    default: { // IPv4/UDP unicast (known or not), broadcast or multicast
        const remote_vm* v = some_vm();
        const int kind = static_cast<int>(rng() % 4);
        k.eth_dst = kind == 0   ? 0xffffffffffffULL
                    : kind == 1 ? 0x01005e000001ULL
                                : (v && rng() % 4 ? v->mac : 0xfa163e999999ULL);
        k.eth_type = 0x0800;
        k.nw_src = 0x0a000001;
        k.nw_dst = 0x0a000002;
        k.nw_proto = 17;
        k.nw_ttl = 64;
        k.tp_src = 1234;
        k.tp_dst = 4789;
        break;
    }
    }
    return k;
}

struct port_frame {
    std::uint32_t port;
    std::uint64_t tun_id;
    std::vector<std::uint8_t> bytes;
    friend bool operator==(const port_frame&, const port_frame&) = default;
};

std::vector<port_frame> collect(const fp::burst_output& out) {
    std::vector<port_frame> r;
    for (const auto& t : out.outputs())
        r.push_back({t.port, t.pkt.tun_id, std::vector<std::uint8_t>(t.pkt.data, t.pkt.data + t.pkt.len)});
    return r;
}

} // namespace

TEST(typed_vs_generic, br_tun_core_agrees_frame_for_frame) {
    std::size_t packets = 0, outputs = 0;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        std::mt19937_64 rng(seed);
        const scenario s = random_scenario(rng);
        nt::br_tun_core typed;
        fp::generic_pipeline generic;
        install(s, typed, generic);
        for (int burst = 0; burst < 8; ++burst) {
            fp::test::frames a, b;
            const std::size_t n = 1 + rng() % 64;
            for (std::size_t i = 0; i < n; ++i) {
                const auto k = random_packet(s, rng);
                a.add(k);
                b.add(k);
            }
            fp::burst_output oa, ob;
            typed.run(a.pkts, 0, oa);
            generic.run(b.pkts, 0, ob);
            const auto ra = collect(oa), rb = collect(ob);
            ASSERT_EQ(ra.size(), rb.size()) << "seed " << seed << " burst " << burst;
            for (std::size_t i = 0; i < ra.size(); ++i) ASSERT_EQ(ra[i], rb[i]) << "seed " << seed << " output " << i;
            EXPECT_EQ(oa.counters().dropped, ob.counters().dropped);
            packets += n;
            outputs += ra.size();
        }
    }
    EXPECT_GT(packets, 5000u);
    EXPECT_GT(outputs, packets / 2); // most packets go somewhere: the comparison is not vacuous
}
