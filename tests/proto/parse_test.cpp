// parse_frame on well-formed frames of every kind, on every truncation of
// each (every length from 0 to the full frame), and on malformed headers.
//
// Every parse reads from a heap buffer of exactly the frame's length, so
// under AddressSanitizer a read one byte past the end is a test failure.
#include <flowpipe/proto/parse.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace pr = flowpipe::proto;

namespace {

using bytes = std::vector<std::uint8_t>;

pr::frame_layout parse_exact(const std::uint8_t* f, std::size_t len) {
    // Exactly len bytes on the heap, so ASan sees a read of f[len]. Test
    // frames are small; saying so keeps GCC 12 from a -Wstringop-overflow
    // false positive on the copy.
    if (len > 65536) std::abort();
    auto copy = std::make_unique<std::uint8_t[]>(len);
    if (len) std::memcpy(copy.get(), f, len);
    return pr::parse_frame(copy.get(), len);
}

pr::frame_layout parse_exact(const bytes& f) { return parse_exact(f.data(), f.size()); }

// A tiny frame builder: headers with fixed example values, checksums left zero
// (parse_frame does not verify them).
struct frame {
    bytes b;

    frame& raw(std::initializer_list<std::uint8_t> v) {
        b.insert(b.end(), v);
        return *this;
    }
    frame& fill(std::size_t n, std::uint8_t v = 0xab) {
        b.insert(b.end(), n, v);
        return *this;
    }
    frame& be16(std::uint16_t v) { return raw({static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}); }
    frame& eth(std::uint16_t type) {
        raw({0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb});
        return be16(type);
    }
    frame& vlan(std::uint16_t tci, std::uint16_t inner) {
        raw({0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb});
        return be16(0x8100).be16(tci).be16(inner);
    }
    frame& arp(std::uint16_t htype = 1, std::uint16_t ptype = 0x0800, std::uint8_t hlen = 6, std::uint8_t plen = 4,
               std::uint16_t op = 1) {
        be16(htype).be16(ptype).raw({hlen, plen}).be16(op);
        raw({0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 10, 0, 0, 1});
        return raw({0, 0, 0, 0, 0, 0, 10, 0, 0, 2});
    }
    // IPv4 header with `ihl` words (options filled with NOPs), total length
    // `total` (0: header + `l4_len`).
    frame& ipv4(std::uint8_t proto, std::size_t l4_len, std::uint8_t ihl = 5, std::uint16_t frag = 0,
                std::uint8_t version = 4) {
        const std::size_t hl = std::size_t{ihl} * 4;
        raw({static_cast<std::uint8_t>((version << 4) | ihl), 0x2e});
        be16(static_cast<std::uint16_t>(hl + l4_len)).be16(0x1234).be16(frag);
        raw({64, proto, 0, 0, 192, 168, 0, 1, 192, 168, 0, 199});
        if (hl > 20) fill(hl - 20, 1);
        return *this;
    }
    frame& ipv6(std::uint8_t next, std::size_t l4_len, std::uint8_t version = 6) {
        raw({static_cast<std::uint8_t>((version << 4) | 0x2), 0xa0, 0, 0});
        be16(static_cast<std::uint16_t>(l4_len)).raw({next, 255});
        raw({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
        return raw({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
    }
    frame& tcp() { return be16(1234).be16(80).fill(8, 0).raw({0x50, 0x02}).be16(0xffff).fill(4, 0); }
    frame& udp() { return be16(5353).be16(4789).be16(8).be16(0); }
    frame& sctp() { return be16(1).be16(2).fill(8, 0); }
    frame& icmp(std::uint8_t type, std::uint8_t code) { return raw({type, code, 0, 0, 0, 0, 0, 0}); }
    frame& nd(std::uint8_t type) {
        raw({type, 0, 0, 0, 0, 0, 0, 0});
        return raw({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9});
    }
};

// What a frame is, layer by layer, and so what parse_frame must report for
// each of its prefixes.
struct shape {
    std::string name;
    bytes f;
    bool vlan = false;
    std::uint16_t eth_type = 0;
    pr::l3_kind l3 = pr::l3_kind::none;
    std::size_t l3_len = 0; // bytes the L3 header needs (ARP 28, IPv4 IHL*4, IPv6 40)
    bool later_fragment = false;
    pr::l4_kind l4 = pr::l4_kind::none;
    std::size_t l4_min = 0;
    bool nd = false;
};

pr::frame_layout expected_at(const shape& s, std::size_t len) {
    pr::frame_layout e;
    if (len < 14) {
        e.status = pr::parse_status::truncated_ethernet;
        return e;
    }
    e.has_ethernet = true;
    if (s.vlan && len < 18) {
        e.eth_type = 0x8100;
        e.status = pr::parse_status::truncated_vlan;
        return e;
    }
    e.has_vlan = s.vlan;
    e.eth_type = s.eth_type;
    e.l3 = s.vlan ? 18 : 14;
    switch (s.l3) {
    case pr::l3_kind::none: return e;
    case pr::l3_kind::arp:
        if (len < e.l3 + 28u) {
            e.status = pr::parse_status::truncated_arp;
            return e;
        }
        break;
    case pr::l3_kind::ipv4:
        if (len < e.l3 + 20u) {
            e.status = pr::parse_status::truncated_ipv4;
            return e;
        }
        if (len < e.l3 + s.l3_len) {
            e.status = pr::parse_status::malformed_ipv4; // IHL longer than the frame
            return e;
        }
        if (len < e.l3 + pr::load_be16(&s.f[e.l3 + 2])) {
            e.status = pr::parse_status::truncated_ipv4; // datagram cut short
            return e;
        }
        break;
    case pr::l3_kind::ipv6:
        if (len < e.l3 + 40u + pr::load_be16(&s.f[e.l3 + 4])) {
            e.status = pr::parse_status::truncated_ipv6; // header or payload cut short
            return e;
        }
        break;
    }
    e.l3_type = s.l3;
    e.ipv4_later_fragment = s.later_fragment;
    if (s.l4 == pr::l4_kind::none) return e;
    // The transport header is looked for inside the datagram, not the frame.
    const std::size_t end =
        e.l3 + (s.l3 == pr::l3_kind::ipv4 ? pr::load_be16(&s.f[e.l3 + 2]) : 40u + pr::load_be16(&s.f[e.l3 + 4]));
    const std::size_t l4 = e.l3 + s.l3_len;
    if (end < l4 + s.l4_min) {
        e.status = pr::parse_status::truncated_l4;
        return e;
    }
    e.l4 = static_cast<std::uint16_t>(l4);
    e.l4_type = s.l4;
    if (s.nd) {
        if (end < l4 + 24)
            e.status = pr::parse_status::truncated_l4;
        else
            e.nd = true;
    }
    return e;
}

void expect_layout(const pr::frame_layout& got, const pr::frame_layout& want, const std::string& where) {
    EXPECT_EQ(got.status, want.status) << where << ": " << pr::to_string(got.status) << " vs "
                                       << pr::to_string(want.status);
    EXPECT_EQ(got.has_ethernet, want.has_ethernet) << where;
    EXPECT_EQ(got.has_vlan, want.has_vlan) << where;
    if (want.has_ethernet) {
        EXPECT_EQ(got.eth_type, want.eth_type) << where;
    }
    EXPECT_EQ(got.l3_type, want.l3_type) << where;
    if (want.l3_type != pr::l3_kind::none) {
        EXPECT_EQ(got.l3, want.l3) << where;
    }
    EXPECT_EQ(got.l4_type, want.l4_type) << where;
    if (want.l4_type != pr::l4_kind::none) {
        EXPECT_EQ(got.l4, want.l4) << where;
    }
    EXPECT_EQ(got.nd, want.nd) << where;
    EXPECT_EQ(got.ipv4_later_fragment, want.ipv4_later_fragment) << where;
}

std::vector<shape> every_kind() {
    using k3 = pr::l3_kind;
    using k4 = pr::l4_kind;
    std::vector<shape> v;
    v.push_back({"ethernet", frame{}.eth(0x88cc).fill(46).b, false, 0x88cc});
    v.push_back({"vlan", frame{}.vlan(0x2064, 0x88cc).fill(42).b, true, 0x88cc});
    v.push_back({"802.3", frame{}.eth(46).fill(46).b, false, 0x05ff});
    v.push_back({"vlan 802.3", frame{}.vlan(5, 0x0100).fill(42).b, true, 0x05ff});
    v.push_back({"arp", frame{}.eth(0x0806).arp().fill(18, 0).b, false, 0x0806, k3::arp, 28});
    v.push_back({"rarp", frame{}.eth(0x8035).arp(1, 0x0800, 6, 4, 3).b, false, 0x8035, k3::arp, 28});
    v.push_back({"vlan arp", frame{}.vlan(7, 0x0806).arp().b, true, 0x0806, k3::arp, 28});
    v.push_back({"ipv4 tcp", frame{}.eth(0x0800).ipv4(6, 20).tcp().b, false, 0x0800, k3::ipv4, 20, false, k4::tcp, 20});
    v.push_back({"ipv4 options udp", frame{}.eth(0x0800).ipv4(17, 8, 8).udp().fill(10).b, false, 0x0800, k3::ipv4, 32,
                 false, k4::udp, 8});
    v.push_back({"ipv4 max options icmp", frame{}.eth(0x0800).ipv4(1, 8, 15).icmp(8, 0).b, false, 0x0800, k3::ipv4, 60,
                 false, k4::icmp, 8});
    v.push_back({"vlan ipv4 sctp", frame{}.vlan(1, 0x0800).ipv4(132, 12).sctp().b, true, 0x0800, k3::ipv4, 20, false,
                 k4::sctp, 12});
    v.push_back({"ipv4 first fragment tcp", frame{}.eth(0x0800).ipv4(6, 20, 5, 0x2000).tcp().b, false, 0x0800, k3::ipv4,
                 20, false, k4::tcp, 20});
    v.push_back(
        {"ipv4 later fragment", frame{}.eth(0x0800).ipv4(6, 20, 5, 0x0003).tcp().b, false, 0x0800, k3::ipv4, 20, true});
    v.push_back({"ipv4 gre", frame{}.eth(0x0800).ipv4(47, 4).fill(4).b, false, 0x0800, k3::ipv4, 20});
    v.push_back({"ipv6 tcp", frame{}.eth(0x86dd).ipv6(6, 20).tcp().b, false, 0x86dd, k3::ipv6, 40, false, k4::tcp, 20});
    v.push_back({"ipv6 udp", frame{}.eth(0x86dd).ipv6(17, 8).udp().b, false, 0x86dd, k3::ipv6, 40, false, k4::udp, 8});
    v.push_back(
        {"ipv6 sctp", frame{}.eth(0x86dd).ipv6(132, 12).sctp().b, false, 0x86dd, k3::ipv6, 40, false, k4::sctp, 12});
    v.push_back({"ipv6 icmpv6 echo", frame{}.eth(0x86dd).ipv6(58, 8).icmp(128, 0).b, false, 0x86dd, k3::ipv6, 40, false,
                 k4::icmpv6, 8});
    v.push_back({"ipv6 ns", frame{}.eth(0x86dd).ipv6(58, 24).nd(135).b, false, 0x86dd, k3::ipv6, 40, false, k4::icmpv6,
                 8, true});
    v.push_back({"vlan ipv6 na", frame{}.vlan(0xe00a, 0x86dd).ipv6(58, 24).nd(136).fill(8).b, true, 0x86dd, k3::ipv6,
                 40, false, k4::icmpv6, 8, true});
    v.push_back({"ipv6 icmpv4 is not l4", frame{}.eth(0x86dd).ipv6(1, 8).icmp(8, 0).b, false, 0x86dd, k3::ipv6, 40});
    v.push_back({"ipv6 no next header", frame{}.eth(0x86dd).ipv6(59, 0).b, false, 0x86dd, k3::ipv6, 40});
    return v;
}

} // namespace

TEST(parse, well_formed_frames_of_every_kind) {
    for (const shape& s : every_kind()) {
        const pr::frame_layout l = parse_exact(s.f);
        EXPECT_EQ(l.status, pr::parse_status::ok) << s.name;
        expect_layout(l, expected_at(s, s.f.size()), s.name);
    }
}

TEST(parse, well_formed_offsets_by_hand) {
    const bytes v = frame{}.vlan(0x2064, 0x0800).ipv4(17, 8, 6).udp().b;
    const pr::frame_layout l = parse_exact(v);
    EXPECT_EQ(l.status, pr::parse_status::ok);
    EXPECT_TRUE(l.has_vlan);
    EXPECT_EQ(l.eth_type, 0x0800);
    EXPECT_EQ(l.l3, 18);
    EXPECT_EQ(l.l4, 18 + 24);
    EXPECT_EQ(l.l3_type, pr::l3_kind::ipv4);
    EXPECT_EQ(l.l4_type, pr::l4_kind::udp);
}

// Every prefix of every frame: only complete layers are recorded, with the
// right reason, and nothing is read past the prefix (ASan).
TEST(parse, truncation_at_every_byte) {
    std::size_t prefixes = 0;
    for (const shape& s : every_kind()) {
        for (std::size_t len = 0; len <= s.f.size(); ++len) {
            expect_layout(parse_exact(s.f.data(), len), expected_at(s, len), s.name + " cut to " + std::to_string(len));
            ++prefixes;
        }
    }
    EXPECT_GT(prefixes, 1000u);
}

TEST(parse, empty_and_null) {
    EXPECT_EQ(pr::parse_frame(nullptr, 0).status, pr::parse_status::truncated_ethernet);
    EXPECT_EQ(pr::parse_frame(nullptr, 1500).status, pr::parse_status::truncated_ethernet);
    EXPECT_FALSE(pr::parse_frame(nullptr, 1500).has_ethernet);
    const std::uint8_t one = 0;
    EXPECT_EQ(pr::parse_frame(&one, 0).status, pr::parse_status::truncated_ethernet);
}

TEST(parse, vlan_tag_with_nothing_after_it) {
    // TPID and TCI, no inner type: the tag is incomplete.
    bytes f = frame{}.eth(0x8100).be16(5).b;
    pr::frame_layout l = parse_exact(f);
    EXPECT_EQ(l.status, pr::parse_status::truncated_vlan);
    EXPECT_EQ(l.eth_type, 0x8100);
    EXPECT_FALSE(l.has_vlan);
    // A complete tag whose inner IPv4 header is missing.
    f = frame{}.vlan(5, 0x0800).b;
    l = parse_exact(f);
    EXPECT_TRUE(l.has_vlan);
    EXPECT_EQ(l.status, pr::parse_status::truncated_ipv4);
    EXPECT_EQ(l.l3_type, pr::l3_kind::none);
    // A complete tag and nothing else: an EtherType without a parser is fine.
    l = parse_exact(frame{}.vlan(5, 0x88cc).b);
    EXPECT_EQ(l.status, pr::parse_status::ok);
    EXPECT_EQ(l.eth_type, 0x88cc);
}

TEST(parse, arp_that_is_not_ethernet_ipv4) {
    struct bad {
        const char* what;
        bytes f;
    };
    const bad cases[] = {
        {"htype 6", frame{}.eth(0x0806).arp(6).b},
        {"ptype IPv6", frame{}.eth(0x0806).arp(1, 0x86dd).b},
        {"hlen 8", frame{}.eth(0x0806).arp(1, 0x0800, 8).b},
        {"plen 16", frame{}.eth(0x0806).arp(1, 0x0800, 6, 16).b},
        {"rarp hlen 0", frame{}.eth(0x8035).arp(1, 0x0800, 0).b},
    };
    for (const bad& c : cases) {
        const pr::frame_layout l = parse_exact(c.f);
        EXPECT_EQ(l.status, pr::parse_status::malformed_arp) << c.what;
        EXPECT_EQ(l.l3_type, pr::l3_kind::none) << c.what;
        EXPECT_TRUE(l.eth_type == 0x0806 || l.eth_type == 0x8035) << c.what;
    }
}

TEST(parse, malformed_ipv4) {
    for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
        bytes f = frame{}.eth(0x0800).ipv4(6, 20).tcp().b;
        f[14] = static_cast<std::uint8_t>(0x40 | ihl);
        const pr::frame_layout l = parse_exact(f);
        EXPECT_EQ(l.status, pr::parse_status::malformed_ipv4) << "IHL " << int{ihl};
        EXPECT_EQ(l.l3_type, pr::l3_kind::none);
        EXPECT_EQ(l.l4_type, pr::l4_kind::none);
    }
    // IHL 15 (60 bytes) in a frame with only 40 bytes of IP.
    bytes f = frame{}.eth(0x0800).ipv4(6, 20).tcp().b;
    f[14] = 0x4f;
    EXPECT_EQ(parse_exact(f).status, pr::parse_status::malformed_ipv4);
    f[14] = 0x4a; // 40 bytes: exactly the frame, then no room for TCP
    pr::frame_layout l = parse_exact(f);
    EXPECT_EQ(l.l3_type, pr::l3_kind::ipv4);
    EXPECT_EQ(l.status, pr::parse_status::truncated_l4);
    // Version 6 under EtherType 0x0800.
    l = parse_exact(frame{}.eth(0x0800).ipv4(6, 20, 5, 0, 6).tcp().b);
    EXPECT_EQ(l.status, pr::parse_status::malformed_ipv4);
    EXPECT_EQ(l.l3_type, pr::l3_kind::none);
}

TEST(parse, malformed_ipv6) {
    for (std::uint8_t version : {0, 4, 7, 15}) {
        const pr::frame_layout l = parse_exact(frame{}.eth(0x86dd).ipv6(6, 20, version).tcp().b);
        EXPECT_EQ(l.status, pr::parse_status::malformed_ipv6) << int{version};
        EXPECT_EQ(l.l3_type, pr::l3_kind::none);
        EXPECT_EQ(l.l4_type, pr::l4_kind::none);
    }
}

// Transport headers that do not fit the datagram their IP header announces.
// The frame itself holds the whole header each time (as Ethernet padding
// would): like Open vSwitch, the parser never reads a header out of padding.
TEST(parse, transport_headers_cut_short) {
    struct cut {
        const char* what;
        bytes f;
    };
    const cut cases[] = {
        {"tcp 19", frame{}.eth(0x0800).ipv4(6, 19).tcp().b},
        {"udp 7", frame{}.eth(0x0800).ipv4(17, 7).udp().b},
        {"sctp 11", frame{}.eth(0x86dd).ipv6(132, 11).sctp().b},
        {"icmp 7", frame{}.eth(0x0800).ipv4(1, 7).icmp(8, 0).b},
        {"icmp 4", frame{}.eth(0x0800).ipv4(1, 4).icmp(8, 0).b},
        {"icmpv6 7", frame{}.eth(0x86dd).ipv6(58, 7).icmp(128, 0).b},
        {"tcp after options", frame{}.eth(0x0800).ipv4(6, 10, 10).tcp().b},
        {"tcp in padding", frame{}.eth(0x0800).ipv4(6, 0).tcp().b},
        {"udp in padding", frame{}.eth(0x86dd).ipv6(17, 0).udp().fill(20, 0).b},
    };
    for (const cut& c : cases) {
        const pr::frame_layout l = parse_exact(c.f);
        EXPECT_EQ(l.status, pr::parse_status::truncated_l4) << c.what;
        EXPECT_EQ(l.l4_type, pr::l4_kind::none) << c.what;
        EXPECT_NE(l.l3_type, pr::l3_kind::none) << c.what;
    }
}

TEST(parse, tcp_data_offset_must_fit) {
    for (std::uint8_t off = 0; off < 16; ++off) {
        bytes f = frame{}.eth(0x0800).ipv4(6, 40).tcp().fill(20, 0).b;
        f[34 + 12] = static_cast<std::uint8_t>(off << 4);
        const pr::frame_layout l = parse_exact(f);
        const bool fits = off >= 5 && off <= 10; // 40-byte segment
        EXPECT_EQ(l.l4_type, fits ? pr::l4_kind::tcp : pr::l4_kind::none) << int{off};
        EXPECT_EQ(l.status, fits ? pr::parse_status::ok : pr::parse_status::truncated_l4) << int{off};
    }
}

TEST(parse, ip_length_fields) {
    // IPv4 total length beyond the frame: the datagram is cut short, no IPv4 layer.
    bytes f = frame{}.eth(0x0800).ipv4(6, 20).tcp().b;
    pr::store_be16(&f[16], 41);
    pr::frame_layout l = parse_exact(f);
    EXPECT_EQ(l.status, pr::parse_status::truncated_ipv4);
    EXPECT_EQ(l.l3_type, pr::l3_kind::none);
    EXPECT_EQ(l.eth_type, 0x0800);
    // Total length below the header length is malformed.
    pr::store_be16(&f[16], 19);
    l = parse_exact(f);
    EXPECT_EQ(l.status, pr::parse_status::malformed_ipv4);
    EXPECT_EQ(l.l3_type, pr::l3_kind::none);
    // Exactly the header: IPv4, and a TCP header that is not in the datagram.
    pr::store_be16(&f[16], 20);
    l = parse_exact(f);
    EXPECT_EQ(l.l3_type, pr::l3_kind::ipv4);
    EXPECT_EQ(l.status, pr::parse_status::truncated_l4);
    // Padding after the datagram is fine.
    f = frame{}.eth(0x0800).ipv4(17, 8).udp().fill(18, 0).b;
    l = parse_exact(f);
    EXPECT_EQ(l.status, pr::parse_status::ok);
    EXPECT_EQ(l.l4_type, pr::l4_kind::udp);
    // IPv6 payload length beyond the frame.
    f = frame{}.eth(0x86dd).ipv6(17, 9).udp().b;
    l = parse_exact(f);
    EXPECT_EQ(l.status, pr::parse_status::truncated_ipv6);
    EXPECT_EQ(l.l3_type, pr::l3_kind::none);
    f.push_back(0);
    EXPECT_EQ(parse_exact(f).l4_type, pr::l4_kind::udp);
}

TEST(parse, nd_with_short_target) {
    for (std::uint8_t type : {135, 136}) {
        // The frame holds the whole target; the payload length says it is cut short.
        for (std::uint16_t plen = 8; plen < 24; ++plen) {
            const bytes g = frame{}.eth(0x86dd).ipv6(58, plen).nd(type).b;
            const pr::frame_layout l = parse_exact(g);
            EXPECT_EQ(l.status, pr::parse_status::truncated_l4) << "payload " << plen;
            EXPECT_EQ(l.l4_type, pr::l4_kind::icmpv6) << "the ICMPv6 header itself is complete";
            EXPECT_FALSE(l.nd);
        }
        // A non-zero code is not ND: no target is looked for.
        bytes f = frame{}.eth(0x86dd).ipv6(58, 8).nd(type).b;
        f[54 + 1] = 1;
        const pr::frame_layout l = parse_exact(f);
        EXPECT_EQ(l.status, pr::parse_status::ok);
        EXPECT_FALSE(l.nd);
    }
}

TEST(parse, ethertype_below_0x600_is_a_length) {
    for (std::uint16_t t : {0x0000, 0x002e, 0x05dc, 0x05ff}) {
        const pr::frame_layout l = parse_exact(frame{}.eth(t).fill(46).b);
        EXPECT_EQ(l.eth_type, pr::eth_type_none) << t;
        EXPECT_EQ(l.status, pr::parse_status::ok);
    }
    EXPECT_EQ(parse_exact(frame{}.eth(0x0600).fill(46).b).eth_type, 0x0600);
}

TEST(parse, status_names) {
    for (int s = 0; s <= static_cast<int>(pr::parse_status::truncated_l4); ++s)
        EXPECT_STRNE(pr::to_string(static_cast<pr::parse_status>(s)), "?");
}
