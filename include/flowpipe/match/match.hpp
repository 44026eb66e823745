// A match as data: a value and a mask over the whole flow key, the form every
// flow has before a table's schema packs it (ovs-ofctl text, learn, typed code).
//
// Masks are kept over the *storage* fields: `dl_vlan=2` is stored as
// `vlan_tci=0x1002/0x1fff`, as Open vSwitch stores it. `value & mask == value`
// always holds. Prerequisites are checked here, once, when a flow is built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <flowpipe/core/field.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/proto/ethernet.hpp>
#include <flowpipe/proto/ip.hpp>

namespace flowpipe {

struct match {
    flow_key value{};
    flow_key mask{};

    // Matches `f` (or a view of it) against `v` under `m` (m defaults to all
    // bits of the field). Bits of a view go to their storage bits; views that
    // imply a VLAN tag also match the present bit.
    match& set(field_id f, uint128 v, uint128 m) noexcept {
        const field_info& fi = info(f);
        const field_info& base = info(fi.base);
        m &= fi.all_ones();
        uint128 sm = m << fi.shift;
        uint128 sv = (v & m) << fi.shift;
        if (fi.implies_present && m != 0) {
            sm |= proto::vlan_cfi;
            sv |= proto::vlan_cfi;
        }
        const uint128 old_m = load_storage(mask, base);
        const uint128 old_v = load_storage(value, base);
        store_storage(mask, base, old_m | sm);
        store_storage(value, base, (old_v & ~sm) | sv);
        return *this;
    }
    match& set(field_id f, uint128 v) noexcept { return set(f, v, info(f).all_ones()); }

    template <field_type F>
    match& set(typename F::value_type v) noexcept {
        return set(F::id, v);
    }

    [[nodiscard]] uint128 value_of(field_id f) const noexcept { return get(value, f); }
    [[nodiscard]] uint128 mask_of(field_id f) const noexcept { return get(mask, f); }
    [[nodiscard]] bool matches_field(field_id f) const noexcept { return get(mask, f) != 0; }

    // Does a packet with key `k` match?
    [[nodiscard]] bool matches(const flow_key& k) const noexcept {
        const auto kw = key_words(k), mw = key_words(mask), vw = key_words(value);
        for (std::size_t i = 0; i < flow_key::word_count; ++i)
            if ((kw[i] & mw[i]) != vw[i]) return false;
        return true;
    }

    // Every packet that `other` matches is matched by *this (non-strict flow
    // mods select the flows their match covers, as Open vSwitch does).
    [[nodiscard]] bool covers(const match& other) const noexcept {
        const auto mw = key_words(mask), vw = key_words(value), omw = key_words(other.mask),
                   ovw = key_words(other.value);
        for (std::size_t i = 0; i < flow_key::word_count; ++i) {
            if ((mw[i] & ~omw[i]) != 0) return false;
            if ((ovw[i] & mw[i]) != vw[i]) return false;
        }
        return true;
    }

    friend bool operator==(const match&, const match&) = default;
};

namespace detail {
[[nodiscard]] inline bool exact_is(const match& m, field_id f, uint128 v) {
    return get(m.mask, f) == info(f).all_ones() && get(m.value, f) == v;
}
[[nodiscard]] inline bool is_arp(const match& m) {
    return exact_is(m, field_id::eth_type, proto::eth_type_arp) ||
           exact_is(m, field_id::eth_type, proto::eth_type_rarp);
}
[[nodiscard]] inline bool is_ipv4(const match& m) { return exact_is(m, field_id::eth_type, proto::eth_type_ipv4); }
[[nodiscard]] inline bool is_ipv6(const match& m) { return exact_is(m, field_id::eth_type, proto::eth_type_ipv6); }
[[nodiscard]] inline bool proto_is(const match& m, std::uint8_t p) { return exact_is(m, field_id::nw_proto, p); }
} // namespace detail

// Is `f`'s prerequisite met by what `m` matches?
[[nodiscard]] inline bool prerequisite_met(const match& m, field_id f) noexcept {
    using namespace detail;
    switch (info(f).prereq) {
    case prerequisite::none: return true;
    case prerequisite::arp: return is_arp(m);
    case prerequisite::ip: return is_ipv4(m) || is_ipv6(m);
    case prerequisite::ipv4: return is_ipv4(m);
    case prerequisite::ipv6: return is_ipv6(m);
    case prerequisite::transport:
        return (is_ipv4(m) || is_ipv6(m)) && (proto_is(m, proto::ip_proto_tcp) || proto_is(m, proto::ip_proto_udp) ||
                                              proto_is(m, proto::ip_proto_sctp));
    case prerequisite::icmp:
        return (is_ipv4(m) && proto_is(m, proto::ip_proto_icmp)) || (is_ipv6(m) && proto_is(m, proto::ip_proto_icmpv6));
    case prerequisite::nd:
        return is_ipv6(m) && proto_is(m, proto::ip_proto_icmpv6) &&
               (exact_is(m, field_id::icmp_type, proto::icmpv6_neighbor_solicit) ||
                exact_is(m, field_id::icmp_type, proto::icmpv6_neighbor_advert));
    }
    return false;
}

// The first storage field `m` matches whose prerequisite it does not also
// match, e.g. `arp_tpa` without `arp`; nullopt when all are met.
[[nodiscard]] inline std::optional<field_id> unmet_prerequisite(const match& m) noexcept {
    for (std::size_t i = 0; i < field_count; ++i) {
        const auto f = static_cast<field_id>(i);
        if (info(f).is_view() || !m.matches_field(f)) continue;
        if (!prerequisite_met(m, f)) return f;
    }
    return std::nullopt;
}

} // namespace flowpipe
