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
//       (Open vSwitch's dump-flows in DIR/ovs-table20)
//   ovs_oracle_driver gen-learn-options DIR
//       one learn with every option (limit, result_dst, cookie, timeouts,
//       constants, prerequisites), its target table (DIR/table) compared
//   ovs_oracle_driver gen-random SEED N_FLOWS N_PACKETS DIR
//       random flow tables (masks, priorities, resubmits forward and back,
//       load/move/set_field, VLAN push/pop/mod, outputs) and random packets
//   ovs_oracle_driver compare DIR
//       traces DIR/packets through DIR/flows with flowpipe and compares, packet
//       by packet, the final packet fields and the output ports with what Open
//       vSwitch said (DIR/ovs: "Final flow: ..." and "Output: ..." per packet)
//
// Flows are written with flowpipe's own printer, so Open vSwitch parsing them
// also checks that we print what it accepts. Packets are written as
// ofproto/trace takes them.
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
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

    std::uint64_t a_mac() {
        return pick({0x000000000001, 0x000000000002, 0xfa163e000003, 0x01005e000001, 0xffffffffffff});
    }
    std::uint32_t a_ip() { return static_cast<std::uint32_t>(pick({0x0a000001, 0x0a000002, 0x0a010203, 0xc0a80001})); }

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

// ---- compare ----------------------------------------------------------------

std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> v;
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

// A table-20 flow reduced to what is compared: match, priority, actions,
// timeouts (counters, ages and durations are not).
std::string comparable(const of::flow_mod& f) {
    of::flow_mod n;
    n.table = f.table;
    n.priority = f.priority;
    n.m = f.m;
    n.actions = f.actions;
    n.idle_timeout = f.idle_timeout;
    n.hard_timeout = f.hard_timeout;
    return of::format_flow(n);
}

// dump-flows lines (Open vSwitch's or ours), parsed with flowpipe's parser.
bool table_flows(const std::vector<std::string>& lines, unsigned table, std::vector<std::string>& out) {
    for (const auto& l : lines) {
        if (l.find("actions=") == std::string::npos) continue;
        auto f = of::parse_flow(l);
        if (!f) {
            std::cerr << "cannot parse dump-flows line: " << l << ": " << of::to_string(f.error()) << "\n";
            return false;
        }
        if (f->table == table) out.push_back(comparable(*f));
    }
    std::sort(out.begin(), out.end());
    return true;
}

// Table 20 after the learning phase: Open vSwitch's dump-flows (DIR/ovs-table20)
// against ours. Returns the number of differences, -1 on an error.
long compare_table20(generic_pipeline& p, const std::string& dir, std::size_t& learned) {
    std::vector<std::string> ours_lines, theirs, ours;
    {
        std::istringstream ss(of::dump_flows(p, 0));
        for (std::string l; std::getline(ss, l);) ours_lines.push_back(l);
    }
    const auto tl = lines_of(dir + "/table");
    const unsigned table = tl.empty() ? 20u : static_cast<unsigned>(std::stoul(tl[0]));
    if (!table_flows(lines_of(dir + "/ovs-table20"), table, theirs) || !table_flows(ours_lines, table, ours)) return -1;
    learned = 0;
    for (const auto& t : theirs)
        learned += t.find("hard_timeout=300") != std::string::npos || t.find("idle_timeout=60") != std::string::npos;
    long diffs = 0;
    std::vector<std::string> only_theirs, only_ours;
    std::set_difference(theirs.begin(), theirs.end(), ours.begin(), ours.end(), std::back_inserter(only_theirs));
    std::set_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(), std::back_inserter(only_ours));
    for (const auto& f : only_theirs) std::cout << "TABLE 20 DIFF only in Open vSwitch: " << f << "\n";
    for (const auto& f : only_ours) std::cout << "TABLE 20 DIFF only in flowpipe:     " << f << "\n";
    diffs = static_cast<long>(only_theirs.size() + only_ours.size());
    if (theirs.empty()) {
        std::cout << "TABLE 20: Open vSwitch's dump is empty\n";
        ++diffs;
    }
    return diffs;
}

int compare(const std::string& dir) {
    generic_pipeline p;
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
        if (auto st = of::apply(p, f, 0); !st) {
            std::cerr << "flow refused: " << of::format_flow(f) << ": " << st.what() << "\n";
            return 1;
        }
    auto packets = lines_of(dir + "/packets");
    const std::size_t phase1 = packets.size();
    for (auto& l : lines_of(dir + "/packets2")) packets.push_back(std::move(l));
    const bool generate = !lines_of(dir + "/generate").empty();
    const auto ovs = lines_of(dir + "/ovs");
    std::size_t table_diffs = 0, learned_compared = 0, table_flows = 0;
    if (ovs.size() != 2 * packets.size()) {
        std::cerr << "ovs results: " << ovs.size() << " lines for " << packets.size() << " packets\n";
        return 1;
    }
    std::size_t diffs = 0, intended = 0, dropped = 0, engine_diffs = 0, engine_checked = 0;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        if (generate && i == phase1) {
            const auto t = compare_table20(p, dir, learned_compared);
            if (t < 0) return 1;
            table_diffs = static_cast<std::size_t>(t);
            table_flows = 0;
            for (const auto& l : lines_of(dir + "/ovs-table20")) table_flows += l.find("actions=") != std::string::npos;
        }
        auto k = of::parse_packet(packets[i]);
        if (!k) {
            std::cerr << "packet " << i + 1 << ": " << of::to_string(k.error()) << "\n";
            return 1;
        }
        const auto r = of::trace(p, *k, {.generate = generate, .now_ms = 0});
        // The data path itself, on the real frame: it must do what the trace
        // says. A frame carries in_port and tunnel metadata but no registers,
        // so packets that start with registers set are traced only.
        bool frame_carries_key = k->metadata == 0;
        for (auto r : k->regs) frame_carries_key &= r == 0;
        engine_checked += frame_carries_key;
        if (frame_carries_key) {
            std::array<std::uint8_t, 256> buf{};
            const std::size_t len = compose_frame(*k, std::span<std::uint8_t>(buf.data() + 64, buf.size() - 64));
            packet pkt{buf.data() + 64, static_cast<std::uint32_t>(len), 64, k->in_port, 0, k->tun_id};
            burst_output out(burst_output::config{.max_clones = 4096, .max_outputs = 4096});
            p.run(std::span<packet>(&pkt, 1), 0, out);
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
        const std::string our_out = r.output_ports();
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
            if (diffs <= 3) std::cout << r.text;
        }
    }
    std::cout << dir << ": " << flows->size() << " flows, " << packets.size() << " packets compared, " << dropped
              << " dropped, " << intended << " intended differences (stacked VLAN tags), " << diffs
              << " differences; data path run on " << engine_checked << " of them: " << engine_diffs
              << " disagreements with the trace\n";
    if (generate)
        std::cout << dir << ": learning: " << phase1
                  << " packets traced with -generate, then the target table compared (" << table_flows
                  << " flows in Open vSwitch's dump, " << learned_compared << " of them learned): " << table_diffs
                  << " differences; then " << packets.size() - phase1 << " packets from patch-int\n";
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
    if (cmd == "compare" && argc == 3) return compare(argv[2]);
    std::cerr << "usage: ovs_oracle_driver gen-brtun DIR | gen-brtun-learn DIR nodvr|dvr | gen-learn-options DIR | "
                 "gen-random SEED N_FLOWS N_PACKETS DIR | compare DIR\n";
    return 2;
}
