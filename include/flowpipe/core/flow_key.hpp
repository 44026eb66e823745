// The flow key: every field a flow table can match on, for one packet.
//
// Open vSwitch's `struct flow`, condensed: metadata (in_port, tunnel, registers)
// and header fields, each in host byte order as an unsigned integer of its
// width (MACs are the low 48 bits of a uint64, IPv6 addresses a uint128). A
// field the packet does not have is zero, which is what makes a flow that
// matches it (with its prerequisite, e.g. `arp_tpa` needs `eth_type=0x0806`)
// fail to match, as in Open vSwitch.
//
// The layout has no implicit padding, so the key can be hashed and compared
// as 22 64-bit words (`word_count`): the generic masked tables do exactly that.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <flowpipe/proto/wire.hpp>

namespace flowpipe {

using proto::uint128;

struct alignas(16) flow_key {
    // 64-bit fields
    std::uint64_t tun_id = 0;
    std::uint64_t metadata = 0;
    std::uint64_t eth_src = 0; // 48 bits
    std::uint64_t eth_dst = 0; // 48 bits
    std::uint64_t arp_sha = 0; // 48 bits
    std::uint64_t arp_tha = 0; // 48 bits
    // 32-bit fields
    std::uint32_t in_port = 0;
    std::uint32_t tun_src = 0;
    std::uint32_t tun_dst = 0;
    std::array<std::uint32_t, 8> regs{};
    std::uint32_t arp_spa = 0;
    std::uint32_t arp_tpa = 0;
    std::uint32_t nw_src = 0;
    std::uint32_t nw_dst = 0;
    // 16-bit fields
    std::uint16_t eth_type = 0;
    std::uint16_t vlan_tci = 0; // PCP | 0x1000 present | VID; 0 when untagged
    std::uint16_t arp_op = 0;
    std::uint16_t tp_src = 0;
    std::uint16_t tp_dst = 0;
    // 8-bit fields
    std::uint8_t nw_proto = 0;
    std::uint8_t nw_tos = 0;
    std::uint8_t nw_ttl = 0;
    std::uint8_t icmp_type = 0;
    std::uint8_t icmp_code = 0;
    std::uint8_t pad_[5] = {};
    // 128-bit fields
    uint128 ipv6_src = 0;
    uint128 ipv6_dst = 0;
    uint128 nd_target = 0;

    static constexpr std::size_t word_count = 22;

    friend bool operator==(const flow_key& a, const flow_key& b) noexcept {
        return std::memcmp(&a, &b, sizeof(flow_key)) == 0;
    }
};

static_assert(sizeof(flow_key) == flow_key::word_count * 8, "flow_key must have no implicit padding");

// The key as 64-bit words, for hashing and masked comparison.
[[nodiscard]] inline std::array<std::uint64_t, flow_key::word_count> key_words(const flow_key& k) noexcept {
    std::array<std::uint64_t, flow_key::word_count> w;
    std::memcpy(w.data(), &k, sizeof(flow_key));
    return w;
}

} // namespace flowpipe
