// Fields: what a flow can match and an action can read or write.
//
// One constexpr table (`field_table`) describes every field once: its
// ovs-ofctl name and alias, its NXM and OXM names, its width, where it lives in
// the flow key, whether it may be masked and its match prerequisite. The
// compile-time `field<Id>` types and the run-time accessors (`get`, `set`) are
// both read off that table, so the typed and the generic (text) paths can never
// disagree about a field.
//
// Some fields are *views* of another one (`dl_vlan`, `vlan_vid`, `vlan_pcp` are
// bits of `vlan_tci`): they carry the base field, a shift and a width. A view
// whose `implies_present` flag is set also implies the 802.1Q present bit
// (0x1000) when matched or written, as Open vSwitch's `dl_vlan=2` means
// `vlan_tci=0x1002/0x1fff`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <type_traits>

#include <flowpipe/core/flow_key.hpp>

namespace flowpipe {

enum class field_id : std::uint8_t {
    in_port,
    tun_id,
    tun_src,
    tun_dst,
    reg0,
    reg1,
    reg2,
    reg3,
    reg4,
    reg5,
    reg6,
    reg7,
    metadata,
    eth_src,
    eth_dst,
    eth_type,
    vlan_tci,
    dl_vlan,  // view: vlan_tci[0..11], implies present
    vlan_vid, // view: vlan_tci[0..12] (OXM: present bit | VID)
    vlan_pcp, // view: vlan_tci[13..15], implies present
    arp_op,
    arp_spa,
    arp_tpa,
    arp_sha,
    arp_tha,
    nw_src,
    nw_dst,
    nw_proto,
    nw_tos,
    nw_ttl,
    ipv6_src,
    ipv6_dst,
    tp_src,
    tp_dst,
    icmp_type,
    icmp_code,
    nd_target,
    count_
};

inline constexpr std::size_t field_count = static_cast<std::size_t>(field_id::count_);

// What must already be matched for a field to be matched (Open vSwitch's
// "prerequisites"): checked when a flow is installed, never per packet.
enum class prerequisite : std::uint8_t {
    none,
    arp,       // eth_type 0x0806 (or RARP 0x8035)
    ip,        // eth_type 0x0800 or 0x86dd
    ipv4,      // eth_type 0x0800
    ipv6,      // eth_type 0x86dd
    transport, // ip and nw_proto in {tcp, udp, sctp}
    icmp,      // ipv4 with nw_proto 1, or ipv6 with nw_proto 58
    nd,        // ipv6, icmpv6, icmp_type 135 or 136
};

// How a field's value is written in ovs-ofctl syntax.
enum class field_format : std::uint8_t { decimal, hex, mac, ipv4, ipv6 };

struct field_info {
    field_id id;
    std::string_view name;  // as ovs-ofctl dump-flows prints it
    std::string_view alias; // the other ovs-ofctl spelling, or empty
    std::string_view nxm;   // NXM_OF_* / NXM_NX_* name, or empty
    std::string_view oxm;   // OXM_OF_* name, or empty
    std::uint16_t offset;   // byte offset of the storage field in flow_key
    std::uint8_t size;      // bytes of the storage field
    std::uint8_t width;     // bits of this field (of the view, for a view)
    std::uint8_t shift;     // view: lowest bit inside the storage field
    bool implies_present;   // view of vlan_tci that also means "tagged"
    bool maskable;          // may be matched with an arbitrary mask
    prerequisite prereq;
    field_format format;
    field_id base;                  // the storage field (itself unless a view)
    std::uint8_t stored_bits = 128; // bits a write keeps (arp_op: 8, as Open vSwitch keeps it in nw_proto)

    [[nodiscard]] constexpr bool is_view() const noexcept { return base != id; }
    [[nodiscard]] constexpr uint128 all_ones() const noexcept {
        return width >= 128 ? ~uint128{0} : ((uint128{1} << width) - 1);
    }
};

namespace detail {

#define FLOWPIPE_FIELD_STORAGE(member)                                                                                 \
    static_cast<std::uint16_t>(offsetof(flow_key, member)), static_cast<std::uint8_t>(sizeof(flow_key::member))
#define FLOWPIPE_REG_STORAGE(n)                                                                                        \
    static_cast<std::uint16_t>(offsetof(flow_key, regs) + 4 * (n)), std::uint8_t { 4 }

constexpr field_info plain(field_id id, std::string_view name, std::string_view alias, std::string_view nxm,
                           std::string_view oxm, std::uint16_t off, std::uint8_t size, std::uint8_t width,
                           bool maskable, prerequisite pre, field_format fmt) {
    return field_info{id, name, alias, nxm, oxm, off, size, width, 0, false, maskable, pre, fmt, id};
}

constexpr field_info view(field_id id, std::string_view name, std::string_view alias, std::string_view nxm,
                          std::string_view oxm, std::uint8_t width, std::uint8_t shift, bool implies_present,
                          bool maskable) {
    return field_info{id,
                      name,
                      alias,
                      nxm,
                      oxm,
                      static_cast<std::uint16_t>(offsetof(flow_key, vlan_tci)),
                      2,
                      width,
                      shift,
                      implies_present,
                      maskable,
                      prerequisite::none,
                      field_format::decimal,
                      field_id::vlan_tci};
}

constexpr field_info with_stored_bits(field_info f, std::uint8_t bits) {
    f.stored_bits = bits;
    return f;
}

using fid = field_id;
using pre = prerequisite;
using fmt = field_format;

// clang-format off: one row per field reads better than what the formatter would make of it
inline constexpr std::array<field_info, field_count> field_table{{
    plain(fid::in_port, "in_port", "", "NXM_OF_IN_PORT", "OXM_OF_IN_PORT", FLOWPIPE_FIELD_STORAGE(in_port), 32, false,
          pre::none, fmt::decimal),
    plain(fid::tun_id, "tun_id", "tunnel_id", "NXM_NX_TUN_ID", "OXM_OF_TUNNEL_ID", FLOWPIPE_FIELD_STORAGE(tun_id), 64,
          true, pre::none, fmt::hex),
    plain(fid::tun_src, "tun_src", "", "NXM_NX_TUN_IPV4_SRC", "", FLOWPIPE_FIELD_STORAGE(tun_src), 32, true, pre::none,
          fmt::ipv4),
    plain(fid::tun_dst, "tun_dst", "", "NXM_NX_TUN_IPV4_DST", "", FLOWPIPE_FIELD_STORAGE(tun_dst), 32, true, pre::none,
          fmt::ipv4),
    plain(fid::reg0, "reg0", "", "NXM_NX_REG0", "", FLOWPIPE_REG_STORAGE(0), 32, true, pre::none, fmt::hex),
    plain(fid::reg1, "reg1", "", "NXM_NX_REG1", "", FLOWPIPE_REG_STORAGE(1), 32, true, pre::none, fmt::hex),
    plain(fid::reg2, "reg2", "", "NXM_NX_REG2", "", FLOWPIPE_REG_STORAGE(2), 32, true, pre::none, fmt::hex),
    plain(fid::reg3, "reg3", "", "NXM_NX_REG3", "", FLOWPIPE_REG_STORAGE(3), 32, true, pre::none, fmt::hex),
    plain(fid::reg4, "reg4", "", "NXM_NX_REG4", "", FLOWPIPE_REG_STORAGE(4), 32, true, pre::none, fmt::hex),
    plain(fid::reg5, "reg5", "", "NXM_NX_REG5", "", FLOWPIPE_REG_STORAGE(5), 32, true, pre::none, fmt::hex),
    plain(fid::reg6, "reg6", "", "NXM_NX_REG6", "", FLOWPIPE_REG_STORAGE(6), 32, true, pre::none, fmt::hex),
    plain(fid::reg7, "reg7", "", "NXM_NX_REG7", "", FLOWPIPE_REG_STORAGE(7), 32, true, pre::none, fmt::hex),
    plain(fid::metadata, "metadata", "", "", "OXM_OF_METADATA", FLOWPIPE_FIELD_STORAGE(metadata), 64, true, pre::none,
          fmt::hex),
    plain(fid::eth_src, "dl_src", "eth_src", "NXM_OF_ETH_SRC", "OXM_OF_ETH_SRC", FLOWPIPE_FIELD_STORAGE(eth_src), 48,
          true, pre::none, fmt::mac),
    plain(fid::eth_dst, "dl_dst", "eth_dst", "NXM_OF_ETH_DST", "OXM_OF_ETH_DST", FLOWPIPE_FIELD_STORAGE(eth_dst), 48,
          true, pre::none, fmt::mac),
    plain(fid::eth_type, "dl_type", "eth_type", "NXM_OF_ETH_TYPE", "OXM_OF_ETH_TYPE", FLOWPIPE_FIELD_STORAGE(eth_type),
          16, false, pre::none, fmt::hex),
    plain(fid::vlan_tci, "vlan_tci", "", "NXM_OF_VLAN_TCI", "", FLOWPIPE_FIELD_STORAGE(vlan_tci), 16, true, pre::none,
          fmt::hex),
    view(fid::dl_vlan, "dl_vlan", "", "", "", 12, 0, true, false),
    view(fid::vlan_vid, "vlan_vid", "", "", "OXM_OF_VLAN_VID", 13, 0, false, true),
    view(fid::vlan_pcp, "dl_vlan_pcp", "vlan_pcp", "", "OXM_OF_VLAN_PCP", 3, 13, true, false),
    with_stored_bits(plain(fid::arp_op, "arp_op", "", "NXM_OF_ARP_OP", "OXM_OF_ARP_OP", FLOWPIPE_FIELD_STORAGE(arp_op),
                           16, false, pre::arp, fmt::decimal),
                     8),
    plain(fid::arp_spa, "arp_spa", "", "NXM_OF_ARP_SPA", "OXM_OF_ARP_SPA", FLOWPIPE_FIELD_STORAGE(arp_spa), 32, true,
          pre::arp, fmt::ipv4),
    plain(fid::arp_tpa, "arp_tpa", "", "NXM_OF_ARP_TPA", "OXM_OF_ARP_TPA", FLOWPIPE_FIELD_STORAGE(arp_tpa), 32, true,
          pre::arp, fmt::ipv4),
    plain(fid::arp_sha, "arp_sha", "", "NXM_NX_ARP_SHA", "OXM_OF_ARP_SHA", FLOWPIPE_FIELD_STORAGE(arp_sha), 48, true,
          pre::arp, fmt::mac),
    plain(fid::arp_tha, "arp_tha", "", "NXM_NX_ARP_THA", "OXM_OF_ARP_THA", FLOWPIPE_FIELD_STORAGE(arp_tha), 48, true,
          pre::arp, fmt::mac),
    plain(fid::nw_src, "nw_src", "ip_src", "NXM_OF_IP_SRC", "OXM_OF_IPV4_SRC", FLOWPIPE_FIELD_STORAGE(nw_src), 32, true,
          pre::ipv4, fmt::ipv4),
    plain(fid::nw_dst, "nw_dst", "ip_dst", "NXM_OF_IP_DST", "OXM_OF_IPV4_DST", FLOWPIPE_FIELD_STORAGE(nw_dst), 32, true,
          pre::ipv4, fmt::ipv4),
    plain(fid::nw_proto, "nw_proto", "ip_proto", "NXM_OF_IP_PROTO", "OXM_OF_IP_PROTO", FLOWPIPE_FIELD_STORAGE(nw_proto),
          8, false, pre::ip, fmt::decimal),
    plain(fid::nw_tos, "nw_tos", "", "NXM_OF_IP_TOS", "", FLOWPIPE_FIELD_STORAGE(nw_tos), 8, false, pre::ip,
          fmt::decimal),
    plain(fid::nw_ttl, "nw_ttl", "", "NXM_NX_IP_TTL", "", FLOWPIPE_FIELD_STORAGE(nw_ttl), 8, false, pre::ip,
          fmt::decimal),
    plain(fid::ipv6_src, "ipv6_src", "", "NXM_NX_IPV6_SRC", "OXM_OF_IPV6_SRC", FLOWPIPE_FIELD_STORAGE(ipv6_src), 128,
          true, pre::ipv6, fmt::ipv6),
    plain(fid::ipv6_dst, "ipv6_dst", "", "NXM_NX_IPV6_DST", "OXM_OF_IPV6_DST", FLOWPIPE_FIELD_STORAGE(ipv6_dst), 128,
          true, pre::ipv6, fmt::ipv6),
    plain(fid::tp_src, "tp_src", "", "NXM_OF_TCP_SRC", "", FLOWPIPE_FIELD_STORAGE(tp_src), 16, true, pre::transport,
          fmt::decimal),
    plain(fid::tp_dst, "tp_dst", "", "NXM_OF_TCP_DST", "", FLOWPIPE_FIELD_STORAGE(tp_dst), 16, true, pre::transport,
          fmt::decimal),
    plain(fid::icmp_type, "icmp_type", "", "NXM_OF_ICMP_TYPE", "OXM_OF_ICMPV4_TYPE", FLOWPIPE_FIELD_STORAGE(icmp_type),
          8, false, pre::icmp, fmt::decimal),
    plain(fid::icmp_code, "icmp_code", "", "NXM_OF_ICMP_CODE", "OXM_OF_ICMPV4_CODE", FLOWPIPE_FIELD_STORAGE(icmp_code),
          8, false, pre::icmp, fmt::decimal),
    plain(fid::nd_target, "nd_target", "", "NXM_NX_ND_TARGET", "OXM_OF_IPV6_ND_TARGET",
          FLOWPIPE_FIELD_STORAGE(nd_target), 128, true, pre::nd, fmt::ipv6),
}};
// clang-format on

#undef FLOWPIPE_FIELD_STORAGE
#undef FLOWPIPE_REG_STORAGE

constexpr bool table_is_in_id_order() {
    for (std::size_t i = 0; i < field_table.size(); ++i)
        if (static_cast<std::size_t>(field_table[i].id) != i) return false;
    return true;
}
static_assert(table_is_in_id_order(), "field_table rows must be in field_id order");

} // namespace detail

[[nodiscard]] constexpr const field_info& info(field_id id) noexcept {
    return detail::field_table[static_cast<std::size_t>(id)];
}

// Looks a field up by any of its names (ovs-ofctl name, alias, NXM or OXM).
[[nodiscard]] constexpr std::optional<field_id> find_field(std::string_view name) noexcept {
    for (const field_info& f : detail::field_table) {
        if (name == f.name || (!f.alias.empty() && name == f.alias) || (!f.nxm.empty() && name == f.nxm) ||
            (!f.oxm.empty() && name == f.oxm))
            return f.id;
    }
    return std::nullopt;
}

// Storage-level access: the whole storage field as an integer.
[[nodiscard]] inline uint128 load_storage(const flow_key& k, const field_info& f) noexcept {
    uint128 v = 0;
    std::memcpy(&v, reinterpret_cast<const std::uint8_t*>(&k) + f.offset, f.size);
    return v;
}

inline void store_storage(flow_key& k, const field_info& f, uint128 v) noexcept {
    std::memcpy(reinterpret_cast<std::uint8_t*>(&k) + f.offset, &v, f.size);
}

// The value of a field (of a view: its bits, shifted down) in a key.
[[nodiscard]] inline uint128 get(const flow_key& k, field_id id) noexcept {
    const field_info& f = info(id);
    return (load_storage(k, f) >> f.shift) & f.all_ones();
}

// Writes a field; the value is truncated to the field's width. Writing a view
// that implies the 802.1Q present bit sets it (`set_field:5->dl_vlan` tags).
inline void set(flow_key& k, field_id id, uint128 v) noexcept {
    const field_info& f = info(id);
    if (f.stored_bits < 128) v &= (uint128{1} << f.stored_bits) - 1;
    const uint128 m = f.all_ones() << f.shift;
    uint128 s = load_storage(k, f);
    s = (s & ~m) | ((v << f.shift) & m);
    if (f.implies_present) s |= 0x1000;
    store_storage(k, f, s);
}

// A contiguous range of a field's bits, [start, start + n_bits), as in
// `NXM_OF_VLAN_TCI[0..11]` (start 0, 12 bits) or `field[]` (all bits).
struct bit_range {
    field_id field;
    std::uint8_t start = 0;
    std::uint8_t n_bits = 0;

    [[nodiscard]] constexpr uint128 mask() const noexcept {
        return n_bits >= 128 ? ~uint128{0} : ((uint128{1} << n_bits) - 1);
    }
    [[nodiscard]] static constexpr bit_range whole(field_id f) noexcept { return bit_range{f, 0, info(f).width}; }
    [[nodiscard]] constexpr bool valid() const noexcept {
        return n_bits > 0 && std::size_t{start} + n_bits <= info(field).width;
    }
    friend constexpr bool operator==(const bit_range&, const bit_range&) = default;
};

[[nodiscard]] inline uint128 get(const flow_key& k, bit_range r) noexcept {
    return (get(k, r.field) >> r.start) & r.mask();
}

// Writes bits [start, start+n) of a field. On a plain field this touches only
// those bits; `load:0->NXM_OF_VLAN_TCI[]` therefore clears the whole tag.
inline void set(flow_key& k, bit_range r, uint128 v) noexcept {
    const field_info& f = info(r.field);
    if (f.is_view()) {
        const uint128 cur = get(k, r.field);
        const uint128 m = r.mask() << r.start;
        set(k, r.field, (cur & ~m) | ((v << r.start) & m));
        return;
    }
    const uint128 m = r.mask() << r.start;
    uint128 s = load_storage(k, f);
    s = (s & ~m) | ((v << r.start) & m);
    if (f.stored_bits < 128) s &= (uint128{1} << f.stored_bits) - 1;
    store_storage(k, f, s);
}

// The unsigned integer type that holds `Bits` bits.
template <unsigned Bits>
using uint_for_bits = std::conditional_t<
    (Bits <= 8), std::uint8_t,
    std::conditional_t<
        (Bits <= 16), std::uint16_t,
        std::conditional_t<(Bits <= 32), std::uint32_t, std::conditional_t<(Bits <= 64), std::uint64_t, uint128>>>>;

// Compile-time bits [Start, End] (inclusive, as ovs-ofctl writes them) of field F.
template <field_id F, unsigned Start, unsigned End>
struct field_bits {
    static_assert(Start <= End && End < info(F).width, "a bit range must lie inside its field");
    static constexpr field_id id = F;
    static constexpr bit_range range{F, static_cast<std::uint8_t>(Start), static_cast<std::uint8_t>(End - Start + 1)};
    static constexpr unsigned width = End - Start + 1;
    using value_type = uint_for_bits<width>;
};

// A field as a type: `fields::eth_dst`, `fields::tun_id`, `fields::vlan_tci::bits<0, 11>`.
template <field_id F>
struct field {
    static constexpr field_id id = F;
    static constexpr const field_info& info = detail::field_table[static_cast<std::size_t>(F)];
    static constexpr unsigned width = info.width;
    static constexpr bit_range range = bit_range::whole(F);
    using value_type = uint_for_bits<width>;

    template <unsigned Start, unsigned End>
    using bits = field_bits<F, Start, End>;

    // Fast typed access for plain (non-view) fields: one load of a constant size.
    [[nodiscard]] static value_type get(const flow_key& k) noexcept {
        if constexpr (info.is_view()) {
            return static_cast<value_type>(flowpipe::get(k, F));
        } else {
            using storage_t = uint_for_bits<info.size * 8>;
            storage_t v;
            std::memcpy(&v, reinterpret_cast<const std::uint8_t*>(&k) + info.offset, sizeof v);
            return static_cast<value_type>(v);
        }
    }
    static void set(flow_key& k, value_type v) noexcept {
        if constexpr (info.is_view() || info.width != info.size * 8 || info.stored_bits < info.width) {
            flowpipe::set(k, F, v);
        } else {
            std::memcpy(reinterpret_cast<std::uint8_t*>(&k) + info.offset, &v, sizeof v);
        }
    }
};

template <class T>
concept field_type = requires {
    { T::id } -> std::convertible_to<field_id>;
    { T::range } -> std::convertible_to<bit_range>;
};

namespace fields {
using in_port = field<field_id::in_port>;
using tun_id = field<field_id::tun_id>;
using tun_src = field<field_id::tun_src>;
using tun_dst = field<field_id::tun_dst>;
using reg0 = field<field_id::reg0>;
using reg1 = field<field_id::reg1>;
using reg2 = field<field_id::reg2>;
using reg3 = field<field_id::reg3>;
using reg4 = field<field_id::reg4>;
using reg5 = field<field_id::reg5>;
using reg6 = field<field_id::reg6>;
using reg7 = field<field_id::reg7>;
using metadata = field<field_id::metadata>;
using eth_src = field<field_id::eth_src>;
using eth_dst = field<field_id::eth_dst>;
using eth_type = field<field_id::eth_type>;
using vlan_tci = field<field_id::vlan_tci>;
using dl_vlan = field<field_id::dl_vlan>;
using vlan_vid = field<field_id::vlan_vid>;
using vlan_pcp = field<field_id::vlan_pcp>;
using arp_op = field<field_id::arp_op>;
using arp_spa = field<field_id::arp_spa>;
using arp_tpa = field<field_id::arp_tpa>;
using arp_sha = field<field_id::arp_sha>;
using arp_tha = field<field_id::arp_tha>;
using nw_src = field<field_id::nw_src>;
using nw_dst = field<field_id::nw_dst>;
using nw_proto = field<field_id::nw_proto>;
using nw_tos = field<field_id::nw_tos>;
using nw_ttl = field<field_id::nw_ttl>;
using ipv6_src = field<field_id::ipv6_src>;
using ipv6_dst = field<field_id::ipv6_dst>;
using tp_src = field<field_id::tp_src>;
using tp_dst = field<field_id::tp_dst>;
using icmp_type = field<field_id::icmp_type>;
using icmp_code = field<field_id::icmp_code>;
using nd_target = field<field_id::nd_target>;
// ovs-ofctl spellings
using dl_src = eth_src;
using dl_dst = eth_dst;
using dl_type = eth_type;
} // namespace fields

} // namespace flowpipe
