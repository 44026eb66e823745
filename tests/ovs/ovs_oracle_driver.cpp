// The flowpipe side of the Open vSwitch oracle (tests/ovs/ovs_oracle.py runs
// the Open vSwitch side).
//
//   ovs_oracle_driver gen-brtun DIR
//       the reference br-tun flows (no learn) and a few hundred packets
//   ovs_oracle_driver gen-brtun-learn DIR nodvr|dvr
//       the full reference br-tun flows with the table-10 learn and the ARP
//       responder (with dvr: tables 1 and 9, the gateway ARP drop in 22);
//       DIR/packets from tunnels, traced with -generate, then DIR/packets2
//       from patch-int; `compare` also compares table 20 between the two
//   ovs_oracle_driver gen-learn-options DIR
//       one learn with every option (limit, result_dst, cookie, timeouts,
//       constants, prerequisites), its target table (DIR/table) compared
//   ovs_oracle_driver gen-random SEED N_FLOWS N_PACKETS DIR
//       random flow tables (masks, priorities, resubmits forward and back,
//       load/move/set_field, VLAN push/pop/mod, outputs) and random packets
//   ovs_oracle_driver gen-random-learn SEED N_FLOWS N_PACKETS DIR [own-lookups]
//       gen-random's tables where a third of the flows carry random learns
//       (see "random tables with learn"); DIR/packets traced with -generate,
//       every table compared (DIR/table lists them), DIR/packets2 traced,
//       DIR/delete's strict deletes done (delete_learned), every table
//       compared again. Without `own-lookups` resubmits go forward and last
//       and a learn targets no table its packet looks up after it (learned
//       flows are then met by later packets only); with it, resubmits go
//       anywhere and learns target any table, so packets look up what they
//       themselves learned, rewrote or evicted (which they must not see)
//   ovs_oracle_driver gen-learn-syntax DIR, compare-syntax DIR
//       learn texts both parsers must accept or refuse alike, and flowpipe's
//       print of each must be accepted by ovs-ofctl (see "learn syntax")
//   ovs_oracle_driver gen-learn-known DIR
//       the differences found, each a small learn case in DIR/<name> with
//       DIR/<name>/known saying what differs (see "known differences"), and
//       the fixed ones, kept as cases that must agree (DIR/agree)
//   ovs_oracle_driver compare DIR
//       traces DIR/packets through DIR/flows with flowpipe and compares, packet
//       by packet, the final packet fields and the output ports with what Open
//       vSwitch said (DIR/ovs: "Final flow: ..." and "Output: ..." per packet);
//       with learns, the tables DIR/table names against Open vSwitch's
//       dump-flows after DIR/packets (DIR/ovs-tables1) and at the end
//       (DIR/ovs-tables2); the data path runs the same packets on a pipeline
//       of its own, whose tables must be the trace's
//
// Flows are written with flowpipe's own printer, so Open vSwitch parsing them
// also checks that we print what it accepts. Packets are written as
// ofproto/trace takes them.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <flowpipe/core/compose.hpp>
#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/ofctl/print.hpp>
#include <flowpipe/ofctl/trace.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>

namespace of = flowpipe::ofctl;
using namespace flowpipe;

namespace {

void write(const std::string& path, const std::vector<std::string>& lines) {
    std::ofstream o(path);
    for (const auto& l : lines) o << l << "\n";
}

std::string mac(std::uint64_t m) {
    std::string s;
    of::append_mac(s, m);
    return s;
}
std::string ip4(std::uint32_t a) {
    std::string s;
    of::append_ipv4(s, a);
    return s;
}

// ---- br-tun ---------------------------------------------------------------

int gen_brtun(const std::string& dir) {
    // patch-int = 1; tunnels 2, 3, 4 (vxlan to compute2, network node, compute3).
    // Networks: segment 6 on VLAN 2, segment 7 on VLAN 3.
    const std::vector<std::string> flows = {
        "table=0,priority=1,in_port=1 actions=resubmit(,2)",
        "table=0,priority=1,in_port=2 actions=resubmit(,4)",
        "table=0,priority=1,in_port=3 actions=resubmit(,4)",
        "table=0,priority=1,in_port=4 actions=resubmit(,4)",
        "table=0,priority=0 actions=drop",
        "table=2,priority=1,arp,dl_dst=ff:ff:ff:ff:ff:ff actions=resubmit(,21)",
        "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)",
        "table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)",
        "table=4,priority=1,tun_id=0x6 actions=mod_vlan_vid:2,resubmit(,10)",
        "table=4,priority=1,tun_id=0x7 actions=mod_vlan_vid:3,resubmit(,10)",
        "table=4,priority=0 actions=drop",
        "table=10,priority=1 actions=output:1",
        "table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:73:49:41 actions=strip_vlan,set_tunnel:0x6,output:2",
        "table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:87:40:f3 actions=strip_vlan,set_tunnel:0x6,output:3",
        "table=20,priority=2,dl_vlan=3,dl_dst=fa:16:3e:11:22:33 actions=strip_vlan,set_tunnel:0x7,output:4",
        "table=20,priority=0 actions=resubmit(,22)",
        "table=21,priority=1,arp,dl_vlan=2,arp_tpa=81.1.180.9 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        "mod_dl_src:fa:16:3e:73:49:41,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
        "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0xfa163e734941->NXM_NX_ARP_SHA[],"
        "load:0x5101b409->NXM_OF_ARP_SPA[],in_port",
        "table=21,priority=1,arp,dl_vlan=2,arp_tpa=81.1.180.1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        "mod_dl_src:fa:16:3e:87:40:f3,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
        "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0xfa163e8740f3->NXM_NX_ARP_SHA[],"
        "load:0x5101b401->NXM_OF_ARP_SPA[],in_port",
        "table=21,priority=0 actions=resubmit(,22)",
        "table=22,priority=1,dl_vlan=2 actions=strip_vlan,set_tunnel:0x6,output:2,output:3",
        "table=22,priority=1,dl_vlan=3 actions=strip_vlan,set_tunnel:0x7,output:4",
        "table=22,priority=0 actions=drop",
    };
    // Flows go through flowpipe's parser and printer on the way to Open vSwitch.
    std::vector<std::string> printed;
    for (const auto& f : flows) {
        auto r = of::parse_flow(f);
        if (!r) {
            std::cerr << f << ": " << of::to_string(r.error()) << "\n";
            return 1;
        }
        printed.push_back(of::format_flow(*r));
    }
    write(dir + "/flows", printed);

    std::mt19937_64 rng(6);
    const std::uint64_t known[] = {0xfa163e734941, 0xfa163e8740f3, 0xfa163e112233};
    const std::uint64_t vm = 0xfa163eb3e77a;
    const std::uint32_t ips[] = {0x5101b409, 0x5101b401, 0x5101b408, 0x5101b463, 0x0a000001};
    std::vector<std::string> pk;
    for (int i = 0; i < 400; ++i) {
        const unsigned kind = static_cast<unsigned>(rng() % 8);
        const bool from_tunnel = rng() % 3 == 0;
        std::string s = "in_port=";
        std::uint64_t dst;
        switch (kind) {
        case 0: dst = known[rng() % 3]; break;                    // known unicast
        case 1: dst = 0xfa163e000000 | (rng() & 0xffffff); break; // unknown unicast
        case 2: dst = 0xffffffffffff; break;                      // broadcast (not ARP)
        case 3: dst = 0x01005e000000 | (rng() & 0x7fffff); break; // multicast
        default: dst = 0xffffffffffff; break;                     // ARP
        }
        if (from_tunnel) {
            s += std::to_string(2 + rng() % 3);
            const std::uint64_t tun[] = {6, 7, 8};
            s += ",tun_id=" + std::to_string(tun[rng() % 3]);
        } else {
            s += "1";
            const unsigned vl[] = {2, 3, 5};
            s += ",dl_vlan=" + std::to_string(vl[rng() % 3]);
        }
        s += ",dl_src=" + mac(from_tunnel ? known[rng() % 3] : vm) + ",dl_dst=" + mac(dst);
        if (kind >= 4) {
            const std::uint32_t tpa = ips[rng() % 5];
            s += ",arp,arp_op=" + std::to_string(1 + rng() % 2) + ",arp_sha=" + mac(vm) +
                 ",arp_spa=81.1.180.8,arp_tpa=" + ip4(tpa);
        } else if (rng() % 2) {
            s += ",ip,nw_src=81.1.180.8,nw_dst=81.1.180." + std::to_string(rng() % 256) + ",nw_ttl=64";
        }
        pk.push_back(s);
    }
    write(dir + "/packets", pk);
    return 0;
}

// ---- br-tun with learning ------------------------------------------------------
//
// The full reference flow set: table 10 learns into table 20, table 21 is
// the ARP responder; with `dvr`, tables 1 and 9 and the gateway ARP drop in
// table 22 (neutron-br-tun.md). Phase 1 (DIR/packets) comes from the
// tunnels and is traced with learning (-generate): sources move between
// tunnels, some arrive with a wrong tun_id, with DVR some come from another
// host's DVR MAC (never learned). Then table 20 is compared. Phase 2
// (DIR/packets2) comes from patch-int to the learned MACs (and some that
// were not learned, or only in the other VLAN), to l2pop MACs, as broadcast
// and as ARP requests.
int gen_brtun_learn(const std::string& dir, bool dvr) {
    // patch-int = 1; tunnels 2, 3, 4. Segment 6 on VLAN 2, segment 7 on VLAN 3.
    const std::string gw_mac = "fa:16:3e:87:40:f3", dvr_local = "fa:16:3f:b2:34:82", dvr_remote = "fa:16:3f:aa:bb:01";
    std::vector<std::string> flows = {
        dvr ? "table=0,priority=1,in_port=1 actions=resubmit(,1)" : "table=0,priority=1,in_port=1 actions=resubmit(,2)",
        "table=0,priority=1,in_port=2 actions=resubmit(,4)",
        "table=0,priority=1,in_port=3 actions=resubmit(,4)",
        "table=0,priority=1,in_port=4 actions=resubmit(,4)",
        "table=0,priority=0 actions=drop",
        "table=2,priority=1,arp,dl_dst=ff:ff:ff:ff:ff:ff actions=resubmit(,21)",
        "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)",
        "table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)",
        std::string("table=4,priority=1,tun_id=0x6 actions=mod_vlan_vid:2,resubmit(,") + (dvr ? "9)" : "10)"),
        std::string("table=4,priority=1,tun_id=0x7 actions=mod_vlan_vid:3,resubmit(,") + (dvr ? "9)" : "10)"),
        "table=4,priority=0 actions=drop",
        "table=10,priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],"
        "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],"
        "output:NXM_OF_IN_PORT[]),output:1",
        "table=20,priority=2,dl_vlan=2,dl_dst=fa:16:3e:73:49:41 actions=strip_vlan,set_tunnel:0x6,output:2",
        "table=20,priority=2,dl_vlan=3,dl_dst=fa:16:3e:11:22:33 actions=strip_vlan,set_tunnel:0x7,output:4",
        "table=20,priority=0 actions=resubmit(,22)",
        "table=21,priority=1,arp,dl_vlan=2,arp_tpa=81.1.180.9 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        "mod_dl_src:fa:16:3e:73:49:41,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
        "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0xfa163e734941->NXM_NX_ARP_SHA[],"
        "load:0x5101b409->NXM_OF_ARP_SPA[],in_port",
        "table=21,priority=1,arp,dl_vlan=3,arp_tpa=10.0.0.5 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        "mod_dl_src:fa:16:3e:11:22:33,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
        "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0xfa163e112233->NXM_NX_ARP_SHA[],"
        "load:0xa000005->NXM_OF_ARP_SPA[],in_port",
        "table=21,priority=0 actions=resubmit(,22)",
        "table=22,priority=1,dl_vlan=2 actions=strip_vlan,set_tunnel:0x6,output:2,output:3",
        "table=22,priority=1,dl_vlan=3 actions=strip_vlan,set_tunnel:0x7,output:3,output:4",
        "table=22,priority=0 actions=drop",
    };
    if (dvr) {
        flows.push_back("table=1,priority=2,dl_vlan=2,dl_dst=" + gw_mac + " actions=drop");
        flows.push_back("table=1,priority=1,dl_vlan=2,dl_src=" + gw_mac + " actions=mod_dl_src:" + dvr_local +
                        ",resubmit(,2)");
        flows.push_back("table=1,priority=0 actions=resubmit(,2)");
        flows.push_back("table=9,priority=1,dl_src=" + dvr_remote + " actions=output:1");
        flows.push_back("table=9,priority=0 actions=resubmit(,10)");
        flows.push_back("table=22,priority=3,arp,dl_vlan=2,arp_tpa=81.1.180.1 actions=drop");
    }
    std::vector<std::string> printed;
    for (const auto& f : flows) {
        auto r = of::parse_flow(f);
        if (!r) {
            std::cerr << f << ": " << of::to_string(r.error()) << "\n";
            return 1;
        }
        printed.push_back(of::format_flow(*r));
    }
    write(dir + "/flows", printed);
    write(dir + "/generate", {"-generate"});

    std::mt19937_64 rng(dvr ? 10 : 9);
    std::vector<std::uint64_t> remote; // MACs behind the tunnels
    for (unsigned i = 0; i < 24; ++i) remote.push_back(0xfa163eaa0000 | (i * 0x0101u + 1));
    const std::uint64_t local_vms[] = {0xfa163eb3e77a, 0xfa163e000a01};
    const char* ips[] = {"81.1.180.9", "81.1.180.1", "81.1.180.77", "10.0.0.5", "10.0.0.6"};
    std::vector<std::string> pk, pk2;
    for (int i = 0; i < 300; ++i) {
        const unsigned tun_port = 2 + static_cast<unsigned>(rng() % 3);
        const unsigned tun = rng() % 10 == 0 ? 8 : 6 + static_cast<unsigned>(rng() % 2);
        // Early packets learn, later ones mostly refresh; a MAC moves to another tunnel now and then.
        const std::uint64_t src = dvr && rng() % 10 == 0 ? 0xfa163faabb01 : remote[rng() % (i < 100 ? 12 : 24)];
        std::string s =
            "in_port=" + std::to_string(tun_port) + ",tun_id=" + std::to_string(tun) + ",dl_src=" + mac(src);
        switch (rng() % 4) {
        case 0:
            s += ",dl_dst=" + mac(local_vms[rng() % 2]) + ",ip,nw_src=81.1.180.50,nw_dst=81.1.180.8,nw_ttl=64";
            break;
        case 1:
            s += ",dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,arp_sha=" + mac(src) +
                 ",arp_spa=81.1.180.50,arp_tpa=81.1.180.8";
            break;
        case 2: s += ",dl_dst=01:00:5e:00:00:" + std::to_string(10 + rng() % 80); break;
        default: s += ",dl_dst=" + mac(local_vms[rng() % 2]); break;
        }
        pk.push_back(s);
    }
    for (int i = 0; i < 200; ++i) {
        const unsigned vlan = 2 + static_cast<unsigned>(rng() % 2);
        std::uint64_t src = local_vms[rng() % 2];
        if (dvr && rng() % 6 == 0) src = 0xfa163e8740f3; // the router interface: rewritten to the DVR MAC
        std::string s = "in_port=1,dl_vlan=" + std::to_string(vlan) + ",dl_src=" + mac(src);
        const unsigned kind = static_cast<unsigned>(rng() % 10);
        if (kind < 6) {
            s += ",dl_dst=" + mac(remote[rng() % 24]); // learned (in this VLAN or the other), or never learned
        } else if (kind == 6) {
            s += ",dl_dst=" + mac(rng() % 2 ? 0xfa163e734941 : 0xfa163e112233); // l2pop
        } else if (kind == 7) {
            s += ",dl_dst=" + mac(dvr && rng() % 2 ? 0xfa163e8740f3 : 0xfa163e7777aa); // router if / unknown
        } else {
            s += ",dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,arp_sha=" + mac(src) +
                 ",arp_spa=81.1.180.8,arp_tpa=" + ips[rng() % 5];
        }
        if (kind < 8 && rng() % 2) s += ",ip,nw_src=81.1.180.8,nw_dst=81.1.180.50,nw_ttl=64";
        pk2.push_back(s);
    }
    write(dir + "/packets", pk);
    write(dir + "/packets2", pk2);
    return 0;
}

// ---- learn's options ---------------------------------------------------------------
//
// One learn with every option Open vSwitch traces the same way: idle_timeout,
// priority, cookie, limit=5 with result_dst (the result decides the output),
// constant and field match specs with a prerequisite (eth_type before
// NXM_OF_IP_DST), field and constant loads, output:NXM_OF_IN_PORT[]. Packets
// from port 1 learn into table 5 (8 distinct keys against a limit of 5);
// packets from port 2 then hit what was learned. Table 5 is compared.
int gen_learn_options(const std::string& dir) {
    const std::vector<std::string> flows = {
        "table=0,priority=1,ip,in_port=1 actions=learn(table=5,idle_timeout=60,priority=7,cookie=0x42,limit=5,"
        "result_dst=NXM_NX_REG1[0],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],NXM_NX_REG0[0..7]=0x5a,eth_type=0x800,"
        "NXM_OF_IP_DST[]=NXM_OF_IP_SRC[],load:NXM_OF_IP_DST[]->NXM_NX_REG2[],load:0x3->NXM_NX_REG3[1..2],"
        "output:NXM_OF_IN_PORT[]),resubmit(,1)",
        "table=0,priority=1,in_port=2 actions=load:0x5a->NXM_NX_REG0[],resubmit(,5)",
        "table=0,priority=0 actions=drop",
        "table=1,priority=1,reg1=0x1 actions=output:3",
        "table=1,priority=0 actions=output:4",
        "table=5,priority=0 actions=output:4",
    };
    std::vector<std::string> printed;
    for (const auto& f : flows) {
        auto r = of::parse_flow(f);
        if (!r) {
            std::cerr << f << ": " << of::to_string(r.error()) << "\n";
            return 1;
        }
        printed.push_back(of::format_flow(*r));
    }
    write(dir + "/flows", printed);
    write(dir + "/generate", {"-generate"});
    write(dir + "/table", {"5"});
    std::mt19937_64 rng(5);
    std::vector<std::string> pk, pk2;
    auto host = [&](unsigned i) { return mac(0x020000000000 | i); };
    for (int i = 0; i < 60; ++i) {
        const unsigned h = static_cast<unsigned>(rng() % (i < 20 ? 4 : 8));
        pk.push_back("in_port=1,dl_src=" + host(h) + ",dl_dst=" + host(9) + ",ip,nw_src=10.0.0." + std::to_string(h) +
                     ",nw_dst=10.0.1.1,nw_ttl=64");
    }
    for (int i = 0; i < 60; ++i) {
        const unsigned h = static_cast<unsigned>(rng() % 10);
        pk2.push_back("in_port=2,dl_src=" + host(9) + ",dl_dst=" + host(h) + ",ip,nw_src=10.0.1.1,nw_dst=10.0.0." +
                      std::to_string(rng() % 3 ? h : h + 1) + ",nw_ttl=64");
    }
    write(dir + "/packets", pk);
    write(dir + "/packets2", pk2);
    return 0;
}

// ---- random tables --------------------------------------------------------

struct rgen {
    std::mt19937_64 rng;
    unsigned below(unsigned n) { return static_cast<unsigned>(rng() % n); }
    bool coin(unsigned pct = 50) { return below(100) < pct; }
    std::uint64_t pick(std::initializer_list<std::uint64_t> xs) {
        return xs.begin()[below(static_cast<unsigned>(xs.size()))];
    }

    bool wide = false; // more hosts (gen-random-learn's packets: more keys to learn)

    std::uint64_t a_mac() {
        if (wide && coin(60)) return 0x020000000000 | below(24);
        return pick({0x000000000001, 0x000000000002, 0xfa163e000003, 0x01005e000001, 0xffffffffffff});
    }
    std::uint32_t a_ip() {
        if (wide && coin(60)) return 0x0a000200 | below(16);
        return static_cast<std::uint32_t>(pick({0x0a000001, 0x0a000002, 0x0a010203, 0xc0a80001}));
    }

    match a_match(int& kind) {
        match m;
        kind = static_cast<int>(below(5)); // 0 any, 1 arp, 2 ip, 3 tcp, 4 udp
        if (kind == 1) m.set(field_id::eth_type, 0x0806);
        if (kind >= 2) m.set(field_id::eth_type, 0x0800);
        if (kind == 3) m.set(field_id::nw_proto, 6);
        if (kind == 4) m.set(field_id::nw_proto, 17);
        if (coin(40)) m.set(field_id::in_port, 1 + below(4));
        if (coin(30)) m.set(field_id::eth_dst, a_mac(), coin() ? 0xffffffffffff : 0x010000000000);
        if (coin(20)) m.set(field_id::eth_src, a_mac(), coin() ? 0xffffffffffff : 0xffffff000000);
        if (coin(30)) {
            switch (below(4)) {
            case 0: m.set(field_id::dl_vlan, 1 + below(3)); break;
            case 1: m.set(field_id::vlan_tci, 0, 0xffff); break;             // dl_vlan=0xffff: untagged
            case 2: m.set(field_id::vlan_tci, 0x1000, 0x1000); break;        // any tag
            default: m.set(field_id::vlan_tci, 1 + below(3), 0x0fff); break; // VID bits only
            }
        }
        if (coin(25)) m.set(field_id::tun_id, pick({0, 5, 6, 0x105}), coin() ? ~std::uint64_t{0} : 0xff);
        if (coin(25)) m.set(field_id::reg0, below(4), coin() ? 0xffffffff : 0x3);
        if (coin(15)) m.set(field_id::metadata, below(3));
        if (kind == 1 && coin(50)) m.set(field_id::arp_tpa, a_ip(), coin() ? 0xffffffff : 0xffffff00);
        if (kind == 1 && coin(30)) m.set(field_id::arp_op, 1 + below(2));
        if (kind >= 2 && coin(50))
            m.set(field_id::nw_dst, a_ip(), of::prefix_mask(static_cast<int>(8 + below(25)), 32));
        if (kind >= 2 && coin(20)) m.set(field_id::nw_src, a_ip());
        if (kind >= 3 && coin(50)) m.set(field_id::tp_dst, pick({53, 80, 443}), coin() ? 0xffff : 0xfff0);
        return m;
    }

    // Fields an action may read or write in a flow of this kind.
    std::vector<field_id> rw(int kind) {
        std::vector<field_id> f = {field_id::reg0,     field_id::reg1,    field_id::reg2,   field_id::tun_id,
                                   field_id::metadata, field_id::eth_src, field_id::eth_dst};
        if (kind == 1) f.insert(f.end(), {field_id::arp_spa, field_id::arp_tpa, field_id::arp_sha, field_id::arp_op});
        if (kind >= 2) f.insert(f.end(), {field_id::nw_src, field_id::nw_dst, field_id::nw_ttl});
        if (kind >= 3) f.insert(f.end(), {field_id::tp_src, field_id::tp_dst});
        return f;
    }

    bit_range a_range(field_id f) {
        const unsigned w = info(f).width;
        if (coin(60)) return bit_range::whole(f);
        const unsigned a = below(w), n = 1 + below(std::min(16u, w - a));
        return bit_range{f, static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(n)};
    }

    generic_actions some_actions(int kind, std::uint8_t table, std::uint8_t n_tables) {
        generic_actions a;
        const auto fs = rw(kind);
        const unsigned n = below(6);
        for (unsigned i = 0; i < n; ++i) {
            switch (below(14)) {
            case 0:
            case 1: a.list.emplace_back(actions::output{1 + below(5)}); break;
            case 2:
            case 3: {
                // forward mostly, sometimes backward (or to itself)
                const unsigned t =
                    coin(80) && table + 1 < n_tables ? table + 1 + below(n_tables - table - 1u) : below(table + 1u);
                a.list.emplace_back(
                    actions::resubmit{coin(15) ? 1 + below(4) : ports::in_port, static_cast<std::uint8_t>(t)});
                break;
            }
            case 4: {
                const bit_range r = a_range(fs[below(static_cast<unsigned>(fs.size()))]);
                const uint128 v = (uint128{rng()} << 64 | rng()) & r.mask();
                a.list.emplace_back(actions::load{r, v});
                break;
            }
            case 5: {
                const bit_range d = a_range(fs[below(static_cast<unsigned>(fs.size()))]);
                field_id s = fs[below(static_cast<unsigned>(fs.size()))];
                while (info(s).width < d.n_bits) s = fs[below(static_cast<unsigned>(fs.size()))];
                const unsigned s0 = below(info(s).width - d.n_bits + 1u);
                a.list.emplace_back(actions::move{bit_range{s, static_cast<std::uint8_t>(s0), d.n_bits}, d});
                break;
            }
            case 6: a.list.emplace_back(actions::mod_vlan_vid{static_cast<std::uint16_t>(below(4096))}); break;
            case 7: a.list.emplace_back(actions::strip_vlan{}); break;
            case 8: a.list.emplace_back(actions::mod_dl_src{a_mac()}); break;
            case 9: a.list.emplace_back(actions::set_tunnel{pick({5, 6, 0x105})}); break;
            case 10: a.list.emplace_back(actions::in_port{}); break;
            case 11: a.list.emplace_back(actions::mod_vlan_pcp{static_cast<std::uint8_t>(below(8))}); break;
            // push_vlan is OpenFlow 1.1+ only for ovs-ofctl, and loading these flows as
            // OpenFlow 1.3 would turn mod_vlan_vid into a set_field (no push when untagged).
            case 12: a.list.emplace_back(actions::output{1 + below(5)}); break;
            default:
                if (kind >= 2)
                    a.list.emplace_back(actions::dec_ttl{});
                else
                    a.list.emplace_back(
                        actions::load{bit_range{field_id::vlan_tci, 0, 16}, coin() ? 0 : 0x1000u | below(0x10000)});
                break;
            }
        }
        return a;
    }

    std::string a_packet() {
        std::string s = "in_port=" + std::to_string(1 + below(4));
        if (coin(30)) s += ",tun_id=" + std::to_string(pick({5, 6, 0x105, 0x205}));
        if (coin(20)) s += ",reg0=" + std::to_string(below(4));
        if (coin(50))
            s += ",dl_vlan=" + std::to_string(1 + below(3)) +
                 (coin(30) ? ",dl_vlan_pcp=" + std::to_string(below(8)) : "");
        s += ",dl_src=" + mac(a_mac()) + ",dl_dst=" + mac(a_mac());
        switch (below(5)) {
        case 0: break;
        case 1:
            s += ",arp,arp_op=" + std::to_string(1 + below(2)) + ",arp_spa=" + ip4(a_ip()) + ",arp_tpa=" + ip4(a_ip()) +
                 ",arp_sha=" + mac(a_mac());
            break;
        default: {
            const char* p[] = {"ip", "tcp", "udp"};
            const unsigned k = below(3);
            s += std::string(",") + p[k] + ",nw_src=" + ip4(a_ip()) + ",nw_dst=" + ip4(a_ip()) +
                 ",nw_ttl=" + std::to_string(below(3) == 0 ? below(2) : 64);
            // ofproto/trace takes tp_src only for TCP: udp_src for UDP.
            const std::string l4 = k == 1 ? "tcp" : "udp";
            if (k)
                s += "," + l4 + "_src=" + std::to_string(1024 + below(100)) + "," + l4 +
                     "_dst=" + std::to_string(pick({53, 80, 443, 8080}));
        }
        }
        return s;
    }
};

int gen_random(unsigned seed, unsigned n_flows, unsigned n_packets, const std::string& dir) {
    rgen g{std::mt19937_64{seed}};
    const std::uint8_t n_tables = 6;
    std::vector<std::string> flows;
    std::vector<std::vector<unsigned>> used(n_tables);
    for (unsigned i = 0; i < n_flows; ++i) {
        of::flow_mod fm;
        fm.table = static_cast<std::uint8_t>(g.below(n_tables));
        // Distinct priorities per table: ties between overlapping flows are unspecified.
        unsigned prio;
        do prio = g.below(200);
        while (std::find(used[fm.table].begin(), used[fm.table].end(), prio) != used[fm.table].end());
        used[fm.table].push_back(prio);
        fm.priority = static_cast<std::int32_t>(prio);
        int kind = 0;
        fm.m = g.a_match(kind);
        fm.actions = g.some_actions(kind, fm.table, n_tables);
        const std::string text = of::format_flow(fm);
        auto back = of::parse_flow(text); // what we print must parse back as is
        if (!back || !(*back == fm)) {
            std::cerr << "round trip failed: " << text << "\n";
            return 1;
        }
        flows.push_back(text);
    }
    write(dir + "/flows", flows);
    std::vector<std::string> pk;
    for (unsigned i = 0; i < n_packets; ++i) pk.push_back(g.a_packet());
    write(dir + "/packets", pk);
    return 0;
}

// ---- random tables with learn ------------------------------------------------
//
// gen-random's tables (rgen's matches and actions; each table also has a
// priority-0 catch-all), where about 40% of the flows also carry one or two
// random learn(...) actions. Each learn uses a "template" of its target
// table: a priority and a shape of learned match (match specs: F[], F[a..b],
// F1[a..b]=F2[c..d], F[a..b]=constant, with eth_type / nw_proto constants
// first when a field needs them), shared by the learns that pick it, so
// learns of one template modify each other's flows (other actions, cookie,
// timeouts) and count against each other's limit. Static flows take even
// priorities and templates odd ones, distinct per table: no two overlapping
// flows of one table ever tie. The learned actions are loads (constant or
// field) and outputs (NXM_OF_IN_PORT[], NXM_NX_REG1[0..2] or [0..15]; DIR/ports
// asks Open vSwitch for ports 1..7, outputs to others are counted apart by
// `compare`). Every learn is written as ovs-ofctl text, parsed by flowpipe
// against its flow's match (learn_check's prerequisites), and printed back.
//
// The idea that keeps the comparison exact: a learn never targets a table
// its own packet may look up after it (resubmit_graph), because there Open
// vSwitch and flowpipe differ (reported: OVS's packet does not see what it
// learned). Resubmits go forward and come last in these flows so that this
// leaves most tables to choose from. The other constructs left out or kept
// apart are differences found and reported: see a_value, the
// maskable column, and compare's port handling.
struct learn_field {
    const char* name; // as ovs-ofctl and dump-flows write it
    unsigned width;
    int kind;      // 0 any packet, 1 ARP, 2 any IPv4, 3 TCP, 4 UDP
    bool written;  // a learned load may write it
    char format;   // of a whole-field constant: 'x' hex, 'd' decimal, 'm' MAC, 'i' IPv4 (as ovs-ofctl takes them)
    bool maskable; // in Open vSwitch's flows
    bool varies;   // between the generated packets
};

const learn_field learn_fields[] = {
    {"NXM_OF_IN_PORT", 16, 0, false, 'd', false, true}, {"NXM_OF_VLAN_TCI", 16, 0, true, 'x', true, true},
    {"NXM_OF_ETH_SRC", 48, 0, true, 'm', true, true},   {"NXM_OF_ETH_DST", 48, 0, true, 'm', true, true},
    {"NXM_NX_TUN_ID", 64, 0, true, 'x', true, false},   {"NXM_NX_REG0", 32, 0, true, 'x', true, false},
    {"NXM_NX_REG1", 32, 0, true, 'x', true, false},     {"NXM_NX_REG2", 32, 0, true, 'x', true, false},
    {"OXM_OF_METADATA", 64, 0, true, 'x', true, false}, {"NXM_OF_ARP_OP", 16, 1, true, 'd', false, false},
    {"NXM_OF_ARP_SPA", 32, 1, true, 'i', true, true},   {"NXM_OF_ARP_TPA", 32, 1, true, 'i', true, true},
    {"NXM_NX_ARP_SHA", 48, 1, true, 'm', true, true},   {"NXM_OF_IP_SRC", 32, 2, true, 'i', true, true},
    {"NXM_OF_IP_DST", 32, 2, true, 'i', true, true},    {"NXM_NX_IP_TTL", 8, 2, true, 'd', false, false},
    {"NXM_OF_TCP_SRC", 16, 3, true, 'd', true, true},   {"NXM_OF_TCP_DST", 16, 3, true, 'd', true, true},
    {"NXM_OF_UDP_SRC", 16, 4, true, 'd', true, true},   {"NXM_OF_UDP_DST", 16, 4, true, 'd', true, true},
};

// Whether a field of kind `fk` may be read in (or matched after the
// prerequisites of) a flow of kind k.
bool field_in_kind(int fk, int k) { return fk == 0 || fk == k || (fk == 2 && k >= 2); }

struct learn_template {
    std::uint8_t table;
    unsigned priority;
    int kind;                       // the flows whose fields its specs read (0: any flow)
    std::vector<std::string> match; // match specs, prerequisite constants first
    // Constants only: a static flow's match. Any flow may learn it, but for
    // a TCP or UDP port: flowpipe reads and prints NXM_OF_TCP_* / _UDP_* in a
    // learn by the protocol of the flow holding it, not of the learned match
    // (reported).
    bool overlay = false;
};

struct learn_gen {
    rgen& g;
    std::vector<learn_template> templates;
    std::vector<std::vector<unsigned>>& used;           // priorities per table (static and templates)
    const std::vector<of::flow_mod>* statics = nullptr; // the tables' flows (their matches and priorities)
    // gen-random-learn's own-lookups: half the templates learn, above every
    // static flow, a match of the packet's own bits, so that a packet that
    // looks the target table up after its learn would find its own flow
    // (and must not: the flow is in the next version of the tables).
    bool own_lookups = false;

    const learn_field& a_field(int kind, bool for_write) {
        for (;;) {
            const learn_field& f = learn_fields[g.below(std::size(learn_fields))];
            if (field_in_kind(f.kind, kind) && (!for_write || f.written)) return f;
        }
    }
    // F[], F[a..b] or F[a] (at most 16 bits when a range).
    std::string a_sub(const learn_field& f, unsigned& n_bits) {
        if (g.coin(40)) {
            n_bits = f.width;
            return std::string(f.name) + "[]";
        }
        const unsigned a = g.below(f.width);
        n_bits = 1 + g.below(std::min(16u, f.width - a));
        return sub(f, a, n_bits);
    }
    // All of a field that differs between packets, or some of its low bits
    // (where the packets' addresses differ).
    std::string a_low_sub(const learn_field& f, unsigned& n_bits) {
        if (g.coin(60)) {
            n_bits = f.width;
            return std::string(f.name) + "[]";
        }
        const unsigned a = g.below(8);
        n_bits = 1 + g.below(std::min(16u, f.width - a));
        return sub(f, a, n_bits);
    }
    static std::string sub(const learn_field& f, unsigned a, unsigned n) {
        if (n == f.width) return std::string(f.name) + "[]";
        if (n == 1) return std::string(f.name) + "[" + std::to_string(a) + "]";
        return std::string(f.name) + "[" + std::to_string(a) + ".." + std::to_string(a + n - 1) + "]";
    }
    // A source of n_bits bits readable in a flow of this kind.
    std::string a_source(int kind, unsigned n_bits) {
        for (;;) {
            const learn_field& f = a_field(kind, false);
            if (f.width < n_bits) continue;
            return sub(f, g.below(f.width - n_bits + 1), n_bits);
        }
    }
    std::string a_constant(unsigned n_bits) {
        const std::uint64_t v = n_bits >= 64 ? g.rng() : g.rng() & ((std::uint64_t{1} << n_bits) - 1);
        char buf[24];
        std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(g.coin(30) ? v & 3 : v));
        return buf;
    }

    // A whole-field constant, written as ovs-ofctl reads that field (a MAC,
    // an address, decimal or hex); from the packets' values now and then.
    std::string a_value(const learn_field& f) {
        switch (f.format) {
        case 'm': return mac(g.coin(70) ? g.a_mac() : g.rng() & 0xfeffffffffff);
        case 'i': return ip4(g.coin(70) ? g.a_ip() : static_cast<std::uint32_t>(g.rng()));
        case 'd': return std::to_string(g.coin(50) ? g.below(4) : g.rng() & ((std::uint64_t{1} << f.width) - 1));
        default: return a_constant(f.width);
        }
    }

    static std::vector<std::string> prerequisites(int kind) {
        switch (kind) {
        case 1: return {"eth_type=0x806"};
        case 2: return {"eth_type=0x800"};
        case 3: return {"eth_type=0x800", "nw_proto=6"};
        case 4: return {"eth_type=0x800", "nw_proto=17"};
        default: return {};
        }
    }

    // A template whose learned flow is static flow `f` itself (its priority,
    // its match as constants), so learns modify a flow they did not add:
    // Open vSwitch keeps its timeouts, takes the learn's cookie and actions.
    learn_template overlay_of(const of::flow_mod& f) {
        const match& m = f.m;
        learn_template t;
        t.table = f.table;
        t.priority = static_cast<unsigned>(f.priority);
        t.overlay = true;
        const auto type = m.mask_of(field_id::eth_type) ? static_cast<unsigned>(m.value_of(field_id::eth_type)) : 0u;
        const auto proto = m.mask_of(field_id::nw_proto) ? static_cast<unsigned>(m.value_of(field_id::nw_proto)) : 0u;
        t.kind = type == 0x806 ? 1 : type != 0x800 ? 0 : proto == 6 ? 3 : proto == 17 ? 4 : 2;
        const field_id order[] = {field_id::in_port,  field_id::eth_type, field_id::nw_proto, field_id::eth_src,
                                  field_id::eth_dst,  field_id::vlan_tci, field_id::tun_id,   field_id::reg0,
                                  field_id::metadata, field_id::arp_op,   field_id::arp_tpa,  field_id::nw_src,
                                  field_id::nw_dst,   field_id::tp_dst};
        for (const field_id fid : order) {
            const uint128 mask = m.mask_of(fid), value = m.value_of(fid);
            if (mask == 0) continue;
            const field_info& fi = info(fid);
            std::string name = !fi.nxm.empty() ? std::string(fi.nxm) : std::string(fi.oxm);
            if (fid == field_id::tp_dst && t.kind == 4) name = "NXM_OF_UDP_DST";
            if (mask == fi.all_ones()) {
                std::string v;
                switch (fi.format) {
                case field_format::mac: v = mac(static_cast<std::uint64_t>(value)); break;
                case field_format::ipv4: v = ip4(static_cast<std::uint32_t>(value)); break;
                case field_format::decimal: v = std::to_string(static_cast<std::uint64_t>(value)); break;
                default: of::append_hex(v, value); break;
                }
                t.match.push_back(name + "[]=" + v);
                continue;
            }
            for (unsigned a = 0; a < fi.width;) { // each run of mask bits
                if (!((mask >> a) & 1)) {
                    ++a;
                    continue;
                }
                unsigned b = a;
                while (b + 1 < fi.width && ((mask >> (b + 1)) & 1)) ++b;
                std::string v;
                of::append_hex(v, (value >> a) & ((uint128{1} << (b - a + 1)) - 1));
                t.match.push_back(name + "[" + std::to_string(a) + (b > a ? ".." + std::to_string(b) : "") + "]=" + v);
                a = b + 1;
            }
        }
        return t; // no specs for a catch-all: the learned flow matches everything
    }

    learn_template make_template(std::uint8_t table, int flow_kind) {
        learn_template t;
        t.table = table;
        const bool above = own_lookups && g.coin(50); // see own_lookups
        do t.priority = above ? 201 + 2 * g.below(50) : 1 + 2 * g.below(100);
        while (std::find(used[table].begin(), used[table].end(), t.priority) != used[table].end());
        used[table].push_back(t.priority);
        t.kind = flow_kind != 0 && g.coin(60) ? flow_kind : 0;
        t.match = prerequisites(t.kind);
        const unsigned n = 1 + g.below(3);
        for (unsigned i = 0; i < n; ++i) {
            // The first spec of a kind's template uses one of that kind's fields.
            // Mostly fields that differ between packets (so one learn makes
            // many flows), else registers, tun_id, metadata, nw_ttl, arp_op.
            const bool varying = g.coin(70);
            const learn_field* f = &a_field(t.kind, false);
            while ((i == 0 && t.kind != 0 && f->kind == 0) || (varying && !f->varies)) f = &a_field(t.kind, false);
            // Some bits of a field flows cannot mask (in_port, arp_op, nw_ttl)
            // too: Open vSwitch, and flowpipe (learn.hpp build_match), leave
            // such a spec out of the learned match.
            unsigned bits = f->width;
            std::string dst = varying ? a_low_sub(*f, bits) : a_sub(*f, bits);
            unsigned form = g.below(100) < 45 ? 0 : g.coin(55) ? 1 : 2;
            if (above) form = 0;
            switch (form) {
            case 0: t.match.push_back(dst); break;                                // F: the packet's own bits
            case 1: t.match.push_back(dst + "=" + a_source(t.kind, bits)); break; // F1[..]=F2[..]
            default: // F[..]=constant (a whole in_port: a port, in decimal)
                t.match.push_back(dst + "=" + (bits == f->width ? a_value(*f) : a_constant(bits)));
                break;
            }
        }
        return t;
    }

    // learn(...) into table `target` for a flow of this kind.
    std::string a_learn(std::uint8_t target, int kind) {
        std::vector<std::size_t> fit;
        for (std::size_t i = 0; i < templates.size(); ++i)
            if (templates[i].table == target && (templates[i].kind == 0 || templates[i].kind == kind ||
                                                 (templates[i].overlay && templates[i].kind < 3)))
                fit.push_back(i);
        if (fit.empty() || (g.coin(35) && fit.size() < 3)) {
            std::optional<learn_template> t;
            if (statics && g.coin(25)) { // now and then, one of the table's own flows
                std::vector<const of::flow_mod*> in_table;
                for (const auto& f : *statics)
                    if (f.table == target) in_table.push_back(&f);
                const of::flow_mod& f = *in_table[g.below(static_cast<unsigned>(in_table.size()))];
                // When a learn replaces the actions of a flow that holds a
                // delete_learned learn, Open vSwitch drops that learn's hold on
                // its (table, cookie) and flushes them when it was the last;
                // so does flowpipe (learn.hpp flush_dropped_holds).
                t = overlay_of(f);
                if (t && t->kind >= 3 && t->kind != kind) t.reset();
                for (const auto& o : templates)
                    if (t && o.table == target && o.priority == t->priority) t.reset(); // already one
            }
            templates.push_back(t ? *t : make_template(target, kind));
            fit = {templates.size() - 1};
        }
        const learn_template& t = templates[fit[g.below(static_cast<unsigned>(fit.size()))]];
        std::string s = "learn(table=" + std::to_string(t.table) + ",priority=" + std::to_string(t.priority);
        if (g.coin(40)) s += ",idle_timeout=" + std::to_string(g.pick({10, 60, 300}));
        if (g.coin(40)) s += ",hard_timeout=" + std::to_string(g.pick({30, 300, 3600}));
        if (g.coin(15)) s += ",fin_idle_timeout=" + std::to_string(g.pick({1, 5}));
        if (g.coin(15)) s += ",fin_hard_timeout=" + std::to_string(g.pick({2, 10}));
        // limit=N counts the flows with the learn's cookie, the table's own
        // flows too when it is 0 (then the limit is mostly reached at once).
        const bool limit = g.coin(30);
        if (g.coin(limit ? 90 : 70)) s += ",cookie=" + std::to_string(g.pick({0x10, 0x11, 0x12}));
        if (limit) {
            s += ",limit=" + std::to_string(1 + g.below(4));
            if (g.coin(60))
                s += ",result_dst=" + std::string(g.coin() ? "NXM_NX_REG0[" : "NXM_NX_REG1[") +
                     std::to_string(g.below(3)) + "]";
        }
        if (g.coin(20)) s += ",delete_learned";
        for (const auto& m : t.match) s += "," + m;
        const unsigned n = g.below(4);
        for (unsigned i = 0; i < n; ++i) {
            switch (g.below(4)) {
            case 0: { // load:constant->F[..] (its prerequisites are in the learned match)
                unsigned bits = 0;
                const std::string dst = a_sub(a_field(t.kind, true), bits);
                s += ",load:" + a_constant(bits) + "->" + dst;
                break;
            }
            case 1:
            case 2: { // load:F1[..]->F2[..]
                unsigned bits = 0;
                const std::string dst = a_sub(a_field(t.kind, true), bits);
                s += ",load:" + a_source(kind, bits) + "->" + dst;
                break;
            }
            default: {
                const unsigned o = g.below(3);
                s += o == 0   ? ",output:NXM_OF_IN_PORT[]"
                     : o == 1 ? ",output:NXM_NX_REG1[0..2]"
                              : ",output:NXM_NX_REG1[0..15]";
                break;
            }
            }
        }
        return s + ")";
    }
};

// Tables a packet may look up after the learn at action `at` of flow `f`:
// the resubmits after it (and where they lead), and whatever the flows that
// resubmitted to f's table do after they get control back (`after_return`).
struct resubmit_graph {
    std::vector<of::flow_mod>& flows;
    std::uint8_t n_tables;
    std::vector<std::uint64_t> after_return; // per table, a bit per table

    static std::vector<std::uint8_t> targets(const of::flow_mod& f, std::size_t from) {
        std::vector<std::uint8_t> v;
        for (std::size_t i = from; i < f.actions.list.size(); ++i)
            if (const auto* r = std::get_if<actions::resubmit>(&f.actions.list[i]))
                v.push_back(r->table == current_table ? f.table : r->table);
        return v;
    }
    // The tables looked up from these on (themselves included).
    std::uint64_t closure(const std::vector<std::uint8_t>& start) const {
        std::uint64_t seen = 0;
        std::vector<std::uint8_t> work = start;
        while (!work.empty()) {
            const std::uint8_t t = work.back();
            work.pop_back();
            if (seen >> t & 1) continue;
            seen |= std::uint64_t{1} << t;
            for (const auto& f : flows)
                if (f.table == t)
                    for (auto u : targets(f, 0)) work.push_back(u);
        }
        return seen;
    }
    void build() {
        after_return.assign(n_tables, 0);
        for (bool changed = true; changed;) {
            changed = false;
            for (const auto& f : flows) {
                const auto ts = targets(f, 0);
                std::size_t k = 0;
                for (std::size_t i = 0; i < f.actions.list.size(); ++i) {
                    if (!std::holds_alternative<actions::resubmit>(f.actions.list[i])) continue;
                    const std::uint8_t t = ts[k++];
                    const std::uint64_t more = closure(targets(f, i + 1)) | after_return[f.table];
                    if ((after_return[t] | more) != after_return[t]) {
                        after_return[t] |= more;
                        changed = true;
                    }
                }
            }
        }
    }
    std::uint64_t later(const of::flow_mod& f, std::size_t at) const {
        return closure(targets(f, at)) | after_return[f.table];
    }
};

int gen_random_learn(unsigned seed, unsigned n_flows, unsigned n_packets, const std::string& dir, bool own_lookups) {
    rgen g{std::mt19937_64{seed * 7919u + 17u}};
    const std::uint8_t n_tables = 6;
    const std::size_t max_resubmits = 1;
    std::vector<std::vector<unsigned>> used(n_tables);
    learn_gen lg{g, {}, used, nullptr, own_lookups};
    std::vector<std::string> flows, deletes; // deletes: strict, of flows that hold a delete_learned learn
    std::size_t n_learns = 0, n_moved = 0, n_skipped = 0;
    // The tables first, then the learns (they do not change where packets go).
    std::vector<of::flow_mod> fms;
    std::vector<int> kinds;
    for (unsigned i = 0; i < n_flows; ++i) {
        of::flow_mod fm;
        int kind = 0;
        if (i < n_tables) { // each table's catch-all first: most packets get somewhere
            fm.table = static_cast<std::uint8_t>(i);
            fm.priority = 0;
            used[i].push_back(0);
        } else {
            fm.table = static_cast<std::uint8_t>(g.below(n_tables));
            unsigned prio;
            do prio = 2 * g.below(100);
            while (std::find(used[fm.table].begin(), used[fm.table].end(), prio) != used[fm.table].end());
            used[fm.table].push_back(prio);
            fm.priority = static_cast<std::int32_t>(prio);
            fm.m = g.a_match(kind);
        }
        fm.actions = g.some_actions(kind, fm.table, n_tables);
        // Unless `own_lookups`: resubmits go forward and come last (at most
        // `max_resubmits`), so that most tables are looked up only before a
        // given learn or not at all by its packet (see below). With it,
        // gen-random's resubmits stay as they are, backward and in the
        // middle too.
        std::vector<any_action> rest, resubmits;
        for (auto& a : fm.actions.list) {
            if (own_lookups) break;
            if (auto* r = std::get_if<actions::resubmit>(&a)) {
                if (fm.table + 1 >= n_tables || resubmits.size() >= max_resubmits) continue;
                if (r->table <= fm.table)
                    r->table = static_cast<std::uint8_t>(fm.table + 1 + g.below(n_tables - fm.table - 1u));
                resubmits.push_back(a);
            } else {
                rest.push_back(a);
            }
        }
        if (!own_lookups) {
            rest.insert(rest.end(), resubmits.begin(), resubmits.end());
            fm.actions.list = std::move(rest);
        }
        fms.push_back(std::move(fm));
        kinds.push_back(kind);
    }
    resubmit_graph graph{fms, n_tables, {}};
    graph.build();
    lg.statics = &fms;
    for (std::size_t i = 0; i < fms.size(); ++i) {
        of::flow_mod& fm = fms[i];
        const unsigned learns = g.coin(i < n_tables ? 60 : 40) ? (g.coin(20) ? 2 : 1) : 0;
        for (unsigned j = 0; j < learns; ++j) {
            // (own_lookups: often first, so that the packet goes on to tables after it.)
            const auto at = own_lookups && g.coin(50) ? 0u : g.below(static_cast<unsigned>(fm.actions.list.size()) + 1);
            // The learn's own table, a later one (packets go there next) or any.
            const unsigned r = g.below(10);
            auto target = static_cast<std::uint8_t>(r < 3 ? fm.table
                                                    : r < 7 && fm.table + 1 < n_tables
                                                        ? fm.table + 1 + g.below(n_tables - fm.table - 1u)
                                                        : g.below(n_tables));
            // A packet does not see what it learned itself (the flow goes into
            // the next version of the tables). Unless `own_lookups`, a learn
            // targets no table its own packet may look up after it.
            const std::uint64_t later = graph.later(fm, at);
            if (own_lookups && later != 0 && g.coin(50)) { // a table the packet looks up next
                std::vector<std::uint8_t> next;
                for (std::uint8_t t = 0; t < n_tables; ++t)
                    if (later >> t & 1) next.push_back(t);
                target = next[g.below(static_cast<unsigned>(next.size()))];
            }
            if (!own_lookups && (later >> target & 1)) {
                std::vector<std::uint8_t> ok;
                for (std::uint8_t t = 0; t < n_tables; ++t)
                    if (!(later >> t & 1)) ok.push_back(t);
                if (ok.empty()) {
                    ++n_skipped;
                    continue;
                }
                target = ok[g.below(static_cast<unsigned>(ok.size()))];
                ++n_moved;
            }
            // Parsed in a flow with this flow's match, so learn_check's rules apply.
            of::flow_mod holder;
            holder.table = fm.table;
            holder.priority = fm.priority;
            holder.m = fm.m;
            std::string text = of::format_flow(holder);
            text = text.substr(0, text.find("actions=")) + "actions=" + lg.a_learn(target, kinds[i]);
            auto parsed = of::parse_flow(text);
            if (!parsed) {
                std::cerr << "flowpipe refuses a generated learn: " << text << ": " << of::to_string(parsed.error())
                          << "\n";
                return 1;
            }
            fm.actions.list.insert(fm.actions.list.begin() + at, parsed->actions.list.front());
            ++n_learns;
        }
        // Flows holding delete_learned learns keep cookie 0, where a cookie-0
        // learn's flush can remove them, and then their own learned flows go
        // in turn (learn.hpp flush_learned cascades, as Open vSwitch does).
        const std::string text = of::format_flow(fm);
        auto back = of::parse_flow(text); // what we print must parse back as is
        if (!back || !(*back == fm)) {
            std::cerr << "round trip failed: " << text << "\n";
            return 1;
        }
        if (text.find("delete_learned") != std::string::npos && deletes.size() < 2 && g.coin(50)) {
            std::string m;
            of::append_match(m, fm.m, fm.priority);
            deletes.push_back("table=" + std::to_string(fm.table) + (m.empty() ? "" : "," + m));
        }
        flows.push_back(text);
    }
    write(dir + "/flows", flows);
    write(dir + "/generate", {"-generate"});
    std::string tables;
    for (unsigned t = 0; t < n_tables; ++t) tables += (t ? "," : "") + std::to_string(t);
    write(dir + "/table", {tables});
    write(dir + "/ports", {"1,2,3,4,5,6,7"});
    write(dir + "/delete", deletes);
    // Registers start at 0 in both phases: the data path's frames carry none.
    g.wide = true;
    auto packets = [&](unsigned n) {
        std::vector<std::string> pk;
        while (pk.size() < n) {
            std::string s = g.a_packet();
            if (s.find(",reg0=") == std::string::npos) pk.push_back(std::move(s));
        }
        return pk;
    };
    write(dir + "/packets", packets(n_packets));
    write(dir + "/packets2", packets(n_packets / 2));
    std::cout << dir << ": " << flows.size() << " flows, " << n_learns << " learn actions (" << n_moved
              << " moved to a table their packet does not look up later, " << n_skipped << " left out: none such), "
              << lg.templates.size() << " learned match shapes, " << deletes.size() << " strict deletes\n";
    return 0;
}

// ---- compare ----------------------------------------------------------------

std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> v;
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

// ---- learn syntax ------------------------------------------------------------
//
// What ovs-ofctl and flowpipe accept of learn (and the fin_timeout its
// flows carry): each text is parsed by both, and what flowpipe prints of it
// must parse in Open vSwitch too. The differences found so far are marked
// `known` with the reason (reported); one that goes away fails the case, so
// that the mark goes with it.
struct syntax_case {
    const char* flow;
    const char* known; // nullptr: the two must agree
};
const syntax_case syntax_cases[] = {
    {"actions=learn(table=1,NXM_NX_REG0[0..3]=0x5,NXM_NX_REG0[4..7]=NXM_NX_REG1[0..3],output:NXM_NX_REG1[0..2])",
     nullptr},
    {"actions=learn(table=1,limit=3,result_dst=NXM_NX_REG2[5],delete_learned,fin_idle_timeout=3,fin_hard_timeout=4,"
     "cookie=0x5,NXM_OF_VLAN_TCI[0..11],output:NXM_OF_IN_PORT[])",
     nullptr},
    {"tcp actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[]=NXM_OF_TCP_SRC[])", nullptr},
    {"udp actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[0..14]=0x35)", nullptr},
    {"actions=learn(table=1,NXM_OF_VLAN_TCI[0..11]=0x5,load:0x1->NXM_OF_VLAN_TCI[0..11])", nullptr},
    {"actions=learn(table=1,load:NXM_NX_REG0[0..15]->NXM_OF_IN_PORT[])", nullptr},
    {"ip actions=learn(table=1,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[])", nullptr},                 // dst prerequisite
    {"actions=learn(table=1,eth_type=0x800,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[])", nullptr},     // source prerequisite
    {"ip actions=learn(table=1,load:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[])", nullptr},           // load prerequisite
    {"actions=learn(table=1,NXM_OF_ARP_OP[]=1)", nullptr},                                  // constant's prerequisite
    {"actions=learn(table=1,NXM_OF_ETH_DST[]=0x892c77f2814a)", nullptr},                    // a MAC, not a number
    {"actions=learn(table=1,NXM_NX_REG0[0..7]=NXM_NX_REG1[0..3])", nullptr},                // widths differ
    {"actions=learn(table=1,load:0x100->NXM_NX_REG0[0..7])", nullptr},                      // does not fit
    {"actions=learn(table=1,result_dst=NXM_NX_REG2[5..6],NXM_OF_ETH_SRC[])", nullptr},      // not one bit
    {"actions=learn(table=255,NXM_OF_ETH_SRC[])", nullptr},                                 // no such table
    {"udp actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[]=53)", nullptr}, // printed udp_dst=53
    // An in_port constant is a port, in decimal or by name (Open vSwitch takes
    // no hex port): in_port is its 16-bit NXM_OF_IN_PORT, in_port_oxm its
    // 32-bit OXM_OF_IN_PORT; bits of in_port take any integer.
    {"actions=learn(table=1,NXM_OF_IN_PORT[]=5308)", nullptr}, // printed in_port=5308
    {"actions=learn(table=1,in_port=3)", nullptr},
    {"actions=learn(table=1,NXM_OF_IN_PORT[]=0x14bc)", nullptr}, // hex: refused
    {"actions=learn(table=1,in_port=0x3)", nullptr},
    {"actions=learn(table=1,NXM_OF_IN_PORT[0..15]=0x3)", nullptr}, // all 16 bits: a port, not hex
    {"actions=learn(table=1,NXM_OF_IN_PORT[0..15]=3)", nullptr},
    {"actions=learn(table=1,NXM_OF_IN_PORT[0..7]=0x3)", nullptr}, // bits: an integer
    {"actions=learn(table=1,in_port=LOCAL,NXM_NX_REG0[]=0x1)", nullptr},
    {"actions=learn(table=1,NXM_OF_IN_PORT[]=local)", nullptr},
    {"actions=learn(table=1,in_port=65534)", nullptr},      // LOCAL
    {"actions=learn(table=1,in_port=4294967294)", nullptr}, // OpenFlow 1.1's LOCAL
    {"actions=learn(table=1,in_port=65280)", nullptr},
    {"actions=learn(table=1,in_port=65536)", nullptr}, // out of range
    {"actions=learn(table=1,in_port=4294967039)", nullptr},
    {"actions=learn(table=1,in_port=+3)", nullptr},
    {"actions=learn(table=1,in_port=-1)", nullptr},
    {"actions=learn(table=1,in_port=UNSET)", nullptr},
    {"actions=learn(table=1,in_port=NONE)", nullptr},
    {"actions=learn(table=1,in_port=CONTROLLER)", nullptr},
    {"actions=learn(table=1,in_port_oxm=2)", nullptr},
    {"actions=learn(table=1,OXM_OF_IN_PORT[]=0x2)", nullptr},
    {"actions=learn(table=1,OXM_OF_IN_PORT[]=LOCAL)", nullptr},
    {"actions=learn(table=1,in_port=in_port,NXM_OF_IN_PORT[]=NXM_NX_REG0[0..15])", nullptr},
    // Prerequisites by Open vSwitch's field for the name given (tcp_dst,
    // udp_dst, sctp_dst; icmp_type, icmpv6_type; vlan_pcp): a learned field
    // by the learn's constants before it, a source by the holding flow.
    {"arp actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[]=53)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[]=53)", nullptr},
    {"actions=learn(table=1,NXM_OF_TCP_DST[]=53,eth_type=0x800,nw_proto=6)", nullptr}, // before its protocol
    {"actions=learn(table=1,eth_type=0x800,NXM_OF_TCP_DST[]=53,nw_proto=6)", nullptr},
    {"actions=learn(table=1,nw_proto=6,eth_type=0x800,NXM_OF_TCP_DST[]=53)", nullptr},
    {"actions=learn(table=1,eth_type=0x86dd,nw_proto=6,OXM_OF_TCP_DST[]=53)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_TCP_DST[]=53)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_proto=17,tp_dst=53)", nullptr}, // tp_dst is tcp_dst
    {"actions=learn(table=1,eth_type=0x800,nw_proto=6,udp_dst=53)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_proto=17,OXM_OF_UDP_DST[]=53)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_proto=132,OXM_OF_SCTP_DST[]=53)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_proto=132,NXM_OF_TCP_DST[]=53)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_proto=17,load:0x35->NXM_OF_UDP_DST[])", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_proto=17,load:0x35->NXM_OF_TCP_DST[])", nullptr},
    {"tcp actions=learn(table=1,NXM_OF_TCP_DST[])", nullptr},
    {"udp actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[])", nullptr},
    {"tcp actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[]=NXM_OF_TCP_SRC[])", nullptr},
    {"tcp actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[]=NXM_OF_TCP_DST[])", nullptr},
    {"udp actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[]=NXM_OF_TCP_SRC[])", nullptr},
    {"udp actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_NX_REG0[0..15]=NXM_OF_UDP_SRC[])", nullptr},
    {"udp actions=learn(table=1,output:NXM_OF_UDP_SRC[])", nullptr},
    {"tcp actions=learn(table=1,output:NXM_OF_UDP_SRC[])", nullptr},
    {"sctp actions=learn(table=1,eth_type=0x800,nw_proto=132,sctp_src=NXM_OF_TCP_SRC[])", nullptr},
    {"actions=learn(table=1,eth_type=0x86dd,nw_proto=58,icmpv6_type=3)", nullptr},
    {"actions=learn(table=1,eth_type=0x86dd,nw_proto=58,icmp_type=3)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_proto=1,icmpv6_type=3)", nullptr},
    {"icmp actions=learn(table=1,eth_type=0x86dd,nw_proto=58,NXM_NX_ICMPV6_TYPE[]=NXM_OF_ICMP_TYPE[])", nullptr},
    {"icmp6 actions=learn(table=1,eth_type=0x86dd,nw_proto=58,NXM_OF_ICMP_TYPE[]=NXM_NX_ICMPV6_TYPE[])", nullptr},
    {"actions=learn(table=1,eth_type=0x86dd,nw_proto=58,NXM_NX_ICMPV6_TYPE[]=135,nd_target=::1)", nullptr},
    {"actions=learn(table=1,eth_type=0x86dd,nw_proto=58,nd_target=::1)", nullptr},
    {"icmp6,icmp_type=135,icmp_code=15 actions=learn(table=1,load:NXM_NX_ND_TARGET[0..63]->NXM_NX_TUN_ID[])", nullptr},
    {"actions=learn(table=1,vlan_pcp=3)", nullptr},
    {"actions=learn(table=1,NXM_OF_VLAN_TCI[12]=1,OXM_OF_VLAN_PCP[]=3)", nullptr},
    {"actions=learn(table=1,dl_vlan_pcp=3)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,NXM_OF_IP_PROTO[0..3]=6,tcp_dst=53)", nullptr}, // bits of nw_proto
    {"actions=learn(table=1,eth_type=0x800,NXM_OF_ETH_TYPE[0..7]=0x11,nw_proto=6)", nullptr},
    {"actions=learn(table=1,eth_type=0x800,nw_dst=10.0.0.1,nw_proto=6,tp_src=80)", nullptr}, // ip_dst, tcp_src
    // outside a learn, an action's protocol field needs its protocol in the flow's match
    {"icmp6 actions=load:1->NXM_NX_ICMPV6_TYPE[]", nullptr},
    {"icmp6 actions=load:1->NXM_OF_ICMP_TYPE[]", nullptr},
    {"icmp actions=move:NXM_NX_ICMPV6_CODE[]->NXM_NX_REG0[0..7]", nullptr},
    {"udp actions=load:1->NXM_OF_TCP_DST[]", nullptr},
    {"actions=fin_timeout(idle_timeout=5)", nullptr},
    {"actions=fin_timeout(hard_timeout=7,idle_timeout=5)", nullptr},
    {"actions=fin_timeout(idle_timeout=5,idle_timeout=6)", nullptr}, // twice: the last
    {"actions=fin_timeout(idle=5)", nullptr},                        // no such argument
    // ports outside learns: OpenFlow 1.0's, in decimal or by name; output only
    // to a port below 65280 or a named one but ANY and UNSET
    {"in_port=0x3 actions=drop", nullptr},
    {"in_port=65534 actions=output:65534", nullptr},
    {"in_port=4294967040 actions=output:65279", nullptr},
    {"in_port=65536 actions=drop", nullptr},
    {"in_port=4294967039 actions=drop", nullptr},
    {"in_port=UNSET actions=drop", nullptr},
    {"in_port=+7 actions=resubmit(65534),resubmit(4294967292,3)", nullptr},
    {"actions=output:0x3", nullptr},
    {"actions=resubmit(0x3)", nullptr},
    {"actions=output:65280", nullptr},
    {"actions=output:4294967040", nullptr},
    {"actions=output:ANY", nullptr},
    {"actions=65535", nullptr},
    {"actions=output:UNSET", nullptr},
    {"actions=65532,TABLE,FLOOD,CONTROLLER", nullptr},
    {"actions=learn(table=1,priority=x,NXM_OF_ETH_SRC[])",
     "Open vSwitch reads learn's numbers with atoi (priority=x is 0); flowpipe checks them (parse.hpp, on purpose)"},
};

int gen_learn_syntax(const std::string& dir) {
    std::vector<std::string> flows, printed;
    for (const auto& c : syntax_cases) {
        flows.push_back(c.flow);
        auto r = of::parse_flow(c.flow);
        printed.push_back(r ? of::format_flow(*r) : "-");
    }
    write(dir + "/syntax", flows);
    write(dir + "/printed", printed);
    return 0;
}

// DIR/ovs-syntax: per case, "ok" or "error" for the text, then for what
// flowpipe printed ("-" when flowpipe refused the text).
int compare_syntax(const std::string& dir) {
    const auto printed = lines_of(dir + "/printed"), ovs = lines_of(dir + "/ovs-syntax");
    const std::size_t n = std::size(syntax_cases);
    if (printed.size() != n || ovs.size() != 2 * n) {
        std::cerr << "syntax: " << ovs.size() << " Open vSwitch results for " << n << " cases\n";
        return 1;
    }
    std::size_t diffs = 0, known = 0, refused = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const syntax_case& c = syntax_cases[i];
        const bool ovs_ok = ovs[2 * i] == "ok", ours_ok = printed[i] != "-", back_ok = ovs[2 * i + 1] == "ok";
        refused += !ovs_ok;
        const bool agree = ovs_ok == ours_ok && (!ours_ok || back_ok);
        const std::string what =
            std::string(c.flow) + "\n  Open vSwitch " + (ovs_ok ? "accepts" : "refuses") + " it, flowpipe " +
            (ours_ok ? "accepts" : "refuses") + " it" +
            (ours_ok ? ", flowpipe prints " + printed[i] + ", which Open vSwitch " + (back_ok ? "accepts" : "refuses")
                     : std::string());
        if (agree && c.known == nullptr) continue;
        if (!agree && c.known != nullptr) {
            ++known;
            std::cout << "SYNTAX KNOWN DIFFERENCE (reported): " << what << "\n  " << c.known << "\n";
            continue;
        }
        ++diffs;
        std::cout << (agree ? "SYNTAX NOW AGREES (drop its `known' mark): " : "SYNTAX DIFF: ") << what << "\n";
    }
    std::cout << dir << ": " << n << " learn texts parsed by both (" << refused << " refused by Open vSwitch), "
              << known << " known differences, " << diffs << " differences\n";
    return diffs == 0 ? 0 : 1;
}

// ---- known differences ------------------------------------------------------
//
// The learn behaviours where flowpipe differs from Open vSwitch (reported),
// each as the smallest case that shows it: `ovs_oracle.py` runs them as any
// learn case and expects a difference; one that goes away fails, so that
// its mark (and the construct gen-random-learn leaves out for it) goes too.
struct known_case {
    const char* name;
    const char* reason; // nullptr: a case that must agree (a difference fixed, kept as a test)
    std::vector<std::string> flows, packets, packets2, deletes;
    const char* tables;
};

int gen_learn_known(const std::string& dir) {
    const std::vector<known_case> cases = {
        // Must agree: a packet does not see the flow it learned itself (the
        // flow goes into the next version of the tables), the next one does.
        {"self-visible",
         nullptr,
         {"table=0,priority=10 actions=learn(table=1,priority=20,NXM_OF_IN_PORT[],load:0x5->NXM_NX_REG0[]),"
          "resubmit(,1)",
          "table=1,priority=5 actions=output:2", "table=1,priority=6,reg0=5 actions=output:3"},
         {"in_port=1"},
         {"in_port=1"},
         {},
         "1"},
        // Must agree (no reason): a learn matching NXM_OF_IN_PORT[]=2 learns
        // in_port=2 and rewrites the static flow priority=20,in_port=2;
        // in_port=LOCAL and in_port_oxm=3 constants; a TCP flow learned by an
        // ARP flow. Open vSwitch's dump-flows prints the learns as
        // `in_port=2`, `in_port=LOCAL`, `in_port_oxm=3`, `tcp_dst=53`, and
        // flowpipe reads and prints them the same.
        {"learned-in_port",
         nullptr,
         {"table=0,priority=20,in_port=2 actions=output:3",
          "table=0,priority=10,in_port=1 actions=learn(table=0,priority=20,NXM_OF_IN_PORT[]=2,load:0x1->NXM_NX_REG0[]),"
          "learn(table=1,priority=5,in_port=LOCAL,load:0x2->NXM_NX_REG1[]),"
          "learn(table=1,priority=6,in_port_oxm=3,load:0x3->NXM_NX_REG1[]),output:3",
          "table=0,priority=11,in_port=4,arp actions=learn(table=1,priority=8,eth_type=0x800,nw_proto=6,"
          "NXM_OF_TCP_DST[]=53,NXM_OF_IP_SRC[]=NXM_OF_ARP_SPA[],load:0x4->NXM_NX_REG1[]),output:3"},
         {"in_port=1", "in_port=4,arp,arp_spa=10.0.0.7"},
         {"in_port=2"},
         {},
         "0,1"},
        // Must agree: OXM_OF_IN_PORT[0..15] is half of the 32-bit OXM in_port,
        // which flows cannot mask, so Open vSwitch leaves it out of the
        // learned match (the same bits as NXM_OF_IN_PORT[], which it learns),
        // even with the other half; so are two halves of NXM_OF_IN_PORT.
        {"oxm-in_port-bits",
         nullptr,
         {"table=0,priority=10,in_port=1 actions=learn(table=1,priority=20,OXM_OF_IN_PORT[0..15],"
          "load:0x1->NXM_NX_REG0[]),learn(table=1,priority=21,OXM_OF_IN_PORT[0..15]=0x3,load:0x2->NXM_NX_REG0[]),"
          "learn(table=1,priority=22,OXM_OF_IN_PORT[0..15]=NXM_NX_REG1[0..15],load:0x3->NXM_NX_REG0[]),"
          "learn(table=1,priority=23,OXM_OF_IN_PORT[0..15],OXM_OF_IN_PORT[16..31],load:0x4->NXM_NX_REG0[]),"
          "learn(table=1,priority=24,NXM_OF_IN_PORT[0..15],load:0x5->NXM_NX_REG0[]),"
          "learn(table=1,priority=25,NXM_OF_IN_PORT[0..7],NXM_OF_IN_PORT[8..15],load:0x6->NXM_NX_REG0[]),output:3",
          "table=1,priority=5 actions=output:2"},
         {"in_port=1"},
         {"in_port=2"},
         {},
         "1"},
    };
    std::vector<std::string> names, agree;
    for (const auto& c : cases) {
        const std::string d = dir + "/" + c.name;
        if (std::system(("mkdir -p '" + d + "'").c_str()) != 0) return 1;
        write(d + "/flows", c.flows);
        write(d + "/packets", c.packets);
        write(d + "/packets2", c.packets2);
        write(d + "/delete", c.deletes);
        write(d + "/table", {c.tables});
        write(d + "/generate", {"-generate"});
        if (c.reason != nullptr) {
            write(d + "/known", {c.reason});
            names.push_back(c.name);
        } else {
            agree.push_back(c.name);
        }
    }
    write(dir + "/cases", names);
    write(dir + "/agree", agree);
    return 0;
}

// A flow of a dump reduced to what is compared: match, priority, cookie,
// timeouts, actions, and n_packets when asked (durations and ages are not:
// no time passes in a trace, but Open vSwitch's clock runs).
std::string comparable(const of::flow_mod& f, const std::string& line, bool with_counters) {
    of::flow_mod n;
    n.table = f.table;
    n.priority = f.priority;
    n.cookie = f.cookie;
    n.m = f.m;
    n.actions = f.actions;
    n.idle_timeout = f.idle_timeout;
    n.hard_timeout = f.hard_timeout;
    std::string s = of::format_flow(n);
    if (with_counters) {
        const std::size_t at = line.find("n_packets=");
        s += at == std::string::npos ? " n_packets=?" : " " + line.substr(at, line.find(',', at) - at);
    }
    return s;
}

std::vector<unsigned> compared_tables(const std::string& dir) {
    const auto tl = lines_of(dir + "/table");
    std::vector<unsigned> v;
    if (tl.empty()) return {20u};
    std::stringstream ss(tl[0]);
    for (std::string t; std::getline(ss, t, ',');) v.push_back(static_cast<unsigned>(std::stoul(t)));
    return v;
}

// dump-flows lines (Open vSwitch's or ours) of the compared tables, parsed
// with flowpipe's parser, sorted.
bool table_flows(const std::vector<std::string>& lines, const std::vector<unsigned>& tables, bool with_counters,
                 std::vector<std::string>& out) {
    for (const auto& line : lines) {
        if (line.find("actions=") == std::string::npos) continue;
        std::string l = line;
        // A learned in_port from 16 bits of another field can be 0xff00 or
        // more: Open vSwitch prints its reserved names for those (in_port=ANY
        // for 0xffff), which flowpipe reads as its 32-bit reserved ports
        // (reported): the 16-bit number is compared.
        if (const std::size_t at = l.find("in_port="); at != std::string::npos && at < l.find("actions=")) {
            static const std::pair<const char*, unsigned> reserved[] = {
                {"IN_PORT", 0xfff8}, {"TABLE", 0xfff9},      {"NORMAL", 0xfffa}, {"FLOOD", 0xfffb},
                {"ALL", 0xfffc},     {"CONTROLLER", 0xfffd}, {"LOCAL", 0xfffe},  {"ANY", 0xffff}};
            const std::size_t v = at + 8, end = l.find_first_of(", ", v);
            for (const auto& [name, port] : reserved)
                if (l.compare(v, end - v, name) == 0) l.replace(v, end - v, std::to_string(port));
        }
        auto f = of::parse_flow(l);
        if (!f) {
            std::cerr << "cannot parse dump-flows line: " << line << ": " << of::to_string(f.error()) << "\n";
            return false;
        }
        if (std::find(tables.begin(), tables.end(), f->table) != tables.end())
            out.push_back(comparable(*f, l, with_counters));
    }
    std::sort(out.begin(), out.end());
    return true;
}

std::vector<std::string> dump_lines(generic_pipeline& p) {
    std::vector<std::string> v;
    std::istringstream ss(of::dump_flows(p, 0));
    for (std::string l; std::getline(ss, l);) v.push_back(l);
    return v;
}

// Two sorted flow lists: the differences, printed (up to 20) with labels.
long diff_flows(const std::vector<std::string>& a, const std::vector<std::string>& b, const std::string& what,
                const char* a_name, const char* b_name) {
    std::vector<std::string> only_a, only_b;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
    std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
    std::size_t shown = 0;
    for (const auto& f : only_a)
        if (++shown <= 20) std::cout << what << " DIFF only in " << a_name << ": " << f << "\n";
    for (const auto& f : only_b)
        if (++shown <= 20) std::cout << what << " DIFF only in " << b_name << ": " << f << "\n";
    return static_cast<long>(only_a.size() + only_b.size());
}

// The learn targets after a phase: Open vSwitch's dump-flows (DIR/<ovs_file>)
// against the traced pipeline's (with n_packets: a trace credits no flow in
// either), and the data path's pipeline against the traced one (without:
// the data path credits its flows). `learned`: flows in Open vSwitch's dump
// that are not one of DIR/flows as written. Returns the number of
// differences, -1 on an error.
struct table_check {
    long ovs_diffs = 0, engine_diffs = 0;
    std::size_t flows = 0, learned = 0, rewritten = 0; // rewritten: static flows a learn modified
};

// A compared flow's table, priority and match (what a learn's strict modify finds).
std::string flow_key_of(const std::string& comparable) {
    std::string k = comparable.substr(0, comparable.find(" actions="));
    for (const char* attr : {"cookie=", "idle_timeout=", "hard_timeout="})
        if (const std::size_t at = k.find(attr); at != std::string::npos) k.erase(at, k.find(", ", at) + 2 - at);
    return k;
}
bool compare_tables(generic_pipeline& traced, generic_pipeline* engine, const std::string& dir,
                    const std::string& ovs_file, const std::string& label, table_check& c) {
    const auto tables = compared_tables(dir);
    std::vector<std::string> theirs, ours, static_flows, theirs_plain, engine_flows, ours_plain;
    const auto ovs_lines = lines_of(dir + "/" + ovs_file);
    if (!table_flows(ovs_lines, tables, true, theirs) || !table_flows(dump_lines(traced), tables, true, ours) ||
        !table_flows(lines_of(dir + "/flows"), tables, false, static_flows) ||
        !table_flows(ovs_lines, tables, false, theirs_plain) ||
        !table_flows(dump_lines(traced), tables, false, ours_plain))
        return false;
    if (engine && !table_flows(dump_lines(*engine), tables, false, engine_flows)) return false;
    c.flows = theirs.size();
    c.learned = 0;
    std::vector<std::string> static_keys;
    for (const auto& f : static_flows) static_keys.push_back(flow_key_of(f));
    std::sort(static_keys.begin(), static_keys.end());
    for (const auto& t : theirs_plain)
        if (!std::binary_search(static_flows.begin(), static_flows.end(), t)) {
            ++c.learned;
            c.rewritten += std::binary_search(static_keys.begin(), static_keys.end(), flow_key_of(t));
        }
    c.ovs_diffs = diff_flows(theirs, ours, "TABLES " + label, "Open vSwitch", "flowpipe:    ");
    if (theirs.empty() && ovs_file == "ovs-tables1") { // after deletes it may be
        std::cout << "TABLES " << label << ": Open vSwitch's dump is empty\n";
        ++c.ovs_diffs;
    }
    c.engine_diffs = engine ? diff_flows(ours_plain, engine_flows, "ENGINE TABLES " + label, "the trace's tables",
                                         "the data path's tables")
                            : 0;
    return true;
}

// The strict deletes of DIR/delete, through remove_flows (delete_learned
// removes what the deleted flows' learns learned, as in Open vSwitch).
bool apply_deletes(generic_pipeline& p, const std::string& dir) {
    for (const auto& l : lines_of(dir + "/delete")) {
        auto fm = of::parse_flow_mod(of::flow_command::remove_strict, l);
        if (!fm) {
            std::cerr << "delete: " << l << ": " << of::to_string(fm.error()) << "\n";
            return false;
        }
        remove_flows(p, fm->table, fm->m, true, fm->priority);
    }
    return true;
}

int compare(const std::string& dir) {
    // The trace runs on `p`, the data path on `q`, both from DIR/flows: a
    // trace credits no flow counters (as Open vSwitch's), and with learns
    // the two must learn the same flows.
    generic_pipeline p, q;
    std::string text;
    {
        std::ifstream in(dir + "/flows");
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    auto flows = of::parse_flows(text);
    if (!flows) {
        std::cerr << "flows: " << of::to_string(flows.error()) << "\n";
        return 1;
    }
    for (const auto& f : *flows)
        for (generic_pipeline* x : {&p, &q})
            if (auto st = of::apply(*x, f, 0); !st) {
                std::cerr << "flow refused: " << of::format_flow(f) << ": " << st.what() << "\n";
                return 1;
            }
    auto packets = lines_of(dir + "/packets");
    const std::size_t phase1 = packets.size();
    for (auto& l : lines_of(dir + "/packets2")) packets.push_back(std::move(l));
    const bool generate = !lines_of(dir + "/generate").empty();
    const auto ovs = lines_of(dir + "/ovs");
    if (ovs.size() != 2 * packets.size()) {
        std::cerr << "ovs results: " << ovs.size() << " lines for " << packets.size() << " packets\n";
        return 1;
    }
    table_check t1, t2;
    std::vector<std::uint32_t> bridge_ports; // DIR/ovs-ports: the ports Open vSwitch's bridge has
    for (const auto& l : lines_of(dir + "/ovs-ports")) {
        std::stringstream ss(l);
        for (std::string n; std::getline(ss, n, ',');)
            if (!n.empty()) bridge_ports.push_back(static_cast<std::uint32_t>(std::stoul(n)));
    }
    std::size_t no_such_port = 0;
    // What the learns the trace ran did (its " -> ..." lines).
    static constexpr const char* learn_outcomes[] = {"-> learned: a new flow", "-> learned: the same flow",
                                                     "-> learned: the flow's actions", "-> not learned: limit",
                                                     "-> not learned: the target table"};
    std::array<std::size_t, std::size(learn_outcomes)> learn_counts{};
    std::size_t diffs = 0, intended = 0, dropped = 0, engine_diffs = 0, engine_checked = 0;
    bool engine_complete = true; // every packet also ran on the data path (else its learns are missing there)
    for (std::size_t i = 0; i < packets.size(); ++i) {
        if (generate && i == phase1 &&
            !compare_tables(p, engine_complete ? &q : nullptr, dir, "ovs-tables1", "after packets", t1))
            return 1;
        auto k = of::parse_packet(packets[i]);
        if (!k) {
            std::cerr << "packet " << i + 1 << ": " << of::to_string(k.error()) << "\n";
            return 1;
        }
        const auto r = of::trace(p, *k, {.generate = generate, .now_ms = 0});
        for (std::size_t o = 0; o < std::size(learn_outcomes); ++o)
            for (std::size_t at = r.text.find(learn_outcomes[o]); at != std::string::npos;
                 at = r.text.find(learn_outcomes[o], at + 1))
                ++learn_counts[o];
        // The data path itself, on the real frame: it must do what the trace
        // says. A frame carries in_port and tunnel metadata but no registers,
        // so packets that start with registers set are traced only.
        bool frame_carries_key = k->metadata == 0;
        for (auto r : k->regs) frame_carries_key &= r == 0;
        engine_checked += frame_carries_key;
        engine_complete &= frame_carries_key;
        if (frame_carries_key) {
            std::array<std::uint8_t, 256> buf{};
            const std::size_t len = compose_frame(*k, std::span<std::uint8_t>(buf.data() + 64, buf.size() - 64));
            packet pkt{buf.data() + 64, static_cast<std::uint32_t>(len), 64, k->in_port, 0, k->tun_id};
            burst_output out(burst_output::config{.max_clones = 4096, .max_outputs = 4096});
            q.run(std::span<packet>(&pkt, 1), 0, out);
            std::string engine_out;
            for (const auto& t : out.outputs()) engine_out += (engine_out.empty() ? "" : ",") + std::to_string(t.port);
            if (engine_out.empty()) engine_out = "drop";
            if (engine_out != r.output_ports() && ++engine_diffs <= 5)
                std::cout << "ENGINE DIFF packet " << i + 1 << ": " << packets[i]
                          << "\n  trace output: " << r.output_ports() << "   engine output: " << engine_out << "\n";
        }
        std::string ovs_flow = ovs[2 * i].substr(ovs[2 * i].find(": ") + 2);
        const std::string ovs_out = ovs[2 * i + 1].substr(ovs[2 * i + 1].find(": ") + 2);
        auto ok = of::parse_packet(ovs_flow, {.lenient = true});
        if (!ok) {
            std::cerr << "packet " << i + 1 << ": cannot read Open vSwitch's final flow: " << ovs_flow << ": "
                      << of::to_string(ok.error()) << "\n";
            return 1;
        }
        if (k->in_port == ports::none) ok->in_port = ports::none;
        const std::string ours = of::format_packet(r.final_key), theirs = of::format_packet(*ok);
        std::string our_out = r.output_ports();
        if (!bridge_ports.empty()) {
            // flowpipe has no port table: an output to a port the bridge does
            // not have (a learned output:NXM_NX_REG1[0..15]) is emitted, where
            // Open vSwitch skips it ("Nonexistent output port"). Counted, and
            // left out of the comparison (reported).
            std::string kept;
            for (const auto& o : r.outputs) {
                if (o.port < 0xff00 &&
                    std::find(bridge_ports.begin(), bridge_ports.end(), o.port) == bridge_ports.end()) {
                    ++no_such_port;
                    continue;
                }
                if (!kept.empty()) kept += ',';
                of::append_port(kept, o.port);
            }
            our_out = kept.empty() ? "drop" : kept;
        }
        dropped += our_out == "drop";
        if (ours == theirs && our_out == ovs_out) continue;
        // One VLAN tag in flowpipe's key: a push onto a tagged frame keeps one
        // tag where Open vSwitch stacks a second (action/vlan.hpp, README).
        const bool double_tag =
            ovs_flow.find("vlan_tci1=0x1") != std::string::npos || ovs_flow.find("dl_vlan1=") != std::string::npos;
        if (double_tag) {
            ++intended;
            continue;
        }
        ++diffs;
        if (diffs <= 20) {
            std::cout << "DIFF packet " << i + 1 << ": " << packets[i] << "\n"
                      << "  ovs:      " << theirs << "\n  flowpipe: " << ours << "\n"
                      << "  ovs output: " << ovs_out << "   flowpipe output: " << our_out << "\n";
            if (diffs <= 3) { // the trace, its first 60 lines
                std::size_t at = 0;
                for (int n = 0; n < 60 && at < r.text.size(); ++n) at = r.text.find('\n', at) + 1;
                std::cout << r.text.substr(0, at == 0 ? r.text.size() : at);
            }
        }
    }
    // After the last packet, and DIR/delete's strict deletes: the tables again.
    const bool after = generate && !lines_of(dir + "/ovs-tables2").empty();
    if (after) {
        if (!apply_deletes(p, dir) || !apply_deletes(q, dir)) return 1;
        if (!compare_tables(p, engine_complete ? &q : nullptr, dir, "ovs-tables2", "at the end", t2)) return 1;
    }
    std::cout << dir << ": " << flows->size() << " flows, " << packets.size() << " packets compared, " << dropped
              << " dropped, " << intended << " intended differences (stacked VLAN tags), " << diffs
              << " differences; data path run on " << engine_checked << " of them: " << engine_diffs
              << " disagreements with the trace";
    if (no_such_port != 0) std::cout << "; " << no_such_port << " outputs to ports the bridge does not have left out";
    std::cout << "\n";
    if (generate) {
        std::cout << dir << ": learning: " << phase1 << " packets traced with -generate, then the learn targets ("
                  << t1.flows << " flows in Open vSwitch's dump, " << t1.learned
                  << " of them learned): " << t1.ovs_diffs << " differences";
        if (after)
            std::cout << "; then " << packets.size() - phase1 << " packets and " << lines_of(dir + "/delete").size()
                      << " strict deletes, then the learn targets again (" << t2.flows << " flows, " << t2.learned
                      << " learned, " << t2.rewritten << " of them static flows a learn rewrote): " << t2.ovs_diffs
                      << " differences";
        else
            std::cout << "; then " << packets.size() - phase1 << " more packets";
        std::cout << "; learns run by the trace: " << learn_counts[0] << " added, " << learn_counts[1] << " refreshed, "
                  << learn_counts[2] << " modified, " << learn_counts[3] << " refused by limit, " << learn_counts[4]
                  << " failed";
        std::cout << "; the data path's tables against the trace's: "
                  << (engine_complete ? std::to_string(t1.engine_diffs + t2.engine_diffs) + " differences"
                                      : std::string("not compared (packets with registers ran in the trace only)"))
                  << "\n";
    }
    const long table_diffs = t1.ovs_diffs + t2.ovs_diffs + t1.engine_diffs + t2.engine_diffs;
    return diffs == 0 && engine_diffs == 0 && table_diffs == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "gen-brtun" && argc == 3) return gen_brtun(argv[2]);
    if (cmd == "gen-learn-options" && argc == 3) return gen_learn_options(argv[2]);
    if (cmd == "gen-brtun-learn" && argc == 4) return gen_brtun_learn(argv[2], std::string(argv[3]) == "dvr");
    if (cmd == "gen-random" && argc == 6)
        return gen_random(static_cast<unsigned>(std::stoul(argv[2])), static_cast<unsigned>(std::stoul(argv[3])),
                          static_cast<unsigned>(std::stoul(argv[4])), argv[5]);
    if (cmd == "gen-random-learn" && argc >= 6) {
        bool own_lookups = false;
        for (int i = 6; i < argc; ++i) {
            const std::string opt = argv[i];
            if (opt == "own-lookups")
                own_lookups = true;
            else
                return 2;
        }
        return gen_random_learn(static_cast<unsigned>(std::stoul(argv[2])), static_cast<unsigned>(std::stoul(argv[3])),
                                static_cast<unsigned>(std::stoul(argv[4])), argv[5], own_lookups);
    }
    if (cmd == "gen-learn-syntax" && argc == 3) return gen_learn_syntax(argv[2]);
    if (cmd == "gen-learn-known" && argc == 3) return gen_learn_known(argv[2]);
    if (cmd == "compare-syntax" && argc == 3) return compare_syntax(argv[2]);
    if (cmd == "compare" && argc == 3) return compare(argv[2]);
    std::cerr << "usage: ovs_oracle_driver gen-brtun DIR | gen-brtun-learn DIR nodvr|dvr | gen-learn-options DIR | "
                 "gen-random SEED N_FLOWS N_PACKETS DIR | gen-random-learn SEED N_FLOWS N_PACKETS DIR "
                 "[own-lookups] | compare DIR\n";
    return 2;
}
