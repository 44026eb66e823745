// Tests of the switch core (examples/switch/bridge.hpp) over io::memory_port:
// two Neutron bridges in one process whose underlay ports are wired together
// by hand (VM -> tunnel -> VM over VXLAN, Geneve and GRE, ARP answered
// locally, learning on the receiver, a tunnel that goes with its remote's
// last l2pop entry and comes back), flows mode with plain and tunnel ports, every
// control command good and bad plus random lines, every drop reason, and the
// buffer laws (each pool has all its buffers back at the end).
#include "switch/bridge.hpp"
#include "switch/control_socket.hpp"
#include "switch/port_ref.hpp"

#include <gtest/gtest.h>

#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/io/memory_port.hpp>

#include <array>
#include <cstdio>
#include <fstream>

#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace {

namespace fp = flowpipe;
namespace fx = flowpipe::examples;
using fp::io::buffer_pool;
using fp::io::memory_port;
using bridge = fx::bridge<fx::memory_port_ref>;

constexpr std::uint64_t bcast = 0xffffffffffffULL;
constexpr std::uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) { return a << 24 | b << 16 | c << 8 | d; }

struct vm {
    std::uint64_t mac;
    std::uint32_t ip;
};
const vm vm1{0xfa163e000001ULL, ip(192, 168, 1, 1)}, vm2{0xfa163e000002ULL, ip(192, 168, 1, 2)};
const vm vm3{0xfa163e000003ULL, ip(192, 168, 2, 3)}, vm4{0xfa163e000004ULL, ip(192, 168, 2, 4)};

std::vector<std::uint8_t> frame_of(const fp::flow_key& k) {
    std::vector<std::uint8_t> f(fp::compose_max_frame_len);
    f.resize(fp::compose_frame(k, f));
    return f;
}
fp::flow_key key_of(std::span<const std::uint8_t> f) {
    fp::flow_key k{};
    fp::extract(f.data(), f.size(), k);
    return k;
}
fp::flow_key key_of(const fp::packet& p) { return key_of(std::span<const std::uint8_t>(p.data, p.len)); }

std::vector<std::uint8_t> arp_request(const vm& from, std::uint32_t target) {
    fp::flow_key k{};
    k.eth_src = from.mac;
    k.eth_dst = bcast;
    k.eth_type = fp::proto::eth_type_arp;
    k.arp_op = 1;
    k.arp_sha = from.mac;
    k.arp_spa = from.ip;
    k.arp_tpa = target;
    return frame_of(k);
}
std::vector<std::uint8_t> icmp(const vm& from, const vm& to, std::uint8_t type) {
    fp::flow_key k{};
    k.eth_src = from.mac;
    k.eth_dst = to.mac;
    k.eth_type = fp::proto::eth_type_ipv4;
    k.nw_src = from.ip;
    k.nw_dst = to.ip;
    k.nw_proto = 1;
    k.nw_ttl = 64;
    k.icmp_type = type;
    return frame_of(k);
}
std::vector<std::uint8_t> bytes(const fp::packet& p) { return {p.data, p.data + p.len}; }

bool ok(const std::string& reply) { return reply.size() >= 3 && reply.compare(reply.size() - 3, 3, "OK\n") == 0; }
// The reply's last line is an ERROR sentence.
bool error(const std::string& reply) {
    const std::size_t at = reply.rfind("ERROR: ");
    return at != std::string::npos && (at == 0 || reply[at - 1] == '\n') && reply.back() == '\n' &&
           reply.find('\n', at) == reply.size() - 1;
}
// The number after `key` in a `show` reply, or all ones when absent or not a number.
std::uint64_t show_value(const std::string& show, const std::string& key) {
    const std::size_t at = show.find("\n" + key + " ");
    if (at == std::string::npos) return ~std::uint64_t{0};
    const char* first = show.c_str() + at + key.size() + 2;
    char* end = nullptr;
    const std::uint64_t v = std::strtoull(first, &end, 10);
    return end != first && *end == '\n' ? v : ~std::uint64_t{0};
}

using networks = std::vector<fx::network_options>;
const networks vxlan_and_gre = {{"net1", "vxlan", 1001}, {"net2", "gre", 2002}};

// One host: a buffer pool, two VM ports (on net1 and net2), an underlay port
// and its bridge.
struct host {
    buffer_pool pool{buffer_pool::config{512, 2048, 128}};
    memory_port a, b, under;
    std::optional<bridge> br;

    host(std::uint32_t local_ip, std::uint64_t mac, std::uint64_t next_hop, std::size_t flow_cache = 0,
         const networks& nets = vxlan_and_gre)
        : a(pool, {.port = 11}), b(pool, {.port = 12}), under(pool, {.port = 99}) {
        fx::bridge_options o;
        o.local_ip = fp::neutron::format_ipv4(local_ip);
        o.flow_cache = flow_cache;
        o.networks = nets;
        auto made = bridge::neutron(o);
        EXPECT_EQ(made.index(), 0u) << std::get<1>(made);
        br.emplace(std::move(std::get<0>(made)));
        EXPECT_FALSE(br->add_vm_port(11, "vm-a", fx::memory_port_ref(a, pool), "net1"));
        EXPECT_FALSE(br->add_vm_port(12, "vm-b", fx::memory_port_ref(b, pool), "net2"));
        EXPECT_FALSE(br->set_underlay("under", fx::memory_port_ref(under, pool), {local_ip, mac, next_hop}));
    }
    ~host() {
        a.clear_transmitted();
        b.clear_transmitted();
        under.clear_transmitted();
    }
    std::string cmd(const std::string& c) { return br->execute(c); }
};

constexpr std::uint64_t mac_a = 0x020000000a01ULL, mac_b = 0x020000000a02ULL, router = 0x0200000000feULL;

// Frames the underlay of `from` sent, received on the underlay of `to`.
std::size_t wire(host& from, host& to) {
    const auto sent = from.under.transmitted();
    const std::size_t n = to.under.inject(sent);
    EXPECT_EQ(n, sent.size());
    from.under.clear_transmitted();
    return n;
}

struct two_hosts : ::testing::Test {
    explicit two_hosts(std::size_t flow_cache = 0, const networks& nets = vxlan_and_gre)
        : h1{ip(10, 0, 0, 1), mac_a, router, flow_cache, nets}, h2{ip(10, 0, 0, 2), mac_b, router, flow_cache, nets} {}
    host h1;
    host h2;

    void SetUp() override {
        // l2pop: each host learns the other's VMs and floods to it.
        for (auto [h, remote, m1, m2] :
             {std::tuple{&h1, "10.0.0.2", vm2, vm4}, std::tuple{&h2, "10.0.0.1", vm1, vm3}}) {
            for (const char* net : {"net1", "net2"})
                ASSERT_TRUE(ok(h->cmd(std::string("add-fdb ") + net + " " + remote + " 00:00:00:00:00:00 0.0.0.0")));
            ASSERT_TRUE(ok(h->cmd("add-fdb net1 " + std::string(remote) + " " + fp::neutron::format_mac(m1.mac) + " " +
                                  fp::neutron::format_ipv4(m1.ip))));
            ASSERT_TRUE(ok(h->cmd("add-fdb net2 " + std::string(remote) + " " + fp::neutron::format_mac(m2.mac) + " " +
                                  fp::neutron::format_ipv4(m2.ip))));
        }
    }
};

TEST_F(two_hosts, arp_request_is_answered_locally_without_touching_the_underlay) {
    ASSERT_TRUE(h1.a.inject(arp_request(vm1, vm2.ip)));
    h1.br->poll(1);
    ASSERT_EQ(h1.a.transmitted().size(), 1u);
    EXPECT_EQ(h1.under.transmitted().size(), 0u) << "no ARP on the underlay";
    const fp::flow_key r = key_of(h1.a.transmitted()[0]);
    EXPECT_EQ(r.eth_type, fp::proto::eth_type_arp);
    EXPECT_EQ(r.vlan_tci, 0) << "the local VLAN tag is stripped towards the VM";
    EXPECT_EQ(r.arp_op, 2);
    EXPECT_EQ(r.eth_src, vm2.mac);
    EXPECT_EQ(r.eth_dst, vm1.mac);
    EXPECT_EQ(r.arp_sha, vm2.mac);
    EXPECT_EQ(r.arp_spa, vm2.ip);
    EXPECT_EQ(r.arp_tha, vm1.mac);
    EXPECT_EQ(r.arp_tpa, vm1.ip);
}

// An echo request from `from` on h1 to `to` on h2 and its reply, over the
// tunnel kind of that network: UDP to `udp_port` (4789 VXLAN, 6081 Geneve)
// or, when 0, GRE.
void ping_across(two_hosts& t, memory_port& src, memory_port& dst, const vm& from, const vm& to,
                 std::uint16_t udp_port) {
    const auto request = icmp(from, to, 8);
    ASSERT_TRUE(src.inject(request));
    t.h1.br->poll(10);
    ASSERT_EQ(t.h1.under.transmitted().size(), 1u);
    const fp::packet& outer = t.h1.under.transmitted()[0];
    const fp::flow_key o = key_of(outer);
    EXPECT_EQ(o.eth_dst, router) << "outer destination is the next hop";
    EXPECT_EQ(o.eth_src, mac_a);
    EXPECT_EQ(o.nw_src, ip(10, 0, 0, 1));
    EXPECT_EQ(o.nw_dst, ip(10, 0, 0, 2));
    EXPECT_EQ(o.nw_proto, udp_port != 0 ? 17 : 47);
    if (udp_port != 0) {
        EXPECT_EQ(o.tp_dst, udp_port);
    }
    ASSERT_EQ(wire(t.h1, t.h2), 1u);
    t.h2.br->poll(11);
    ASSERT_EQ(dst.transmitted().size(), 1u);
    EXPECT_EQ(bytes(dst.transmitted()[0]), request) << "the VM gets the frame it was sent, untagged";
    const auto reply = icmp(to, from, 0);
    dst.clear_transmitted();
    ASSERT_TRUE(dst.inject(reply));
    t.h2.br->poll(12);
    ASSERT_EQ(wire(t.h2, t.h1), 1u);
    t.h1.br->poll(13);
    ASSERT_EQ(src.transmitted().size(), 1u);
    EXPECT_EQ(bytes(src.transmitted()[0]), reply);
    src.clear_transmitted();
}

TEST_F(two_hosts, icmp_echo_crosses_vxlan_and_the_receiver_learns) {
    ping_across(*this, h1.a, h2.a, vm1, vm2, 4789);
    const std::string d = h2.cmd("dump-flows table=20");
    ASSERT_TRUE(ok(d)) << d;
    EXPECT_NE(d.find("hard_timeout=300"), std::string::npos) << d;
    EXPECT_NE(d.find("dl_dst=" + fp::neutron::format_mac(vm1.mac)), std::string::npos) << d;
    // Only table 20's flows, each line as ovs-ofctl prints it.
    EXPECT_EQ(d.find("table=21"), std::string::npos);
    EXPECT_NE(d.find(" cookie=0x0, duration="), std::string::npos);
    const std::string s = h2.cmd("show");
    EXPECT_EQ(show_value(s, "tunnels.decapsulated"), 1u) << s;
    EXPECT_EQ(show_value(s, "port.vm-a.tx_packets"), 1u);
    EXPECT_EQ(show_value(s, "port.vm-a.rx_packets"), 1u);
    EXPECT_EQ(show_value(s, "table.20.flows"), 4u) << "the default flow, two l2pop entries and the learned flow\n" << s;
}

TEST_F(two_hosts, icmp_echo_crosses_gre) {
    ping_across(*this, h1.b, h2.b, vm3, vm4, 0);
    EXPECT_EQ(h1.br->tunnel_counters().encapsulated, 1u);
    EXPECT_EQ(h2.br->tunnel_counters().decapsulated, 1u);
}

// The same with an exact-match flow cache in front of the tables: the
// second and later echoes are replayed from it, with the same frames out.
struct two_hosts_cached : two_hosts {
    two_hosts_cached() : two_hosts(1024) {}
};

TEST_F(two_hosts_cached, icmp_echo_crosses_vxlan_and_gre_from_the_cache) {
    for (int i = 0; i < 3; ++i) {
        ping_across(*this, h1.a, h2.a, vm1, vm2, 4789);
        ping_across(*this, h1.b, h2.b, vm3, vm4, 0);
    }
    const std::string s = h1.cmd("show");
    EXPECT_EQ(show_value(s, "flow_cache.entries"), 1024u) << s;
    EXPECT_GT(show_value(s, "flow_cache.hits"), 0u) << s;
    EXPECT_EQ(show_value(s, "tunnels.encapsulated"), 6u) << s;
    EXPECT_EQ(show_value(h2.cmd("show"), "tunnels.decapsulated"), 6u);
}

// net1 over Geneve (VNI 1001), net2 over VXLAN.
struct geneve_hosts : two_hosts {
    geneve_hosts() : two_hosts(0, {{"net1", "geneve", 1001}, {"net2", "vxlan", 2002}}) {}
};

TEST_F(geneve_hosts, arp_is_answered_locally_and_icmp_echo_crosses_geneve_both_ways_and_is_learned) {
    ASSERT_TRUE(h1.a.inject(arp_request(vm1, vm2.ip)));
    h1.br->poll(1);
    ASSERT_EQ(h1.a.transmitted().size(), 1u);
    EXPECT_EQ(h1.under.transmitted().size(), 0u) << "no ARP on the underlay";
    const fp::flow_key r = key_of(h1.a.transmitted()[0]);
    EXPECT_EQ(r.arp_op, 2);
    EXPECT_EQ(r.eth_dst, vm1.mac);
    EXPECT_EQ(r.arp_sha, vm2.mac);
    EXPECT_EQ(r.arp_spa, vm2.ip);
    h1.a.clear_transmitted();

    // The Geneve header of a request on the wire (RFC 8926, no options).
    const auto request = icmp(vm1, vm2, 8);
    ASSERT_TRUE(h1.a.inject(request));
    h1.br->poll(2);
    ASSERT_EQ(h1.under.transmitted().size(), 1u);
    const fp::packet& o = h1.under.transmitted()[0];
    ASSERT_EQ(o.len, request.size() + fp::io::geneve_overhead);
    EXPECT_EQ(fp::proto::load_be16(o.data + 36), 6081);
    EXPECT_EQ(fp::proto::load_be16(o.data + 38), o.len - 34) << "UDP length";
    EXPECT_EQ(fp::proto::load_be16(o.data + 40), 0) << "no UDP checksum";
    EXPECT_EQ(fp::proto::load_be32(o.data + 42), 0x6558u) << "version 0, no options, no flags, TEB";
    EXPECT_EQ(fp::proto::load_be32(o.data + 46), 1001u << 8) << "VNI";
    EXPECT_EQ(bytes(o).size(), o.len);
    EXPECT_TRUE(std::equal(request.begin(), request.end(), o.data + fp::io::geneve_overhead));
    h1.under.clear_transmitted();

    ping_across(*this, h1.a, h2.a, vm1, vm2, 6081);
    ping_across(*this, h1.b, h2.b, vm3, vm4, 4789);
    // Each side learned the other's VM behind the Geneve tunnel port (100, the first l2pop made).
    for (auto [h, remote] : {std::pair{&h2, vm1}, std::pair{&h1, vm2}}) {
        const std::string d = h->cmd("dump-flows table=20");
        ASSERT_TRUE(ok(d)) << d;
        const std::size_t at = d.find("hard_timeout=300");
        ASSERT_NE(at, std::string::npos) << d;
        const std::string learned = d.substr(at, d.find('\n', at) - at);
        EXPECT_NE(learned.find("dl_dst=" + fp::neutron::format_mac(remote.mac)), std::string::npos) << learned;
        EXPECT_NE(learned.find("load:0x3e9->NXM_NX_TUN_ID[]"), std::string::npos) << learned;
        EXPECT_NE(learned.find("output:100"), std::string::npos) << learned;
        const std::string s = h->cmd("show");
        EXPECT_NE(s.find("\ntunnel.100.kind geneve\n"), std::string::npos) << s;
        EXPECT_NE(s.find("\ntunnel.101.kind vxlan\n"), std::string::npos) << s;
        EXPECT_EQ(show_value(s, "tunnels.decapsulated"), 2u) << s;
    }
    for (host* h : {&h1, &h2}) {
        h->a.clear_transmitted();
        h->b.clear_transmitted();
        EXPECT_EQ(h->pool.available(), 512u);
    }
}

// l2pop removes a remote's last entry: the agent deletes the tunnel port, the
// bridge's tunnel_set forgets it, the remote's frames are an unknown remote's;
// a new entry brings it back.
TEST_F(two_hosts, a_tunnel_goes_with_its_remotes_last_fdb_entry_and_comes_back_with_a_new_one) {
    auto has_tunnel = [](host& h, const std::string& line) {
        return h.cmd("show").find("\ntunnel." + line + "\n") != std::string::npos;
    };
    ASSERT_TRUE(has_tunnel(h2, "100.kind vxlan"));
    ASSERT_TRUE(has_tunnel(h2, "101.kind gre"));
    const std::string vm1_entry =
        "net1 10.0.0.1 " + fp::neutron::format_mac(vm1.mac) + " " + fp::neutron::format_ipv4(vm1.ip);
    ASSERT_TRUE(ok(h2.cmd("del-fdb " + vm1_entry)));
    EXPECT_TRUE(has_tunnel(h2, "100.kind vxlan")) << "the flooding entry still holds it";
    ASSERT_TRUE(ok(h2.cmd("del-fdb net1 10.0.0.1 00:00:00:00:00:00 0.0.0.0")));
    const std::string gone = h2.cmd("show");
    EXPECT_EQ(gone.find("tunnel.100."), std::string::npos) << gone;
    EXPECT_TRUE(has_tunnel(h2, "101.kind gre")) << "net2's tunnel to the same host stays";

    // h1 still sends over VXLAN: h2 has no tunnel port for it any more.
    const std::size_t h2_free = h2.pool.available();
    ASSERT_TRUE(h1.a.inject(icmp(vm1, vm2, 8)));
    h1.br->poll(1);
    ASSERT_EQ(wire(h1, h2), 1u);
    h2.br->poll(2);
    EXPECT_EQ(h2.a.transmitted().size(), 0u);
    EXPECT_EQ(h2.br->tunnel_counters().dropped_for(fp::io::decap_status::unknown_remote), 1u);
    EXPECT_EQ(show_value(h2.cmd("show"), "tunnels.decap_dropped.unknown_remote"), 1u);
    EXPECT_EQ(h2.br->counters("under")->dropped(fx::drop_reason::not_tunnel), 1u);
    EXPECT_EQ(h2.pool.available(), h2_free);
    // Nor does anything go to it: no unicast flow for vm1, no tunnel in net1's flood list.
    ASSERT_TRUE(h2.a.inject(icmp(vm2, vm1, 0)));
    h2.br->poll(3);
    EXPECT_EQ(h2.under.transmitted().size(), 0u);
    EXPECT_EQ(h2.br->counters("vm-a")->dropped(fx::drop_reason::no_flow), 1u);
    EXPECT_EQ(h2.br->tunnel_counters().encapsulated, 0u);
    ping_across(*this, h1.b, h2.b, vm3, vm4, 0); // GRE as before

    // Back: the first entry makes the tunnel again (the lowest free number, 100).
    ASSERT_TRUE(ok(h2.cmd("add-fdb net1 10.0.0.1 00:00:00:00:00:00 0.0.0.0")));
    EXPECT_TRUE(has_tunnel(h2, "100.kind vxlan"));
    EXPECT_TRUE(has_tunnel(h2, "100.remote_ip 10.0.0.1"));
    ASSERT_TRUE(ok(h2.cmd("add-fdb " + vm1_entry)));
    ping_across(*this, h1.a, h2.a, vm1, vm2, 4789);
    EXPECT_EQ(h2.br->tunnel_counters().dropped_for(fp::io::decap_status::unknown_remote), 1u);
    EXPECT_EQ(h2.br->tunnel_counters().decapsulated, 2u) << "the GRE echo and the VXLAN one";
}

TEST_F(two_hosts, unknown_unicast_floods_to_the_network_tunnels_only) {
    vm stranger{0xfa163e0000ffULL, ip(192, 168, 1, 99)};
    ASSERT_TRUE(h1.a.inject(icmp(vm1, stranger, 8)));
    h1.br->poll(1);
    ASSERT_EQ(h1.under.transmitted().size(), 1u) << "one remote floods on net1";
    EXPECT_EQ(key_of(h1.under.transmitted()[0]).tp_dst, 4789);
}

TEST_F(two_hosts, del_fdb_removes_the_unicast_and_arp_entries) {
    ASSERT_TRUE(ok(
        h1.cmd("del-fdb net1 10.0.0.2 " + fp::neutron::format_mac(vm2.mac) + " " + fp::neutron::format_ipv4(vm2.ip))));
    const std::string d = h1.cmd("dump-flows table=21");
    EXPECT_EQ(d.find(fp::neutron::format_ipv4(vm2.ip)), std::string::npos) << d;
    ASSERT_TRUE(h1.a.inject(arp_request(vm1, vm2.ip)));
    h1.br->poll(1);
    EXPECT_EQ(h1.a.transmitted().size(), 0u) << "no local answer any more";
    EXPECT_EQ(h1.under.transmitted().size(), 1u) << "the request floods to the remote";
}

TEST_F(two_hosts, refused_frames_are_counted_by_reason_and_every_buffer_comes_back) {
    const std::size_t free_before = h1.pool.available();
    fp::flow_key tagged{};
    tagged.eth_src = vm1.mac;
    tagged.eth_dst = vm2.mac;
    tagged.eth_type = fp::proto::eth_type_ipv4;
    tagged.vlan_tci = 0x1005;
    ASSERT_TRUE(h1.a.inject(frame_of(tagged)));
    ASSERT_TRUE(h1.a.inject(std::vector<std::uint8_t>(10, 0xab))); // runt
    ASSERT_TRUE(h1.under.inject(icmp(vm1, vm2, 8)));               // not for the local IP
    h1.br->poll(1);
    const fx::port_counters* c = h1.br->counters("vm-a");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->dropped(fx::drop_reason::tagged_on_access), 1u);
    EXPECT_EQ(c->dropped(fx::drop_reason::runt), 1u);
    EXPECT_EQ(h1.br->counters("under")->dropped(fx::drop_reason::not_tunnel), 1u);
    EXPECT_EQ(h1.br->tunnel_counters().dropped_for(fp::io::decap_status::not_local), 1u);
    const std::string s = h1.cmd("show");
    EXPECT_EQ(show_value(s, "port.vm-a.dropped"), 2u) << s;
    EXPECT_EQ(show_value(s, "port.vm-a.dropped.runt"), 1u) << s;
    EXPECT_EQ(show_value(s, "tunnels.decap_dropped.not_local"), 1u) << s;
    EXPECT_EQ(h1.pool.available(), free_before) << "every refused buffer went back to its port";
}

TEST_F(two_hosts, a_full_transmit_queue_counts_tx_full_and_returns_buffers) {
    buffer_pool pool{buffer_pool::config{64, 2048, 128}};
    memory_port tiny(pool, {.port = 13, .tx_capacity = 1});
    ASSERT_FALSE(h2.br->add_vm_port(13, "vm-c", fx::memory_port_ref(tiny, pool), "net1"));
    // Three frames from h1 to vm2's MAC: vm-a and vm-c share net1 on h2, the
    // unicast goes to vm-a only once vm-a has sent, so flood the first ones.
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(h1.a.inject(icmp(vm1, vm2, 8)));
    h1.br->poll(1);
    ASSERT_EQ(wire(h1, h2), 3u);
    const std::size_t h2_free = h2.pool.available();
    h2.br->poll(2);
    EXPECT_EQ(h2.a.transmitted().size(), 3u);
    EXPECT_EQ(tiny.transmitted().size(), 1u);
    EXPECT_EQ(h2.br->counters("vm-c")->dropped(fx::drop_reason::tx_full), 2u);
    h2.a.clear_transmitted();
    tiny.clear_transmitted();
    EXPECT_EQ(h2.pool.available(), h2_free + 3);
    EXPECT_EQ(pool.available(), 64u);
    // Once vm-a has spoken, unicast to its MAC goes to it alone.
    ASSERT_TRUE(h2.a.inject(icmp(vm2, vm1, 0)));
    h2.br->poll(3);
    h2.under.clear_transmitted();
    EXPECT_EQ(tiny.transmitted().size(), 1u) << "vm1's MAC is unknown on h2: flooded to the local vm-c too";
    tiny.clear_transmitted();
    ASSERT_TRUE(h1.a.inject(icmp(vm1, vm2, 8)));
    h1.br->poll(4);
    wire(h1, h2);
    h2.br->poll(5);
    EXPECT_EQ(h2.a.transmitted().size(), 1u);
    EXPECT_EQ(tiny.transmitted().size(), 0u);
}

TEST_F(two_hosts, vm_ports_of_one_network_are_switched_locally_as_br_int_would) {
    memory_port c(h1.pool, {.port = 13});
    ASSERT_FALSE(h1.br->add_vm_port(13, "vm-c", fx::memory_port_ref(c, h1.pool), "net1"));
    const vm vm5{0xfa163e000005ULL, ip(192, 168, 1, 5)};
    // A broadcast ARP: a copy to vm-c, the answer from table 21, nothing on the underlay.
    const auto request = arp_request(vm1, vm2.ip);
    ASSERT_TRUE(h1.a.inject(request));
    h1.br->poll(1);
    ASSERT_EQ(c.transmitted().size(), 1u);
    EXPECT_EQ(bytes(c.transmitted()[0]), request);
    ASSERT_EQ(h1.a.transmitted().size(), 1u);
    EXPECT_EQ(key_of(h1.a.transmitted()[0]).arp_op, 2);
    EXPECT_EQ(h1.under.transmitted().size(), 0u);
    c.clear_transmitted();
    h1.a.clear_transmitted();
    // vm-c speaks (unknown unicast: to vm-a and over the tunnel)...
    ASSERT_TRUE(c.inject(icmp(vm5, {0xfa163e0000aaULL, 1}, 8)));
    h1.br->poll(2);
    EXPECT_EQ(h1.a.transmitted().size(), 1u);
    EXPECT_EQ(h1.under.transmitted().size(), 1u);
    h1.a.clear_transmitted();
    h1.under.clear_transmitted();
    // ...so a unicast to its MAC stays on the host, without br-tun.
    const std::uint64_t runs = h1.br->pipeline_counters().received;
    const auto hello = icmp(vm1, vm5, 8);
    ASSERT_TRUE(h1.a.inject(hello));
    h1.br->poll(3);
    ASSERT_EQ(c.transmitted().size(), 1u);
    EXPECT_EQ(bytes(c.transmitted()[0]), hello);
    EXPECT_EQ(h1.under.transmitted().size(), 0u);
    EXPECT_EQ(h1.br->pipeline_counters().received, runs) << "br-tun never saw it";
    EXPECT_EQ(h1.b.transmitted().size(), 0u) << "net2's port sees nothing of net1";
    // From the tunnel to vm-c's MAC: only vm-c gets it.
    ASSERT_TRUE(h2.a.inject(icmp(vm2, vm5, 8)));
    h2.br->poll(4);
    wire(h2, h1);
    h1.br->poll(5);
    EXPECT_EQ(c.transmitted().size(), 2u);
    EXPECT_EQ(h1.a.transmitted().size(), 0u);
    c.clear_transmitted();
    EXPECT_EQ(h1.pool.available(), 512u);
}

TEST_F(two_hosts, every_pool_has_all_its_buffers_back_after_traffic) {
    for (int i = 0; i < 40; ++i) {
        ASSERT_TRUE(h1.a.inject(arp_request(vm1, vm2.ip)));
        ASSERT_TRUE(h1.a.inject(icmp(vm1, vm2, 8)));
        ASSERT_TRUE(h1.b.inject(icmp(vm3, {bcast, 0}, 8))); // broadcast: floods over GRE
    }
    for (int round = 0; round < 8; ++round) {
        h1.br->poll(round);
        wire(h1, h2);
        h2.br->poll(round);
        wire(h2, h1);
    }
    EXPECT_EQ(h1.a.transmitted().size(), 40u);
    EXPECT_EQ(h2.a.transmitted().size(), 40u);
    EXPECT_EQ(h2.b.transmitted().size(), 40u);
    for (host* h : {&h1, &h2}) {
        h->a.clear_transmitted();
        h->b.clear_transmitted();
        h->under.clear_transmitted();
        EXPECT_EQ(h->pool.available(), 512u);
    }
}

// ---- the control protocol ----

TEST_F(two_hosts, control_commands_refuse_bad_input_with_a_sentence) {
    const std::vector<std::string> bad = {
        "",
        "frobnicate",
        "show extra",
        "add-flow",
        "add-flow table=20,nw_src=1.2.3.4 actions=drop", // not a field of table 20
        "add-flow table=99 actions=drop",
        "add-flow table=0,in_port=x actions=drop",
        "mod-flows",
        "mod-flows --strict",
        "del-flows table=0,foo=1",
        "dump-flows table=7",
        "dump-flows nonsense=1",
        "add-fdb",
        "add-fdb net1 10.0.0.2 00:00:00:00:00:00",
        "add-fdb net1 10.0.0.2 00:00:00:00:00:00 0.0.0.0 extra",
        "add-fdb net9 10.0.0.2 00:00:00:00:00:00 0.0.0.0",
        "add-fdb net1 10.0.0.300 00:00:00:00:00:00 0.0.0.0",
        "add-fdb net1 10.0.0.2 00:00:00:00:00 0.0.0.0",
        "add-fdb net1 10.0.0.2 fa:16:3e:00:00:09 1.2.3",
        "del-fdb net1 x y z",
    };
    for (const std::string& c : bad) {
        const std::string r = h1.cmd(c);
        EXPECT_TRUE(error(r)) << c << " -> " << r;
    }
    EXPECT_NE(h1.cmd("add-fdb net9 10.0.0.2 00:00:00:00:00:00 0.0.0.0").find("unknown network \"net9\""),
              std::string::npos);
    EXPECT_NE(h1.cmd("add-flow table=20,nw_src=1.2.3.4 actions=drop").find("nw_src"), std::string::npos);
    EXPECT_NE(h1.cmd("frobnicate").find("unknown command \"frobnicate\""), std::string::npos);
}

TEST_F(two_hosts, control_commands_that_work) {
    EXPECT_TRUE(ok(h1.cmd("help")));
    EXPECT_TRUE(ok(h1.cmd("dump-flows")));
    EXPECT_TRUE(ok(h1.cmd("  show  ")));
    const std::string d22 = h1.cmd("dump-flows table=22,dl_vlan=1");
    ASSERT_TRUE(ok(d22)) << d22;
    EXPECT_NE(d22.find("set_tunnel:0x3e9"), std::string::npos) << d22; // net1's VNI 1001 in its flood flow
    EXPECT_EQ(d22.find("dl_vlan=2"), std::string::npos) << d22;
    // Typed tables take text flows whose actions are one of their allowed lists.
    ASSERT_TRUE(ok(h1.cmd("add-flow table=22,priority=5,dl_vlan=1 actions=drop")));
    EXPECT_NE(h1.cmd("dump-flows table=22").find("priority=5,dl_vlan=1 actions=drop"), std::string::npos);
    ASSERT_TRUE(ok(h1.cmd("mod-flows --strict table=22,priority=5,dl_vlan=1 actions=drop")));
    const std::string refused = h1.cmd("mod-flows table=20 actions=output:7");
    EXPECT_TRUE(error(refused)) << "table 20 has no plain output list: " << refused;
    EXPECT_TRUE(ok(h1.cmd("del-flows --strict table=22,priority=5,dl_vlan=1")));
    EXPECT_EQ(h1.cmd("dump-flows table=22").find("priority=5"), std::string::npos);
    // del-flows on the preset: a strict delete of table 21's entry for vm2.
    ASSERT_TRUE(
        ok(h1.cmd("del-flows --strict table=21,priority=1,arp,dl_vlan=1,arp_tpa=" + fp::neutron::format_ipv4(vm2.ip))));
    EXPECT_EQ(h1.cmd("dump-flows table=21").find(fp::neutron::format_ipv4(vm2.ip)), std::string::npos);
}

TEST_F(two_hosts, random_lines_get_a_reply_never_a_crash) {
    std::mt19937 rng(6);
    const std::vector<std::string> words = {"add-flow",  "mod-flows", "del-flows",  "dump-flows", "add-fdb",
                                            "del-fdb",   "show",      "--strict",   "table=20",   "actions=drop",
                                            "net1",      "net2",      "10.0.0.2",   "0.0.0.0",    "00:00:00:00:00:00",
                                            "dl_vlan=1", "in_port=1", "priority=7", "arp",        "actions=output:3",
                                            ",",         "=",         "(",          ")",          "help"};
    for (int i = 0; i < 1500; ++i) {
        std::string line;
        const int n = static_cast<int>(rng() % 7);
        for (int w = 0; w < n; ++w) {
            if (rng() % 4 == 0) {
                for (int c = static_cast<int>(rng() % 6); c > 0; --c) line += static_cast<char>(rng() % 256);
            } else {
                line += words[rng() % words.size()];
            }
            line += rng() % 3 ? " " : "";
        }
        const std::string r = h1.cmd(line);
        ASSERT_TRUE(ok(r) || error(r)) << "line: " << line << "\nreply: " << r;
    }
    // Still forwarding afterwards.
    ASSERT_TRUE(h1.a.inject(icmp(vm1, {0x02ffffffffffULL, 1}, 8)));
    h1.br->poll(1);
}

// ---- construction and ports ----

TEST(bridge_setup, refuses_bad_options_and_ports) {
    buffer_pool pool;
    memory_port p1(pool, {.port = 1}), p2(pool, {.port = 2});
    fx::bridge_options o;
    o.networks = {{"n", "stt", 5}};
    EXPECT_NE(std::get<1>(bridge::neutron(o)).find("network type"), std::string::npos);
    o.networks = {{"n", "geneve", 5}};
    EXPECT_EQ(bridge::neutron(o).index(), 0u) << "Geneve networks have tunnel ports";
    o.networks = {{"n", "geneve", 1u << 24}};
    EXPECT_NE(std::get<1>(bridge::neutron(o)).find("segment"), std::string::npos) << "a VNI has 24 bits";
    o.networks = {{"n", "vxlan", 0}};
    EXPECT_NE(std::get<1>(bridge::neutron(o)).find("segment"), std::string::npos);
    o.networks = {{"n", "vxlan", 5}};
    o.local_ip = "10.0.0.256";
    EXPECT_EQ(bridge::neutron(o).index(), 1u);
    o.local_ip = "10.0.0.1";
    auto made = bridge::neutron(o);
    ASSERT_EQ(made.index(), 0u);
    bridge& b = std::get<0>(made);
    EXPECT_TRUE(b.add_vm_port(3, "x", fx::memory_port_ref(p1, pool), "nope"));
    EXPECT_TRUE(b.add_vm_port(1, "x", fx::memory_port_ref(p1, pool), "n")) << "patch-int's number";
    EXPECT_TRUE(b.add_port(3, "x", fx::memory_port_ref(p1, pool))) << "plain ports are for flows mode";
    EXPECT_TRUE(b.add_tunnel(7, fp::io::tunnel_kind::vxlan, 1)) << "l2pop makes the tunnels";
    EXPECT_FALSE(b.add_vm_port(3, "x", fx::memory_port_ref(p1, pool), "n"));
    EXPECT_TRUE(b.add_vm_port(3, "y", fx::memory_port_ref(p2, pool), "n")) << "number in use";
    EXPECT_TRUE(b.add_vm_port(4, "x", fx::memory_port_ref(p2, pool), "n")) << "name in use";
    EXPECT_TRUE(b.add_vm_port(4, "two words", fx::memory_port_ref(p2, pool), "n")) << "a blank in the name";
    EXPECT_TRUE(b.set_underlay("u", fx::memory_port_ref(p2, pool), {ip(10, 0, 0, 2), mac_a, router}))
        << "not the local IP";
    EXPECT_TRUE(b.set_underlay("u", fx::memory_port_ref(p2, pool), {ip(10, 0, 0, 1), 0x010000000000ULL, router}))
        << "multicast MAC";
    EXPECT_FALSE(b.set_underlay("u", fx::memory_port_ref(p2, pool), {ip(10, 0, 0, 1), mac_a, router}));
    EXPECT_TRUE(b.set_underlay("u2", fx::memory_port_ref(p2, pool), {ip(10, 0, 0, 1), mac_a, router})) << "set twice";
    buffer_pool small{buffer_pool::config{8, 256, 16}};
    memory_port cramped(small, {.port = 5});
    const auto e = b.add_vm_port(5, "z", fx::memory_port_ref(cramped, small), "n");
    ASSERT_TRUE(e);
    EXPECT_NE(e->find("headroom"), std::string::npos) << *e;
}

TEST(bridge_setup, flows_file_errors_name_the_line) {
    auto r = bridge::from_flows({}, "in_port=1 actions=output:2\n\n# c\nin_port=2 actions=frob\n");
    ASSERT_EQ(r.index(), 1u);
    EXPECT_NE(std::get<1>(r).find("line 4"), std::string::npos) << std::get<1>(r);
}

// ---- flows mode on br-tun's typed tables ----

// The br-tun unicast path as a flows file (what bench/switch_bench.sh gives
// both dpdk_switch and OVS-DPDK): the typed tables take it and forward as the
// generic pipeline does; a flow no br-tun table can hold refuses the file.
TEST(bridge_setup, flows_into_br_tun_typed_tables_forward_like_the_generic_pipeline) {
    const std::string flows = "table=0,priority=1,in_port=1 actions=resubmit(,2)\n"
                              "table=0,priority=0 actions=drop\n"
                              "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)\n"
                              "table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)\n"
                              "table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:00:00:02 "
                              "actions=strip_vlan,set_tunnel:0x6,output:2\n"
                              "table=20,priority=0 actions=resubmit(,22)\n"
                              "table=22,priority=0 actions=drop\n";
    fp::flow_key k = key_of(icmp(vm1, vm2, 8));
    k.vlan_tci = 0x1002;
    const std::vector<std::uint8_t> in = frame_of(k);
    std::vector<std::vector<std::uint8_t>> out[2];
    for (bool typed : {false, true}) {
        buffer_pool pool{buffer_pool::config{64, 2048, 128}};
        memory_port p1{pool, {.port = 1}}, p2{pool, {.port = 2}};
        fx::bridge_options o;
        o.typed_br_tun = typed;
        auto made = bridge::from_flows(o, flows);
        ASSERT_EQ(made.index(), 0u) << std::get<1>(made);
        bridge& b = std::get<0>(made);
        ASSERT_FALSE(b.add_port(1, "p1", fx::memory_port_ref(p1, pool)));
        ASSERT_FALSE(b.add_port(2, "p2", fx::memory_port_ref(p2, pool)));
        ASSERT_TRUE(p1.inject(in));
        b.poll(1);
        for (const fp::packet& f : p2.transmitted()) out[typed].push_back(bytes(f));
        EXPECT_NE(b.execute("dump-flows table=20").find("n_packets=1, n_bytes="), std::string::npos);
        p2.clear_transmitted();
    }
    ASSERT_EQ(out[1].size(), 1u);
    EXPECT_EQ(out[1], out[0]);
    fx::bridge_options o;
    o.typed_br_tun = true;
    auto bad =
        bridge::from_flows(o, flows + "table=20,priority=3,dl_vlan=2,dl_dst=fa:16:3e:00:00:09 actions=output:2\n");
    ASSERT_EQ(bad.index(), 1u);
    EXPECT_NE(std::get<1>(bad).find("flow 8"), std::string::npos) << std::get<1>(bad);
    EXPECT_NE(std::get<1>(bad).find("none of the action lists"), std::string::npos) << std::get<1>(bad);
    auto no_table = bridge::from_flows(o, "table=7,priority=1 actions=drop\n");
    ASSERT_EQ(no_table.index(), 1u);
    EXPECT_NE(std::get<1>(no_table).find("br-tun has no table 7"), std::string::npos) << std::get<1>(no_table);
}

// ---- flows mode ----

struct flows_mode : ::testing::Test {
    buffer_pool pool{buffer_pool::config{256, 2048, 128}};
    memory_port p1{pool, {.port = 1}}, p2{pool, {.port = 2}}, under{pool, {.port = 50}};
    std::optional<bridge> br;

    void SetUp() override {
        auto made = bridge::from_flows({}, "in_port=1,ip actions=set_tunnel:77,output:10\n"
                                           "in_port=1,arp actions=output:2\n"
                                           "in_port=10,tun_id=77 actions=output:2\n"
                                           "in_port=2 actions=output:33\n");
        ASSERT_EQ(made.index(), 0u) << std::get<1>(made);
        br.emplace(std::move(std::get<0>(made)));
        ASSERT_FALSE(br->add_port(1, "p1", fx::memory_port_ref(p1, pool)));
        ASSERT_FALSE(br->add_port(2, "p2", fx::memory_port_ref(p2, pool)));
    }
    void TearDown() override {
        p1.clear_transmitted();
        p2.clear_transmitted();
        under.clear_transmitted();
    }
};

TEST_F(flows_mode, plain_ports_forward_and_unknown_outputs_are_counted) {
    ASSERT_TRUE(p1.inject(arp_request(vm1, vm2.ip)));
    ASSERT_TRUE(p2.inject(icmp(vm2, vm1, 0))); // output:33, no such port
    br->poll(1);
    ASSERT_EQ(p2.transmitted().size(), 1u);
    EXPECT_EQ(bytes(p2.transmitted()[0]), arp_request(vm1, vm2.ip));
    EXPECT_EQ(br->counters("p2")->dropped(fx::drop_reason::no_such_port), 1u);
    // A tunnel output before the underlay exists.
    ASSERT_FALSE(br->add_tunnel(10, fp::io::tunnel_kind::vxlan, ip(10, 0, 0, 9)));
    ASSERT_TRUE(p1.inject(icmp(vm1, vm2, 8)));
    br->poll(2);
    EXPECT_EQ(br->counters("p1")->dropped(fx::drop_reason::no_underlay), 1u);
    EXPECT_EQ(pool.available(), 256u - 1u) << "only the frame logged on p2 is out";
}

TEST_F(flows_mode, tunnel_ports_encapsulate_and_decapsulate) {
    ASSERT_FALSE(br->set_underlay("under", fx::memory_port_ref(under, pool), {ip(10, 0, 0, 1), mac_a, router}));
    ASSERT_FALSE(br->add_tunnel(10, fp::io::tunnel_kind::vxlan, ip(10, 0, 0, 9)));
    EXPECT_TRUE(br->add_tunnel(10, fp::io::tunnel_kind::gre, ip(10, 0, 0, 8))) << "number in use";
    EXPECT_TRUE(br->add_tunnel(11, fp::io::tunnel_kind::vxlan, ip(10, 0, 0, 9))) << "remote in use";
    const auto inner = icmp(vm1, vm2, 8);
    ASSERT_TRUE(p1.inject(inner));
    br->poll(1);
    ASSERT_EQ(under.transmitted().size(), 1u);
    const fp::packet& outer = under.transmitted()[0];
    EXPECT_EQ(outer.len, inner.size() + fp::io::vxlan_overhead);
    EXPECT_EQ(fp::proto::load_be32(outer.data + 46) >> 8, 77u) << "VNI from set_tunnel";
    // Turn it around: as if 10.0.0.9 had sent it to us.
    std::vector<std::uint8_t> back = bytes(outer);
    fp::proto::store_be32(back.data() + 26, ip(10, 0, 0, 9));
    fp::proto::store_be32(back.data() + 30, ip(10, 0, 0, 1));
    under.clear_transmitted();
    ASSERT_TRUE(under.inject(back));
    br->poll(2);
    ASSERT_EQ(p2.transmitted().size(), 1u);
    EXPECT_EQ(bytes(p2.transmitted()[0]), inner);
    const std::string s = br->execute("show");
    EXPECT_EQ(show_value(s, "tunnels.decapsulated"), 1u) << s;
    EXPECT_NE(s.find("\ntunnel.10.kind vxlan\n"), std::string::npos) << s;
}

TEST(bridge_setup, flows_mode_tunnel_ports_can_be_geneve) {
    buffer_pool pool{buffer_pool::config{64, 2048, 128}};
    memory_port p1{pool, {.port = 1}}, p2{pool, {.port = 2}}, under{pool, {.port = 50}};
    auto made = bridge::from_flows({}, "in_port=1 actions=set_tunnel:0x1234,output:12\n"
                                       "in_port=12,tun_id=0x1234 actions=output:2\n");
    ASSERT_EQ(made.index(), 0u) << std::get<1>(made);
    bridge& b = std::get<0>(made);
    ASSERT_FALSE(b.add_port(1, "p1", fx::memory_port_ref(p1, pool)));
    ASSERT_FALSE(b.add_port(2, "p2", fx::memory_port_ref(p2, pool)));
    ASSERT_FALSE(b.set_underlay("under", fx::memory_port_ref(under, pool), {ip(10, 0, 0, 1), mac_a, router}));
    ASSERT_FALSE(b.add_tunnel(12, fp::io::tunnel_kind::geneve, ip(10, 0, 0, 9)));
    EXPECT_FALSE(b.add_tunnel(13, fp::io::tunnel_kind::vxlan, ip(10, 0, 0, 9))) << "kinds are apart";
    EXPECT_TRUE(b.add_tunnel(14, fp::io::tunnel_kind::geneve, ip(10, 0, 0, 9))) << "remote in use";
    const auto inner = icmp(vm1, vm2, 8);
    ASSERT_TRUE(p1.inject(inner));
    b.poll(1);
    ASSERT_EQ(under.transmitted().size(), 1u);
    std::vector<std::uint8_t> back = bytes(under.transmitted()[0]);
    ASSERT_EQ(back.size(), inner.size() + fp::io::geneve_overhead);
    EXPECT_EQ(fp::proto::load_be16(back.data() + 36), 6081);
    EXPECT_EQ(fp::proto::load_be32(back.data() + 42), 0x6558u);
    EXPECT_EQ(fp::proto::load_be32(back.data() + 46), 0x1234u << 8);
    under.clear_transmitted();
    // As if 10.0.0.9 had sent it (swapping the addresses keeps the checksum).
    fp::proto::store_be32(back.data() + 26, ip(10, 0, 0, 9));
    fp::proto::store_be32(back.data() + 30, ip(10, 0, 0, 1));
    ASSERT_TRUE(under.inject(back));
    b.poll(2);
    ASSERT_EQ(p2.transmitted().size(), 1u);
    EXPECT_EQ(bytes(p2.transmitted()[0]), inner);
    p2.clear_transmitted();
    const std::string s = b.execute("show");
    EXPECT_NE(s.find("\ntunnel.12.kind geneve\n"), std::string::npos) << s;
    EXPECT_EQ(show_value(s, "tunnels.decapsulated"), 1u) << s;
    EXPECT_EQ(pool.available(), 64u);
}

TEST_F(flows_mode, flow_mods_and_dumps) {
    EXPECT_TRUE(ok(br->execute("add-flow table=3,priority=9,ip,nw_dst=10.1.0.0/16 actions=drop")));
    EXPECT_TRUE(error(br->execute("add-flow table=3,priority=9,nw_dst=10.1.0.0/16 actions=drop"))) << "nw_dst needs ip";
    EXPECT_TRUE(ok(br->execute("mod-flows table=3,ip actions=output:2")));
    std::string d = br->execute("dump-flows table=3");
    EXPECT_NE(d.find("actions=output:2"), std::string::npos) << d;
    EXPECT_TRUE(ok(br->execute("mod-flows --strict table=3,priority=9,ip,nw_dst=10.1.0.0/16 actions=output:1")));
    d = br->execute("dump-flows table=3");
    EXPECT_NE(d.find("actions=output:1"), std::string::npos) << d;
    d = br->execute("dump-flows in_port=1");
    EXPECT_NE(d.find("ip,in_port=1"), std::string::npos) << d;
    EXPECT_EQ(d.find("in_port=2"), std::string::npos) << d;
    EXPECT_TRUE(ok(br->execute("del-flows table=3")));
    EXPECT_EQ(br->execute("dump-flows table=3"), "OK\n");
    EXPECT_TRUE(ok(br->execute("del-flows --strict in_port=2")));
    EXPECT_EQ(br->execute("dump-flows in_port=2"), "OK\n");
    EXPECT_TRUE(ok(br->execute("del-flows")));
    EXPECT_EQ(br->execute("dump-flows"), "OK\n");
    EXPECT_TRUE(error(br->execute("add-fdb net1 10.0.0.2 00:00:00:00:00:00 0.0.0.0"))) << "no l2pop in flows mode";
}

// ---- the control socket ----

struct control_socket_test : ::testing::Test {
    std::string dir;
    std::string path;

    void SetUp() override {
        char tmpl[] = "/tmp/fp-ctl-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir = tmpl;
        path = dir + "/ctl";
    }
    void TearDown() override {
        ::unlink(path.c_str());
        ::rmdir(dir.c_str());
    }
    int connect_client() const {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
        EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        return fd;
    }
    // Polls `c` until the client has read `want` replies (or 2 s pass).
    static std::string exchange(fx::control_socket& c, int fd, const std::string& send, int want,
                                const std::function<std::string(std::string_view)>& h) {
        if (!send.empty()) {
            EXPECT_EQ(::send(fd, send.data(), send.size(), 0), static_cast<ssize_t>(send.size()));
        }
        std::string got;
        for (int i = 0; i < 2000; ++i) {
            c.poll(h);
            char buf[4096];
            const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) got.append(buf, static_cast<std::size_t>(n));
            int lines = 0;
            for (char ch : got) lines += ch == '\n';
            if (lines >= want) break;
            ::usleep(1000);
        }
        return got;
    }
};

TEST_F(control_socket_test, answers_each_line_and_closes_after_a_half_closed_client) {
    auto made = fx::control_socket::open(path);
    ASSERT_EQ(made.index(), 0u) << std::get<1>(made);
    fx::control_socket c = std::move(std::get<0>(made));
    auto echo = [](std::string_view l) { return "got " + std::string(l) + "\n"; };
    const int fd = connect_client();
    EXPECT_EQ(exchange(c, fd, "one\ntw", 1, echo), "got one\n");
    EXPECT_EQ(exchange(c, fd, "o\n", 1, echo), "got two\n") << "a line split across reads";
    // A last line without its newline, then the client closes its side: the
    // reply still comes, then the connection closes.
    ASSERT_EQ(::send(fd, "three", 5, 0), 5);
    ::shutdown(fd, SHUT_WR);
    EXPECT_EQ(exchange(c, fd, "", 1, echo), "got three\n");
    for (int i = 0; i < 100 && c.clients() != 0; ++i) c.poll(echo);
    EXPECT_EQ(c.clients(), 0u);
    ::close(fd);
}

TEST_F(control_socket_test, drives_a_bridge) {
    auto made = fx::control_socket::open(path);
    ASSERT_EQ(made.index(), 0u);
    fx::control_socket c = std::move(std::get<0>(made));
    auto b = std::get<0>(bridge::from_flows({}, "priority=1 actions=drop\n"));
    const int fd = connect_client();
    const std::string r = exchange(c, fd, "dump-flows\nbogus\n", 3, [&](std::string_view l) { return b.execute(l); });
    EXPECT_NE(r.find("priority=1 actions=drop\nOK\nERROR: unknown command \"bogus\""), std::string::npos) << r;
    ::close(fd);
}

TEST_F(control_socket_test, many_lines_at_once_are_answered_over_several_polls) {
    auto made = fx::control_socket::open(path);
    ASSERT_EQ(made.index(), 0u);
    fx::control_socket c = std::move(std::get<0>(made));
    const int fd = connect_client();
    std::string lines;
    for (int i = 0; i < 200; ++i) lines += std::to_string(i) + "\n";
    ASSERT_EQ(::send(fd, lines.data(), lines.size(), 0), static_cast<ssize_t>(lines.size()));
    ::shutdown(fd, SHUT_WR);
    std::size_t most = 0;
    std::string got;
    auto echo = [](std::string_view l) { return std::string(l) + "\n"; };
    for (int i = 0; i < 2000 && got.size() < lines.size(); ++i) {
        most = std::max(most, c.poll(echo));
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got, lines) << "every line answered, in order, though the client closed its side";
    EXPECT_EQ(most, fx::control_socket::max_commands_per_poll);
    ::close(fd);
}

TEST_F(control_socket_test, refuses_a_live_path_and_replaces_a_stale_one) {
    {
        auto first = fx::control_socket::open(path);
        ASSERT_EQ(first.index(), 0u);
        auto second = fx::control_socket::open(path);
        ASSERT_EQ(second.index(), 1u);
        EXPECT_NE(std::get<1>(second).find("in use"), std::string::npos) << std::get<1>(second);
    }
    EXPECT_NE(::access(path.c_str(), F_OK), 0) << "closing removes the socket file";
    // A stale socket file (bound, nobody listening) is replaced.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
    EXPECT_EQ(fx::control_socket::open(path).index(), 0u);
    // A regular file is not touched.
    { std::ofstream(path) << "x"; }
    auto r = fx::control_socket::open(path);
    ASSERT_EQ(r.index(), 1u);
    EXPECT_NE(std::get<1>(r).find("not a socket"), std::string::npos);
    EXPECT_EQ(fx::control_socket::open(std::string(200, 'x')).index(), 1u) << "too long for sun_path";
}

TEST_F(control_socket_test, an_overlong_line_gets_an_error_and_the_connection_closes) {
    auto made = fx::control_socket::open(path);
    ASSERT_EQ(made.index(), 0u);
    fx::control_socket c = std::move(std::get<0>(made));
    const int fd = connect_client();
    const std::string big(fx::control_socket::max_line + 10, 'a');
    std::size_t sent = 0;
    std::string got;
    auto h = [](std::string_view) { return std::string("never\n"); };
    for (int i = 0; i < 4000 && got.find('\n') == std::string::npos; ++i) {
        if (sent < big.size()) {
            const ssize_t n = ::send(fd, big.data() + sent, big.size() - sent, MSG_DONTWAIT);
            if (n > 0) sent += static_cast<std::size_t>(n);
        }
        c.poll(h);
        char buf[256];
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got.rfind("ERROR: line longer than", 0), 0u) << got;
    ::close(fd);
}

} // namespace
