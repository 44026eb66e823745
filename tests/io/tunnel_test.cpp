// VXLAN, Geneve and GRE tunnel ports: encapsulation byte for byte,
// decapsulation back to the inner frame and its metadata (Geneve with and
// without options, UDP checksums 0 or right), every reason a frame from the
// underlay is refused, truncation at every length, ports that go and come
// back, and a frame from a VM port through a pipeline, across VXLAN, to the
// other host.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/core/compose.hpp>
#include <flowpipe/io/memory_port.hpp>
#include <flowpipe/io/tunnel.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace fp = flowpipe;
namespace io = flowpipe::io;
using fp::packet;
using io::decap_status;

namespace {

constexpr std::uint32_t ip_a = 0xc0a80101; // 192.168.1.1, this host
constexpr std::uint32_t ip_b = 0xc0a80102; // 192.168.1.2, the remote
constexpr std::uint64_t mac_a = 0x020000000001;
constexpr std::uint64_t mac_b = 0x020000000002;
constexpr std::uint32_t vxlan_port = 10;
constexpr std::uint32_t gre_port = 11;
constexpr std::uint32_t geneve_port = 12;

// A 60-byte inner frame of a type the source-port hash reads only the MACs of.
std::vector<std::uint8_t> inner_frame() {
    std::vector<std::uint8_t> f = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x88, 0xb5};
    for (std::uint8_t i = 0; f.size() < 60; ++i) f.push_back(i);
    return f;
}

// A frame in a buffer with room in front.
struct buffer {
    std::vector<std::uint8_t> mem;
    packet pkt;
    buffer(std::span<const std::uint8_t> frame, std::uint32_t headroom) : mem(headroom + frame.size()) {
        std::copy(frame.begin(), frame.end(), mem.begin() + headroom);
        pkt.data = mem.data() + headroom;
        pkt.len = static_cast<std::uint32_t>(frame.size());
        pkt.headroom = headroom;
    }
    [[nodiscard]] std::vector<std::uint8_t> bytes() const { return {pkt.data, pkt.data + pkt.len}; }
};

io::tunnel_set host_a() {
    io::tunnel_set t({ip_a, mac_a});
    EXPECT_TRUE(t.add({vxlan_port, io::tunnel_kind::vxlan, ip_b, mac_b}));
    EXPECT_TRUE(t.add({gre_port, io::tunnel_kind::gre, ip_b, mac_b}));
    EXPECT_TRUE(t.add({geneve_port, io::tunnel_kind::geneve, ip_b, mac_b}));
    return t;
}

// Host B's view: tunnels back to A.
io::tunnel_set host_b() {
    io::tunnel_set t({ip_b, mac_b});
    EXPECT_TRUE(t.add({20, io::tunnel_kind::vxlan, ip_a, mac_a}));
    EXPECT_TRUE(t.add({21, io::tunnel_kind::gre, ip_a, mac_a}));
    EXPECT_TRUE(t.add({22, io::tunnel_kind::geneve, ip_a, mac_a}));
    return t;
}

// The outer headers, written out by hand.
const std::vector<std::uint8_t> vxlan_outer = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // dst MAC: remote
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src MAC: local
    0x08, 0x00,                         // IPv4
    0x45, 0x00, 0x00, 0x60,             // v4, IHL 5, TOS 0, total 96 = 20 + 8 + 8 + 60
    0x00, 0x00, 0x40, 0x00,             // id 0, DF
    0x40, 0x11, 0xb7, 0x39,             // TTL 64, UDP, checksum
    0xc0, 0xa8, 0x01, 0x01,             // 192.168.1.1
    0xc0, 0xa8, 0x01, 0x02,             // 192.168.1.2
    0xcc, 0x01, 0x12, 0xb5,             // source port (hash of the inner MACs), 4789
    0x00, 0x4c, 0x00, 0x00,             // UDP length 76, no checksum
    0x08, 0x00, 0x00, 0x00,             // I flag
    0x12, 0x34, 0x56, 0x00,             // VNI 0x123456
};
const std::vector<std::uint8_t> gre_outer = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x58, // total 88 = 20 + 8 + 60
    0x00, 0x00, 0x40, 0x00,                               //
    0x40, 0x2f, 0xb7, 0x23,                               // TTL 64, GRE, checksum
    0xc0, 0xa8, 0x01, 0x01,                               //
    0xc0, 0xa8, 0x01, 0x02,                               //
    0x20, 0x00, 0x65, 0x58,                               // K, transparent Ethernet bridging
    0x89, 0xab, 0xcd, 0xef,                               // key
};

// RFC 8926: the same Ethernet/IPv4/UDP as VXLAN's (so the same IPv4
// checksum and source port), destination 6081, then version 0, options
// length 0, O = C = 0, protocol 0x6558, VNI and a reserved byte.
const std::vector<std::uint8_t> geneve_outer = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, //
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, //
    0x08, 0x00,                         //
    0x45, 0x00, 0x00, 0x60,             // total 96 = 20 + 8 + 8 + 60
    0x00, 0x00, 0x40, 0x00,             //
    0x40, 0x11, 0xb7, 0x39,             //
    0xc0, 0xa8, 0x01, 0x01,             //
    0xc0, 0xa8, 0x01, 0x02,             //
    0xcc, 0x01, 0x17, 0xc1,             // source port, 6081
    0x00, 0x4c, 0x00, 0x00,             // UDP length 76, no checksum
    0x00, 0x00, 0x65, 0x58,             // version 0, no options, no flags, transparent Ethernet bridging
    0x12, 0x34, 0x56, 0x00,             // VNI 0x123456
};

std::vector<std::uint8_t> concat(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    std::vector<std::uint8_t> v = a;
    v.insert(v.end(), b.begin(), b.end());
    return v;
}

// A valid frame from A as B receives it.
std::vector<std::uint8_t> vxlan_frame() { return concat(vxlan_outer, inner_frame()); }
std::vector<std::uint8_t> gre_frame() { return concat(gre_outer, inner_frame()); }
std::vector<std::uint8_t> geneve_frame() { return concat(geneve_outer, inner_frame()); }

void fix_ip_checksum(std::vector<std::uint8_t>& f) {
    const std::size_t ihl = (f[14] & 0x0fu) * 4u;
    f[24] = 0;
    f[25] = 0;
    std::uint32_t s = 0;
    for (std::size_t i = 0; i < ihl; i += 2) s += static_cast<std::uint32_t>(f[14 + i] << 8 | f[15 + i]);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    f[24] = static_cast<std::uint8_t>(~s >> 8);
    f[25] = static_cast<std::uint8_t>(~s);
}

void put16(std::vector<std::uint8_t>& f, std::size_t at, std::uint16_t v) {
    f[at] = static_cast<std::uint8_t>(v >> 8);
    f[at + 1] = static_cast<std::uint8_t>(v);
}

// The UDP checksum of a frame with a 20-byte IPv4 header, written in: the
// RFC 768 sum over the pseudo-header (addresses, protocol, UDP length) and
// the datagram, odd byte padded, 0 sent as 0xffff.
void fix_udp_checksum(std::vector<std::uint8_t>& f) {
    const std::size_t udp = 34;
    const std::size_t n = static_cast<std::size_t>(f[udp + 4] << 8 | f[udp + 5]);
    f[udp + 6] = 0;
    f[udp + 7] = 0;
    std::uint32_t s = 17 + static_cast<std::uint32_t>(n);
    for (std::size_t i = 26; i < 34; i += 2) s += static_cast<std::uint32_t>(f[i] << 8 | f[i + 1]);
    for (std::size_t i = 0; i < n; ++i) s += i % 2 == 0 ? static_cast<std::uint32_t>(f[udp + i] << 8) : f[udp + i];
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    const auto c = static_cast<std::uint16_t>(~s);
    put16(f, udp + 6, c == 0 ? 0xffff : c);
}

// A Geneve frame with `options` (a multiple of 4 bytes) after the fixed
// header and the inner frame after them, lengths and checksum fixed.
std::vector<std::uint8_t> geneve_frame_with_options(const std::vector<std::uint8_t>& options) {
    std::vector<std::uint8_t> f(geneve_outer.begin(), geneve_outer.end());
    f.insert(f.end(), options.begin(), options.end());
    const auto inner = inner_frame();
    f.insert(f.end(), inner.begin(), inner.end());
    f[42] = static_cast<std::uint8_t>(options.size() / 4);
    put16(f, 16, static_cast<std::uint16_t>(f.size() - 14));
    put16(f, 38, static_cast<std::uint16_t>(f.size() - 34));
    fix_ip_checksum(f);
    return f;
}

} // namespace

TEST(tunnel, the_hand_written_outer_headers_have_right_ipv4_checksums) {
    for (const auto* outer : {&vxlan_outer, &gre_outer, &geneve_outer}) {
        auto f = *outer;
        fix_ip_checksum(f);
        EXPECT_EQ(f, *outer);
    }
}

TEST(tunnel, vxlan_encapsulation_byte_for_byte_and_back) {
    io::tunnel_set a = host_a();
    const auto inner = inner_frame();
    buffer b(inner, 64);
    b.pkt.tun_id = 0xab123456; // key=flow: the low 24 bits are the VNI
    ASSERT_EQ(a.encapsulate(b.pkt, vxlan_port), io::encap_status::ok);
    EXPECT_EQ(b.pkt.headroom, 64u - 50u);
    EXPECT_EQ(b.bytes(), vxlan_frame());

    io::tunnel_set other = host_b();
    b.pkt.in_port = 99;
    ASSERT_EQ(other.decapsulate(b.pkt), decap_status::ok);
    EXPECT_EQ(b.bytes(), inner);
    EXPECT_EQ(b.pkt.headroom, 64u);
    EXPECT_EQ(b.pkt.in_port, 20u);
    EXPECT_EQ(b.pkt.tun_id, 0x123456u);
    EXPECT_EQ(b.pkt.tun_src, ip_a);
    EXPECT_EQ(b.pkt.tun_dst, ip_b);
    EXPECT_EQ(a.counters().encapsulated, 1u);
    EXPECT_EQ(other.counters().decapsulated, 1u);
}

TEST(tunnel, gre_encapsulation_byte_for_byte_and_back) {
    io::tunnel_set a = host_a();
    const auto inner = inner_frame();
    buffer b(inner, 42);
    b.pkt.tun_id = 0x1189abcdef; // the low 32 bits are the key
    ASSERT_EQ(a.encapsulate(b.pkt, gre_port), io::encap_status::ok);
    EXPECT_EQ(b.pkt.headroom, 0u);
    EXPECT_EQ(b.bytes(), gre_frame());

    io::tunnel_set other = host_b();
    ASSERT_EQ(other.decapsulate(b.pkt), decap_status::ok);
    EXPECT_EQ(b.bytes(), inner);
    EXPECT_EQ(b.pkt.in_port, 21u);
    EXPECT_EQ(b.pkt.tun_id, 0x89abcdefu);
    EXPECT_EQ(b.pkt.tun_src, ip_a);
    EXPECT_EQ(b.pkt.tun_dst, ip_b);
}

TEST(tunnel, geneve_encapsulation_byte_for_byte_and_back) {
    io::tunnel_set a = host_a();
    const auto inner = inner_frame();
    buffer b(inner, 50);
    b.pkt.tun_id = 0xab123456; // the low 24 bits are the VNI
    ASSERT_EQ(a.encapsulate(b.pkt, geneve_port), io::encap_status::ok);
    EXPECT_EQ(b.pkt.headroom, 0u);
    EXPECT_EQ(b.bytes(), geneve_frame());

    io::tunnel_set other = host_b();
    ASSERT_EQ(other.decapsulate(b.pkt), decap_status::ok);
    EXPECT_EQ(b.bytes(), inner);
    EXPECT_EQ(b.pkt.headroom, 50u);
    EXPECT_EQ(b.pkt.in_port, 22u);
    EXPECT_EQ(b.pkt.tun_id, 0x123456u);
    EXPECT_EQ(b.pkt.tun_src, ip_a);
    EXPECT_EQ(b.pkt.tun_dst, ip_b);
    EXPECT_EQ(other.counters().decapsulated, 1u);
    EXPECT_EQ(io::tunnel_overhead(io::tunnel_kind::geneve), 50u);
}

TEST(tunnel, geneve_options_are_skipped_and_reserved_bits_ignored) {
    const auto inner = inner_frame();
    // Options (class, type, length in words, data) are not parsed, only
    // skipped: the second one's type has its critical bit, but only the
    // header's C bit is looked at (as Linux's geneve device does).
    const std::vector<std::uint8_t> options = {0x01, 0x02, 0x03, 0x01, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0x80, 0x02,
                                               0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0,    0,    0,    0};
    for (std::size_t words : {std::size_t{0}, std::size_t{1}, std::size_t{6}}) {
        SCOPED_TRACE(words);
        auto f = geneve_frame_with_options(std::vector<std::uint8_t>(options.begin(), options.begin() + 4 * words));
        f[43] = 0x3f; // the six reserved flag bits
        f[49] = 0xee; // the reserved byte after the VNI
        io::tunnel_set b = host_b();
        buffer buf(f, 0);
        ASSERT_EQ(b.decapsulate(buf.pkt), decap_status::ok);
        EXPECT_EQ(buf.bytes(), inner);
        EXPECT_EQ(buf.pkt.tun_id, 0x123456u);
        EXPECT_EQ(buf.pkt.in_port, 22u);
        EXPECT_EQ(buf.pkt.headroom, 50u + 4 * words);
    }
    // The longest options a header can say: 63 words.
    auto f = geneve_frame_with_options(std::vector<std::uint8_t>(252, 0));
    io::tunnel_set b = host_b();
    buffer buf(f, 0);
    ASSERT_EQ(b.decapsulate(buf.pkt), decap_status::ok);
    EXPECT_EQ(buf.bytes(), inner);
}

TEST(tunnel, a_udp_checksum_is_checked_when_it_is_not_zero) {
    for (const bool geneve : {false, true}) {
        SCOPED_TRACE(geneve);
        auto f = geneve ? geneve_frame() : vxlan_frame();
        f.push_back(0x5a); // an odd datagram length: the last byte is padded for the sum
        put16(f, 16, static_cast<std::uint16_t>(f.size() - 14));
        put16(f, 38, static_cast<std::uint16_t>(f.size() - 34));
        fix_ip_checksum(f);
        fix_udp_checksum(f);
        ASSERT_NE(f[40] | f[41], 0);
        io::tunnel_set b = host_b();
        buffer good(f, 0);
        ASSERT_EQ(b.decapsulate(good.pkt), decap_status::ok);
        EXPECT_EQ(good.pkt.len, 61u);
        f[41] ^= 0x10;
        buffer bad(f, 0);
        EXPECT_EQ(b.decapsulate(bad.pkt), decap_status::bad_udp_checksum);
        f[41] ^= 0x10;
        f.back() ^= 1; // the payload, not the checksum
        buffer bad_payload(f, 0);
        EXPECT_EQ(b.decapsulate(bad_payload.pkt), decap_status::bad_udp_checksum);
        EXPECT_EQ(b.counters().dropped_for(decap_status::bad_udp_checksum), 2u);
    }
}

TEST(tunnel, encapsulation_refusals_leave_the_frame_and_are_counted) {
    io::tunnel_set a = host_a();
    const auto inner = inner_frame();
    buffer b(inner, 49); // one byte short for VXLAN, enough for GRE
    EXPECT_EQ(a.encapsulate(b.pkt, vxlan_port), io::encap_status::no_headroom);
    EXPECT_EQ(b.bytes(), inner);
    EXPECT_EQ(b.pkt.headroom, 49u);
    EXPECT_EQ(a.encapsulate(b.pkt, 13), io::encap_status::unknown_port);
    std::vector<std::uint8_t> huge(65536 - 35, 0); // 20 + 8 + 8 + len > 65535
    buffer h(huge, 64);
    EXPECT_EQ(a.encapsulate(h.pkt, vxlan_port), io::encap_status::too_long);
    EXPECT_EQ(h.pkt.len, huge.size());
    huge.resize(65535 - 36);
    buffer h2(huge, 64);
    EXPECT_EQ(a.encapsulate(h2.pkt, vxlan_port), io::encap_status::ok);
    EXPECT_EQ(h2.pkt.data[16], 0xff); // total length 65535
    EXPECT_EQ(h2.pkt.data[17], 0xff);
    EXPECT_EQ(a.counters().encap_no_headroom, 1u);
    EXPECT_EQ(a.counters().encap_unknown_port, 1u);
    EXPECT_EQ(a.counters().encap_too_long, 1u);
    EXPECT_EQ(a.counters().encapsulated, 1u);
}

TEST(tunnel, the_table_refuses_duplicates_and_keeps_kinds_apart) {
    io::tunnel_set t({ip_a, mac_a}, 4);
    EXPECT_TRUE(t.add({1, io::tunnel_kind::vxlan, ip_b, mac_b}));
    EXPECT_FALSE(t.add({1, io::tunnel_kind::gre, 0x0a000009, mac_b})); // port taken
    EXPECT_FALSE(t.add({2, io::tunnel_kind::vxlan, ip_b, mac_b}));     // remote taken for VXLAN
    EXPECT_TRUE(t.add({2, io::tunnel_kind::gre, ip_b, mac_b}));        // but not for GRE
    EXPECT_TRUE(t.add({3, io::tunnel_kind::vxlan, 0x0a000001, mac_b}));
    EXPECT_TRUE(t.add({5, io::tunnel_kind::geneve, ip_b, mac_b}));       // nor for Geneve
    EXPECT_FALSE(t.add({4, io::tunnel_kind::vxlan, 0x0a000002, mac_b})); // full
    EXPECT_EQ(t.find_remote(io::tunnel_kind::geneve, ip_b)->port, 5u);
    EXPECT_EQ(t.find_remote(io::tunnel_kind::vxlan, ip_b)->port, 1u);
    EXPECT_EQ(t.find_remote(io::tunnel_kind::gre, ip_b)->port, 2u);
    EXPECT_EQ(t.find_remote(io::tunnel_kind::vxlan, 0x0a000001)->port, 3u);
    EXPECT_EQ(t.find_remote(io::tunnel_kind::gre, 0x0a000001), nullptr);
    EXPECT_TRUE(t.is_tunnel_port(3));
    EXPECT_FALSE(t.is_tunnel_port(4));
}

TEST(tunnel, a_removed_port_encapsulates_and_decapsulates_nothing_until_added_again) {
    io::tunnel_set t({ip_b, mac_b}, 4);
    ASSERT_TRUE(t.add({20, io::tunnel_kind::vxlan, ip_a, mac_a}));
    ASSERT_TRUE(t.add({21, io::tunnel_kind::gre, ip_a, mac_a}));
    ASSERT_TRUE(t.add({22, io::tunnel_kind::geneve, ip_a, mac_a}));
    ASSERT_TRUE(t.add({23, io::tunnel_kind::vxlan, 0x0a000001, mac_a}));
    EXPECT_FALSE(t.remove(99));
    ASSERT_TRUE(t.remove(21));
    EXPECT_FALSE(t.remove(21));
    EXPECT_FALSE(t.is_tunnel_port(21));
    EXPECT_EQ(t.find_remote(io::tunnel_kind::gre, ip_a), nullptr);
    // The others are found as before, by port and by remote.
    EXPECT_EQ(t.ports().size(), 3u);
    EXPECT_EQ(t.find_remote(io::tunnel_kind::vxlan, ip_a)->port, 20u);
    EXPECT_EQ(t.find_remote(io::tunnel_kind::geneve, ip_a)->port, 22u);
    EXPECT_EQ(t.find_remote(io::tunnel_kind::vxlan, 0x0a000001)->port, 23u);
    EXPECT_EQ(t.find_port(23)->remote_ip, 0x0a000001u);

    auto f = gre_frame();
    buffer gone(f, 0);
    EXPECT_EQ(t.decapsulate(gone.pkt), decap_status::unknown_remote);
    EXPECT_EQ(gone.bytes(), f);
    buffer still(geneve_frame(), 0);
    EXPECT_EQ(t.decapsulate(still.pkt), decap_status::ok);
    EXPECT_EQ(still.pkt.in_port, 22u);
    const auto inner = inner_frame();
    buffer out(inner, 64);
    EXPECT_EQ(t.encapsulate(out.pkt, 21), io::encap_status::unknown_port);
    EXPECT_EQ(t.counters().encap_unknown_port, 1u);

    // Back, under another number; a freed slot takes a new port.
    ASSERT_TRUE(t.add({24, io::tunnel_kind::gre, ip_a, mac_a}));
    EXPECT_FALSE(t.add({25, io::tunnel_kind::gre, 0x0a000009, mac_a})) << "full again";
    buffer back(f, 0);
    EXPECT_EQ(t.decapsulate(back.pkt), decap_status::ok);
    EXPECT_EQ(back.pkt.in_port, 24u);
    // Removing every port, in any order, leaves a set that finds nothing.
    for (std::uint32_t p : {22u, 20u, 24u, 23u}) EXPECT_TRUE(t.remove(p));
    EXPECT_TRUE(t.ports().empty());
    EXPECT_EQ(t.find_remote(io::tunnel_kind::vxlan, ip_a), nullptr);
}

TEST(tunnel, ethernet_padding_after_the_datagram_is_trimmed) {
    io::tunnel_set b = host_b();
    auto f = vxlan_frame();
    f.insert(f.end(), 8, 0xaa);
    buffer buf(f, 0);
    ASSERT_EQ(b.decapsulate(buf.pkt), decap_status::ok);
    EXPECT_EQ(buf.bytes(), inner_frame());
}

namespace {

enum class outer { vxlan, gre, geneve };

std::vector<std::uint8_t> frame_of(outer o) {
    switch (o) {
    case outer::vxlan: return vxlan_frame();
    case outer::gre: return gre_frame();
    case outer::geneve: return geneve_frame();
    }
    return {};
}

struct malformed_case {
    const char* what;
    outer kind;
    void (*mutate)(std::vector<std::uint8_t>&);
    decap_status expected;
};

void set16(std::vector<std::uint8_t>& f, std::size_t at, std::uint16_t v) {
    f[at] = static_cast<std::uint8_t>(v >> 8);
    f[at + 1] = static_cast<std::uint8_t>(v);
}

const malformed_case malformed_cases[] = {
    {"IPv6 EtherType", outer::vxlan, [](auto& f) { set16(f, 12, 0x86dd); }, decap_status::not_ipv4},
    {"802.1Q tagged", outer::vxlan, [](auto& f) { set16(f, 12, 0x8100); }, decap_status::not_ipv4},
    {"IP version 6", outer::vxlan,
     [](auto& f) {
         f[14] = 0x65;
         fix_ip_checksum(f);
     },
     decap_status::not_ipv4},
    {"IHL 4", outer::vxlan, [](auto& f) { f[14] = 0x44; }, decap_status::not_ipv4},
    {"total length under IHL", outer::vxlan,
     [](auto& f) {
         set16(f, 16, 19);
         fix_ip_checksum(f);
     },
     decap_status::not_ipv4},
    {"total length past the frame", outer::vxlan,
     [](auto& f) {
         set16(f, 16, 97);
         fix_ip_checksum(f);
     },
     decap_status::truncated},
    {"IHL past the frame", outer::vxlan,
     [](auto& f) {
         f.resize(14 + 24);
         f[14] = 0x46;
     },
     decap_status::truncated},
    {"bad checksum", outer::vxlan, [](auto& f) { f[25] ^= 1; }, decap_status::bad_ip_checksum},
    {"IPv4 options (IHL 6, a no-op option word)", outer::vxlan,
     [](auto& f) {
         f.insert(f.begin() + 34, {1, 1, 1, 0}); // NOP, NOP, NOP, end of options
         f[14] = 0x46;
         set16(f, 16, static_cast<std::uint16_t>(f.size() - 14));
         fix_ip_checksum(f);
     },
     decap_status::ip_options},
    {"not to the local IP", outer::vxlan,
     [](auto& f) {
         f[33] = 3;
         fix_ip_checksum(f);
     },
     decap_status::not_local},
    {"more fragments", outer::vxlan,
     [](auto& f) {
         set16(f, 20, 0x2000);
         fix_ip_checksum(f);
     },
     decap_status::fragment},
    {"fragment offset", outer::vxlan,
     [](auto& f) {
         set16(f, 20, 0x0001);
         fix_ip_checksum(f);
     },
     decap_status::fragment},
    {"TCP", outer::vxlan,
     [](auto& f) {
         f[23] = 6;
         fix_ip_checksum(f);
     },
     decap_status::not_tunnel},
    {"UDP shorter than its header", outer::vxlan,
     [](auto& f) {
         f.resize(14 + 20 + 4);
         set16(f, 16, 24);
         fix_ip_checksum(f);
     },
     decap_status::truncated},
    {"UDP to 4790", outer::vxlan, [](auto& f) { set16(f, 36, 4790); }, decap_status::wrong_udp_port},
    {"a VXLAN header to Geneve's port", outer::vxlan, [](auto& f) { set16(f, 36, 6081); },
     decap_status::geneve_not_ethernet},
    {"a Geneve header to VXLAN's port", outer::geneve, [](auto& f) { set16(f, 36, 4789); },
     decap_status::bad_vxlan_header},
    {"UDP checksum wrong", outer::vxlan, [](auto& f) { set16(f, 40, 1); }, decap_status::bad_udp_checksum},
    {"UDP length short", outer::vxlan, [](auto& f) { set16(f, 38, 75); }, decap_status::bad_udp_length},
    {"UDP length long", outer::vxlan, [](auto& f) { set16(f, 38, 77); }, decap_status::bad_udp_length},
    {"VXLAN header cut", outer::vxlan,
     [](auto& f) {
         f.resize(14 + 20 + 12);
         set16(f, 16, 32);
         set16(f, 38, 12);
         fix_ip_checksum(f);
     },
     decap_status::truncated},
    {"VXLAN without I flag", outer::vxlan, [](auto& f) { f[42] = 0; }, decap_status::bad_vxlan_header},
    {"VXLAN with another flag", outer::vxlan, [](auto& f) { f[42] = 0x88; }, decap_status::bad_vxlan_header},
    {"VXLAN reserved bits", outer::vxlan, [](auto& f) { f[45] = 1; }, decap_status::bad_vxlan_header},
    {"VXLAN reserved VNI byte", outer::vxlan, [](auto& f) { f[49] = 1; }, decap_status::bad_vxlan_header},
    {"VXLAN inner frame under 14 bytes", outer::vxlan,
     [](auto& f) {
         f.resize(50 + 13);
         set16(f, 16, 20 + 16 + 13);
         set16(f, 38, 16 + 13);
         fix_ip_checksum(f);
     },
     decap_status::truncated},
    {"VXLAN from an unknown remote", outer::vxlan,
     [](auto& f) {
         f[29] = 9;
         fix_ip_checksum(f);
     },
     decap_status::unknown_remote},
    {"GRE without key", outer::gre, [](auto& f) { set16(f, 34, 0x0000); }, decap_status::gre_no_key},
    {"GRE with checksum", outer::gre, [](auto& f) { set16(f, 34, 0xa000); }, decap_status::gre_bad_flags},
    {"GRE with routing", outer::gre, [](auto& f) { set16(f, 34, 0x6000); }, decap_status::gre_bad_flags},
    {"GRE with sequence", outer::gre, [](auto& f) { set16(f, 34, 0x3000); }, decap_status::gre_bad_flags},
    {"GRE version 1", outer::gre, [](auto& f) { set16(f, 34, 0x2001); }, decap_status::gre_bad_flags},
    {"GRE recursion", outer::gre, [](auto& f) { set16(f, 34, 0x2100); }, decap_status::gre_bad_flags},
    {"GRE carrying IPv4", outer::gre, [](auto& f) { set16(f, 36, 0x0800); }, decap_status::gre_not_ethernet},
    {"GRE key cut", outer::gre,
     [](auto& f) {
         f.resize(14 + 20 + 6);
         set16(f, 16, 26);
         fix_ip_checksum(f);
     },
     decap_status::truncated},
    {"GRE header cut", outer::gre,
     [](auto& f) {
         f.resize(14 + 20 + 3);
         set16(f, 16, 23);
         fix_ip_checksum(f);
     },
     decap_status::truncated},
    {"GRE from an unknown remote", outer::gre,
     [](auto& f) {
         f[29] = 9;
         fix_ip_checksum(f);
     },
     decap_status::unknown_remote},
    {"Geneve UDP length short", outer::geneve, [](auto& f) { set16(f, 38, 75); }, decap_status::bad_udp_length},
    {"Geneve UDP checksum wrong", outer::geneve, [](auto& f) { set16(f, 40, 0xffff); }, decap_status::bad_udp_checksum},
    {"Geneve header cut", outer::geneve,
     [](auto& f) {
         f.resize(14 + 20 + 8 + 7);
         set16(f, 16, 35);
         set16(f, 38, 15);
         fix_ip_checksum(f);
     },
     decap_status::truncated},
    {"Geneve options past the datagram", outer::geneve, [](auto& f) { f[42] = 16; },
     decap_status::geneve_bad_options_length},
    {"Geneve options fill the datagram", outer::geneve, [](auto& f) { f[42] = 15; }, decap_status::truncated},
    {"Geneve most options, past the datagram", outer::geneve, [](auto& f) { f[42] = 0x3f; },
     decap_status::geneve_bad_options_length},
    {"Geneve version 1", outer::geneve, [](auto& f) { f[42] = 0x40; }, decap_status::geneve_bad_version},
    {"Geneve version 3 with options", outer::geneve, [](auto& f) { f[42] = 0xc1; }, decap_status::geneve_bad_version},
    {"Geneve carrying IPv4", outer::geneve, [](auto& f) { set16(f, 44, 0x0800); }, decap_status::geneve_not_ethernet},
    {"Geneve control packet", outer::geneve, [](auto& f) { f[43] = 0x80; }, decap_status::geneve_oam},
    {"Geneve control packet with critical options", outer::geneve, [](auto& f) { f[43] = 0xc0; },
     decap_status::geneve_oam},
    {"Geneve critical options", outer::geneve,
     [](auto& f) {
         f[42] = 1;
         f[43] = 0x40;
     },
     decap_status::geneve_critical_options},
    {"Geneve C bit without options", outer::geneve, [](auto& f) { f[43] = 0x40; },
     decap_status::geneve_critical_options},
    {"Geneve from an unknown remote", outer::geneve,
     [](auto& f) {
         f[29] = 9;
         fix_ip_checksum(f);
     },
     decap_status::unknown_remote},
};

} // namespace

TEST(tunnel, every_malformed_or_foreign_frame_is_counted_under_its_reason_and_left_alone) {
    io::tunnel_set b = host_b();
    std::array<std::uint64_t, io::decap_status_count> expected{};
    for (const malformed_case& c : malformed_cases) {
        SCOPED_TRACE(c.what);
        auto f = frame_of(c.kind);
        c.mutate(f);
        // An exact-size heap buffer: a read past the frame is a read past the allocation.
        auto mem = std::make_unique<std::uint8_t[]>(f.size());
        std::copy(f.begin(), f.end(), mem.get());
        packet p;
        p.data = mem.get();
        p.len = static_cast<std::uint32_t>(f.size());
        p.in_port = 100;
        const packet before = p;
        const decap_status s = b.decapsulate(p);
        EXPECT_EQ(s, c.expected) << to_string(s);
        ++expected[static_cast<std::size_t>(c.expected)];
        EXPECT_EQ(p.data, before.data);
        EXPECT_EQ(p.len, before.len);
        EXPECT_EQ(p.in_port, 100u);
        EXPECT_EQ(p.tun_id, 0u);
        EXPECT_TRUE(std::equal(f.begin(), f.end(), mem.get()));
    }
    EXPECT_EQ(b.counters().dropped, expected);
    EXPECT_EQ(b.counters().decapsulated, 0u);
    // Every reason but ok is reached by some case.
    for (std::size_t i = 1; i < io::decap_status_count; ++i) EXPECT_NE(expected[i], 0u) << i;
}

TEST(tunnel, truncation_at_every_length_is_counted_and_reads_nothing_past_the_frame) {
    const std::vector<std::vector<std::uint8_t>> frames = {vxlan_frame(), gre_frame(), geneve_frame(),
                                                           geneve_frame_with_options({1, 2, 3, 1, 4, 5, 6, 7})};
    for (const auto& f : frames) {
        SCOPED_TRACE(f.size());
        io::tunnel_set b = host_b();
        for (std::size_t len = 0; len < f.size(); ++len) {
            SCOPED_TRACE(len);
            auto mem = std::make_unique<std::uint8_t[]>(len); // exact size
            std::copy(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(len), mem.get());
            packet p;
            p.data = mem.get();
            p.len = static_cast<std::uint32_t>(len);
            EXPECT_EQ(b.decapsulate(p), decap_status::truncated);
            EXPECT_EQ(p.len, len);
        }
        EXPECT_EQ(b.counters().dropped_for(decap_status::truncated), f.size());
        auto mem = std::make_unique<std::uint8_t[]>(f.size());
        std::copy(f.begin(), f.end(), mem.get());
        packet p;
        p.data = mem.get();
        p.len = static_cast<std::uint32_t>(f.size());
        EXPECT_EQ(b.decapsulate(p), decap_status::ok);
    }
}

TEST(tunnel, bursts_keep_tunnel_frames_first_in_order) {
    io::tunnel_set b = host_b();
    auto good1 = vxlan_frame();
    auto good2 = gre_frame();
    good2.back() = 0x77;
    auto bad = vxlan_frame();
    bad[33] = 9; // not local (and bad checksum: the checksum is checked first)
    buffer x(good1, 0), y(bad, 0), z(good2, 0);
    std::array<packet, 3> pkts = {x.pkt, y.pkt, z.pkt};
    ASSERT_EQ(b.decapsulate(pkts), 2u);
    EXPECT_EQ(pkts[0].in_port, 20u);
    EXPECT_EQ(pkts[1].in_port, 21u);
    EXPECT_EQ(pkts[1].data[59], 0x77);
    EXPECT_EQ(pkts[2].data, y.pkt.data);
    EXPECT_EQ(b.counters().dropped_for(decap_status::bad_ip_checksum), 1u);

    io::tunnel_set a = host_a();
    const auto inner = inner_frame();
    buffer p(inner, 64), q(inner, 10), r(inner, 50);
    std::array<packet, 3> out = {p.pkt, q.pkt, r.pkt};
    ASSERT_EQ(a.encapsulate(out, vxlan_port), 2u);
    EXPECT_EQ(out[0].data, p.pkt.data - 50);
    EXPECT_EQ(out[1].data, r.pkt.data - 50);
    EXPECT_EQ(out[2].data, q.pkt.data); // refused, unchanged
    EXPECT_EQ(a.encapsulate(out, 77), 0u);
    EXPECT_EQ(a.counters().encap_unknown_port, 3u);
}

// Host A: VM port 1 -> pipeline (set_tunnel, output to the VXLAN port) ->
// encapsulate -> underlay port. The wire carries the frame to host B:
// underlay -> decapsulate -> pipeline (match tunnel port and tun_id) -> VM port 2.
TEST(tunnel, end_to_end_from_a_vm_across_vxlan_to_the_other_host) {
    using namespace fp::actions;
    io::buffer_pool pool_a({64, 2048, 128});
    io::buffer_pool pool_b({64, 2048, 128});
    io::memory_port vm_a(pool_a, {1, 0, 32, 32});
    io::memory_port underlay_a(pool_a, {100, 0, 32, 32});
    io::memory_port underlay_b(pool_b, {100, 0, 32, 32});
    io::memory_port vm_b(pool_b, {2, 0, 32, 32});
    io::tunnel_set tun_a = host_a();
    io::tunnel_set tun_b = host_b();

    fp::generic_pipeline pa;
    fp::match from_vm;
    from_vm.set(fp::field_id::in_port, 1u);
    ASSERT_TRUE(pa.add(0, from_vm, 1, fp::generic_actions{set_tunnel{0x77}, output{vxlan_port}}, {}, 0));
    fp::generic_pipeline pb;
    fp::match from_tunnel;
    from_tunnel.set(fp::field_id::in_port, 20u);
    from_tunnel.set(fp::field_id::tun_id, std::uint64_t{0x77});
    ASSERT_TRUE(pb.add(0, from_tunnel, 1, fp::generic_actions{output{2}}, {}, 0));

    // Three frames from the VM.
    std::vector<std::vector<std::uint8_t>> sent;
    for (std::uint32_t i = 0; i < 3; ++i) {
        fp::flow_key k = fp::test::eth(1, 0x0a0000000001 + i, 0x0a00000000ff);
        std::array<std::uint8_t, fp::compose_max_frame_len> buf{};
        const std::size_t n = fp::compose_frame(k, buf);
        sent.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        ASSERT_TRUE(vm_a.inject(sent.back()));
    }

    // Host A.
    std::array<packet, 32> rx;
    std::size_t n = vm_a.receive(rx);
    ASSERT_EQ(n, 3u);
    fp::burst_output out_a;
    pa.run(std::span<packet>(rx.data(), n), 0, out_a);
    vm_a.release(out_a.dropped());
    std::array<packet, 32> tx;
    std::size_t m = 0;
    out_a.for_each_port([&](std::uint32_t port, std::span<const packet> frames) {
        ASSERT_EQ(port, vxlan_port);
        for (const packet& p : frames) tx[m++] = p;
    });
    ASSERT_EQ(m, 3u);
    const std::size_t encapsulated = tun_a.encapsulate(std::span<packet>(tx.data(), m), vxlan_port);
    ASSERT_EQ(encapsulated, 3u);
    ASSERT_EQ(io::transmit_or_release(underlay_a, vm_a, std::span<const packet>(tx.data(), m)), 3u);
    for (const packet& p : underlay_a.transmitted()) {
        EXPECT_EQ(p.len, 50u + sent[0].size());
        EXPECT_EQ(p.data[23], 17); // UDP
    }

    // The wire.
    ASSERT_EQ(underlay_b.inject(underlay_a.transmitted()), 3u);
    underlay_a.clear_transmitted();
    EXPECT_EQ(pool_a.available(), 64u);

    // Host B.
    n = underlay_b.receive(rx);
    ASSERT_EQ(n, 3u);
    ASSERT_EQ(tun_b.decapsulate(std::span<packet>(rx.data(), n)), 3u);
    for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(rx[i].in_port, 20u);
        EXPECT_EQ(rx[i].tun_id, 0x77u);
        EXPECT_EQ(rx[i].tun_src, ip_a);
        EXPECT_EQ(rx[i].tun_dst, ip_b);
        EXPECT_EQ(std::vector<std::uint8_t>(rx[i].data, rx[i].data + rx[i].len), sent[i]);
    }
    fp::burst_output out_b;
    pb.run(std::span<packet>(rx.data(), n), 0, out_b);
    underlay_b.release(out_b.dropped());
    const auto to_vm = out_b.on_port(2);
    ASSERT_EQ(to_vm.size(), 3u);
    ASSERT_EQ(vm_b.transmit(to_vm), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        const packet& p = vm_b.transmitted()[i];
        EXPECT_EQ(std::vector<std::uint8_t>(p.data, p.data + p.len), sent[i]);
    }
    vm_b.clear_transmitted();
    EXPECT_EQ(pool_b.available(), 64u);
}
