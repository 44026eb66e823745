// compose_frame is the inverse of extract: extract(compose_frame(k)) == k for
// every consistent key, and the frame is a valid one (checksums verified here
// by an independent recomputation, lengths, the 60-byte minimum).
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace fp = flowpipe;
namespace pr = flowpipe::proto;

namespace {

// ---- independent checksum arithmetic (not the one under test) -------------

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t s = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2) s += (std::uint32_t{p[i]} << 8) | p[i + 1];
    if (n % 2) s += std::uint32_t{p[n - 1]} << 8;
    return s;
}

std::uint16_t fold16(std::uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<std::uint16_t>(s);
}

std::uint32_t crc32c_bitwise(const std::uint8_t* p, std::size_t n) {
    std::uint32_t c = 0xffffffff;
    for (std::size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82f63b78 & (0u - (c & 1)));
    }
    return ~c;
}

// Verifies every checksum and length field of a frame compose_frame wrote.
void expect_valid(const std::uint8_t* f, std::size_t n) {
    const pr::frame_layout l = pr::parse_frame(f, n);
    ASSERT_EQ(l.status, pr::parse_status::ok);
    std::size_t seg_len = 0;
    std::uint32_t pseudo = 0;
    const std::uint8_t* ip = f + l.l3;
    if (l.l3_type == pr::l3_kind::ipv4) {
        EXPECT_EQ(ip[0], 0x45);
        EXPECT_EQ(fold16(sum16(ip, 20)), 0xffff) << "IPv4 header checksum";
        const std::size_t total = pr::load_be16(ip + 2);
        ASSERT_LE(l.l3 + total, n);
        seg_len = total - 20;
        pseudo = sum16(ip + 12, 8) + ip[9] + static_cast<std::uint32_t>(seg_len);
        if (l.l4_type != pr::l4_kind::none) {
            EXPECT_EQ(l.l4, l.l3 + 20);
        }
    } else if (l.l3_type == pr::l3_kind::ipv6) {
        seg_len = pr::load_be16(ip + 4);
        ASSERT_LE(l.l3 + 40 + seg_len, n);
        pseudo = sum16(ip + 8, 32) + ip[6] + static_cast<std::uint32_t>(seg_len);
    }
    const std::uint8_t* t = f + l.l4;
    switch (l.l4_type) {
    case pr::l4_kind::none:
        if (l.l3_type == pr::l3_kind::ipv4 || l.l3_type == pr::l3_kind::ipv6) {
            EXPECT_EQ(seg_len, 0u);
        }
        break;
    case pr::l4_kind::tcp:
        EXPECT_EQ(seg_len, 20u);
        EXPECT_EQ(t[12] >> 4, 5) << "TCP data offset";
        EXPECT_EQ(fold16(sum16(t, seg_len, pseudo)), 0xffff) << "TCP checksum";
        break;
    case pr::l4_kind::udp:
        EXPECT_EQ(seg_len, 8u);
        EXPECT_EQ(pr::load_be16(t + 4), seg_len) << "UDP length";
        EXPECT_NE(pr::load_be16(t + 6), 0) << "UDP checksum present";
        EXPECT_EQ(fold16(sum16(t, seg_len, pseudo)), 0xffff) << "UDP checksum";
        break;
    case pr::l4_kind::sctp: {
        EXPECT_EQ(seg_len, 12u);
        std::array<std::uint8_t, 12> s{};
        std::memcpy(s.data(), t, 12);
        const std::uint32_t stored = std::uint32_t{s[8]} | (std::uint32_t{s[9]} << 8) | (std::uint32_t{s[10]} << 16) |
                                     (std::uint32_t{s[11]} << 24);
        std::memset(s.data() + 8, 0, 4);
        EXPECT_EQ(stored, crc32c_bitwise(s.data(), s.size())) << "SCTP CRC32c";
        break;
    }
    case pr::l4_kind::icmp:
        EXPECT_EQ(seg_len, 8u);
        EXPECT_EQ(fold16(sum16(t, seg_len)), 0xffff) << "ICMP checksum";
        break;
    case pr::l4_kind::icmpv6:
        EXPECT_EQ(seg_len, l.nd ? 24u : 8u);
        EXPECT_EQ(fold16(sum16(t, seg_len, pseudo)), 0xffff) << "ICMPv6 checksum";
        break;
    }
    // Everything after the last header is zero padding.
    std::size_t end = l.l3;
    if (l.l3_type == pr::l3_kind::arp) end = l.l3 + 28;
    if (l.l3_type == pr::l3_kind::ipv4) end = l.l3 + pr::load_be16(ip + 2);
    if (l.l3_type == pr::l3_kind::ipv6) end = l.l3 + 40 + seg_len;
    EXPECT_EQ(n, std::max<std::size_t>(end, 60));
    for (std::size_t i = end; i < n; ++i) EXPECT_EQ(f[i], 0) << "padding byte " << i;
}

// ---- random but consistent keys ---------------------------------------------

enum class kind {
    eth_other,
    eth_8023,
    arp,
    rarp,
    ipv4_tcp,
    ipv4_udp,
    ipv4_sctp,
    ipv4_icmp,
    ipv4_other,
    ipv6_tcp,
    ipv6_udp,
    ipv6_sctp,
    ipv6_icmpv6,
    ipv6_ns,
    ipv6_na,
    ipv6_other,
    count_
};
constexpr int kind_count = static_cast<int>(kind::count_);

struct keygen {
    std::mt19937_64 rng;
    std::uint64_t u64() { return rng(); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(rng()); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(rng()); }
    std::uint8_t u8() { return static_cast<std::uint8_t>(rng()); }
    fp::uint128 u128() { return (fp::uint128{u64()} << 64) | u64(); }
    std::uint64_t mac() { return u64() & 0xffffffffffffull; }

    // A protocol number that extract does not read a transport header for.
    std::uint8_t other_proto(bool v6) {
        for (;;) {
            const std::uint8_t p = u8();
            if (pr::detail::l4_for(p, v6) == pr::l4_kind::none) return p;
        }
    }

    fp::flow_key make(kind k) {
        fp::flow_key key{};
        key.eth_src = mac();
        key.eth_dst = mac();
        if (rng() & 1) key.vlan_tci = static_cast<std::uint16_t>(u16() | pr::vlan_cfi);
        const bool v6 = k >= kind::ipv6_tcp;
        switch (k) {
        case kind::eth_other:
            do key.eth_type = u16();
            while (key.eth_type < pr::eth_type_min || key.eth_type == pr::eth_type_vlan ||
                   key.eth_type == pr::eth_type_arp || key.eth_type == pr::eth_type_rarp ||
                   key.eth_type == pr::eth_type_ipv4 || key.eth_type == pr::eth_type_ipv6);
            return key;
        case kind::eth_8023: key.eth_type = pr::eth_type_none; return key;
        case kind::arp:
        case kind::rarp:
            key.eth_type = k == kind::arp ? pr::eth_type_arp : pr::eth_type_rarp;
            key.arp_op = (rng() & 3)
                             ? static_cast<std::uint16_t>(1 + (rng() & 3))
                             : static_cast<std::uint16_t>(u16() & 0xff); // Open vSwitch keeps 8 bits of the opcode
            key.arp_sha = mac();
            key.arp_tha = mac();
            key.arp_spa = u32();
            key.arp_tpa = u32();
            return key;
        default: break;
        }
        key.eth_type = v6 ? pr::eth_type_ipv6 : pr::eth_type_ipv4;
        key.nw_tos = u8();
        key.nw_ttl = u8();
        if (v6) {
            key.ipv6_src = u128();
            key.ipv6_dst = u128();
        } else {
            key.nw_src = u32();
            key.nw_dst = u32();
        }
        switch (k) {
        case kind::ipv4_tcp:
        case kind::ipv6_tcp: key.nw_proto = pr::ip_proto_tcp; break;
        case kind::ipv4_udp:
        case kind::ipv6_udp: key.nw_proto = pr::ip_proto_udp; break;
        case kind::ipv4_sctp:
        case kind::ipv6_sctp: key.nw_proto = pr::ip_proto_sctp; break;
        case kind::ipv4_icmp:
            key.nw_proto = pr::ip_proto_icmp;
            key.icmp_type = u8();
            key.icmp_code = u8();
            return key;
        case kind::ipv6_icmpv6:
            key.nw_proto = pr::ip_proto_icmpv6;
            key.icmp_type = u8();
            key.icmp_code = u8();
            if ((key.icmp_type == 135 || key.icmp_type == 136) && key.icmp_code == 0) key.nd_target = u128();
            return key;
        case kind::ipv6_ns:
        case kind::ipv6_na:
            key.nw_proto = pr::ip_proto_icmpv6;
            key.icmp_type = k == kind::ipv6_ns ? 135 : 136;
            key.nd_target = u128();
            return key;
        default: key.nw_proto = other_proto(v6); return key;
        }
        key.tp_src = u16();
        key.tp_dst = u16();
        return key;
    }
};

fp::flow_key extract_exact(const std::uint8_t* f, std::size_t n, pr::frame_layout* layout = nullptr) {
    auto copy = std::make_unique<std::uint8_t[]>(n);
    std::memcpy(copy.get(), f, n);
    fp::flow_key back{};
    const pr::frame_layout l = fp::extract(copy.get(), n, back);
    if (layout) *layout = l;
    return back;
}

} // namespace

TEST(compose, crc32c_known_answer) {
    const char* s = "123456789";
    EXPECT_EQ(fp::detail::crc32c(reinterpret_cast<const std::uint8_t*>(s), 9), 0xe3069283u);
    EXPECT_EQ(crc32c_bitwise(reinterpret_cast<const std::uint8_t*>(s), 9), 0xe3069283u);
}

TEST(compose, arp_request_bytes) {
    fp::flow_key k{};
    k.eth_dst = 0xffffffffffff;
    k.eth_src = 0x020000000001;
    k.eth_type = pr::eth_type_arp;
    k.arp_op = 1;
    k.arp_sha = 0x020000000001;
    k.arp_spa = 0x0a000001;
    k.arp_tpa = 0x0a000002;
    std::array<std::uint8_t, fp::compose_max_frame_len> buf{};
    ASSERT_EQ(fp::compose_frame(k, buf), 60u);
    const std::uint8_t want[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0,    0, 0,  1, 0x08, 0x06,
                                   0,    1,    0x08, 0,    6,    4,    0,    1, 0x02, 0, 0,  0, 0,    1,
                                   10,   0,    0,    1,    0,    0,    0,    0, 0,    0, 10, 0, 0,    2};
    EXPECT_EQ(std::memcmp(buf.data(), want, sizeof want), 0);
    for (std::size_t i = 42; i < 60; ++i) EXPECT_EQ(buf[i], 0);
}

TEST(compose, vlan_tag_and_ipv4_udp_bytes) {
    fp::flow_key k{};
    k.eth_dst = 0x001122334455;
    k.eth_src = 0x66778899aabb;
    k.vlan_tci = 0x1000 | (5 << 13) | 100;
    k.eth_type = pr::eth_type_ipv4;
    k.nw_src = 0xc0a80001;
    k.nw_dst = 0xc0a800c7;
    k.nw_proto = 17;
    k.nw_tos = 0x10;
    k.nw_ttl = 64;
    k.tp_src = 1234;
    k.tp_dst = 4789;
    std::array<std::uint8_t, fp::compose_max_frame_len> buf{};
    ASSERT_EQ(fp::compose_frame(k, buf), 60u);
    EXPECT_EQ(pr::load_be16(&buf[12]), 0x8100);
    EXPECT_EQ(pr::load_be16(&buf[14]), (5 << 13) | 100) << "the present bit is not on the wire";
    EXPECT_EQ(pr::load_be16(&buf[16]), 0x0800);
    EXPECT_EQ(buf[18], 0x45);
    EXPECT_EQ(buf[19], 0x10);
    EXPECT_EQ(pr::load_be16(&buf[20]), 28) << "IPv4 total length";
    EXPECT_EQ(buf[26], 64);
    EXPECT_EQ(buf[27], 17);
    EXPECT_EQ(pr::load_be16(&buf[38]), 1234);
    EXPECT_EQ(pr::load_be16(&buf[40]), 4789);
    EXPECT_EQ(pr::load_be16(&buf[42]), 8) << "UDP length";
    expect_valid(buf.data(), 60);
}

TEST(compose, pads_to_ethernet_minimum_and_reports_small_buffers) {
    fp::flow_key k{};
    k.eth_type = 0x88cc;
    std::array<std::uint8_t, fp::compose_max_frame_len> buf;
    buf.fill(0xee);
    ASSERT_EQ(fp::compose_frame(k, buf), 60u);
    for (std::size_t i = 14; i < 60; ++i) EXPECT_EQ(buf[i], 0);
    EXPECT_EQ(buf[60], 0xee) << "nothing written past the frame";

    std::array<std::uint8_t, 59> small;
    small.fill(0xee);
    EXPECT_EQ(fp::compose_frame(k, small), 0u);
    for (std::uint8_t b : small) EXPECT_EQ(b, 0xee) << "a refused buffer is untouched";

    // The longest frame: 802.1Q + IPv6 + neighbour solicitation.
    k.vlan_tci = 0x1001;
    k.eth_type = pr::eth_type_ipv6;
    k.nw_proto = pr::ip_proto_icmpv6;
    k.icmp_type = 135;
    k.nd_target = 1;
    EXPECT_EQ(fp::compose_frame(k, buf), 18u + 40 + 24);
    std::array<std::uint8_t, 81> short_by_one{};
    EXPECT_EQ(fp::compose_frame(k, short_by_one), 0u);
}

TEST(compose, ieee_8023_frame_has_a_length_field) {
    fp::flow_key k{};
    k.eth_type = pr::eth_type_none;
    std::array<std::uint8_t, fp::compose_max_frame_len> buf{};
    ASSERT_EQ(fp::compose_frame(k, buf), 60u);
    EXPECT_EQ(pr::load_be16(&buf[12]), 0) << "no client data, all padding";
    fp::flow_key back{};
    fp::extract(buf.data(), 60, back);
    EXPECT_EQ(back.eth_type, pr::eth_type_none);
}

TEST(compose, metadata_is_not_on_the_wire) {
    fp::flow_key a{};
    a.eth_type = pr::eth_type_ipv4;
    a.nw_proto = 6;
    fp::flow_key b = a;
    b.in_port = 7;
    b.tun_id = 99;
    b.regs[3] = 5;
    b.metadata = 1;
    std::array<std::uint8_t, fp::compose_max_frame_len> fa{}, fb{};
    ASSERT_EQ(fp::compose_frame(a, fa), fp::compose_frame(b, fb));
    EXPECT_EQ(fa, fb);
}

class compose_random : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(compose_random, extract_of_compose_is_identity) {
    keygen g{std::mt19937_64{GetParam()}};
    std::array<int, kind_count> seen{};
    for (int i = 0; i < 4000; ++i) {
        const kind k = static_cast<kind>(i % kind_count);
        const fp::flow_key key = g.make(k);
        std::array<std::uint8_t, fp::compose_max_frame_len> buf{};
        const std::size_t n = fp::compose_frame(key, buf);
        ASSERT_GE(n, 60u);
        pr::frame_layout l;
        const fp::flow_key back = extract_exact(buf.data(), n, &l);
        ASSERT_EQ(l.status, pr::parse_status::ok) << "case " << i << " kind " << static_cast<int>(k);
        ASSERT_TRUE(back == key) << "case " << i << " kind " << static_cast<int>(k);
        ASSERT_NO_FATAL_FAILURE(expect_valid(buf.data(), n)) << "case " << i;
        if (::testing::Test::HasFailure()) FAIL() << "case " << i << " kind " << static_cast<int>(k);
        ++seen[static_cast<std::size_t>(k)];
    }
    for (int c : seen) EXPECT_GT(c, 200);
}

INSTANTIATE_TEST_SUITE_P(seeds, compose_random, ::testing::Values(1u, 2u, 0xf10f1u));
