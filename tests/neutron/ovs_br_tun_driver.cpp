// The flowpipe side of the Open vSwitch check of the Neutron preset
// (tests/neutron/ovs_br_tun.py runs Open vSwitch through tests/ovs/ovs_oracle.py).
//
//   ovs_br_tun_driver gen DIR      the agent-built br-tun (DVR, ARP responder,
//                                  l2pop) as add-flows text, and packets
//   ovs_br_tun_driver compare DIR  traces DIR/packets through the same preset
//                                  (typed pipeline, learning on) and compares
//                                  final packet and output ports with DIR/ovs
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <flowpipe/neutron/agent.hpp>
#include <flowpipe/neutron/dump.hpp>
#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/ofctl/trace.hpp>

namespace fp = flowpipe;
namespace nt = flowpipe::neutron;
namespace of = flowpipe::ofctl;

namespace {

// compute1 with DVR: net-a (vxlan 6, VLAN 2), net-b (vxlan 7, VLAN 3), net-c (gre 8, VLAN 4).
void build(nt::br_tun& p, nt::agent& a) {
    (void)p;
    auto must = [](nt::agent_status st) {
        if (!st) {
            std::cerr << "agent: " << st.what() << "\n";
            std::exit(1);
        }
    };
    must(a.set_patch_int(1));
    must(a.provision_local_vlan("net-a", "vxlan", 6, 2));
    must(a.provision_local_vlan("net-b", "vxlan", 7, 3));
    must(a.provision_local_vlan("net-c", "gre", 8, 4));
    must(a.add_fdb_entries(
        {{"net-a",
          {6,
           "vxlan",
           {{"10.0.1.39", {nt::flooding_entry, {"fa:16:3e:73:49:41", "81.1.180.9"}}},
            {"10.0.1.21", {nt::flooding_entry, {"fa:16:3e:87:40:f3", "81.1.180.1"}}}}}},
         {"net-b", {7, "vxlan", {{"10.0.1.40", {nt::flooding_entry, {"fa:16:3e:11:22:33", "10.7.0.4"}}}}}},
         {"net-c", {8, "gre", {{"10.0.1.39", {nt::flooding_entry, {"fa:16:3e:44:55:66", "10.8.0.9"}}}}}}}));
    must(a.add_dvr_mac("fa:16:3f:00:00:39"));
    must(a.add_dvr_router_interface("net-b", "fa:16:3e:00:b0:01", "10.7.0.1"));
}

std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> v;
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) v.push_back(l);
    return v;
}

std::string mac(std::uint64_t m) { return nt::format_mac(m); }

int gen(const std::string& dir) {
    nt::br_tun p;
    nt::agent a(p, {.local_ip = "10.0.1.31", .arp_responder = true, .dvr = true, .dvr_host_mac = "fa:16:3f:b2:34:82"});
    build(p, a);
    {
        std::ofstream o(dir + "/flows");
        o << nt::flows_text(p);
    }
    std::ofstream(dir + "/generate") << "1\n";
    std::vector<std::uint32_t> tuns;
    for (const auto& [k, t] : a.tunnels()) tuns.push_back(t.ofport);
    const std::uint64_t macs[] = {0xfa163e734941, 0xfa163e8740f3, 0xfa163e112233, 0xfa163e445566, 0xfa163e0000b1,
                                  0xfa163e0000b2, 0xfa163eb3e77a, 0xfa163e00b001, 0xfa163f000039};
    const std::uint32_t ips[] = {0x5101b409, 0x5101b401, 0x0a070004, 0x0a070001, 0x0a080009, 0x5101b463};
    std::mt19937_64 rng(11);
    std::ofstream pk(dir + "/packets");
    for (int i = 0; i < 400; ++i) {
        const bool from_tunnel = rng() % 2 == 0;
        std::string s = "in_port=";
        if (from_tunnel) {
            s += std::to_string(tuns[rng() % tuns.size()]);
            const unsigned seg[] = {6, 7, 8, 99};
            s += ",tun_id=" + std::to_string(seg[rng() % 4]);
        } else {
            s += "1";
            const unsigned vl[] = {2, 3, 4, 5};
            s += ",dl_vlan=" + std::to_string(vl[rng() % 4]);
        }
        const unsigned kind = static_cast<unsigned>(rng() % 6);
        std::uint64_t src = macs[rng() % 9], dst;
        switch (kind) {
        case 0:
        case 1: dst = macs[rng() % 9]; break;
        case 2: dst = 0xfa163e000000 | (rng() & 0xffffff); break;
        case 3: dst = 0x01005e000001; break;
        default: dst = 0xffffffffffff; break;
        }
        s += ",dl_src=" + mac(src) + ",dl_dst=" + mac(dst);
        if (kind >= 4)
            s += ",arp,arp_op=1,arp_sha=" + mac(src) + ",arp_spa=81.1.180.8,arp_tpa=" + nt::format_ipv4(ips[rng() % 6]);
        else
            s += ",ip,nw_src=81.1.180.8,nw_dst=81.1.180.9,nw_ttl=64";
        pk << s << "\n";
    }
    return 0;
}

int compare(const std::string& dir) {
    nt::br_tun p;
    nt::agent a(p, {.local_ip = "10.0.1.31", .arp_responder = true, .dvr = true, .dvr_host_mac = "fa:16:3f:b2:34:82"});
    build(p, a);
    const auto packets = lines_of(dir + "/packets");
    const auto ovs = lines_of(dir + "/ovs");
    if (ovs.size() != 2 * packets.size()) {
        std::cout << dir << ": DIR/ovs has " << ovs.size() << " lines for " << packets.size() << " packets\n";
        return 1;
    }
    std::size_t diffs = 0;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        auto k = of::parse_packet(packets[i]);
        if (!k) {
            std::cout << "cannot parse packet " << packets[i] << "\n";
            return 1;
        }
        const auto r = of::trace(p, *k, {.generate = true, .now_ms = 0});
        const std::string their_final = ovs[2 * i].substr(std::string("Final flow: ").size());
        const std::string their_out = ovs[2 * i + 1].substr(std::string("Output: ").size());
        auto tk = of::parse_packet(their_final, {.lenient = true});
        const std::string theirs = tk ? of::format_packet(*tk) : "(unparsable) " + their_final;
        const std::string ours = of::format_packet(r.final_key);
        if (theirs != ours || their_out != r.output_ports()) {
            if (++diffs <= 10)
                std::cout << "DIFF packet " << i + 1 << ": " << packets[i] << "\n  Open vSwitch: " << theirs << " -> "
                          << their_out << "\n  flowpipe:     " << ours << " -> " << r.output_ports() << "\n";
        }
    }
    std::cout << dir << ": " << packets.size() << " packets, " << diffs << " differences between the agent-built "
              << "preset and Open vSwitch\n";
    return diffs == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "gen" && argc == 3) return gen(argv[2]);
    if (cmd == "compare" && argc == 3) return compare(argv[2]);
    std::cerr << "usage: ovs_br_tun_driver gen DIR | compare DIR\n";
    return 2;
}
