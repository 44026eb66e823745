// From a frame to its flow key (Open vSwitch's flow_extract).
//
// proto::parse_frame finds the layers with every bound checked; this file
// only reads fields from layers that parse_frame recorded as complete, so it
// needs no checks of its own. Fields of absent layers stay zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/proto/parse.hpp>

namespace flowpipe {

// Zeroes every header field of `key`, leaving the metadata (in_port, tunnel,
// registers, metadata). The header fields are two ranges of the key's layout,
// so this is a few wide stores, not a copy of the key.
inline void clear_headers(flow_key& key) noexcept {
    constexpr std::size_t a = offsetof(flow_key, eth_src), a_end = offsetof(flow_key, in_port);
    constexpr std::size_t b = offsetof(flow_key, arp_spa), b_end = sizeof(flow_key);
    static_assert(offsetof(flow_key, metadata) < a && offsetof(flow_key, tun_id) < a &&
                      offsetof(flow_key, regs) + sizeof(flow_key::regs) == b,
                  "flow_key layout: header fields must be the ranges [eth_src, in_port) and [arp_spa, end)");
    auto* bytes = reinterpret_cast<unsigned char*>(&key);
    std::memset(bytes + a, 0, a_end - a);
    std::memset(bytes + b, 0, b_end - b);
}

// Sets the header fields of `key` from a parsed frame, those of absent layers
// to zero (a key reused for the next packet keeps nothing of the last one);
// metadata (in_port, tunnel, registers) is left as the caller set it.
inline void extract_headers(const std::uint8_t* frame, const proto::frame_layout& l, flow_key& key) noexcept {
    using namespace proto;
    clear_headers(key);
    if (!l.has_ethernet) return;
    key.eth_dst = load_be48(frame + eth_dst_offset);
    key.eth_src = load_be48(frame + eth_src_offset);
    key.eth_type = l.eth_type;
    if (l.has_vlan) key.vlan_tci = static_cast<std::uint16_t>(load_be16(frame + eth_header_len) | vlan_cfi);
    const std::uint8_t* p = frame + l.l3;
    switch (l.l3_type) {
    case l3_kind::none: return;
    case l3_kind::arp: {
        // Open vSwitch keeps the low 8 bits of the opcode (in nw_proto) and
        // reads an opcode above 0xff as 0.
        const std::uint16_t op = load_be16(p + arp_op_offset);
        key.arp_op = op <= 0xff ? op : 0;
    }
        key.arp_sha = load_be48(p + arp_sha_offset);
        key.arp_spa = load_be32(p + arp_spa_offset);
        key.arp_tha = load_be48(p + arp_tha_offset);
        key.arp_tpa = load_be32(p + arp_tpa_offset);
        return;
    case l3_kind::ipv4:
        key.nw_src = load_be32(p + ipv4_src_offset);
        key.nw_dst = load_be32(p + ipv4_dst_offset);
        key.nw_proto = p[ipv4_proto_offset];
        key.nw_tos = p[ipv4_tos_offset];
        key.nw_ttl = p[ipv4_ttl_offset];
        break;
    case l3_kind::ipv6:
        key.ipv6_src = load_be128(p + ipv6_src_offset);
        key.ipv6_dst = load_be128(p + ipv6_dst_offset);
        key.nw_proto = p[ipv6_next_header_offset];
        // Traffic class straddles the first two bytes.
        key.nw_tos = static_cast<std::uint8_t>(((p[0] & 0x0f) << 4) | (p[1] >> 4));
        key.nw_ttl = p[ipv6_hop_limit_offset];
        break;
    }
    const std::uint8_t* t = frame + l.l4;
    switch (l.l4_type) {
    case l4_kind::none: return;
    case l4_kind::tcp:
    case l4_kind::udp:
    case l4_kind::sctp:
        key.tp_src = load_be16(t);
        key.tp_dst = load_be16(t + 2);
        return;
    case l4_kind::icmp:
    case l4_kind::icmpv6:
        key.icmp_type = t[0];
        key.icmp_code = t[1];
        if (l.nd) key.nd_target = load_be128(t + nd_target_offset);
        return;
    }
}

// Parses and extracts in one step; returns the layout for later rewriting.
inline proto::frame_layout extract(const std::uint8_t* frame, std::size_t len, flow_key& key) noexcept {
    const proto::frame_layout l = proto::parse_frame(frame, len);
    extract_headers(frame, l, key);
    return l;
}

} // namespace flowpipe
