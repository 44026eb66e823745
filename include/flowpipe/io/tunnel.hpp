// Tunnel ports: VXLAN (UDP 4789, RFC 7348), Geneve (UDP 6081, RFC 8926, as
// Open vSwitch's geneve port without tun_metadata) and GRE with a key
// (RFC 2890, transparent Ethernet bridging) over an IPv4 underlay.
//
// A `tunnel_set` is the host's tunnel configuration: its underlay (local IP
// and MAC) and a small table of tunnel ports, each a port number, a kind and
// the remote IP and MAC (the remote's or the gateway's). The tunnel id is
// `key=flow`, as Neutron configures its tunnels: on transmit it is the
// frame's `packet::tun_id`, set by the flow (set_tunnel / set_field), on
// receive it is written to `tun_id` for the flows to match.
//
// Transmit (encapsulate): the frame grows at its front, in its headroom, by
// the outer header:
//
//   VXLAN  Ethernet(14) IPv4(20) UDP(8) VXLAN(8)   = 50 bytes
//          UDP source port from a hash of the inner frame (49152..65535),
//          destination 4789, checksum 0 (allowed over IPv4), VXLAN flags
//          0x08 (VNI valid), VNI = low 24 bits of tun_id
//   Geneve Ethernet(14) IPv4(20) UDP(8) Geneve(8)  = 50 bytes
//          UDP source port and checksum as VXLAN's, destination 6081;
//          version 0, no options (length 0), O = C = 0, protocol 0x6558,
//          VNI = low 24 bits of tun_id
//   GRE    Ethernet(14) IPv4(20) GRE(8)            = 42 bytes
//          flags 0x2000 (key present), protocol 0x6558, key = low 32 bits
//          of tun_id
//
// with IPv4 version 4, IHL 5, TOS 0, id 0, DF, TTL 64, the header checksum
// computed. A frame without room is left as it was and counted.
//
// Receive (decapsulate): a frame from the underlay is taken as a tunnel
// frame only when, in this order of checks, it is long enough for every
// header it claims, is untagged IPv4 (version 4, IHL >= 5, a total length
// that fits, a correct header checksum), is addressed to the local IP, is
// not a fragment, carries
//   - UDP to port 4789 or 6081 whose length is the datagram's and whose
//     checksum, when not 0, is right (Open vSwitch checks it for both), then
//     - on 4789 a VXLAN header as Open vSwitch accepts it (flags word exactly
//       0x08000000, VNI's reserved low byte 0),
//     - on 6081 a Geneve header whose options fit in the datagram, version 0,
//       protocol 0x6558, neither O (a control packet, which a tunnel
//       endpoint must not forward and nothing here consumes) nor C
//       (critical options, and no option is understood here: RFC 8926
//       sections 3.4 and 3.5 say drop); other options are skipped, reserved
//       bits ignored (as the RFC says),
//   - or GRE with exactly the key flag (no checksum, routing, sequence,
//     version 0) and protocol 0x6558,
// and comes from the remote IP of a tunnel port of that kind. Then `in_port` is
// that tunnel port, `tun_id` the VNI or key, `tun_src`/`tun_dst` the outer
// source and destination, and the outer headers are pulled off (Ethernet
// padding after the IPv4 total length is trimmed). Anything else is left as
// it was, counted under its reason, and is the caller's to drop.
//
// Where Open vSwitch's userspace datapath (netdev_geneve_pop_header) differs:
// it keeps a frame with the O bit (flow_tnl's oam flag, which flows can
// match) and one with the C bit (its options go to tun_metadata for flows to
// match, critical or not); flowpipe's flow key has neither the flag nor
// tun_metadata, so both are dropped and counted, as Linux's geneve device
// drops C frames it has no option parser for. Like Open vSwitch (and unlike
// this header before Geneve), a VXLAN frame's UDP checksum is checked too
// when it is not 0 (both RFCs let a receiver check it). As in Open vSwitch
// (ip_extract_tnl_md: "ip options not supported on tunnel packets"), an
// outer IPv4 header with options (IHL > 5) is dropped, after the checksum
// and length checks, as OVS orders them.
//
// Tunnel ports come and go on the control path (add, remove): the Neutron
// agent deletes a tunnel port when l2pop removes the last entry of its
// remote, and a frame from that remote is then an unknown remote's.
//
// Nothing here allocates, throws or calls through a pointer per packet.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <flowpipe/core/packet.hpp>
#include <flowpipe/proto/ethernet.hpp>
#include <flowpipe/proto/ip.hpp>
#include <flowpipe/proto/wire.hpp>

namespace flowpipe::io {

enum class tunnel_kind : std::uint8_t { vxlan, gre, geneve };

[[nodiscard]] constexpr const char* to_string(tunnel_kind k) noexcept {
    switch (k) {
    case tunnel_kind::vxlan: return "vxlan";
    case tunnel_kind::gre: return "gre";
    case tunnel_kind::geneve: return "geneve";
    }
    return "?";
}

inline constexpr std::uint16_t udp_port_geneve = 6081;
inline constexpr std::uint32_t vxlan_header_len = 8;
inline constexpr std::uint32_t geneve_header_len = 8;  // without options
inline constexpr std::uint32_t gre_key_header_len = 8; // flags+protocol, key
inline constexpr std::uint32_t vxlan_overhead =
    proto::eth_header_len + proto::ipv4_min_header_len + proto::udp_header_len + vxlan_header_len; // 50
inline constexpr std::uint32_t geneve_overhead =
    proto::eth_header_len + proto::ipv4_min_header_len + proto::udp_header_len + geneve_header_len; // 50
inline constexpr std::uint32_t gre_overhead =
    proto::eth_header_len + proto::ipv4_min_header_len + gre_key_header_len; // 42
inline constexpr std::uint32_t vxlan_flags = 0x08000000u;                    // I: VNI valid
inline constexpr std::uint16_t gre_flag_key = 0x2000;
inline constexpr std::uint16_t eth_type_teb = 0x6558;      // transparent Ethernet bridging
inline constexpr std::uint8_t geneve_flag_oam = 0x80;      // O: control packet (second header byte)
inline constexpr std::uint8_t geneve_flag_critical = 0x40; // C: critical options present
inline constexpr std::uint8_t tunnel_ttl = 64;
inline constexpr std::uint16_t ipv4_dont_fragment = 0x4000;

[[nodiscard]] constexpr std::uint32_t tunnel_overhead(tunnel_kind k) noexcept {
    switch (k) {
    case tunnel_kind::vxlan: return vxlan_overhead;
    case tunnel_kind::geneve: return geneve_overhead;
    case tunnel_kind::gre: return gre_overhead;
    }
    return gre_overhead;
}

// Why a frame from the underlay was not decapsulated (or `ok`).
enum class decap_status : std::uint8_t {
    ok,
    truncated,                 // shorter than the headers it claims, or than its IPv4 total length
    not_ipv4,                  // not an untagged IPv4 frame, or a bad version / IHL / total length
    bad_ip_checksum,           // the outer IPv4 header checksum is wrong
    ip_options,                // the outer IPv4 header has options (Open vSwitch drops those too)
    not_local,                 // IPv4 destination is not the local IP
    fragment,                  // a fragment of an IPv4 datagram (not reassembled)
    not_tunnel,                // neither UDP nor GRE
    wrong_udp_port,            // UDP, but to neither port 4789 nor 6081
    bad_udp_length,            // UDP length disagrees with the IPv4 payload
    bad_udp_checksum,          // a UDP checksum other than 0 that is wrong
    bad_vxlan_header,          // VXLAN flags other than exactly I, or reserved VNI bits set
    geneve_bad_options_length, // Geneve options longer than the datagram
    geneve_bad_version,        // Geneve version other than 0
    geneve_not_ethernet,       // Geneve protocol other than 0x6558
    geneve_oam,                // Geneve O bit: a control packet
    geneve_critical_options,   // Geneve C bit: critical options, none understood here
    gre_no_key,                // GRE without the key flag
    gre_bad_flags,             // GRE with checksum, routing, sequence or a version other than 0
    gre_not_ethernet,          // GRE protocol other than 0x6558
    unknown_remote,            // no tunnel port of that kind for the outer source IP
};
inline constexpr std::size_t decap_status_count = 21;

[[nodiscard]] constexpr const char* to_string(decap_status s) noexcept {
    switch (s) {
    case decap_status::ok: return "ok";
    case decap_status::truncated: return "truncated";
    case decap_status::not_ipv4: return "not IPv4";
    case decap_status::bad_ip_checksum: return "bad IPv4 header checksum";
    case decap_status::ip_options: return "outer IPv4 header with options";
    case decap_status::not_local: return "not addressed to the local IP";
    case decap_status::fragment: return "IPv4 fragment";
    case decap_status::not_tunnel: return "neither UDP nor GRE";
    case decap_status::wrong_udp_port: return "UDP port is neither VXLAN's nor Geneve's";
    case decap_status::bad_udp_length: return "UDP length disagrees with IPv4";
    case decap_status::bad_udp_checksum: return "bad UDP checksum";
    case decap_status::bad_vxlan_header: return "bad VXLAN flags";
    case decap_status::geneve_bad_options_length: return "Geneve options longer than the datagram";
    case decap_status::geneve_bad_version: return "unknown Geneve version";
    case decap_status::geneve_not_ethernet: return "Geneve payload is not Ethernet";
    case decap_status::geneve_oam: return "Geneve control packet (O bit)";
    case decap_status::geneve_critical_options: return "Geneve critical options (C bit)";
    case decap_status::gre_no_key: return "GRE without key";
    case decap_status::gre_bad_flags: return "unsupported GRE flags";
    case decap_status::gre_not_ethernet: return "GRE payload is not Ethernet";
    case decap_status::unknown_remote: return "no tunnel port for the remote IP";
    }
    return "?";
}

enum class encap_status : std::uint8_t {
    ok,
    unknown_port, // no tunnel port with that number
    no_headroom,  // the frame's buffer has no room for the outer header
    too_long,     // the outer IPv4 datagram would exceed 65535 bytes
};

struct tunnel_counters {
    std::uint64_t encapsulated = 0;
    std::uint64_t encap_unknown_port = 0;
    std::uint64_t encap_no_headroom = 0;
    std::uint64_t encap_too_long = 0;
    std::uint64_t decapsulated = 0;
    // Frames not decapsulated, by decap_status (index 0, ok, stays 0).
    std::array<std::uint64_t, decap_status_count> dropped{};

    [[nodiscard]] std::uint64_t dropped_for(decap_status s) const noexcept {
        return dropped[static_cast<std::size_t>(s)];
    }
};

// One tunnel port.
struct tunnel_port {
    std::uint32_t port = 0; // the OpenFlow port number flows output to and match in_port on
    tunnel_kind kind = tunnel_kind::vxlan;
    std::uint32_t remote_ip = 0;  // host order
    std::uint64_t remote_mac = 0; // outer destination MAC (low 48 bits)
};

// The local end of every tunnel.
struct underlay_config {
    std::uint32_t local_ip = 0;  // host order
    std::uint64_t local_mac = 0; // outer source MAC (low 48 bits)
};

namespace detail {

[[nodiscard]] inline std::uint16_t ipv4_header_checksum(const std::uint8_t* ip, std::size_t n) noexcept {
    std::uint32_t s = 0;
    for (std::size_t i = 0; i < n; i += 2) s += proto::load_be16(ip + i);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return static_cast<std::uint16_t>(~s);
}

// UDP over IPv4: whether the checksum of the datagram `udp` (its `n` bytes,
// the checksum field included) with the IPv4 header `ip`'s pseudo-header is
// right. The caller has checked the checksum field is not 0.
[[nodiscard]] inline bool udp_checksum_ok(const std::uint8_t* ip, const std::uint8_t* udp, std::size_t n) noexcept {
    std::uint64_t s = std::uint64_t{proto::load_be16(ip + proto::ipv4_src_offset)} +
                      proto::load_be16(ip + proto::ipv4_src_offset + 2) +
                      proto::load_be16(ip + proto::ipv4_dst_offset) +
                      proto::load_be16(ip + proto::ipv4_dst_offset + 2) + proto::ip_proto_udp + n;
    std::size_t i = 0;
    for (; i + 1 < n; i += 2) s += proto::load_be16(udp + i);
    if (i < n) s += std::uint64_t{udp[i]} << 8; // an odd last byte, padded with zero
    while (s >> 16) s = (s & 0xffffu) + (s >> 16);
    return s == 0xffffu;
}

// A flow hash of the inner frame for the VXLAN and Geneve source port (entropy for ECMP
// and RSS on the underlay): the MACs, and for IPv4 the addresses, protocol
// and first four L4 bytes (the ports) of a first fragment.
[[nodiscard]] inline std::uint16_t vxlan_source_port(const std::uint8_t* f, std::uint32_t len) noexcept {
    std::uint32_t h = 2166136261u;
    auto mix = [&h](const std::uint8_t* p, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
    };
    mix(f, std::min<std::size_t>(len, 12));
    if (len >= proto::eth_header_len + proto::ipv4_min_header_len &&
        proto::load_be16(f + proto::eth_type_offset) == proto::eth_type_ipv4) {
        const std::uint8_t* ip = f + proto::eth_header_len;
        mix(ip + proto::ipv4_proto_offset, 1);
        mix(ip + proto::ipv4_src_offset, 8);
        const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
        if ((proto::load_be16(ip + proto::ipv4_frag_offset) & proto::ipv4_frag_offset_mask) == 0 &&
            ihl >= proto::ipv4_min_header_len && len >= proto::eth_header_len + ihl + 4)
            mix(ip + ihl, 4);
    }
    h ^= h >> 16;
    return static_cast<std::uint16_t>(49152u + (h & 0x3fffu));
}

} // namespace detail

class tunnel_set {
  public:
    explicit tunnel_set(underlay_config u, std::size_t capacity = 256) : underlay_(u) {
        ports_.reserve(capacity);
        by_remote_.reserve(capacity);
    }

    [[nodiscard]] const underlay_config& underlay() const noexcept { return underlay_; }
    [[nodiscard]] std::span<const tunnel_port> ports() const noexcept { return ports_; }
    [[nodiscard]] const tunnel_counters& counters() const noexcept { return counters_; }

    // Adds a tunnel port (control path). False when its port number is taken,
    // another port of its kind already has its remote IP, or the table is full.
    // Counters are the set's, not the port's: they stay when ports go.
    bool add(const tunnel_port& t) {
        if (ports_.size() == ports_.capacity() || find_port(t.port) != nullptr ||
            find_remote(t.kind, t.remote_ip) != nullptr)
            return false;
        ports_.push_back(t);
        const std::uint64_t k = remote_key(t.kind, t.remote_ip);
        by_remote_.insert(std::lower_bound(by_remote_.begin(), by_remote_.end(), std::pair{k, std::uint32_t{0}}),
                          std::pair{k, static_cast<std::uint32_t>(ports_.size() - 1)});
        return true;
    }

    // Removes tunnel port `port` (control path): from now on its frames
    // are encapsulated for nobody (unknown_port) and its remote's frames
    // decapsulated by nobody (unknown_remote). False when there is no such port.
    bool remove(std::uint32_t port) {
        const tunnel_port* t = find_port(port);
        if (t == nullptr) return false;
        const auto at = static_cast<std::uint32_t>(t - ports_.data());
        const std::uint64_t k = remote_key(t->kind, t->remote_ip);
        by_remote_.erase(std::lower_bound(by_remote_.begin(), by_remote_.end(), std::pair{k, std::uint32_t{0}}));
        ports_.erase(ports_.begin() + at);
        for (auto& [key, index] : by_remote_)
            if (index > at) --index;
        return true;
    }

    [[nodiscard]] const tunnel_port* find_port(std::uint32_t port) const noexcept {
        for (const tunnel_port& t : ports_)
            if (t.port == port) return &t;
        return nullptr;
    }
    [[nodiscard]] bool is_tunnel_port(std::uint32_t port) const noexcept { return find_port(port) != nullptr; }

    [[nodiscard]] const tunnel_port* find_remote(tunnel_kind kind, std::uint32_t remote_ip) const noexcept {
        const std::uint64_t k = remote_key(kind, remote_ip);
        auto it = std::lower_bound(by_remote_.begin(), by_remote_.end(), std::pair{k, std::uint32_t{0}});
        if (it == by_remote_.end() || it->first != k) return nullptr;
        return &ports_[it->second];
    }

    // ---- transmit ----

    // Encapsulates `p` for tunnel port `port` with tunnel id p.tun_id.
    encap_status encapsulate(packet& p, std::uint32_t port) noexcept {
        const tunnel_port* t = find_port(port);
        if (t == nullptr) {
            ++counters_.encap_unknown_port;
            return encap_status::unknown_port;
        }
        return encapsulate(p, *t);
    }

    encap_status encapsulate(packet& p, const tunnel_port& t) noexcept {
        using namespace proto;
        const std::uint32_t over = tunnel_overhead(t.kind);
        const std::uint32_t ip_len = over - static_cast<std::uint32_t>(eth_header_len) + p.len;
        if (ip_len > 0xffffu) {
            ++counters_.encap_too_long;
            return encap_status::too_long;
        }
        const std::uint32_t inner_len = p.len;
        if (!p.push_front(over)) {
            ++counters_.encap_no_headroom;
            return encap_status::no_headroom;
        }
        std::uint8_t* f = p.data;
        store_be48(f + eth_dst_offset, t.remote_mac);
        store_be48(f + eth_src_offset, underlay_.local_mac);
        store_be16(f + eth_type_offset, eth_type_ipv4);
        std::uint8_t* ip = f + eth_header_len;
        ip[0] = 0x45;
        ip[ipv4_tos_offset] = 0;
        store_be16(ip + ipv4_total_len_offset, static_cast<std::uint16_t>(ip_len));
        store_be16(ip + 4, 0); // identification: DF is set, no fragments to tell apart
        store_be16(ip + ipv4_frag_offset, ipv4_dont_fragment);
        ip[ipv4_ttl_offset] = tunnel_ttl;
        ip[ipv4_proto_offset] = t.kind == tunnel_kind::gre ? ip_proto_gre : ip_proto_udp;
        store_be16(ip + ipv4_checksum_offset, 0);
        store_be32(ip + ipv4_src_offset, underlay_.local_ip);
        store_be32(ip + ipv4_dst_offset, t.remote_ip);
        store_be16(ip + ipv4_checksum_offset, detail::ipv4_header_checksum(ip, ipv4_min_header_len));
        std::uint8_t* l4 = ip + ipv4_min_header_len;
        if (t.kind != tunnel_kind::gre) {
            const bool vxlan = t.kind == tunnel_kind::vxlan;
            store_be16(l4, detail::vxlan_source_port(f + over, inner_len));
            store_be16(l4 + 2, vxlan ? udp_port_vxlan : udp_port_geneve);
            store_be16(l4 + 4, static_cast<std::uint16_t>(ip_len - ipv4_min_header_len));
            store_be16(l4 + 6, 0); // no checksum (RFC 7348 and RFC 8926 allow it over IPv4; OVS's default)
            // VXLAN: flags I. Geneve: version 0, no options, O = C = 0, then TEB.
            store_be32(l4 + 8, vxlan ? vxlan_flags : std::uint32_t{eth_type_teb});
            store_be32(l4 + 12, static_cast<std::uint32_t>(p.tun_id & 0xffffffu) << 8);
        } else {
            store_be16(l4, gre_flag_key);
            store_be16(l4 + 2, eth_type_teb);
            store_be32(l4 + 4, static_cast<std::uint32_t>(p.tun_id));
        }
        ++counters_.encapsulated;
        return encap_status::ok;
    }

    // Encapsulates the frames of a burst for `port`: the encapsulated ones
    // come first, in their order, and their count is returned; the others
    // (counted) follow, unchanged, for the caller to release.
    std::size_t encapsulate(std::span<packet> pkts, std::uint32_t port) noexcept {
        const tunnel_port* t = find_port(port);
        if (t == nullptr) {
            counters_.encap_unknown_port += pkts.size();
            return 0;
        }
        std::size_t w = 0;
        for (std::size_t i = 0; i < pkts.size(); ++i)
            if (encapsulate(pkts[i], *t) == encap_status::ok) std::swap(pkts[w++], pkts[i]);
        return w;
    }

    // ---- receive ----

    // Decapsulates `p` (see the top of this header); on any status but ok the
    // frame is unchanged and the reason counted.
    decap_status decapsulate(packet& p) noexcept {
        const decap_status s = try_decapsulate(p);
        if (s == decap_status::ok)
            ++counters_.decapsulated;
        else
            ++counters_.dropped[static_cast<std::size_t>(s)];
        return s;
    }

    // Decapsulates a burst from the underlay: the tunnel frames come first,
    // in their order, and their count is returned; the others follow,
    // unchanged, for the caller to release.
    std::size_t decapsulate(std::span<packet> pkts) noexcept {
        std::size_t w = 0;
        for (std::size_t i = 0; i < pkts.size(); ++i)
            if (decapsulate(pkts[i]) == decap_status::ok) std::swap(pkts[w++], pkts[i]);
        return w;
    }

  private:
    [[nodiscard]] static std::uint64_t remote_key(tunnel_kind k, std::uint32_t ip) noexcept {
        return (std::uint64_t{static_cast<std::uint8_t>(k)} << 32) | ip;
    }

    decap_status try_decapsulate(packet& p) const noexcept {
        using namespace proto;
        const std::uint8_t* f = p.data;
        const std::size_t len = p.len;
        if (len < eth_header_len) return decap_status::truncated;
        if (load_be16(f + eth_type_offset) != eth_type_ipv4) return decap_status::not_ipv4;
        if (len < eth_header_len + ipv4_min_header_len) return decap_status::truncated;
        const std::uint8_t* ip = f + eth_header_len;
        if ((ip[0] >> 4) != 4) return decap_status::not_ipv4;
        const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
        if (ihl < ipv4_min_header_len) return decap_status::not_ipv4;
        if (len < eth_header_len + ihl) return decap_status::truncated;
        const std::size_t total = load_be16(ip + ipv4_total_len_offset);
        if (total < ihl) return decap_status::not_ipv4;
        if (len < eth_header_len + total) return decap_status::truncated;
        if (detail::ipv4_header_checksum(ip, ihl) != 0) return decap_status::bad_ip_checksum;
        if (ihl != ipv4_min_header_len) return decap_status::ip_options;
        const std::uint32_t src = load_be32(ip + ipv4_src_offset);
        const std::uint32_t dst = load_be32(ip + ipv4_dst_offset);
        if (dst != underlay_.local_ip) return decap_status::not_local;
        if ((load_be16(ip + ipv4_frag_offset) & (ipv4_more_fragments | ipv4_frag_offset_mask)) != 0)
            return decap_status::fragment;
        const std::uint8_t* l4 = ip + ihl;
        const std::size_t l4_len = total - ihl; // bytes of the datagram after the IPv4 header
        tunnel_kind kind;
        std::size_t hdr;
        std::uint64_t id;
        if (ip[ipv4_proto_offset] == ip_proto_udp) {
            if (l4_len < udp_header_len) return decap_status::truncated;
            const std::uint16_t dport = load_be16(l4 + 2);
            if (dport != udp_port_vxlan && dport != udp_port_geneve) return decap_status::wrong_udp_port;
            const std::size_t udp_len = load_be16(l4 + 4);
            if (udp_len != l4_len) return decap_status::bad_udp_length;
            if (load_be16(l4 + 6) != 0 && !detail::udp_checksum_ok(ip, l4, l4_len))
                return decap_status::bad_udp_checksum;
            // VXLAN's and Geneve's fixed headers are both 8 bytes.
            if (l4_len < udp_header_len + vxlan_header_len) return decap_status::truncated;
            const std::uint8_t* h = l4 + udp_header_len;
            const std::uint32_t vni_word = load_be32(h + 4);
            if (dport == udp_port_vxlan) {
                if (load_be32(h) != vxlan_flags || (vni_word & 0xffu) != 0) return decap_status::bad_vxlan_header;
                kind = tunnel_kind::vxlan;
                hdr = udp_header_len + vxlan_header_len;
            } else {
                // In Open vSwitch's order: the options' length, the version, the protocol.
                const std::size_t options = std::size_t{h[0] & 0x3fu} * 4;
                hdr = udp_header_len + geneve_header_len + options;
                if (hdr > l4_len) return decap_status::geneve_bad_options_length;
                if ((h[0] >> 6) != 0) return decap_status::geneve_bad_version;
                if (load_be16(h + 2) != eth_type_teb) return decap_status::geneve_not_ethernet;
                if ((h[1] & geneve_flag_oam) != 0) return decap_status::geneve_oam;
                if ((h[1] & geneve_flag_critical) != 0) return decap_status::geneve_critical_options;
                kind = tunnel_kind::geneve;
            }
            id = vni_word >> 8;
        } else if (ip[ipv4_proto_offset] == ip_proto_gre) {
            if (l4_len < 4) return decap_status::truncated;
            const std::uint16_t flags = load_be16(l4);
            if ((flags & gre_flag_key) == 0) return decap_status::gre_no_key;
            if (flags != gre_flag_key) return decap_status::gre_bad_flags;
            if (load_be16(l4 + 2) != eth_type_teb) return decap_status::gre_not_ethernet;
            if (l4_len < gre_key_header_len) return decap_status::truncated;
            kind = tunnel_kind::gre;
            hdr = gre_key_header_len;
            id = load_be32(l4 + 4);
        } else {
            return decap_status::not_tunnel;
        }
        const std::size_t inner = l4_len - hdr;
        if (inner < eth_header_len) return decap_status::truncated;
        const tunnel_port* t = find_remote(kind, src);
        if (t == nullptr) return decap_status::unknown_remote;
        // Checked above: pull_front cannot fail.
        (void)p.pull_front(static_cast<std::uint32_t>(eth_header_len + ihl + hdr));
        p.len = static_cast<std::uint32_t>(inner);
        p.in_port = t->port;
        p.tun_id = id;
        p.tun_src = src;
        p.tun_dst = dst;
        return decap_status::ok;
    }

    underlay_config underlay_;
    std::vector<tunnel_port> ports_;                                 // reserved to capacity
    std::vector<std::pair<std::uint64_t, std::uint32_t>> by_remote_; // (kind, remote IP) -> ports_ index, sorted
    tunnel_counters counters_;
};

} // namespace flowpipe::io
