// Tunnel encapsulation as it looks on the physical network, for the demo's
// pcap files: a frame that came in on, or goes out of, a tunnel port is
// written as the packet between the two nodes (outer Ethernet + IPv4 +
// VXLAN, Geneve or GRE with the segment id as VNI / key, then the inner
// frame), so tcpdump and Wireshark show the tunnel and the frame inside it.
// decapsulate() reads such packets back (--pcap).
#pragma once

#include <flowpipe/neutron/agent.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace demo {

namespace nt = flowpipe::neutron;

inline constexpr std::uint16_t vxlan_port = 4789, geneve_port = 6081;

// A node's NIC MAC in the pcaps: locally administered, from its IP.
[[nodiscard]] constexpr std::uint64_t nic_mac(std::uint32_t ip) noexcept { return 0x020000000000ULL | ip; }

namespace detail {
inline void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
inline void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
    put16(b, static_cast<std::uint16_t>(v >> 16));
    put16(b, static_cast<std::uint16_t>(v));
}
inline void put_mac(std::vector<std::uint8_t>& b, std::uint64_t m) {
    for (int i = 5; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(m >> (8 * i)));
}
inline std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
inline std::uint32_t get32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
} // namespace detail

// The packet `inner` is carried in from node src_ip to node dst_ip.
[[nodiscard]] inline std::vector<std::uint8_t> encapsulate(std::span<const std::uint8_t> inner, nt::network_type t,
                                                           std::uint64_t segment, std::uint32_t src_ip,
                                                           std::uint32_t dst_ip) {
    using namespace detail;
    std::vector<std::uint8_t> b;
    put_mac(b, nic_mac(dst_ip));
    put_mac(b, nic_mac(src_ip));
    put16(b, 0x0800);
    const std::size_t ip_at = b.size();
    const bool gre = t == nt::network_type::gre;
    const std::size_t tun_hdr = gre ? 8 : 8 + 8; // GRE with key | UDP + VXLAN/Geneve
    const std::size_t total = 20 + tun_hdr + inner.size();
    put16(b, 0x4500);
    put16(b, static_cast<std::uint16_t>(total));
    put16(b, 0);
    put16(b, 0x4000); // DF
    b.push_back(64);
    b.push_back(gre ? 47 : 17);
    put16(b, 0); // checksum, below
    put32(b, src_ip);
    put32(b, dst_ip);
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < 20; i += 2) sum += get16(&b[ip_at + i]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    b[ip_at + 10] = static_cast<std::uint8_t>(~sum >> 8);
    b[ip_at + 11] = static_cast<std::uint8_t>(~sum);
    if (gre) {
        put16(b, 0x2000); // K: key present
        put16(b, 0x6558); // transparent Ethernet bridging
        put32(b, static_cast<std::uint32_t>(segment));
    } else {
        // UDP source port from the inner frame, as the kernel hashes flows
        std::uint32_t h = 0;
        for (std::size_t i = 0; i < inner.size() && i < 14; ++i) h = h * 31 + inner[i];
        put16(b, static_cast<std::uint16_t>(49152 + h % 16384));
        put16(b, t == nt::network_type::vxlan ? vxlan_port : geneve_port);
        put16(b, static_cast<std::uint16_t>(8 + 8 + inner.size()));
        put16(b, 0); // no UDP checksum (allowed over IPv4, as the kernel sends VXLAN)
        if (t == nt::network_type::vxlan) {
            put32(b, 0x08000000); // I flag: VNI valid
        } else {
            put16(b, 0x0000); // version 0, no options, no flags
            put16(b, 0x6558);
        }
        put32(b, static_cast<std::uint32_t>(segment << 8));
    }
    b.insert(b.end(), inner.begin(), inner.end());
    return b;
}

struct tunneled {
    nt::network_type type;
    std::uint64_t segment;
    std::uint32_t src_ip, dst_ip;
    std::span<const std::uint8_t> inner;
};

// The tunnel packet `frame` is, if it is one (untagged IPv4 carrying
// VXLAN on UDP 4789, Geneve on UDP 6081 or GRE with a key and Ethernet inside).
[[nodiscard]] inline std::optional<tunneled> decapsulate(std::span<const std::uint8_t> f) {
    using namespace detail;
    if (f.size() < 14 + 20 || get16(&f[12]) != 0x0800) return std::nullopt;
    const std::uint8_t* ip = &f[14];
    if (ip[0] >> 4 != 4) return std::nullopt;
    const std::size_t ihl = (ip[0] & 15u) * 4u;
    if (ihl < 20 || f.size() < 14 + ihl + 8 || (get16(ip + 6) & 0x3fff) != 0) return std::nullopt; // fragments: no
    const std::uint32_t src = get32(ip + 12), dst = get32(ip + 16);
    const std::uint8_t* l4 = ip + ihl;
    const std::size_t left = f.size() - 14 - ihl;
    if (ip[9] == 17) {
        const std::uint16_t dport = get16(l4 + 2);
        if ((dport != vxlan_port && dport != geneve_port) || left < 16) return std::nullopt;
        const std::uint8_t* h = l4 + 8;
        std::size_t hdr = 8;
        nt::network_type t;
        if (dport == vxlan_port) {
            if (!(h[0] & 0x08)) return std::nullopt;
            t = nt::network_type::vxlan;
        } else {
            if (h[0] >> 6 != 0 || get16(h + 2) != 0x6558) return std::nullopt;
            hdr += (h[0] & 0x3fu) * 4u;
            t = nt::network_type::geneve;
        }
        if (left < 8 + hdr) return std::nullopt;
        return tunneled{t, get32(h + 4) >> 8, src, dst, f.subspan(14 + ihl + 8 + hdr)};
    }
    if (ip[9] == 47) {
        const std::uint16_t flags = get16(l4);
        if (!(flags & 0x2000) || get16(l4 + 2) != 0x6558 || (flags & 0x0007) != 0) return std::nullopt;
        std::size_t at = 4;
        if (flags & 0x8000) at += 4; // checksum + reserved
        if (left < at + 4) return std::nullopt;
        const std::uint32_t key = get32(l4 + at);
        at += 4;
        if (flags & 0x1000) at += 4; // sequence number
        if (left < at) return std::nullopt;
        return tunneled{nt::network_type::gre, key, src, dst, f.subspan(14 + ihl + at)};
    }
    return std::nullopt;
}

} // namespace demo
