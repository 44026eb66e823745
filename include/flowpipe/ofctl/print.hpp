// Open vSwitch's text syntax out: matches, actions, flows as `ovs-ofctl
// dump-flows` prints them, and packets (flow keys) as ofproto/trace prints
// them.
//
// The one idea: follow Open vSwitch 3.1's printers field by field and in the
// same order (lib/match.c match_format, lib/ofp-actions.c format_*,
// lib/ofp-flow.c ofputil_flow_stats_format), so that a user can diff our
// output against theirs, and so that everything printed here parses back with
// parse.hpp to the very same flow (tests/ofctl checks both).
//
// Typed tables print too: a flow's match comes from `flow.get_match()` and a
// typed action list is walked with `for_each`; the typed forms of actions
// (`resubmit_to<T>`, `load_to<Bits>`, `output_ports<N>`...) print like their
// run-time twins.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <flowpipe/action/generic.hpp>
#include <flowpipe/action/lower.hpp>
#include <flowpipe/core/field.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/match/match.hpp>
#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/ofctl/value.hpp>
#include <flowpipe/proto/ethernet.hpp>
#include <flowpipe/proto/ip.hpp>

namespace flowpipe::ofctl {

namespace detail {

// "0x%x": hex with a prefix, zero as "0x0".
inline void append_hex0x(std::string& out, uint128 v) {
    if (v == 0) {
        out += "0x0";
        return;
    }
    append_hex(out, v);
}

inline void put_key(std::string& out, std::string_view name) {
    out += name;
    out += '=';
}

// format_uint32_masked / format_be64_masked: "%#x" and "/%#x".
inline void hex_masked(std::string& out, std::string_view name, uint128 v, uint128 m, uint128 all) {
    if (m == 0) return;
    put_key(out, name);
    append_hex(out, v);
    if (m != all) {
        out += '/';
        append_hex(out, m);
    }
    out += ',';
}

// format_be16_masked: decimal when exact, "0x%x/0x%x" otherwise.
inline void be16_masked(std::string& out, std::string_view name, uint128 v, uint128 m, uint128 all) {
    if (m == 0) return;
    put_key(out, name);
    if (m == all) {
        append_dec(out, v);
    } else {
        append_hex0x(out, v);
        out += '/';
        append_hex0x(out, m);
    }
    out += ',';
}

inline void eth_masked(std::string& out, std::string_view name, std::uint64_t v, std::uint64_t m) {
    if (m == 0) return;
    put_key(out, name);
    append_mac(out, v);
    if (m != 0xffffffffffffULL) {
        out += '/';
        append_mac(out, m);
    }
    out += ',';
}

inline void ip_masked(std::string& out, std::string_view name, std::uint32_t v, std::uint32_t m) {
    if (m == 0) return;
    put_key(out, name);
    append_ipv4(out, v);
    if (m != 0xffffffffu) {
        out += '/';
        if (const int n = prefix_length(m, 32); n >= 0)
            append_dec(out, static_cast<unsigned>(n));
        else
            append_ipv4(out, m);
    }
    out += ',';
}

inline void ipv6_masked(std::string& out, std::string_view name, uint128 v, uint128 m) {
    if (m == 0) return;
    put_key(out, name);
    append_ipv6(out, v);
    if (m != ~uint128{0}) {
        out += '/';
        if (const int n = prefix_length(m, 128); n >= 0)
            append_dec(out, static_cast<unsigned>(n));
        else
            append_ipv6(out, m);
    }
    out += ',';
}

inline void dec_exact(std::string& out, std::string_view name, uint128 v, uint128 m) {
    if (m == 0) return;
    put_key(out, name);
    append_dec(out, v);
    out += ',';
}

} // namespace detail

// Appends a match (and its priority, unless it is the default) as
// match_format prints it, without a trailing comma.
inline void append_match(std::string& out, const match& m, std::int32_t priority = default_priority) {
    using namespace detail;
    const std::size_t start = out.size();
    auto val = [&](field_id f) { return m.value_of(f); };
    auto msk = [&](field_id f) { return m.mask_of(f); };
    if (priority != default_priority) {
        out += "priority=";
        append_dec(out, static_cast<unsigned>(priority));
        out += ',';
    }
    const bool has_type = msk(field_id::eth_type) != 0;
    const auto type = static_cast<std::uint16_t>(has_type ? val(field_id::eth_type) : 0);
    const bool has_proto = msk(field_id::nw_proto) != 0;
    const auto nw_proto = static_cast<std::uint8_t>(val(field_id::nw_proto));
    bool skip_type = false, skip_proto = false;
    if (has_type) {
        skip_type = true;
        auto l4_name = [&](bool v6) -> const char* {
            switch (nw_proto) {
            case proto::ip_proto_tcp: return v6 ? "tcp6" : "tcp";
            case proto::ip_proto_udp: return v6 ? "udp6" : "udp";
            case proto::ip_proto_sctp: return v6 ? "sctp6" : "sctp";
            case proto::ip_proto_icmp: return v6 ? nullptr : "icmp";
            case proto::ip_proto_icmpv6: return v6 ? "icmp6" : nullptr;
            default: return nullptr;
            }
        };
        if (type == proto::eth_type_ipv4 || type == proto::eth_type_ipv6) {
            const bool v6 = type == proto::eth_type_ipv6;
            const char* n = has_proto ? l4_name(v6) : nullptr;
            if (n) {
                out += n;
                skip_proto = true;
            } else {
                out += v6 ? "ipv6" : "ip";
            }
            out += ',';
        } else if (type == proto::eth_type_arp) {
            out += "arp,";
        } else if (type == proto::eth_type_rarp) {
            out += "rarp,";
        } else {
            skip_type = false;
        }
    }
    static constexpr std::string_view regs[] = {"reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7"};
    for (int i = 0; i < 8; ++i) {
        const auto f = static_cast<field_id>(static_cast<int>(field_id::reg0) + i);
        hex_masked(out, regs[i], val(f), msk(f), 0xffffffffu);
    }
    hex_masked(out, "tun_id", val(field_id::tun_id), msk(field_id::tun_id), ~std::uint64_t{0});
    ip_masked(out, "tun_src", static_cast<std::uint32_t>(val(field_id::tun_src)),
              static_cast<std::uint32_t>(msk(field_id::tun_src)));
    ip_masked(out, "tun_dst", static_cast<std::uint32_t>(val(field_id::tun_dst)),
              static_cast<std::uint32_t>(msk(field_id::tun_dst)));
    hex_masked(out, "metadata", val(field_id::metadata), msk(field_id::metadata), ~std::uint64_t{0});
    if (msk(field_id::in_port)) {
        out += "in_port=";
        append_port(out, static_cast<std::uint32_t>(val(field_id::in_port)));
        out += ',';
    }
    if (const auto tm = static_cast<std::uint16_t>(msk(field_id::vlan_tci)); tm != 0) {
        const auto tv = static_cast<std::uint16_t>(val(field_id::vlan_tci));
        const unsigned vid_m = tm & proto::vlan_vid_mask, pcp_m = tm & proto::vlan_pcp_mask;
        if ((tm & proto::vlan_cfi) && (tv & proto::vlan_cfi) && (vid_m == 0 || vid_m == proto::vlan_vid_mask) &&
            (pcp_m == 0 || pcp_m == proto::vlan_pcp_mask) && (vid_m || pcp_m)) {
            if (vid_m) dec_exact(out, "dl_vlan", tv & proto::vlan_vid_mask, 1);
            if (pcp_m) dec_exact(out, "dl_vlan_pcp", tv >> proto::vlan_pcp_shift, 1);
        } else {
            out += "vlan_tci=";
            append_hex_padded(out, tv, 4);
            if (tm != 0xffff) {
                out += '/';
                append_hex_padded(out, tm, 4);
            }
            out += ',';
        }
    }
    eth_masked(out, "dl_src", static_cast<std::uint64_t>(val(field_id::eth_src)),
               static_cast<std::uint64_t>(msk(field_id::eth_src)));
    eth_masked(out, "dl_dst", static_cast<std::uint64_t>(val(field_id::eth_dst)),
               static_cast<std::uint64_t>(msk(field_id::eth_dst)));
    if (!skip_type && has_type) {
        out += "dl_type=";
        append_hex_padded(out, type, 4);
        out += ',';
    }
    // At most one of these three pairs is matched in a flow that meets its
    // prerequisites; all are printed so that no match is ever lost.
    ipv6_masked(out, "ipv6_src", val(field_id::ipv6_src), msk(field_id::ipv6_src));
    ipv6_masked(out, "ipv6_dst", val(field_id::ipv6_dst), msk(field_id::ipv6_dst));
    ip_masked(out, "arp_spa", static_cast<std::uint32_t>(val(field_id::arp_spa)),
              static_cast<std::uint32_t>(msk(field_id::arp_spa)));
    ip_masked(out, "arp_tpa", static_cast<std::uint32_t>(val(field_id::arp_tpa)),
              static_cast<std::uint32_t>(msk(field_id::arp_tpa)));
    ip_masked(out, "nw_src", static_cast<std::uint32_t>(val(field_id::nw_src)),
              static_cast<std::uint32_t>(msk(field_id::nw_src)));
    ip_masked(out, "nw_dst", static_cast<std::uint32_t>(val(field_id::nw_dst)),
              static_cast<std::uint32_t>(msk(field_id::nw_dst)));
    if (!skip_proto) dec_exact(out, "nw_proto", nw_proto, msk(field_id::nw_proto));
    dec_exact(out, "arp_op", val(field_id::arp_op), msk(field_id::arp_op));
    eth_masked(out, "arp_sha", static_cast<std::uint64_t>(val(field_id::arp_sha)),
               static_cast<std::uint64_t>(msk(field_id::arp_sha)));
    eth_masked(out, "arp_tha", static_cast<std::uint64_t>(val(field_id::arp_tha)),
               static_cast<std::uint64_t>(msk(field_id::arp_tha)));
    const auto tos = static_cast<unsigned>(val(field_id::nw_tos)), tos_m = static_cast<unsigned>(msk(field_id::nw_tos));
    if (tos_m & 0xfc) dec_exact(out, "nw_tos", tos & 0xfc, 1);
    if (tos_m & 0x03) dec_exact(out, "nw_ecn", tos & 0x03, 1);
    dec_exact(out, "nw_ttl", val(field_id::nw_ttl), msk(field_id::nw_ttl));
    be16_masked(out, "tp_src", val(field_id::tp_src), msk(field_id::tp_src), 0xffff);
    be16_masked(out, "tp_dst", val(field_id::tp_dst), msk(field_id::tp_dst), 0xffff);
    be16_masked(out, "icmp_type", val(field_id::icmp_type), msk(field_id::icmp_type), 0xff);
    be16_masked(out, "icmp_code", val(field_id::icmp_code), msk(field_id::icmp_code), 0xff);
    ipv6_masked(out, "nd_target", val(field_id::nd_target), msk(field_id::nd_target));
    if (out.size() > start && out.back() == ',') out.pop_back();
}

[[nodiscard]] inline std::string format_match(const match& m, std::int32_t priority = default_priority) {
    std::string s;
    append_match(s, m, priority);
    return s;
}

// ---- actions ------------------------------------------------------------------

namespace detail {

// A subfield as mf_format_subfield prints it: the NXM name (or OXM, or the
// ovs-ofctl name), then [], [n] or [a..b].
// The transport protocol of the flow being printed: Open vSwitch names
// tp_src/tp_dst NXM_OF_TCP_*, NXM_OF_UDP_* or OXM_OF_SCTP_* by it, and
// refuses a TCP name in a UDP flow.
inline thread_local std::uint8_t print_l4 = 0;

inline void append_subfield(std::string& out, bit_range r) {
    const field_info& fi = info(r.field);
    unsigned width = fi.width;
    if ((r.field == field_id::tp_src || r.field == field_id::tp_dst) && print_l4 != 0 && print_l4 != 6) {
        const bool src = r.field == field_id::tp_src;
        out += print_l4 == proto::ip_proto_udp ? (src ? "NXM_OF_UDP_SRC" : "NXM_OF_UDP_DST")
                                               : (src ? "OXM_OF_SCTP_SRC" : "OXM_OF_SCTP_DST");
    } else if ((r.field == field_id::icmp_type || r.field == field_id::icmp_code) &&
               print_l4 == proto::ip_proto_icmpv6) {
        out += r.field == field_id::icmp_type ? "NXM_NX_ICMPV6_TYPE" : "NXM_NX_ICMPV6_CODE";
    } else if (r.field == field_id::in_port && r.start + r.n_bits <= 16) {
        out += "NXM_OF_IN_PORT";
        width = 16;
    } else if (r.field == field_id::in_port) {
        out += "OXM_OF_IN_PORT";
    } else {
        out += !fi.nxm.empty() ? fi.nxm : !fi.oxm.empty() ? fi.oxm : fi.name;
    }
    if (r.start == 0 && r.n_bits == width) {
        out += "[]";
    } else if (r.n_bits == 1) {
        out += '[';
        append_dec(out, r.start);
        out += ']';
    } else {
        out += '[';
        append_dec(out, r.start);
        out += "..";
        append_dec(out, r.start + r.n_bits - 1u);
        out += ']';
    }
}

// A value of field `f` in its own format (for set_field).
inline void append_field_value(std::string& out, field_id f, uint128 v) {
    switch (info(f).format) {
    case field_format::mac: append_mac(out, static_cast<std::uint64_t>(v)); return;
    case field_format::ipv4: append_ipv4(out, static_cast<std::uint32_t>(v)); return;
    case field_format::ipv6: append_ipv6(out, v); return;
    case field_format::hex: append_hex(out, v); return;
    case field_format::decimal:
        if (f == field_id::in_port)
            append_port(out, static_cast<std::uint32_t>(v));
        else
            append_dec(out, v);
        return;
    }
}

inline void append_load(std::string& out, bit_range dst, uint128 value) {
    const field_info& fi = info(dst.field);
    if (fi.nxm.empty() && fi.oxm.empty() && dst == bit_range::whole(dst.field)) {
        out += "set_field:";
        append_field_value(out, dst.field, value);
        out += "->";
        out += fi.name;
        return;
    }
    out += "load:";
    append_hex(out, value);
    out += "->";
    append_subfield(out, dst);
}

inline void append_output(std::string& out, std::uint32_t port) {
    if (port == ports::controller) {
        out += "CONTROLLER:65535";
    } else if (port == ports::in_port) {
        out += "IN_PORT";
    } else if (port >= 0xfffffff8u) {
        append_port(out, port);
    } else {
        out += "output:";
        append_dec(out, port);
    }
}

// The name learn_format gives a match constant on all of field `f`
// (mf_field's own name), where the learned match so far has nw_proto `l4`:
// Open vSwitch's per-protocol fields (tcp_dst, udp_dst, sctp_dst;
// icmp_type, icmpv6_type) are flowpipe's one tp_dst and icmp_type.
[[nodiscard]] inline std::string_view learned_field_name(field_id f, std::uint8_t l4) noexcept {
    const bool icmp6 = l4 == proto::ip_proto_icmpv6;
    switch (f) {
    case field_id::eth_src: return "eth_src";
    case field_id::eth_dst: return "eth_dst";
    case field_id::eth_type: return "eth_type";
    case field_id::nw_src: return "ip_src";
    case field_id::nw_dst: return "ip_dst";
    case field_id::vlan_pcp: return "vlan_pcp"; // dl_vlan_pcp has no NXM or OXM header: not in a learn
    case field_id::tp_src:
        return l4 == proto::ip_proto_udp ? "udp_src" : l4 == proto::ip_proto_sctp ? "sctp_src" : "tcp_src";
    case field_id::tp_dst:
        return l4 == proto::ip_proto_udp ? "udp_dst" : l4 == proto::ip_proto_sctp ? "sctp_dst" : "tcp_dst";
    case field_id::icmp_type: return icmp6 ? "icmpv6_type" : "icmp_type";
    case field_id::icmp_code: return icmp6 ? "icmpv6_code" : "icmp_code";
    default: return info(f).name;
    }
}

// learn(...) as learn_format prints it. Written against the shape of
// action/learn.hpp's learn_description (table, timeouts, priority, cookie,
// limit, result_dst, specs), so this header does not depend on it.
//
// Fields are named as Open vSwitch names the field it checks them as (see
// parse.hpp, ovs_prereq): a learned match field or load destination by the
// learned match's nw_proto so far (`eth_type=0x800,nw_proto=17,udp_dst=53`,
// NXM_OF_UDP_DST[]), a source by the flow holding the learn (print_l4). An
// in_port constant is Open vSwitch's 16-bit in_port (NXM_OF_IN_PORT[]) as
// `in_port=` a port in decimal or its reserved name (`in_port=LOCAL`), or
// its 32-bit in_port_oxm (OXM_OF_IN_PORT[]) as `in_port_oxm=`; a constant on
// bits of a field is `FIELD[a..b]=0x..`.
template <class Desc>
void append_learn(std::string& out, const Desc& d) {
    out += "learn(table=";
    append_dec(out, d.table);
    if (d.idle_timeout) {
        out += ",idle_timeout=";
        append_dec(out, d.idle_timeout);
    }
    if (d.hard_timeout) {
        out += ",hard_timeout=";
        append_dec(out, d.hard_timeout);
    }
    if (d.fin_idle_timeout) {
        out += ",fin_idle_timeout=";
        append_dec(out, d.fin_idle_timeout);
    }
    if (d.fin_hard_timeout) {
        out += ",fin_hard_timeout=";
        append_dec(out, d.fin_hard_timeout);
    }
    if (d.priority != default_priority) {
        out += ",priority=";
        append_dec(out, d.priority);
    }
    if (d.delete_learned) out += ",delete_learned";
    if (d.cookie) {
        out += ",cookie=";
        append_hex(out, d.cookie);
    }
    if (d.limit) {
        out += ",limit=";
        append_dec(out, d.limit);
    }
    if (d.result_dst) {
        out += ",result_dst=";
        append_subfield(out, *d.result_dst);
    }
    using kind = typename std::remove_cvref_t<decltype(d.specs[0])>::kind;
    const std::uint8_t holder_l4 = print_l4;
    match learned; // the learned match's constants so far, as learn_check builds it
    auto learned_l4 = [&] { return static_cast<std::uint8_t>(learned.value_of(field_id::nw_proto)); };
    auto dst_subfield = [&](std::string& o, bit_range r) {
        print_l4 = learned_l4();
        append_subfield(o, r);
        print_l4 = holder_l4;
    };
    for (const auto& s : d.specs) {
        out += ',';
        switch (s.what) {
        case kind::match_const:
            if (s.oxm_in_port_bits) {
                out += "OXM_OF_IN_PORT[0..15]=";
                append_hex(out, s.value);
            } else if (s.dst.field == field_id::in_port && s.dst.start == 0 && s.dst.n_bits == 16) {
                out += "in_port=";
                append_ofp10_port(out, static_cast<std::uint16_t>(s.value));
            } else if (s.dst == bit_range::whole(field_id::in_port)) {
                out += "in_port_oxm=";
                append_ofp10_port(out, ports::to_ofp10(static_cast<std::uint32_t>(s.value)));
            } else if (s.dst == bit_range::whole(s.dst.field)) {
                out += learned_field_name(s.dst.field, learned_l4());
                out += '=';
                append_field_value(out, s.dst.field, s.value);
            } else {
                dst_subfield(out, s.dst);
                out += '=';
                append_hex(out, s.value);
            }
            learn_write_constant(learned, s.dst, s.value, s.oxm_in_port_bits);
            break;
        case kind::match_field: {
            // `DST[]` alone when the source is the same field at the same
            // bits, by Open vSwitch's name of each (mf_field pointers).
            // (Bits 0..15 of OXM_OF_IN_PORT read what NXM_OF_IN_PORT[] reads.)
            std::string dst, src;
            if (s.oxm_in_port_bits)
                dst = "OXM_OF_IN_PORT[0..15]";
            else
                dst_subfield(dst, s.dst);
            append_subfield(src, s.src);
            out += dst;
            if (src != dst && !(s.oxm_in_port_bits && s.src == s.dst)) {
                out += '=';
                out += src;
            }
            break;
        }
        case kind::load_const:
            out += "load:";
            append_hex(out, s.value);
            out += "->";
            dst_subfield(out, s.dst);
            break;
        case kind::load_field:
            out += "load:";
            append_subfield(out, s.src);
            out += "->";
            dst_subfield(out, s.dst);
            break;
        case kind::output:
            out += "output:";
            append_subfield(out, s.src);
            break;
        }
    }
    out += ')';
}

// Sets print_l4 from a flow's match for the printing of its actions.
struct l4_scope {
    std::uint8_t saved;
    explicit l4_scope(const match& m) : saved(print_l4) {
        print_l4 = m.mask_of(field_id::nw_proto) ? static_cast<std::uint8_t>(m.value_of(field_id::nw_proto)) : 0;
    }
    ~l4_scope() { print_l4 = saved; }
    l4_scope(const l4_scope&) = delete;
    l4_scope& operator=(const l4_scope&) = delete;
};

using flowpipe::detail::is_goto_to;
using flowpipe::detail::is_load_to;
using flowpipe::detail::is_move_bits;
using flowpipe::detail::is_output_ports;
using flowpipe::detail::is_resubmit_to;

template <class A>
inline constexpr bool always_false = false;

} // namespace detail

// Appends one action as Open vSwitch prints it. `drop` prints nothing: an
// empty list prints as "drop" (see append_actions). Action types of other
// headers print through a member `void ofctl_format(std::string&) const`.
template <class A>
void append_action(std::string& out, const A& a) {
    using namespace detail;
    if constexpr (std::is_same_v<A, actions::output>) {
        append_output(out, a.port);
    } else if constexpr (is_output_ports<A>) {
        for (std::uint32_t i = 0; i < a.count; ++i) {
            if (i) out += ',';
            append_output(out, a.ports[i]);
        }
    } else if constexpr (std::is_same_v<A, actions::in_port>) {
        out += "IN_PORT";
    } else if constexpr (std::is_same_v<A, actions::drop>) {
    } else if constexpr (std::is_same_v<A, actions::resubmit>) {
        if (a.port != ports::in_port && a.table == current_table) {
            out += "resubmit:";
            append_port(out, a.port);
        } else {
            out += "resubmit(";
            if (a.port != ports::in_port) append_port(out, a.port);
            out += ',';
            if (a.table != current_table) append_dec(out, a.table);
            out += ')';
        }
    } else if constexpr (is_resubmit_to<A>) {
        append_action(out, actions::resubmit{ports::in_port, A::table});
    } else if constexpr (std::is_same_v<A, actions::goto_table> || is_goto_to<A>) {
        out += "goto_table:";
        append_dec(out, a.table);
    } else if constexpr (std::is_same_v<A, actions::load>) {
        append_load(out, a.dst, a.value);
    } else if constexpr (is_load_to<A>) {
        append_load(out, A::dst, a.value);
    } else if constexpr (std::is_same_v<A, actions::move> || is_move_bits<A>) {
        out += "move:";
        append_subfield(out, a.src);
        out += "->";
        append_subfield(out, a.dst);
    } else if constexpr (std::is_same_v<A, actions::mod_dl_src>) {
        out += "mod_dl_src:";
        append_mac(out, a.mac);
    } else if constexpr (std::is_same_v<A, actions::mod_dl_dst>) {
        out += "mod_dl_dst:";
        append_mac(out, a.mac);
    } else if constexpr (std::is_same_v<A, actions::mod_vlan_vid>) {
        out += "mod_vlan_vid:";
        append_dec(out, a.vid);
    } else if constexpr (std::is_same_v<A, actions::mod_vlan_pcp>) {
        out += "mod_vlan_pcp:";
        append_dec(out, a.pcp);
    } else if constexpr (std::is_same_v<A, actions::push_vlan>) {
        out += "push_vlan:";
        append_hex(out, a.tpid);
    } else if constexpr (std::is_same_v<A, actions::strip_vlan>) {
        out += "strip_vlan";
    } else if constexpr (std::is_same_v<A, actions::set_tunnel>) {
        out += a.id > 0xffffffffu ? "set_tunnel64:" : "set_tunnel:";
        append_hex(out, a.id);
    } else if constexpr (std::is_same_v<A, actions::dec_ttl>) {
        out += "dec_ttl";
    } else if constexpr (std::is_same_v<A, actions::controller>) {
        out += "CONTROLLER:";
        append_dec(out, a.max_len);
    } else if constexpr (requires {
                             a.d->specs;
                             a.d->table;
                             a.d->result_dst;
                         }) {
        append_learn(out, *a.d);
    } else if constexpr (requires { describe(a); }) { // a typed learn<...>
        append_learn(out, describe(a));
    } else if constexpr (std::is_same_v<A, actions::fin_timeout>) {
        out += "fin_timeout(";
        if (a.fin_idle_timeout) {
            out += "idle_timeout=";
            append_dec(out, a.fin_idle_timeout);
        }
        if (a.fin_hard_timeout) {
            if (a.fin_idle_timeout) out += ',';
            out += "hard_timeout=";
            append_dec(out, a.fin_hard_timeout);
        }
        out += ')';
    } else if constexpr (requires {
                             a.mac;
                             a.ip;
                         }) {
        // The ARP responder: the eight actions Neutron writes for it.
        out += "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],mod_dl_src:";
        append_mac(out, a.mac & 0xffffffffffffULL);
        out += ",load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
               "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:";
        append_hex(out, a.mac & 0xffffffffffffULL);
        out += "->NXM_NX_ARP_SHA[],load:";
        append_hex(out, a.ip);
        out += "->NXM_OF_ARP_SPA[],IN_PORT";
    } else if constexpr (std::is_same_v<A, actions::normal>) {
        out += "NORMAL";
    } else if constexpr (requires(std::string & s) { a.ofctl_format(s); }) {
        a.ofctl_format(out);
    } else {
        // An action this printer does not know yet (added to any_action
        // since): say so in the output rather than break every build.
        out += "unknown_action";
    }
}

inline void append_action(std::string& out, const any_action& a) {
    std::visit([&](const auto& x) { append_action(out, x); }, a);
}

// An action list, comma-separated; "drop" when it does nothing.
template <class List>
void append_actions(std::string& out, const List& list) {
    const std::size_t start = out.size();
    auto one = [&](const auto& a) {
        using A = std::remove_cvref_t<decltype(a)>;
        if constexpr (std::is_same_v<A, actions::drop>) {
            return;
        } else {
            if (out.size() > start) out += ',';
            const std::size_t before = out.size();
            append_action(out, a);
            if (out.size() == before && before > start) out.pop_back(); // printed nothing
        }
    };
    if constexpr (std::is_same_v<List, generic_actions>) {
        for (const any_action& a : list.list) std::visit(one, a);
    } else if constexpr (requires { list.for_each(one); }) {
        list.for_each(one);
    } else {
        // a variant of action lists (a flow's storage)
        std::visit([&](const auto& l) { append_actions(out, l); }, list);
        return;
    }
    if (out.size() == start) out += "drop";
}

template <class List>
[[nodiscard]] std::string format_actions(const List& list) {
    std::string s;
    append_actions(s, list);
    return s;
}

// ---- flows --------------------------------------------------------------------

// A flow mod in the syntax add-flow takes and `dump-flows --no-stats`
// prints: "cookie=0x5, table=2, hard_timeout=300, priority=1,arp actions=drop".
inline void append_flow(std::string& out, const flow_mod& fm) {
    using detail::append_hex0x;
    if (fm.cookie || fm.cookie_mask) {
        out += "cookie=";
        append_hex0x(out, fm.cookie);
        if (fm.cookie_mask) {
            out += '/';
            append_hex(out, fm.cookie_mask);
        }
        out += ", ";
    }
    if (fm.table != 0 && fm.table != all_tables) {
        out += "table=";
        append_dec(out, fm.table);
        out += ", ";
    }
    if (fm.idle_timeout) {
        out += "idle_timeout=";
        append_dec(out, fm.idle_timeout);
        out += ", ";
    }
    if (fm.hard_timeout) {
        out += "hard_timeout=";
        append_dec(out, fm.hard_timeout);
        out += ", ";
    }
    const std::size_t before = out.size();
    append_match(out, fm.m, fm.priority);
    if (out.size() != before) out += ' ';
    if (fm.command != flow_command::remove && fm.command != flow_command::remove_strict) {
        out += "actions=";
        const detail::l4_scope l4(fm.m);
        append_actions(out, fm.actions);
    } else if (out.size() >= 2 && out.back() == ' ') {
        out.pop_back();
        if (out.back() == ',') out.pop_back();
    }
}

[[nodiscard]] inline std::string format_flow(const flow_mod& fm) {
    std::string s;
    append_flow(s, fm);
    return s;
}

// "1.234s" (ofp_print_duration, from milliseconds).
inline void append_duration(std::string& out, std::int64_t ms) {
    if (ms < 0) ms = 0;
    append_dec(out, static_cast<std::uint64_t>(ms / 1000));
    if (ms % 1000) {
        const auto frac = static_cast<unsigned>(ms % 1000);
        out += '.';
        out += static_cast<char>('0' + frac / 100);
        out += static_cast<char>('0' + frac / 10 % 10);
        out += static_cast<char>('0' + frac % 10);
    }
    out += 's';
}

// One flow of a table as `ovs-ofctl dump-flows` prints it (without the
// leading space): cookie, duration, table, counters, timeouts, ages (seconds
// before `now_ms`), match, actions.
template <class Flow>
void append_flow_stats(std::string& out, const Flow& f, std::uint8_t table, std::int64_t now_ms) {
    out += "cookie=";
    detail::append_hex0x(out, f.cookie);
    out += ", duration=";
    append_duration(out, now_ms - f.created_ms);
    out += ", table=";
    append_dec(out, table);
    out += ", n_packets=";
    append_dec(out, f.n_packets);
    out += ", n_bytes=";
    append_dec(out, f.n_bytes);
    out += ", ";
    if (f.idle_timeout) {
        out += "idle_timeout=";
        append_dec(out, f.idle_timeout);
        out += ", ";
    }
    if (f.hard_timeout) {
        out += "hard_timeout=";
        append_dec(out, f.hard_timeout);
        out += ", ";
    }
    auto secs = [](std::int64_t ms) { return ms < 0 ? std::int64_t{0} : ms / 1000; };
    out += "idle_age=";
    append_dec(out, static_cast<std::uint64_t>(secs(now_ms - f.used_ms)));
    out += ", ";
    if (secs(now_ms - f.modified_ms) != secs(now_ms - f.created_ms)) {
        out += "hard_age=";
        append_dec(out, static_cast<std::uint64_t>(secs(now_ms - f.modified_ms)));
        out += ", ";
    }
    const std::size_t before = out.size();
    const match m = f.get_match();
    append_match(out, m, f.priority);
    if (out.size() != before) out += ' ';
    out += "actions=";
    const detail::l4_scope l4(m);
    append_actions(out, f.actions);
}

// Every flow of one table, one per line with a leading space, highest
// priority first (ties in printed order, so the output is deterministic).
template <class Table>
void append_table_flows(std::string& out, const Table& t, std::int64_t now_ms) {
    std::vector<std::pair<std::int32_t, std::string>> lines;
    t.for_each([&](const auto& f) {
        std::string s;
        append_flow_stats(s, f, t.id(), now_ms);
        lines.emplace_back(f.priority, std::move(s));
    });
    std::sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (const auto& l : lines) {
        out += ' ';
        out += l.second;
        out += '\n';
    }
}

// dump-flows of a whole pipeline (generic or typed), table by table.
template <class Pipeline>
[[nodiscard]] std::string dump_flows(Pipeline& p, std::int64_t now_ms) {
    std::vector<std::pair<unsigned, std::string>> tables;
    p.for_each_table([&](const auto& t) {
        std::string s;
        append_table_flows(s, t, now_ms);
        tables.emplace_back(t.id(), std::move(s));
    });
    std::stable_sort(tables.begin(), tables.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& t : tables) out += t.second;
    return out;
}

// ---- packets ------------------------------------------------------------------

// A flow key as ofproto/trace prints a packet (flow_format): the header
// fields its Ethernet type has, metadata only when nonzero. parse_packet
// reads it back to the same key.
inline void append_packet(std::string& out, const flow_key& k) {
    match m;
    auto exact = [&](field_id f) { m.set(f, get(k, f)); };
    auto if_set = [&](field_id f) {
        if (get(k, f) != 0) exact(f);
    };
    for (int i = 0; i < 8; ++i) if_set(static_cast<field_id>(static_cast<int>(field_id::reg0) + i));
    if_set(field_id::tun_id);
    if_set(field_id::tun_src);
    if_set(field_id::tun_dst);
    if_set(field_id::metadata);
    if (k.in_port != 0 && k.in_port != ports::none) exact(field_id::in_port);
    m.set(field_id::vlan_tci, k.vlan_tci, 0xffff);
    exact(field_id::eth_src);
    exact(field_id::eth_dst);
    exact(field_id::eth_type);
    switch (k.eth_type) {
    case proto::eth_type_arp:
    case proto::eth_type_rarp:
        for (field_id f :
             {field_id::arp_spa, field_id::arp_tpa, field_id::arp_op, field_id::arp_sha, field_id::arp_tha})
            exact(f);
        break;
    case proto::eth_type_ipv4:
    case proto::eth_type_ipv6: {
        const bool v6 = k.eth_type == proto::eth_type_ipv6;
        if (v6) {
            exact(field_id::ipv6_src);
            exact(field_id::ipv6_dst);
        } else {
            exact(field_id::nw_src);
            exact(field_id::nw_dst);
        }
        for (field_id f : {field_id::nw_proto, field_id::nw_tos, field_id::nw_ttl}) exact(f);
        switch (k.nw_proto) {
        case proto::ip_proto_tcp:
        case proto::ip_proto_udp:
        case proto::ip_proto_sctp:
            exact(field_id::tp_src);
            exact(field_id::tp_dst);
            break;
        case proto::ip_proto_icmp:
        case proto::ip_proto_icmpv6:
            if ((k.nw_proto == proto::ip_proto_icmp) == !v6) {
                exact(field_id::icmp_type);
                exact(field_id::icmp_code);
                if (v6 &&
                    (k.icmp_type == proto::icmpv6_neighbor_solicit || k.icmp_type == proto::icmpv6_neighbor_advert))
                    exact(field_id::nd_target);
            }
            break;
        default: break;
        }
        break;
    }
    default: break;
    }
    append_match(out, m);
}

[[nodiscard]] inline std::string format_packet(const flow_key& k) {
    std::string s;
    append_packet(s, k);
    return s;
}

} // namespace flowpipe::ofctl
