// br_tun_demo: one node's Neutron tunnel bridge (br-tun), built from a cloud
// description file, on real frames.
//
// The cloud file (docs/cloud-file.md; default clouds/demo.cloud) names the
// nodes, tenant networks, VMs and DVR router interfaces, and the node the
// demo plays. The demo programs that node's br-tun only through the agent API
// (neutron/agent.hpp), with the calls neutron-openvswitch-agent makes: the
// patch-int port, remote DVR MACs, a local VLAN per network with a local VM,
// the l2pop fdb of every network (flooding entry included), the DVR router
// interfaces. Then it generates realistic traffic (or reads a pcap), runs it
// through the pipeline frame by frame, writes what each port sent as pcap
// files, prints where each frame went, the tables' statistics, dump-flows of
// tables 20, 21 and 22, and measures packets per second.
#include "cloud.hpp"
#include "wire.hpp"

#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/io/pcap.hpp>
#include <flowpipe/neutron/agent.hpp>
#include <flowpipe/ofctl/print.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#ifndef BR_TUN_DEMO_CLOUD
#define BR_TUN_DEMO_CLOUD "demo.cloud"
#endif

namespace fp = flowpipe;
namespace nt = flowpipe::neutron;

namespace {

constexpr std::uint32_t patch_int = 1;
constexpr std::uint32_t headroom = 64;
constexpr std::int64_t pcap_epoch_ns = 1'700'000'000LL * 1'000'000'000LL;

enum exit_code { ok = 0, failure = 1, usage_error = 2, cloud_error = 3 };

const char* usage_text =
    "usage: br_tun_demo [--cloud FILE] [--out DIR] [--pcap FILE [--in-port PORT] [--tun-id ID] [--network NET]]\n"
    "                   [--seconds S]\n"
    "\n"
    "Builds the br-tun of the cloud file's local node through the Neutron agent API, runs traffic through it\n"
    "and shows what came out where, the tables' statistics, dump-flows of tables 20-22 and packets/second.\n"
    "\n"
    "  --cloud FILE   cloud description (docs/cloud-file.md); default:\n"
    "                 " BR_TUN_DEMO_CLOUD "\n"
    "                 (or br_tun_demo.cloud next to the binary, where `cmake --install` puts it)\n"
    "  --out DIR      where input.pcap and one pcap per port go (default br_tun_demo_out)\n"
    "  --pcap FILE    run this capture instead of generated traffic. VXLAN/Geneve/GRE packets from a node\n"
    "                 of the cloud to the local node enter on the tunnel port to that node, decapsulated,\n"
    "                 with the VNI/key as tun_id (input.pcap written by the demo reads back the same way);\n"
    "                 every other frame enters on --in-port (default patch-int) with --tun-id (default 0).\n"
    "                 Frames from patch-int should carry the local VLAN tag br-int puts on them.\n"
    "  --in-port PORT a port number, 'patch-int', or a node name (the tunnel to that node)\n"
    "  --tun-id ID    tunnel id of the frames entering on --in-port\n"
    "  --network NET  tag untagged frames from patch-int with NET's local VLAN, as br-int would\n"
    "  --seconds S    how long to measure throughput (default 1)\n"
    "  --help         this text\n"
    "\n"
    "Exit status: 0 done, 1 a run-time failure (file I/O, the agent refused a call), 2 bad command line,\n"
    "3 errors in the cloud file (reported as FILE:LINE: reason; nothing runs then).\n";

struct options {
    std::string cloud = BR_TUN_DEMO_CLOUD;
    bool cloud_given = false;
    std::string out = "br_tun_demo_out";
    std::string pcap;
    std::string in_port;
    std::optional<std::uint64_t> tun_id;
    std::string network;
    double seconds = 1.0;
};

// A frame entering br-tun.
struct input {
    std::string what;
    std::vector<std::uint8_t> bytes;
    std::uint32_t in_port = patch_int;
    std::uint64_t tun_id = 0;
    std::int64_t now_ms = 0;
    bool skip = false; // not run (a tunnel packet no port of this node receives)
};

// A frame a port sent.
struct sent {
    std::vector<std::uint8_t> bytes;
    std::uint64_t tun_id;
    std::int64_t now_ms;
};

std::string mac_str(std::uint64_t m) { return nt::format_mac(m); }
std::string ip_str(std::uint32_t a) { return nt::format_ipv4(a); }

// Everything the demo knows about the cloud and the built bridge.
struct world {
    demo::cloud c;
    nt::br_tun p;
    std::optional<nt::agent> a;
    std::map<std::uint64_t, std::string> names; // MAC -> name

    const demo::node& local() const { return c.local(); }
    std::string name(std::uint64_t mac) const {
        if (mac == 0xffffffffffffULL) return "broadcast";
        auto it = names.find(mac);
        return it == names.end() ? mac_str(mac) : it->second;
    }
    const nt::tunnel_port* tunnel(std::uint32_t port) const {
        for (const auto& [k, t] : a->tunnels())
            if (t.ofport == port) return &t;
        return nullptr;
    }
    const nt::tunnel_port* tunnel_to(nt::network_type t, std::uint32_t ip) const {
        auto it = a->tunnels().find({t, ip});
        return it == a->tunnels().end() ? nullptr : &it->second;
    }
    std::string port_name(std::uint32_t port) const {
        if (port == patch_int) return "patch-int";
        if (const auto* t = tunnel(port)) {
            const auto* n = c.node_by_ip(t->remote_ip);
            return t->name + " (" + (n ? n->name : ip_str(t->remote_ip)) + ")";
        }
        return "port " + std::to_string(port);
    }
    // "compute2/vxlan": where a frame from a tunnel came from
    std::string short_port(std::uint32_t port) const {
        if (const auto* t = tunnel(port)) {
            const auto* n = c.node_by_ip(t->remote_ip);
            return (n ? n->name : ip_str(t->remote_ip)) + "/" + nt::to_string(t->type);
        }
        return port == patch_int ? "patch-int" : "port " + std::to_string(port);
    }
    std::string port_file(std::uint32_t port) const {
        if (port == patch_int) return "patch-int.pcap";
        if (const auto* t = tunnel(port)) return t->name + ".pcap";
        return "port" + std::to_string(port) + ".pcap";
    }
    std::uint16_t lvid(const std::string& net) const {
        const auto* n = a->find_network(net);
        return n ? n->lvid : 0;
    }
};

// ---- building br-tun as the agent does ---------------------------------------

bool check(const nt::agent_status& st, const std::string& call) {
    if (st) return true;
    std::fprintf(stderr, "br_tun_demo: the agent refused %s: %s\n", call.c_str(), st.what().c_str());
    return false;
}

std::string fdb_entry_str(const world& w, const nt::fdb_port_entry& e) {
    if (e.mac == nt::flooding_entry.mac && e.ip == nt::flooding_entry.ip) return "flood";
    return w.name(*nt::parse_mac(e.mac)) + " " + e.ip;
}

bool build(world& w) {
    const auto& c = w.c;
    const auto& me = c.local();
    nt::agent_config cfg{.local_ip = ip_str(me.ip),
                         .arp_responder = true,
                         .dvr = c.dvr(),
                         .dvr_host_mac = me.dvr_mac ? mac_str(*me.dvr_mac) : ""};
    w.a.emplace(w.p, cfg);
    auto& a = *w.a;
    std::printf("agent calls (as neutron-openvswitch-agent on %s makes them):\n", me.name.c_str());
    auto line = [](const std::string& call, const std::string& note) {
        std::printf("  %-46s %s\n", call.c_str(), note.c_str());
    };
    if (!check(a.set_patch_int(patch_int), "set_patch_int")) return false;
    line("set_patch_int(1)", "the port to br-int");
    if (c.dvr())
        for (const auto& n : c.nodes)
            if (!n.local && n.dvr_mac) {
                const std::string call = "add_dvr_mac(" + mac_str(*n.dvr_mac) + ")";
                if (!check(a.add_dvr_mac(mac_str(*n.dvr_mac)), call)) return false;
                line(call, n.name + "'s DVR MAC: table 9");
            }
    for (const auto& n : c.networks) {
        const bool here = std::any_of(c.vms.begin(), c.vms.end(),
                                      [&](const demo::vm& v) { return v.network == n.name && c.is_local(v); });
        if (!here) continue;
        const std::string call =
            "provision_local_vlan(" + n.name + ", " + nt::to_string(n.type) + ", " + std::to_string(n.segment) + ")";
        const auto st = a.provision_local_vlan(n.name, nt::to_string(n.type), n.segment);
        if (!check(st, call)) return false;
        line(call, "-> local VLAN " + std::to_string(st.lvid));
    }
    // The full fdb of every network, as the l2pop driver sends it: per remote
    // node with a port on the network, the flooding entry and its [mac, ip]s.
    for (const auto& n : c.networks) {
        nt::fdb_entries msg;
        auto& ne = msg[n.name];
        ne.segment_id = n.segment;
        ne.network_type = nt::to_string(n.type);
        for (const auto& v : c.vms) {
            if (v.network != n.name || c.is_local(v)) continue;
            auto& list = ne.ports[ip_str(c.find_node(v.node)->ip)];
            if (list.empty()) list.push_back(nt::flooding_entry);
            list.push_back({mac_str(v.mac), ip_str(v.ip)});
        }
        if (ne.ports.empty()) continue;
        const std::string call = "add_fdb_entries(" + n.name + ")";
        const auto st = a.add_fdb_entries(msg);
        if (!check(st, call)) return false;
        line(call, st.ignored ? "ignored: no local port on " + n.name
                              : std::string(nt::to_string(n.type)) + " segment " + std::to_string(n.segment));
        for (const auto& [rip, entries] : ne.ports) {
            std::string s;
            for (const auto& e : entries) s += (s.empty() ? "" : ", ") + fdb_entry_str(w, e);
            const auto* node = c.node_by_ip(*nt::parse_ipv4(rip));
            std::printf("  %4s%-42s %s\n", "", (rip + " " + node->name).c_str(), s.c_str());
        }
    }
    if (c.dvr())
        for (const auto& r : c.routers) {
            if (!a.find_network(r.network)) continue;
            const std::string call =
                "add_dvr_router_interface(" + r.network + ", " + mac_str(r.mac) + ", " + ip_str(r.ip) + ")";
            if (!check(a.add_dvr_router_interface(r.network, mac_str(r.mac), ip_str(r.ip)), call)) return false;
            line("add_dvr_router_interface(" + r.network + ", " + ip_str(r.ip) + ")", "gateway " + mac_str(r.mac));
        }
    return true;
}

void print_ports(const world& w) {
    std::printf("\nports:\n  %-4s %-16s %s\n", "1", "patch-int", "to br-int (the VMs of this node)");
    std::vector<const nt::tunnel_port*> by_port;
    for (const auto& [k, t] : w.a->tunnels()) by_port.push_back(&t);
    std::sort(by_port.begin(), by_port.end(), [](auto* x, auto* y) { return x->ofport < y->ofport; });
    for (const auto* tp : by_port) {
        const auto& t = *tp;
        const auto* n = w.c.node_by_ip(t.remote_ip);
        std::printf("  %-4u %-16s %s tunnel to %s (%s)\n", t.ofport, t.name.c_str(), nt::to_string(t.type),
                    n ? n->name.c_str() : "?", ip_str(t.remote_ip).c_str());
    }
    std::printf("  networks:");
    for (const auto& [id, n] : w.a->local_vlans())
        std::printf("  %s = %s %llu on local VLAN %u", id.c_str(), nt::to_string(n.type),
                    static_cast<unsigned long long>(n.segment), n.lvid);
    std::printf("\n");
}

// ---- traffic --------------------------------------------------------------------

fp::flow_key udp_key(std::uint64_t src_mac, std::uint64_t dst_mac, std::uint32_t src_ip, std::uint32_t dst_ip) {
    fp::flow_key k{};
    k.eth_src = src_mac;
    k.eth_dst = dst_mac;
    k.eth_type = 0x0800;
    k.nw_src = src_ip;
    k.nw_dst = dst_ip;
    k.nw_proto = 17;
    k.nw_ttl = 64;
    k.tp_src = 40000;
    k.tp_dst = 5201;
    return k;
}

std::vector<std::uint8_t> frame_of(const fp::flow_key& k) {
    std::vector<std::uint8_t> b(2048);
    b.resize(fp::compose_frame(k, std::span<std::uint8_t>(b)));
    return b;
}

class generator {
  public:
    explicit generator(const world& w) : w_(w) {}

    std::vector<input> run() {
        const auto& c = w_.c;
        bool first = true;
        for (const auto& n : c.networks) {
            const demo::vm* a = nullptr;
            const demo::vm* r = nullptr;
            for (const auto& v : c.vms)
                if (v.network == n.name) {
                    if (c.is_local(v) && !a) a = &v;
                    if (!c.is_local(v) && !r) r = &v;
                }
            if (!a) continue;
            const std::uint16_t vlan = w_.lvid(n.name);
            const demo::router_if* gw = c.router_of(n.name);
            if (r) add(a->name + " ARP who-has " + ip_str(r->ip) + " (" + r->name + ")", arp(*a, vlan, r->ip));
            if (first) {
                const std::uint32_t unknown = unused_ip(a->ip);
                add(a->name + " ARP who-has " + ip_str(unknown) + " (nobody)", arp(*a, vlan, unknown));
                if (gw && c.dvr())
                    add(a->name + " ARP who-has " + ip_str(gw->ip) + " (gateway: local)", arp(*a, vlan, gw->ip));
            }
            if (r) {
                add(a->name + " -> " + r->name, local(udp_key(a->mac, r->mac, a->ip, r->ip), vlan));
                from_tunnel(r->name + " -> " + a->name, *r, n, udp_key(r->mac, a->mac, r->ip, a->ip));
            }
            {
                const std::uint32_t bcast = a->ip | 0xffu; // the /24's broadcast address
                add(a->name + " broadcast to " + ip_str(bcast),
                    local(udp_key(a->mac, 0xffffffffffffULL, a->ip, bcast), vlan));
            }
            if (!first) continue;
            first = false;
            const std::uint64_t stranger = 0xfa163edead01ULL, lost = 0xfa163edead02ULL;
            add(a->name + " -> unknown MAC " + mac_str(lost),
                local(udp_key(a->mac, lost, a->ip, unused_ip(a->ip)), vlan));
            if (r) {
                from_tunnel("unknown MAC ..de:ad:01 -> " + a->name, *r, n,
                            udp_key(stranger, a->mac, unused_ip(a->ip), a->ip));
                add(a->name + " -> ..de:ad:01 (just learned)",
                    local(udp_key(a->mac, stranger, a->ip, unused_ip(a->ip)), vlan));
                auto k = udp_key(0xfa163edead03ULL, r->mac, unused_ip(a->ip), r->ip);
                add("unknown MAC ..de:ad:03 -> " + r->name, local(k, vlan));
                input wrong = tunnel_input(*r, n, udp_key(r->mac, a->mac, r->ip, a->ip));
                wrong.tun_id = 999;
                wrong.what = r->name + " -> " + a->name + " with tun_id 999";
                push(std::move(wrong));
            }
            if (gw && c.dvr()) {
                add(a->name + " -> gateway MAC (local router)", local(udp_key(a->mac, gw->mac, a->ip, gw->ip), vlan));
                routed(*a, n);
            }
        }
        // A runt: shorter than an Ethernet header.
        if (!out_.empty()) {
            input t = out_.front();
            t.bytes.resize(10);
            t.what = "truncated frame (10 bytes)";
            t.in_port = patch_int;
            t.tun_id = 0;
            push(std::move(t));
        }
        return std::move(out_);
    }

  private:
    const world& w_;
    std::vector<input> out_;

    void push(input in) {
        in.now_ms = 1000 + 10 * static_cast<std::int64_t>(out_.size());
        out_.push_back(std::move(in));
    }
    void add(std::string what, fp::flow_key k) {
        input in;
        in.what = std::move(what);
        in.bytes = frame_of(k);
        in.in_port = patch_int;
        push(std::move(in));
    }
    static fp::flow_key local(fp::flow_key k, std::uint16_t vlan) {
        k.vlan_tci = static_cast<std::uint16_t>(0x1000 | vlan); // br-int tags what it sends to br-tun
        return k;
    }
    fp::flow_key arp(const demo::vm& from, std::uint16_t vlan, std::uint32_t target) const {
        fp::flow_key k{};
        k.vlan_tci = static_cast<std::uint16_t>(0x1000 | vlan);
        k.eth_src = from.mac;
        k.eth_dst = 0xffffffffffffULL;
        k.eth_type = 0x0806;
        k.arp_op = 1;
        k.arp_sha = from.mac;
        k.arp_spa = from.ip;
        k.arp_tpa = target;
        return k;
    }
    // A frame from `from`'s node, on the tunnel of `net`'s type, with net's segment.
    input tunnel_input(const demo::vm& from, const demo::network& net, const fp::flow_key& k) const {
        input in;
        in.bytes = frame_of(k);
        const auto* t = w_.tunnel_to(net.type, w_.c.find_node(from.node)->ip);
        in.in_port = t ? t->ofport : 0;
        in.tun_id = net.segment;
        return in;
    }
    void from_tunnel(std::string what, const demo::vm& from, const demo::network& net, const fp::flow_key& k) {
        input in = tunnel_input(from, net, k);
        in.what = std::move(what);
        push(std::move(in));
    }
    // DVR: a's router instance on this node routes to a remote VM of another
    // network (source: that network's gateway MAC, rewritten to this host's
    // DVR MAC by table 1), and a remote router instance routes back (source:
    // the remote host's DVR MAC, not learned: table 9).
    void routed(const demo::vm& a, const demo::network& an) {
        const auto& c = w_.c;
        for (const auto& m : c.networks) {
            if (m.name == an.name || !w_.a->find_network(m.name)) continue;
            const demo::router_if* gw = c.router_of(m.name);
            if (!gw) continue;
            for (const auto& v : c.vms) {
                if (v.network != m.name || c.is_local(v)) continue;
                auto k = local(udp_key(gw->mac, v.mac, a.ip, v.ip), w_.lvid(m.name));
                k.nw_ttl = 63;
                add(a.name + " -> " + v.name + " via local router (DVR)", k);
                const demo::node* vn = c.find_node(v.node);
                if (vn->dvr_mac && w_.tunnel_to(an.type, vn->ip)) {
                    auto back = udp_key(*vn->dvr_mac, a.mac, v.ip, a.ip);
                    back.nw_ttl = 63;
                    from_tunnel(v.name + " -> " + a.name + " via " + vn->name + "'s router", v, an, back);
                }
                return;
            }
        }
    }
    std::uint32_t unused_ip(std::uint32_t near) const {
        for (std::uint32_t last = 77; last < 255; ++last) {
            const std::uint32_t ip = (near & 0xffffff00u) | last;
            bool used = false;
            for (const auto& v : w_.c.vms) used |= v.ip == ip;
            for (const auto& r : w_.c.routers) used |= r.ip == ip;
            if (!used) return ip;
        }
        return near | 0xfe;
    }
};

// Frames of a capture (--pcap), with where they enter.
std::optional<std::vector<input>> read_pcap(const world& w, const options& o) {
    const auto bytes = fp::io::read_file(o.pcap);
    if (!bytes) {
        std::fprintf(stderr, "br_tun_demo: cannot read %s\n", o.pcap.c_str());
        return std::nullopt;
    }
    fp::io::pcap_reader r(*bytes);
    if (!r.ok()) {
        std::fprintf(stderr, "br_tun_demo: %s: %s\n", o.pcap.c_str(), fp::io::to_string(r.error()));
        return std::nullopt;
    }
    std::uint32_t in_port = patch_int;
    if (!o.in_port.empty() && o.in_port != "patch-int") {
        std::uint32_t n = 0;
        const auto [p, ec] = std::from_chars(o.in_port.data(), o.in_port.data() + o.in_port.size(), n);
        if (ec == std::errc{} && p == o.in_port.data() + o.in_port.size()) {
            in_port = n;
        } else if (const auto* node = w.c.find_node(o.in_port)) {
            const nt::tunnel_port* pick = nullptr;
            for (const auto& [k, t] : w.a->tunnels()) {
                if (t.remote_ip != node->ip) continue;
                const bool type_of_seg = [&] {
                    for (const auto& [id, lv] : w.a->local_vlans())
                        if (o.tun_id && lv.segment == *o.tun_id && lv.type == t.type) return true;
                    return false;
                }();
                if (!pick || type_of_seg) pick = &t;
            }
            if (!pick) {
                std::fprintf(stderr, "br_tun_demo: --in-port %s: no tunnel to that node on %s\n", o.in_port.c_str(),
                             w.local().name.c_str());
                return std::nullopt;
            }
            in_port = pick->ofport;
        } else {
            std::fprintf(stderr, "br_tun_demo: --in-port %s: not a port number, patch-int or a node of the cloud\n",
                         o.in_port.c_str());
            return std::nullopt;
        }
    }
    std::uint16_t tag = 0;
    if (!o.network.empty()) {
        tag = w.lvid(o.network);
        if (!tag) {
            std::fprintf(stderr, "br_tun_demo: --network %s: no local VLAN for it on %s\n", o.network.c_str(),
                         w.local().name.c_str());
            return std::nullopt;
        }
    }
    std::vector<input> v;
    std::optional<std::int64_t> t0;
    while (auto rec = r.next()) {
        if (!t0) t0 = rec->time_ns;
        input in;
        in.now_ms = 1000 + (rec->time_ns - *t0) / 1'000'000;
        const auto tun = demo::decapsulate(rec->data);
        if (tun && tun->dst_ip == w.local().ip) {
            in.bytes.assign(tun->inner.begin(), tun->inner.end());
            in.tun_id = tun->segment;
            const auto* t = w.tunnel_to(tun->type, tun->src_ip);
            if (t) {
                in.in_port = t->ofport;
            } else {
                in.skip = true;
                in.what = std::string(nt::to_string(tun->type)) + " packet from " + ip_str(tun->src_ip) +
                          ": no such tunnel port here";
            }
        } else {
            in.bytes.assign(rec->data.begin(), rec->data.end());
            in.in_port = in_port;
            in.tun_id = o.tun_id.value_or(0);
            if (tag && in.in_port == patch_int && in.bytes.size() >= 14 &&
                !(in.bytes[12] == 0x81 && in.bytes[13] == 0x00)) {
                const std::uint8_t t[4] = {0x81, 0x00, static_cast<std::uint8_t>(tag >> 8),
                                           static_cast<std::uint8_t>(tag)};
                in.bytes.insert(in.bytes.begin() + 12, t, t + 4);
            }
        }
        v.push_back(std::move(in));
    }
    if (!r.ok())
        std::fprintf(stderr, "br_tun_demo: %s: %s after %zu frames (using those)\n", o.pcap.c_str(),
                     fp::io::to_string(r.error()), v.size());
    return v;
}

// ---- describing frames --------------------------------------------------------------

std::string describe(const world& w, const std::uint8_t* data, std::size_t len, std::uint64_t tun_id, bool on_tunnel,
                     bool ips = true) {
    if (len < 14) return std::to_string(len) + "-byte runt";
    fp::flow_key k{};
    const auto l = fp::extract(data, len, k);
    std::string s;
    if (k.vlan_tci) s += "vlan " + std::to_string(k.vlan_tci & 0xfff) + " ";
    if (on_tunnel) s += "tun_id " + std::to_string(tun_id) + " ";
    if (l.l3_type == fp::proto::l3_kind::arp) {
        if (k.arp_op == 2)
            s += "ARP reply " + ip_str(k.arp_spa) + " is-at " + w.name(k.arp_sha) + " -> " + w.name(k.eth_dst);
        else
            s += "ARP who-has " + ip_str(k.arp_tpa) + " from " + w.name(k.eth_src);
    } else {
        s += w.name(k.eth_src) + " -> " + w.name(k.eth_dst);
        if (k.eth_type == 0x0800 && ips) s += " " + ip_str(k.nw_src) + " > " + ip_str(k.nw_dst);
    }
    return s;
}

std::string fit(std::string s, std::size_t n) {
    if (s.size() > n) s = s.substr(0, n - 2) + "..";
    return s;
}

const char* table_name(unsigned id) {
    switch (id) {
    case nt::local_switching: return "LOCAL_SWITCHING";
    case nt::dvr_process: return "DVR_PROCESS";
    case nt::patch_lv_to_tun: return "PATCH_LV_TO_TUN";
    case nt::gre_tun_to_lv: return "GRE_TUN_TO_LV";
    case nt::vxlan_tun_to_lv: return "VXLAN_TUN_TO_LV";
    case nt::geneve_tun_to_lv: return "GENEVE_TUN_TO_LV";
    case nt::dvr_not_learn: return "DVR_NOT_LEARN";
    case nt::learn_from_tun: return "LEARN_FROM_TUN";
    case nt::ucast_to_tun: return "UCAST_TO_TUN";
    case nt::arp_responder: return "ARP_RESPONDER";
    case nt::flood_to_tun: return "FLOOD_TO_TUN";
    }
    return "?";
}

// Writes a frame to a pcap the way the wire carries it (tunnel frames encapsulated).
void write_frame(const world& w, fp::io::pcap_writer& out, std::span<const std::uint8_t> frame, std::uint32_t port,
                 std::uint64_t tun_id, bool incoming, std::int64_t now_ms) {
    const std::int64_t t = pcap_epoch_ns + now_ms * 1'000'000;
    if (const auto* tp = w.tunnel(port)) {
        const std::uint32_t me = w.local().ip;
        out.write(
            demo::encapsulate(frame, tp->type, tun_id, incoming ? tp->remote_ip : me, incoming ? me : tp->remote_ip),
            t);
    } else {
        out.write(frame, t);
    }
}

int parse_args(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](std::string& dst) {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "br_tun_demo: %s needs a value\n%s", a.c_str(), usage_text);
                return false;
            }
            dst = argv[++i];
            return true;
        };
        std::string v;
        if (a == "-h" || a == "--help") {
            std::fputs(usage_text, stdout);
            return -1;
        } else if (a == "--cloud") {
            if (!value(o.cloud)) return usage_error;
            o.cloud_given = true;
        } else if (a == "--out") {
            if (!value(o.out)) return usage_error;
        } else if (a == "--pcap") {
            if (!value(o.pcap)) return usage_error;
        } else if (a == "--in-port") {
            if (!value(o.in_port)) return usage_error;
        } else if (a == "--network") {
            if (!value(o.network)) return usage_error;
        } else if (a == "--tun-id") {
            if (!value(v)) return usage_error;
            std::uint64_t n = 0;
            const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc{} || p != v.data() + v.size()) {
                std::fprintf(stderr, "br_tun_demo: --tun-id %s is not a number\n", v.c_str());
                return usage_error;
            }
            o.tun_id = n;
        } else if (a == "--seconds") {
            if (!value(v)) return usage_error;
            char* end = nullptr;
            o.seconds = std::strtod(v.c_str(), &end);
            if (end == v.c_str() || *end || !(o.seconds >= 0 && o.seconds <= 600)) {
                std::fprintf(stderr, "br_tun_demo: --seconds %s is not a number in 0..600\n", v.c_str());
                return usage_error;
            }
        } else {
            std::fprintf(stderr, "br_tun_demo: unknown argument '%s'\n%s", a.c_str(), usage_text);
            return usage_error;
        }
    }
    if (o.pcap.empty() && (!o.in_port.empty() || o.tun_id || !o.network.empty())) {
        std::fprintf(stderr, "br_tun_demo: --in-port, --tun-id and --network go with --pcap\n");
        return usage_error;
    }
    return ok;
}

} // namespace

int main(int argc, char** argv) {
    options o;
    if (const int rc = parse_args(argc, argv, o); rc != ok) return rc < 0 ? ok : rc;

    // ---- the cloud ----
    auto text = fp::io::read_file(o.cloud);
    if (!text && !o.cloud_given) {
        // An installed demo: the cloud file installed next to the binary.
        std::error_code ec;
        const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
        if (!ec) {
            const auto beside = (exe.parent_path() / "br_tun_demo.cloud").string();
            if ((text = fp::io::read_file(beside))) o.cloud = beside;
        }
    }
    if (!text) {
        std::fprintf(stderr, "br_tun_demo: cannot read cloud file %s\n", o.cloud.c_str());
        return failure;
    }
    std::vector<std::string> errors;
    auto parsed = demo::parse_cloud(o.cloud, std::string(text->begin(), text->end()), errors);
    if (!parsed) {
        for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
        std::fprintf(stderr, "br_tun_demo: %zu error%s in the cloud file; nothing was run\n", errors.size(),
                     errors.size() == 1 ? "" : "s");
        return cloud_error;
    }
    auto w = std::make_unique<world>();
    w->c = std::move(*parsed);
    for (const auto& v : w->c.vms) w->names[v.mac] = v.name;
    for (const auto& r : w->c.routers) w->names[r.mac] = "gw-" + r.network;
    for (const auto& n : w->c.nodes)
        if (n.dvr_mac) w->names[*n.dvr_mac] = "dvr-" + n.name;

    const auto& me = w->local();
    std::printf("flowpipe br-tun demo: %s (%s) from %s\n", me.name.c_str(), ip_str(me.ip).c_str(), o.cloud.c_str());
    std::printf("cloud: %zu nodes, %zu networks, %zu VMs; ARP responder on, DVR %s\n\n", w->c.nodes.size(),
                w->c.networks.size(), w->c.vms.size(), w->c.dvr() ? "on" : "off");
    if (!build(*w)) return failure;
    print_ports(*w);

    // ---- traffic ----
    std::vector<input> inputs;
    if (o.pcap.empty()) {
        inputs = generator(*w).run();
    } else {
        auto v = read_pcap(*w, o);
        if (!v) return failure;
        inputs = std::move(*v);
        for (auto& in : inputs)
            if (!in.skip)
                in.what = (in.in_port == patch_int ? "" : w->short_port(in.in_port) + " ") +
                          describe(*w, in.bytes.data(), in.bytes.size(), in.tun_id, in.in_port != patch_int, false);
    }
    std::error_code ec;
    const std::filesystem::path out_dir = o.out;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) {
        std::fprintf(stderr, "br_tun_demo: cannot create %s: %s\n", o.out.c_str(), ec.message().c_str());
        return failure;
    }
    {
        fp::io::pcap_writer in_pcap((out_dir / "input.pcap").string());
        if (!in_pcap.ok()) {
            std::fprintf(stderr, "br_tun_demo: cannot write %s\n", (out_dir / "input.pcap").c_str());
            return failure;
        }
        for (const auto& in : inputs) write_frame(*w, in_pcap, in.bytes, in.in_port, in.tun_id, true, in.now_ms);
    }

    // ---- one pass, frame by frame, as a switch sees them ----
    std::printf("\n%-3s %-44s %s\n", "#",
                o.pcap.empty() ? "frame in (all in input.pcap)" : ("frame in " + o.pcap).c_str(),
                "what came out where");
    std::map<std::uint32_t, std::vector<sent>> per_port;
    fp::burst_output out;
    std::int64_t now = 0;
    const std::size_t width = 44;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const input& in = inputs[i];
        std::string what = fit(in.what, width);
        if (in.skip) {
            std::printf("%-3zu %-*s not received (no such port)\n", i + 1, int(width), what.c_str());
            continue;
        }
        now = std::max(now, in.now_ms);
        std::vector<std::uint8_t> buf(headroom + in.bytes.size() + 64);
        std::memcpy(buf.data() + headroom, in.bytes.data(), in.bytes.size());
        fp::packet p;
        p.data = buf.data() + headroom;
        p.len = static_cast<std::uint32_t>(in.bytes.size());
        p.headroom = headroom;
        p.in_port = in.in_port;
        p.tun_id = in.tun_id;
        w->p.expire(now);
        w->p.run(std::span<fp::packet>(&p, 1), now, out);
        if (out.outputs().empty()) {
            std::printf("%-3zu %-*s dropped\n", i + 1, int(width), what.c_str());
            continue;
        }
        bool first = true;
        for (const auto& t : out.outputs()) {
            const bool tun = t.port != patch_int;
            std::printf("%-3s %-*s %-26s %s\n", first ? std::to_string(i + 1).c_str() : "", int(width),
                        first ? what.c_str() : "", (w->port_name(t.port) + ":").c_str(),
                        describe(*w, t.pkt.data, t.pkt.len, t.pkt.tun_id, tun).c_str());
            per_port[t.port].push_back(
                {std::vector<std::uint8_t>(t.pkt.data, t.pkt.data + t.pkt.len), t.pkt.tun_id, now});
            first = false;
        }
    }
    const auto& bc = out.counters();
    std::printf("\n%llu frames in: %llu sent out (flood copies included), %llu dropped (%llu too short for Ethernet)\n",
                static_cast<unsigned long long>(bc.received), static_cast<unsigned long long>(bc.transmitted),
                static_cast<unsigned long long>(bc.dropped), static_cast<unsigned long long>(bc.not_ethernet));

    // ---- pcaps ----
    std::printf("\npcap files in %s/ (tunnel traffic encapsulated as on the wire; tcpdump -nn -e -r FILE):\n",
                out_dir.c_str());
    std::printf("  %-24s %3zu frames  what entered br-tun\n", "input.pcap", inputs.size());
    for (const auto& [port, frames] : per_port) {
        const auto file = out_dir / w->port_file(port);
        fp::io::pcap_writer pw(file.string());
        if (!pw.ok()) {
            std::fprintf(stderr, "br_tun_demo: cannot write %s\n", file.c_str());
            return failure;
        }
        for (const auto& s : frames) write_frame(*w, pw, s.bytes, port, s.tun_id, false, s.now_ms);
        std::printf("  %-24s %3zu frames  sent on %s\n", w->port_file(port).c_str(), frames.size(),
                    w->port_name(port).c_str());
    }

    // ---- tables ----
    std::printf("\n%-5s %-17s %6s %8s %8s\n", "table", "", "flows", "lookups", "matched");
    std::vector<std::pair<unsigned, std::string>> rows;
    w->p.for_each_table([&](const auto& t) {
        char b[128];
        std::snprintf(b, sizeof b, "%-5u %-17s %6zu %8llu %8llu", t.id(), table_name(t.id()), t.size(),
                      static_cast<unsigned long long>(t.stats().lookups),
                      static_cast<unsigned long long>(t.stats().matched));
        rows.emplace_back(t.id(), b);
    });
    std::sort(rows.begin(), rows.end());
    for (const auto& r : rows) std::printf("%s\n", r.second.c_str());

    const std::int64_t dump_at = now + 1000;
    const char* notes[] = {"known unicast: l2pop flows (priority 2), learned flows (priority 1, hard_timeout=300)",
                           "ARP responder: one flow per remote IP", "flooding per local VLAN (DVR: no gateway ARP)"};
    int ni = 0;
    for (std::uint8_t id :
         {std::uint8_t{nt::ucast_to_tun}, std::uint8_t{nt::arp_responder}, std::uint8_t{nt::flood_to_tun}}) {
        std::printf("\ndump-flows table=%u  (%s)\n", id, notes[ni++]);
        w->p.for_each_table([&](const auto& t) {
            if (t.id() != id) return;
            std::string s;
            fp::ofctl::append_table_flows(s, t, dump_at);
            std::fputs(s.c_str(), stdout);
        });
    }

    // ---- throughput ----
    std::vector<std::size_t> live;
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (!inputs[i].skip) live.push_back(i);
    if (o.seconds > 0 && !live.empty()) {
        constexpr std::size_t burst = 32;
        const std::size_t slot = 2048 + headroom;
        std::vector<std::uint8_t> pristine(live.size() * slot), bufs(live.size() * slot);
        std::vector<fp::packet> templ(live.size()), pkts(live.size());
        for (std::size_t j = 0; j < live.size(); ++j) {
            const input& in = inputs[live[j]];
            const std::size_t len = std::min<std::size_t>(in.bytes.size(), 2048);
            std::memcpy(pristine.data() + j * slot + headroom, in.bytes.data(), len);
            templ[j].len = static_cast<std::uint32_t>(len);
            templ[j].headroom = headroom;
            templ[j].in_port = in.in_port;
            templ[j].tun_id = in.tun_id;
            templ[j].cookie = j;
        }
        std::uint64_t packets = 0;
        double secs = 0;
        const auto start = std::chrono::steady_clock::now();
        while (secs < o.seconds) {
            for (int rep = 0; rep < 64; ++rep)
                for (std::size_t b = 0; b < live.size(); b += burst) {
                    const std::size_t n = std::min(burst, live.size() - b);
                    // restore the frames as received: the pipeline rewrites them in place
                    for (std::size_t j = b; j < b + n; ++j) {
                        std::memcpy(bufs.data() + j * slot, pristine.data() + j * slot, headroom + templ[j].len);
                        pkts[j] = templ[j];
                        pkts[j].data = bufs.data() + j * slot + headroom;
                    }
                    w->p.run(std::span<fp::packet>(pkts.data() + b, n), now, out);
                    packets += n;
                }
            secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }
        std::printf("\nthroughput: %.2f Mpps on one core: these %zu frames over and over in bursts of up to %zu,\n"
                    "            frames restored before each burst (copy included); %llu packets in %.2f s\n",
                    static_cast<double>(packets) / secs / 1e6, live.size(), burst,
                    static_cast<unsigned long long>(packets), secs);
    }
    return ok;
}
