// From a flow key back to a frame (Open vSwitch's flow_compose): the inverse
// of extract, for tests, traces and the ovs-ofctl packet syntax.
//
// The one idea: write the smallest real frame that carries every header field
// of the key, in the order extract reads them, and nothing that extract would
// read differently, so that extract(compose_frame(k)) == k for the keys
// extract produces (two exceptions below). Lengths and checksums are computed,
// so the frame is one a real stack accepts: IPv4 IHL 5 with its header
// checksum, TCP with data offset 5, UDP with its length, TCP/UDP/ICMPv6
// checksums over the pseudo-header, ICMP over its message, SCTP with its
// CRC32c; then zero padding to the 60-byte Ethernet minimum.
//
// What the key does not hold is written as zero: IPv4 id and flags (never a
// fragment), TCP sequence numbers, flags and window, ICMP id/sequence, the
// IPv6 flow label. A key whose eth_type is below 0x0600 (Open vSwitch's 0x05ff,
// "no EtherType") becomes an 802.3 frame with length 0 and padding. The two
// exceptions are keys no padded frame carries: the all-zero key of a frame too
// short for Ethernet, and eth_type 0x8100 without a tag (a bare TPID, whose
// padding would read back as a tag); compose writes a frame for them anyway.
//
// The checksum helpers in `detail` are shared with rewrite.hpp (incremental
// updates) until they get a proto/ header of their own.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/proto/arp.hpp>
#include <flowpipe/proto/ethernet.hpp>
#include <flowpipe/proto/ip.hpp>
#include <flowpipe/proto/parse.hpp>
#include <flowpipe/proto/wire.hpp>

namespace flowpipe {

// Shortest Ethernet frame on the wire, without the 4-byte FCS.
inline constexpr std::size_t eth_min_frame_len = 60;
// Longest frame compose_frame writes (802.1Q + IPv6 + ICMPv6 ND is 82 bytes):
// a buffer of this size is always big enough.
inline constexpr std::size_t compose_max_frame_len = 96;

namespace detail {

// Internet checksum (RFC 1071): a 32-bit accumulator of 16-bit big-endian
// words, folded at the end. An odd trailing byte is the high half of a word.
[[nodiscard]] inline std::uint32_t ones_sum(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) noexcept {
    std::uint64_t s = acc;
    for (; n >= 2; p += 2, n -= 2) s += proto::load_be16(p);
    if (n == 1) s += std::uint32_t{p[0]} << 8;
    while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
    return static_cast<std::uint32_t>(s);
}

[[nodiscard]] inline std::uint16_t fold(std::uint32_t s) noexcept {
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return static_cast<std::uint16_t>(s);
}

// The checksum field value for data whose sum is `s`.
[[nodiscard]] inline std::uint16_t finish(std::uint32_t s) noexcept { return static_cast<std::uint16_t>(~fold(s)); }

[[nodiscard]] inline std::uint32_t add32(std::uint32_t acc, std::uint32_t v) noexcept {
    std::uint64_t s = std::uint64_t{acc} + (v >> 16) + (v & 0xffffu);
    s = (s & 0xffffffffu) + (s >> 32);
    return static_cast<std::uint32_t>(s);
}

[[nodiscard]] inline std::uint32_t add128(std::uint32_t acc, uint128 v) noexcept {
    std::uint64_t s = acc;
    for (int i = 0; i < 8; ++i) s += static_cast<std::uint16_t>(v >> (16 * i));
    while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
    return static_cast<std::uint32_t>(s);
}

// Pseudo-header sums (RFC 793 / RFC 8200 section 8.1).
[[nodiscard]] inline std::uint32_t pseudo_sum_v4(std::uint32_t src, std::uint32_t dst, std::uint8_t proto,
                                                 std::size_t l4_len) noexcept {
    std::uint32_t s = add32(0, src);
    s = add32(s, dst);
    return s + proto + static_cast<std::uint32_t>(l4_len);
}

[[nodiscard]] inline std::uint32_t pseudo_sum_v6(uint128 src, uint128 dst, std::uint8_t next,
                                                 std::size_t l4_len) noexcept {
    std::uint32_t s = add128(0, src);
    s = add128(s, dst);
    s = add32(s, static_cast<std::uint32_t>(l4_len));
    return s + next;
}

// CRC32c (Castagnoli, reflected polynomial 0x82f63b78) for SCTP (RFC 9260
// appendix A). The result is stored on the wire least significant byte first.
inline constexpr std::array<std::uint32_t, 256> crc32c_table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        t[i] = c;
    }
    return t;
}();

[[nodiscard]] inline std::uint32_t crc32c(const std::uint8_t* p, std::size_t n) noexcept {
    std::uint32_t c = 0xffffffffu;
    for (std::size_t i = 0; i < n; ++i) c = crc32c_table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
    return ~c;
}

inline void store_le32(std::uint8_t* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

[[nodiscard]] inline std::uint32_t load_le32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}

// SCTP checksum of the `n`-byte SCTP packet at `p`, its checksum field taken as zero.
[[nodiscard]] inline std::uint32_t sctp_crc(std::uint8_t* p, std::size_t n) noexcept {
    std::uint8_t saved[4];
    std::memcpy(saved, p + 8, 4);
    std::memset(p + 8, 0, 4);
    const std::uint32_t c = crc32c(p, n);
    std::memcpy(p + 8, saved, 4);
    return c;
}

// Writes the transport header for `proto` at `t`; returns its length (0 for
// a protocol extract does not read). Checksums are left zero here.
[[nodiscard]] inline std::size_t compose_l4(const flow_key& key, bool v6, std::uint8_t* t) noexcept {
    using namespace proto;
    switch (proto::detail::l4_for(key.nw_proto, v6)) {
    case l4_kind::none: return 0;
    case l4_kind::tcp:
        store_be16(t, key.tp_src);
        store_be16(t + 2, key.tp_dst);
        t[12] = static_cast<std::uint8_t>((tcp_min_header_len / 4) << 4); // data offset 5, no flags
        return tcp_min_header_len;
    case l4_kind::udp:
        store_be16(t, key.tp_src);
        store_be16(t + 2, key.tp_dst);
        store_be16(t + 4, static_cast<std::uint16_t>(udp_header_len));
        return udp_header_len;
    case l4_kind::sctp:
        store_be16(t, key.tp_src);
        store_be16(t + 2, key.tp_dst);
        return sctp_header_len;
    case l4_kind::icmp:
        t[0] = key.icmp_type;
        t[1] = key.icmp_code;
        return 8; // type, code, checksum, rest of header (id, sequence)
    case l4_kind::icmpv6:
        t[0] = key.icmp_type;
        t[1] = key.icmp_code;
        if ((key.icmp_type == icmpv6_neighbor_solicit || key.icmp_type == icmpv6_neighbor_advert) &&
            key.icmp_code == 0) {
            store_be128(t + nd_target_offset, key.nd_target);
            return nd_min_len;
        }
        return 8;
    }
    return 0;
}

// Fills the checksum of the transport header at `t` (`n` bytes, the whole
// segment); `pseudo` is the pseudo-header sum (unused by ICMP and SCTP).
inline void l4_checksum(proto::l4_kind k, std::uint8_t* t, std::size_t n, std::uint32_t pseudo) noexcept {
    using proto::l4_kind;
    switch (k) {
    case l4_kind::none: return;
    case l4_kind::tcp: proto::store_be16(t + 16, finish(ones_sum(t, n, pseudo))); return;
    case l4_kind::udp: {
        const std::uint16_t c = finish(ones_sum(t, n, pseudo));
        proto::store_be16(t + 6, c == 0 ? 0xffff : c); // 0 would mean "no checksum"
        return;
    }
    case l4_kind::sctp: store_le32(t + 8, sctp_crc(t, n)); return;
    case l4_kind::icmp: proto::store_be16(t + 2, finish(ones_sum(t, n))); return;
    case l4_kind::icmpv6: proto::store_be16(t + 2, finish(ones_sum(t, n, pseudo))); return;
    }
}

} // namespace detail

// Writes a frame for `key`'s header fields (metadata is ignored) into `out`.
// Returns the frame's length, at least eth_min_frame_len, or 0 (and `out`
// untouched) when `out` is too small; compose_max_frame_len always suffices.
[[nodiscard]] inline std::size_t compose_frame(const flow_key& key, std::span<std::uint8_t> out) noexcept {
    using namespace proto;
    std::array<std::uint8_t, compose_max_frame_len> buf{};
    std::uint8_t* f = buf.data();

    store_be48(f + eth_dst_offset, key.eth_dst);
    store_be48(f + eth_src_offset, key.eth_src);
    std::size_t off = eth_type_offset;
    if (key.vlan_tci & vlan_cfi) {
        store_be16(f + off, eth_type_vlan);
        store_be16(f + off + 2, static_cast<std::uint16_t>(key.vlan_tci & ~vlan_cfi));
        off += vlan_header_len;
    }
    const std::size_t type_off = off;
    // An 802.3 frame gets length 0: no client data, all padding. (Not the
    // padding's length: that would change with the tag, so rewriting a tag
    // could never give the frame compose_frame writes.)
    store_be16(f + type_off, key.eth_type < eth_type_min ? std::uint16_t{0} : key.eth_type);
    const std::size_t l3 = type_off + 2;
    std::size_t end = l3;

    switch (key.eth_type) {
    case eth_type_arp:
    case eth_type_rarp: {
        std::uint8_t* a = f + l3;
        store_be16(a + arp_htype_offset, arp_htype_ethernet);
        store_be16(a + arp_ptype_offset, eth_type_ipv4);
        a[arp_hlen_offset] = eth_addr_len;
        a[arp_plen_offset] = 4;
        store_be16(a + arp_op_offset, key.arp_op);
        store_be48(a + arp_sha_offset, key.arp_sha);
        store_be32(a + arp_spa_offset, key.arp_spa);
        store_be48(a + arp_tha_offset, key.arp_tha);
        store_be32(a + arp_tpa_offset, key.arp_tpa);
        end = l3 + arp_eth_ipv4_len;
        break;
    }
    case eth_type_ipv4: {
        std::uint8_t* ip = f + l3;
        std::uint8_t* t = ip + ipv4_min_header_len;
        const std::size_t l4_len = flowpipe::detail::compose_l4(key, false, t);
        ip[0] = 0x45; // version 4, IHL 5
        ip[ipv4_tos_offset] = key.nw_tos;
        store_be16(ip + ipv4_total_len_offset, static_cast<std::uint16_t>(ipv4_min_header_len + l4_len));
        ip[ipv4_ttl_offset] = key.nw_ttl;
        ip[ipv4_proto_offset] = key.nw_proto;
        store_be32(ip + ipv4_src_offset, key.nw_src);
        store_be32(ip + ipv4_dst_offset, key.nw_dst);
        store_be16(ip + ipv4_checksum_offset,
                   flowpipe::detail::finish(flowpipe::detail::ones_sum(ip, ipv4_min_header_len)));
        flowpipe::detail::l4_checksum(proto::detail::l4_for(key.nw_proto, false), t, l4_len,
                                      flowpipe::detail::pseudo_sum_v4(key.nw_src, key.nw_dst, key.nw_proto, l4_len));
        end = l3 + ipv4_min_header_len + l4_len;
        break;
    }
    case eth_type_ipv6: {
        std::uint8_t* ip = f + l3;
        std::uint8_t* t = ip + ipv6_header_len;
        const std::size_t l4_len = flowpipe::detail::compose_l4(key, true, t);
        ip[0] = static_cast<std::uint8_t>(0x60 | (key.nw_tos >> 4)); // version 6, traffic class
        ip[1] = static_cast<std::uint8_t>(key.nw_tos << 4);          // flow label 0
        store_be16(ip + 4, static_cast<std::uint16_t>(l4_len));      // payload length
        ip[ipv6_next_header_offset] = key.nw_proto;
        ip[ipv6_hop_limit_offset] = key.nw_ttl;
        store_be128(ip + ipv6_src_offset, key.ipv6_src);
        store_be128(ip + ipv6_dst_offset, key.ipv6_dst);
        flowpipe::detail::l4_checksum(
            proto::detail::l4_for(key.nw_proto, true), t, l4_len,
            flowpipe::detail::pseudo_sum_v6(key.ipv6_src, key.ipv6_dst, key.nw_proto, l4_len));
        end = l3 + ipv6_header_len + l4_len;
        break;
    }
    default: break;
    }

    const std::size_t len = end < eth_min_frame_len ? eth_min_frame_len : end;
    if (out.size() < len) return 0;
    std::memcpy(out.data(), f, len);
    return len;
}

} // namespace flowpipe
