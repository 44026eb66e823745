// rewrite_frame against its reference twin, compose_frame: for a frame that
// compose_frame wrote from key `before`, rewriting it to key `after` must give
// the frame compose_frame writes from `after` (byte for byte, up to padding).
// For frames with payloads and options, which compose_frame never writes,
// every checksum is checked against a full recomputation instead.
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/core/rewrite.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace fp = flowpipe;
namespace pr = flowpipe::proto;

namespace {

// ---- full checksum recomputation, independent of the code under test -------

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

struct segment {
    std::size_t len = 0;
    std::uint32_t pseudo = 0;
};

segment segment_of(const std::uint8_t* f, const pr::frame_layout& l) {
    const std::uint8_t* ip = f + l.l3;
    segment s;
    if (l.l3_type == pr::l3_kind::ipv4) {
        const std::size_t ihl = std::size_t{ip[0] & 0xfu} * 4;
        s.len = pr::load_be16(ip + 2) - ihl;
        s.pseudo = sum16(ip + 12, 8) + ip[9] + static_cast<std::uint32_t>(s.len);
    } else if (l.l3_type == pr::l3_kind::ipv6) {
        s.len = pr::load_be16(ip + 4);
        s.pseudo = sum16(ip + 8, 32) + ip[6] + static_cast<std::uint32_t>(s.len);
    }
    return s;
}

// Sets every checksum of a frame by full recomputation (the reference).
void fill_checksums(std::uint8_t* f, std::size_t n) {
    const pr::frame_layout l = pr::parse_frame(f, n);
    std::uint8_t* ip = f + l.l3;
    if (l.l3_type == pr::l3_kind::ipv4) {
        const std::size_t ihl = std::size_t{ip[0] & 0xfu} * 4;
        pr::store_be16(ip + 10, 0);
        pr::store_be16(ip + 10, static_cast<std::uint16_t>(~fold16(sum16(ip, ihl))));
    }
    const segment s = segment_of(f, l);
    std::uint8_t* t = f + l.l4;
    switch (l.l4_type) {
    case pr::l4_kind::none: break;
    case pr::l4_kind::tcp:
        pr::store_be16(t + 16, 0);
        pr::store_be16(t + 16, static_cast<std::uint16_t>(~fold16(sum16(t, s.len, s.pseudo))));
        break;
    case pr::l4_kind::udp: {
        pr::store_be16(t + 6, 0);
        const auto c = static_cast<std::uint16_t>(~fold16(sum16(t, s.len, s.pseudo)));
        pr::store_be16(t + 6, c == 0 ? 0xffff : c);
        break;
    }
    case pr::l4_kind::sctp: {
        std::memset(t + 8, 0, 4);
        const std::uint32_t c = crc32c_bitwise(t, s.len);
        for (int i = 0; i < 4; ++i) t[8 + i] = static_cast<std::uint8_t>(c >> (8 * i));
        break;
    }
    case pr::l4_kind::icmp:
        pr::store_be16(t + 2, 0);
        pr::store_be16(t + 2, static_cast<std::uint16_t>(~fold16(sum16(t, s.len))));
        break;
    case pr::l4_kind::icmpv6:
        pr::store_be16(t + 2, 0);
        pr::store_be16(t + 2, static_cast<std::uint16_t>(~fold16(sum16(t, s.len, s.pseudo))));
        break;
    }
}

// Every checksum of the frame equals its full recomputation (a UDP checksum
// of 0 is accepted as "none" when `udp_zero_ok`).
void expect_checksums_valid(const std::uint8_t* f, std::size_t n, bool udp_zero_ok = false) {
    std::vector<std::uint8_t> copy(f, f + n);
    const pr::frame_layout l = pr::parse_frame(f, n);
    fill_checksums(copy.data(), n);
    if (udp_zero_ok && l.l4_type == pr::l4_kind::udp && pr::load_be16(f + l.l4 + 6) == 0)
        pr::store_be16(copy.data() + l.l4 + 6, 0);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(f[i], copy[i]) << "checksum byte " << i << " of " << n;
}

// ---- random but consistent keys (as in compose_test) -----------------------

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

bool is_nd(std::uint8_t type, std::uint8_t code) { return (type == 135 || type == 136) && code == 0; }

struct gen {
    std::mt19937_64 rng;
    std::uint64_t u64() { return rng(); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(rng()); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(rng()); }
    std::uint8_t u8() { return static_cast<std::uint8_t>(rng()); }
    bool coin(int one_in = 2) { return rng() % static_cast<unsigned>(one_in) == 0; }
    fp::uint128 u128() { return (fp::uint128{u64()} << 64) | u64(); }
    std::uint64_t mac() { return u64() & 0xffffffffffffull; }
    std::uint16_t tci() { return static_cast<std::uint16_t>(u16() | pr::vlan_cfi); }

    fp::flow_key make(kind k) {
        fp::flow_key key{};
        key.eth_src = mac();
        key.eth_dst = mac();
        if (coin()) key.vlan_tci = tci();
        const bool v6 = k >= kind::ipv6_tcp;
        switch (k) {
        case kind::eth_other: key.eth_type = 0x88cc; return key;
        case kind::eth_8023: key.eth_type = pr::eth_type_none; return key;
        case kind::arp:
        case kind::rarp:
            key.eth_type = k == kind::arp ? pr::eth_type_arp : pr::eth_type_rarp;
            key.arp_op = static_cast<std::uint16_t>(1 + (rng() & 3));
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
            key.icmp_code = coin() ? 0 : u8();
            return key;
        case kind::ipv6_icmpv6:
            key.nw_proto = pr::ip_proto_icmpv6;
            do {
                key.icmp_type = u8();
                key.icmp_code = coin() ? 0 : u8();
            } while (is_nd(key.icmp_type, key.icmp_code));
            return key;
        case kind::ipv6_ns:
        case kind::ipv6_na:
            key.nw_proto = pr::ip_proto_icmpv6;
            key.icmp_type = k == kind::ipv6_ns ? 135 : 136;
            key.nd_target = u128();
            return key;
        default: key.nw_proto = v6 ? 59 : 47; return key; // no next header / GRE: no L4 read
        }
        key.tp_src = u16();
        key.tp_dst = u16();
        return key;
    }

    // A random edit a pipeline could make: it keeps the key consistent.
    fp::flow_key edit(fp::flow_key k) {
        switch (rng() % 4) { // 802.1Q: push, pop, modify, keep
        case 0: k.vlan_tci = k.vlan_tci ? k.vlan_tci : tci(); break;
        case 1: k.vlan_tci = 0; break;
        case 2: k.vlan_tci = k.vlan_tci ? tci() : 0; break;
        default: break;
        }
        if (coin(3)) k.eth_src = mac();
        if (coin(3)) k.eth_dst = mac();
        if (coin(4)) k.in_port = u32();
        if (coin(4)) k.tun_id = u64();
        if (coin(4)) k.regs[rng() % 8] = u32();
        if (k.eth_type == pr::eth_type_arp || k.eth_type == pr::eth_type_rarp) {
            if (coin(3)) k.arp_op = static_cast<std::uint16_t>(u16() & 0xff); // 8 bits, as Open vSwitch keeps it
            if (coin(3)) k.arp_sha = mac();
            if (coin(3)) k.arp_spa = u32();
            if (coin(3)) k.arp_tha = mac();
            if (coin(3)) k.arp_tpa = u32();
        }
        if (k.eth_type == pr::eth_type_ipv4) {
            if (coin(3)) k.nw_src = u32();
            if (coin(3)) k.nw_dst = u32();
        }
        if (k.eth_type == pr::eth_type_ipv6) {
            if (coin(3)) k.ipv6_src = u128();
            if (coin(3)) k.ipv6_dst = u128();
        }
        if (k.eth_type == pr::eth_type_ipv4 || k.eth_type == pr::eth_type_ipv6) {
            if (coin(3)) k.nw_tos = u8();
            if (coin(3)) k.nw_ttl = u8();
        }
        switch (k.nw_proto) {
        case pr::ip_proto_tcp:
        case pr::ip_proto_udp:
        case pr::ip_proto_sctp:
            if (coin(3)) k.tp_src = u16();
            if (coin(3)) k.tp_dst = u16();
            break;
        case pr::ip_proto_icmp:
            if (coin(3)) k.icmp_type = u8();
            if (coin(3)) k.icmp_code = u8();
            break;
        case pr::ip_proto_icmpv6:
            if (is_nd(k.icmp_type, k.icmp_code)) {
                if (coin(3)) k.nd_target = u128();
                if (coin(4)) k.icmp_type = k.icmp_type == 135 ? 136 : 135;
            } else if (coin(2)) {
                do {
                    k.icmp_type = u8();
                    k.icmp_code = coin() ? 0 : u8();
                } while (is_nd(k.icmp_type, k.icmp_code));
            }
            break;
        default: break;
        }
        return k;
    }
};

// A frame in a heap buffer of exactly headroom + length bytes.
struct owned_frame {
    std::unique_ptr<std::uint8_t[]> buf;
    std::size_t headroom;
    fp::packet pkt;

    owned_frame(const std::uint8_t* f, std::size_t n, std::size_t room)
        : buf(std::make_unique<std::uint8_t[]>(room + n)), headroom(room) {
        std::memset(buf.get(), 0xa5, room);
        std::memcpy(buf.get() + room, f, n);
        pkt.data = buf.get() + room;
        pkt.len = static_cast<std::uint32_t>(n);
        pkt.headroom = static_cast<std::uint32_t>(room);
    }
};

fp::flow_key headers_of(const std::uint8_t* f, std::size_t n, const fp::flow_key& metadata_from) {
    fp::flow_key k = metadata_from;
    fp::flow_key h{};
    fp::extract(f, n, h);
    // Keep metadata, take every header field from the frame.
    k.eth_src = h.eth_src, k.eth_dst = h.eth_dst, k.arp_sha = h.arp_sha, k.arp_tha = h.arp_tha;
    k.arp_spa = h.arp_spa, k.arp_tpa = h.arp_tpa, k.nw_src = h.nw_src, k.nw_dst = h.nw_dst;
    k.eth_type = h.eth_type, k.vlan_tci = h.vlan_tci, k.arp_op = h.arp_op, k.tp_src = h.tp_src;
    k.tp_dst = h.tp_dst, k.nw_proto = h.nw_proto, k.nw_tos = h.nw_tos, k.nw_ttl = h.nw_ttl;
    k.icmp_type = h.icmp_type, k.icmp_code = h.icmp_code, k.ipv6_src = h.ipv6_src;
    k.ipv6_dst = h.ipv6_dst, k.nd_target = h.nd_target;
    return k;
}

} // namespace

class rewrite_random : public ::testing::TestWithParam<std::uint64_t> {};

// compose(before) --rewrite--> must equal compose(after), up to padding.
TEST_P(rewrite_random, matches_compose_of_the_edited_key) {
    gen g{std::mt19937_64{GetParam()}};
    int pushed = 0, popped = 0, refused = 0;
    for (int i = 0; i < 6000; ++i) {
        SCOPED_TRACE("case " + std::to_string(i));
        const fp::flow_key before = g.make(static_cast<kind>(i % kind_count));
        std::array<std::uint8_t, fp::compose_max_frame_len> a{};
        const std::size_t n = fp::compose_frame(before, a);
        ASSERT_GT(n, 0u);
        const std::size_t room = g.coin(8) ? g.rng() % 4 : 4 + g.rng() % 60;
        owned_frame fr(a.data(), n, room);
        fp::flow_key parsed{};
        const pr::frame_layout l = fp::extract(fr.pkt.data, fr.pkt.len, parsed);
        ASSERT_TRUE(parsed == before);
        const fp::flow_key after = g.edit(before);

        const fp::packet was = fr.pkt;
        const fp::rewrite_status st = fp::rewrite_frame(fr.pkt, l, before, after);
        const bool push = !before.vlan_tci && after.vlan_tci;
        if (push && room < 4) {
            ++refused;
            ASSERT_EQ(st, fp::rewrite_status::no_headroom);
            ASSERT_EQ(fr.pkt.data, was.data);
            ASSERT_EQ(fr.pkt.len, was.len);
            ASSERT_EQ(fr.pkt.headroom, was.headroom);
            ASSERT_EQ(std::memcmp(fr.pkt.data, a.data(), n), 0) << "a refused packet is untouched";
            continue;
        }
        ASSERT_EQ(st, fp::rewrite_status::ok);
        pushed += push;
        popped += before.vlan_tci && !after.vlan_tci;
        ASSERT_EQ(fr.pkt.len, n + (push ? 4 : 0) - ((before.vlan_tci && !after.vlan_tci) ? 4 : 0));
        ASSERT_EQ(fr.pkt.data - fr.pkt.headroom, fr.buf.get()) << "headroom starts at the buffer";

        std::array<std::uint8_t, fp::compose_max_frame_len> b{};
        const std::size_t m = fp::compose_frame(after, b);
        const std::size_t common = std::min<std::size_t>(m, fr.pkt.len);
        for (std::size_t j = 0; j < common; ++j) ASSERT_EQ(fr.pkt.data[j], b[j]) << "byte " << j;
        for (std::size_t j = common; j < fr.pkt.len; ++j) ASSERT_EQ(fr.pkt.data[j], 0) << "padding byte " << j;
        for (std::size_t j = common; j < m; ++j) ASSERT_EQ(b[j], 0) << "composed padding byte " << j;
        ASSERT_TRUE(headers_of(fr.pkt.data, fr.pkt.len, after) == after);
        ASSERT_NO_FATAL_FAILURE(expect_checksums_valid(fr.pkt.data, fr.pkt.len));
    }
    EXPECT_GT(pushed, 100);
    EXPECT_GT(popped, 100);
    EXPECT_GT(refused, 50);
}

// Frames compose_frame never writes (payloads, IPv4 options): the checksums
// rewrite_frame patches must equal a full recomputation.
TEST_P(rewrite_random, checksums_of_frames_with_payload_and_options) {
    gen g{std::mt19937_64{GetParam() * 7919}};
    for (int i = 0; i < 4000; ++i) {
        SCOPED_TRACE("case " + std::to_string(i));
        const kind k = static_cast<kind>(static_cast<int>(kind::ipv4_tcp) + i % (kind_count - 4));
        const fp::flow_key key = g.make(k);
        std::array<std::uint8_t, fp::compose_max_frame_len> a{};
        ASSERT_GT(fp::compose_frame(key, a), 0u);
        pr::frame_layout l0 = pr::parse_frame(a.data(), a.size());
        // Headers up to the end of the transport header (or of IP), then options and payload.
        const std::size_t ip_len = key.eth_type == pr::eth_type_ipv4 ? 20 : 40;
        const std::size_t l4_hdr =
            l0.l4_type == pr::l4_kind::none
                ? 0
                : pr::load_be16(a.data() + l0.l3 + (ip_len == 20 ? 2 : 4)) - (ip_len == 20 ? 20 : 0);
        const std::size_t options = ip_len == 20 ? 4 * (g.rng() % 11) : 0;
        const std::size_t payload = g.rng() % 300;
        std::vector<std::uint8_t> f(l0.l3 + ip_len);
        std::memcpy(f.data(), a.data(), f.size());
        for (std::size_t j = 0; j < options; ++j) f.push_back(g.u8());
        f.insert(f.end(), a.data() + l0.l3 + ip_len, a.data() + l0.l3 + ip_len + l4_hdr);
        for (std::size_t j = 0; j < payload; ++j) f.push_back(g.u8());
        std::uint8_t* ip = f.data() + l0.l3;
        if (ip_len == 20) {
            ip[0] = static_cast<std::uint8_t>(0x40 | (5 + options / 4));
            pr::store_be16(ip + 2, static_cast<std::uint16_t>(20 + options + l4_hdr + payload));
        } else {
            pr::store_be16(ip + 4, static_cast<std::uint16_t>(l4_hdr + payload));
        }
        if (l0.l4_type == pr::l4_kind::udp)
            pr::store_be16(f.data() + l0.l3 + ip_len + options + 4, static_cast<std::uint16_t>(8 + payload));
        const bool udp_zero = l0.l4_type == pr::l4_kind::udp && g.coin(4);
        fill_checksums(f.data(), f.size());
        if (udp_zero) pr::store_be16(f.data() + l0.l3 + ip_len + options + 6, 0);

        owned_frame fr(f.data(), f.size(), 8);
        fp::flow_key before{};
        const pr::frame_layout l = fp::extract(fr.pkt.data, fr.pkt.len, before);
        ASSERT_EQ(l.status, pr::parse_status::ok);
        ASSERT_EQ(l.l4_type, l0.l4_type);
        const fp::flow_key after = g.edit(before);
        ASSERT_EQ(fp::rewrite_frame(fr.pkt, l, before, after), fp::rewrite_status::ok);
        ASSERT_TRUE(headers_of(fr.pkt.data, fr.pkt.len, after) == after);
        ASSERT_NO_FATAL_FAILURE(expect_checksums_valid(fr.pkt.data, fr.pkt.len, udp_zero));
        if (udp_zero) {
            const pr::frame_layout l2 = pr::parse_frame(fr.pkt.data, fr.pkt.len);
            EXPECT_EQ(pr::load_be16(fr.pkt.data + l2.l4 + 6), 0) << "UDP checksum 0 stays 0";
        }
        // The payload is never touched.
        EXPECT_EQ(std::memcmp(fr.pkt.data + fr.pkt.len - payload, f.data() + f.size() - payload, payload), 0);
    }
}

INSTANTIATE_TEST_SUITE_P(seeds, rewrite_random, ::testing::Values(1u, 2u, 0x5eedu));

TEST(rewrite, unchanged_key_leaves_the_frame_alone) {
    gen g{std::mt19937_64{3}};
    for (int i = 0; i < kind_count * 20; ++i) {
        fp::flow_key k = g.make(static_cast<kind>(i % kind_count));
        std::array<std::uint8_t, fp::compose_max_frame_len> a{};
        const std::size_t n = fp::compose_frame(k, a);
        owned_frame fr(a.data(), n, 0);
        const pr::frame_layout l = pr::parse_frame(fr.pkt.data, n);
        fp::flow_key after = k;
        after.in_port = 9, after.tun_id = 0x1234, after.regs[5] = 1, after.metadata = 7, after.tun_dst = 1;
        ASSERT_EQ(fp::rewrite_frame(fr.pkt, l, k, after), fp::rewrite_status::ok);
        ASSERT_EQ(fr.pkt.len, n);
        ASSERT_EQ(std::memcmp(fr.pkt.data, a.data(), n), 0) << "metadata never touches the frame";
    }
}

TEST(rewrite, vlan_push_moves_macs_into_headroom) {
    fp::flow_key k{};
    k.eth_dst = 0x0a0b0c0d0e0f;
    k.eth_src = 0x010203040506;
    k.eth_type = 0x88cc;
    std::array<std::uint8_t, fp::compose_max_frame_len> a{};
    const std::size_t n = fp::compose_frame(k, a);
    owned_frame fr(a.data(), n, 4);
    fp::flow_key after = k;
    after.vlan_tci = 0x1000 | (3 << 13) | 42;
    ASSERT_EQ(fp::rewrite_frame(fr.pkt, pr::parse_frame(fr.pkt.data, n), k, after), fp::rewrite_status::ok);
    EXPECT_EQ(fr.pkt.data, fr.buf.get());
    EXPECT_EQ(fr.pkt.headroom, 0u);
    EXPECT_EQ(fr.pkt.len, n + 4);
    EXPECT_EQ(pr::load_be48(fr.pkt.data), 0x0a0b0c0d0e0fu);
    EXPECT_EQ(pr::load_be48(fr.pkt.data + 6), 0x010203040506u);
    EXPECT_EQ(pr::load_be16(fr.pkt.data + 12), 0x8100);
    EXPECT_EQ(pr::load_be16(fr.pkt.data + 14), (3 << 13) | 42);
    EXPECT_EQ(pr::load_be16(fr.pkt.data + 16), 0x88cc);

    // And back: the pop returns the 4 bytes to the headroom.
    fp::flow_key parsed{};
    const pr::frame_layout l = fp::extract(fr.pkt.data, fr.pkt.len, parsed);
    ASSERT_TRUE(parsed == after);
    ASSERT_EQ(fp::rewrite_frame(fr.pkt, l, after, k), fp::rewrite_status::ok);
    EXPECT_EQ(fr.pkt.headroom, 4u);
    EXPECT_EQ(fr.pkt.len, n);
    EXPECT_EQ(std::memcmp(fr.pkt.data, a.data(), n), 0);
}

TEST(rewrite, no_headroom_leaves_packet_untouched) {
    fp::flow_key k{};
    k.eth_type = pr::eth_type_ipv4;
    k.nw_proto = 6;
    k.nw_src = 1;
    std::array<std::uint8_t, fp::compose_max_frame_len> a{};
    const std::size_t n = fp::compose_frame(k, a);
    for (std::size_t room = 0; room < 4; ++room) {
        owned_frame fr(a.data(), n, room);
        fp::flow_key after = k;
        after.vlan_tci = 0x1005;
        after.nw_src = 2; // would be written if the push could happen
        after.eth_dst = 3;
        const fp::packet was = fr.pkt;
        EXPECT_EQ(fp::rewrite_frame(fr.pkt, pr::parse_frame(fr.pkt.data, n), k, after),
                  fp::rewrite_status::no_headroom);
        EXPECT_EQ(fr.pkt.data, was.data);
        EXPECT_EQ(fr.pkt.len, was.len);
        EXPECT_EQ(fr.pkt.headroom, was.headroom);
        EXPECT_EQ(std::memcmp(fr.pkt.data, a.data(), n), 0);
        for (std::size_t j = 0; j < room; ++j) EXPECT_EQ(fr.buf[j], 0xa5);
    }
}

TEST(rewrite, wrong_checksum_stays_wrong_by_the_same_amount) {
    fp::flow_key k{};
    k.eth_type = pr::eth_type_ipv4;
    k.nw_proto = pr::ip_proto_tcp;
    k.nw_src = 0x0a000001;
    k.nw_dst = 0x0a000002;
    k.tp_src = 1;
    k.tp_dst = 2;
    std::array<std::uint8_t, fp::compose_max_frame_len> a{};
    const std::size_t n = fp::compose_frame(k, a);
    const std::uint16_t good = pr::load_be16(a.data() + 34 + 16);
    pr::store_be16(a.data() + 34 + 16, static_cast<std::uint16_t>(good ^ 0x0100));
    owned_frame fr(a.data(), n, 0);
    fp::flow_key after = k;
    after.nw_dst = 0xc0a80001;
    after.tp_dst = 80;
    ASSERT_EQ(fp::rewrite_frame(fr.pkt, pr::parse_frame(fr.pkt.data, n), k, after), fp::rewrite_status::ok);
    std::array<std::uint8_t, fp::compose_max_frame_len> b{};
    ASSERT_EQ(fp::compose_frame(after, b), n);
    const std::uint16_t want = pr::load_be16(b.data() + 34 + 16);
    const std::uint16_t got = pr::load_be16(fr.pkt.data + 34 + 16);
    EXPECT_NE(got, want);
    // The error, in ones' complement terms, is unchanged.
    EXPECT_EQ(fold16(std::uint32_t{static_cast<std::uint16_t>(~got)} + want),
              fold16(std::uint32_t{static_cast<std::uint16_t>(~(good ^ 0x0100))} + good));

    // SCTP: the CRC32c error is kept too.
    k.nw_proto = pr::ip_proto_sctp;
    const std::size_t n2 = fp::compose_frame(k, a);
    a[34 + 8] ^= 0x5a;
    owned_frame fs(a.data(), n2, 0);
    after.nw_proto = pr::ip_proto_sctp;
    ASSERT_EQ(fp::rewrite_frame(fs.pkt, pr::parse_frame(fs.pkt.data, n2), k, after), fp::rewrite_status::ok);
    ASSERT_EQ(fp::compose_frame(after, b), n2);
    EXPECT_EQ(fs.pkt.data[34 + 8], b[34 + 8] ^ 0x5a);
    EXPECT_EQ(std::memcmp(fs.pkt.data + 34 + 9, b.data() + 34 + 9, 3), 0);
}

TEST(rewrite, absent_layers_are_ignored) {
    fp::flow_key k{};
    k.eth_type = pr::eth_type_ipv4;
    k.nw_proto = pr::ip_proto_udp;
    std::array<std::uint8_t, fp::compose_max_frame_len> a{};
    const std::size_t n = fp::compose_frame(k, a);
    owned_frame fr(a.data(), n, 0);
    fp::flow_key after = k;
    after.arp_tpa = 0x01020304; // not an ARP frame
    after.ipv6_dst = 5;         // not IPv6
    after.icmp_type = 3;        // not ICMP
    after.nd_target = 9;
    ASSERT_EQ(fp::rewrite_frame(fr.pkt, pr::parse_frame(fr.pkt.data, n), k, after), fp::rewrite_status::ok);
    EXPECT_EQ(std::memcmp(fr.pkt.data, a.data(), n), 0);

    // A frame too short to be Ethernet is never written.
    std::uint8_t tiny[10] = {};
    fp::packet p{tiny, sizeof tiny, 0, 0, 0};
    after.eth_dst = 1;
    EXPECT_EQ(fp::rewrite_frame(p, pr::parse_frame(tiny, sizeof tiny), k, after), fp::rewrite_status::ok);
    for (std::uint8_t b : tiny) EXPECT_EQ(b, 0);
}

TEST(rewrite, icmp_all_zero_message_gets_ffff) {
    // Echo request (8) -> echo reply (0) with id and sequence 0: the message
    // becomes all zero, whose checksum is 0xffff, not 0.
    fp::flow_key k{};
    k.eth_type = pr::eth_type_ipv4;
    k.nw_proto = pr::ip_proto_icmp;
    k.icmp_type = 8;
    std::array<std::uint8_t, fp::compose_max_frame_len> a{};
    const std::size_t n = fp::compose_frame(k, a);
    owned_frame fr(a.data(), n, 0);
    fp::flow_key after = k;
    after.icmp_type = 0;
    ASSERT_EQ(fp::rewrite_frame(fr.pkt, pr::parse_frame(fr.pkt.data, n), k, after), fp::rewrite_status::ok);
    EXPECT_EQ(pr::load_be16(fr.pkt.data + 34 + 2), 0xffff);
    expect_checksums_valid(fr.pkt.data, n);
}

// rewrite_frame skips the ARP/IP/transport rewrites when no field they write
// changed: every such field must count as a change, and the fields of
// Ethernet, the tag and the metadata must not.
TEST(rewrite, upper_layers_differ_sees_every_field_the_layer_rewrites_write) {
    fp::flow_key base{};
    base.eth_type = 0x0800;
    base.nw_src = 1;
    using edit = void (*)(fp::flow_key&);
    const edit upper[] = {
        [](fp::flow_key& k) { k.arp_sha = 1; },   [](fp::flow_key& k) { k.arp_tha = 1ULL << 47; },
        [](fp::flow_key& k) { k.arp_spa = 1; },   [](fp::flow_key& k) { k.arp_tpa = 1u << 31; },
        [](fp::flow_key& k) { k.nw_src = 2; },    [](fp::flow_key& k) { k.nw_dst = 1; },
        [](fp::flow_key& k) { k.arp_op = 2; },    [](fp::flow_key& k) { k.tp_src = 1; },
        [](fp::flow_key& k) { k.tp_dst = 1; },    [](fp::flow_key& k) { k.nw_proto = 6; },
        [](fp::flow_key& k) { k.nw_tos = 4; },    [](fp::flow_key& k) { k.nw_ttl = 1; },
        [](fp::flow_key& k) { k.icmp_type = 8; }, [](fp::flow_key& k) { k.icmp_code = 1; },
        [](fp::flow_key& k) { k.ipv6_src = 1; },  [](fp::flow_key& k) { k.ipv6_dst = fp::uint128{1} << 127; },
        [](fp::flow_key& k) { k.nd_target = 1; },
    };
    const edit lower[] = {
        [](fp::flow_key& k) { k.eth_src = 1; },       [](fp::flow_key& k) { k.eth_dst = 1; },
        [](fp::flow_key& k) { k.eth_type = 0x86dd; }, [](fp::flow_key& k) { k.vlan_tci = 0x1005; },
        [](fp::flow_key& k) { k.tun_id = 6; },        [](fp::flow_key& k) { k.tun_src = 1; },
        [](fp::flow_key& k) { k.tun_dst = 1; },       [](fp::flow_key& k) { k.in_port = 9; },
        [](fp::flow_key& k) { k.metadata = 1; },      [](fp::flow_key& k) { k.regs[0] = 1; },
        [](fp::flow_key& k) { k.regs[7] = 1; },
    };
    EXPECT_FALSE(fp::detail::upper_layers_differ(base, base));
    for (std::size_t i = 0; i < std::size(upper); ++i) {
        fp::flow_key k = base;
        upper[i](k);
        EXPECT_TRUE(fp::detail::upper_layers_differ(base, k)) << "upper field " << i;
    }
    for (std::size_t i = 0; i < std::size(lower); ++i) {
        fp::flow_key k = base;
        lower[i](k);
        EXPECT_FALSE(fp::detail::upper_layers_differ(base, k)) << "lower field " << i;
    }
}
