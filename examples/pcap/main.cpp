// pcap_switch: a software switch on libpcap ports, live interfaces or pcap
// files, running flows given in ovs-ofctl add-flows syntax.
//
//   pcap_switch --flows FILE --port N=IFACE|N=RX.pcap:TX.pcap [--port ...]
//               [--duration SECONDS] [--packets N]
//
// The loop is the whole idea: poll each port for a burst, run the burst
// through one generic_pipeline, hand each output port its frames
// (io::transmit_or_release), give the rest back to the receiving port, and
// print every port's counters at exit. It stops on SIGINT/SIGTERM, after
// --duration, after --packets frames received, or when every port is a file
// port whose input is read to its end.
//
// A spec with a ':' names files (either side may be empty: `in.pcap:` only
// receives, `:out.pcap` only transmits); any other spec is an interface.
// Flows using NORMAL run on an L2 switch whose ports are the --port numbers,
// each a trunk of every VLAN.
//
// Exit status: 0 done; 1 a bad flows file (FILE:LINE:COL: reason), a port
// that cannot be opened, an input file that turned out corrupt, or a live
// interface that failed while running (it stops the switch); 2 bad
// arguments.
#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <flowpipe/action/normal.hpp>
#include <flowpipe/io/memory_port.hpp>
#include <flowpipe/io/port.hpp>
#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/pipeline/burst_output.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>

#include "pcap_port.hpp"

namespace fp = flowpipe;
namespace of = flowpipe::ofctl;
using fp::examples::pcap_port;

namespace {

std::atomic<bool> stop{false};
void on_signal(int) { stop = true; }

constexpr std::size_t burst_size = 32;

struct port_spec {
    std::uint32_t number = 0;
    std::string iface;            // live
    std::string rx_path, tx_path; // files
    bool files = false;
};

struct arguments {
    std::string flows;
    std::vector<port_spec> ports;
    double duration_s = 0;     // 0: no limit
    std::uint64_t packets = 0; // 0: no limit
};

int usage(const std::string& why) {
    if (!why.empty()) std::cerr << "pcap_switch: " << why << "\n";
    std::cerr << "usage: pcap_switch --flows FILE --port N=IFACE|N=RX.pcap:TX.pcap [--port ...]\n"
                 "                   [--duration SECONDS] [--packets N]\n";
    return 2;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

// Parses argv; an error is the message usage() prints.
std::variant<arguments, std::string> parse_arguments(int argc, char** argv) {
    arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string_view opt = argv[i];
        if (opt == "-h" || opt == "--help") return std::string();
        if (opt != "--flows" && opt != "--port" && opt != "--duration" && opt != "--packets")
            return "unknown argument '" + std::string(opt) + "'";
        if (i + 1 == argc) return std::string(opt) + " needs a value";
        const std::string value = argv[++i];
        if (opt == "--flows") {
            a.flows = value;
        } else if (opt == "--duration") {
            char* end = nullptr;
            a.duration_s = std::strtod(value.c_str(), &end);
            if (value.empty() || *end != '\0' || !(a.duration_s > 0) || a.duration_s > 1e6)
                return "--duration takes a positive number of seconds, not '" + value + "'";
        } else if (opt == "--packets") {
            if (!parse_u64(value, a.packets) || a.packets == 0)
                return "--packets takes a positive count, not '" + value + "'";
        } else {
            const std::size_t eq = value.find('=');
            std::uint64_t n = 0;
            if (eq == std::string::npos || !parse_u64(std::string_view(value).substr(0, eq), n) || n == 0 ||
                n >= 0xff00)
                return "--port takes N=IFACE or N=RX.pcap:TX.pcap with N in 1..65279, not '" + value + "'";
            port_spec p;
            p.number = static_cast<std::uint32_t>(n);
            const std::string spec = value.substr(eq + 1);
            if (const std::size_t colon = spec.find(':'); colon != std::string::npos) {
                p.files = true;
                p.rx_path = spec.substr(0, colon);
                p.tx_path = spec.substr(colon + 1);
                if (p.rx_path.empty() && p.tx_path.empty())
                    return "--port " + value + ": give an input file, an output file or both";
            } else {
                if (spec.empty()) return "--port " + value + ": no interface named";
                p.iface = spec;
            }
            for (const port_spec& q : a.ports)
                if (q.number == p.number) return "port " + std::to_string(n) + " given twice";
            a.ports.push_back(p);
        }
    }
    if (a.flows.empty()) return std::string("--flows FILE is required");
    if (a.ports.empty()) return std::string("at least one --port is required");
    return a;
}

// Loads the flows file into p; prints FILE:LINE:COL: reason and returns false
// on a bad one. NORMAL gets a switch over `ports`.
bool load_flows(const std::string& path, fp::generic_pipeline& p, const std::vector<port_spec>& ports,
                std::unique_ptr<fp::l2_switch>& normal) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << path << ": cannot read\n";
        return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    auto flows = of::parse_flows(text);
    if (!flows) {
        const auto& e = flows.error();
        std::cerr << path << ":" << e.line << ":" << e.column << ": " << e.message << "\n";
        return false;
    }
    normal = std::make_unique<fp::l2_switch>();
    for (const port_spec& s : ports) normal->add_trunk_port(s.number);
    of::bind_normal(*flows, normal.get());
    // The line of each flow, for refusals by the table.
    std::vector<std::size_t> lines;
    {
        std::size_t n = 0;
        std::istringstream ls(text);
        for (std::string l; std::getline(ls, l);) {
            ++n;
            const auto first = l.find_first_not_of(" \t\r");
            if (first != std::string::npos && l[first] != '#') lines.push_back(n);
        }
    }
    for (std::size_t i = 0; i < flows->size(); ++i) {
        const auto st = of::apply(p, (*flows)[i], 0);
        if (!st) {
            std::cerr << path << ":" << (i < lines.size() ? lines[i] : 0) << ": flow refused: " << st.what() << "\n";
            return false;
        }
    }
    return true;
}

void print_counters(const std::vector<pcap_port>& ports, const fp::burst_counters& c, std::uint64_t unknown) {
    for (const pcap_port& p : ports) {
        const auto& k = p.counters();
        std::cout << "port " << p.port() << " (" << p.name() << "): rx " << k.rx << " tx " << k.tx << " tx_errors "
                  << k.tx_errors << " truncated " << k.truncated << " rx_too_long " << k.rx_too_long << " rx_errors "
                  << k.rx_errors << "\n";
    }
    std::cout << "pipeline: received " << c.received << " transmitted " << c.transmitted << " dropped " << c.dropped
              << " malformed " << c.malformed << " not_ethernet " << c.not_ethernet << " to_unknown_port " << unknown
              << "\n";
}

} // namespace

int main(int argc, char** argv) {
    auto parsed = parse_arguments(argc, argv);
    if (auto* why = std::get_if<std::string>(&parsed)) return usage(*why);
    const arguments& args = std::get<arguments>(parsed);

    fp::generic_pipeline pipeline;
    std::unique_ptr<fp::l2_switch> normal;
    if (!load_flows(args.flows, pipeline, args.ports, normal)) return 1;

    // One pool for every port: a frame received on one port and transmitted
    // on another goes back to it there (pcap_port frees every buffer of its
    // pool it transmits). Each port holds at most a burst at a time.
    fp::io::buffer_pool pool(fp::io::buffer_pool::config{
        .count = static_cast<std::uint32_t>(2 * burst_size * args.ports.size()), .buffer_size = 2048, .headroom = 128});
    fp::examples::pcap_options options;
    options.shared_pool = &pool;
    std::vector<pcap_port> ports;
    ports.reserve(args.ports.size());
    for (const port_spec& s : args.ports) {
        auto r = s.files ? pcap_port::open_files(s.rx_path, s.tx_path, s.number, options)
                         : pcap_port::open_live(s.iface, s.number, options);
        if (auto* why = std::get_if<std::string>(&r)) {
            std::cerr << "pcap_switch: port " << s.number << ": " << *why << "\n";
            return 1;
        }
        ports.push_back(std::move(std::get<pcap_port>(r)));
    }
    // Output port number -> index in ports (ports 1..65279).
    std::vector<std::int32_t> index(0xff00, -1);
    for (std::size_t i = 0; i < ports.size(); ++i) index[ports[i].port()] = static_cast<std::int32_t>(i);
    std::vector<pollfd> fds;
    for (const pcap_port& p : ports)
        if (p.live()) fds.push_back(pollfd{p.selectable_fd(), POLLIN, 0});

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    fp::burst_output out;
    std::array<fp::packet, burst_size> burst;
    std::uint64_t received = 0, unknown = 0;
    const auto start = std::chrono::steady_clock::now();
    std::int64_t last_expire_ms = 0;
    while (!stop) {
        const std::int64_t now_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        if (args.duration_s > 0 && static_cast<double>(now_ms) >= args.duration_s * 1000) break;
        bool any = false;
        for (pcap_port& in : ports) {
            // With --packets, never more than the frames still wanted.
            const std::size_t want =
                args.packets == 0 ? burst.size() : std::min<std::uint64_t>(burst.size(), args.packets - received);
            const std::size_t n = in.receive(std::span<fp::packet>(burst.data(), want));
            if (n == 0 && in.live() && in.counters().rx_errors != 0) stop = true; // the interface is gone or down
            if (n == 0) continue;
            any = true;
            received += n;
            pipeline.run(std::span<fp::packet>(burst.data(), n), now_ms, out);
            out.for_each_port([&](std::uint32_t port, std::span<const fp::packet> frames) {
                const std::int32_t i = port < index.size() ? index[port] : -1;
                if (i >= 0) {
                    fp::io::transmit_or_release(ports[static_cast<std::size_t>(i)], in, frames);
                } else {
                    unknown += frames.size();
                    in.release(frames);
                }
            });
            in.release(out.dropped());
            if (args.packets != 0 && received == args.packets) break;
        }
        if (args.packets != 0 && received == args.packets) break;
        if (now_ms - last_expire_ms >= 1000) {
            pipeline.expire(now_ms);
            last_expire_ms = now_ms;
        }
        if (any) continue;
        if (fds.empty()) {
            // Only file ports: done when every input is read to its end.
            if (std::all_of(ports.begin(), ports.end(), [](const pcap_port& p) { return p.exhausted(); })) break;
        } else {
            poll(fds.data(), fds.size(), 10);
        }
    }

    int status = 0;
    for (pcap_port& p : ports) {
        p.flush();
        if (p.counters().rx_errors != 0) {
            std::cerr << "pcap_switch: port " << p.port() << " (" << p.name() << "): read error: " << p.error_text()
                      << "\n";
            status = 1;
        }
    }
    print_counters(ports, out.counters(), unknown);
    return status;
}
