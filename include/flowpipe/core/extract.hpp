// From a frame to its flow key (Open vSwitch's flow_extract).
//
// proto::parse_frame finds the layers with every bound checked; this file
// only reads fields from layers that parse_frame recorded as complete, so it
// needs no checks of its own. Fields of absent layers stay zero.
//
// The common frame of a switch's data path (Ethernet, at most one 802.1Q
// tag, IPv4 without options, not a later fragment, UDP or TCP, all of it
// inside the frame) takes a straight path, extract_fast: one test per
// condition that makes it common, then the fields at fixed offsets. Any other
// frame, and any doubt, goes to the full parser: extract_fast answers false
// and writes nothing. extract() is fast path then full path;
// extract_reference() is the full path alone, its twin in the tests (equal
// layout and key on random, mutated and truncated frames).
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

// The full path: parses with every bound checked, then extracts.
inline proto::frame_layout extract_reference(const std::uint8_t* frame, std::size_t len, flow_key& key) noexcept {
    const proto::frame_layout l = proto::parse_frame(frame, len);
    extract_headers(frame, l, key);
    return l;
}

// The straight path for Ethernet [802.1Q] IPv4 (IHL 5) UDP/TCP. True when
// `frame` is such a frame and `layout` and the header fields of `key` are
// set exactly as extract_reference would set them; false, with nothing
// written, for any other frame.
[[nodiscard]] inline bool extract_fast(const std::uint8_t* frame, std::size_t len, flow_key& key,
                                       proto::frame_layout& layout) noexcept {
    using namespace proto;
    constexpr std::size_t shortest = eth_header_len + ipv4_min_header_len + udp_header_len;
    if (frame == nullptr || len < shortest) return false;
    std::size_t off = eth_header_len;
    std::uint16_t type = load_be16(frame + eth_type_offset);
    std::uint16_t tci = 0;
    if (type == eth_type_vlan) {
        if (len < shortest + vlan_header_len) return false;
        tci = static_cast<std::uint16_t>(load_be16(frame + eth_header_len) | vlan_cfi);
        type = load_be16(frame + eth_header_len + 2);
        off += vlan_header_len;
    }
    if (type != eth_type_ipv4) return false;
    const std::uint8_t* ip = frame + off;
    const std::size_t total = load_be16(ip + ipv4_total_len_offset);
    // Version 4 and IHL 5; the datagram inside the frame; the first fragment.
    if (ip[0] != 0x45 || total < ipv4_min_header_len || total > len - off ||
        (load_be16(ip + ipv4_frag_offset) & ipv4_frag_offset_mask) != 0)
        return false;
    const std::uint8_t nw_proto = ip[ipv4_proto_offset];
    const std::uint8_t* t = ip + ipv4_min_header_len;
    const std::size_t segment = total - ipv4_min_header_len;
    l4_kind l4;
    if (nw_proto == ip_proto_udp) {
        if (segment < udp_header_len) return false;
        l4 = l4_kind::udp;
    } else if (nw_proto == ip_proto_tcp) {
        // The data offset byte only once the segment (inside the frame, checked
        // above) is known to hold a whole minimal TCP header.
        if (segment < tcp_min_header_len) return false;
        const std::size_t data_offset = static_cast<std::size_t>(t[12] >> 4) * 4;
        if (data_offset < tcp_min_header_len || data_offset > segment) return false;
        l4 = l4_kind::tcp;
    } else {
        return false;
    }
    layout = frame_layout{};
    layout.l3 = static_cast<std::uint16_t>(off);
    layout.l4 = static_cast<std::uint16_t>(off + ipv4_min_header_len);
    layout.eth_type = eth_type_ipv4;
    layout.has_ethernet = true;
    layout.has_vlan = tci != 0;
    layout.l3_type = l3_kind::ipv4;
    layout.l4_type = l4;
    clear_headers(key);
    key.eth_dst = load_be48(frame + eth_dst_offset);
    key.eth_src = load_be48(frame + eth_src_offset);
    key.eth_type = eth_type_ipv4;
    key.vlan_tci = tci;
    key.nw_src = load_be32(ip + ipv4_src_offset);
    key.nw_dst = load_be32(ip + ipv4_dst_offset);
    key.nw_proto = nw_proto;
    key.nw_tos = ip[ipv4_tos_offset];
    key.nw_ttl = ip[ipv4_ttl_offset];
    key.tp_src = load_be16(t);
    key.tp_dst = load_be16(t + 2);
    return true;
}

// Parses and extracts in one step into `layout`, kept for later rewriting.
// (The data path's form: the layout is written where it stays. Built in a
// temporary and copied, its byte-wide stores are read back by wide loads,
// which stall on store forwarding; that copy was a fifth of a cached packet.)
inline void extract(const std::uint8_t* frame, std::size_t len, flow_key& key, proto::frame_layout& layout) noexcept {
    if (extract_fast(frame, len, key, layout)) return;
    layout = proto::parse_frame(frame, len);
    extract_headers(frame, layout, key);
}

// Parses and extracts in one step; returns the layout for later rewriting.
inline proto::frame_layout extract(const std::uint8_t* frame, std::size_t len, flow_key& key) noexcept {
    proto::frame_layout l;
    extract(frame, len, key, l);
    return l;
}

} // namespace flowpipe
