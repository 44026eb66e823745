// libFuzzer target for the switch's control protocol (examples/switch,
// what dpdk_switch's Unix socket feeds): every line of the input is a command
// to a Neutron bridge over in-memory ports; every reply must end in "OK" or in
// one "ERROR: <sentence>" line, and after the commands the bridge still
// forwards a frame from its VM port with every buffer accounted for.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <flowpipe/core/compose.hpp>
#include <flowpipe/io/memory_port.hpp>

#include "switch/bridge.hpp"
#include "switch/port_ref.hpp"

namespace {

namespace fp = flowpipe;
namespace fx = flowpipe::examples;
using bridge = fx::bridge<fx::memory_port_ref>;

bool well_formed(const std::string& reply) {
    if (reply.size() >= 3 && reply.compare(reply.size() - 3, 3, "OK\n") == 0) return true;
    const std::size_t at = reply.rfind("ERROR: ");
    return at != std::string::npos && (at == 0 || reply[at - 1] == '\n') && reply.back() == '\n' &&
           reply.find('\n', at) == reply.size() - 1 && reply.size() > at + 8;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fp::io::buffer_pool pool{fp::io::buffer_pool::config{64, 2048, 128}};
    std::optional<fp::io::memory_port> vm, under;
    vm.emplace(pool, fp::io::memory_port::config{.port = 11});
    under.emplace(pool, fp::io::memory_port::config{.port = 99});
    fx::bridge_options o;
    o.local_ip = "10.0.0.1";
    o.networks = {{"net1", "vxlan", 1001}, {"net2", "gre", 2002}};
    o.tables.max_flows = 256;
    o.flow_cache = 64;
    auto made = bridge::neutron(o);
    if (made.index() != 0) std::abort();
    bridge& br = std::get<0>(made);
    if (br.add_vm_port(11, "vm", fx::memory_port_ref(*vm, pool), "net1")) std::abort();
    if (br.set_underlay("under", fx::memory_port_ref(*under, pool), {0x0a000001, 0x020000000a01ULL, 0x0200000000feULL}))
        std::abort();

    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::int64_t now = 0;
    while (!in.empty()) {
        const std::size_t nl = in.find('\n');
        const std::string_view line = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
        if (!well_formed(br.execute(line))) std::abort();
        br.poll(now += 1000); // expiry between commands
    }

    // Still a switch: a broadcast ARP from the VM runs, and every buffer comes back.
    fp::flow_key k{};
    k.eth_src = 0xfa163e000001ULL;
    k.eth_dst = 0xffffffffffffULL;
    k.eth_type = 0x0806;
    k.arp_op = 1;
    k.arp_sha = k.eth_src;
    k.arp_spa = 0xc0a80101;
    k.arp_tpa = 0xc0a80102;
    std::uint8_t frame[fp::compose_max_frame_len];
    const std::size_t len = fp::compose_frame(k, frame);
    if (!vm->inject(std::span<const std::uint8_t>(frame, len))) std::abort();
    br.poll(now + 1);
    vm->clear_transmitted();
    under->clear_transmitted();
    if (pool.available() != 64) std::abort();
    return 0;
}
