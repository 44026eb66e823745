// Test support: real frames built from flow keys, in driver-like buffers with
// headroom, and the key a frame carries. Shared by the pipeline and action tests.
#pragma once

#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/core/packet.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace flowpipe::test {

inline constexpr std::uint32_t headroom = 64;

// Frames composed from keys; buffers never move, so packets stay valid.
struct frames {
    std::deque<std::array<std::uint8_t, 2048>> bufs;
    std::vector<packet> pkts;

    packet& add(const flow_key& k) {
        auto& b = bufs.emplace_back();
        b.fill(0);
        const std::size_t len = compose_frame(k, std::span<std::uint8_t>(b.data() + headroom, b.size() - headroom));
        packet p;
        p.data = b.data() + headroom;
        p.len = static_cast<std::uint32_t>(len);
        p.headroom = headroom;
        p.in_port = k.in_port;
        p.tun_id = k.tun_id;
        pkts.push_back(p);
        return pkts.back();
    }
};

// An IPv4/UDP frame's key from in_port, MACs and an optional VLAN TCI.
inline flow_key eth(std::uint32_t in_port, std::uint64_t src, std::uint64_t dst, std::uint16_t vlan_tci = 0) {
    flow_key k{};
    k.in_port = in_port;
    k.eth_src = src;
    k.eth_dst = dst;
    k.eth_type = 0x0800;
    k.vlan_tci = vlan_tci;
    k.nw_src = 0x0a000001;
    k.nw_dst = 0x0a000002;
    k.nw_proto = 17;
    k.nw_ttl = 64;
    k.tp_src = 1000;
    k.tp_dst = 2000;
    return k;
}

// The header fields a frame carries.
inline flow_key key_of(const packet& p) {
    flow_key k{};
    extract(p.data, p.len, k);
    return k;
}

} // namespace flowpipe::test
