// Bounds-checked parsing of an Ethernet frame into a layout: where each layer
// starts and what it is, plus why parsing stopped early.
//
// The one idea: every offset is checked against the frame's length before a
// byte at it is read, and a layer is only recorded once its whole fixed header
// is inside the frame. A truncated or malformed frame therefore yields the
// layers that really were there and a reason; nothing is read past `len`.
//
// As in Open vSwitch's miniflow_extract: an IP packet counts only if the whole
// datagram its length field announces (IPv4 total length, IPv6 40 + payload
// length) is in the frame, and the transport header is looked for inside that
// datagram, never in the Ethernet padding after it; a TCP header needs a data
// offset of at least 5 words that fits the segment, an ICMP/ICMPv6 header its
// 8 bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include <flowpipe/proto/arp.hpp>
#include <flowpipe/proto/ethernet.hpp>
#include <flowpipe/proto/ip.hpp>
#include <flowpipe/proto/wire.hpp>

namespace flowpipe::proto {

// Why parsing stopped before the end of what the frame claimed to carry.
enum class parse_status : std::uint8_t {
    ok,
    truncated_ethernet, // shorter than dst+src+type: the frame is not Ethernet at all
    truncated_vlan,     // 802.1Q TPID with no room for TCI and inner type
    truncated_arp,
    malformed_arp,  // not Ethernet/IPv4 ARP (hardware/protocol type or lengths)
    truncated_ipv4, // header, or the datagram its total length announces, cut short
    malformed_ipv4, // version != 4, IHL < 5, header longer than the frame or total length < IHL
    truncated_ipv6, // header, or the 40 + payload length bytes it announces, cut short
    malformed_ipv6, // version != 6
    truncated_l4,   // transport header announced but cut short (or a TCP data offset < 5)
};

[[nodiscard]] constexpr const char* to_string(parse_status s) noexcept {
    switch (s) {
    case parse_status::ok: return "ok";
    case parse_status::truncated_ethernet: return "truncated Ethernet header";
    case parse_status::truncated_vlan: return "truncated 802.1Q tag";
    case parse_status::truncated_arp: return "truncated ARP";
    case parse_status::malformed_arp: return "ARP is not Ethernet/IPv4";
    case parse_status::truncated_ipv4: return "truncated IPv4 header";
    case parse_status::malformed_ipv4: return "malformed IPv4 header";
    case parse_status::truncated_ipv6: return "truncated IPv6 header";
    case parse_status::malformed_ipv6: return "malformed IPv6 header";
    case parse_status::truncated_l4: return "truncated transport header";
    }
    return "?";
}

enum class l3_kind : std::uint8_t { none, arp, ipv4, ipv6 };
enum class l4_kind : std::uint8_t { none, tcp, udp, sctp, icmp, icmpv6 };

// Offsets are from the start of the frame; a layer whose kind is `none` has
// no meaningful offset. `eth_type` is the EtherType after any 802.1Q tag (0x05ff
// for an 802.3 length-field frame, as Open vSwitch reports it).
struct frame_layout {
    std::uint16_t l3 = 0;
    std::uint16_t l4 = 0;
    std::uint16_t eth_type = 0;
    bool has_ethernet = false;
    bool has_vlan = false;
    bool ipv4_later_fragment = false; // no transport header in this fragment
    bool nd = false;                  // ICMPv6 neighbour solicitation/advertisement with a target
    l3_kind l3_type = l3_kind::none;
    l4_kind l4_type = l4_kind::none;
    parse_status status = parse_status::ok;

    friend bool operator==(const frame_layout&, const frame_layout&) = default;
};

inline constexpr std::uint16_t eth_type_none = 0x05ff; // Open vSwitch's FLOW_DL_TYPE_NONE

namespace detail {

[[nodiscard]] inline l4_kind l4_for(std::uint8_t proto, bool v6) noexcept {
    switch (proto) {
    case ip_proto_tcp: return l4_kind::tcp;
    case ip_proto_udp: return l4_kind::udp;
    case ip_proto_sctp: return l4_kind::sctp;
    case ip_proto_icmp: return v6 ? l4_kind::none : l4_kind::icmp;
    case ip_proto_icmpv6: return v6 ? l4_kind::icmpv6 : l4_kind::none;
    default: return l4_kind::none;
    }
}

[[nodiscard]] inline std::size_t l4_min_len(l4_kind k) noexcept {
    switch (k) {
    case l4_kind::tcp: return tcp_min_header_len;
    case l4_kind::udp: return udp_header_len;
    case l4_kind::sctp: return sctp_header_len;
    case l4_kind::icmp:
    case l4_kind::icmpv6: return icmp_header_len + 4; // type, code, checksum and 4 more, as OVS reads them
    case l4_kind::none: return 0;
    }
    return 0;
}

// Records the transport layer at `off` if its fixed header fits before
// `len`, the end of the IP datagram (never past the frame's end).
inline void parse_l4(const std::uint8_t* frame, std::size_t len, std::size_t off, std::uint8_t proto, bool v6,
                     frame_layout& out) noexcept {
    const l4_kind k = l4_for(proto, v6);
    if (k == l4_kind::none) return;
    if (len < off || len - off < l4_min_len(k)) {
        out.status = parse_status::truncated_l4;
        return;
    }
    if (k == l4_kind::tcp) {
        const std::size_t data_offset = static_cast<std::size_t>(frame[off + 12] >> 4) * 4;
        if (data_offset < tcp_min_header_len || data_offset > len - off) {
            out.status = parse_status::truncated_l4;
            return;
        }
    }
    out.l4 = static_cast<std::uint16_t>(off);
    out.l4_type = k;
    if (k == l4_kind::icmpv6) {
        const std::uint8_t type = frame[off];
        if ((type == icmpv6_neighbor_solicit || type == icmpv6_neighbor_advert) && frame[off + 1] == 0) {
            if (len - off >= nd_min_len)
                out.nd = true;
            else
                out.status = parse_status::truncated_l4;
        }
    }
}

} // namespace detail

// Parses `len` bytes at `frame`. Never reads frame[len] or beyond.
[[nodiscard]] inline frame_layout parse_frame(const std::uint8_t* frame, std::size_t len) noexcept {
    frame_layout out;
    if (frame == nullptr || len < eth_header_len) {
        out.status = parse_status::truncated_ethernet;
        return out;
    }
    out.has_ethernet = true;
    std::size_t off = eth_type_offset;
    std::uint16_t type = load_be16(frame + off);
    off += 2;
    if (type == eth_type_vlan) {
        if (len - off < vlan_header_len) {
            out.status = parse_status::truncated_vlan;
            out.eth_type = type; // the TPID is all there is
            return out;
        }
        out.has_vlan = true;
        type = load_be16(frame + off + 2);
        off += vlan_header_len;
    }
    if (type < eth_type_min) type = eth_type_none;
    out.eth_type = type;
    out.l3 = static_cast<std::uint16_t>(off);
    const std::size_t rest = len - off;

    switch (type) {
    case eth_type_arp:
    case eth_type_rarp: {
        if (rest < arp_eth_ipv4_len) {
            out.status = parse_status::truncated_arp;
            return out;
        }
        const std::uint8_t* a = frame + off;
        if (load_be16(a + arp_htype_offset) != arp_htype_ethernet || load_be16(a + arp_ptype_offset) != eth_type_ipv4 ||
            a[arp_hlen_offset] != eth_addr_len || a[arp_plen_offset] != 4) {
            out.status = parse_status::malformed_arp;
            return out;
        }
        out.l3_type = l3_kind::arp;
        return out;
    }
    case eth_type_ipv4: {
        if (rest < ipv4_min_header_len) {
            out.status = parse_status::truncated_ipv4;
            return out;
        }
        const std::uint8_t* ip = frame + off;
        const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
        const std::size_t total = load_be16(ip + ipv4_total_len_offset);
        if ((ip[0] >> 4) != 4 || ihl < ipv4_min_header_len || ihl > rest || total < ihl) {
            out.status = parse_status::malformed_ipv4;
            return out;
        }
        if (total > rest) {
            out.status = parse_status::truncated_ipv4;
            return out;
        }
        out.l3_type = l3_kind::ipv4;
        const std::uint16_t frag = load_be16(ip + ipv4_frag_offset);
        if ((frag & ipv4_frag_offset_mask) != 0) {
            out.ipv4_later_fragment = true;
            return out;
        }
        detail::parse_l4(frame, off + total, off + ihl, ip[ipv4_proto_offset], false, out);
        return out;
    }
    case eth_type_ipv6: {
        if (rest < ipv6_header_len) {
            out.status = parse_status::truncated_ipv6;
            return out;
        }
        const std::uint8_t* ip = frame + off;
        if ((ip[0] >> 4) != 6) {
            out.status = parse_status::malformed_ipv6;
            return out;
        }
        const std::size_t payload = load_be16(ip + 4);
        if (payload > rest - ipv6_header_len) {
            out.status = parse_status::truncated_ipv6;
            return out;
        }
        out.l3_type = l3_kind::ipv6;
        detail::parse_l4(frame, off + ipv6_header_len + payload, off + ipv6_header_len, ip[ipv6_next_header_offset],
                         true, out);
        return out;
    }
    default: return out;
    }
}

} // namespace flowpipe::proto
