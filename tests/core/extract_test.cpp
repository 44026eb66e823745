// extract: the flow key of hand-written frames of every kind, compared with
// hand-written expected keys (so every field of an absent layer is checked to
// be zero), truncated frames, and keys reused across frames.
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <random>
#include <span>
#include <vector>

namespace fp = flowpipe;
namespace pr = flowpipe::proto;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

fp::flow_key extract_exact(const bytes& f, std::size_t len, pr::frame_layout* layout = nullptr) {
    auto copy = std::make_unique<std::uint8_t[]>(len);
    if (len) std::memcpy(copy.get(), f.data(), len);
    fp::flow_key k{};
    const pr::frame_layout l = fp::extract(copy.get(), len, k);
    if (layout) *layout = l;
    return k;
}

fp::flow_key extract_exact(const bytes& f) { return extract_exact(f, f.size()); }

// dst 00:11:22:33:44:55, src 66:77:88:99:aa:bb
const bytes macs = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
constexpr std::uint64_t dst_mac = 0x001122334455;
constexpr std::uint64_t src_mac = 0x66778899aabb;

fp::flow_key eth_key(std::uint16_t type, std::uint16_t tci = 0) {
    fp::flow_key k{};
    k.eth_dst = dst_mac;
    k.eth_src = src_mac;
    k.eth_type = type;
    k.vlan_tci = tci;
    return k;
}

// IPv4: tos 0x2e, ttl 64, 192.168.0.1 -> 192.168.0.199, `after` bytes after the 20-byte header.
bytes ipv4(std::uint8_t proto, std::uint16_t after, std::uint16_t frag = 0) {
    const auto total = static_cast<std::uint16_t>(20 + after);
    bytes h = {0x45, 0x2e, 0, 0, 0x12, 0x34, 0, 0, 64, proto, 0x00, 0x00, 192, 168, 0, 1, 192, 168, 0, 199};
    pr::store_be16(&h[2], total);
    pr::store_be16(&h[6], frag);
    return h;
}

// IPv6: traffic class 0x2a, hop limit 255, fe80::1 -> fe80::2
bytes ipv6(std::uint8_t next, std::uint16_t plen) {
    return {0x62,
            0xa0,
            0x00,
            0x00,
            static_cast<std::uint8_t>(plen >> 8),
            static_cast<std::uint8_t>(plen),
            next,
            255,
            0xfe,
            0x80,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            0xfe,
            0x80,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            2};
}
const fp::uint128 fe80_1 = (fp::uint128{0xfe80000000000000ull} << 64) | 1;
const fp::uint128 fe80_2 = (fp::uint128{0xfe80000000000000ull} << 64) | 2;

fp::flow_key ipv4_key(std::uint8_t proto) {
    fp::flow_key k = eth_key(0x0800);
    k.nw_src = 0xc0a80001;
    k.nw_dst = 0xc0a800c7;
    k.nw_proto = proto;
    k.nw_tos = 0x2e;
    k.nw_ttl = 64;
    return k;
}

fp::flow_key ipv6_key(std::uint8_t next) {
    fp::flow_key k = eth_key(0x86dd);
    k.ipv6_src = fe80_1;
    k.ipv6_dst = fe80_2;
    k.nw_proto = next;
    k.nw_tos = 0x2a;
    k.nw_ttl = 255;
    return k;
}

const bytes tcp_1234_80 = {0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0};
const bytes udp_5353_4789 = {0x14, 0xe9, 0x12, 0xb5, 0x00, 0x08, 0x00, 0x00};

} // namespace

TEST(extract, plain_ethernet) {
    const bytes f = cat({macs, {0x88, 0xcc}, bytes(46, 0xab)});
    EXPECT_TRUE(extract_exact(f) == eth_key(0x88cc));
}

TEST(extract, vlan_tci_has_the_present_bit) {
    // PCP 5, VID 100: 0xa064 on the wire, 0xb064 in the key.
    EXPECT_TRUE(extract_exact(cat({macs, {0x81, 0x00, 0xa0, 0x64, 0x88, 0xcc}, bytes(42, 0)})) ==
                eth_key(0x88cc, 0xb064));
    // VID 0, PCP 0 (priority tag) is still a tag.
    EXPECT_TRUE(extract_exact(cat({macs, {0x81, 0x00, 0x00, 0x00, 0x88, 0xcc}})) == eth_key(0x88cc, 0x1000));
    // The DEI bit on the wire is the present bit's position: it merges into it, as in Open vSwitch.
    EXPECT_TRUE(extract_exact(cat({macs, {0x81, 0x00, 0x10, 0x05, 0x88, 0xcc}})) == eth_key(0x88cc, 0x1005));
}

TEST(extract, ieee_8023_length_frame) {
    EXPECT_TRUE(extract_exact(cat({macs, {0x00, 0x2e}, bytes(46, 0x42)})) == eth_key(0x05ff));
}

TEST(extract, arp_fields) {
    // Reply 10.0.0.1 is-at 02:00:00:00:00:01, to 02:00:00:00:00:02 / 10.0.0.2.
    const bytes arp = {0x00, 0x01, 0x08, 0x00, 6,    4, 0x00, 0x02, 0x02, 0, 0,  0, 0, 1,
                       10,   0,    0,    1,    0x02, 0, 0,    0,    0,    2, 10, 0, 0, 2};
    fp::flow_key want = eth_key(0x0806);
    want.arp_op = 2;
    want.arp_sha = 0x020000000001;
    want.arp_spa = 0x0a000001;
    want.arp_tha = 0x020000000002;
    want.arp_tpa = 0x0a000002;
    EXPECT_TRUE(extract_exact(cat({macs, {0x08, 0x06}, arp, bytes(18, 0)})) == want);
    // RARP carries the same fields.
    want.eth_type = 0x8035;
    EXPECT_TRUE(extract_exact(cat({macs, {0x80, 0x35}, arp})) == want);
    // A malformed ARP has its EtherType and nothing else.
    bytes bad = arp;
    bad[4] = 8;
    EXPECT_TRUE(extract_exact(cat({macs, {0x08, 0x06}, bad})) == eth_key(0x0806));
}

TEST(extract, ipv4_tcp_udp_sctp) {
    fp::flow_key want = ipv4_key(6);
    want.tp_src = 1234;
    want.tp_dst = 80;
    EXPECT_TRUE(extract_exact(cat({macs, {0x08, 0x00}, ipv4(6, 20), tcp_1234_80})) == want);

    want = ipv4_key(17);
    want.tp_src = 5353;
    want.tp_dst = 4789;
    want.vlan_tci = 0x1000 | 42;
    EXPECT_TRUE(extract_exact(cat({macs, {0x81, 0x00, 0x00, 42, 0x08, 0x00}, ipv4(17, 8), udp_5353_4789})) == want);

    want = ipv4_key(132);
    want.tp_src = 0x0102;
    want.tp_dst = 0x0304;
    EXPECT_TRUE(extract_exact(cat({macs, {0x08, 0x00}, ipv4(132, 12), {1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}})) == want);
}

TEST(extract, ipv4_options_move_the_transport_header) {
    bytes ip = ipv4(6, 28);
    ip[0] = 0x47; // 28-byte header: 8 bytes of options
    fp::flow_key want = ipv4_key(6);
    want.tp_src = 1234;
    want.tp_dst = 80;
    EXPECT_TRUE(extract_exact(cat({macs, {0x08, 0x00}, ip, bytes(8, 1), tcp_1234_80})) == want);
}

TEST(extract, ipv4_icmp_type_and_code) {
    fp::flow_key want = ipv4_key(1);
    want.icmp_type = 3;
    want.icmp_code = 1;
    EXPECT_TRUE(extract_exact(cat({macs, {0x08, 0x00}, ipv4(1, 8), {3, 1, 0xfc, 0xfe, 0, 0, 0, 0}})) == want);
}

TEST(extract, ipv4_later_fragment_has_no_ports) {
    // Offset 3 (x8 bytes): what follows the IP header is payload, not TCP.
    EXPECT_TRUE(extract_exact(cat({macs, {0x08, 0x00}, ipv4(6, 20, 0x0003), tcp_1234_80})) == ipv4_key(6));
    // The first fragment (MF, offset 0) does carry the ports.
    fp::flow_key want = ipv4_key(6);
    want.tp_src = 1234;
    want.tp_dst = 80;
    EXPECT_TRUE(extract_exact(cat({macs, {0x08, 0x00}, ipv4(6, 20, 0x2000), tcp_1234_80})) == want);
}

TEST(extract, ipv6_transport_and_icmpv6) {
    fp::flow_key want = ipv6_key(6);
    want.tp_src = 1234;
    want.tp_dst = 80;
    EXPECT_TRUE(extract_exact(cat({macs, {0x86, 0xdd}, ipv6(6, 20), tcp_1234_80})) == want);

    want = ipv6_key(17);
    want.tp_src = 5353;
    want.tp_dst = 4789;
    EXPECT_TRUE(extract_exact(cat({macs, {0x86, 0xdd}, ipv6(17, 8), udp_5353_4789})) == want);

    want = ipv6_key(58);
    want.icmp_type = 128; // echo request: no ND target
    EXPECT_TRUE(extract_exact(cat({macs, {0x86, 0xdd}, ipv6(58, 8), {128, 0, 0, 0, 0, 1, 0, 1}})) == want);

    // ICMP (1) inside IPv6 is not a transport header extract reads.
    EXPECT_TRUE(extract_exact(cat({macs, {0x86, 0xdd}, ipv6(1, 8), {8, 0, 0, 0, 0, 0, 0, 0}})) == ipv6_key(1));
}

TEST(extract, nd_target_for_ns_and_na) {
    const bytes target = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};
    const fp::uint128 target_value = (fp::uint128{0x20010db800000000ull} << 64) | 0x1234;
    for (std::uint8_t type : {135, 136}) {
        fp::flow_key want = ipv6_key(58);
        want.icmp_type = type;
        want.nd_target = target_value;
        const bytes f = cat({macs, {0x86, 0xdd}, ipv6(58, 24), {type, 0, 0, 0, 0x60, 0, 0, 0}, target});
        EXPECT_TRUE(extract_exact(f) == want) << int{type};
        // Target cut short by the payload length (the bytes are there, as padding):
        // type and code, no target.
        want.nd_target = 0;
        bytes cut = f;
        cut[14 + 5] = 23; // payload length, low byte
        EXPECT_TRUE(extract_exact(cut) == want) << int{type};
        // Cut short by the frame's end: the IPv6 packet itself is incomplete.
        EXPECT_TRUE(extract_exact(f, f.size() - 1) == eth_key(0x86dd)) << int{type};
        // Code 1 is not ND.
        bytes g = f;
        g[54 + 1] = 1;
        want.icmp_code = 1;
        EXPECT_TRUE(extract_exact(g) == want) << int{type};
    }
}

TEST(extract, truncated_frames_give_only_complete_layers) {
    const bytes f = cat({macs, {0x81, 0x00, 0x00, 7, 0x08, 0x00}, ipv4(6, 20), tcp_1234_80});
    fp::flow_key full = ipv4_key(6);
    full.vlan_tci = 0x1007;
    full.tp_src = 1234;
    full.tp_dst = 80;
    fp::flow_key eth_only = eth_key(0x0800, 0x1007);
    fp::flow_key tpid_only = eth_key(0x8100);
    for (std::size_t len = 0; len <= f.size(); ++len) {
        const fp::flow_key k = extract_exact(f, len);
        if (len < 14)
            EXPECT_TRUE(k == fp::flow_key{}) << len;
        else if (len < 18)
            EXPECT_TRUE(k == tpid_only) << len;
        else if (len < 58) // the IPv4 datagram (40 bytes) is not all there
            EXPECT_TRUE(k == eth_only) << len;
        else
            EXPECT_TRUE(k == full) << len;
    }
}

TEST(extract, datagram_too_short_for_its_transport_header) {
    // Total length 39: the TCP header's last byte is padding, not TCP.
    const bytes f = cat({macs, {0x08, 0x00}, ipv4(6, 19), tcp_1234_80, bytes(6, 0)});
    EXPECT_TRUE(extract_exact(f) == ipv4_key(6));
}

TEST(extract, metadata_is_left_as_the_caller_set_it) {
    fp::flow_key k{};
    k.in_port = 3;
    k.tun_id = 0x64;
    k.tun_src = 1;
    k.tun_dst = 2;
    k.metadata = 9;
    k.regs[7] = 0xdead;
    const bytes f = cat({macs, {0x88, 0xcc}});
    fp::extract(f.data(), f.size(), k);
    fp::flow_key want = eth_key(0x88cc);
    want.in_port = 3;
    want.tun_id = 0x64;
    want.tun_src = 1;
    want.tun_dst = 2;
    want.metadata = 9;
    want.regs[7] = 0xdead;
    EXPECT_TRUE(k == want);
}

// A key reused for the next packet of a burst must not keep the last
// packet's header fields: they would be "present" in a packet that lacks them.
TEST(extract, reused_key_keeps_no_stale_header_fields) {
    const bytes v6 = cat({macs, {0x81, 0x00, 0x00, 9, 0x86, 0xdd}, ipv6(6, 20), tcp_1234_80});
    const bytes arp = cat({macs, {0x08, 0x06}, {0, 1, 8, 0, 6, 4, 0, 1}, bytes(20, 7)});
    const bytes runt = cat({macs});
    for (const bytes* second : {&arp, &runt}) {
        fp::flow_key k{};
        k.in_port = 5;
        fp::extract(v6.data(), v6.size(), k);
        fp::extract(second->data(), second->size(), k);
        fp::flow_key fresh{};
        fresh.in_port = 5;
        fp::extract(second->data(), second->size(), fresh);
        EXPECT_TRUE(k == fresh) << second->size();
    }
}

// extract() takes the straight path for Ethernet [802.1Q] IPv4 UDP/TCP and
// the full parser for everything else; extract_reference() is the full
// parser alone. On composed frames of every kind, with header bytes set to
// the values each test of the straight path looks at (IHL, version, total
// length, fragment offset, protocol, TCP data offset, EtherTypes), then cut
// at every byte, both give the same layout and the same key.
TEST(extract, fast_path_matches_the_full_parser_on_random_and_truncated_frames) {
    std::mt19937_64 rng(0xfa57);
    auto pick = [&](std::initializer_list<std::uint64_t> v) { return *(v.begin() + rng() % v.size()); };
    std::size_t fast = 0, full = 0, compared = 0;
    for (int round = 0; round < 3000; ++round) {
        fp::flow_key k{};
        k.eth_dst = rng() & 0xffffffffffffULL;
        k.eth_src = rng() & 0xffffffffffffULL;
        k.eth_type = static_cast<std::uint16_t>(pick({0x0800, 0x0800, 0x0800, 0x0800, 0x86dd, 0x0806, 0x88cc}));
        if (rng() % 2) k.vlan_tci = static_cast<std::uint16_t>(0x1000 | (rng() & 0xefff));
        if (k.eth_type == 0x0806) {
            k.arp_op = 1;
            k.arp_spa = static_cast<std::uint32_t>(rng());
        } else if (k.eth_type != 0x88cc) {
            k.nw_proto = static_cast<std::uint8_t>(pick({6, 6, 17, 17, 1, 58, 132, 47}));
            if (k.eth_type == 0x0800) {
                k.nw_src = static_cast<std::uint32_t>(rng());
                k.nw_dst = static_cast<std::uint32_t>(rng());
            } else {
                k.ipv6_src = (fp::uint128{rng()} << 64) | rng();
                k.ipv6_dst = (fp::uint128{rng()} << 64) | rng();
            }
            k.nw_tos = static_cast<std::uint8_t>(rng());
            k.nw_ttl = static_cast<std::uint8_t>(rng());
            k.tp_src = static_cast<std::uint16_t>(rng());
            k.tp_dst = static_cast<std::uint16_t>(rng());
        }
        bytes f(fp::compose_max_frame_len + 32);
        std::size_t n = fp::compose_frame(k, std::span<std::uint8_t>(f.data(), fp::compose_max_frame_len));
        if (rng() % 4 == 0) n += rng() % 32; // bytes after the frame (its padding, as far as IP is concerned)
        f.resize(n);
        const std::size_t l3 = k.vlan_tci ? 18 : 14;
        const std::size_t l4 = l3 + 20;
        // Half the frames get one of the bytes the straight path tests set to
        // a value that may send it to the full parser.
        switch (rng() % 16) {
        case 0: f[l3] = static_cast<std::uint8_t>(pick({0x44, 0x46, 0x4f, 0x55, 0x65, 0x05})); break;
        case 1: pr::store_be16(&f[l3 + 2], static_cast<std::uint16_t>(rng() % 80)); break;
        case 2: pr::store_be16(&f[l3 + 6], static_cast<std::uint16_t>(pick({0x0001, 0x1fff, 0x2000, 0x4000}))); break;
        case 3: f[l3 + 9] = static_cast<std::uint8_t>(rng()); break;
        case 4: f[l4 + 12] = static_cast<std::uint8_t>(rng()); break;
        case 5: pr::store_be16(&f[12], static_cast<std::uint16_t>(pick({0x8100, 0x0800, 0x05ff, 0x88a8}))); break;
        case 6: pr::store_be16(&f[16], static_cast<std::uint16_t>(pick({0x8100, 0x0800, 0x86dd, 0x0400}))); break;
        case 7: f[rng() % f.size()] = static_cast<std::uint8_t>(rng()); break;
        default: break;
        }
        for (std::size_t len = 0; len <= f.size(); ++len) {
            // Exactly `len` bytes on the heap, so a read past them is an error under ASan.
            auto copy = std::make_unique<std::uint8_t[]>(len + 1);
            if (len) std::memcpy(copy.get(), f.data(), len);
            fp::flow_key a{}, b{};
            a.in_port = b.in_port = 7;
            a.regs[2] = b.regs[2] = 0x55;
            a.eth_src = b.eth_src = 0xdead; // stale fields of an earlier frame
            a.tp_dst = b.tp_dst = 0xbeef;
            fp::flow_key probe{};
            pr::frame_layout unused;
            (fp::extract_fast(copy.get(), len, probe, unused) ? fast : full) += 1;
            const pr::frame_layout la = fp::extract(copy.get(), len, a);
            const pr::frame_layout lb = fp::extract_reference(copy.get(), len, b);
            ASSERT_TRUE(la == lb) << "round " << round << " len " << len;
            ASSERT_TRUE(a == b) << "round " << round << " len " << len;
            ++compared;
        }
    }
    EXPECT_GT(fast, 5000u) << "the straight path must take a good share of the frames";
    EXPECT_GT(full, 100000u);
    EXPECT_GT(compared, 150000u);
}

// What the straight path declines, it leaves alone: no field, no layout.
TEST(extract, fast_path_writes_nothing_when_it_declines) {
    const bytes v6 = cat({macs, {0x86, 0xdd}, ipv6(6, 20), tcp_1234_80});
    bytes with_options = ipv4(6, 24); // IHL 6: one word of options (NOPs)
    with_options[0] = 0x46;
    const bytes options = cat({macs, {0x08, 0x00}, with_options, {1, 1, 1, 1}, tcp_1234_80});
    const bytes icmp = cat({macs, {0x08, 0x00}, ipv4(1, 8), bytes(8, 0)});
    for (const bytes* f : {&v6, &options, &icmp}) {
        fp::flow_key k{};
        k.eth_src = 0x1234;
        pr::frame_layout l;
        l.l3 = 99;
        EXPECT_FALSE(fp::extract_fast(f->data(), f->size(), k, l));
        EXPECT_EQ(k.eth_src, 0x1234u);
        EXPECT_EQ(l.l3, 99u);
    }
    const bytes udp = cat({macs, {0x08, 0x00}, ipv4(17, 8), udp_5353_4789});
    fp::flow_key k{};
    pr::frame_layout l;
    ASSERT_TRUE(fp::extract_fast(udp.data(), udp.size(), k, l));
    EXPECT_EQ(k.tp_src, 5353u);
    EXPECT_EQ(k.tp_dst, 4789u);
    EXPECT_EQ(l.l4, 34u);
    EXPECT_TRUE(l.l4_type == pr::l4_kind::udp);
}
