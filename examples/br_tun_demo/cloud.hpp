// The cloud description file of the br-tun demo (docs/cloud-file.md): nodes,
// tenant networks, VMs, DVR router interfaces and the node the demo plays.
//
//   node compute1 ip=10.0.1.31 dvr_mac=fa:16:3f:b2:34:82 local
//   network tenant-a segment=6 type=vxlan
//   router tenant-a ip=81.1.180.1 mac=fa:16:3e:87:40:f3
//   vm vm1 mac=fa:16:3e:b3:e7:7a ip=81.1.180.8 network=tenant-a node=compute1
//
// parse_cloud reads all of it and reports every problem as "FILE:LINE: reason";
// a file with any error gives no cloud. Names may be used before the line
// that defines them.
#pragma once

#include <flowpipe/neutron/agent.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace demo {

namespace nt = flowpipe::neutron;

struct node {
    std::string name;
    std::uint32_t ip = 0;
    std::optional<std::uint64_t> dvr_mac;
    bool local = false;
    int line = 0;
};
struct network {
    std::string name;
    std::uint64_t segment = 0;
    nt::network_type type = nt::network_type::vxlan;
    int line = 0;
};
struct vm {
    std::string name;
    std::uint64_t mac = 0;
    std::uint32_t ip = 0;
    std::string network;
    std::string node;
    int line = 0;
};
struct router_if {
    std::string network;
    std::uint32_t ip = 0;
    std::uint64_t mac = 0;
    int line = 0;
};

struct cloud {
    std::vector<node> nodes;       // in file order
    std::vector<network> networks; // in file order
    std::vector<vm> vms;           // in file order
    std::vector<router_if> routers;

    [[nodiscard]] const node& local() const {
        for (const auto& n : nodes)
            if (n.local) return n;
        return nodes.front();
    }
    [[nodiscard]] bool dvr() const { return local().dvr_mac.has_value(); }
    [[nodiscard]] const node* find_node(std::string_view name) const {
        for (const auto& n : nodes)
            if (n.name == name) return &n;
        return nullptr;
    }
    [[nodiscard]] const node* node_by_ip(std::uint32_t ip) const {
        for (const auto& n : nodes)
            if (n.ip == ip) return &n;
        return nullptr;
    }
    [[nodiscard]] const network* find_network(std::string_view name) const {
        for (const auto& n : networks)
            if (n.name == name) return &n;
        return nullptr;
    }
    [[nodiscard]] const router_if* router_of(std::string_view net) const {
        for (const auto& r : routers)
            if (r.network == net) return &r;
        return nullptr;
    }
    [[nodiscard]] bool is_local(const vm& v) const { return v.node == local().name; }
};

namespace detail {

inline std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> w;
    std::istringstream in(line);
    for (std::string s; in >> s;) w.push_back(s);
    return w;
}

// What a line of one keyword may and must say.
struct keyword_spec {
    std::vector<std::string_view> required;
    std::vector<std::string_view> optional;
    std::vector<std::string_view> flags; // bare words
};

inline const std::map<std::string, keyword_spec, std::less<>>& keywords() {
    static const std::map<std::string, keyword_spec, std::less<>> k{
        {"node", {{"ip"}, {"dvr_mac"}, {"local"}}},
        {"network", {{"segment", "type"}, {}, {}}},
        {"vm", {{"mac", "ip", "network", "node"}, {}, {}}},
        {"router", {{"ip", "mac"}, {}, {}}},
    };
    return k;
}

inline bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
    return true;
}

} // namespace detail

// Parses `text` (the contents of `file`). Errors go to `errors`, one
// "FILE:LINE: reason" each; the result is empty when there is any.
inline std::optional<cloud> parse_cloud(const std::string& file, const std::string& text,
                                        std::vector<std::string>& errors) {
    cloud c;
    const std::size_t errors_before = errors.size();
    std::vector<std::pair<int, std::string>> found; // by line, in the end
    auto err = [&](int line, const std::string& why) { found.emplace_back(line, why); };
    std::map<std::string, int> node_lines, net_lines, vm_lines, router_lines;

    std::istringstream in(text);
    std::string raw;
    int lineno = 0;
    while (std::getline(in, raw)) {
        ++lineno;
        if (auto hash = raw.find('#'); hash != std::string::npos) raw.erase(hash);
        const auto words = detail::split(raw);
        if (words.empty()) continue;
        const std::string& kw = words[0];
        const auto spec_it = detail::keywords().find(kw);
        if (spec_it == detail::keywords().end()) {
            err(lineno, "unknown keyword '" + kw + "' (expected node, network, vm or router)");
            continue;
        }
        const auto& spec = spec_it->second;
        if (words.size() < 2 || words[1].find('=') != std::string::npos) {
            err(lineno, "'" + kw + "' needs a name first (" + kw + " NAME key=value ...)");
            continue;
        }
        const std::string& name = words[1];
        if (!detail::valid_name(name)) {
            err(lineno, "bad name '" + name + "' (letters, digits, '-', '_', '.'; at most 64)");
            continue;
        }
        // key=value pairs and flags
        std::map<std::string, std::string, std::less<>> kv;
        std::set<std::string, std::less<>> flags;
        bool bad = false;
        auto known = [](const std::vector<std::string_view>& v, std::string_view k) {
            for (auto x : v)
                if (x == k) return true;
            return false;
        };
        for (std::size_t i = 2; i < words.size(); ++i) {
            const std::string& w = words[i];
            const auto eq = w.find('=');
            const std::string key = eq == std::string::npos ? w : w.substr(0, eq);
            if (eq == std::string::npos) {
                if (!known(spec.flags, key)) {
                    err(lineno, known(spec.required, key) || known(spec.optional, key)
                                    ? "'" + key + "' needs a value (" + key + "=...)"
                                    : "unknown word '" + key + "' for " + kw);
                    bad = true;
                } else if (!flags.insert(key).second) {
                    err(lineno, "duplicate '" + key + "'");
                    bad = true;
                }
                continue;
            }
            if (!known(spec.required, key) && !known(spec.optional, key)) {
                err(lineno, "unknown key '" + key + "' for " + kw);
                bad = true;
                continue;
            }
            if (eq + 1 == w.size()) {
                err(lineno, "empty value for '" + key + "'");
                bad = true;
                continue;
            }
            if (!kv.emplace(key, w.substr(eq + 1)).second) {
                err(lineno, "duplicate key '" + key + "'");
                bad = true;
            }
        }
        for (auto r : spec.required)
            if (!kv.count(r)) {
                err(lineno, "missing key '" + std::string(r) + "' for " + kw);
                bad = true;
            }
        if (bad) continue;

        auto mac = [&](const char* key) -> std::optional<std::uint64_t> {
            auto m = nt::parse_mac(kv.at(key));
            if (!m) err(lineno, "malformed MAC address '" + kv.at(key) + "' for " + key + " (want xx:xx:xx:xx:xx:xx)");
            return m;
        };
        auto ipv4 = [&](const char* key) -> std::optional<std::uint32_t> {
            auto a = nt::parse_ipv4(kv.at(key));
            if (!a) err(lineno, "malformed IPv4 address '" + kv.at(key) + "' for " + key);
            return a;
        };
        auto dup = [&](std::map<std::string, int>& seen, const char* what) {
            auto [it, fresh] = seen.emplace(name, lineno);
            if (!fresh)
                err(lineno, std::string("duplicate ") + what + " '" + name + "' (first at line " +
                                std::to_string(it->second) + ")");
            return !fresh;
        };

        if (kw == "node") {
            const auto ip = ipv4("ip");
            std::optional<std::uint64_t> dm;
            bool ok = ip.has_value();
            if (kv.count("dvr_mac")) {
                dm = mac("dvr_mac");
                ok = ok && dm.has_value();
            }
            if (dup(node_lines, "node") || !ok) continue;
            c.nodes.push_back({name, *ip, dm, flags.count("local") != 0, lineno});
        } else if (kw == "network") {
            const auto t = nt::parse_network_type(kv.at("type"));
            if (!t) err(lineno, "network type '" + kv.at("type") + "' is not gre, vxlan or geneve");
            std::uint64_t seg = 0;
            const std::string& s = kv.at("segment");
            const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), seg);
            const bool seg_ok = ec == std::errc{} && p == s.data() + s.size() && seg != 0;
            if (!seg_ok)
                err(lineno, "segment '" + s + "' is not a positive number");
            else if (t && seg > nt::max_segment(*t)) {
                err(lineno, "segment " + s + " is out of range for " + kv.at("type") + " (1.." +
                                std::to_string(nt::max_segment(*t)) + ")");
                continue;
            }
            if (dup(net_lines, "network") || !t || !seg_ok) continue;
            c.networks.push_back({name, seg, *t, lineno});
        } else if (kw == "vm") {
            const auto m = mac("mac");
            const auto ip = ipv4("ip");
            if (dup(vm_lines, "vm") || !m || !ip) continue;
            if (*m == 0 || (*m >> 40 & 1)) {
                err(lineno, "mac '" + kv.at("mac") + "' is not a unicast MAC");
                continue;
            }
            c.vms.push_back({name, *m, *ip, kv.at("network"), kv.at("node"), lineno});
        } else if (kw == "router") {
            const auto ip = ipv4("ip");
            const auto m = mac("mac");
            auto [it, fresh] = router_lines.emplace(name, lineno);
            if (!fresh) {
                err(lineno,
                    "duplicate router for network '" + name + "' (first at line " + std::to_string(it->second) + ")");
                continue;
            }
            if (!ip || !m) continue;
            c.routers.push_back({name, *ip, *m, lineno});
        }
    }

    // ---- references and whole-cloud rules ----
    std::vector<const node*> locals;
    for (const auto& n : c.nodes)
        if (n.local) locals.push_back(&n);
    for (std::size_t i = 0; i < c.nodes.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (c.nodes[i].ip == c.nodes[j].ip)
                err(c.nodes[i].line, "node " + c.nodes[i].name + " has the same ip as node " + c.nodes[j].name +
                                         " (line " + std::to_string(c.nodes[j].line) + ")");
    for (std::size_t i = 0; i < c.networks.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (c.networks[i].segment == c.networks[j].segment && c.networks[i].type == c.networks[j].type)
                err(c.networks[i].line, "network " + c.networks[i].name + " has the same " +
                                            nt::to_string(c.networks[i].type) + " segment as network " +
                                            c.networks[j].name + " (line " + std::to_string(c.networks[j].line) + ")");
    std::map<std::uint64_t, const vm*> macs;
    std::map<std::pair<std::string, std::uint32_t>, const vm*> ips;
    for (const auto& v : c.vms) {
        const bool net_ok = c.find_network(v.network) != nullptr;
        if (!net_ok) err(v.line, "unknown network '" + v.network + "' (no 'network " + v.network + " ...' line)");
        if (!c.find_node(v.node)) err(v.line, "unknown node '" + v.node + "' (no 'node " + v.node + " ...' line)");
        if (auto [it, fresh] = macs.emplace(v.mac, &v); !fresh)
            err(v.line, "mac " + nt::format_mac(v.mac) + " is vm " + it->second->name + "'s already (line " +
                            std::to_string(it->second->line) + ")");
        if (auto [it, fresh] = ips.emplace(std::pair{v.network, v.ip}, &v); net_ok && !fresh)
            err(v.line, "ip " + nt::format_ipv4(v.ip) + " is vm " + it->second->name + "'s already on " + v.network +
                            " (line " + std::to_string(it->second->line) + ")");
    }
    for (const auto& r : c.routers) {
        if (!c.find_network(r.network))
            err(r.line, "unknown network '" + r.network + "' (no 'network " + r.network + " ...' line)");
        if (auto it = ips.find({r.network, r.ip}); it != ips.end())
            err(r.line, "ip " + nt::format_ipv4(r.ip) + " is vm " + it->second->name + "'s already");
        if (auto it = macs.find(r.mac); it != macs.end())
            err(r.line, "mac " + nt::format_mac(r.mac) + " is vm " + it->second->name + "'s already");
    }
    const int last = lineno == 0 ? 1 : lineno;
    if (locals.empty())
        err(last, "no node is marked 'local' (the node whose br-tun the demo builds)");
    else if (locals.size() > 1)
        err(locals[1]->line, "a second 'local' node (" + locals[0]->name + " at line " +
                                 std::to_string(locals[0]->line) + " is local already)");
    else {
        const node& l = *locals[0];
        bool any = false;
        for (const auto& v : c.vms) any |= v.node == l.name;
        if (!any) err(l.line, "no vm on the local node " + l.name + ": its br-tun would have no network");
        if (!c.routers.empty() && !l.dvr_mac)
            err(c.routers.front().line,
                "router interfaces need DVR, but the local node " + l.name + " has no dvr_mac=");
    }
    std::stable_sort(found.begin(), found.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& [line, why] : found) errors.push_back(file + ":" + std::to_string(line) + ": " + why);
    if (errors.size() != errors_before) return std::nullopt;
    return c;
}

} // namespace demo
