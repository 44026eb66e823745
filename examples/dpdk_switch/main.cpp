// dpdk_switch: the example DPDK switch. One bridge of the switch core
// (examples/switch/bridge.hpp) over DPDK ethdev ports, on one core: the
// Neutron br-tun preset with VM ports and an underlay port, or the flows of
// an ovs-ofctl add-flows file over plain ports; a Unix control socket
// (socat - UNIX-CONNECT:PATH) for flow mods, dump-flows, l2pop fdb entries
// and counters. docs/dpdk-switch.md has every argument and command.
//
//   dpdk_switch <EAL args> -- <own args>
//
// The one idea for scripts: every failure before the loop is one line on
// stderr and a non-zero exit (2: bad arguments, 1: EAL, ports, files); once
// the ports are started and the control socket listens it prints "ready";
// --duration / --packets end it, as do SIGINT, SIGTERM and the `stop`
// command; at the end it prints `show` (one `key value` a line) and stops
// the devices (net_pcap writes its files then).
#include "dpdk_port.hpp"
#include "switch/bridge.hpp"
#include "switch/control_socket.hpp"

#if FLOWPIPE_DPDK_SWITCH_XDP
#include "af_xdp/xdp_port.hpp"
#endif

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace fp = flowpipe;
namespace fx = flowpipe::examples;
namespace nt = flowpipe::neutron;

namespace {

enum exit_code { ok = 0, failure = 1, usage_error = 2 };

#if FLOWPIPE_DPDK_SWITCH_XDP
using bridge = fx::bridge<fx::dpdk_port, fx::xdp_port>;
#else
using bridge = fx::bridge<fx::dpdk_port>;
#endif

const char* usage_text =
    "usage: dpdk_switch <EAL args> -- (--neutron | --flows FILE) [options]\n"
    "\n"
    "EAL args as DPDK takes them, e.g. -l 0 --no-huge -m 512 --no-pci --no-shconf --file-prefix sw1\n"
    "  --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap --vdev net_af_packet0,iface=veth0\n"
    "\n"
    "  --neutron                      the Neutron br-tun preset (VM ports, underlay, l2pop over the control socket)\n"
    "  --flows FILE                   a generic pipeline with the flows of FILE (ovs-ofctl add-flows syntax)\n"
    "  --local-ip IP                  this host's tunnel endpoint (neutron; the underlay's ip= must agree)\n"
    "  --network NET_ID,TYPE,SEGMENT  a tenant network (neutron; TYPE vxlan, geneve or gre; repeatable)\n"
    "  --vm-port NAME,ofport=N,net=NET_ID   DPDK port NAME as the access port of a network (neutron)\n"
#if FLOWPIPE_DPDK_SWITCH_XDP
    "  --xdp-vm-port IFACE,ofport=N,net=NET_ID   an AF_XDP socket on IFACE as a VM port (neutron)\n"
#endif
    "  --underlay NAME,ip=IP,mac=MAC,next-hop-mac=MAC   DPDK port NAME carries the tunnels\n"
    "  --port NAME,ofport=N           DPDK port NAME as OpenFlow port N (flows)\n"
    "  --tunnel OFPORT,KIND,REMOTE_IP a tunnel port over the underlay (flows; KIND vxlan, geneve or gre)\n"
    "  --control PATH                 the control socket (one command a line; see docs/dpdk-switch.md)\n"
    "  --pipeline generic|br-tun      flows mode: a generic pipeline (default), or br-tun's typed tables holding\n"
    "                                 the flows of FILE (each must fit a br-tun table)\n"
    "  --flow-cache N                 exact-match flow cache entries in front of the tables (default 8192; 0: none)\n"
    "  --paused                       do not poll the ports until the control command `resume`\n"
    "  --duration S                   stop after S seconds of polling (from `resume` with --paused)\n"
    "  --packets N                    stop once N frames were received\n"
    "  --help                         this text\n";

struct vm_port_arg {
    std::string name;
    std::uint32_t ofport = 0;
    std::string net;
    bool xdp = false;
};
struct port_arg {
    std::string name;
    std::uint32_t ofport = 0;
};
struct tunnel_arg {
    std::uint32_t ofport = 0;
    fp::io::tunnel_kind kind = fp::io::tunnel_kind::vxlan;
    std::uint32_t remote_ip = 0;
};
struct underlay_arg {
    std::string name;
    fx::underlay_options u;
};

struct options {
    bool neutron = false;
    std::string flows_file;
    std::string local_ip;
    std::vector<fx::network_options> networks;
    std::vector<vm_port_arg> vm_ports;
    std::vector<port_arg> ports;
    std::vector<tunnel_arg> tunnels;
    std::optional<underlay_arg> underlay;
    std::string control;
    bool paused = false;
    double duration = 0;
    std::uint64_t packets = 0;
    std::size_t flow_cache = 8192; // as Open vSwitch's EMC; --flow-cache 0 turns it off
    bool typed_br_tun = false;
};

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    while (true) {
        const std::size_t at = s.find(sep);
        out.push_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

template <class T>
bool parse_number(std::string_view s, T& out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
}

bool parse_ofport(std::string_view s, std::uint32_t& out) { return parse_number(s, out) && out > 0 && out < 0xff00; }

// NAME,key=value,... : the name, then every key must be one of `keys`.
std::optional<std::string> parse_spec(std::string_view arg, std::string_view opt, std::string& name,
                                      const std::vector<std::string_view>& keys,
                                      std::vector<std::pair<std::string_view, std::string_view>>& kv) {
    const auto parts = split(arg, ',');
    name = std::string(parts[0]);
    if (name.empty() || name.find('=') != std::string::npos)
        return std::string(opt) + ": the first item must be a name, got \"" + std::string(arg) + "\"";
    for (std::size_t i = 1; i < parts.size(); ++i) {
        const std::size_t eq = parts[i].find('=');
        const std::string_view k = parts[i].substr(0, eq);
        if (eq == std::string_view::npos || std::find(keys.begin(), keys.end(), k) == keys.end())
            return std::string(opt) + ": unknown item \"" + std::string(parts[i]) + "\"";
        for (const auto& [seen, v] : kv)
            if (seen == k) return std::string(opt) + ": " + std::string(k) + "= given twice";
        kv.emplace_back(k, parts[i].substr(eq + 1));
    }
    for (std::string_view k : keys) {
        bool found = false;
        for (const auto& [seen, v] : kv) found |= seen == k;
        if (!found) return std::string(opt) + " " + std::string(arg) + ": " + std::string(k) + "= is missing";
    }
    return std::nullopt;
}

std::string_view value_of(const std::vector<std::pair<std::string_view, std::string_view>>& kv, std::string_view k) {
    for (const auto& [key, v] : kv)
        if (key == k) return v;
    return {};
}

std::optional<std::string> parse_vm_port(std::string_view arg, std::string_view opt, bool xdp, options& o) {
    vm_port_arg v;
    std::vector<std::pair<std::string_view, std::string_view>> kv;
    if (auto e = parse_spec(arg, opt, v.name, {"ofport", "net"}, kv)) return e;
    if (!parse_ofport(value_of(kv, "ofport"), v.ofport))
        return std::string(opt) + ": ofport must be 1..65279, got \"" + std::string(value_of(kv, "ofport")) + "\"";
    v.net = std::string(value_of(kv, "net"));
    v.xdp = xdp;
    o.vm_ports.push_back(std::move(v));
    return std::nullopt;
}

std::optional<std::string> parse_args(int argc, char** argv, options& o) {
    std::vector<std::string_view> a(argv, argv + argc);
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string_view opt = a[i];
        auto value = [&]() -> std::optional<std::string_view> {
            if (i + 1 >= a.size()) return std::nullopt;
            return a[++i];
        };
        auto missing = [&] { return std::string(opt) + " needs a value"; };
        if (opt == "--neutron") {
            o.neutron = true;
        } else if (opt == "--paused") {
            o.paused = true;
        } else if (opt == "--flows") {
            auto v = value();
            if (!v) return missing();
            o.flows_file = std::string(*v);
        } else if (opt == "--local-ip") {
            auto v = value();
            if (!v) return missing();
            if (!nt::parse_ipv4(*v)) return "--local-ip: malformed IPv4 address \"" + std::string(*v) + "\"";
            o.local_ip = std::string(*v);
        } else if (opt == "--network") {
            auto v = value();
            if (!v) return missing();
            const auto parts = split(*v, ',');
            fx::network_options n;
            if (parts.size() != 3 || parts[0].empty())
                return "--network takes NET_ID,TYPE,SEGMENT, got \"" + std::string(*v) + "\"";
            n.id = std::string(parts[0]);
            n.type = std::string(parts[1]);
            if (n.type != "vxlan" && n.type != "geneve" && n.type != "gre")
                return "--network " + n.id + ": type must be vxlan, geneve or gre, got \"" + n.type + "\"";
            if (!parse_number(parts[2], n.segment) || n.segment == 0)
                return "--network " + n.id + ": segment must be a positive number, got \"" + std::string(parts[2]) +
                       "\"";
            o.networks.push_back(std::move(n));
        } else if (opt == "--vm-port" || opt == "--xdp-vm-port") {
#if !FLOWPIPE_DPDK_SWITCH_XDP
            if (opt == "--xdp-vm-port")
                return "--xdp-vm-port: this dpdk_switch was built without AF_XDP (examples/af_xdp and libxdp)";
#endif
            auto v = value();
            if (!v) return missing();
            if (auto e = parse_vm_port(*v, opt, opt == "--xdp-vm-port", o)) return e;
        } else if (opt == "--underlay") {
            auto v = value();
            if (!v) return missing();
            if (o.underlay) return "--underlay given twice";
            underlay_arg u;
            std::vector<std::pair<std::string_view, std::string_view>> kv;
            if (auto e = parse_spec(*v, opt, u.name, {"ip", "mac", "next-hop-mac"}, kv)) return e;
            const auto ip = nt::parse_ipv4(value_of(kv, "ip"));
            const auto mac = nt::parse_mac(value_of(kv, "mac"));
            const auto hop = nt::parse_mac(value_of(kv, "next-hop-mac"));
            if (!ip) return "--underlay: malformed ip \"" + std::string(value_of(kv, "ip")) + "\"";
            if (!mac) return "--underlay: malformed mac \"" + std::string(value_of(kv, "mac")) + "\"";
            if (!hop) return "--underlay: malformed next-hop-mac \"" + std::string(value_of(kv, "next-hop-mac")) + "\"";
            u.u = {*ip, *mac, *hop};
            o.underlay = std::move(u);
        } else if (opt == "--port") {
            auto v = value();
            if (!v) return missing();
            port_arg p;
            std::vector<std::pair<std::string_view, std::string_view>> kv;
            if (auto e = parse_spec(*v, opt, p.name, {"ofport"}, kv)) return e;
            if (!parse_ofport(value_of(kv, "ofport"), p.ofport))
                return "--port: ofport must be 1..65279, got \"" + std::string(value_of(kv, "ofport")) + "\"";
            o.ports.push_back(std::move(p));
        } else if (opt == "--tunnel") {
            auto v = value();
            if (!v) return missing();
            const auto parts = split(*v, ',');
            tunnel_arg t;
            if (parts.size() != 3) return "--tunnel takes OFPORT,KIND,REMOTE_IP, got \"" + std::string(*v) + "\"";
            if (!parse_ofport(parts[0], t.ofport))
                return "--tunnel: ofport must be 1..65279, got \"" + std::string(parts[0]) + "\"";
            if (parts[1] == "vxlan")
                t.kind = fp::io::tunnel_kind::vxlan;
            else if (parts[1] == "geneve")
                t.kind = fp::io::tunnel_kind::geneve;
            else if (parts[1] == "gre")
                t.kind = fp::io::tunnel_kind::gre;
            else
                return "--tunnel: kind must be vxlan, geneve or gre, got \"" + std::string(parts[1]) + "\"";
            const auto ip = nt::parse_ipv4(parts[2]);
            if (!ip) return "--tunnel: malformed remote IP \"" + std::string(parts[2]) + "\"";
            t.remote_ip = *ip;
            o.tunnels.push_back(t);
        } else if (opt == "--control") {
            auto v = value();
            if (!v) return missing();
            o.control = std::string(*v);
        } else if (opt == "--duration") {
            auto v = value();
            if (!v) return missing();
            char* end = nullptr;
            const std::string s(*v);
            o.duration = std::strtod(s.c_str(), &end);
            if (s.empty() || *end != '\0' || !(o.duration > 0))
                return "--duration must be a positive number of seconds, got \"" + s + "\"";
        } else if (opt == "--pipeline") {
            auto v = value();
            if (!v) return missing();
            if (*v == "br-tun")
                o.typed_br_tun = true;
            else if (*v != "generic")
                return "--pipeline takes generic or br-tun, got \"" + std::string(*v) + "\"";
        } else if (opt == "--flow-cache") {
            auto v = value();
            if (!v) return missing();
            if (!parse_number(*v, o.flow_cache) || o.flow_cache > (std::size_t{1} << 24))
                return "--flow-cache must be a number of entries up to 16777216, got \"" + std::string(*v) + "\"";
        } else if (opt == "--packets") {
            auto v = value();
            if (!v) return missing();
            if (!parse_number(*v, o.packets) || o.packets == 0)
                return "--packets must be a positive number, got \"" + std::string(*v) + "\"";
        } else {
            return "unknown argument \"" + std::string(opt) + "\" (--help lists them)";
        }
    }
    if (o.neutron == !o.flows_file.empty()) return "give exactly one of --neutron and --flows FILE";
    if (o.neutron) {
        if (!o.ports.empty() || !o.tunnels.empty())
            return "--port and --tunnel are for --flows; with --neutron use --vm-port and l2pop (add-fdb)";
        if (o.networks.empty()) return "--neutron needs at least one --network";
    } else {
        if (!o.vm_ports.empty() || !o.networks.empty())
            return "--vm-port and --network are for --neutron; with --flows use --port";
        if (!o.tunnels.empty() && !o.underlay) return "--tunnel needs --underlay";
    }
    if (o.typed_br_tun && o.neutron) return "--pipeline is for --flows (--neutron always runs br-tun's typed tables)";
    if (o.paused && o.control.empty()) return "--paused needs --control (resume is a control command)";
    return std::nullopt;
}

volatile std::sig_atomic_t stop_signal = 0;
extern "C" void on_signal(int) { stop_signal = 1; }

// Starts DPDK port `name` (one rx and one tx queue over `pool`) and makes a
// dpdk_port of it.
std::variant<fx::dpdk_port, std::string> start_port(const std::string& name, std::uint32_t ofport, rte_mempool* pool) {
    std::uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0)
        return "no DPDK port named \"" + name + "\" (ports come from the EAL's --vdev or PCI devices)";
    rte_eth_conf conf{};
    int rc = rte_eth_dev_configure(id, 1, 1, &conf);
    if (rc == 0)
        rc = rte_eth_rx_queue_setup(id, 0, 1024, static_cast<unsigned>(rte_eth_dev_socket_id(id)), nullptr, pool);
    if (rc == 0) rc = rte_eth_tx_queue_setup(id, 0, 1024, static_cast<unsigned>(rte_eth_dev_socket_id(id)), nullptr);
    if (rc == 0) rc = rte_eth_dev_start(id);
    if (rc != 0) return "port " + name + ": cannot start it: " + std::strerror(-rc);
    (void)rte_eth_promiscuous_enable(id); // not every vdev has the notion
    auto p = fx::dpdk_port::open({id, 0, ofport, pool});
    if (p.index() == 1) {
        (void)rte_eth_dev_stop(id);
        (void)rte_eth_dev_close(id);
    }
    return p;
}

} // namespace

int main(int argc, char** argv) {
    // Own arguments first: a bad one is reported before the EAL starts.
    int eal_argc = argc;
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--") == 0) {
            eal_argc = i;
            break;
        }
    for (int i = eal_argc == argc ? 1 : eal_argc + 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--help") == 0) {
            std::fputs(usage_text, stdout);
            return ok;
        }
    if (eal_argc == argc) {
        std::fprintf(stderr, "dpdk_switch: no \"--\" before the switch's own arguments (--help lists them)\n");
        return usage_error;
    }
    options o;
    if (auto e = parse_args(argc - eal_argc - 1, argv + eal_argc + 1, o)) {
        std::fprintf(stderr, "dpdk_switch: %s\n", e->c_str());
        return usage_error;
    }
    std::string flows_text;
    if (!o.flows_file.empty()) {
        std::ifstream in(o.flows_file);
        if (!in) {
            std::fprintf(stderr, "dpdk_switch: cannot read flows file %s\n", o.flows_file.c_str());
            return failure;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        flows_text = ss.str();
    }

    fx::bridge_options bo;
    bo.local_ip = o.local_ip;
    bo.networks = o.networks;
    bo.flow_cache = o.flow_cache;
    bo.typed_br_tun = o.typed_br_tun;
    auto made = o.neutron ? bridge::neutron(bo) : bridge::from_flows(bo, flows_text);
    if (made.index() == 1) {
        std::fprintf(stderr, "dpdk_switch: %s%s\n", o.neutron ? "" : (o.flows_file + ": ").c_str(),
                     std::get<1>(made).c_str());
        return o.neutron ? usage_error : failure;
    }
    bridge br = std::move(std::get<0>(made));

    if (rte_eal_init(eal_argc, argv) < 0) {
        std::fprintf(stderr, "dpdk_switch: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return failure;
    }
    int status = ok;
    std::vector<std::uint16_t> started;
    {
        auto fail = [&](const std::string& e) {
            std::fprintf(stderr, "dpdk_switch: %s\n", e.c_str());
            status = failure;
        };
        rte_mempool* pool = rte_pktmbuf_pool_create("flowpipe_mbufs", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                                    static_cast<int>(rte_socket_id()));
        if (pool == nullptr) fail(std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno));
        std::vector<std::string> names;
        auto add_dpdk = [&](const std::string& name, std::uint32_t ofport) -> std::optional<fx::dpdk_port> {
            if (std::find(names.begin(), names.end(), name) != names.end()) {
                fail("port " + name + " is given twice");
                return std::nullopt;
            }
            names.push_back(name);
            auto p = start_port(name, ofport, pool);
            if (p.index() == 1) {
                fail(std::get<1>(p));
                return std::nullopt;
            }
            started.push_back(std::get<0>(p).port_id());
            return std::move(std::get<0>(p));
        };
        for (const vm_port_arg& v : o.vm_ports) {
            if (status != ok) break;
            if (v.xdp) {
#if FLOWPIPE_DPDK_SWITCH_XDP
                auto x = fx::xdp_port::open(v.name, 0, v.ofport);
                if (x.index() == 1) {
                    fail("--xdp-vm-port " + v.name + ": " + std::get<1>(x));
                    break;
                }
                if (auto e = br.add_vm_port(v.ofport, v.name, std::move(std::get<0>(x)), v.net))
                    fail("--xdp-vm-port " + v.name + ": " + *e);
#endif
                continue;
            }
            auto p = add_dpdk(v.name, v.ofport);
            if (!p) break;
            if (auto e = br.add_vm_port(v.ofport, v.name, std::move(*p), v.net))
                fail("--vm-port " + v.name + ": " + *e);
        }
        for (const port_arg& a : o.ports) {
            if (status != ok) break;
            auto p = add_dpdk(a.name, a.ofport);
            if (!p) break;
            if (auto e = br.add_port(a.ofport, a.name, std::move(*p))) fail("--port " + a.name + ": " + *e);
        }
        if (status == ok && o.underlay) {
            if (auto p = add_dpdk(o.underlay->name, 0)) {
                if (auto e = br.set_underlay(o.underlay->name, std::move(*p), o.underlay->u))
                    fail("--underlay " + o.underlay->name + ": " + *e);
            }
        }
        for (const tunnel_arg& t : o.tunnels) {
            if (status != ok) break;
            if (auto e = br.add_tunnel(t.ofport, t.kind, t.remote_ip))
                fail("--tunnel " + std::to_string(t.ofport) + ": " + *e);
        }
        std::optional<fx::control_socket> control;
        if (status == ok && !o.control.empty()) {
            auto c = fx::control_socket::open(o.control);
            if (c.index() == 1)
                fail("--control: " + std::get<1>(c));
            else
                control.emplace(std::move(std::get<0>(c)));
        }

        if (status == ok) {
            std::signal(SIGINT, on_signal);
            std::signal(SIGTERM, on_signal);
            std::printf("ready\n");
            std::fflush(stdout);

            using clock = std::chrono::steady_clock;
            const auto start = clock::now();
            const std::int64_t end_ms = o.duration > 0 ? static_cast<std::int64_t>(o.duration * 1000)
                                                       : std::numeric_limits<std::int64_t>::max();
            bool paused = o.paused, stop = false;
            std::uint64_t received = 0;
            std::int64_t next_control = 0;
            auto handle = [&](std::string_view line) -> std::string {
                const std::string_view cmd = fx::detail::trim(line);
                if (cmd == "resume") {
                    paused = false;
                    return "OK\n";
                }
                if (cmd == "stop") {
                    stop = true;
                    return "OK\n";
                }
                return br.execute(line);
            };
            // --duration counts polling time: from `resume` when started --paused.
            std::int64_t resumed_at = paused ? -1 : 0;
            while (!stop_signal && !stop) {
                const std::int64_t now =
                    std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count();
                if (!paused && resumed_at < 0) resumed_at = now;
                if (resumed_at >= 0 && now - resumed_at >= end_ms) break;
                std::size_t n = 0;
                if (!paused) {
                    n = br.poll(now);
                    received += n;
                    if (o.packets && received >= o.packets) break;
                }
                // The control socket between bursts, every millisecond at most.
                if (control && now >= next_control) {
                    control->poll(handle);
                    next_control = now + 1;
                }
                if (n == 0 && paused) rte_delay_us_sleep(200);
            }
            if (control) control->poll(handle); // answer what is pending
            std::string show = br.execute("show");
            // Before the "OK": mbufs not back in the pool (the drivers' rx
            // rings hold some; net_pcap holds none, so 0 there means no leak).
            show.insert(show.size() - 3, "dpdk.mbufs_in_use " + std::to_string(rte_mempool_in_use_count(pool)) + "\n");
            std::fputs(show.c_str(), stdout);
            std::fflush(stdout);
        }
    }
    for (std::uint16_t id : started) {
        (void)rte_eth_dev_stop(id);
        (void)rte_eth_dev_close(id);
    }
    // EAL leaves its (empty, with --no-shconf) runtime directory behind.
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    if (!runtime_dir.empty()) (void)::rmdir(runtime_dir.c_str());
    return status;
}
