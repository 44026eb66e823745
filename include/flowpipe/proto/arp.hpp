// ARP for IPv4 over Ethernet (RFC 826): the only form a flow key describes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowpipe::proto {

inline constexpr std::size_t arp_eth_ipv4_len = 28;
inline constexpr std::uint16_t arp_htype_ethernet = 1;
inline constexpr std::uint16_t arp_op_request = 1;
inline constexpr std::uint16_t arp_op_reply = 2;

// Offsets inside the ARP payload.
inline constexpr std::size_t arp_htype_offset = 0;
inline constexpr std::size_t arp_ptype_offset = 2;
inline constexpr std::size_t arp_hlen_offset = 4;
inline constexpr std::size_t arp_plen_offset = 5;
inline constexpr std::size_t arp_op_offset = 6;
inline constexpr std::size_t arp_sha_offset = 8;
inline constexpr std::size_t arp_spa_offset = 14;
inline constexpr std::size_t arp_tha_offset = 18;
inline constexpr std::size_t arp_tpa_offset = 24;

} // namespace flowpipe::proto
