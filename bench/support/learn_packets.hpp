// The packets br-tun's table-10 learn sees in the learn benchmarks
// (learn_bench, learn_icount): from tunnel port 2 with VNI 6, after table 4
// set local VLAN 2, only the source MAC changing.
#pragma once

#include <flowpipe/core/flow_key.hpp>

#include <cstdint>

namespace flowpipe::bench {

constexpr std::uint16_t lvid = 2;
constexpr std::uint64_t seg = 6;
constexpr std::uint32_t tun_port = 2, patch_int = 1;

inline flow_key learn_packet_key(std::uint64_t mac) {
    flow_key k{};
    k.in_port = tun_port;
    k.tun_id = seg;
    k.eth_src = mac;
    k.eth_dst = 0xfa163eb3e77aULL;
    k.eth_type = 0x0800;
    k.vlan_tci = 0x1000 | lvid; // after table 4's mod_vlan_vid
    return k;
}

} // namespace flowpipe::bench
