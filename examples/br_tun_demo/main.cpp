// br_tun_demo: the Neutron tunnel bridge of one compute node on real frames.
//
// compute1 (10.0.1.31) has VMs on two tenant networks behind patch-int and
// tunnels to compute2 (10.0.1.39) and the network node (10.0.1.21). The
// demo installs the flows Neutron's agent would (l2pop unicast and ARP
// responder entries, flood lists), builds a burst of realistic frames (ARP
// requests, VM-to-VM unicast both ways, broadcast, unknown MACs, a wrong
// tunnel id, a truncated frame), runs it through the typed br-tun pipeline,
// writes what went out of each port as pcap files, prints where each frame
// went and the tables' counters, and measures packets per second.
//
//   br_tun_demo [OUTPUT_DIR]     (default: br_tun_demo_out)
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/io/pcap.hpp>
#include <flowpipe/neutron/br_tun.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace fp = flowpipe;
namespace nt = flowpipe::neutron;

namespace {

constexpr std::uint32_t patch_int = 1, to_compute2 = 2, to_network = 3;

struct network {
    const char* name;
    std::uint64_t segment;
    std::uint16_t lvid;
};
constexpr network net_a{"tenant-a", 6, 2}, net_b{"tenant-b", 7, 3};

struct vm {
    const char* name;
    std::uint64_t mac;
    std::uint32_t ip;
    const network* net;
    std::uint32_t host_port; // patch_int when local, else the tunnel to its host
};

constexpr std::uint32_t ip4(int a, int b, int c, int d) {
    return static_cast<std::uint32_t>(a << 24 | b << 16 | c << 8 | d);
}

const vm vms[] = {
    {"vm1 (compute1)", 0xfa163eb3e77aULL, ip4(81, 1, 180, 8), &net_a, patch_int},
    {"vm2 (compute2)", 0xfa163e734941ULL, ip4(81, 1, 180, 9), &net_a, to_compute2},
    {"router (network node)", 0xfa163e8740f3ULL, ip4(81, 1, 180, 1), &net_a, to_network},
    {"vm3 (compute1)", 0xfa163e111111ULL, ip4(10, 7, 0, 3), &net_b, patch_int},
    {"vm4 (compute2)", 0xfa163e222222ULL, ip4(10, 7, 0, 4), &net_b, to_compute2},
};
const vm& vm1 = vms[0];
const vm& vm2 = vms[1];
const vm& router = vms[2];
const vm& vm3 = vms[3];
const vm& vm4 = vms[4];

std::string mac_str(std::uint64_t m) {
    char b[18];
    std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(m >> 40 & 0xff), unsigned(m >> 32 & 0xff),
                  unsigned(m >> 24 & 0xff), unsigned(m >> 16 & 0xff), unsigned(m >> 8 & 0xff), unsigned(m & 0xff));
    return b;
}
std::string ip_str(std::uint32_t ip) {
    char b[16];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 0xff, ip >> 8 & 0xff, ip & 0xff);
    return b;
}
const char* port_name(std::uint32_t p) {
    switch (p) {
    case patch_int: return "patch-int";
    case to_compute2: return "vxlan-0a000127 (compute2)";
    case to_network: return "vxlan-0a000115 (network)";
    }
    return "?";
}

// What Neutron's agent installs on compute1 for these networks and ports.
void install_flows(nt::br_tun_core& p) {
    using namespace fp;
    using namespace fp::actions;
    auto ok = [](flow_mod_status st, const char* what) {
        if (!st) {
            std::fprintf(stderr, "br_tun_demo: installing %s failed: %s\n", what, st.what());
            std::exit(1);
        }
    };
    auto& t0 = p.table<nt::local_switching>();
    ok(t0.add(match{}.set(field_id::in_port, patch_int), 1, action_list<resubmit_to<nt::patch_lv_to_tun>>{}, {}, 0),
       "table 0");
    for (std::uint32_t port : {to_compute2, to_network})
        ok(t0.add(match{}.set(field_id::in_port, port), 1, action_list<resubmit_to<nt::vxlan_tun_to_lv>>{}, {}, 0),
           "table 0");
    ok(t0.add(match{}, 0, action_list<drop>{}, {}, 0), "table 0");

    auto& t2 = p.table<nt::patch_lv_to_tun>();
    ok(t2.add(match{}.set(field_id::eth_type, 0x0806).set(field_id::eth_dst, 0xffffffffffffULL), 1,
              action_list<resubmit_to<nt::arp_responder>>{}, {}, 0),
       "table 2");
    ok(t2.add(match{}.set(field_id::eth_dst, 0, 0x010000000000ULL), 0, action_list<resubmit_to<nt::ucast_to_tun>>{},
              {}, 0),
       "table 2");
    ok(t2.add(match{}.set(field_id::eth_dst, 0x010000000000ULL, 0x010000000000ULL), 0,
              action_list<resubmit_to<nt::flood_to_tun>>{}, {}, 0),
       "table 2");

    auto& t4 = p.table<nt::vxlan_tun_to_lv>();
    for (const network* n : {&net_a, &net_b})
        ok(t4.add(match{}.set(field_id::tun_id, n->segment), 1, nt::tun_to_lv_actions{{n->lvid}, {}}, {}, 0),
           "table 4");
    ok(t4.add(match{}, 0, action_list<drop>{}, {}, 0), "table 4");
    ok(p.table<nt::learn_from_tun>().add(match{}, 1, action_list<output>{{patch_int}}, {}, 0), "table 10");

    auto& t20 = p.table<nt::ucast_to_tun>();
    auto& t21 = p.table<nt::arp_responder>();
    for (const vm& v : vms) {
        if (v.host_port == patch_int) continue;
        ok(t20.add(match{}.set(field_id::vlan_tci, v.net->lvid, 0x0fff).set(field_id::eth_dst, v.mac), 2,
                   nt::to_tunnel_actions{{}, {v.net->segment}, {v.host_port}}, {}, 0),
           "table 20");
        ok(t21.add(match{}
                       .set(field_id::eth_type, 0x0806)
                       .set(field_id::vlan_tci, v.net->lvid, 0x0fff)
                       .set(field_id::arp_tpa, v.ip),
                   1, nt::arp_reply(v.mac, v.ip), {}, 0),
           "table 21");
    }
    ok(t20.add(match{}, 0, action_list<resubmit_to<nt::flood_to_tun>>{}, {}, 0), "table 20");
    ok(t21.add(match{}, 0, action_list<resubmit_to<nt::flood_to_tun>>{}, {}, 0), "table 21");

    auto& t22 = p.table<nt::flood_to_tun>();
    output_ports<nt::max_flood_ports> flood_a, flood_b;
    flood_a.add(to_compute2);
    flood_a.add(to_network);
    flood_b.add(to_compute2);
    ok(t22.add(match{}.set(field_id::vlan_tci, net_a.lvid, 0x0fff), 1, nt::flood_actions{{}, {net_a.segment}, flood_a},
               {}, 0),
       "table 22");
    ok(t22.add(match{}.set(field_id::vlan_tci, net_b.lvid, 0x0fff), 1, nt::flood_actions{{}, {net_b.segment}, flood_b},
               {}, 0),
       "table 22");
    ok(t22.add(match{}, 0, action_list<drop>{}, {}, 0), "table 22");
}

struct frame_spec {
    std::string what;
    fp::flow_key key;
    std::uint32_t truncate_to = 0; // 0: whole frame
};

fp::flow_key udp(const vm& from, std::uint64_t dst_mac, std::uint32_t dst_ip, bool from_tunnel) {
    fp::flow_key k{};
    k.in_port = from_tunnel ? from.host_port : patch_int;
    if (from_tunnel)
        k.tun_id = from.net->segment;
    else
        k.vlan_tci = static_cast<std::uint16_t>(0x1000 | from.net->lvid); // br-int tags local traffic
    k.eth_src = from.mac;
    k.eth_dst = dst_mac;
    k.eth_type = 0x0800;
    k.nw_src = from.ip;
    k.nw_dst = dst_ip;
    k.nw_proto = 17;
    k.nw_ttl = 64;
    k.tp_src = 40000;
    k.tp_dst = 5201;
    return k;
}

fp::flow_key arp_request(const vm& from, std::uint32_t target) {
    fp::flow_key k{};
    k.in_port = patch_int;
    k.vlan_tci = static_cast<std::uint16_t>(0x1000 | from.net->lvid);
    k.eth_src = from.mac;
    k.eth_dst = 0xffffffffffffULL;
    k.eth_type = 0x0806;
    k.arp_op = 1;
    k.arp_sha = from.mac;
    k.arp_spa = from.ip;
    k.arp_tpa = target;
    return k;
}

std::vector<frame_spec> traffic() {
    std::vector<frame_spec> t;
    t.push_back({"ARP who-has " + ip_str(vm2.ip) + " from vm1", arp_request(vm1, vm2.ip)});
    t.push_back({"ARP who-has " + ip_str(router.ip) + " from vm1", arp_request(vm1, router.ip)});
    t.push_back({"ARP who-has 81.1.180.77 (unknown) from vm1", arp_request(vm1, ip4(81, 1, 180, 77))});
    t.push_back({"UDP vm1 -> vm2", udp(vm1, vm2.mac, vm2.ip, false)});
    t.push_back({"UDP vm1 -> router", udp(vm1, router.mac, router.ip, false)});
    t.push_back({"UDP vm2 -> vm1 (from tunnel)", udp(vm2, vm1.mac, vm1.ip, true)});
    t.push_back({"UDP vm3 -> vm4 (tenant-b)", udp(vm3, vm4.mac, vm4.ip, false)});
    t.push_back({"UDP vm4 -> vm3 (from tunnel)", udp(vm4, vm3.mac, vm3.ip, true)});
    t.push_back({"broadcast from vm1", udp(vm1, 0xffffffffffffULL, ip4(81, 1, 180, 255), false)});
    t.push_back({"broadcast from vm3 (tenant-b)", udp(vm3, 0xffffffffffffULL, ip4(10, 7, 0, 255), false)});
    t.push_back({"UDP vm1 -> unknown MAC", udp(vm1, 0xfa163e999999ULL, ip4(81, 1, 180, 99), false)});
    auto wrong = udp(vm2, vm1.mac, vm1.ip, true);
    wrong.tun_id = 999;
    t.push_back({"UDP from compute2 with wrong tun_id 999", wrong});
    t.push_back({"truncated frame (10 bytes)", udp(vm1, vm2.mac, vm2.ip, false), 10});
    return t;
}

// A burst's frames in driver-like buffers (with headroom for a VLAN push).
struct buffers {
    static constexpr std::uint32_t headroom = 64;
    std::vector<std::array<std::uint8_t, 256>> bufs;
    std::vector<std::array<std::uint8_t, 256>> pristine;
    std::vector<fp::packet> pkts, templ;

    explicit buffers(const std::vector<frame_spec>& specs) : bufs(specs.size()), pristine(specs.size()) {
        for (std::size_t i = 0; i < specs.size(); ++i) {
            pristine[i].fill(0);
            std::size_t len = fp::compose_frame(
                specs[i].key, std::span<std::uint8_t>(pristine[i].data() + headroom, pristine[i].size() - headroom));
            if (specs[i].truncate_to) len = specs[i].truncate_to;
            fp::packet p;
            p.len = static_cast<std::uint32_t>(len);
            p.headroom = headroom;
            p.in_port = specs[i].key.in_port;
            p.tun_id = specs[i].key.tun_id;
            p.cookie = i;
            templ.push_back(p);
        }
        reset();
    }
    // Restores every frame as received (the pipeline rewrites frames in place).
    void reset() {
        pkts = templ;
        for (std::size_t i = 0; i < bufs.size(); ++i) {
            std::memcpy(bufs[i].data(), pristine[i].data(), headroom + templ[i].len);
            pkts[i].data = bufs[i].data() + headroom;
        }
    }
};

std::string describe(const fp::packet& p) {
    fp::flow_key k{};
    const auto l = fp::extract(p.data, p.len, k);
    std::string s;
    if (k.vlan_tci) s += "vlan " + std::to_string(k.vlan_tci & 0xfff) + ", ";
    if (p.tun_id && !k.vlan_tci) s += "tun_id " + std::to_string(p.tun_id) + ", ";
    if (l.l3_type == fp::proto::l3_kind::arp)
        s += std::string(k.arp_op == 2 ? "ARP reply " : "ARP request ") + ip_str(k.arp_spa) + " is-at " +
             mac_str(k.arp_sha) + " -> " + mac_str(k.eth_dst);
    else
        s += mac_str(k.eth_src) + " -> " + mac_str(k.eth_dst);
    return s;
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        const bool help = argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help");
        std::fprintf(help ? stdout : stderr,
                     "usage: br_tun_demo [OUTPUT_DIR]\n"
                     "Runs compute1's Neutron br-tun on a burst of realistic frames, writes input.pcap and\n"
                     "port<N>.pcap (what left each port) to OUTPUT_DIR (default br_tun_demo_out), and prints\n"
                     "where each frame went, the tables' counters and the packets per second reached.\n");
        return help ? 0 : 2;
    }
    const std::filesystem::path out_dir = argc > 1 ? argv[1] : "br_tun_demo_out";
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) {
        std::fprintf(stderr, "br_tun_demo: cannot create %s: %s\n", out_dir.c_str(), ec.message().c_str());
        return 1;
    }

    nt::br_tun_core pipeline;
    install_flows(pipeline);
    const auto specs = traffic();

    std::printf("flowpipe br-tun demo: compute1, networks %s (VNI %llu, VLAN %u) and %s (VNI %llu, VLAN %u)\n",
                net_a.name, static_cast<unsigned long long>(net_a.segment), net_a.lvid, net_b.name,
                static_cast<unsigned long long>(net_b.segment), net_b.lvid);
    std::printf("ports: 1 patch-int, 2 tunnel to compute2 (10.0.1.39), 3 tunnel to network node (10.0.1.21)\n\n");

    // One burst, traced frame by frame.
    buffers b(specs);
    {
        fp::io::pcap_writer in((out_dir / "input.pcap").string());
        for (const auto& p : b.pkts) in.write({p.data, p.len});
    }
    fp::burst_output out;
    pipeline.run(b.pkts, 0, out);

    // Outputs appear in frame order, clones first and the frame's own buffer
    // (its cookie is its index here) last.
    std::vector<std::vector<std::pair<std::uint32_t, fp::packet>>> per_frame(specs.size());
    {
        std::vector<std::pair<std::uint32_t, fp::packet>> pending;
        for (const auto& t : out.outputs()) {
            pending.emplace_back(t.port, t.pkt);
            if (t.pkt.cookie != fp::clone_cookie) {
                per_frame[t.pkt.cookie] = pending;
                pending.clear();
            }
        }
    }
    std::printf("%-44s %s\n", "frame in", "what came out where");
    for (std::size_t i = 0; i < specs.size(); ++i) {
        std::printf("%-44s ", specs[i].what.c_str());
        if (per_frame[i].empty()) {
            std::printf("dropped\n");
            continue;
        }
        bool first = true;
        for (const auto& [port, pkt] : per_frame[i]) {
            std::printf("%s%s: %s\n", first ? "" : std::string(45, ' ').c_str(), port_name(port),
                        describe(pkt).c_str());
            first = false;
        }
    }

    std::printf("\nper-port pcap files in %s/:\n", out_dir.c_str());
    out.for_each_port([&](std::uint32_t port, std::span<const fp::packet> frames) {
        const auto file = out_dir / ("port" + std::to_string(port) + ".pcap");
        fp::io::pcap_writer w(file.string());
        for (const auto& p : frames) w.write({p.data, p.len});
        std::printf("  %-12s %2zu frames  (%s)\n", file.filename().c_str(), frames.size(), port_name(port));
    });

    const auto& c = out.counters();
    std::printf("\nburst: %llu received, %llu transmitted, %llu dropped (%llu not Ethernet)\n",
                static_cast<unsigned long long>(c.received), static_cast<unsigned long long>(c.transmitted),
                static_cast<unsigned long long>(c.dropped), static_cast<unsigned long long>(c.not_ethernet));
    std::printf("\n%-6s %-22s %8s %9s %8s\n", "table", "", "flows", "lookups", "matched");
    const char* names[] = {"LOCAL_SWITCHING", "PATCH_LV_TO_TUN", "GRE_TUN_TO_LV",  "VXLAN_TUN_TO_LV",
                           "GENEVE_TUN_TO_LV", "LEARN_FROM_TUN", "UCAST_TO_TUN", "ARP_RESPONDER", "FLOOD_TO_TUN"};
    std::size_t ti = 0;
    pipeline.for_each_table([&](auto& t) {
        std::printf("%-6u %-22s %8zu %9llu %8llu\n", t.id(), names[ti++], t.size(),
                    static_cast<unsigned long long>(t.stats().lookups),
                    static_cast<unsigned long long>(t.stats().matched));
    });

    // Throughput: the same mix, over and over, in bursts (frames restored each time).
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t packets = 0;
    double secs = 0;
    while (secs < 1.0) {
        for (int i = 0; i < 1000; ++i) {
            b.reset();
            pipeline.run(b.pkts, 0, out);
            packets += b.pkts.size();
        }
        secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    std::printf("\nthroughput: %.2f Mpps on one core (%llu packets of this mix in %.2f s, bursts of %zu, "
                "frame restore included)\n",
                packets / secs / 1e6, static_cast<unsigned long long>(packets), secs, specs.size());
    return 0;
}
