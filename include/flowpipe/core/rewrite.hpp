// Rewriting a frame once, after the pipeline, from its edited flow key.
//
// The one idea: actions edit the flow key, never the frame; at the end the key
// the frame was parsed into (`before`) is compared with the key the actions
// left (`after`), and only the bytes of fields that differ are written, at the
// offsets parse_frame recorded. Each checksum is then patched from the old and
// new values of just those bytes (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')), so
// the cost is proportional to what changed, never to the packet's length
// (SCTP's CRC32c is the exception: it has no incremental form).
//
// What is written, per layer the frame has:
//   Ethernet  eth_src, eth_dst; 802.1Q push (uses 4 bytes of headroom and
//             moves the 12 MAC bytes down), pop (moves them up), TCI change.
//   ARP       op, sha, spa, tha, tpa.
//   IPv4      src, dst, tos, ttl + header checksum; src/dst also patch the
//             TCP/UDP checksum through the pseudo-header.
//   IPv6      src, dst (pseudo-header of TCP/UDP/ICMPv6), traffic class, hop limit.
//   L4        tp_src/tp_dst (TCP, UDP, SCTP), ICMP/ICMPv6 type and code, ND target.
// A UDP checksum of 0 ("none") stays 0; a checksum that was wrong stays wrong
// by the same amount, as in Open vSwitch. Metadata (in_port, tun_*, regs,
// metadata) never touches the frame, and a field of a layer the frame does not
// have is ignored. The VLAN tag is handled last, so every other write uses the
// layout's offsets unchanged; after a push or pop that layout is stale.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/core/packet.hpp>
#include <flowpipe/proto/arp.hpp>
#include <flowpipe/proto/ethernet.hpp>
#include <flowpipe/proto/ip.hpp>
#include <flowpipe/proto/parse.hpp>
#include <flowpipe/proto/wire.hpp>

namespace flowpipe {

enum class rewrite_status : std::uint8_t {
    ok,
    no_headroom, // a VLAN push needs 4 bytes before the frame; the packet is unchanged
};

[[nodiscard]] constexpr const char* to_string(rewrite_status s) noexcept {
    switch (s) {
    case rewrite_status::ok: return "ok";
    case rewrite_status::no_headroom: return "no headroom for an 802.1Q tag";
    }
    return "?";
}

namespace detail {

// The sum of (~old + new) over every 16-bit word that changed: the part of
// RFC 1624's eqn. 3 that does not depend on the checksum being patched.
struct checksum_delta {
    std::uint64_t sum = 0;

    void add16(std::uint16_t old_word, std::uint16_t new_word) noexcept {
        sum += static_cast<std::uint16_t>(~old_word);
        sum += new_word;
    }
    void add32(std::uint32_t old_value, std::uint32_t new_value) noexcept {
        add16(static_cast<std::uint16_t>(old_value >> 16), static_cast<std::uint16_t>(new_value >> 16));
        add16(static_cast<std::uint16_t>(old_value), static_cast<std::uint16_t>(new_value));
    }
    void add128(uint128 old_value, uint128 new_value) noexcept {
        for (int i = 0; i < 8; ++i)
            add16(static_cast<std::uint16_t>(old_value >> (16 * i)), static_cast<std::uint16_t>(new_value >> (16 * i)));
    }
    void add(const checksum_delta& o) noexcept { sum += o.sum; }
    [[nodiscard]] bool empty() const noexcept { return sum == 0; }

    // HC' = ~(~HC + sum(~m + m')).
    [[nodiscard]] std::uint16_t apply(std::uint16_t hc) const noexcept {
        std::uint64_t s = sum + static_cast<std::uint16_t>(~hc);
        while (s >> 16) s = (s & 0xffffu) + (s >> 16);
        return static_cast<std::uint16_t>(~s);
    }
};

// Patches the 16-bit checksum at `p`.
inline void patch_checksum(std::uint8_t* p, const checksum_delta& d) noexcept {
    proto::store_be16(p, d.apply(proto::load_be16(p)));
}

// Writes a field and records its old and new value in `d`.
inline void set16(std::uint8_t* p, std::uint16_t v, checksum_delta& d) noexcept {
    d.add16(proto::load_be16(p), v);
    proto::store_be16(p, v);
}

inline void set32(std::uint8_t* p, std::uint32_t v, checksum_delta& d) noexcept {
    d.add32(proto::load_be32(p), v);
    proto::store_be32(p, v);
}

inline void set128(std::uint8_t* p, uint128 v, checksum_delta& d) noexcept {
    d.add128(proto::load_be128(p), v);
    proto::store_be128(p, v);
}

// Moves the 12 MAC bytes at `from` to `to` (4 bytes apart, either way): two
// loads, then two stores, so the overlap needs no memmove call.
inline void move_macs(std::uint8_t* to, const std::uint8_t* from) noexcept {
    std::uint64_t head;
    std::uint32_t tail;
    std::memcpy(&head, from, 8);
    std::memcpy(&tail, from + 8, 4);
    std::memcpy(to, &head, 8);
    std::memcpy(to + 8, &tail, 4);
}

// Whether `a` and `b` differ in any field an ARP, IP or transport rewrite
// writes: arp_sha, arp_tha, [arp_spa, eth_type) and [arp_op, end) of the
// key, compared as 64-bit words (12 loads a side, no branch per field). Most
// switch actions (VLAN, tunnel, output) change none of them, and the layer
// rewrites are then skipped whole.
[[nodiscard]] inline bool upper_layers_differ(const flow_key& a, const flow_key& b) noexcept {
    constexpr std::size_t sha = offsetof(flow_key, arp_sha), spa = offsetof(flow_key, arp_spa),
                          op = offsetof(flow_key, arp_op);
    static_assert(offsetof(flow_key, arp_tha) == sha + 8 && offsetof(flow_key, eth_type) == spa + 16 &&
                      offsetof(flow_key, vlan_tci) + 2 == op && (sizeof(flow_key) - op) % 8 == 0,
                  "flow_key layout: the upper-layer fields must be [arp_sha, +16), [arp_spa, +16) and [arp_op, end)");
    const auto* x = reinterpret_cast<const unsigned char*>(&a);
    const auto* y = reinterpret_cast<const unsigned char*>(&b);
    auto word = [](const unsigned char* p, std::size_t at) {
        std::uint64_t v;
        std::memcpy(&v, p + at, 8);
        return v;
    };
    std::uint64_t d = 0;
    for (std::size_t at : {sha, sha + 8, spa, spa + 8}) d |= word(x, at) ^ word(y, at);
    for (std::size_t at = op; at < sizeof(flow_key); at += 8) d |= word(x, at) ^ word(y, at);
    return d != 0;
}

inline void rewrite_arp(std::uint8_t* a, const flow_key& before, const flow_key& after) noexcept {
    using namespace proto;
    if (before.arp_op != after.arp_op) store_be16(a + arp_op_offset, after.arp_op);
    if (before.arp_sha != after.arp_sha) store_be48(a + arp_sha_offset, after.arp_sha);
    if (before.arp_spa != after.arp_spa) store_be32(a + arp_spa_offset, after.arp_spa);
    if (before.arp_tha != after.arp_tha) store_be48(a + arp_tha_offset, after.arp_tha);
    if (before.arp_tpa != after.arp_tpa) store_be32(a + arp_tpa_offset, after.arp_tpa);
}

[[nodiscard]] inline bool all_zero(const std::uint8_t* p, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] != 0) return false;
    return true;
}

// Rewrites the transport header at `t` (`avail` bytes to the frame's end,
// `seg_len` the segment length the IP header declares, already clipped to
// `avail`). `pseudo` holds the changes of the pseudo-header's addresses.
inline void rewrite_l4(const proto::frame_layout& l, std::uint8_t* t, std::size_t avail, std::size_t seg_len,
                       const checksum_delta& pseudo, const flow_key& before, const flow_key& after) noexcept {
    using namespace proto;
    if (avail < proto::detail::l4_min_len(l.l4_type)) return;
    const bool ports_differ = before.tp_src != after.tp_src || before.tp_dst != after.tp_dst;
    // ICMPv4 and SCTP checksums do not cover a pseudo-header.
    checksum_delta d = (l.l4_type == l4_kind::icmp || l.l4_type == l4_kind::sctp) ? checksum_delta{} : pseudo;
    switch (l.l4_type) {
    case l4_kind::none: return;
    case l4_kind::tcp:
    case l4_kind::udp: {
        if (ports_differ) {
            if (before.tp_src != after.tp_src) set16(t, after.tp_src, d);
            if (before.tp_dst != after.tp_dst) set16(t + 2, after.tp_dst, d);
        }
        if (d.empty()) return;
        if (l.l4_type == l4_kind::tcp) {
            patch_checksum(t + 16, d);
        } else if (load_be16(t + 6) != 0) { // UDP checksum 0 means "none" and stays so
            patch_checksum(t + 6, d);
            if (load_be16(t + 6) == 0) store_be16(t + 6, 0xffff);
        }
        return;
    }
    case l4_kind::sctp: {
        if (!ports_differ) return;
        // CRC32c is not incremental: recompute it, keeping any error the old
        // checksum had (stored ^ correct is zero for a correct packet).
        const std::size_t n = seg_len >= sctp_header_len ? seg_len : avail;
        const std::uint32_t stored = flowpipe::detail::load_le32(t + 8);
        const std::uint32_t old_correct = flowpipe::detail::sctp_crc(t, n);
        store_be16(t, after.tp_src);
        store_be16(t + 2, after.tp_dst);
        flowpipe::detail::store_le32(t + 8, stored ^ old_correct ^ flowpipe::detail::sctp_crc(t, n));
        return;
    }
    case l4_kind::icmp:
    case l4_kind::icmpv6: {
        if (before.icmp_type != after.icmp_type || before.icmp_code != after.icmp_code)
            set16(t, static_cast<std::uint16_t>((after.icmp_type << 8) | after.icmp_code), d);
        if (l.nd && avail >= nd_min_len && before.nd_target != after.nd_target)
            set128(t + nd_target_offset, after.nd_target, d);
        if (d.empty()) return;
        patch_checksum(t + 2, d);
        // The one case eqn. 3 gets "wrong": an all-zero ICMPv4 message sums
        // to +0, whose checksum is 0xffff, not 0 (ICMPv6's pseudo-header is never zero).
        if (load_be16(t + 2) == 0 && all_zero(t, seg_len)) store_be16(t + 2, 0xffff);
        return;
    }
    }
}

inline void rewrite_ipv4(std::uint8_t* f, std::size_t len, const proto::frame_layout& l, const flow_key& before,
                         const flow_key& after) noexcept {
    using namespace proto;
    if (len < std::size_t{l.l3} + ipv4_min_header_len) return;
    std::uint8_t* ip = f + l.l3;
    checksum_delta hd; // header
    checksum_delta pd; // pseudo-header
    if (before.nw_tos != after.nw_tos) set16(ip, static_cast<std::uint16_t>((ip[0] << 8) | after.nw_tos), hd);
    if (before.nw_ttl != after.nw_ttl)
        set16(ip + ipv4_ttl_offset, static_cast<std::uint16_t>((after.nw_ttl << 8) | ip[ipv4_proto_offset]), hd);
    if (before.nw_src != after.nw_src) {
        checksum_delta a;
        set32(ip + ipv4_src_offset, after.nw_src, a);
        hd.add(a);
        pd.add(a);
    }
    if (before.nw_dst != after.nw_dst) {
        checksum_delta a;
        set32(ip + ipv4_dst_offset, after.nw_dst, a);
        hd.add(a);
        pd.add(a);
    }
    if (!hd.empty()) patch_checksum(ip + ipv4_checksum_offset, hd);
    if (l.l4_type == l4_kind::none || l.l4 < l.l3 || len < l.l4) return;
    const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
    const std::size_t total = load_be16(ip + ipv4_total_len_offset);
    const std::size_t avail = len - l.l4;
    const std::size_t declared = total > ihl ? total - ihl : 0;
    rewrite_l4(l, f + l.l4, avail, declared < avail ? declared : avail, pd, before, after);
}

inline void rewrite_ipv6(std::uint8_t* f, std::size_t len, const proto::frame_layout& l, const flow_key& before,
                         const flow_key& after) noexcept {
    using namespace proto;
    if (len < std::size_t{l.l3} + ipv6_header_len) return;
    std::uint8_t* ip = f + l.l3;
    checksum_delta pd;
    if (before.nw_tos != after.nw_tos) { // traffic class straddles the first two bytes
        ip[0] = static_cast<std::uint8_t>((ip[0] & 0xf0) | (after.nw_tos >> 4));
        ip[1] = static_cast<std::uint8_t>((after.nw_tos << 4) | (ip[1] & 0x0f));
    }
    if (before.nw_ttl != after.nw_ttl) ip[ipv6_hop_limit_offset] = after.nw_ttl;
    if (before.ipv6_src != after.ipv6_src) set128(ip + ipv6_src_offset, after.ipv6_src, pd);
    if (before.ipv6_dst != after.ipv6_dst) set128(ip + ipv6_dst_offset, after.ipv6_dst, pd);
    if (l.l4_type == l4_kind::none || l.l4 < l.l3 || len < l.l4) return;
    const std::size_t avail = len - l.l4;
    const std::size_t declared = load_be16(ip + 4);
    rewrite_l4(l, f + l.l4, avail, declared < avail ? declared : avail, pd, before, after);
}

} // namespace detail

// Rewrites `p` (parsed into `layout`, whose fields were `before`) so that it
// carries `after`'s header fields. No allocation, no exception; on
// no_headroom nothing was written.
[[nodiscard]] inline rewrite_status rewrite_frame(packet& p, const proto::frame_layout& layout, const flow_key& before,
                                                  const flow_key& after) noexcept {
    using namespace proto;
    if (!layout.has_ethernet || p.data == nullptr || p.len < eth_header_len) return rewrite_status::ok;
    const bool tagged = layout.has_vlan && p.len >= eth_header_len + vlan_header_len;
    const bool want_tag = (after.vlan_tci & vlan_cfi) != 0;
    if (!tagged && want_tag && p.headroom < vlan_header_len) return rewrite_status::no_headroom;

    std::uint8_t* f = p.data;
    if (before.eth_dst != after.eth_dst) store_be48(f + eth_dst_offset, after.eth_dst);
    if (before.eth_src != after.eth_src) store_be48(f + eth_src_offset, after.eth_src);
    switch (flowpipe::detail::upper_layers_differ(before, after) ? layout.l3_type : l3_kind::none) {
    case l3_kind::none: break;
    case l3_kind::arp:
        if (p.len >= std::size_t{layout.l3} + arp_eth_ipv4_len)
            flowpipe::detail::rewrite_arp(f + layout.l3, before, after);
        break;
    case l3_kind::ipv4: flowpipe::detail::rewrite_ipv4(f, p.len, layout, before, after); break;
    case l3_kind::ipv6: flowpipe::detail::rewrite_ipv6(f, p.len, layout, before, after); break;
    }

    // The tag last: it moves the MACs and shifts everything after them.
    const auto tci = static_cast<std::uint16_t>(after.vlan_tci & ~vlan_cfi);
    if (tagged && !want_tag) {
        flowpipe::detail::move_macs(f + vlan_header_len, f);
        (void)p.pull_front(vlan_header_len);
    } else if (!tagged && want_tag) {
        (void)p.push_front(vlan_header_len); // room checked above
        flowpipe::detail::move_macs(p.data, p.data + vlan_header_len);
        store_be16(p.data + eth_type_offset, eth_type_vlan);
        store_be16(p.data + eth_header_len, tci);
    } else if (tagged && want_tag && before.vlan_tci != after.vlan_tci) {
        store_be16(f + eth_header_len, tci);
    }
    return rewrite_status::ok;
}

} // namespace flowpipe
