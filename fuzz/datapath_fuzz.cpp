// libFuzzer target for the whole data path of the switch (examples/switch
// over in-memory ports, what dpdk_switch runs per burst): frames from VM
// ports and from the underlay go through decapsulation, the typed Neutron
// br-tun pipeline (learning, the ARP responder, l2pop flows, the flow cache
// or not) and encapsulation, over VXLAN (net1), GRE (net2) and Geneve (net3)
// tunnels that l2pop records delete and make again on the way.
//
// The input is a list of records. The first byte of the input picks the
// configuration (flow cache on or off). Each record is
//   [op] [len] [len bytes]
// where op's low 2 bits say where the bytes go:
//   0  a VM port: net1's, or with bit 7 net3's
//   1  net2's VM port; with bit 7 no frame but an l2pop change from the
//      remote, the record's first byte saying which (see l2pop below)
//   2  the underlay, as they are
//   3  the underlay wrapped by the harness in a valid outer header from the
//      remote host (so the fuzzer reaches the pipeline through a tunnel
//      without having to spell outer headers and checksums): VXLAN, with bit
//      7 GRE, or Geneve when the record's first byte is geneve_marker (taken
//      off); one outer byte is then overwritten when op's bit 2 is set (a
//      byte of the record chooses where, the next what).
// Bits 3-5 advance the clock (0 to 7 * 45 s: learned flows and the ARP
// responder's MACs expire on the way), bit 6 polls the bridge before the
// next record (so bursts hold several frames). (Before net3, bit 7 meant
// GRE and nothing else; seeds of that time mean what they meant.)
//
// Checked (abort on failure, besides AddressSanitizer and UBSan):
//   - every frame the switch transmits parses as Ethernet, VM ports never
//     get a VLAN tag, and the underlay only gets VXLAN, Geneve or GRE frames
//     to the remote with headers as tunnel.hpp writes them (outer IPv4
//     checksum right, UDP length right, no options), which the remote's
//     tunnel_set takes back to an untagged Ethernet frame;
//   - every buffer is accounted for: once the receive queues are drained and
//     the transmitted frames freed, the pool holds all of them again.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/io/memory_port.hpp>
#include <flowpipe/io/tunnel.hpp>
#include <flowpipe/proto/wire.hpp>

#include "switch/bridge.hpp"
#include "switch/port_ref.hpp"

namespace {

namespace fp = flowpipe;
namespace fx = flowpipe::examples;
using bridge = fx::bridge<fx::memory_port_ref>;

constexpr std::uint32_t local_ip = 0x0a000001, remote_ip = 0x0a000002;
constexpr std::uint64_t local_mac = 0x020000000a01ULL, next_hop_mac = 0x0200000000feULL;
constexpr std::uint32_t pool_buffers = 256;
// The first byte of a wrapped record with op bit 7 that makes it Geneve, not GRE.
constexpr std::uint8_t geneve_marker = 0x65;

// The remote's l2pop entries: per network, the flooding entry and its VM's.
constexpr const char* fdb_entries[3][2] = {
    {"net1 10.0.0.2 00:00:00:00:00:00 0.0.0.0", "net1 10.0.0.2 fa:16:3e:00:00:21 192.168.1.21"},
    {"net2 10.0.0.2 00:00:00:00:00:00 0.0.0.0", "net2 10.0.0.2 fa:16:3e:00:00:22 192.168.2.22"},
    {"net3 10.0.0.2 00:00:00:00:00:00 0.0.0.0", "net3 10.0.0.2 fa:16:3e:00:00:23 192.168.3.23"},
};

// An invariant: on failure, which one, then abort (libFuzzer keeps the input).
#define CHECK(x) check((x), __LINE__, #x)
void check(bool ok, int line, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "datapath_fuzz.cpp:%d: check failed: %s\n", line, what);
    std::abort();
}

// The frames a port sent: Ethernet, and for VM ports untagged.
void check_vm_port(const fp::io::memory_port& p) {
    for (const fp::packet& f : p.transmitted()) {
        fp::flow_key k{};
        fp::proto::frame_layout l{};
        fp::extract(f.data, f.len, k, l);
        CHECK(l.has_ethernet);
        CHECK(!l.has_vlan);
    }
}

// The underlay's frames: IPv4 from us to the remote, header checksum right,
// VXLAN, Geneve or GRE as tunnel.hpp writes them, and taken back by the
// remote's end to an untagged Ethernet frame.
void check_underlay(const fp::io::memory_port& p, fp::io::tunnel_set& remote) {
    namespace pr = fp::proto;
    for (const fp::packet& f : p.transmitted()) {
        CHECK(f.len >= pr::eth_header_len + 20);
        CHECK(pr::load_be48(f.data + pr::eth_dst_offset) == next_hop_mac);
        CHECK(pr::load_be48(f.data + pr::eth_src_offset) == local_mac);
        CHECK(pr::load_be16(f.data + pr::eth_type_offset) == pr::eth_type_ipv4);
        const std::uint8_t* ip = f.data + pr::eth_header_len;
        CHECK(ip[0] == 0x45);
        CHECK(pr::load_be32(ip + 12) == local_ip && pr::load_be32(ip + 16) == remote_ip);
        std::uint32_t s = 0;
        for (std::size_t i = 0; i < 20; i += 2) s += pr::load_be16(ip + i);
        while (s >> 16) s = (s & 0xffffu) + (s >> 16);
        CHECK(s == 0xffffu);
        CHECK(pr::load_be16(ip + 2) == f.len - pr::eth_header_len);
        CHECK(ip[9] == 17 || ip[9] == 47);
        const std::uint8_t* l4 = ip + 20;
        if (ip[9] == 17) {
            CHECK(f.len >= fp::io::vxlan_overhead);
            const std::uint16_t port = pr::load_be16(l4 + 2);
            CHECK(port == 4789 || port == 6081);
            CHECK(pr::load_be16(l4 + 4) == f.len - pr::eth_header_len - 20);
            CHECK(pr::load_be16(l4 + 6) == 0);
            CHECK(pr::load_be32(l4 + 8) == (port == 4789 ? 0x08000000u : 0x00006558u));
            CHECK((pr::load_be32(l4 + 12) & 0xffu) == 0);
        } else {
            CHECK(pr::load_be32(l4) == 0x20006558u);
        }
        fp::packet inner = f; // decapsulation moves the view, not the bytes
        CHECK(remote.decapsulate(inner) == fp::io::decap_status::ok);
        fp::flow_key k{};
        fp::proto::frame_layout l{};
        fp::extract(inner.data, inner.len, k, l);
        CHECK(l.has_ethernet);
        CHECK(!l.has_vlan);
    }
}

struct harness {
    fp::io::buffer_pool pool{fp::io::buffer_pool::config{pool_buffers, 2048, 128}};
    // The remote host's end, to wrap frames the way it would send them.
    fp::io::buffer_pool remote_pool{fp::io::buffer_pool::config{1, 2048, 128}};
    fp::io::tunnel_set remote{fp::io::underlay_config{remote_ip, 0x020000000a02ULL}};
    std::optional<fp::io::memory_port> vm1, vm2, vm3, under;
    std::optional<bridge> br;

    explicit harness(bool flow_cache) {
        vm1.emplace(pool, fp::io::memory_port::config{.port = 11});
        vm2.emplace(pool, fp::io::memory_port::config{.port = 12});
        vm3.emplace(pool, fp::io::memory_port::config{.port = 13});
        under.emplace(pool, fp::io::memory_port::config{.port = 99});
        fx::bridge_options o;
        o.local_ip = "10.0.0.1";
        o.networks = {{"net1", "vxlan", 1001}, {"net2", "gre", 2002}, {"net3", "geneve", 3003}};
        o.tables.max_flows = 64; // small: full tables and learn refusals are reached
        o.flow_cache = flow_cache ? 64 : 0;
        auto made = bridge::neutron(o);
        CHECK(made.index() == 0);
        br.emplace(std::move(std::get<0>(made)));
        CHECK(!br->add_vm_port(11, "vm1", fx::memory_port_ref(*vm1, pool), "net1"));
        CHECK(!br->add_vm_port(12, "vm2", fx::memory_port_ref(*vm2, pool), "net2"));
        CHECK(!br->add_vm_port(13, "vm3", fx::memory_port_ref(*vm3, pool), "net3"));
        CHECK(!br->set_underlay("under", fx::memory_port_ref(*under, pool), {local_ip, local_mac, next_hop_mac}));
        // l2pop: the remote floods every network and holds one VM on each.
        for (std::uint8_t net = 0; net < 3; ++net) {
            l2pop(static_cast<std::uint8_t>(net | 4));
            l2pop(static_cast<std::uint8_t>(net | 4 | 8));
        }
        CHECK(remote.add({1, fp::io::tunnel_kind::vxlan, local_ip, 0x0200000000ffULL}));
        CHECK(remote.add({2, fp::io::tunnel_kind::gre, local_ip, 0x0200000000ffULL}));
        CHECK(remote.add({3, fp::io::tunnel_kind::geneve, local_ip, 0x0200000000ffULL}));
    }

    // An l2pop change from the remote: bits 0-1 of `b` pick the network
    // (net1, net2, net3, net3), bit 2 adds rather than deletes, bit 3 picks
    // the VM's entry rather than the flooding one. Deleting a network's
    // flooding entry deletes its tunnel port; adding an entry makes it again.
    void l2pop(std::uint8_t b) {
        const std::string c =
            std::string((b & 4) != 0 ? "add-fdb " : "del-fdb ") + fdb_entries[std::min(b & 3, 2)][(b >> 3) & 1];
        const std::string r = br->execute(c);
        CHECK(r.size() >= 3 && r.compare(r.size() - 3, 3, "OK\n") == 0);
    }

    // The inner frame as the remote would send it on tunnel port `port`
    // (1 VXLAN, 2 GRE, 3 Geneve), in VNI/key `id`.
    bool inject_wrapped(const std::uint8_t* inner, std::size_t len, std::uint32_t port, std::uint32_t id,
                        const std::uint8_t* corrupt) {
        fp::packet p;
        if (len > remote_pool.max_frame_len() || !remote_pool.alloc(p)) return false;
        std::memcpy(p.data, inner, len);
        p.len = static_cast<std::uint32_t>(len);
        p.tun_id = id;
        bool ok = remote.encapsulate(p, port) == fp::io::encap_status::ok;
        if (ok && corrupt != nullptr) p.data[corrupt[0] % std::min<std::uint32_t>(p.len, 64)] = corrupt[1];
        if (ok) ok = under->inject(p.bytes());
        remote_pool.free(p);
        return ok;
    }

    // Polls until every receive queue is empty (a poll takes one burst a
    // port), checking what each round sent.
    void poll(std::int64_t now) {
        for (int round = 0; round == 0 || vm1->pending() + vm2->pending() + vm3->pending() + under->pending() != 0;
             ++round) {
            CHECK(round < 64); // a burst a port a round: the queues hold less
            br->poll(now);
            check_vm_port(*vm1);
            check_vm_port(*vm2);
            check_vm_port(*vm3);
            check_underlay(*under, remote);
            vm1->clear_transmitted();
            vm2->clear_transmitted();
            vm3->clear_transmitted();
            under->clear_transmitted();
        }
        CHECK(pool.available() == pool_buffers);
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    harness h((data[0] & 1) != 0);
    std::size_t at = 1;
    std::int64_t now = 1;
    while (at + 2 <= size) {
        const std::uint8_t op = data[at];
        std::size_t len = data[at + 1];
        at += 2;
        len = std::min(len, size - at);
        const std::uint8_t* bytes = data + at;
        at += len;
        const bool bit7 = (op & 0x80) != 0;
        switch (op & 3) {
        case 0: (bit7 ? h.vm3 : h.vm1)->inject(std::span<const std::uint8_t>(bytes, len)); break;
        case 1:
            if (!bit7)
                h.vm2->inject(std::span<const std::uint8_t>(bytes, len));
            else if (len >= 1)
                h.l2pop(bytes[0]);
            break;
        case 2: h.under->inject(std::span<const std::uint8_t>(bytes, len)); break;
        case 3: {
            const bool geneve = bit7 && len >= 1 && bytes[0] == geneve_marker;
            if (geneve) {
                ++bytes;
                --len;
            }
            const std::uint32_t port = geneve ? 3 : bit7 ? 2 : 1;
            const std::uint32_t id = geneve ? 3003 : bit7 ? 2002 : 1001;
            const bool corrupt = (op & 4) != 0 && len >= 2;
            h.inject_wrapped(bytes + (corrupt ? 2 : 0), len - (corrupt ? 2 : 0), port, id, corrupt ? bytes : nullptr);
            break;
        }
        }
        now += std::int64_t{(op >> 3) & 7} * 45000;
        if ((op & 0x40) != 0) h.poll(now);
    }
    h.poll(now + 1);
    return 0;
}
