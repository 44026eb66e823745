// Ethernet II and 802.1Q: sizes, EtherTypes and offsets.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowpipe::proto {

inline constexpr std::size_t eth_addr_len = 6;
inline constexpr std::size_t eth_header_len = 14; // dst, src, type
inline constexpr std::size_t vlan_header_len = 4; // TPID is the outer type; TCI, inner type

inline constexpr std::size_t eth_dst_offset = 0;
inline constexpr std::size_t eth_src_offset = 6;
inline constexpr std::size_t eth_type_offset = 12;

inline constexpr std::uint16_t eth_type_ipv4 = 0x0800;
inline constexpr std::uint16_t eth_type_arp = 0x0806;
inline constexpr std::uint16_t eth_type_rarp = 0x8035;
inline constexpr std::uint16_t eth_type_vlan = 0x8100; // 802.1Q customer tag
inline constexpr std::uint16_t eth_type_ipv6 = 0x86dd;
// Type/length values below this are 802.3 lengths, not EtherTypes.
inline constexpr std::uint16_t eth_type_min = 0x0600;

// vlan_tci as Open vSwitch keeps it: PCP(3) | CFI/present(1) | VID(12). The
// 0x1000 bit is set for any tagged frame, so 0 means "no tag".
inline constexpr std::uint16_t vlan_vid_mask = 0x0fff;
inline constexpr std::uint16_t vlan_cfi = 0x1000;
inline constexpr std::uint16_t vlan_pcp_mask = 0xe000;
inline constexpr int vlan_pcp_shift = 13;

} // namespace flowpipe::proto
