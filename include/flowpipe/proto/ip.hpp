// IPv4 and IPv6 fixed headers, and the transport headers a flow key reads
// (TCP, UDP, SCTP ports; ICMP and ICMPv6 type/code; the ND target).
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowpipe::proto {

inline constexpr std::size_t ipv4_min_header_len = 20;
inline constexpr std::size_t ipv4_tos_offset = 1;
inline constexpr std::size_t ipv4_total_len_offset = 2;
inline constexpr std::size_t ipv4_frag_offset = 6;
inline constexpr std::size_t ipv4_ttl_offset = 8;
inline constexpr std::size_t ipv4_proto_offset = 9;
inline constexpr std::size_t ipv4_checksum_offset = 10;
inline constexpr std::size_t ipv4_src_offset = 12;
inline constexpr std::size_t ipv4_dst_offset = 16;
inline constexpr std::uint16_t ipv4_more_fragments = 0x2000;
inline constexpr std::uint16_t ipv4_frag_offset_mask = 0x1fff;

inline constexpr std::size_t ipv6_header_len = 40;
inline constexpr std::size_t ipv6_next_header_offset = 6;
inline constexpr std::size_t ipv6_hop_limit_offset = 7;
inline constexpr std::size_t ipv6_src_offset = 8;
inline constexpr std::size_t ipv6_dst_offset = 24;

inline constexpr std::uint8_t ip_proto_icmp = 1;
inline constexpr std::uint8_t ip_proto_tcp = 6;
inline constexpr std::uint8_t ip_proto_udp = 17;
inline constexpr std::uint8_t ip_proto_gre = 47;
inline constexpr std::uint8_t ip_proto_icmpv6 = 58;
inline constexpr std::uint8_t ip_proto_sctp = 132;

inline constexpr std::size_t tcp_min_header_len = 20;
inline constexpr std::size_t udp_header_len = 8;
inline constexpr std::size_t sctp_header_len = 12;
inline constexpr std::size_t icmp_header_len = 4;  // type, code, checksum
inline constexpr std::size_t nd_target_offset = 8; // after ICMPv6 header + reserved
inline constexpr std::size_t nd_min_len = 24;      // ICMPv6 header, reserved, target
inline constexpr std::uint8_t icmpv6_neighbor_solicit = 135;
inline constexpr std::uint8_t icmpv6_neighbor_advert = 136;

inline constexpr std::uint16_t udp_port_vxlan = 4789;

} // namespace flowpipe::proto
