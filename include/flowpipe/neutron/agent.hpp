// What Neutron's Open vSwitch agent does on br-tun, as flow mods on a
// neutron::br_tun pipeline (shared/reference/neutron-br-tun.md).
//
//   neutron::br_tun p;
//   neutron::agent a(p, {.local_ip = "10.0.1.31", .arp_responder = true});
//   a.set_patch_int(1);
//   a.provision_local_vlan("net-a", "vxlan", 6);          // -> lvid
//   a.add_fdb_entries({{"net-a", {6, "vxlan", {{"10.0.1.39", {{"00:00:00:00:00:00", "0.0.0.0"},
//                                                              {"fa:16:3e:73:49:41", "81.1.180.9"}}}}}}});
//
// State. Every forwarding decision lives in the pipeline's flows; the agent
// keeps only what Neutron's agent itself keeps next to them: the patch-int
// ofport, the tunnel ports (type, remote IP -> ofport), the local VLAN map
// (network id -> type, segment, lvid, flood list = the tunnel ofports of the
// network, DVR router interfaces) and the registered remote DVR MACs. Unicast
// and ARP responder entries are not kept: they are the flows of tables 20 and
// 21 (dump-flows shows them), and removing them is a strict delete there.
//
// Messages. Each call validates everything first (network types, segment
// ranges, MACs, IPs, that the network is the one known under that id, room in
// flood lists and the lvid pool, port numbers) and only then changes flows: a
// refused call returns an error and leaves the pipeline and the agent as they
// were. (An embedder's port allocator is asked for new tunnel ports during
// validation: a refused message may thus have asked it for numbers it will
// not use.) fdb entries for networks with no local port (not provisioned
// here) are ignored, as the agent ignores them, and counted in
// `agent_status::ignored`; entries naming this node's own IP are skipped.
//
// The agent is control path: it allocates and uses std::string freely. Time
// (`now_ms`) is the clock the new flows' created/modified stamps see.
#pragma once

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <flowpipe/match/match.hpp>
#include <flowpipe/neutron/br_tun.hpp>
#include <flowpipe/proto/ethernet.hpp>

namespace flowpipe::neutron {

enum class network_type : std::uint8_t { gre, vxlan, geneve };

[[nodiscard]] constexpr const char* to_string(network_type t) noexcept {
    switch (t) {
    case network_type::gre: return "gre";
    case network_type::vxlan: return "vxlan";
    case network_type::geneve: return "geneve";
    }
    return "?";
}
[[nodiscard]] inline std::optional<network_type> parse_network_type(std::string_view s) noexcept {
    if (s == "gre") return network_type::gre;
    if (s == "vxlan") return network_type::vxlan;
    if (s == "geneve") return network_type::geneve;
    return std::nullopt;
}
// The table a tunnel of this type resubmits to (3 / 4 / 6).
[[nodiscard]] constexpr std::uint8_t tun_table(network_type t) noexcept {
    return t == network_type::gre ? gre_tun_to_lv : t == network_type::vxlan ? vxlan_tun_to_lv : geneve_tun_to_lv;
}
// Largest segment id: GRE keys are 32 bits, VXLAN and Geneve VNIs 24.
[[nodiscard]] constexpr std::uint64_t max_segment(network_type t) noexcept {
    return t == network_type::gre ? 0xffffffffULL : 0xffffffULL;
}

[[nodiscard]] inline std::optional<std::uint64_t> parse_mac(std::string_view s) noexcept {
    if (s.size() != 17) return std::nullopt;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 17; ++i) {
        const char c = s[i];
        if (i % 3 == 2) {
            if (c != ':') return std::nullopt;
            continue;
        }
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return std::nullopt;
        v = v << 4 | static_cast<std::uint64_t>(d);
    }
    return v;
}
[[nodiscard]] inline std::optional<std::uint32_t> parse_ipv4(std::string_view s) noexcept {
    std::uint32_t v = 0;
    int parts = 0;
    std::size_t i = 0;
    while (parts < 4) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
        unsigned n = 0, digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            n = n * 10 + static_cast<unsigned>(s[i++] - '0');
            if (++digits > 3 || n > 255) return std::nullopt;
        }
        v = v << 8 | n;
        if (++parts < 4) {
            if (i >= s.size() || s[i] != '.') return std::nullopt;
            ++i;
        }
    }
    if (i != s.size()) return std::nullopt;
    return v;
}
[[nodiscard]] inline std::string format_mac(std::uint64_t m) {
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (int i = 5; i >= 0; --i) {
        const auto b = static_cast<unsigned>(m >> (8 * i) & 0xff);
        s += hex[b >> 4];
        s += hex[b & 15];
        if (i) s += ':';
    }
    return s;
}
[[nodiscard]] inline std::string format_ipv4(std::uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 0xff) + "." + std::to_string(a >> 8 & 0xff) + "." +
           std::to_string(a & 0xff);
}

// ---- Neutron's l2pop payload ----------------------------------------------------

// [mac, ip] as Neutron sends it; ["00:00:00:00:00:00", "0.0.0.0"] is the flooding entry.
struct fdb_port_entry {
    std::string mac;
    std::string ip;
};
inline const fdb_port_entry flooding_entry{"00:00:00:00:00:00", "0.0.0.0"};

// {segment_id, network_type, ports: {remote_ip: [[mac, ip], ...]}}
struct fdb_network_entries {
    std::uint64_t segment_id = 0;
    std::string network_type;
    std::map<std::string, std::vector<fdb_port_entry>> ports;
};
// {network id: ...}
using fdb_entries = std::map<std::string, fdb_network_entries>;

// update_fdb_entries' chg_ip: {network id: {remote_ip: {before: [[mac, ip]], after: [[mac, ip]]}}}
struct fdb_ip_change {
    std::vector<fdb_port_entry> before;
    std::vector<fdb_port_entry> after;
};
using fdb_ip_changes = std::map<std::string, std::map<std::string, fdb_ip_change>>;

// ---- results ----------------------------------------------------------------------

enum class agent_errc : std::uint8_t {
    ok,
    no_patch_int,         // set_patch_int first
    unknown_network,      // no local VLAN for that network id, or the message disagrees with it
    network_exists,       // provisioned already
    bad_network_type,     // not gre, vxlan or geneve
    segment_out_of_range, // 1..2^24-1 (vxlan, geneve), 1..2^32-1 (gre)
    lvid_pool_exhausted,  // all of 1..4094 in use
    lvid_in_use,          // the requested lvid is taken (or not in 1..4094)
    malformed_mac,
    malformed_ip,
    port_in_use,     // an ofport already used by patch-int or another tunnel
    no_such_port,    // no tunnel port to that remote
    flood_list_full, // more than max_flood_ports tunnels in one network
    port_allocation_failed,
    dvr_off,         // a DVR call while DVR is not enabled
    flow_mod_failed, // a flow mod was refused (a table's limit): should not happen
};

[[nodiscard]] constexpr const char* to_string(agent_errc e) noexcept {
    switch (e) {
    case agent_errc::ok: return "ok";
    case agent_errc::no_patch_int: return "the patch-int port is not set";
    case agent_errc::unknown_network: return "unknown network";
    case agent_errc::network_exists: return "network already has a local VLAN";
    case agent_errc::bad_network_type: return "network type must be gre, vxlan or geneve";
    case agent_errc::segment_out_of_range: return "segment id out of range";
    case agent_errc::lvid_pool_exhausted: return "local VLAN pool exhausted";
    case agent_errc::lvid_in_use: return "local VLAN id in use or not in 1..4094";
    case agent_errc::malformed_mac: return "malformed MAC address";
    case agent_errc::malformed_ip: return "malformed IPv4 address";
    case agent_errc::port_in_use: return "port number in use";
    case agent_errc::no_such_port: return "no such tunnel port";
    case agent_errc::flood_list_full: return "too many tunnels in one network's flood list";
    case agent_errc::port_allocation_failed: return "the port allocator gave no port";
    case agent_errc::dvr_off: return "DVR is not enabled";
    case agent_errc::flow_mod_failed: return "a flow mod was refused";
    }
    return "?";
}

struct agent_status {
    agent_errc code = agent_errc::ok;
    std::string detail;       // what exactly (the offending value)
    std::size_t ignored = 0;  // fdb networks ignored (no local port here)
    std::uint16_t lvid = 0;   // provision_local_vlan: the local VLAN
    std::uint32_t ofport = 0; // add_tunnel_port: the port

    [[nodiscard]] explicit operator bool() const noexcept { return code == agent_errc::ok; }
    [[nodiscard]] std::string what() const {
        return detail.empty() ? std::string(to_string(code)) : std::string(to_string(code)) + ": " + detail;
    }
};

struct agent_config {
    std::string local_ip{};     // this node's tunnel endpoint; fdb entries for it are skipped
    bool arp_responder = true;  // table 2's ARP -> 21 flow and table-21 entries
    bool dvr = false;           // tables 1 and 9 in the path
    std::string dvr_host_mac{}; // this host's DVR MAC (with dvr)
};

// A tunnel port as the agent knows it.
struct tunnel_port {
    network_type type;
    std::uint32_t remote_ip;
    std::uint32_t ofport;
    std::string name; // vxlan-0a000127
};

// A DVR router interface on a network (the distributed gateway).
struct dvr_interface {
    std::uint64_t mac;
    std::uint32_t ip;
};

// One entry of the local VLAN map.
struct local_vlan {
    network_type type;
    std::uint64_t segment;
    std::uint16_t lvid;
    std::set<std::uint32_t> flood;      // tunnel ofports (table 22)
    std::vector<dvr_interface> dvr_ifs; // table 1, table 22's gateway ARP drop
};

template <class Pipeline = br_tun>
class basic_agent {
  public:
    // The embedder's port numbers for new tunnels (nullopt: refuse); when
    // unset, the agent numbers tunnels from 2 upward.
    using port_allocator = std::function<std::optional<std::uint32_t>(network_type, std::uint32_t remote_ip)>;

    std::int64_t now_ms = 0;

    basic_agent(Pipeline& p, agent_config cfg = {}, port_allocator alloc = {})
        : p_(p), cfg_(std::move(cfg)), alloc_(std::move(alloc)) {
        if (cfg_.dvr) dvr_mac_ = parse_mac(cfg_.dvr_host_mac).value_or(0);
        local_ip_ = parse_ipv4(cfg_.local_ip).value_or(0);
        install_defaults();
    }

    // Validates a config before constructing an agent with it.
    [[nodiscard]] static agent_status check(const agent_config& c) {
        if (!c.local_ip.empty() && !parse_ipv4(c.local_ip)) return {agent_errc::malformed_ip, c.local_ip};
        if (c.dvr && !parse_mac(c.dvr_host_mac)) return {agent_errc::malformed_mac, c.dvr_host_mac};
        return {};
    }

    [[nodiscard]] const agent_config& config() const noexcept { return cfg_; }
    [[nodiscard]] std::uint32_t patch_int() const noexcept { return patch_; }
    [[nodiscard]] const std::map<std::string, local_vlan>& local_vlans() const noexcept { return nets_; }
    [[nodiscard]] const std::map<std::pair<network_type, std::uint32_t>, tunnel_port>& tunnels() const noexcept {
        return tunnels_;
    }
    [[nodiscard]] const std::set<std::uint64_t>& dvr_macs() const noexcept { return remote_dvr_macs_; }
    [[nodiscard]] const local_vlan* find_network(const std::string& id) const {
        auto it = nets_.find(id);
        return it == nets_.end() ? nullptr : &it->second;
    }

    // ---- ports ----------------------------------------------------------------

    // The port to br-int: table 0's `in_port=<patch-int>` flow and table 10's
    // learn + output.
    agent_status set_patch_int(std::uint32_t ofport) {
        if (ofport == 0 || ofport >= 0xff00)
            return {agent_errc::port_in_use, std::to_string(ofport) + " is not a port number"};
        for (const auto& [k, t] : tunnels_)
            if (t.ofport == ofport) return {agent_errc::port_in_use, std::to_string(ofport) + " is " + t.name};
        auto& t0 = p_.template table<local_switching>();
        if (patch_) (void)t0.remove(in_port_match(patch_), true, 1);
        patch_ = ofport;
        agent_status st;
        if (cfg_.dvr)
            st = ok(t0.add(in_port_match(patch_), 1, action_list<resubmit_to<dvr_process>>{}, {}, now_ms), "table 0");
        else
            st = ok(t0.add(in_port_match(patch_), 1, action_list<resubmit_to<patch_lv_to_tun>>{}, {}, now_ms),
                    "table 0");
        if (!st) return st;
        if (cfg_.dvr) {
            for (std::uint64_t m : remote_dvr_macs_)
                if (auto s = ok(p_.template table<dvr_not_learn>().add(match{}.set(field_id::eth_src, m), 1,
                                                                       action_list<output>{{patch_}}, {}, now_ms),
                                "table 9");
                    !s)
                    return s;
        }
        return ok(p_.template table<learn_from_tun>().add(match{}, 1, learn_from_tun_actions{{}, {patch_}}, {}, now_ms),
                  "table 10");
    }

    // A tunnel port to remote_ip (`ofport` 0: allocate one) and its table-0 flow.
    agent_status add_tunnel_port(std::string_view type, std::string_view remote_ip, std::uint32_t ofport = 0) {
        const auto t = parse_network_type(type);
        if (!t) return {agent_errc::bad_network_type, std::string(type)};
        const auto ip = parse_ipv4(remote_ip);
        if (!ip) return {agent_errc::malformed_ip, std::string(remote_ip)};
        if (auto it = tunnels_.find({*t, *ip}); it != tunnels_.end()) {
            agent_status st;
            st.ofport = it->second.ofport;
            return st;
        }
        if (ofport != 0) {
            if (ofport >= 0xff00 || ofport == patch_ || port_taken(ofport))
                return {agent_errc::port_in_use, std::to_string(ofport)};
        } else {
            auto a = allocate(*t, *ip, {});
            if (!a) return {agent_errc::port_allocation_failed, std::string(remote_ip)};
            ofport = *a;
        }
        agent_status st = create_tunnel(*t, *ip, ofport);
        st.ofport = ofport;
        return st;
    }

    // Removes a tunnel port with all its flows (table 0, unicast and learned
    // flows to it in table 20) and takes it out of every flood list.
    agent_status remove_tunnel_port(std::string_view type, std::string_view remote_ip) {
        const auto t = parse_network_type(type);
        if (!t) return {agent_errc::bad_network_type, std::string(type)};
        const auto ip = parse_ipv4(remote_ip);
        if (!ip) return {agent_errc::malformed_ip, std::string(remote_ip)};
        auto it = tunnels_.find({*t, *ip});
        if (it == tunnels_.end()) return {agent_errc::no_such_port, std::string(remote_ip)};
        const std::uint32_t port = it->second.ofport;
        for (auto& [id, n] : nets_)
            if (n.flood.erase(port)) write_flood(n);
        delete_tunnel(it);
        return {};
    }

    // ---- local VLANs ------------------------------------------------------------

    // The first local port of a network appeared: give it a local VLAN
    // (lowest free, or `lvid` when given) and its table 3/4/6 flow.
    agent_status provision_local_vlan(const std::string& net_id, std::string_view type, std::uint64_t segment,
                                      std::uint16_t lvid = 0) {
        if (!patch_) return {agent_errc::no_patch_int, {}};
        if (nets_.count(net_id)) return {agent_errc::network_exists, net_id};
        const auto t = parse_network_type(type);
        if (!t) return {agent_errc::bad_network_type, std::string(type)};
        if (segment == 0 || segment > max_segment(*t))
            return {agent_errc::segment_out_of_range, std::to_string(segment) + " for " + to_string(*t)};
        for (const auto& [id, n] : nets_)
            if (n.segment == segment && n.type == *t)
                return {agent_errc::network_exists, "segment " + std::to_string(segment) + " is network " + id};
        if (lvid != 0) {
            if (lvid > 4094 || lvid_used(lvid)) return {agent_errc::lvid_in_use, std::to_string(lvid)};
        } else {
            for (std::uint16_t v = next_lvid_hint(); v <= 4094 && !lvid; ++v)
                if (!lvid_used(v)) lvid = v;
            if (!lvid) return {agent_errc::lvid_pool_exhausted, net_id};
        }
        local_vlan n{*t, segment, lvid, {}, {}};
        agent_status st;
        if (cfg_.dvr)
            st = ok(add_tun_to_lv(*t, segment, tun_to_lv_dvr_actions{{lvid}, {}}), "tunnel table");
        else
            st = ok(add_tun_to_lv(*t, segment, tun_to_lv_actions{{lvid}, {}}), "tunnel table");
        if (!st) return st;
        nets_.emplace(net_id, std::move(n));
        lvids_.set(lvid);
        st.lvid = lvid;
        return st;
    }

    // The last local port of a network went: its flows (tables 3/4/6, 20,
    // 21, 22, 1) and tunnel ports no other network floods to.
    agent_status reclaim_local_vlan(const std::string& net_id) {
        auto it = nets_.find(net_id);
        if (it == nets_.end()) return {agent_errc::unknown_network, net_id};
        local_vlan n = std::move(it->second);
        nets_.erase(it);
        lvids_.reset(n.lvid);
        remove_tun_to_lv(n.type, n.segment);
        (void)p_.template table<flood_to_tun>().remove(vlan_match(n.lvid), true, 1);
        remove_if(p_.template table<ucast_to_tun>(),
                  [&](const auto& f) { return f.priority == 2 && vlan_of(f) == n.lvid; });
        remove_if(p_.template table<arp_responder>(),
                  [&](const auto& f) { return f.priority == 1 && vlan_of(f) == n.lvid; });
        remove_if(p_.template table<flood_to_tun>(),
                  [&](const auto& f) { return f.priority == 3 && vlan_of(f) == n.lvid; });
        remove_if(p_.template table<dvr_process>(),
                  [&](const auto& f) { return f.priority > 0 && vlan_of(f) == n.lvid; });
        for (std::uint32_t port : n.flood) cleanup_tunnel(port);
        return {};
    }

    // ---- l2pop ------------------------------------------------------------------

    agent_status add_fdb_entries(const fdb_entries& msg) { return fdb(msg, true); }
    agent_status remove_fdb_entries(const fdb_entries& msg) { return fdb(msg, false); }

    // A port's IP changed: only ARP responder entries are removed and added.
    agent_status update_fdb_entries(const fdb_ip_changes& chg) {
        struct arp_op {
            std::uint16_t lvid;
            std::uint64_t mac;
            std::uint32_t ip;
            bool add;
        };
        std::vector<arp_op> ops;
        agent_status st;
        for (const auto& [net_id, remotes] : chg) {
            const local_vlan* n = find_network(net_id);
            for (const auto& [remote, c] : remotes) {
                if (!parse_ipv4(remote)) return {agent_errc::malformed_ip, remote};
                for (int add = 0; add < 2; ++add)
                    for (const auto& e : add ? c.after : c.before) {
                        const auto mac = parse_mac(e.mac);
                        if (!mac) return {agent_errc::malformed_mac, e.mac};
                        const auto ip = parse_ipv4(e.ip);
                        if (!ip) return {agent_errc::malformed_ip, e.ip};
                        if (n) ops.push_back({n->lvid, *mac, *ip, add == 1});
                    }
            }
            if (!n) ++st.ignored;
        }
        if (!cfg_.arp_responder) return st;
        for (const auto& o : ops) {
            if (o.add) {
                if (auto s = add_arp(o.lvid, o.mac, o.ip); !s) return s;
            } else {
                (void)p_.template table<arp_responder>().remove(arp_match(o.lvid, o.ip), true, 1);
            }
        }
        return st;
    }

    // ---- DVR ------------------------------------------------------------------------

    // Another host's DVR MAC: frames from it go straight to patch-int (table 9).
    agent_status add_dvr_mac(std::string_view mac) {
        if (!cfg_.dvr) return {agent_errc::dvr_off, {}};
        const auto m = parse_mac(mac);
        if (!m) return {agent_errc::malformed_mac, std::string(mac)};
        if (!patch_) return {agent_errc::no_patch_int, {}};
        if (auto st = ok(p_.template table<dvr_not_learn>().add(match{}.set(field_id::eth_src, *m), 1,
                                                                action_list<output>{{patch_}}, {}, now_ms),
                         "table 9");
            !st)
            return st;
        remote_dvr_macs_.insert(*m);
        return {};
    }
    agent_status remove_dvr_mac(std::string_view mac) {
        if (!cfg_.dvr) return {agent_errc::dvr_off, {}};
        const auto m = parse_mac(mac);
        if (!m) return {agent_errc::malformed_mac, std::string(mac)};
        (void)p_.template table<dvr_not_learn>().remove(match{}.set(field_id::eth_src, *m), true, 1);
        remote_dvr_macs_.erase(*m);
        return {};
    }

    // A router interface (the distributed gateway) on a network: table 1
    // drops frames to it and rewrites its source MAC to this host's DVR
    // MAC; table 22 never floods ARP for its IP.
    agent_status add_dvr_router_interface(const std::string& net_id, std::string_view gw_mac, std::string_view gw_ip) {
        if (!cfg_.dvr) return {agent_errc::dvr_off, {}};
        auto it = nets_.find(net_id);
        if (it == nets_.end()) return {agent_errc::unknown_network, net_id};
        const auto m = parse_mac(gw_mac);
        if (!m) return {agent_errc::malformed_mac, std::string(gw_mac)};
        const auto ip = parse_ipv4(gw_ip);
        if (!ip) return {agent_errc::malformed_ip, std::string(gw_ip)};
        const std::uint16_t lvid = it->second.lvid;
        auto& t1 = p_.template table<dvr_process>();
        if (auto st =
                ok(t1.add(vlan_match(lvid).set(field_id::eth_dst, *m), 2, action_list<drop>{}, {}, now_ms), "table 1");
            !st)
            return st;
        if (auto st = ok(
                t1.add(vlan_match(lvid).set(field_id::eth_src, *m), 1, dvr_rewrite_actions{{dvr_mac_}, {}}, {}, now_ms),
                "table 1");
            !st)
            return st;
        if (auto st =
                ok(p_.template table<flood_to_tun>().add(gw_arp_match(lvid, *ip), 3, action_list<drop>{}, {}, now_ms),
                   "table 22");
            !st)
            return st;
        auto& ifs = it->second.dvr_ifs;
        if (std::none_of(ifs.begin(), ifs.end(), [&](const dvr_interface& d) { return d.mac == *m && d.ip == *ip; }))
            ifs.push_back({*m, *ip});
        return {};
    }
    agent_status remove_dvr_router_interface(const std::string& net_id, std::string_view gw_mac,
                                             std::string_view gw_ip) {
        if (!cfg_.dvr) return {agent_errc::dvr_off, {}};
        auto it = nets_.find(net_id);
        if (it == nets_.end()) return {agent_errc::unknown_network, net_id};
        const auto m = parse_mac(gw_mac);
        if (!m) return {agent_errc::malformed_mac, std::string(gw_mac)};
        const auto ip = parse_ipv4(gw_ip);
        if (!ip) return {agent_errc::malformed_ip, std::string(gw_ip)};
        const std::uint16_t lvid = it->second.lvid;
        auto& t1 = p_.template table<dvr_process>();
        (void)t1.remove(vlan_match(lvid).set(field_id::eth_dst, *m), true, 2);
        (void)t1.remove(vlan_match(lvid).set(field_id::eth_src, *m), true, 1);
        (void)p_.template table<flood_to_tun>().remove(gw_arp_match(lvid, *ip), true, 3);
        auto& ifs = it->second.dvr_ifs;
        std::erase_if(ifs, [&](const dvr_interface& d) { return d.mac == *m && d.ip == *ip; });
        return {};
    }

    // ---- matches as Neutron writes them ---------------------------------------------
    [[nodiscard]] static match in_port_match(std::uint32_t port) { return match{}.set(field_id::in_port, port); }
    [[nodiscard]] static match tun_id_match(std::uint64_t seg) { return match{}.set(field_id::tun_id, seg); }
    // dl_vlan=<lvid>: vlan_tci=0x1XXX/0x1fff
    [[nodiscard]] static match vlan_match(std::uint16_t lvid) {
        return match{}.set(field_id::vlan_tci, 0x1000u | lvid, 0x1fffu);
    }
    [[nodiscard]] static match arp_match(std::uint16_t lvid, std::uint32_t ip) {
        return vlan_match(lvid).set(field_id::eth_type, proto::eth_type_arp).set(field_id::arp_tpa, ip);
    }
    [[nodiscard]] static match gw_arp_match(std::uint16_t lvid, std::uint32_t ip) { return arp_match(lvid, ip); }

  private:
    static agent_status ok(const flow_mod_status& s, const char* where) {
        if (s) return {};
        return {agent_errc::flow_mod_failed, std::string(where) + ": " + s.what()};
    }

    void install_defaults() {
        auto& t0 = p_.template table<local_switching>();
        (void)t0.add(match{}, 0, action_list<drop>{}, {}, now_ms);
        if (cfg_.dvr) {
            (void)p_.template table<dvr_process>().add(match{}, 0, action_list<resubmit_to<patch_lv_to_tun>>{}, {},
                                                       now_ms);
            (void)p_.template table<dvr_not_learn>().add(match{}, 0, action_list<resubmit_to<learn_from_tun>>{}, {},
                                                         now_ms);
        }
        auto& t2 = p_.template table<patch_lv_to_tun>();
        if (cfg_.arp_responder)
            (void)t2.add(match{}.set(field_id::eth_type, proto::eth_type_arp).set(field_id::eth_dst, 0xffffffffffffULL),
                         1, action_list<resubmit_to<arp_responder>>{}, {}, now_ms);
        (void)t2.add(match{}.set(field_id::eth_dst, 0, 0x010000000000ULL), 0, action_list<resubmit_to<ucast_to_tun>>{},
                     {}, now_ms);
        (void)t2.add(match{}.set(field_id::eth_dst, 0x010000000000ULL, 0x010000000000ULL), 0,
                     action_list<resubmit_to<flood_to_tun>>{}, {}, now_ms);
        (void)p_.template table<gre_tun_to_lv>().add(match{}, 0, action_list<drop>{}, {}, now_ms);
        (void)p_.template table<vxlan_tun_to_lv>().add(match{}, 0, action_list<drop>{}, {}, now_ms);
        (void)p_.template table<geneve_tun_to_lv>().add(match{}, 0, action_list<drop>{}, {}, now_ms);
        (void)p_.template table<ucast_to_tun>().add(match{}, 0, action_list<resubmit_to<flood_to_tun>>{}, {}, now_ms);
        (void)p_.template table<arp_responder>().add(match{}, 0, action_list<resubmit_to<flood_to_tun>>{}, {}, now_ms);
        (void)p_.template table<flood_to_tun>().add(match{}, 0, action_list<drop>{}, {}, now_ms);
    }

    template <class Acts>
    flow_mod_status add_tun_to_lv(network_type t, std::uint64_t seg, Acts&& a) {
        switch (t) {
        case network_type::gre:
            return p_.template table<gre_tun_to_lv>().add(tun_id_match(seg), 1, std::forward<Acts>(a), {}, now_ms);
        case network_type::vxlan:
            return p_.template table<vxlan_tun_to_lv>().add(tun_id_match(seg), 1, std::forward<Acts>(a), {}, now_ms);
        case network_type::geneve:
            return p_.template table<geneve_tun_to_lv>().add(tun_id_match(seg), 1, std::forward<Acts>(a), {}, now_ms);
        }
        return flow_mod_status{flow_mod_errc::no_such_table};
    }
    void remove_tun_to_lv(network_type t, std::uint64_t seg) {
        switch (t) {
        case network_type::gre: (void)p_.template table<gre_tun_to_lv>().remove(tun_id_match(seg), true, 1); break;
        case network_type::vxlan: (void)p_.template table<vxlan_tun_to_lv>().remove(tun_id_match(seg), true, 1); break;
        case network_type::geneve:
            (void)p_.template table<geneve_tun_to_lv>().remove(tun_id_match(seg), true, 1);
            break;
        }
    }

    // The local VLAN a flow's match names (dl_vlan or vlan_tci[0..11]), 0 when none.
    template <class Flow>
    static std::uint16_t vlan_of(const Flow& f) {
        const match m = f.get_match();
        if ((m.mask_of(field_id::vlan_tci) & 0x0fff) != 0x0fff) return 0;
        return static_cast<std::uint16_t>(m.value_of(field_id::vlan_tci) & 0x0fff);
    }

    // Deletes (strictly, one by one) the flows of t that pred selects.
    template <class Table, class Pred>
    void remove_if(Table& t, Pred pred) {
        std::vector<std::pair<match, std::int32_t>> doomed;
        t.for_each([&](const auto& f) {
            if (pred(f)) doomed.emplace_back(f.get_match(), f.priority);
        });
        for (const auto& [m, prio] : doomed) (void)t.remove(m, true, prio);
    }

    bool lvid_used(std::uint16_t v) const { return lvids_.test(v); }
    bool port_taken(std::uint32_t port) const {
        for (const auto& [k, t] : tunnels_)
            if (t.ofport == port) return true;
        return false;
    }
    // A port number for a new tunnel; `pending` are numbers already promised
    // to other new tunnels of the same message.
    std::optional<std::uint32_t> allocate(network_type t, std::uint32_t ip, const std::vector<std::uint32_t>& pending) {
        if (alloc_) {
            auto p = alloc_(t, ip);
            if (!p || *p == 0 || *p >= 0xff00 || *p == patch_ || port_taken(*p) ||
                std::find(pending.begin(), pending.end(), *p) != pending.end())
                return std::nullopt;
            return p;
        }
        for (std::uint32_t p = 2; p < 0xff00; ++p)
            if (p != patch_ && !port_taken(p) && std::find(pending.begin(), pending.end(), p) == pending.end())
                return p;
        return std::nullopt;
    }

    agent_status create_tunnel(network_type t, std::uint32_t ip, std::uint32_t ofport) {
        char hex[9];
        std::snprintf(hex, sizeof hex, "%08x", ip);
        tunnel_port tp{t, ip, ofport, std::string(to_string(t)) + "-" + hex};
        auto& t0 = p_.template table<local_switching>();
        flow_mod_status s;
        switch (t) {
        case network_type::gre:
            s = t0.add(in_port_match(ofport), 1, action_list<resubmit_to<gre_tun_to_lv>>{}, {}, now_ms);
            break;
        case network_type::vxlan:
            s = t0.add(in_port_match(ofport), 1, action_list<resubmit_to<vxlan_tun_to_lv>>{}, {}, now_ms);
            break;
        case network_type::geneve:
            s = t0.add(in_port_match(ofport), 1, action_list<resubmit_to<geneve_tun_to_lv>>{}, {}, now_ms);
            break;
        }
        if (!s) return ok(s, "table 0");
        tunnels_.emplace(std::pair{t, ip}, std::move(tp));
        return {};
    }

    template <class It>
    void delete_tunnel(It it) {
        const std::uint32_t port = it->second.ofport;
        (void)p_.template table<local_switching>().remove(in_port_match(port), true, 1);
        remove_if(p_.template table<ucast_to_tun>(), [&](const auto& f) { return outputs_to(f.actions, port); });
        tunnels_.erase(it);
    }

    // Neutron's cleanup_tunnel_port: a tunnel no network floods to goes.
    void cleanup_tunnel(std::uint32_t port) {
        for (const auto& [id, n] : nets_)
            if (n.flood.count(port)) return;
        for (auto it = tunnels_.begin(); it != tunnels_.end(); ++it)
            if (it->second.ofport == port) {
                delete_tunnel(it);
                return;
            }
    }

    template <class Storage>
    static bool outputs_to(const Storage& s, std::uint32_t port) {
        bool hit = false;
        std::visit(
            [&](const auto& list) {
                using L = std::decay_t<decltype(list)>;
                if constexpr (std::is_same_v<L, to_tunnel_actions>)
                    hit = std::get<2>(list.actions).port == port;
                else if constexpr (std::is_same_v<L, learned_ucast_actions>)
                    hit = std::get<std::tuple_size_v<decltype(list.actions)> - 1>(list.actions).port == port;
            },
            s);
        return hit;
    }

    void write_flood(const local_vlan& n) {
        auto& t22 = p_.template table<flood_to_tun>();
        if (n.flood.empty()) {
            (void)t22.remove(vlan_match(n.lvid), true, 1);
            return;
        }
        output_ports<max_flood_ports> ports;
        for (std::uint32_t p : n.flood) ports.add(p);
        (void)t22.add(vlan_match(n.lvid), 1, flood_actions{{}, {n.segment}, ports}, {}, now_ms);
    }

    agent_status add_arp(std::uint16_t lvid, std::uint64_t mac, std::uint32_t ip) {
        return ok(p_.template table<arp_responder>().add(arp_match(lvid, ip), 1, arp_reply(mac, ip), {}, now_ms),
                  "table 21");
    }

    // add_fdb_entries / remove_fdb_entries: validate all, then apply.
    agent_status fdb(const fdb_entries& msg, bool add) {
        struct entry {
            bool flood;
            std::uint64_t mac;
            std::uint32_t ip;
        };
        struct remote {
            std::uint32_t ip;
            std::vector<entry> entries;
        };
        struct net_ops {
            local_vlan* n;
            std::vector<remote> remotes;
        };
        std::vector<net_ops> ops;
        std::map<std::pair<network_type, std::uint32_t>, std::uint32_t> new_ports;
        std::vector<std::uint32_t> pending;
        agent_status st;
        if (add && !patch_) return {agent_errc::no_patch_int, {}};
        for (const auto& [net_id, ne] : msg) {
            const auto t = parse_network_type(ne.network_type);
            if (!t) return {agent_errc::bad_network_type, net_id + ": " + ne.network_type};
            if (ne.segment_id == 0 || ne.segment_id > max_segment(*t))
                return {agent_errc::segment_out_of_range, net_id + ": " + std::to_string(ne.segment_id)};
            auto it = nets_.find(net_id);
            if (it != nets_.end() && (it->second.type != *t || it->second.segment != ne.segment_id))
                return {agent_errc::unknown_network, net_id + " is " + to_string(it->second.type) + " segment " +
                                                         std::to_string(it->second.segment) + " here, not " +
                                                         ne.network_type + " segment " + std::to_string(ne.segment_id)};
            net_ops no{it == nets_.end() ? nullptr : &it->second, {}};
            std::size_t flood_after = no.n ? no.n->flood.size() : 0;
            for (const auto& [rip, entries] : ne.ports) {
                const auto ip = parse_ipv4(rip);
                if (!ip) return {agent_errc::malformed_ip, net_id + ": remote " + rip};
                remote r{*ip, {}};
                for (const auto& e : entries) {
                    const auto mac = parse_mac(e.mac);
                    if (!mac) return {agent_errc::malformed_mac, net_id + ": " + e.mac};
                    const auto eip = parse_ipv4(e.ip);
                    if (!eip) return {agent_errc::malformed_ip, net_id + ": " + e.ip};
                    r.entries.push_back({*mac == 0 && *eip == 0, *mac, *eip});
                }
                if (!no.n || *ip == local_ip_) continue;
                const auto key = std::pair{*t, *ip};
                const bool exists = tunnels_.count(key) != 0;
                if (add && !exists && !new_ports.count(key)) {
                    auto port = allocate(*t, *ip, pending);
                    if (!port) return {agent_errc::port_allocation_failed, net_id + ": remote " + rip};
                    new_ports[key] = *port;
                    pending.push_back(*port);
                }
                if (add) {
                    const std::uint32_t port = exists ? tunnels_.at(key).ofport : new_ports.at(key);
                    for (const auto& e : r.entries)
                        if (e.flood && !no.n->flood.count(port)) ++flood_after;
                    if (flood_after > max_flood_ports)
                        return {agent_errc::flood_list_full, net_id + ": " + std::to_string(flood_after) + " tunnels"};
                }
                no.remotes.push_back(std::move(r));
            }
            if (!no.n)
                ++st.ignored;
            else
                ops.push_back(std::move(no));
        }
        // Apply.
        for (auto& no : ops) {
            local_vlan& n = *no.n;
            bool flood_changed = false;
            std::vector<std::uint32_t> touched;
            for (const auto& r : no.remotes) {
                const auto key = std::pair{n.type, r.ip};
                if (add && !tunnels_.count(key))
                    if (auto s = create_tunnel(n.type, r.ip, new_ports.at(key)); !s) return s;
                auto it = tunnels_.find(key);
                if (it == tunnels_.end()) continue; // remove: no tunnel, nothing to remove
                const std::uint32_t port = it->second.ofport;
                touched.push_back(port);
                for (const auto& e : r.entries) {
                    if (e.flood) {
                        flood_changed |= add ? n.flood.insert(port).second : n.flood.erase(port) != 0;
                        continue;
                    }
                    const match um = vlan_match(n.lvid).set(field_id::eth_dst, e.mac);
                    if (add) {
                        if (auto s = ok(p_.template table<ucast_to_tun>().add(
                                            um, 2, to_tunnel_actions{{}, {n.segment}, {port}}, {}, now_ms),
                                        "table 20");
                            !s)
                            return s;
                        if (cfg_.arp_responder)
                            if (auto s = add_arp(n.lvid, e.mac, e.ip); !s) return s;
                    } else {
                        (void)p_.template table<ucast_to_tun>().remove(um, true, 2);
                        if (cfg_.arp_responder)
                            (void)p_.template table<arp_responder>().remove(arp_match(n.lvid, e.ip), true, 1);
                    }
                }
            }
            if (flood_changed) write_flood(n);
            if (!add)
                for (std::uint32_t port : touched) cleanup_tunnel(port);
        }
        return st;
    }

    Pipeline& p_;
    agent_config cfg_;
    port_allocator alloc_;
    std::uint32_t patch_ = 0;
    std::uint64_t dvr_mac_ = 0;
    std::uint32_t local_ip_ = 0;
    std::map<std::string, local_vlan> nets_;
    std::map<std::pair<network_type, std::uint32_t>, tunnel_port> tunnels_;
    std::set<std::uint64_t> remote_dvr_macs_;
    std::bitset<4095> lvids_; // local VLAN ids in use (1..4094)

    std::uint16_t next_lvid_hint() const {
        // lowest free: skip whole used words quickly
        for (std::uint16_t v = 1; v <= 4094; ++v)
            if (!lvids_.test(v)) return v;
        return 4095;
    }
};

using agent = basic_agent<br_tun>;

} // namespace flowpipe::neutron
