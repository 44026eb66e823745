// The switch core: one bridge (a pipeline, its ports by role, a tunnel_set,
// counters and the control protocol) that any set of packet_port drivers
// plugs into. examples/dpdk_switch runs it over DPDK ethdev queues; the tests
// run it over io::memory_port.
//
// The one idea: a poll round takes each port in turn, receives one burst of
// 32 from it, runs that burst alone through the pipeline and delivers what
// came out before the next port is polled. Every buffer of a run therefore
// belongs to one port, the one that received it: whatever a transmit does
// not accept, the pipeline drops or a delivery refuses goes back to that port
// (io/port.hpp's laws 1 and 2) with no bookkeeping per packet.
//
// Two modes:
//
//   neutron     neutron::br_tun (typed) driven by neutron::basic_agent. A VM
//               port stands for br-int's access port of one network: what it
//               receives is tagged with the network's local VLAN and enters
//               br-tun as in_port=patch-int; what br-tun outputs to patch-int
//               has its tag stripped and goes to the VM ports of that VLAN (a
//               unicast to the port whose source MAC it is when one is known,
//               else to all of them, as br-int's NORMAL would). Between VM
//               ports of one network the bridge switches as br-int does: a
//               unicast to a MAC a local VM port sent from stays local, the
//               rest goes to the other local ports and to br-tun. Tunnel ports
//               are created and deleted by the agent (l2pop, `add-fdb` and
//               `del-fdb`); after each such command the io::tunnel_set over the
//               underlay port is made to hold exactly the agent's tunnels, so a
//               remote whose last entry went is an unknown remote again.
//   flows       a generic_pipeline loaded from ovs-ofctl add-flows text; ports
//               are plain (`add_port`), tunnels are added by hand (`add_tunnel`).
//               With bridge_options::typed_br_tun the flows go into br-tun's
//               typed tables instead (no agent): the same text, specialised code.
//
// Tunnels: frames output to a tunnel port are encapsulated (VXLAN, Geneve or
// GRE, tun_id from the flow) with the underlay's local IP and MAC and the
// configured next-hop MAC as outer destination (no ARP on the underlay,
// ever), then sent on the underlay port; frames from the underlay are
// decapsulated (in_port = the tunnel port of the sender) or dropped, counted
// by reason in the tunnel_set.
//
// Copies: a frame for several VM ports goes as itself to the last one and as
// a view marked clone_cookie to the others, which copy it during their
// transmit (law 3); the views are transmitted first, so the buffer is intact
// while they copy. Frames for a port of another driver are copied by that
// port (law 3 again) and their buffers go back to the port that received
// them: a port tells whether a buffer is its own with `owns(packet)`; one
// without owns() is taken to own nothing it did not receive itself.
//
// Everything refused is counted per port and per reason (`show`). Nothing on
// the data path allocates, throws, locks or calls through a pointer: ports
// sit in a std::variant visited once per burst.
//
// The control protocol (execute): one command a line, the reply's last line
// is "OK" or "ERROR: <sentence>". See docs/dpdk-switch.md.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <flowpipe/action/context.hpp>
#include <flowpipe/core/packet.hpp>
#include <flowpipe/io/port.hpp>
#include <flowpipe/io/tunnel.hpp>
#include <flowpipe/neutron/agent.hpp>
#include <flowpipe/neutron/br_tun.hpp>
#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/ofctl/print.hpp>
#include <flowpipe/pipeline/burst_output.hpp>
#include <flowpipe/pipeline/flow_cache.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>
#include <flowpipe/proto/ethernet.hpp>
#include <flowpipe/proto/wire.hpp>

namespace flowpipe::examples {

// Frames one port receives per poll round.
inline constexpr std::size_t switch_burst = 32;
// Ports of one bridge (VM ports are addressed by a 64-bit mask per frame).
inline constexpr std::size_t max_bridge_ports = 64;
// 802.1ad service tag: like 802.1Q, refused on access ports.
inline constexpr std::uint16_t eth_type_qinq = 0x88a8;

// A tenant network of the Neutron preset, given at startup.
struct network_options {
    std::string id;   // Neutron's network id
    std::string type; // vxlan, geneve or gre
    std::uint64_t segment = 0;
};

struct bridge_options {
    std::string local_ip{};                // neutron: this host's tunnel endpoint (the agent skips fdb entries for it)
    std::vector<network_options> networks; // neutron: provisioned in order, local VLANs 1, 2, ...
    bool arp_responder = true;             // neutron: table 21 answers ARP for l2pop entries
    std::uint32_t patch_int = 1;           // neutron: the internal number of the patch port to br-int
    std::uint32_t first_tunnel_port = 100; // neutron: tunnel ofports the agent gets are allocated from here
    table_config tables{.max_flows = 65536, .on_full = overflow_policy::evict};
    std::size_t flow_cache = 0; // entries of the exact-match flow cache (pipeline/flow_cache.hpp); 0: none
    // flows: hold the flows in br-tun's typed tables (neutron/br_tun.hpp)
    // instead of a generic pipeline; every flow must fit a br-tun table's
    // schema and one of its action lists (text actions are lowered to them).
    bool typed_br_tun = false;
};

// The underlay port's addresses: outer source IP and MAC of every tunnel
// frame, and the MAC of the next hop every tunnel frame is sent to.
struct underlay_options {
    std::uint32_t local_ip = 0; // host order
    std::uint64_t local_mac = 0;
    std::uint64_t next_hop_mac = 0;
};

enum class port_role : std::uint8_t { vm, plain, underlay };

[[nodiscard]] constexpr const char* to_string(port_role r) noexcept {
    switch (r) {
    case port_role::vm: return "vm";
    case port_role::plain: return "plain";
    case port_role::underlay: return "underlay";
    }
    return "?";
}

// Why a frame went nowhere, charged to the port that received it (tx_full:
// to the port that refused it).
enum class drop_reason : std::uint8_t {
    runt,             // shorter than an Ethernet header
    tagged_on_access, // a VM port received an 802.1Q/802.1ad tagged frame (access ports drop them)
    no_headroom,      // no room in front of the frame for the local VLAN tag
    not_tunnel,       // the underlay received a frame that is not for a tunnel port (see tunnel counters)
    no_flow,          // the pipeline output it nowhere (or dropped it: too many resubmits)
    no_vm_port,       // output to patch-int with a VLAN no VM port has (or untagged)
    no_such_port,     // output to a port number this bridge has no port for
    encap_failed,     // encapsulation refused (no headroom, too long)
    no_underlay,      // output to a tunnel port before an underlay port was set
    tx_full,          // the port's transmit took fewer frames than offered
};
inline constexpr std::size_t drop_reason_count = 10;

[[nodiscard]] constexpr const char* to_string(drop_reason r) noexcept {
    switch (r) {
    case drop_reason::runt: return "runt";
    case drop_reason::tagged_on_access: return "tagged_on_access";
    case drop_reason::no_headroom: return "no_headroom";
    case drop_reason::not_tunnel: return "not_tunnel";
    case drop_reason::no_flow: return "no_flow";
    case drop_reason::no_vm_port: return "no_vm_port";
    case drop_reason::no_such_port: return "no_such_port";
    case drop_reason::encap_failed: return "encap_failed";
    case drop_reason::no_underlay: return "no_underlay";
    case drop_reason::tx_full: return "tx_full";
    }
    return "?";
}

struct port_counters {
    std::uint64_t rx_packets = 0;
    std::uint64_t tx_packets = 0;
    std::array<std::uint64_t, drop_reason_count> dropped_for{};

    [[nodiscard]] std::uint64_t dropped() const noexcept {
        std::uint64_t n = 0;
        for (std::uint64_t d : dropped_for) n += d;
        return n;
    }
    [[nodiscard]] std::uint64_t dropped(drop_reason r) const noexcept {
        return dropped_for[static_cast<std::size_t>(r)];
    }
};

// decap_status as a `show` key.
[[nodiscard]] constexpr const char* decap_key(io::decap_status s) noexcept {
    using io::decap_status;
    switch (s) {
    case decap_status::ok: return "ok";
    case decap_status::truncated: return "truncated";
    case decap_status::not_ipv4: return "not_ipv4";
    case decap_status::bad_ip_checksum: return "bad_ip_checksum";
    case decap_status::ip_options: return "ip_options";
    case decap_status::not_local: return "not_local";
    case decap_status::fragment: return "fragment";
    case decap_status::not_tunnel: return "not_tunnel";
    case decap_status::wrong_udp_port: return "wrong_udp_port";
    case decap_status::bad_udp_length: return "bad_udp_length";
    case decap_status::bad_udp_checksum: return "bad_udp_checksum";
    case decap_status::bad_vxlan_header: return "bad_vxlan_header";
    case decap_status::geneve_bad_options_length: return "geneve_bad_options_length";
    case decap_status::geneve_bad_version: return "geneve_bad_version";
    case decap_status::geneve_not_ethernet: return "geneve_not_ethernet";
    case decap_status::geneve_oam: return "geneve_oam";
    case decap_status::geneve_critical_options: return "geneve_critical_options";
    case decap_status::gre_no_key: return "gre_no_key";
    case decap_status::gre_bad_flags: return "gre_bad_flags";
    case decap_status::gre_not_ethernet: return "gre_not_ethernet";
    case decap_status::unknown_remote: return "unknown_remote";
    }
    return "?";
}

// The tunnel_set kind of a Neutron network type.
[[nodiscard]] constexpr io::tunnel_kind tunnel_kind_of(neutron::network_type t) noexcept {
    switch (t) {
    case neutron::network_type::gre: return io::tunnel_kind::gre;
    case neutron::network_type::vxlan: return io::tunnel_kind::vxlan;
    case neutron::network_type::geneve: return io::tunnel_kind::geneve;
    }
    return io::tunnel_kind::vxlan;
}

namespace detail {

// The words of a command line.
[[nodiscard]] inline std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}
[[nodiscard]] inline std::string_view next_word(std::string_view& s) noexcept {
    s = trim(s);
    std::size_t n = 0;
    while (n < s.size() && s[n] != ' ' && s[n] != '\t') ++n;
    std::string_view w = s.substr(0, n);
    s = trim(s.substr(n));
    return w;
}
// A word shown as it was given, cut short and without control characters,
// for error sentences.
[[nodiscard]] inline std::string shown(std::string_view w) {
    std::string s = "\"";
    for (char c : w.substr(0, 40)) s += (c >= 32 && c < 127) ? c : '?';
    if (w.size() > 40) s += "...";
    return s + "\"";
}

} // namespace detail

template <class... Ports>
class bridge {
    static_assert(sizeof...(Ports) > 0, "bridge<Ports...> needs at least one port type");
    static_assert((io::require_packet_port<Ports>() && ...));
    static_assert((std::is_move_constructible_v<Ports> && ...),
                  "bridge ports are held by value: wrap a port that cannot move in port_ref<Port>");

  public:
    using port_variant = std::variant<Ports...>;
    enum class mode : std::uint8_t { neutron, flows };

    // The Neutron br-tun preset: patch-int, then one local VLAN per network of
    // `o.networks`, each through the agent.
    static std::variant<bridge, std::string> neutron(bridge_options o) {
        neutron::agent_config ac{.local_ip = o.local_ip, .arp_responder = o.arp_responder};
        if (auto st = neutron::basic_agent<neutron::br_tun>::check(ac); !st) return "local IP: " + st.what();
        bridge b(mode::neutron, std::move(o));
        state& s = *b.s_;
        s.typed = std::make_unique<neutron::br_tun>(pipeline_config{s.opt.tables, {}, s.opt.flow_cache});
        state* sp = &s;
        s.agent = std::make_unique<neutron::basic_agent<neutron::br_tun>>(
            *s.typed, ac, [sp](neutron::network_type t, std::uint32_t ip) { return sp->allocate_tunnel(t, ip); });
        if (auto st = s.agent->set_patch_int(s.opt.patch_int); !st) return "patch-int: " + st.what();
        for (const network_options& n : s.opt.networks) {
            if (auto st = s.agent->provision_local_vlan(n.id, n.type, n.segment); !st)
                return "network " + n.id + ": " + st.what();
        }
        return b;
    }

    // A generic pipeline holding the flows of `flows_text` (ovs-ofctl
    // add-flows syntax); an error names the line and column.
    static std::variant<bridge, std::string> from_flows(bridge_options o, std::string_view flows_text) {
        auto fms = ofctl::parse_flows(flows_text);
        if (!fms) return ofctl::to_string(fms.error());
        bridge b(mode::flows, std::move(o));
        state& s = *b.s_;
        if (s.opt.typed_br_tun)
            s.typed = std::make_unique<neutron::br_tun>(pipeline_config{s.opt.tables, {}, s.opt.flow_cache});
        else
            s.generic = std::make_unique<generic_pipeline>(s.opt.tables, s.opt.flow_cache);
        std::size_t line = 0;
        for (const ofctl::flow_mod& fm : *fms) {
            ++line;
            if (s.typed && !neutron::br_tun::has_table(fm.table))
                return "flow " + std::to_string(line) + " (" + ofctl::format_flow(fm) + "): br-tun has no table " +
                       std::to_string(fm.table);
            const flow_mod_status st = s.typed ? ofctl::apply(*s.typed, fm, 0) : ofctl::apply(*s.generic, fm, 0);
            if (!st) return "flow " + std::to_string(line) + " (" + ofctl::format_flow(fm) + "): " + st.what();
        }
        return b;
    }

    bridge(bridge&&) noexcept = default;
    bridge& operator=(bridge&&) noexcept = default;

    [[nodiscard]] mode which() const noexcept { return s_->m; }

    // ---- ports (control path) ----------------------------------------------------------------------

    // Neutron: an access port of network `net_id` (one of the networks given
    // at startup).
    std::optional<std::string> add_vm_port(std::uint32_t ofport, std::string name, port_variant port,
                                           std::string net_id) {
        state& s = *s_;
        if (s.m != mode::neutron) return "VM ports need the Neutron preset; use add_port in flows mode";
        const neutron::local_vlan* n = s.agent->find_network(net_id);
        if (n == nullptr) return "unknown network " + detail::shown(net_id) + " (networks are given at startup)";
        if (auto e = s.check_new_port(ofport, name, port, true)) return e;
        s.add_entry(std::move(name), ofport, port_role::vm, std::move(port), std::move(net_id), n->lvid);
        return std::nullopt;
    }

    // Flows mode: a plain port; flows output to `ofport` and match in_port=ofport.
    std::optional<std::string> add_port(std::uint32_t ofport, std::string name, port_variant port) {
        state& s = *s_;
        if (s.m != mode::flows) return "plain ports need flows mode; use add_vm_port with the Neutron preset";
        if (auto e = s.check_new_port(ofport, name, port, true)) return e;
        s.add_entry(std::move(name), ofport, port_role::plain, std::move(port), {}, 0);
        return std::nullopt;
    }

    // The port tunnel frames leave and arrive on, with its addresses.
    std::optional<std::string> set_underlay(std::string name, port_variant port, underlay_options u) {
        state& s = *s_;
        if (s.underlay != npos) return "the underlay port is set already (" + s.ports[s.underlay]->name + ")";
        if (u.local_ip == 0) return "the underlay needs a local IP";
        if (u.local_mac == 0 || (u.local_mac >> 40 & 1) != 0) return "the underlay's local MAC must be unicast";
        if (u.next_hop_mac == 0 || (u.next_hop_mac >> 40 & 1) != 0) return "the next-hop MAC must be unicast";
        if (s.m == mode::neutron && !s.opt.local_ip.empty() &&
            neutron::parse_ipv4(s.opt.local_ip).value_or(0) != u.local_ip)
            return "the underlay IP " + neutron::format_ipv4(u.local_ip) + " is not the bridge's local IP " +
                   s.opt.local_ip;
        if (auto e = s.check_new_port(0, name, port, false)) return e; // the underlay has no OpenFlow number
        s.under = u;
        io::tunnel_set fresh(io::underlay_config{u.local_ip, u.local_mac});
        for (const io::tunnel_port& t : s.tunnels.ports())
            (void)fresh.add({t.port, t.kind, t.remote_ip, u.next_hop_mac});
        s.tunnels = std::move(fresh);
        s.underlay = s.ports.size();
        s.add_entry(std::move(name), 0, port_role::underlay, std::move(port), {}, 0);
        return std::nullopt;
    }

    // Flows mode: a tunnel port to `remote_ip` over the underlay.
    std::optional<std::string> add_tunnel(std::uint32_t ofport, io::tunnel_kind kind, std::uint32_t remote_ip) {
        state& s = *s_;
        if (s.m != mode::flows) return "in the Neutron preset tunnels are created by l2pop (add-fdb)";
        if (ofport == 0 || ofport >= 0xff00) return std::to_string(ofport) + " is not a port number";
        if (s.find_port(ofport) != npos || s.tunnels.find_port(ofport) != nullptr)
            return "port number " + std::to_string(ofport) + " is in use";
        if (remote_ip == 0) return "the tunnel needs a remote IP";
        if (!s.tunnels.add({ofport, kind, remote_ip, s.under.next_hop_mac}))
            return "a tunnel of that kind to " + neutron::format_ipv4(remote_ip) + " exists already";
        return std::nullopt;
    }

    // ---- data path -----------------------------------------------------------------------------------

    // One round: every port receives one burst, runs it, transmits, frees.
    // Returns the frames received.
    std::size_t poll(std::int64_t now_ms) noexcept {
        state& s = *s_;
        s.now = now_ms;
        std::size_t total = 0;
        for (std::size_t i = 0; i < s.ports.size(); ++i) total += s.poll_port(i);
        if (now_ms >= s.next_expire) {
            s.expire(now_ms);
            s.next_expire = now_ms + 100;
        }
        return total;
    }

    // ---- control -------------------------------------------------------------------------------------

    // One command line -> the reply (ending with "OK\n" or "ERROR: ...\n").
    std::string execute(std::string_view line) {
        std::string out;
        if (auto e = s_->run_command(line, out)) {
            out += "ERROR: " + *e + "\n";
        } else {
            out += "OK\n";
        }
        return out;
    }

    // ---- for tests and tools ---------------------------------------------------------------------------

    [[nodiscard]] const port_counters* counters(std::string_view name) const noexcept {
        for (const auto& e : s_->ports)
            if (e->name == name) return &e->c;
        return nullptr;
    }
    [[nodiscard]] const io::tunnel_counters& tunnel_counters() const noexcept { return s_->tunnels.counters(); }
    [[nodiscard]] const burst_counters& pipeline_counters() const noexcept { return s_->out.counters(); }
    // The local VLAN of a network (neutron), 0 when unknown.
    [[nodiscard]] std::uint16_t local_vlan(const std::string& net_id) const {
        if (!s_->agent) return 0;
        const neutron::local_vlan* n = s_->agent->find_network(net_id);
        return n ? n->lvid : 0;
    }
    // The port `name` as the bridge holds it.
    [[nodiscard]] port_variant* port(std::string_view name) noexcept {
        for (auto& e : s_->ports)
            if (e->name == name) return &e->port;
        return nullptr;
    }

  private:
    static constexpr std::size_t npos = ~std::size_t{0};

    struct port_entry {
        std::string name;
        std::uint32_t ofport;
        port_role role;
        port_variant port;
        std::string net_id;    // vm
        std::uint16_t vlan;    // vm: the network's local VLAN
        std::uint64_t mac = 0; // vm: the last source MAC it sent (unicast delivery)
        port_counters c{};
    };

    struct state {
        mode m;
        bridge_options opt;
        std::unique_ptr<neutron::br_tun> typed;
        std::unique_ptr<neutron::basic_agent<neutron::br_tun>> agent;
        std::unique_ptr<generic_pipeline> generic;
        io::tunnel_set tunnels{io::underlay_config{}};
        underlay_options under{};
        std::vector<std::unique_ptr<port_entry>> ports; // reserved to max_bridge_ports
        std::size_t underlay = npos;
        std::uint64_t vm_mask = 0; // bit i: ports[i] is a VM port
        burst_output out;
        std::array<packet, switch_burst> rx{};
        std::array<packet, 64> spill{};          // frames refused on the way in or out
        std::array<packet, 64> chunk{};          // one delivery chunk
        std::array<std::uint64_t, 64> targets{}; // VM ports per frame of the chunk
        std::int64_t now = 0;
        std::int64_t next_expire = 0;

        state(mode md, bridge_options o) : m(md), opt(std::move(o)) { ports.reserve(max_bridge_ports); }

        // ---- control-path helpers ----

        std::size_t find_port(std::uint32_t ofport) const noexcept {
            for (std::size_t i = 0; i < ports.size(); ++i)
                if (ports[i]->role != port_role::underlay && ports[i]->ofport == ofport) return i;
            return npos;
        }

        // `numbered`: the port has an OpenFlow number (all but the underlay).
        std::optional<std::string> check_new_port(std::uint32_t ofport, const std::string& name, const port_variant& p,
                                                  bool numbered) const {
            if (ports.size() == max_bridge_ports)
                return "a bridge has at most " + std::to_string(max_bridge_ports) + " ports";
            if (name.empty()) return "a port needs a name";
            for (char c : name)
                if (c <= ' ' || c >= 127)
                    return "port name " + detail::shown(name) + " has a blank or control character";
            for (const auto& e : ports)
                if (e->name == name) return "a port named " + detail::shown(name) + " exists already";
            if (numbered) {
                if (ofport == 0 || ofport >= 0xff00) return std::to_string(ofport) + " is not a port number (1..65279)";
                if (find_port(ofport) != npos || tunnels.find_port(ofport) != nullptr)
                    return "port number " + std::to_string(ofport) + " is in use";
                if (m == mode::neutron && ofport == opt.patch_int)
                    return "port number " + std::to_string(ofport) + " is patch-int's";
            }
            // VM frames grow by a VLAN tag and then, as tunnel frames, by the
            // VXLAN or Geneve header; frames of plain ports may be tunnelled too.
            const std::uint32_t need = std::max(io::vxlan_overhead, io::geneve_overhead) + proto::vlan_header_len;
            const std::uint32_t have = std::visit([](const auto& x) { return x.headroom(); }, p);
            if (have < need)
                return "port " + name + " has " + std::to_string(have) + " bytes of headroom, " + std::to_string(need) +
                       " are needed (VLAN tag + VXLAN or Geneve header)";
            return std::nullopt;
        }

        void add_entry(std::string name, std::uint32_t ofport, port_role r, port_variant p, std::string net,
                       std::uint16_t vlan) {
            if (r == port_role::vm) vm_mask |= std::uint64_t{1} << ports.size();
            ports.push_back(std::make_unique<port_entry>(
                port_entry{std::move(name), ofport, r, std::move(p), std::move(net), vlan, 0, {}}));
        }

        // The agent's port allocator: the lowest number from first_tunnel_port
        // that no port, tunnel or agent tunnel has (the tunnel_set holds the
        // agent's tunnels only, so a tunnel that went and comes back gets the
        // lowest free number again, most often its old one).
        std::optional<std::uint32_t> allocate_tunnel(neutron::network_type, std::uint32_t) const {
            for (std::uint32_t p = opt.first_tunnel_port; p < 0xff00; ++p) {
                if (p == opt.patch_int || find_port(p) != npos || tunnels.find_port(p) != nullptr) continue;
                bool agent_has = false;
                if (agent)
                    for (const auto& [key, tp] : agent->tunnels()) agent_has |= tp.ofport == p;
                if (!agent_has) return p;
            }
            return std::nullopt;
        }

        // The tunnel_set holds exactly the agent's tunnel ports: those the
        // agent deleted (l2pop removed their remote's last flooding entry) go,
        // those it made come.
        void sync_tunnels() {
            const auto agent_has = [this](const io::tunnel_port& t) {
                for (const auto& [key, tp] : agent->tunnels())
                    if (tp.ofport == t.port && tunnel_kind_of(tp.type) == t.kind && tp.remote_ip == t.remote_ip)
                        return true;
                return false;
            };
            for (std::size_t i = tunnels.ports().size(); i-- > 0;)
                if (!agent_has(tunnels.ports()[i])) (void)tunnels.remove(tunnels.ports()[i].port);
            for (const auto& [key, tp] : agent->tunnels()) {
                if (tunnels.find_port(tp.ofport) != nullptr) continue;
                (void)tunnels.add({tp.ofport, tunnel_kind_of(tp.type), tp.remote_ip, under.next_hop_mac});
            }
        }

        void expire(std::int64_t now_ms) {
            if (typed)
                (void)typed->expire(now_ms);
            else
                (void)generic->expire(now_ms);
        }

        // ---- data path ----

        void drop(port_entry& e, drop_reason r, std::uint64_t n = 1) noexcept {
            e.c.dropped_for[static_cast<std::size_t>(r)] += n;
        }

        static void release_to(port_entry& owner, std::span<const packet> frames) noexcept {
            if (frames.empty()) return;
            std::visit([&](auto& p) { p.release(frames); }, owner.port);
        }

        std::size_t poll_port(std::size_t i) noexcept {
            port_entry& e = *ports[i];
            const std::size_t n = std::visit([&](auto& p) { return p.receive(std::span<packet>(rx)); }, e.port);
            if (n == 0) return 0;
            e.c.rx_packets += n;
            std::size_t keep = 0;
            switch (e.role) {
            case port_role::underlay: {
                keep = tunnels.decapsulate(std::span<packet>(rx.data(), n));
                drop(e, drop_reason::not_tunnel, n - keep);
                release_to(e, std::span<const packet>(rx.data() + keep, n - keep));
                break;
            }
            case port_role::plain:
                for (std::size_t k = 0; k < n; ++k) rx[k].in_port = e.ofport;
                keep = n;
                break;
            case port_role::vm: keep = from_vm_port(e, i, n); break;
            }
            if (keep == 0) return n;
            run(e, std::span<packet>(rx.data(), keep));
            return n;
        }

        // A VM port's burst rx[0, n), as br-int's access port would take it:
        // tagged and runt frames dropped; switched locally to the other VM
        // ports of its network (unicast to a port that sent from that MAC
        // stays local; broadcast, multicast and unknown unicast go to all of
        // them and on to br-tun); the rest tagged with the local VLAN and
        // entering br-tun from patch-int. Returns the frames for br-tun, now
        // at rx[0, keep).
        std::size_t from_vm_port(port_entry& e, std::size_t self, std::size_t n) noexcept {
            std::size_t valid = 0, refused = 0;
            for (std::size_t k = 0; k < n; ++k) {
                const packet& p = rx[k];
                if (p.len < proto::eth_header_len) {
                    drop(e, drop_reason::runt);
                    spill[refused++] = p;
                    continue;
                }
                const std::uint16_t type = proto::load_be16(p.data + proto::eth_type_offset);
                if (type == proto::eth_type_vlan || type == eth_type_qinq) {
                    drop(e, drop_reason::tagged_on_access);
                    spill[refused++] = p;
                    continue;
                }
                e.mac = proto::load_be48(p.data + proto::eth_src_offset);
                rx[valid++] = p;
            }
            release_to(e, std::span<const packet>(spill.data(), refused));
            valid = switch_locally(e, self, valid);
            std::size_t keep = 0;
            refused = 0;
            for (std::size_t k = 0; k < valid; ++k) {
                packet& p = rx[k];
                if (!p.push_front(proto::vlan_header_len)) {
                    drop(e, drop_reason::no_headroom);
                    spill[refused++] = p;
                    continue;
                }
                std::memmove(p.data, p.data + proto::vlan_header_len, 2 * proto::eth_addr_len);
                proto::store_be16(p.data + proto::eth_type_offset, proto::eth_type_vlan);
                proto::store_be16(p.data + proto::eth_type_offset + 2, static_cast<std::uint16_t>(e.vlan));
                p.in_port = opt.patch_int;
                rx[keep++] = p;
            }
            release_to(e, std::span<const packet>(spill.data(), refused));
            return keep;
        }

        // br-int's part for frames between VM ports of one network: sends
        // each frame of rx[0, n) to the other VM ports it is for; returns how
        // many must still go to br-tun, moved to rx[0, result).
        std::size_t switch_locally(port_entry& e, std::size_t self, std::size_t n) noexcept {
            std::uint64_t peers = 0;
            for (std::uint64_t mask = vm_mask & ~(std::uint64_t{1} << self); mask != 0; mask &= mask - 1) {
                const auto v = static_cast<std::size_t>(__builtin_ctzll(mask));
                if (ports[v]->vlan == e.vlan) peers |= std::uint64_t{1} << v;
            }
            if (peers == 0 || n == 0) return n;
            std::array<bool, switch_burst> local_only{};
            std::uint64_t any = 0;
            for (std::size_t k = 0; k < n; ++k) {
                const std::uint64_t dst = proto::load_be48(rx[k].data + proto::eth_dst_offset);
                std::uint64_t to = 0;
                if ((dst >> 40 & 1) == 0)
                    for (std::uint64_t mask = peers; mask != 0; mask &= mask - 1) {
                        const auto v = static_cast<std::size_t>(__builtin_ctzll(mask));
                        if (ports[v]->mac == dst) to |= std::uint64_t{1} << v;
                    }
                local_only[k] = to != 0;
                targets[k] = to != 0 ? to : peers;
                any |= targets[k];
            }
            // Ports in increasing order: a local-only frame's last port takes
            // its buffer, every other delivery is a view the port copies.
            std::array<packet, switch_burst> batch;
            for (std::uint64_t mask = any; mask != 0; mask &= mask - 1) {
                const auto v = static_cast<std::size_t>(__builtin_ctzll(mask));
                const std::uint64_t bit = std::uint64_t{1} << v;
                std::size_t b = 0;
                for (std::size_t k = 0; k < n; ++k) {
                    if ((targets[k] & bit) == 0) continue;
                    batch[b] = rx[k];
                    if (!local_only[k] || (targets[k] & ~(bit | (bit - 1))) != 0) batch[b].cookie = clone_cookie;
                    ++b;
                }
                transmit(e, *ports[v], std::span<const packet>(batch.data(), b));
            }
            std::size_t keep = 0;
            for (std::size_t k = 0; k < n; ++k)
                if (!local_only[k]) rx[keep++] = rx[k];
            return keep;
        }

        void run(port_entry& owner, std::span<packet> frames) noexcept {
            const burst_counters before = out.counters();
            if (typed)
                typed->run(frames, now, out);
            else
                generic->run(frames, now, out);
            const burst_counters& after = out.counters();
            drop(owner, drop_reason::no_flow,
                 (after.dropped - before.dropped) + (after.not_ethernet - before.not_ethernet) +
                     (after.too_deep - before.too_deep));
            out.for_each_port([&](std::uint32_t port, std::span<const packet> tx) { deliver(owner, port, tx); });
            // Buffers the run did not transmit (dropped, or only their clones went out).
            release_to(owner, out.dropped());
        }

        // Frames to a plain port go out straight from the run's output; those
        // to a tunnel or to VM ports are edited (encapsulated, untagged) on the
        // way, so they are copied in chunks the edits may write.
        void deliver(port_entry& owner, std::uint32_t port, std::span<const packet> tx) noexcept {
            const bool edits = (m == mode::neutron && port == opt.patch_int) || tunnels.find_port(port) != nullptr;
            if (!edits) {
                const std::size_t target = port == ports::none ? npos : find_port(port);
                if (target == npos || ports[target]->role == port_role::vm) {
                    drop(owner, drop_reason::no_such_port, tx.size());
                    release_to(owner, tx);
                    return;
                }
                for (std::size_t at = 0; at < tx.size(); at += spill.size()) // transmit returns copies through spill
                    transmit(owner, *ports[target], tx.subspan(at, std::min(spill.size(), tx.size() - at)));
                return;
            }
            for (std::size_t at = 0; at < tx.size(); at += chunk.size()) {
                const std::size_t n = std::min(chunk.size(), tx.size() - at);
                std::copy_n(tx.data() + at, n, chunk.data());
                deliver_chunk(owner, port, n);
            }
        }

        void deliver_chunk(port_entry& owner, std::uint32_t port, std::size_t n) noexcept {
            const std::span<packet> frames(chunk.data(), n);
            if (m == mode::neutron && port == opt.patch_int) {
                to_vm_ports(owner, frames);
                return;
            }
            const io::tunnel_port* t = tunnels.find_port(port);
            if (underlay == npos) {
                drop(owner, drop_reason::no_underlay, n);
                release_to(owner, frames);
                return;
            }
            const std::size_t ok = tunnels.encapsulate(frames, t->port);
            drop(owner, drop_reason::encap_failed, n - ok);
            release_to(owner, frames.subspan(ok));
            transmit(owner, *ports[underlay], frames.first(ok));
        }

        // Whether port `p`, accepting a frame another port received, frees
        // its buffer itself; else it only copied it (law 3) and the buffer
        // is still the receiver's.
        template <class Port>
        static bool takes_buffer(const Port& p, const packet& f) noexcept {
            if constexpr (requires { p.owns(f); })
                return p.owns(f);
            else
                return false; // a port that cannot tell copies what it did not receive
        }

        // At most spill.size() frames (the copies to return go through it).
        void transmit(port_entry& owner, port_entry& to, std::span<const packet> frames) noexcept {
            if (frames.empty()) return;
            std::visit(
                [&](auto& p) {
                    const std::size_t sent = p.transmit(frames);
                    to.c.tx_packets += sent;
                    if (&owner != &to) {
                        // Buffers `to` copied go back to their owner (views are no buffers).
                        std::size_t copied = 0;
                        for (std::size_t k = 0; k < sent; ++k)
                            if (frames[k].cookie != clone_cookie && !takes_buffer(p, frames[k]))
                                spill[copied++] = frames[k];
                        release_to(owner, std::span<const packet>(spill.data(), copied));
                    }
                    if (sent < frames.size()) {
                        drop(to, drop_reason::tx_full, frames.size() - sent);
                        release_to(owner, frames.subspan(sent)); // release ignores clone_cookie views (law 3)
                    }
                },
                to.port);
        }

        // Frames br-tun sent to patch-int: strip the local VLAN tag and hand
        // each to the VM ports of its VLAN (the one whose MAC it is addressed
        // to when one is, else all of them).
        void to_vm_ports(port_entry& owner, std::span<packet> frames) noexcept {
            std::uint64_t any = 0;
            std::size_t refused = 0;
            for (std::size_t k = 0; k < frames.size(); ++k) {
                packet& p = frames[k];
                targets[k] = 0;
                if (p.len >= proto::eth_header_len + proto::vlan_header_len &&
                    proto::load_be16(p.data + proto::eth_type_offset) == proto::eth_type_vlan) {
                    const std::uint16_t vid =
                        proto::load_be16(p.data + proto::eth_type_offset + 2) & proto::vlan_vid_mask;
                    const std::uint64_t dst = proto::load_be48(p.data + proto::eth_dst_offset);
                    std::uint64_t all = 0, exact = 0;
                    for (std::uint64_t mask = vm_mask; mask != 0; mask &= mask - 1) {
                        const std::size_t v = static_cast<std::size_t>(__builtin_ctzll(mask));
                        if (ports[v]->vlan != vid) continue;
                        all |= std::uint64_t{1} << v;
                        if (ports[v]->mac == dst) exact |= std::uint64_t{1} << v;
                    }
                    targets[k] = exact != 0 ? exact : all;
                }
                if (targets[k] == 0) {
                    drop(owner, drop_reason::no_vm_port);
                    spill[refused++] = p; // frames.size() <= spill.size()
                    continue;
                }
                // Strip the tag in place: the MACs move 4 bytes up.
                std::memmove(p.data + proto::vlan_header_len, p.data, 2 * proto::eth_addr_len);
                (void)p.pull_front(proto::vlan_header_len);
                any |= targets[k];
            }
            release_to(owner, std::span<const packet>(spill.data(), refused));
            // VM ports in increasing order; a frame's last target (its highest
            // bit) takes the buffer, the others get views to copy (law 3).
            std::array<packet, 64> batch;
            for (std::uint64_t mask = any; mask != 0; mask &= mask - 1) {
                const std::size_t v = static_cast<std::size_t>(__builtin_ctzll(mask));
                const std::uint64_t bit = std::uint64_t{1} << v;
                std::size_t b = 0;
                for (std::size_t k = 0; k < frames.size(); ++k) {
                    if ((targets[k] & bit) == 0) continue;
                    batch[b] = frames[k];
                    if ((targets[k] & ~(bit | (bit - 1))) != 0) batch[b].cookie = clone_cookie; // a later port takes it
                    ++b;
                }
                transmit(owner, *ports[v], std::span<const packet>(batch.data(), b));
            }
        }

        // ---- the control protocol ----

        std::optional<std::string> run_command(std::string_view line, std::string& reply);
        std::optional<std::string> flow_mod(std::string_view args, ofctl::flow_command cmd);
        std::optional<std::string> dump_flows(std::string_view args, std::string& reply);
        std::optional<std::string> fdb(std::string_view args, bool add);
        void show(std::string& reply);
    };

    bridge(mode m, bridge_options o) : s_(std::make_unique<state>(m, std::move(o))) {}

    std::unique_ptr<state> s_;
};

// ---- the control protocol ------------------------------------------------------------------------------

template <class... Ports>
std::optional<std::string> bridge<Ports...>::state::run_command(std::string_view line, std::string& reply) {
    std::string_view rest = line;
    const std::string_view cmd = detail::next_word(rest);
    if (agent) agent->now_ms = now;
    if (cmd.empty())
        return "empty command (commands: add-flow, mod-flows, del-flows, dump-flows, add-fdb, del-fdb, "
               "show, help)";
    if (cmd == "help") {
        reply += "add-flow FLOW\nmod-flows [--strict] FLOW\ndel-flows [--strict] [MATCH]\ndump-flows [MATCH]\n"
                 "add-fdb NET_ID REMOTE_IP MAC IP\ndel-fdb NET_ID REMOTE_IP MAC IP\nshow\n";
        return std::nullopt;
    }
    if (cmd == "add-flow") {
        if (rest.empty()) return "add-flow needs a flow";
        return flow_mod(rest, ofctl::flow_command::add);
    }
    if (cmd == "mod-flows" || cmd == "del-flows") {
        const bool mod = cmd == "mod-flows";
        std::string_view args = rest;
        bool strict = false;
        if (std::string_view copy = args; detail::next_word(copy) == "--strict") {
            strict = true;
            args = copy;
        }
        if (mod && args.empty()) return "mod-flows needs a flow";
        using fc = ofctl::flow_command;
        return flow_mod(args,
                        mod ? (strict ? fc::modify_strict : fc::modify) : (strict ? fc::remove_strict : fc::remove));
    }
    if (cmd == "dump-flows") return dump_flows(rest, reply);
    if (cmd == "add-fdb") return fdb(rest, true);
    if (cmd == "del-fdb") return fdb(rest, false);
    if (cmd == "show") {
        if (!rest.empty()) return "show takes no arguments";
        show(reply);
        return std::nullopt;
    }
    return "unknown command " + detail::shown(cmd) +
           " (commands: add-flow, mod-flows, del-flows, dump-flows, add-fdb, del-fdb, show, help)";
}

template <class... Ports>
std::optional<std::string> bridge<Ports...>::state::flow_mod(std::string_view args, ofctl::flow_command cmd) {
    auto r = typed ? ofctl::install(*typed, args, now, cmd) : ofctl::install(*generic, args, now, cmd);
    if (!r) return ofctl::to_string(r.error());
    return std::nullopt;
}

template <class... Ports>
std::optional<std::string> bridge<Ports...>::state::dump_flows(std::string_view args, std::string& reply) {
    auto fm = ofctl::parse_flow_mod(ofctl::flow_command::remove, args);
    if (!fm) return ofctl::to_string(fm.error());
    if (fm->table != ofctl::all_tables && typed && !neutron::br_tun::has_table(fm->table))
        return "no table " + std::to_string(fm->table) + " in the Neutron preset";
    const match& filter = fm->m;
    const cookie_filter cookies = fm->cookies();
    const std::uint8_t table = fm->table;
    auto dump = [&](auto& pipeline) {
        std::vector<std::pair<std::pair<unsigned, std::int32_t>, std::string>> lines;
        pipeline.for_each_table([&](const auto& t) {
            if (table != ofctl::all_tables && t.id() != table) return;
            t.for_each([&](const auto& f) {
                if (!cookies.matches(f.cookie) || !filter.covers(f.get_match())) return;
                std::string s;
                ofctl::append_flow_stats(s, f, t.id(), now);
                lines.push_back({{t.id(), f.priority}, std::move(s)});
            });
        });
        std::sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) {
            if (a.first.first != b.first.first) return a.first.first < b.first.first;
            if (a.first.second != b.first.second) return a.first.second > b.first.second;
            return a.second < b.second;
        });
        for (const auto& l : lines) reply += " " + l.second + "\n";
    };
    if (typed)
        dump(*typed);
    else
        dump(*generic);
    return std::nullopt;
}

template <class... Ports>
std::optional<std::string> bridge<Ports...>::state::fdb(std::string_view args, bool add) {
    const char* what = add ? "add-fdb" : "del-fdb";
    if (m != mode::neutron) return std::string(what) + " needs the Neutron preset";
    const std::string_view net = detail::next_word(args);
    const std::string_view remote = detail::next_word(args);
    const std::string_view mac = detail::next_word(args);
    const std::string_view ip = detail::next_word(args);
    if (ip.empty() || !args.empty())
        return std::string(what) + " takes NET_ID REMOTE_IP MAC IP (the flooding entry is 00:00:00:00:00:00 0.0.0.0)";
    const neutron::local_vlan* n = agent->find_network(std::string(net));
    if (n == nullptr) return "unknown network " + detail::shown(net) + " (networks are given at startup)";
    if (!neutron::parse_ipv4(remote)) return "malformed remote IP " + detail::shown(remote);
    if (!neutron::parse_mac(mac)) return "malformed MAC " + detail::shown(mac);
    if (!neutron::parse_ipv4(ip)) return "malformed IP " + detail::shown(ip);
    neutron::fdb_entries msg;
    auto& ne = msg[std::string(net)];
    ne.segment_id = n->segment;
    ne.network_type = neutron::to_string(n->type);
    ne.ports[std::string(remote)].push_back({std::string(mac), std::string(ip)});
    const neutron::agent_status st = add ? agent->add_fdb_entries(msg) : agent->remove_fdb_entries(msg);
    sync_tunnels();
    if (!st) return st.what();
    return std::nullopt;
}

template <class... Ports>
void bridge<Ports...>::state::show(std::string& reply) {
    auto line = [&reply](const std::string& key, const std::string& value) { reply += key + " " + value + "\n"; };
    auto num = [](std::uint64_t v) { return std::to_string(v); };
    line("mode", m == mode::neutron ? "neutron" : "flows");
    if (m == mode::neutron) line("patch_int", num(opt.patch_int));
    for (const auto& e : ports) {
        const std::string k = "port." + e->name + ".";
        line(k + "ofport", num(e->ofport));
        line(k + "role", to_string(e->role));
        if (e->role == port_role::vm) {
            line(k + "net", e->net_id);
            line(k + "vlan", num(e->vlan));
        }
        line(k + "rx_packets", num(e->c.rx_packets));
        line(k + "tx_packets", num(e->c.tx_packets));
        line(k + "dropped", num(e->c.dropped()));
        for (std::size_t r = 0; r < drop_reason_count; ++r)
            if (e->c.dropped_for[r])
                line(k + "dropped." + to_string(static_cast<drop_reason>(r)), num(e->c.dropped_for[r]));
    }
    for (const io::tunnel_port& t : tunnels.ports()) {
        const std::string k = "tunnel." + std::to_string(t.port) + ".";
        line(k + "kind", io::to_string(t.kind));
        line(k + "remote_ip", neutron::format_ipv4(t.remote_ip));
    }
    const io::tunnel_counters& tc = tunnels.counters();
    line("tunnels.encapsulated", num(tc.encapsulated));
    line("tunnels.encap_no_headroom", num(tc.encap_no_headroom));
    line("tunnels.encap_too_long", num(tc.encap_too_long));
    line("tunnels.decapsulated", num(tc.decapsulated));
    for (std::size_t r = 1; r < io::decap_status_count; ++r)
        line(std::string("tunnels.decap_dropped.") + decap_key(static_cast<io::decap_status>(r)), num(tc.dropped[r]));
    auto tables = [&](auto& pipeline) {
        pipeline.for_each_table([&](const auto& t) {
            const std::string k = "table." + std::to_string(t.id()) + ".";
            line(k + "flows", num(t.size()));
            line(k + "lookups", num(t.stats().lookups));
            line(k + "matches", num(t.stats().matched));
        });
    };
    if (typed)
        tables(*typed);
    else
        tables(*generic);
    const flow_cache* cache = typed ? typed->flow_cache_ptr() : generic->flow_cache_ptr();
    if (cache != nullptr) {
        const flow_cache_counters& fc = cache->counters();
        line("flow_cache.entries", num(cache->capacity()));
        line("flow_cache.hits", num(fc.hits));
        line("flow_cache.misses", num(fc.misses));
        line("flow_cache.uncacheable", num(fc.uncacheable));
        line("flow_cache.inserts", num(fc.inserts));
        line("flow_cache.invalidations", num(fc.invalidations));
    }
    const burst_counters& bc = out.counters();
    line("pipeline.received", num(bc.received));
    line("pipeline.transmitted", num(bc.transmitted));
    line("pipeline.dropped", num(bc.dropped));
    line("pipeline.malformed", num(bc.malformed));
    line("pipeline.too_deep", num(bc.too_deep));
    line("pipeline.no_headroom", num(bc.no_headroom));
    line("pipeline.clone_failed", num(bc.clone_failed));
    line("pipeline.output_overflow", num(bc.output_overflow));
}

} // namespace flowpipe::examples
