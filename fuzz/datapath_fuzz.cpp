// libFuzzer target for the whole data path of the switch (examples/switch
// over in-memory ports, what dpdk_switch runs per burst): frames from VM
// ports and from the underlay go through decapsulation, the typed Neutron
// br-tun pipeline (learning, the ARP responder, l2pop flows, the flow cache
// or not) and encapsulation.
//
// The input is a list of records. The first byte of the input picks the
// configuration (flow cache on or off). Each record is
//   [op] [len] [len bytes]
// where op's low 2 bits say where the bytes go: a VM port of net1 or net2,
// the underlay as they are, or the underlay wrapped by the harness in a
// valid VXLAN or GRE outer header from the remote host (so the fuzzer
// reaches the pipeline through a tunnel without having to spell outer
// headers and checksums), with one outer byte then overwritten when op's
// bit 2 is set (a byte of the record chooses where, the next what). Bits
// 3-5 advance the clock (0 to 7 * 45 s: learned flows and the ARP
// responder's MACs expire on the way), bit 6 polls the bridge before the
// next record (so bursts hold several frames), bit 7 uses GRE instead of
// VXLAN.
//
// Checked (abort on failure, besides AddressSanitizer and UBSan):
//   - every frame the switch transmits parses as Ethernet, VM ports never
//     get a VLAN tag, and the underlay only gets VXLAN or GRE frames to the
//     remote whose outer IPv4 header checksum is right;
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
// UDP to 4789 or GRE.
void check_underlay(const fp::io::memory_port& p) {
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
        CHECK(ip[9] == 17 || ip[9] == 47);
        if (ip[9] == 17) CHECK(pr::load_be16(ip + 20 + 2) == 4789);
    }
}

struct harness {
    fp::io::buffer_pool pool{fp::io::buffer_pool::config{pool_buffers, 2048, 128}};
    // The remote host's end, to wrap frames the way it would send them.
    fp::io::buffer_pool remote_pool{fp::io::buffer_pool::config{1, 2048, 128}};
    fp::io::tunnel_set remote{fp::io::underlay_config{remote_ip, 0x020000000a02ULL}};
    std::optional<fp::io::memory_port> vm1, vm2, under;
    std::optional<bridge> br;

    explicit harness(bool flow_cache) {
        vm1.emplace(pool, fp::io::memory_port::config{.port = 11});
        vm2.emplace(pool, fp::io::memory_port::config{.port = 12});
        under.emplace(pool, fp::io::memory_port::config{.port = 99});
        fx::bridge_options o;
        o.local_ip = "10.0.0.1";
        o.networks = {{"net1", "vxlan", 1001}, {"net2", "gre", 2002}};
        o.tables.max_flows = 64; // small: full tables and learn refusals are reached
        o.flow_cache = flow_cache ? 64 : 0;
        auto made = bridge::neutron(o);
        CHECK(made.index() == 0);
        br.emplace(std::move(std::get<0>(made)));
        CHECK(!br->add_vm_port(11, "vm1", fx::memory_port_ref(*vm1, pool), "net1"));
        CHECK(!br->add_vm_port(12, "vm2", fx::memory_port_ref(*vm2, pool), "net2"));
        CHECK(!br->set_underlay("under", fx::memory_port_ref(*under, pool), {local_ip, local_mac, next_hop_mac}));
        // l2pop: the remote floods both networks and holds one VM on each.
        for (const char* c :
             {"add-fdb net1 10.0.0.2 00:00:00:00:00:00 0.0.0.0", "add-fdb net1 10.0.0.2 fa:16:3e:00:00:21 192.168.1.21",
              "add-fdb net2 10.0.0.2 00:00:00:00:00:00 0.0.0.0",
              "add-fdb net2 10.0.0.2 fa:16:3e:00:00:22 192.168.2.22"}) {
            const std::string r = br->execute(c);
            CHECK(r.size() >= 3 && r.compare(r.size() - 3, 3, "OK\n") == 0);
        }
        CHECK(remote.add({1, fp::io::tunnel_kind::vxlan, local_ip, 0x0200000000ffULL}));
        CHECK(remote.add({2, fp::io::tunnel_kind::gre, local_ip, 0x0200000000ffULL}));
    }

    // The inner frame as the remote would send it, in VNI/key `id`.
    bool inject_wrapped(const std::uint8_t* inner, std::size_t len, bool gre, std::uint32_t id,
                        const std::uint8_t* corrupt) {
        fp::packet p;
        if (len > remote_pool.max_frame_len() || !remote_pool.alloc(p)) return false;
        std::memcpy(p.data, inner, len);
        p.len = static_cast<std::uint32_t>(len);
        p.tun_id = id;
        bool ok = remote.encapsulate(p, gre ? 2u : 1u) == fp::io::encap_status::ok;
        if (ok && corrupt != nullptr) p.data[corrupt[0] % std::min<std::uint32_t>(p.len, 64)] = corrupt[1];
        if (ok) ok = under->inject(p.bytes());
        remote_pool.free(p);
        return ok;
    }

    // Polls until every receive queue is empty (a poll takes one burst a
    // port), checking what each round sent.
    void poll(std::int64_t now) {
        for (int round = 0; round == 0 || vm1->pending() + vm2->pending() + under->pending() != 0; ++round) {
            CHECK(round < 64); // a burst a port a round: the queues hold less
            br->poll(now);
            check_vm_port(*vm1);
            check_vm_port(*vm2);
            check_underlay(*under);
            vm1->clear_transmitted();
            vm2->clear_transmitted();
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
        switch (op & 3) {
        case 0: h.vm1->inject(std::span<const std::uint8_t>(bytes, len)); break;
        case 1: h.vm2->inject(std::span<const std::uint8_t>(bytes, len)); break;
        case 2: h.under->inject(std::span<const std::uint8_t>(bytes, len)); break;
        case 3: {
            const bool gre = (op & 0x80) != 0;
            const bool corrupt = (op & 4) != 0 && len >= 2;
            const std::uint32_t id = gre ? 2002 : 1001;
            h.inject_wrapped(bytes + (corrupt ? 2 : 0), len - (corrupt ? 2 : 0), gre, id, corrupt ? bytes : nullptr);
            break;
        }
        }
        now += std::int64_t{(op >> 3) & 7} * 45000;
        if ((op & 0x40) != 0) h.poll(now);
    }
    h.poll(now + 1);
    return 0;
}
