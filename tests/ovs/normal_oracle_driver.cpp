// The flowpipe side of the NORMAL oracle (tests/ovs/normal_oracle.py runs the
// same frames through a real ovs-vswitchd and compares).
//
//   normal_oracle_driver SCENARIO RESULT
//
// SCENARIO, written by normal_oracle.py, one directive a line:
//   port N access TAG | port N trunk [V,V,...]   the bridge's ports (N = local: OFPP_LOCAL)
//   case NAME MAX_ENTRIES IDLE_S                 a fresh MAC table with this configuration
//   step DT_S IN_PORT HEX                        DT_S seconds later, frame HEX arrives on IN_PORT
// For each step RESULT gets "step I", one "tx PORT HEX" per frame sent
// (sorted), "fdb PORT VLAN MAC AGE" per MAC table entry, least recently used
// first, and "stats SIZE learned N expired N evicted N moved N" (counts since
// the case began): the same lines normal_oracle.py builds from Open vSwitch's
// tx_pcap files, `ovs-appctl fdb/show` and `fdb/stats-show`.
//
// The frames run through a generic pipeline whose only flow is
// `actions=NORMAL`, as the Open vSwitch bridge has; the clock is the step
// times in milliseconds, whole seconds apart, as time/warp moves Open
// vSwitch's.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <flowpipe/action/normal.hpp>
#include <flowpipe/core/packet.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>

using namespace flowpipe;

namespace {

struct port_spec {
    std::uint32_t number;
    bool access;
    std::uint16_t tag;
    std::vector<std::uint16_t> trunks; // empty: all VLANs
};

std::string port_name(std::uint32_t p) { return p == ports::local ? "LOCAL" : std::to_string(p); }

std::string hex(const std::uint8_t* d, std::size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    s.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        s += digits[d[i] >> 4];
        s += digits[d[i] & 15];
    }
    return s;
}

bool unhex(const std::string& s, std::vector<std::uint8_t>& out) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    if (s.size() % 2 != 0) return false;
    out.clear();
    for (std::size_t i = 0; i < s.size(); i += 2) {
        const int hi = nibble(s[i]), lo = nibble(s[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
    }
    return true;
}

std::string mac_text(std::uint64_t m) {
    char b[18];
    std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(m >> 40 & 255), unsigned(m >> 32 & 255),
                  unsigned(m >> 24 & 255), unsigned(m >> 16 & 255), unsigned(m >> 8 & 255), unsigned(m & 255));
    return b;
}

// One case: a bridge with the scenario's ports and a fresh MAC table.
struct bridge {
    l2_switch sw;
    generic_pipeline p;
    burst_output out;
    bridge(const l2_switch::config& c, const std::vector<port_spec>& ports) : sw(c) {
        for (const port_spec& s : ports) {
            const bool ok = s.access ? sw.add_access_port(s.number, s.tag)
                                     : sw.add_trunk_port(s.number, std::span<const std::uint16_t>(s.trunks));
            if (!ok) std::cerr << "port " << port_name(s.number) << " refused\n";
        }
        if (!p.add(0, match{}, 0, {actions::normal{&sw}}, {}, 0)) std::cerr << "the NORMAL flow was refused\n";
    }
};

int run(const std::string& scenario, const std::string& result) {
    std::ifstream in(scenario);
    if (!in) {
        std::cerr << scenario << ": cannot read\n";
        return 1;
    }
    std::ofstream o(result);
    std::vector<port_spec> ports;
    std::unique_ptr<bridge> br;
    std::int64_t now_ms = 1'000'000; // any start; steps move it by whole seconds
    std::vector<std::uint8_t> frame;
    alignas(64) static std::uint8_t buf[64 + 2048];
    std::string line;
    std::size_t step = 0, lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        std::istringstream ls(line);
        std::string what;
        ls >> what;
        if (what == "port") {
            port_spec s{};
            std::string num, kind;
            ls >> num >> kind;
            s.number = num == "local" ? ports::local : static_cast<std::uint32_t>(std::stoul(num));
            s.access = kind == "access";
            if (s.access) {
                ls >> s.tag;
            } else {
                std::string list;
                if (ls >> list) {
                    std::replace(list.begin(), list.end(), ',', ' ');
                    std::istringstream vs(list);
                    for (std::uint16_t v; vs >> v;) s.trunks.push_back(v);
                }
            }
            ports.push_back(s);
        } else if (what == "case") {
            std::string name;
            l2_switch::config c;
            ls >> name >> c.max_entries >> c.idle_time_s;
            br = std::make_unique<bridge>(c, ports);
        } else if (what == "step") {
            std::int64_t dt;
            std::string in_port, h;
            ls >> dt >> in_port >> h;
            if (!br || !unhex(h, frame) || frame.size() > 2048) {
                std::cerr << scenario << ":" << lineno << ": bad step\n";
                return 1;
            }
            now_ms += dt * 1000;
            std::copy(frame.begin(), frame.end(), buf + 64);
            packet pkt;
            pkt.data = buf + 64;
            pkt.len = static_cast<std::uint32_t>(frame.size());
            pkt.headroom = 64;
            pkt.in_port = in_port == "LOCAL" ? ports::local : static_cast<std::uint32_t>(std::stoul(in_port));
            br->out = burst_output{};
            br->p.run(std::span<packet>(&pkt, 1), now_ms, br->out);
            std::vector<std::pair<std::uint32_t, std::string>> tx;
            for (const auto& t : br->out.outputs()) tx.emplace_back(t.port, hex(t.pkt.data, t.pkt.len));
            std::sort(tx.begin(), tx.end());
            o << "step " << step++ << "\n";
            for (const auto& [port, bytes] : tx) o << "tx " << port_name(port) << " " << bytes << "\n";
            br->sw.for_each_mac(
                now_ms, [&](std::uint64_t mac, std::uint16_t vlan, std::uint32_t port, std::int64_t age) {
                    o << "fdb " << port_name(port) << " " << vlan << " " << mac_text(mac) << " " << age << "\n";
                });
            const l2_switch::stats_t& st = br->sw.stats();
            o << "stats " << br->sw.size() << " learned " << st.learned << " expired " << st.expired << " evicted "
              << st.evicted << " moved " << st.moved << "\n";
        } else if (!what.empty()) {
            std::cerr << scenario << ":" << lineno << ": unknown directive " << what << "\n";
            return 1;
        }
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: normal_oracle_driver SCENARIO RESULT\n";
        return 2;
    }
    return run(argv[1], argv[2]);
}
