// flowpipe-ofctl: Open vSwitch's debugging habits on a flowpipe pipeline.
//
//   flowpipe-ofctl trace FLOWS_FILE 'PACKET' [--generate]
//       loads FLOWS_FILE (ovs-ofctl add-flows syntax) into a generic
//       pipeline and traces PACKET (ofproto/trace syntax) through it; with
//       --generate, learn actions run and every table is dumped afterwards.
//   flowpipe-ofctl dump-flows FLOWS_FILE [--replay PCAP --in-port N]
//       loads FLOWS_FILE, replays the frames of PCAP (received on port N)
//       through the pipeline and prints dump-flows with the counters.
//   flowpipe-ofctl trace-batch FLOWS_FILE PACKETS_FILE [--generate]
//       one trace per line of PACKETS_FILE, each reduced to its
//       "Final flow:" and "Output:" lines (what tests/ovs compares).
//
// A bad flows file is rejected with its line, column and reason; exit 1.
//
// NORMAL: flowpipe's generic pipeline has no ports, VLANs or MAC table of
// its own; NORMAL runs on an l2_switch the embedder owns (action/normal.hpp).
// When the flows use it, this tool makes one whose ports are every port
// number the flows (in_port=, output:) and the traced packet name, each a
// trunk of every VLAN (an Open vSwitch port with no tag), says so on
// stderr, and binds it (ofctl::bind_normal).
#include <algorithm>
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
#include <flowpipe/io/pcap.hpp>
#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/ofctl/print.hpp>
#include <flowpipe/ofctl/trace.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>

namespace fp = flowpipe;
namespace of = flowpipe::ofctl;

namespace {

int usage() {
    std::cerr << "usage: flowpipe-ofctl trace FLOWS_FILE 'PACKET' [--generate]\n"
                 "       flowpipe-ofctl dump-flows FLOWS_FILE [--replay PCAP --in-port N]\n"
                 "       flowpipe-ofctl trace-batch FLOWS_FILE PACKETS_FILE [--generate]\n";
    return 2;
}

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

// The switch NORMAL runs on, when the flows use it.
std::unique_ptr<fp::l2_switch> normal_switch;

void bind_normal(std::vector<of::flow_mod>& flows, std::vector<std::uint32_t> ports) {
    bool uses = false;
    for (const auto& f : flows)
        for (const auto& a : f.actions.list) uses |= std::holds_alternative<fp::actions::normal>(a);
    if (!uses) return;
    for (const auto& f : flows) {
        if (f.m.mask_of(fp::field_id::in_port) != 0) ports.push_back(static_cast<std::uint32_t>(f.m.value.in_port));
        for (const auto& a : f.actions.list)
            if (const auto* o = std::get_if<fp::actions::output>(&a)) ports.push_back(o->port);
    }
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    normal_switch = std::make_unique<fp::l2_switch>();
    std::string list;
    for (std::uint32_t port : ports) {
        if (port == 0 || port >= 0xff00) continue;
        normal_switch->add_trunk_port(port);
        list += (list.empty() ? "" : ",") + std::to_string(port);
    }
    std::cerr << "flowpipe-ofctl: NORMAL needs an L2 switch, which a generic pipeline does not have: this tool "
                 "made one with ports "
              << (list.empty() ? "(none)" : list) << ", each a trunk of every VLAN\n";
    of::bind_normal(flows, normal_switch.get());
}

// Loads a flows file into p; prints the error and returns false on a bad one.
// `ports`: port numbers NORMAL's switch must have besides those the flows name.
bool load_flows(const std::string& path, fp::generic_pipeline& p, std::int64_t now_ms,
                std::vector<std::uint32_t> ports = {}) {
    std::string text;
    if (!read_file(path, text)) {
        std::cerr << path << ": cannot read\n";
        return false;
    }
    auto flows = of::parse_flows(text);
    if (!flows) {
        std::cerr << path << ":" << flows.error().line << ":" << flows.error().column << ": " << flows.error().message
                  << "\n";
        return false;
    }
    bind_normal(*flows, std::move(ports));
    // Line numbers of the flows, for install errors.
    std::vector<std::size_t> lines;
    {
        std::size_t n = 0;
        std::istringstream ss(text);
        for (std::string l; std::getline(ss, l);) {
            ++n;
            const auto first = l.find_first_not_of(" \t\r");
            if (first != std::string::npos && l[first] != '#') lines.push_back(n);
        }
    }
    for (std::size_t i = 0; i < flows->size(); ++i) {
        const auto st = of::apply(p, (*flows)[i], now_ms);
        if (!st) {
            std::cerr << path << ":" << (i < lines.size() ? lines[i] : 0) << ": flow refused: " << st.what() << "\n";
            return false;
        }
    }
    return true;
}

int cmd_trace(int argc, char** argv) {
    if (argc < 4) return usage();
    bool generate = false;
    for (int i = 4; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--generate" || std::string_view(argv[i]) == "-generate")
            generate = true;
        else
            return usage();
    }
    auto key = of::parse_packet(argv[3]);
    if (!key) {
        std::cerr << "bad packet: " << of::to_string(key.error()) << "\n";
        return 1;
    }
    fp::generic_pipeline p;
    if (!load_flows(argv[2], p, 0, {key->in_port})) return 1;
    const auto r = of::trace(p, *key, {generate, 0, 60});
    std::cout << r.text;
    if (generate) std::cout << "\n" << of::dump_flows(p, 0);
    return 0;
}

int cmd_trace_batch(int argc, char** argv) {
    if (argc < 4) return usage();
    const bool generate = argc > 4 && std::string_view(argv[4]).find("generate") != std::string_view::npos;
    fp::generic_pipeline p;
    if (!load_flows(argv[2], p, 0)) return 1;
    std::ifstream in(argv[3]);
    if (!in) {
        std::cerr << argv[3] << ": cannot read\n";
        return 1;
    }
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) {
        ++n;
        if (line.empty() || line[0] == '#') continue;
        auto key = of::parse_packet(line);
        if (!key) {
            std::cerr << argv[3] << ":" << n << ": " << of::to_string(key.error()) << "\n";
            return 1;
        }
        const auto r = of::trace(p, *key, {generate, 0, 60});
        std::cout << "Final flow: " << of::format_packet(r.final_key) << "\nOutput: " << r.output_ports() << "\n";
    }
    return 0;
}

int cmd_dump_flows(int argc, char** argv) {
    if (argc < 3) return usage();
    std::string pcap;
    std::uint32_t in_port = 1;
    for (int i = 3; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--replay" && i + 1 < argc) {
            pcap = argv[++i];
        } else if (a == "--in-port" && i + 1 < argc) {
            const auto port = of::parse_port(argv[++i]);
            if (!port) return usage();
            in_port = *port;
        } else {
            return usage();
        }
    }
    fp::generic_pipeline p;
    if (!load_flows(argv[2], p, 0)) return 1;
    std::int64_t now_ms = 0;
    if (!pcap.empty()) {
        std::string bytes;
        if (!read_file(pcap, bytes)) {
            std::cerr << pcap << ": cannot read\n";
            return 1;
        }
        const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
        fp::io::pcap_reader reader({data, bytes.size()});
        std::vector<std::vector<std::uint8_t>> frames;
        std::vector<fp::packet> burst;
        fp::burst_output out;
        std::int64_t first_ns = -1;
        auto flush = [&] {
            if (burst.empty()) return;
            p.run(burst, now_ms, out);
            burst.clear();
            frames.clear();
        };
        constexpr std::uint32_t headroom = 64;
        while (auto rec = reader.next()) {
            if (first_ns < 0) first_ns = rec->time_ns;
            const std::int64_t t = (rec->time_ns - first_ns) / 1'000'000;
            if (t != now_ms || burst.size() == 32) flush();
            now_ms = t;
            std::vector<std::uint8_t> buf(headroom + rec->data.size());
            std::copy(rec->data.begin(), rec->data.end(), buf.begin() + headroom);
            frames.push_back(std::move(buf));
            fp::packet pk;
            pk.data = frames.back().data() + headroom;
            pk.len = static_cast<std::uint32_t>(rec->data.size());
            pk.headroom = headroom;
            pk.in_port = in_port;
            burst.push_back(pk);
        }
        flush();
        if (!reader.ok()) {
            std::cerr << pcap << ": " << fp::io::to_string(reader.error()) << "\n";
            return 1;
        }
    }
    std::cout << of::dump_flows(p, now_ms);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    const std::string_view cmd = argv[1];
    if (cmd == "trace") return cmd_trace(argc, argv);
    if (cmd == "trace-batch") return cmd_trace_batch(argc, argv);
    if (cmd == "dump-flows") return cmd_dump_flows(argc, argv);
    return usage();
}
