// libFuzzer target: parse_frame + extract + compose_frame + rewrite_frame on
// arbitrary bytes.
//
// The input is the frame; it is copied into a heap buffer of exactly its
// length with a little headroom before it, so AddressSanitizer catches any
// read past either end. Invariants checked (abort on failure):
//   - every recorded layer lies inside the frame;
//   - extract(compose_frame(extract(frame))) gives the same key (except the
//     two keys no padded frame can carry: not Ethernet at all, and a bare
//     802.1Q TPID with no tag);
//   - rewrite_frame to an edited key (derived from the input) either refuses
//     for lack of headroom and leaves the packet untouched, or yields a frame
//     that extracts to the edited key; a checksum valid before stays valid.
//
// Seed corpus: FLOWPIPE_FUZZ_WRITE_SEEDS=fuzz/corpus/parse build-fuzz/parse_fuzz -runs=0
// writes a few frames of every kind, made by compose_frame.
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/core/rewrite.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace fp = flowpipe;
namespace pr = flowpipe::proto;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

// splitmix64: the edits are a deterministic function of the input.
struct rng {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    bool coin() { return next() & 1; }
};

void check_layout(const pr::frame_layout& l, std::size_t len) {
    if (!l.has_ethernet) {
        check(l.status == pr::parse_status::truncated_ethernet, "no Ethernet without truncated_ethernet");
        check(l.l3_type == pr::l3_kind::none && l.l4_type == pr::l4_kind::none, "layers without Ethernet");
        return;
    }
    check(len >= pr::eth_header_len, "Ethernet recorded in a short frame");
    check(!l.has_vlan || len >= pr::eth_header_len + pr::vlan_header_len, "VLAN tag past the end");
    check(l.l3 <= len, "l3 offset past the end");
    std::size_t l3_end = l.l3;
    switch (l.l3_type) {
    case pr::l3_kind::none: break;
    case pr::l3_kind::arp: l3_end = l.l3 + pr::arp_eth_ipv4_len; break;
    case pr::l3_kind::ipv4:
        check(l.l3 + 20u <= len, "IPv4 header past the end");
        l3_end = l.l3 + 20u; // IHL checked below through l4
        break;
    case pr::l3_kind::ipv6: l3_end = l.l3 + pr::ipv6_header_len; break;
    }
    check(l3_end <= len, "L3 header past the end");
    if (l.l4_type != pr::l4_kind::none) {
        check(l.l3_type == pr::l3_kind::ipv4 || l.l3_type == pr::l3_kind::ipv6, "L4 without IP");
        check(l.l4 >= l3_end, "L4 inside the IP header");
        check(l.l4 + pr::detail::l4_min_len(l.l4_type) <= len, "L4 header past the end");
        check(!l.ipv4_later_fragment, "L4 in a later fragment");
    }
    check(!l.nd || (l.l4_type == pr::l4_kind::icmpv6 && l.l4 + pr::nd_min_len <= len), "ND target past the end");
}

// Which checksums of a frame verify (bit 0: IPv4 header, bit 1: TCP/UDP/ICMP).
unsigned valid_checksums(const std::uint8_t* f, std::size_t len) {
    const pr::frame_layout l = pr::parse_frame(f, len);
    unsigned ok = 0;
    std::size_t seg = 0;
    std::uint32_t pseudo = 0;
    const std::uint8_t* ip = f + l.l3;
    if (l.l3_type == pr::l3_kind::ipv4) {
        const std::size_t ihl = std::size_t{ip[0] & 0xfu} * 4;
        if (fp::detail::fold(fp::detail::ones_sum(ip, ihl)) == 0xffff) ok |= 1;
        const std::size_t total = pr::load_be16(ip + 2);
        if (total < ihl || l.l3 + total > len) return ok;
        seg = total - ihl;
        pseudo = fp::detail::pseudo_sum_v4(pr::load_be32(ip + 12), pr::load_be32(ip + 16), ip[9], seg);
    } else if (l.l3_type == pr::l3_kind::ipv6) {
        seg = pr::load_be16(ip + 4);
        if (l.l3 + 40 + seg > len) return ok;
        pseudo = fp::detail::pseudo_sum_v6(pr::load_be128(ip + 8), pr::load_be128(ip + 24), ip[6], seg);
    } else {
        return ok;
    }
    if (seg < pr::detail::l4_min_len(l.l4_type)) return ok;
    const std::uint8_t* t = f + l.l4;
    switch (l.l4_type) {
    case pr::l4_kind::tcp:
    case pr::l4_kind::icmpv6:
        if (fp::detail::fold(fp::detail::ones_sum(t, seg, pseudo)) == 0xffff) ok |= 2;
        break;
    case pr::l4_kind::udp:
        if (pr::load_be16(t + 6) != 0 && fp::detail::fold(fp::detail::ones_sum(t, seg, pseudo)) == 0xffff) ok |= 2;
        break;
    case pr::l4_kind::icmp:
        if (fp::detail::fold(fp::detail::ones_sum(t, seg)) == 0xffff) ok |= 2;
        break;
    default: break;
    }
    return ok;
}

// An edit a pipeline could make to a key with this layout.
fp::flow_key edit(const fp::flow_key& k, const pr::frame_layout& l, rng& r) {
    fp::flow_key a = k;
    if (l.eth_type != pr::eth_type_vlan && l.eth_type != 0x88a8) {
        switch (r.next() % 4) {
        case 0: a.vlan_tci = static_cast<std::uint16_t>(r.next() | pr::vlan_cfi); break;
        case 1: a.vlan_tci = 0; break;
        default: break;
        }
    }
    if (r.coin()) a.eth_src = r.next() & 0xffffffffffffull;
    if (r.coin()) a.eth_dst = r.next() & 0xffffffffffffull;
    a.in_port = static_cast<std::uint32_t>(r.next());
    a.regs[r.next() % 8] = static_cast<std::uint32_t>(r.next());
    switch (l.l3_type) {
    case pr::l3_kind::none: break;
    case pr::l3_kind::arp:
        if (r.coin()) a.arp_op = static_cast<std::uint16_t>(r.next() & 0xff); // 8 bits, as Open vSwitch keeps it
        if (r.coin()) a.arp_sha = r.next() & 0xffffffffffffull;
        if (r.coin()) a.arp_tha = r.next() & 0xffffffffffffull;
        if (r.coin()) a.arp_spa = static_cast<std::uint32_t>(r.next());
        if (r.coin()) a.arp_tpa = static_cast<std::uint32_t>(r.next());
        break;
    case pr::l3_kind::ipv4:
    case pr::l3_kind::ipv6:
        if (r.coin()) a.nw_tos = static_cast<std::uint8_t>(r.next());
        if (r.coin()) a.nw_ttl = static_cast<std::uint8_t>(r.next());
        if (l.l3_type == pr::l3_kind::ipv4) {
            if (r.coin()) a.nw_src = static_cast<std::uint32_t>(r.next());
            if (r.coin()) a.nw_dst = static_cast<std::uint32_t>(r.next());
        } else {
            if (r.coin()) a.ipv6_src = (fp::uint128{r.next()} << 64) | r.next();
            if (r.coin()) a.ipv6_dst = (fp::uint128{r.next()} << 64) | r.next();
        }
        break;
    }
    switch (l.l4_type) {
    case pr::l4_kind::tcp:
    case pr::l4_kind::udp:
    case pr::l4_kind::sctp:
        if (r.coin()) a.tp_src = static_cast<std::uint16_t>(r.next());
        if (r.coin()) a.tp_dst = static_cast<std::uint16_t>(r.next());
        break;
    case pr::l4_kind::icmp:
        if (r.coin()) a.icmp_type = static_cast<std::uint8_t>(r.next());
        if (r.coin()) a.icmp_code = static_cast<std::uint8_t>(r.next());
        break;
    case pr::l4_kind::icmpv6: // type/code kept: they decide whether an ND target exists
        if (l.nd && r.coin()) a.nd_target = (fp::uint128{r.next()} << 64) | r.next();
        break;
    case pr::l4_kind::none: break;
    }
    return a;
}

fp::flow_key with_metadata_of(fp::flow_key headers, const fp::flow_key& meta) {
    headers.in_port = meta.in_port;
    headers.tun_id = meta.tun_id;
    headers.tun_src = meta.tun_src;
    headers.tun_dst = meta.tun_dst;
    headers.metadata = meta.metadata;
    headers.regs = meta.regs;
    return headers;
}

void write_seeds(const char* dir) {
    int n = 0;
    auto emit = [&](const fp::flow_key& k) {
        std::array<std::uint8_t, fp::compose_max_frame_len> f{};
        const std::size_t len = fp::compose_frame(k, f);
        const int i = n++;
        const std::string path = std::string(dir) + "/seed-" + (i < 10 ? "0" : "") + std::to_string(i);
        if (std::FILE* out = std::fopen(path.c_str(), "wb")) {
            std::fwrite(f.data(), 1, len, out);
            std::fclose(out);
        }
    };
    fp::flow_key base{};
    base.eth_dst = 0x020000000002;
    base.eth_src = 0x020000000001;
    for (const std::uint16_t tci : {std::uint16_t{0}, std::uint16_t{0x3064}}) {
        fp::flow_key k = base;
        k.vlan_tci = tci;
        k.eth_type = 0x88cc;
        emit(k);
        k.eth_type = pr::eth_type_none;
        if (!tci) emit(k);
        for (const std::uint16_t t : {pr::eth_type_arp, pr::eth_type_rarp}) {
            fp::flow_key a = k;
            a.eth_type = t;
            a.arp_op = t == pr::eth_type_arp ? 1 : 3;
            a.arp_sha = base.eth_src;
            a.arp_spa = 0x0a000001;
            a.arp_tpa = 0x0a000002;
            emit(a);
        }
        for (const std::uint8_t proto : {6, 17, 132, 1, 47}) {
            fp::flow_key v4 = k;
            v4.eth_type = pr::eth_type_ipv4;
            v4.nw_proto = proto;
            v4.nw_src = 0x0a000001;
            v4.nw_dst = 0x0a000002;
            v4.nw_ttl = 64;
            v4.nw_tos = 0x10;
            v4.tp_src = proto == 1 || proto == 47 ? 0 : 1234;
            v4.tp_dst = proto == 1 || proto == 47 ? 0 : 4789;
            v4.icmp_type = proto == 1 ? 8 : 0;
            emit(v4);
        }
        for (const std::uint8_t proto : {6, 17, 58}) {
            fp::flow_key v6 = k;
            v6.eth_type = pr::eth_type_ipv6;
            v6.nw_proto = proto;
            v6.ipv6_src = (fp::uint128{0xfe80} << 112) | 1;
            v6.ipv6_dst = (fp::uint128{0xfe80} << 112) | 2;
            v6.nw_ttl = 255;
            if (proto == 58) {
                for (const std::uint8_t type : {128, 135, 136}) {
                    v6.icmp_type = type;
                    v6.nd_target = type == 128 ? 0 : v6.ipv6_dst;
                    if (!tci || type != 128) emit(v6);
                }
            } else {
                v6.tp_src = 5000;
                v6.tp_dst = 80;
                emit(v6);
            }
        }
    }
    std::fprintf(stderr, "wrote %d seeds to %s\n", n, dir);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (const char* dir = std::getenv("FLOWPIPE_FUZZ_WRITE_SEEDS")) write_seeds(dir);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Parsing from a null pointer is a truncated frame, never a read.
    check(pr::parse_frame(nullptr, size).status == pr::parse_status::truncated_ethernet, "nullptr frame");

    std::uint64_t h = 0xcbf29ce484222325ull; // FNV-1a of the input seeds the edits
    for (std::size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
    rng r{h};
    const std::size_t room = r.next() % 8; // 0..3 cannot take a tag
    auto buf = std::make_unique<std::uint8_t[]>(room + size);
    if (size) std::memcpy(buf.get() + room, data, size);
    std::uint8_t* frame = buf.get() + room;

    fp::flow_key key{};
    const pr::frame_layout l = fp::extract(frame, size, key);
    check_layout(l, size);

    // compose is the inverse of extract.
    if (l.has_ethernet && l.status != pr::parse_status::truncated_vlan) {
        std::array<std::uint8_t, fp::compose_max_frame_len> c{};
        const std::size_t n = fp::compose_frame(key, c);
        check(n >= fp::eth_min_frame_len, "compose_frame refused its maximum buffer");
        auto exact = std::make_unique<std::uint8_t[]>(n);
        std::memcpy(exact.get(), c.data(), n);
        fp::flow_key again{};
        const pr::frame_layout l2 = fp::extract(exact.get(), n, again);
        check(l2.status == pr::parse_status::ok, "a composed frame does not parse cleanly");
        check(again == key, "extract(compose(key)) != key");
        check(valid_checksums(exact.get(), n) ==
                  ((l2.l3_type == pr::l3_kind::ipv4 ? 1u : 0u) |
                   (l2.l4_type != pr::l4_kind::none && l2.l4_type != pr::l4_kind::sctp ? 2u : 0u)),
              "a composed frame has a bad checksum");
    }

    // rewrite to an edited key.
    const fp::flow_key after = edit(key, l, r);
    const unsigned valid_before = size ? valid_checksums(frame, size) : 0;
    std::vector<std::uint8_t> original(frame, frame + size);
    fp::packet p{frame, static_cast<std::uint32_t>(size), static_cast<std::uint32_t>(room), 0, 0};
    const fp::rewrite_status st = fp::rewrite_frame(p, l, key, after);
    if (st == fp::rewrite_status::no_headroom) {
        check(room < pr::vlan_header_len, "no_headroom with room for a tag");
        check(p.data == frame && p.len == size && p.headroom == room, "a refused packet moved");
        check(std::memcmp(frame, original.data(), size) == 0, "a refused packet was written");
        return 0;
    }
    check(p.data + p.len == frame + size, "the frame's end moved");
    if (!l.has_ethernet) {
        check(size == 0 || std::memcmp(frame, original.data(), size) == 0, "a non-Ethernet frame was written");
        return 0;
    }
    fp::flow_key back{};
    const pr::frame_layout l3 = fp::extract(p.data, p.len, back);
    // Popping a tag off a stacked one exposes the inner TPID: then the frame
    // is a different kind of frame, and keys are not comparable.
    if (l.status != pr::parse_status::truncated_vlan && l3.eth_type != pr::eth_type_vlan &&
        l.eth_type != pr::eth_type_vlan)
        check(with_metadata_of(back, after) == after, "extract(rewrite(frame, after)) != after");
    const unsigned valid_after = valid_checksums(p.data, p.len);
    check((valid_before & valid_after) == valid_before, "rewrite broke a valid checksum");
    return 0;
}
