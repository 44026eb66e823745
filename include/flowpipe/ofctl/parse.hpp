// Open vSwitch's text syntax in: flows and flow mods as `ovs-ofctl add-flow`,
// `mod-flows` and `del-flows [--strict]` take them, and packets as
// `ovs-appctl ofproto/trace` takes them.
//
// The one idea: a flow string is a list of `key=value` tokens (ovs-ofctl's
// ofputil_parse_key_value: `key`, `key=value`, `key:value` or `key(value)`,
// separated by commas or blanks) up to `actions=`, and everything after it
// is the action list in the same token syntax. Every token is looked up in
// one table (flow options, protocol shorthands, the field table of
// core/field.hpp, the action parsers below) and parsed on its own, so an
// error names its token and its 1-based column, and nothing is built until
// the whole string has parsed: no half-built flow, no exception.
//
// Checks made here, as Open vSwitch makes them when a flow is installed: a
// mask on a field that cannot be masked, values too wide for their field,
// match prerequisites (`arp_tpa` needs `arp`), action prerequisites (a load
// into `NXM_OF_ARP_SPA[]` needs `arp` in the match), read-only destinations
// (`eth_type`, `nw_proto`), subfield ranges inside their field, `goto_table`
// forward and last.
//
// Extending: each action is one row of `action_syntaxes` (a name and a
// function that parses its argument); the printer has the matching row in
// print.hpp. Actions added to `any_action` get a row here and there.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <flowpipe/action/generic.hpp>
#include <flowpipe/core/compose.hpp>
#include <flowpipe/core/field.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/match/match.hpp>
#include <flowpipe/ofctl/value.hpp>
#include <flowpipe/proto/ethernet.hpp>
#include <flowpipe/proto/ip.hpp>
#include <flowpipe/table/flow_mod.hpp>

namespace flowpipe::ofctl {

// ---- results ------------------------------------------------------------------

// What went wrong and where: `column` is 1-based in the parsed string (0 when
// it concerns the whole string), `line` 1-based in a file (0 for a string).
struct parse_error {
    std::string message;
    std::size_t column = 0;
    std::size_t line = 0;
};

// "line 3, column 12: unknown field foo"
[[nodiscard]] inline std::string to_string(const parse_error& e) {
    std::string s;
    if (e.line) s += "line " + std::to_string(e.line) + ", ";
    if (e.column) s += "column " + std::to_string(e.column) + ": ";
    return s + e.message;
}

// A value or the error that prevented it.
template <class T>
class parse_result {
  public:
    parse_result(T v) : v_(std::move(v)) {}
    parse_result(parse_error e) : v_(std::move(e)) {}

    [[nodiscard]] explicit operator bool() const noexcept { return v_.index() == 0; }
    [[nodiscard]] T& value() { return std::get<0>(v_); }
    [[nodiscard]] const T& value() const { return std::get<0>(v_); }
    [[nodiscard]] T& operator*() { return value(); }
    [[nodiscard]] const T& operator*() const { return value(); }
    [[nodiscard]] T* operator->() { return &value(); }
    [[nodiscard]] const T* operator->() const { return &value(); }
    [[nodiscard]] const parse_error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, parse_error> v_;
};

// ---- flows and flow mods ----------------------------------------------------------

inline constexpr std::int32_t default_priority = 32768; // OFP_DEFAULT_PRIORITY
inline constexpr std::uint8_t all_tables = 255;         // OFPTT_ALL

enum class flow_command : std::uint8_t { add, modify, modify_strict, remove, remove_strict };

// One flow or flow mod, as parsed. `table` is all_tables for a modify or
// delete that names none; `cookie_mask` is nonzero only for modify/delete.
struct flow_mod {
    flow_command command = flow_command::add;
    std::uint8_t table = 0;
    std::int32_t priority = default_priority;
    std::uint64_t cookie = 0;
    std::uint64_t cookie_mask = 0;
    std::uint16_t idle_timeout = 0;
    std::uint16_t hard_timeout = 0;
    match m;
    generic_actions actions;

    [[nodiscard]] bool strict() const noexcept {
        return command == flow_command::modify_strict || command == flow_command::remove_strict;
    }
    [[nodiscard]] flow_options options() const noexcept { return {cookie, idle_timeout, hard_timeout}; }
    [[nodiscard]] cookie_filter cookies() const noexcept { return {cookie, cookie_mask}; }
    friend bool operator==(const flow_mod&, const flow_mod&) = default;
};

namespace detail {

struct token {
    std::string_view key;
    std::string_view value;
    std::size_t key_col = 0;   // 1-based
    std::size_t value_col = 0; // 1-based, 0 when there is no value
    bool has_value = false;
};

[[nodiscard]] constexpr bool is_sep(char c) noexcept {
    return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Splits `s` (which starts at column `base`) into tokens the way
// ofputil_parse_key_value does. Returns an error for unbalanced parentheses.
[[nodiscard]] inline std::optional<parse_error> tokenize(std::string_view s, std::size_t base,
                                                         std::vector<token>& out) {
    std::size_t i = 0;
    while (true) {
        while (i < s.size() && is_sep(s[i])) ++i;
        if (i == s.size()) return std::nullopt;
        token t;
        t.key_col = base + i;
        const std::size_t k0 = i;
        while (i < s.size() && !is_sep(s[i]) && s[i] != '=' && s[i] != ':' && s[i] != '(') {
            if (s[i] == ')') return parse_error{"unbalanced parentheses", base + i};
            ++i;
        }
        t.key = s.substr(k0, i - k0);
        if (t.key.empty()) return parse_error{"missing key before '" + std::string(1, s[i]) + "'", base + i};
        if (i < s.size() && s[i] == '(') {
            const std::size_t v0 = ++i;
            int depth = 1;
            while (i < s.size() && depth > 0) {
                if (s[i] == '(') ++depth;
                if (s[i] == ')') --depth;
                ++i;
            }
            if (depth != 0) return parse_error{"unbalanced parentheses", base + v0 - 1};
            t.value = s.substr(v0, i - 1 - v0);
            t.value_col = base + v0;
            t.has_value = true;
        } else if (i < s.size() && (s[i] == '=' || s[i] == ':')) {
            const std::size_t v0 = ++i;
            int depth = 0;
            while (i < s.size() && (depth > 0 || !is_sep(s[i]))) {
                if (s[i] == '(') ++depth;
                if (s[i] == ')') {
                    if (depth == 0) return parse_error{"unbalanced parentheses", base + i};
                    --depth;
                }
                ++i;
            }
            if (depth != 0) return parse_error{"unbalanced parentheses", base + v0};
            t.value = s.substr(v0, i - v0);
            t.value_col = base + v0;
            t.has_value = true;
        }
        out.push_back(t);
    }
}

// (Appended, not `"\"" + std::string(s)`: GCC 12 warns falsely about that
// insert at -O3, -Wrestrict.)
[[nodiscard]] inline std::string quoted(std::string_view s) {
    std::string q;
    q.reserve(s.size() + 2);
    q += '"';
    q += s;
    q += '"';
    return q;
}

// ovs-ofctl spellings that are not in the field table.
[[nodiscard]] inline std::optional<field_id> find_field_any(std::string_view name) noexcept {
    if (auto f = find_field(name)) return f;
    struct alias {
        std::string_view name;
        field_id id;
    };
    static constexpr std::array<alias, 23> extra{{{"tcp_src", field_id::tp_src},
                                                  {"tcp_dst", field_id::tp_dst},
                                                  {"udp_src", field_id::tp_src},
                                                  {"udp_dst", field_id::tp_dst},
                                                  {"sctp_src", field_id::tp_src},
                                                  {"sctp_dst", field_id::tp_dst},
                                                  {"NXM_OF_UDP_SRC", field_id::tp_src},
                                                  {"NXM_OF_UDP_DST", field_id::tp_dst},
                                                  {"OXM_OF_SCTP_SRC", field_id::tp_src},
                                                  {"OXM_OF_SCTP_DST", field_id::tp_dst},
                                                  {"OXM_OF_TCP_SRC", field_id::tp_src},
                                                  {"OXM_OF_TCP_DST", field_id::tp_dst},
                                                  {"OXM_OF_UDP_SRC", field_id::tp_src},
                                                  {"OXM_OF_UDP_DST", field_id::tp_dst},
                                                  {"OXM_OF_ICMPV6_TYPE", field_id::icmp_type},
                                                  {"OXM_OF_ICMPV6_CODE", field_id::icmp_code},
                                                  {"in_port_oxm", field_id::in_port},
                                                  {"icmpv6_type", field_id::icmp_type},
                                                  {"icmpv6_code", field_id::icmp_code},
                                                  {"NXM_NX_ICMPV6_TYPE", field_id::icmp_type},
                                                  {"NXM_NX_ICMPV6_CODE", field_id::icmp_code},
                                                  {"ip_ttl", field_id::nw_ttl},
                                                  {"OXM_OF_VLAN_PCP", field_id::vlan_pcp}}};
    for (const alias& a : extra)
        if (a.name == name) return a.id;
    return std::nullopt;
}

struct protocol {
    std::string_view name;
    std::uint16_t eth_type;
    std::uint8_t nw_proto; // 0: none
};
inline constexpr std::array<protocol, 12> protocols{{{"ip", proto::eth_type_ipv4, 0},
                                                     {"ipv6", proto::eth_type_ipv6, 0},
                                                     {"icmp", proto::eth_type_ipv4, proto::ip_proto_icmp},
                                                     {"icmp6", proto::eth_type_ipv6, proto::ip_proto_icmpv6},
                                                     {"tcp", proto::eth_type_ipv4, proto::ip_proto_tcp},
                                                     {"tcp6", proto::eth_type_ipv6, proto::ip_proto_tcp},
                                                     {"udp", proto::eth_type_ipv4, proto::ip_proto_udp},
                                                     {"udp6", proto::eth_type_ipv6, proto::ip_proto_udp},
                                                     {"sctp", proto::eth_type_ipv4, proto::ip_proto_sctp},
                                                     {"sctp6", proto::eth_type_ipv6, proto::ip_proto_sctp},
                                                     {"arp", proto::eth_type_arp, 0},
                                                     {"rarp", proto::eth_type_rarp, 0}}};

[[nodiscard]] inline const protocol* find_protocol(std::string_view name) noexcept {
    for (const protocol& p : protocols)
        if (p.name == name) return &p;
    return nullptr;
}

[[nodiscard]] inline const char* prerequisite_text(prerequisite p) noexcept {
    switch (p) {
    case prerequisite::none: return "nothing";
    case prerequisite::arp: return "arp or rarp";
    case prerequisite::ip: return "ip or ipv6";
    case prerequisite::ipv4: return "ip";
    case prerequisite::ipv6: return "ipv6";
    case prerequisite::transport: return "tcp, udp or sctp";
    case prerequisite::icmp: return "icmp or icmp6";
    case prerequisite::nd: return "icmp6 with icmp_type=135 or 136";
    }
    return "?";
}

// The value (and, with `allow_mask`, the mask after '/') of field `f` in its
// ovs-ofctl format. `col` is the value's column.
[[nodiscard]] inline std::optional<parse_error> parse_field_value(field_id f, std::string_view text, std::size_t col,
                                                                  bool allow_mask, uint128& value, uint128& mask) {
    const field_info& fi = info(f);
    const uint128 all = fi.all_ones();
    std::string_view v = text, m;
    bool has_mask = false;
    if (const std::size_t slash = text.find('/'); slash != std::string_view::npos) {
        v = text.substr(0, slash);
        m = text.substr(slash + 1);
        has_mask = true;
    }
    auto bad = [&](std::string_view what, std::size_t at) {
        return parse_error{std::string(fi.name) + ": bad value " + quoted(what) + " (" +
                               (fi.format == field_format::mac    ? "expected a MAC address"
                                : fi.format == field_format::ipv4 ? "expected an IPv4 address"
                                : fi.format == field_format::ipv6 ? "expected an IPv6 address"
                                                                  : "expected a number") +
                               ")",
                           at};
    };
    auto one = [&](std::string_view s, std::size_t at, bool is_mask, uint128& out) -> std::optional<parse_error> {
        switch (fi.format) {
        case field_format::mac:
            if (auto x = parse_mac(s)) {
                out = *x;
                return std::nullopt;
            }
            break;
        case field_format::ipv4:
            if (auto x = parse_ipv4(s)) {
                out = *x;
                return std::nullopt;
            }
            if (is_mask) {
                if (auto n = parse_uint(s); n && *n <= 32 && s.find('x') == std::string_view::npos) {
                    out = prefix_mask(static_cast<int>(*n), 32);
                    return std::nullopt;
                }
            }
            break;
        case field_format::ipv6:
            if (auto x = parse_ipv6(s)) {
                out = *x;
                return std::nullopt;
            }
            if (is_mask) {
                if (auto n = parse_uint(s); n && *n <= 128 && s.find('x') == std::string_view::npos) {
                    out = prefix_mask(static_cast<int>(*n), 128);
                    return std::nullopt;
                }
            }
            break;
        case field_format::decimal:
        case field_format::hex:
            if (f == field_id::in_port && !is_mask) {
                if (auto p = parse_port(s)) {
                    out = *p;
                    return std::nullopt;
                }
                break;
            }
            if (auto x = parse_uint(s)) {
                if ((*x & ~all) != 0)
                    return parse_error{std::string(fi.name) + ": value " + quoted(s) + " does not fit in " +
                                           std::to_string(fi.width) + " bits",
                                       at};
                out = *x;
                return std::nullopt;
            }
            break;
        }
        return bad(s, at);
    };
    if (auto e = one(v, col, false, value)) return e;
    mask = all;
    if (has_mask) {
        if (!allow_mask) return parse_error{std::string(fi.name) + ": a packet field takes no mask", col + v.size()};
        if (auto e = one(m, col + v.size() + 1, true, mask)) return e;
        if (!fi.maskable && mask != all)
            return parse_error{std::string(fi.name) + ": this field cannot be masked", col + v.size()};
    }
    return std::nullopt;
}

[[nodiscard]] inline std::optional<parse_error> parse_small(const token& t, std::uint64_t max, std::uint64_t& out) {
    if (!t.has_value) return parse_error{std::string(t.key) + ": missing value", t.key_col};
    const auto v = parse_uint(t.value);
    if (!v || *v > max)
        return parse_error{std::string(t.key) + ": bad value " + quoted(t.value) + " (expected 0.." +
                               std::to_string(max) + ")",
                           t.value_col};
    out = static_cast<std::uint64_t>(*v);
    return std::nullopt;
}

// ---- subfields ----------------------------------------------------------------

// field, field[], field[n], field[a..b]. NXM_OF_IN_PORT and in_port are 16
// bits wide (Open vSwitch's in_port is an OpenFlow 1.0 port); OXM_OF_IN_PORT
// and in_port_oxm are flowpipe's 32-bit in_port.
[[nodiscard]] inline parse_result<bit_range> parse_subfield(std::string_view s, std::size_t col) {
    const std::size_t bracket = s.find('[');
    const std::string_view name = s.substr(0, bracket);
    const auto f = find_field_any(name);
    if (!f) return parse_error{"unknown field " + quoted(name), col};
    const unsigned width = name == "NXM_OF_IN_PORT" || name == "in_port" ? 16u : info(*f).width;
    if (bracket == std::string_view::npos) return bit_range{*f, 0, static_cast<std::uint8_t>(width)};
    if (s.back() != ']') return parse_error{"subfield " + quoted(s) + " lacks its closing ']'", col + s.size() - 1};
    const std::string_view inner = s.substr(bracket + 1, s.size() - bracket - 2);
    const std::size_t icol = col + bracket + 1;
    if (inner.empty()) return bit_range{*f, 0, static_cast<std::uint8_t>(width)};
    std::string_view a = inner, b = inner;
    if (const std::size_t dots = inner.find(".."); dots != std::string_view::npos) {
        a = inner.substr(0, dots);
        b = inner.substr(dots + 2);
    }
    const auto start = parse_uint(a), end = parse_uint(b);
    if (!start || !end) return parse_error{"bad subfield range " + quoted(inner), icol};
    if (*start > *end || *end >= width)
        return parse_error{"bad subfield range " + quoted(inner) + ": " + std::string(name) + " has bits 0.." +
                               std::to_string(width - 1),
                           icol};
    return bit_range{*f, static_cast<std::uint8_t>(*start), static_cast<std::uint8_t>(*end - *start + 1)};
}

[[nodiscard]] inline bool writable(field_id f) noexcept { return f != field_id::eth_type && f != field_id::nw_proto; }

} // namespace detail

// ---- actions ------------------------------------------------------------------

// What an action parser sees: its token's argument and where it is, and
// where to put what it parsed.
struct action_args {
    std::string_view name;
    std::string_view value;
    bool has_value = false;
    std::size_t name_col = 0;
    std::size_t value_col = 0;
    const match* flow_match = nullptr; // the match of the flow the action is in (learn checks its sources against it)
};

using action_parse_fn = std::optional<parse_error> (*)(const action_args&, generic_actions&);

struct action_syntax {
    std::string_view name;
    action_parse_fn parse;
};

namespace detail {

[[nodiscard]] inline std::optional<parse_error> needs_value(const action_args& a) {
    if (!a.has_value || a.value.empty()) return parse_error{std::string(a.name) + ": missing argument", a.name_col};
    return std::nullopt;
}
[[nodiscard]] inline std::optional<parse_error> no_value(const action_args& a) {
    if (a.has_value) return parse_error{std::string(a.name) + " takes no argument", a.value_col};
    return std::nullopt;
}
[[nodiscard]] inline std::optional<parse_error> number_arg(const action_args& a, std::uint64_t max,
                                                           std::uint64_t& out) {
    if (auto e = needs_value(a)) return e;
    const auto v = parse_uint(a.value);
    if (!v || *v > max)
        return parse_error{std::string(a.name) + ": bad argument " + quoted(a.value) + " (expected 0.." +
                               std::to_string(max) + ")",
                           a.value_col};
    out = static_cast<std::uint64_t>(*v);
    return std::nullopt;
}

// Output to `port` (ovs-ofctl's "output:P", "P" and the reserved names),
// which Open vSwitch's ofpact_check_output_port must accept: a port below
// 65280, or IN_PORT, TABLE, NORMAL, FLOOD, ALL, CONTROLLER or LOCAL
// (OFPBAC_BAD_OUT_PORT for ANY, UNSET and the other reserved numbers).
[[nodiscard]] inline std::optional<parse_error> output_port(std::uint32_t port, generic_actions& out, std::size_t col) {
    if (port >= 0xff00 && (port < ports::in_port || port > ports::local)) {
        std::string name;
        append_port(name, port);
        return parse_error{"output to port " + name + " is invalid (OFPBAC_BAD_OUT_PORT)", col};
    }
    if (port == ports::normal)
        out.list.emplace_back(actions::normal{}); // no l2_switch yet: see bind_normal
    else if (port == ports::in_port)
        out.list.emplace_back(actions::in_port{});
    else if (port == ports::controller)
        out.list.emplace_back(actions::controller{});
    else
        out.list.emplace_back(actions::output{port});
    return std::nullopt;
}

inline std::optional<parse_error> act_output(const action_args& a, generic_actions& out) {
    if (auto e = needs_value(a)) return e;
    if (a.value.find('[') != std::string_view::npos)
        return parse_error{"output to a field is not supported", a.value_col};
    const auto p = parse_port(a.value);
    if (!p) return parse_error{"output: bad port " + quoted(a.value), a.value_col};
    return output_port(*p, out, a.value_col);
}
inline std::optional<parse_error> act_in_port(const action_args& a, generic_actions& out) {
    if (auto e = no_value(a)) return e;
    out.list.emplace_back(actions::in_port{});
    return std::nullopt;
}
inline std::optional<parse_error> act_local(const action_args& a, generic_actions& out) {
    if (auto e = no_value(a)) return e;
    out.list.emplace_back(actions::output{ports::local});
    return std::nullopt;
}
inline std::optional<parse_error> act_drop(const action_args& a, generic_actions&) { return no_value(a); }
inline std::optional<parse_error> act_resubmit(const action_args& a, generic_actions& out) {
    if (auto e = needs_value(a)) return e;
    actions::resubmit r;
    const std::size_t comma = a.value.find(',');
    const std::string_view port = a.value.substr(0, comma);
    if (!port.empty()) {
        const auto p = parse_port(port);
        if (!p) return parse_error{"resubmit: bad port " + quoted(port), a.value_col};
        r.port = *p;
    }
    if (comma != std::string_view::npos) {
        std::string_view table = a.value.substr(comma + 1);
        if (const std::size_t c2 = table.find(','); c2 != std::string_view::npos)
            return parse_error{"resubmit: unsupported option " + quoted(table.substr(c2 + 1)),
                               a.value_col + comma + 2 + c2};
        if (!table.empty()) {
            const auto t = parse_uint(table);
            if (!t || *t > 255) return parse_error{"resubmit: bad table " + quoted(table), a.value_col + comma + 1};
            r.table = static_cast<std::uint8_t>(*t);
        }
        if (port.empty() && table.empty())
            return parse_error{"resubmit: at least one of port and table must be given", a.value_col};
    }
    out.list.emplace_back(r);
    return std::nullopt;
}
inline std::optional<parse_error> act_goto(const action_args& a, generic_actions& out) {
    std::uint64_t t;
    if (auto e = number_arg(a, 254, t)) return e;
    out.list.emplace_back(actions::goto_table{static_cast<std::uint8_t>(t)});
    return std::nullopt;
}
inline std::optional<parse_error> act_load(const action_args& a, generic_actions& out) {
    if (auto e = needs_value(a)) return e;
    const std::size_t arrow = a.value.find("->");
    if (arrow == std::string_view::npos) return parse_error{"load: expected VALUE->FIELD[...]", a.value_col};
    const std::string_view v = a.value.substr(0, arrow);
    if (v.find('[') != std::string_view::npos)
        return parse_error{"load from a field is not supported (use move)", a.value_col};
    const auto value = parse_uint(v);
    if (!value) return parse_error{"load: bad value " + quoted(v), a.value_col};
    auto dst = parse_subfield(a.value.substr(arrow + 2), a.value_col + arrow + 2);
    if (!dst) return dst.error();
    if ((*value & ~dst->mask()) != 0)
        return parse_error{"load: value " + quoted(v) + " does not fit in " + std::to_string(dst->n_bits) + " bits",
                           a.value_col};
    out.list.emplace_back(actions::load{*dst, *value});
    return std::nullopt;
}
inline std::optional<parse_error> act_set_field(const action_args& a, generic_actions& out) {
    if (auto e = needs_value(a)) return e;
    const std::size_t arrow = a.value.find("->");
    if (arrow == std::string_view::npos) return parse_error{"set_field: expected VALUE->FIELD", a.value_col};
    const std::string_view name = a.value.substr(arrow + 2);
    const auto f = find_field_any(name);
    if (!f) return parse_error{"unknown field " + quoted(name), a.value_col + arrow + 2};
    uint128 v = 0, m = 0;
    if (auto e = parse_field_value(*f, a.value.substr(0, arrow), a.value_col, true, v, m)) return e;
    if (m == 0) return parse_error{"set_field: an all-zero mask sets nothing", a.value_col};
    // A masked set_field is a load into the bits the mask covers, which must be contiguous.
    int lo = 0;
    while (((m >> lo) & 1) == 0) ++lo;
    const uint128 run = m >> lo;
    if ((run & (run + 1)) != 0) return parse_error{"set_field: the mask must cover contiguous bits", a.value_col};
    int n = 0;
    while (n < 128 && ((run >> n) & 1)) ++n;
    out.list.emplace_back(actions::load{bit_range{*f, static_cast<std::uint8_t>(lo), static_cast<std::uint8_t>(n)},
                                        (v >> lo) & bit_range{*f, 0, static_cast<std::uint8_t>(n)}.mask()});
    return std::nullopt;
}
inline std::optional<parse_error> act_move(const action_args& a, generic_actions& out) {
    if (auto e = needs_value(a)) return e;
    const std::size_t arrow = a.value.find("->");
    if (arrow == std::string_view::npos) return parse_error{"move: expected SRC[...]->DST[...]", a.value_col};
    auto src = parse_subfield(a.value.substr(0, arrow), a.value_col);
    if (!src) return src.error();
    auto dst = parse_subfield(a.value.substr(arrow + 2), a.value_col + arrow + 2);
    if (!dst) return dst.error();
    if (src->n_bits != dst->n_bits)
        return parse_error{"move: source is " + std::to_string(src->n_bits) + " bits wide but destination is " +
                               std::to_string(dst->n_bits),
                           a.value_col};
    out.list.emplace_back(actions::move{*src, *dst});
    return std::nullopt;
}
template <field_id F, bool Dscp = false>
inline std::optional<parse_error> act_mod_field(const action_args& a, generic_actions& out) {
    if (auto e = needs_value(a)) return e;
    uint128 v = 0, m = 0;
    if (auto e = parse_field_value(F, a.value, a.value_col, false, v, m)) return e;
    if constexpr (Dscp) {
        if (v & 3) return parse_error{"mod_nw_tos: the two ECN bits must be zero", a.value_col};
        out.list.emplace_back(actions::load{bit_range{F, 2, 6}, v >> 2});
    } else if constexpr (F == field_id::eth_src) {
        out.list.emplace_back(actions::mod_dl_src{static_cast<std::uint64_t>(v)});
    } else if constexpr (F == field_id::eth_dst) {
        out.list.emplace_back(actions::mod_dl_dst{static_cast<std::uint64_t>(v)});
    } else {
        out.list.emplace_back(actions::set_field(F, v));
    }
    return std::nullopt;
}
inline std::optional<parse_error> act_mod_vlan_vid(const action_args& a, generic_actions& out) {
    std::uint64_t v;
    if (auto e = number_arg(a, 4095, v)) return e;
    out.list.emplace_back(actions::mod_vlan_vid{static_cast<std::uint16_t>(v)});
    return std::nullopt;
}
inline std::optional<parse_error> act_mod_vlan_pcp(const action_args& a, generic_actions& out) {
    std::uint64_t v;
    if (auto e = number_arg(a, 7, v)) return e;
    out.list.emplace_back(actions::mod_vlan_pcp{static_cast<std::uint8_t>(v)});
    return std::nullopt;
}
inline std::optional<parse_error> act_push_vlan(const action_args& a, generic_actions& out) {
    std::uint64_t v;
    if (auto e = number_arg(a, 0xffff, v)) return e;
    if (v != 0x8100 && v != 0x88a8) return parse_error{"push_vlan: ethertype must be 0x8100 or 0x88a8", a.value_col};
    out.list.emplace_back(actions::push_vlan{static_cast<std::uint16_t>(v)});
    return std::nullopt;
}
inline std::optional<parse_error> act_strip_vlan(const action_args& a, generic_actions& out) {
    if (auto e = no_value(a)) return e;
    out.list.emplace_back(actions::strip_vlan{});
    return std::nullopt;
}
inline std::optional<parse_error> act_set_tunnel(const action_args& a, generic_actions& out) {
    std::uint64_t v;
    if (auto e = number_arg(a, ~std::uint64_t{0}, v)) return e;
    out.list.emplace_back(actions::set_tunnel{v});
    return std::nullopt;
}
inline std::optional<parse_error> act_dec_ttl(const action_args& a, generic_actions& out) {
    if (a.has_value) return parse_error{"dec_ttl with controller ids is not supported", a.value_col};
    out.list.emplace_back(actions::dec_ttl{});
    return std::nullopt;
}
inline std::optional<parse_error> act_controller(const action_args& a, generic_actions& out) {
    actions::controller c;
    if (!a.has_value) {
        out.list.emplace_back(c);
        return std::nullopt;
    }
    // CONTROLLER:N, or controller(max_len=N)
    std::string_view v = a.value;
    std::size_t col = a.value_col;
    if (v.substr(0, 8) == "max_len=") {
        v.remove_prefix(8);
        col += 8;
    } else if (!v.empty() && (v[0] < '0' || v[0] > '9')) {
        return parse_error{"controller: unsupported option " + quoted(a.value), a.value_col};
    }
    const auto n = parse_uint(v);
    if (!n || *n > 0xffff) return parse_error{"controller: bad max_len " + quoted(v), col};
    c.max_len = static_cast<std::uint16_t>(*n);
    out.list.emplace_back(c);
    return std::nullopt;
}

// ---- learn ----------------------------------------------------------------------
//
// Open vSwitch has a field per protocol where flowpipe has one: tcp_dst,
// udp_dst and sctp_dst are flowpipe's tp_dst; icmp_type and icmpv6_type its
// icmp_type; dl_vlan_pcp and vlan_pcp its vlan_pcp; the 16-bit in_port
// (NXM_OF_IN_PORT) and the 32-bit in_port_oxm (OXM_OF_IN_PORT) its in_port.
// Each of Open vSwitch's fields has its own prerequisite (lib/meta-flow.h),
// and learn_check judges a learn by them, so a learn is checked here by the
// name each field is given, not by flowpipe's field.

// Open vSwitch's prerequisites (enum mf_prereqs) of the fields flowpipe has.
enum class ovs_prereq : std::uint8_t { none, vlan_vid, arp, ipv4, ipv6, ip_any, tcp, udp, sctp, icmpv4, icmpv6, nd };

// The prerequisite of the Open vSwitch field `name` (a field name without
// its [...] range) that flowpipe reads as `f`.
[[nodiscard]] inline ovs_prereq ovs_prereq_of(std::string_view name, field_id f) noexcept {
    const auto has = [&](std::string_view a, std::string_view b) {
        return name.find(a) != std::string_view::npos || name.find(b) != std::string_view::npos;
    };
    if (f == field_id::tp_src || f == field_id::tp_dst) {
        if (has("UDP_", "udp_")) return ovs_prereq::udp;
        if (has("SCTP_", "sctp_")) return ovs_prereq::sctp;
        return ovs_prereq::tcp; // tcp_dst, NXM_OF_TCP_DST, OXM_OF_TCP_DST and tp_dst (an alias of tcp_dst)
    }
    if (f == field_id::icmp_type || f == field_id::icmp_code)
        return has("ICMPV6", "icmpv6") ? ovs_prereq::icmpv6 : ovs_prereq::icmpv4;
    if (f == field_id::vlan_pcp) return name == "dl_vlan_pcp" ? ovs_prereq::none : ovs_prereq::vlan_vid;
    switch (info(f).prereq) {
    case prerequisite::none: return ovs_prereq::none;
    case prerequisite::arp: return ovs_prereq::arp;
    case prerequisite::ip: return ovs_prereq::ip_any;
    case prerequisite::ipv4: return ovs_prereq::ipv4;
    case prerequisite::ipv6: return ovs_prereq::ipv6;
    case prerequisite::transport: return ovs_prereq::tcp;
    case prerequisite::icmp: return ovs_prereq::icmpv4;
    case prerequisite::nd: return ovs_prereq::nd;
    }
    return ovs_prereq::none;
}

[[nodiscard]] inline const char* ovs_prereq_text(ovs_prereq p) noexcept {
    switch (p) {
    case ovs_prereq::none: return "nothing";
    case ovs_prereq::vlan_vid: return "a VLAN header (vlan_tci's bit 12)";
    case ovs_prereq::arp: return "arp or rarp";
    case ovs_prereq::ipv4: return "ip";
    case ovs_prereq::ipv6: return "ipv6";
    case ovs_prereq::ip_any: return "ip or ipv6";
    case ovs_prereq::tcp: return "tcp or tcp6";
    case ovs_prereq::udp: return "udp or udp6";
    case ovs_prereq::sctp: return "sctp or sctp6";
    case ovs_prereq::icmpv4: return "icmp";
    case ovs_prereq::icmpv6: return "icmp6";
    case ovs_prereq::nd: return "icmp6 with icmp_type=135 or 136 and icmp_code=0";
    }
    return "?";
}

// mf_are_match_prereqs_ok: judged by the match's values alone (masked to
// what it matches), as Open vSwitch's checks read `match->flow`.
[[nodiscard]] inline bool ovs_prereq_met(const match& m, ovs_prereq p) noexcept {
    const uint128 dl = m.value_of(field_id::eth_type), nw = m.value_of(field_id::nw_proto);
    const bool ip4 = dl == proto::eth_type_ipv4, ip6 = dl == proto::eth_type_ipv6;
    switch (p) {
    case ovs_prereq::none: return true;
    case ovs_prereq::vlan_vid: return (m.value_of(field_id::vlan_tci) & 0x1000) != 0;
    case ovs_prereq::arp: return dl == proto::eth_type_arp || dl == proto::eth_type_rarp;
    case ovs_prereq::ipv4: return ip4;
    case ovs_prereq::ipv6: return ip6;
    case ovs_prereq::ip_any: return ip4 || ip6;
    case ovs_prereq::tcp: return (ip4 || ip6) && nw == proto::ip_proto_tcp;
    case ovs_prereq::udp: return (ip4 || ip6) && nw == proto::ip_proto_udp;
    case ovs_prereq::sctp: return (ip4 || ip6) && nw == proto::ip_proto_sctp;
    case ovs_prereq::icmpv4: return ip4 && nw == proto::ip_proto_icmp;
    case ovs_prereq::icmpv6: return ip6 && nw == proto::ip_proto_icmpv6;
    case ovs_prereq::nd:
        return ip6 && nw == proto::ip_proto_icmpv6 && m.value_of(field_id::icmp_code) == 0 &&
               (m.value_of(field_id::icmp_type) == proto::icmpv6_neighbor_solicit ||
                m.value_of(field_id::icmp_type) == proto::icmpv6_neighbor_advert);
    }
    return false;
}

// A field name whose Open vSwitch field is the 16-bit in_port.
[[nodiscard]] constexpr bool is_ofp10_in_port_name(std::string_view name) noexcept {
    return name == "in_port" || name == "NXM_OF_IN_PORT";
}

// What a learn's match constant does to the learned match (learn_check's
// dst_match, learn_format's view of it): mf_write_subfield_value, where a
// field that cannot be masked takes the bits only when, with those already
// there, they cover all of it (`NXM_OF_IP_PROTO[0..3]=6` alone matches no
// nw_proto). NXM_OF_IN_PORT[] is all of Open vSwitch's 16-bit in_port;
// OXM_OF_IN_PORT[0..15] (`oxm_in_port_bits`) only bits of its 32-bit one.
inline void learn_write_constant(match& learned, bit_range dst, uint128 v, bool oxm_in_port_bits = false) noexcept {
    const field_id f = dst.field;
    if (f == field_id::in_port && dst.start == 0 && dst.n_bits == 16 && !oxm_in_port_bits) {
        learned.set(f, v, info(f).all_ones());
        return;
    }
    const uint128 bits = dst.mask() << dst.start;
    const uint128 mask = learned.mask_of(f) | bits;
    if (!info(f).maskable && mask != info(f).all_ones()) return;
    learned.set(f, (learned.value_of(f) & ~bits) | ((v & dst.mask()) << dst.start), mask);
}

// learn(...), as ovs-ofctl's learn_parse reads it, checked as learn_check
// checks it when the flow is installed: in spec order, a source field's
// prerequisites against the flow's own match, a learned match field's or
// load destination's against the constants matched before it in the same
// learn (`learn(eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[]=53)` holds in an
// `arp` flow; `learn(NXM_OF_TCP_DST[]=53,eth_type=0x800,nw_proto=6)` holds
// nowhere), each by its Open vSwitch field (see ovs_prereq), equal widths,
// constants that fit; a match constant on a whole field in that field's
// own syntax (mf_parse_value: a port for in_port, in decimal or by name),
// on bits of one as an integer. Stricter than Open vSwitch in one way:
// numbers are checked (OVS reads table=, priority=, timeouts and limit= with
// atoi and takes "priority=x" as 0).
[[nodiscard]] inline std::optional<parse_error> learn_subfield(std::string_view text, std::size_t col, bit_range& out) {
    if (text.empty()) return parse_error{"learn: missing field", col};
    auto r = parse_subfield(text, col);
    if (!r) {
        parse_error e = r.error();
        e.message = "learn: " + e.message;
        return e;
    }
    out = *r;
    return std::nullopt;
}

// The field name of a subfield's text (`NXM_OF_TCP_DST[0..7]` -> `NXM_OF_TCP_DST`).
[[nodiscard]] inline std::string_view field_name_of(std::string_view subfield) noexcept {
    return subfield.substr(0, subfield.find('['));
}

inline std::optional<parse_error> act_learn(const action_args& a, generic_actions& out) {
    std::vector<token> toks;
    if (auto e = tokenize(a.value, a.value_col, toks)) return e;
    actions::learn_description d;
    match learned; // constants of the learned match so far (learn_check's dst_match)
    const match none;
    const match& flow = a.flow_match ? *a.flow_match : none;
    auto check_src = [&](std::string_view text, bit_range src, std::size_t col) -> std::optional<parse_error> {
        const std::string_view name = field_name_of(text);
        const ovs_prereq p = ovs_prereq_of(name, src.field);
        if (!ovs_prereq_met(flow, p))
            return parse_error{"learn: " + std::string(name) + " needs " + ovs_prereq_text(p) + " in the flow's match",
                               col};
        return std::nullopt;
    };
    auto check_dst = [&](std::string_view text, bit_range dst, std::size_t col) -> std::optional<parse_error> {
        const std::string_view name = field_name_of(text);
        // mf_nxm_header: a field with an OpenFlow 1.0 name only cannot be learned into.
        if (name == "dl_vlan" || name == "dl_vlan_pcp")
            return parse_error{"learn: " + std::string(name) +
                                   " has no NXM or OXM header (learn it as NXM_OF_VLAN_TCI[0..11] or vlan_pcp)",
                               col};
        const ovs_prereq p = ovs_prereq_of(name, dst.field);
        if (!ovs_prereq_met(learned, p))
            return parse_error{"learn: " + std::string(name) + " in a learned flow needs " + ovs_prereq_text(p) +
                                   " matched before it in the learn",
                               col};
        return std::nullopt;
    };
    for (const token& t : toks) {
        std::uint64_t n = 0;
        auto number = [&](std::uint64_t max) -> std::optional<parse_error> {
            if (auto e = parse_small(t, max, n)) {
                e->message = "learn: " + e->message;
                return e;
            }
            return std::nullopt;
        };
        auto flag = [&]() -> std::optional<parse_error> {
            if (t.has_value) return parse_error{"learn: " + std::string(t.key) + " takes no value", t.value_col};
            return std::nullopt;
        };
        if (t.key == "table") {
            if (auto e = number(255)) return e;
            if (n == 255) return parse_error{"learn: table 255 is not a table flows can be learned into", t.value_col};
            d.table = static_cast<std::uint8_t>(n);
        } else if (t.key == "priority") {
            if (auto e = number(0xffff)) return e;
            d.priority = static_cast<std::uint16_t>(n);
        } else if (t.key == "idle_timeout" || t.key == "hard_timeout" || t.key == "fin_idle_timeout" ||
                   t.key == "fin_hard_timeout") {
            if (auto e = number(0xffff)) return e;
            const auto v = static_cast<std::uint16_t>(n);
            (t.key == "idle_timeout"       ? d.idle_timeout
             : t.key == "hard_timeout"     ? d.hard_timeout
             : t.key == "fin_idle_timeout" ? d.fin_idle_timeout
                                           : d.fin_hard_timeout) = v;
        } else if (t.key == "cookie") {
            const auto c = parse_c_u64(t.value); // (as ovs-ofctl: 010 is 8, -1 every bit)
            if (!t.has_value || !c) return parse_error{"learn: cookie: bad value " + quoted(t.value), t.value_col};
            d.cookie = *c;
        } else if (t.key == "limit") {
            if (auto e = number(0xffffffffu)) return e;
            d.limit = static_cast<std::uint32_t>(n);
        } else if (t.key == "send_flow_rem") {
            // Accepted; flowpipe sends no flow-removed messages, so it changes nothing.
            if (auto e = flag()) return e;
        } else if (t.key == "delete_learned") {
            if (auto e = flag()) return e;
            d.delete_learned = true;
        } else if (t.key == "result_dst") {
            bit_range r{};
            if (auto e = learn_subfield(t.value, t.value_col, r)) return e;
            if (!writable(r.field)) return parse_error{"learn: " + std::string(t.value) + " is read-only", t.value_col};
            if (r.n_bits != 1) return parse_error{"learn: result_dst must be a single bit", t.value_col};
            d.result_dst = r;
        } else if (t.key == "load") {
            const std::size_t arrow = t.value.find("->");
            if (arrow == std::string_view::npos)
                return parse_error{"learn: load: missing `->' in " + quoted(t.value),
                                   t.has_value ? t.value_col : t.key_col};
            if (arrow == 0) return parse_error{"learn: load: missing source before `->'", t.value_col};
            const std::string_view src = t.value.substr(0, arrow);
            actions::learn_spec s;
            if (auto e = learn_subfield(t.value.substr(arrow + 2), t.value_col + arrow + 2, s.dst)) return e;
            if (!writable(s.dst.field))
                return parse_error{"learn: " + std::string(info(s.dst.field).name) + " cannot be written",
                                   t.value_col + arrow + 2};
            if (auto e = check_dst(t.value.substr(arrow + 2), s.dst, t.value_col + arrow + 2)) return e;
            if (src[0] >= '0' && src[0] <= '9') {
                const auto v = parse_uint(src);
                if (!v) return parse_error{"learn: load: bad value " + quoted(src), t.value_col};
                if ((*v & ~s.dst.mask()) != 0)
                    return parse_error{"learn: load: value " + quoted(src) + " does not fit in " +
                                           std::to_string(s.dst.n_bits) + " bits",
                                       t.value_col};
                s.what = actions::learn_spec::kind::load_const;
                s.value = *v;
            } else {
                if (auto e = learn_subfield(src, t.value_col, s.src)) return e;
                if (s.src.n_bits != s.dst.n_bits)
                    return parse_error{"learn: load: source is " + std::to_string(s.src.n_bits) +
                                           " bits wide but destination is " + std::to_string(s.dst.n_bits),
                                       t.value_col};
                if (auto e = check_src(src, s.src, t.value_col)) return e;
                s.what = actions::learn_spec::kind::load_field;
            }
            d.specs.push_back(s);
        } else if (t.key == "output") {
            actions::learn_spec s;
            s.what = actions::learn_spec::kind::output;
            if (auto e = learn_subfield(t.value, t.has_value ? t.value_col : t.key_col, s.src)) return e;
            if (auto e = check_src(t.value, s.src, t.value_col)) return e;
            d.specs.push_back(s);
        } else {
            // A match spec: FIELD[...], FIELD[...]=FIELD[...] or FIELD[...]=VALUE.
            actions::learn_spec s;
            const std::size_t bracket = t.key.find('[');
            if (!find_field_any(t.key.substr(0, bracket)))
                return parse_error{"learn: unknown field or keyword " + quoted(t.key.substr(0, bracket)), t.key_col};
            if (auto e = learn_subfield(t.key, t.key_col, s.dst)) return e;
            if (auto e = check_dst(t.key, s.dst, t.key_col)) return e;
            s.oxm_in_port_bits =
                s.dst == bit_range{field_id::in_port, 0, 16} && !is_ofp10_in_port_name(field_name_of(t.key));
            if (!t.has_value || t.value.empty()) {
                s.what = actions::learn_spec::kind::match_field;
                s.src = s.dst;
                if (auto e = check_src(t.key, s.src, t.key_col)) return e;
            } else if (const std::size_t b2 = t.value.find('['); find_field_any(t.value.substr(0, b2)).has_value()) {
                s.what = actions::learn_spec::kind::match_field;
                if (auto e = learn_subfield(t.value, t.value_col, s.src)) return e;
                if (s.src.n_bits != s.dst.n_bits)
                    return parse_error{"learn: " + std::string(t.key) + " is " + std::to_string(s.dst.n_bits) +
                                           " bits wide but " + std::string(t.value) + " is " +
                                           std::to_string(s.src.n_bits),
                                       t.value_col};
                if (auto e = check_src(t.value, s.src, t.value_col)) return e;
            } else {
                s.what = actions::learn_spec::kind::match_const;
                const std::string_view name = field_name_of(t.key);
                const bool ofp10_in_port = is_ofp10_in_port_name(name) && s.dst.start == 0 && s.dst.n_bits == 16;
                const bool whole = s.dst.start == 0 && s.dst.n_bits == info(s.dst.field).width;
                if (ofp10_in_port || (whole && s.dst.field == field_id::in_port)) {
                    // mf_parse_value of in_port (16 bits) or in_port_oxm (32):
                    // ofputil_port_from_string, decimal or a name, never hex.
                    const auto p = parse_ofp10_port(t.value);
                    if (!p)
                        return parse_error{"learn: " + std::string(t.key) + "=" + std::string(t.value) +
                                               ": not a port (Open vSwitch takes a port number in decimal, "
                                               "0..65535 or 4294967040..4294967295, or a name such as LOCAL; "
                                               "not hex)",
                                           t.value_col};
                    s.value = ofp10_in_port ? uint128{*p} : uint128{ports::from_ofp10(*p)};
                } else if (whole) {
                    uint128 v = 0, m = 0;
                    if (auto e = parse_field_value(s.dst.field, t.value, t.value_col, false, v, m)) {
                        e->message = "learn: " + e->message;
                        return e;
                    }
                    s.value = v;
                } else {
                    const auto v = parse_uint(t.value);
                    if (!v)
                        return parse_error{"learn: " + std::string(t.key) + "=" + std::string(t.value) +
                                               ": the value is neither a field nor a number",
                                           t.value_col};
                    s.value = *v;
                }
                if ((s.value & ~s.dst.mask()) != 0)
                    return parse_error{"learn: value " + quoted(t.value) + " does not fit in " +
                                           std::to_string(s.dst.n_bits) + " bits",
                                       t.value_col};
                learn_write_constant(learned, s.dst, s.value, s.oxm_in_port_bits);
            }
            d.specs.push_back(s);
        }
    }
    out.list.emplace_back(actions::generic_learn{std::move(d)});
    return std::nullopt;
}

// fin_timeout(idle_timeout=I,hard_timeout=H), either or both, in any order
// (as ovs-ofctl: a key given twice takes its last value; 16 bits each).
inline std::optional<parse_error> act_fin_timeout(const action_args& a, generic_actions& out) {
    if (auto e = needs_value(a)) return e;
    actions::fin_timeout f;
    bool idle = false, hard = false;
    std::string_view rest = a.value;
    std::size_t col = a.value_col;
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        const std::size_t eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        const bool is_idle = key == "idle_timeout", is_hard = key == "hard_timeout";
        if (!is_idle && !is_hard) return parse_error{"fin_timeout: unknown argument " + quoted(key), col};
        const auto n = eq == std::string_view::npos ? std::nullopt : parse_uint(item.substr(eq + 1));
        if (!n || *n > 0xffff) return parse_error{"fin_timeout: bad " + std::string(key) + " " + quoted(item), col};
        (is_idle ? f.fin_idle_timeout : f.fin_hard_timeout) = static_cast<std::uint16_t>(*n);
        (is_idle ? idle : hard) = true;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
        col += comma + 1;
    }
    if (!idle && !hard) return parse_error{"fin_timeout needs idle_timeout= or hard_timeout=", a.value_col};
    out.list.emplace_back(f);
    return std::nullopt;
}

inline std::optional<parse_error> act_normal(const action_args& a, generic_actions& out) {
    if (auto e = no_value(a)) return e;
    out.list.emplace_back(actions::normal{});
    return std::nullopt;
}

} // namespace detail

// Every action ovs-ofctl syntax names, by name. Bare port numbers
// (`actions=2`) are handled before this table is consulted.
inline constexpr std::array<action_syntax, 34> action_syntaxes{{
    {"output", detail::act_output},
    {"in_port", detail::act_in_port},
    {"IN_PORT", detail::act_in_port},
    {"LOCAL", detail::act_local},
    {"drop", detail::act_drop},
    {"resubmit", detail::act_resubmit},
    {"goto_table", detail::act_goto},
    {"load", detail::act_load},
    {"set_field", detail::act_set_field},
    {"move", detail::act_move},
    {"mod_dl_src", detail::act_mod_field<field_id::eth_src>},
    {"mod_dl_dst", detail::act_mod_field<field_id::eth_dst>},
    {"mod_nw_src", detail::act_mod_field<field_id::nw_src>},
    {"mod_nw_dst", detail::act_mod_field<field_id::nw_dst>},
    {"mod_nw_tos", detail::act_mod_field<field_id::nw_tos, true>},
    {"mod_nw_ttl", detail::act_mod_field<field_id::nw_ttl>},
    {"mod_tp_src", detail::act_mod_field<field_id::tp_src>},
    {"mod_tp_dst", detail::act_mod_field<field_id::tp_dst>},
    {"mod_vlan_vid", detail::act_mod_vlan_vid},
    {"mod_vlan_pcp", detail::act_mod_vlan_pcp},
    {"push_vlan", detail::act_push_vlan},
    {"strip_vlan", detail::act_strip_vlan},
    {"pop_vlan", detail::act_strip_vlan},
    {"set_tunnel", detail::act_set_tunnel},
    {"set_tunnel64", detail::act_set_tunnel},
    {"dec_ttl", detail::act_dec_ttl},
    {"controller", detail::act_controller},
    {"CONTROLLER", detail::act_controller},
    {"set_vlan_vid", detail::act_mod_vlan_vid},
    {"set_vlan_pcp", detail::act_mod_vlan_pcp},
    {"learn", detail::act_learn},
    {"normal", detail::act_normal},
    {"NORMAL", detail::act_normal},
    {"fin_timeout", detail::act_fin_timeout},
}};

namespace detail {

// The fields an action reads or writes, for the prerequisite check.
inline void action_fields(const any_action& a, std::optional<field_id>& src, std::optional<field_id>& dst) {
    src.reset();
    dst.reset();
    if (const auto* l = std::get_if<actions::load>(&a)) dst = l->dst.field;
    if (const auto* m = std::get_if<actions::move>(&a)) {
        src = m->src.field;
        dst = m->dst.field;
    }
}

// The field name prefixes that name one protocol's field in Open vSwitch,
// where flowpipe has one field (tp_src, icmp_type): an action using one
// needs that protocol in the flow's match.
struct protocol_field_name {
    std::string_view prefix;
    ovs_prereq prereq;
};
inline constexpr std::array<protocol_field_name, 9> protocol_field_names{{{"NXM_OF_TCP_", ovs_prereq::tcp},
                                                                          {"OXM_OF_TCP_", ovs_prereq::tcp},
                                                                          {"NXM_OF_UDP_", ovs_prereq::udp},
                                                                          {"OXM_OF_UDP_", ovs_prereq::udp},
                                                                          {"OXM_OF_SCTP_", ovs_prereq::sctp},
                                                                          {"NXM_OF_ICMP_", ovs_prereq::icmpv4},
                                                                          {"OXM_OF_ICMPV4_", ovs_prereq::icmpv4},
                                                                          {"NXM_NX_ICMPV6_", ovs_prereq::icmpv6},
                                                                          {"OXM_OF_ICMPV6_", ovs_prereq::icmpv6}}};

// Parses an action list (the text after `actions=`, starting at column `base`)
// and checks it against the flow's match and table.
[[nodiscard]] inline std::optional<parse_error> parse_actions_at(std::string_view s, std::size_t base, const match& m,
                                                                 std::uint8_t table, generic_actions& out) {
    std::vector<token> toks;
    if (auto e = tokenize(s, base, toks)) return e;
    std::vector<std::size_t> cols;
    std::vector<std::uint16_t> cols_named; // bits of protocol_field_names an action's text names
    bool saw_drop = false;
    for (const token& t : toks) {
        const std::size_t before = out.list.size();
        const action_args args{t.key, t.value, t.has_value, t.key_col, t.value_col, &m};
        if (!t.has_value && t.key[0] >= '0' && t.key[0] <= '9') {
            const auto p = parse_port(t.key);
            if (!p) return parse_error{"bad port " + quoted(t.key), t.key_col};
            if (auto e = output_port(*p, out, t.key_col)) return e;
        } else {
            const action_syntax* syn = nullptr;
            for (const action_syntax& a : action_syntaxes)
                if (a.name == t.key) syn = &a;
            if (syn == nullptr) {
                if (auto p = parse_port(t.key); p && !t.has_value) {
                    if (auto e = output_port(*p, out, t.key_col)) return e; // ALL, NORMAL, ... by name
                } else {
                    return parse_error{"unknown action " + quoted(t.key), t.key_col};
                }
            } else if (auto e = syn->parse(args, out)) {
                return e;
            }
            if (t.key == "drop") saw_drop = true;
        }
        for (std::size_t i = before; i < out.list.size(); ++i) {
            cols.push_back(t.key_col);
            // NXM_OF_TCP_*, NXM_OF_UDP_*, NXM_NX_ICMPV6_*... name one protocol's
            // field (a learn checks its own: its learned match's fields by what it learns).
            std::uint16_t named = 0;
            for (std::size_t k = 0; k < protocol_field_names.size() && t.key != "learn"; ++k)
                if (t.value.find(protocol_field_names[k].prefix) != std::string_view::npos)
                    named = static_cast<std::uint16_t>(named | (1u << k));
            cols_named.push_back(named);
        }
    }
    if (saw_drop && !out.list.empty()) return parse_error{"drop must be the only action", base};
    // Checks Open vSwitch makes when the flow is installed.
    for (std::size_t i = 0; i < out.list.size(); ++i) {
        const any_action& a = out.list[i];
        std::optional<field_id> src, dst;
        action_fields(a, src, dst);
        for (const auto& f : {src, dst}) {
            if (f && !prerequisite_met(m, *f))
                return parse_error{std::string(info(*f).name) + " used by an action needs " +
                                       prerequisite_text(info(*f).prereq) + " in the match",
                                   cols[i]};
        }
        for (std::size_t k = 0; k < protocol_field_names.size(); ++k) {
            const protocol_field_name& n = protocol_field_names[k];
            if (((cols_named[i] >> k) & 1u) != 0 && !ovs_prereq_met(m, n.prereq))
                return parse_error{std::string(n.prefix) + "* needs " + ovs_prereq_text(n.prereq) + " in the match",
                                   cols[i]};
        }
        if (dst && !writable(*dst)) return parse_error{std::string(info(*dst).name) + " cannot be written", cols[i]};
        if (const auto* g = std::get_if<actions::goto_table>(&a)) {
            if (table != all_tables && g->table <= table)
                return parse_error{"goto_table must go to a later table than " + std::to_string(table), cols[i]};
            if (i + 1 != out.list.size()) return parse_error{"goto_table must be the last action", cols[i]};
        }
    }
    return std::nullopt;
}

// Applies a protocol shorthand to a match.
inline void set_protocol(match& m, const protocol& p) {
    m.set(field_id::eth_type, p.eth_type);
    if (p.nw_proto) m.set(field_id::nw_proto, p.nw_proto);
}

} // namespace detail

// Parses an action list on its own (as the part after `actions=`), for a
// flow with match `m` in table `table`.
[[nodiscard]] inline parse_result<generic_actions> parse_actions(std::string_view s, const match& m = {},
                                                                 std::uint8_t table = all_tables) {
    generic_actions out;
    if (auto e = detail::parse_actions_at(s, 1, m, table, out)) return *e;
    return out;
}

// Parses one flow mod: `command` says which ovs-ofctl command the text is for
// (add-flow, mod-flows [--strict], del-flows [--strict]).
[[nodiscard]] inline parse_result<flow_mod> parse_flow_mod(flow_command command, std::string_view s) {
    using namespace detail;
    flow_mod fm;
    fm.command = command;
    const bool adding = command == flow_command::add;
    const bool deleting = command == flow_command::remove || command == flow_command::remove_strict;
    fm.table = adding ? 0 : all_tables;

    // Split at "action=" / "actions=" (ofp_extract_actions).
    std::string_view match_part = s, action_part;
    std::size_t action_col = 0;
    bool has_actions = false;
    for (std::size_t at = s.find("action"); at != std::string_view::npos; at = s.find("action", at + 1)) {
        std::size_t eq = at + 6;
        if (eq < s.size() && s[eq] == 's') ++eq;
        if (eq < s.size() && s[eq] == '=' && (at == 0 || is_sep(s[at - 1]))) {
            match_part = s.substr(0, at);
            action_part = s.substr(eq + 1);
            action_col = eq + 2;
            has_actions = true;
            break;
        }
    }
    if (deleting && has_actions) return parse_error{"a delete takes no actions", action_col - 8};
    if (!deleting && !has_actions) return parse_error{"must specify an action (actions=...)", 0};

    std::vector<token> toks;
    if (auto e = tokenize(match_part, 1, toks)) return *e;
    struct used_field {
        field_id f;
        std::size_t col;
    };
    std::vector<used_field> used;
    bool table_given = false;
    for (const token& t : toks) {
        std::uint64_t n = 0;
        if (t.key == "table") {
            if (auto e = parse_small(t, 255, n)) return *e;
            if (n == 255 && adding) return parse_error{"table: 255 is not a table a flow can be added to", t.value_col};
            fm.table = static_cast<std::uint8_t>(n);
            table_given = true;
        } else if (t.key == "priority") {
            if (auto e = parse_small(t, 0xffff, n)) return *e;
            fm.priority = static_cast<std::int32_t>(n);
        } else if (t.key == "idle_timeout") {
            if (auto e = parse_small(t, 0xffff, n)) return *e;
            fm.idle_timeout = static_cast<std::uint16_t>(n);
        } else if (t.key == "hard_timeout") {
            if (auto e = parse_small(t, 0xffff, n)) return *e;
            fm.hard_timeout = static_cast<std::uint16_t>(n);
        } else if (t.key == "cookie") {
            if (!t.has_value) return parse_error{"cookie: missing value", t.key_col};
            const std::size_t slash = t.value.find('/');
            const std::string_view v = t.value.substr(0, slash);
            const auto c = parse_c_u64(v); // (as ovs-ofctl: 010 is 8, -1 every bit)
            if (!c) return parse_error{"cookie: bad value " + quoted(v), t.value_col};
            fm.cookie = *c;
            if (slash != std::string_view::npos) {
                if (adding) return parse_error{"flow additions cannot use a cookie mask", t.value_col + slash};
                const auto cm = parse_c_u64(t.value.substr(slash + 1));
                if (!cm)
                    return parse_error{"cookie: bad mask " + quoted(t.value.substr(slash + 1)),
                                       t.value_col + slash + 1};
                fm.cookie_mask = *cm;
            } else if (!adding) {
                // mod/del: a cookie without a mask selects nothing by cookie
                // (Open vSwitch: only the "new cookie" of a modify).
            }
        } else if (const protocol* p = find_protocol(t.key)) {
            if (t.has_value) return parse_error{std::string(t.key) + " takes no value", t.value_col};
            set_protocol(fm.m, *p);
        } else if (t.key == "dl_vlan") {
            if (auto e = parse_small(t, 0xffff, n)) return *e;
            if (n == 0xffff) {
                fm.m.set(field_id::vlan_tci, 0, 0xffff); // no 802.1Q header
            } else if (n > 0xfff) {
                return parse_error{"dl_vlan: bad value " + quoted(t.value) + " (expected 0..4095 or 0xffff)",
                                   t.value_col};
            } else {
                fm.m.set(field_id::dl_vlan, n);
            }
        } else if (t.key == "dl_vlan_pcp" || t.key == "vlan_pcp") {
            if (auto e = parse_small(t, 7, n)) return *e;
            fm.m.set(field_id::vlan_pcp, n);
        } else if (t.key == "nw_tos") {
            if (auto e = parse_small(t, 255, n)) return *e;
            if (n & 3) return parse_error{"nw_tos: the two ECN bits must be zero (use nw_ecn)", t.value_col};
            fm.m.set(field_id::nw_tos, n, 0xfc);
            used.push_back({field_id::nw_tos, t.key_col});
        } else if (t.key == "nw_ecn" || t.key == "ip_ecn") {
            if (auto e = parse_small(t, 3, n)) return *e;
            fm.m.set(field_id::nw_tos, n, 0x03);
            used.push_back({field_id::nw_tos, t.key_col});
        } else if (auto f = find_field_any(t.key)) {
            if (!t.has_value) return parse_error{std::string(t.key) + ": missing value", t.key_col};
            uint128 v = 0, m = 0;
            if (auto e = parse_field_value(*f, t.value, t.value_col, true, v, m)) return *e;
            fm.m.set(*f, v, m);
            used.push_back({*f, t.key_col});
        } else if (t.key == "duration" || t.key == "n_packets" || t.key == "n_bytes" || t.key == "idle_age" ||
                   t.key == "hard_age") {
            // dump-flows statistics: ignored, so dump-flows output parses back (as ovs-ofctl does)
        } else if (t.key == "out_port" || t.key == "out_group") {
            return parse_error{std::string(t.key) + " filters are not supported", t.key_col};
        } else {
            return parse_error{"unknown field " + quoted(t.key), t.key_col};
        }
    }
    (void)table_given;
    // Prerequisites: any order in the string, checked once it is all read.
    for (const used_field& u : used) {
        if (u.f == field_id::nw_tos && fm.m.mask_of(field_id::nw_tos) == 0) continue;
        if (!prerequisite_met(fm.m, u.f))
            return parse_error{std::string(info(u.f).name) + " needs " + prerequisite_text(info(u.f).prereq) +
                                   " (prerequisite not met)",
                               u.col};
    }
    if (has_actions) {
        if (auto e = parse_actions_at(action_part, action_col, fm.m, fm.table, fm.actions)) return *e;
    }
    return fm;
}

// `ovs-ofctl add-flow` syntax.
[[nodiscard]] inline parse_result<flow_mod> parse_flow(std::string_view s) {
    return parse_flow_mod(flow_command::add, s);
}

// A file in `ovs-ofctl add-flows` syntax: one flow per line, blank lines and
// lines starting with '#' ignored. An error carries its line number.
[[nodiscard]] inline parse_result<std::vector<flow_mod>> parse_flows(std::string_view text,
                                                                     flow_command command = flow_command::add) {
    std::vector<flow_mod> out;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        std::size_t first = 0;
        while (first < line.size() && (line[first] == ' ' || line[first] == '\t' || line[first] == '\r')) ++first;
        if (first == line.size() || line[first] == '#') continue;
        auto r = parse_flow_mod(command, line);
        if (!r) {
            parse_error e = r.error();
            e.line = line_no;
            return e;
        }
        out.push_back(std::move(*r));
    }
    return out;
}

// Applies a parsed flow mod to a pipeline that has add/remove (and modify)
// by table number: generic_pipeline, and typed pipelines for tables that
// take generic action lists.
template <class Pipeline>
flow_mod_status apply(Pipeline& p, const flow_mod& fm, std::int64_t now_ms) {
    switch (fm.command) {
    case flow_command::add: return p.add(fm.table, fm.m, fm.priority, fm.actions, fm.options(), now_ms);
    case flow_command::modify:
    case flow_command::modify_strict:
        if constexpr (requires { p.modify(fm.table, fm.m, true, fm.priority, fm.actions, fm.cookies(), now_ms); }) {
            return p.modify(fm.table, fm.m, fm.strict(), fm.priority, fm.actions, fm.cookies(), now_ms);
        } else {
            return {flow_mod_errc::bad_action, 0, {}, "this pipeline does not take modify flow mods"};
        }
    case flow_command::remove:
    case flow_command::remove_strict: return p.remove(fm.table, fm.m, fm.strict(), fm.priority, fm.cookies());
    }
    return {flow_mod_errc::bad_action, 0, {}, "unknown flow mod command"};
}

// The column of the token in flow text `s` that matches field `f` (by any of
// its names, as a view of it, or through a protocol shorthand that sets it),
// or 0.
[[nodiscard]] inline std::size_t column_of_field(std::string_view s, field_id f) {
    const std::size_t actions_at = s.find("actions");
    std::vector<detail::token> toks;
    if (detail::tokenize(s.substr(0, actions_at), 1, toks)) return 0;
    const field_id base = info(f).base;
    for (const detail::token& t : toks) {
        if (auto g = detail::find_field_any(t.key); g && info(*g).base == base) return t.key_col;
        if (const detail::protocol* p = detail::find_protocol(t.key))
            if (f == field_id::eth_type || (f == field_id::nw_proto && p->nw_proto != 0)) return t.key_col;
    }
    return 0;
}

// Parses one flow mod and applies it: what `ovs-ofctl add-flow` (or mod-flows,
// del-flows) does. A refusal by the table (a field a typed table's schema
// does not have, a masked exact field, an unmet prerequisite, a full table)
// comes back as a parse_error naming the field and its column, like a syntax
// error; nothing is installed then.
template <class Pipeline>
[[nodiscard]] parse_result<flow_mod_status> install(Pipeline& p, std::string_view s, std::int64_t now_ms,
                                                    flow_command command = flow_command::add) {
    auto fm = parse_flow_mod(command, s);
    if (!fm) return fm.error();
    const flow_mod_status st = apply(p, *fm, now_ms);
    if (st) return st;
    std::string message = st.what();
    std::size_t column = 0;
    switch (st.code) {
    case flow_mod_errc::field_not_in_table:
    case flow_mod_errc::partial_exact_match:
    case flow_mod_errc::not_a_prefix:
    case flow_mod_errc::unmet_prerequisite:
        message = std::string(info(st.field).name) + ": " + message;
        column = column_of_field(s, st.field);
        break;
    default: break;
    }
    return parse_error{message, column};
}

// NORMAL (`actions=NORMAL`, `output:NORMAL`, `normal`) parses to
// actions::normal with no switch: the L2 learning switch it runs on (ports,
// access/trunk VLANs, the MAC table) belongs to the embedder
// (action/normal.hpp), one per bridge. bind_normal points the normal actions
// of parsed flow mods at it before they are installed and returns how many it
// bound; an unbound normal drops the packet.
inline std::size_t bind_normal(flow_mod& fm, l2_switch* sw) noexcept {
    std::size_t n = 0;
    for (any_action& a : fm.actions.list)
        if (auto* x = std::get_if<actions::normal>(&a)) {
            x->sw = sw;
            ++n;
        }
    return n;
}
inline std::size_t bind_normal(std::vector<flow_mod>& fms, l2_switch* sw) noexcept {
    std::size_t n = 0;
    for (flow_mod& fm : fms) n += bind_normal(fm, sw);
    return n;
}

// ---- packets ------------------------------------------------------------------

struct packet_parse_options {
    // Skip keys this parser does not know (recirc_id, nw_frag, tcp_flags,
    // vlan_tci1, ...), as found in `ofproto/trace` output.
    bool lenient = false;
};

// Parses a packet description (`in_port=1,dl_vlan=2,arp,arp_tpa=10.0.0.1`)
// into a flow key, as ofproto/trace does: every field not given is zero,
// in_port defaults to ANY, a field's prerequisite must come before it.
[[nodiscard]] inline parse_result<flow_key> parse_packet(std::string_view s, packet_parse_options opt = {}) {
    using namespace detail;
    flow_key k{};
    k.in_port = ports::none;
    std::vector<token> toks;
    if (auto e = tokenize(s, 1, toks)) return *e;
    auto type_match = [&] {
        match m;
        if (k.eth_type) m.set(field_id::eth_type, k.eth_type);
        if (k.nw_proto) m.set(field_id::nw_proto, k.nw_proto);
        if (k.icmp_type) m.set(field_id::icmp_type, k.icmp_type);
        return m;
    };
    for (const token& t : toks) {
        std::uint64_t n = 0;
        if (const protocol* p = find_protocol(t.key)) {
            if (t.has_value) return parse_error{std::string(t.key) + " takes no value", t.value_col};
            k.eth_type = p->eth_type;
            if (p->nw_proto) k.nw_proto = p->nw_proto;
        } else if (t.key == "dl_vlan") {
            if (auto e = parse_small(t, 0xffff, n)) return *e;
            if (n == 0xffff)
                k.vlan_tci = 0;
            else if (n > 0xfff)
                return parse_error{"dl_vlan: bad value " + quoted(t.value), t.value_col};
            else
                set(k, field_id::dl_vlan, n);
        } else if (t.key == "dl_vlan_pcp" || t.key == "vlan_pcp") {
            if (auto e = parse_small(t, 7, n)) return *e;
            set(k, field_id::vlan_pcp, n);
        } else if (t.key == "nw_tos") {
            if (auto e = parse_small(t, 255, n)) return *e;
            k.nw_tos = static_cast<std::uint8_t>((k.nw_tos & 3) | (n & 0xfc));
        } else if (t.key == "nw_ecn" || t.key == "ip_ecn") {
            if (auto e = parse_small(t, 3, n)) return *e;
            k.nw_tos = static_cast<std::uint8_t>((k.nw_tos & 0xfc) | n);
        } else if (auto f = find_field_any(t.key)) {
            if (!t.has_value) return parse_error{std::string(t.key) + ": missing value", t.key_col};
            if (!prerequisite_met(type_match(), *f))
                return parse_error{std::string(t.key) + " needs " + prerequisite_text(info(*f).prereq) +
                                       " before it (prerequisite not met)",
                                   t.key_col};
            uint128 v = 0, m = 0;
            if (auto e = parse_field_value(*f, t.value, t.value_col, false, v, m)) return *e;
            set(k, *f, v);
        } else if (!opt.lenient) {
            return parse_error{"unknown field " + quoted(t.key), t.key_col};
        }
    }
    return k;
}

// A packet description as a real frame (compose_frame of its key).
[[nodiscard]] inline parse_result<std::vector<std::uint8_t>> parse_packet_frame(std::string_view s) {
    auto k = parse_packet(s);
    if (!k) return k.error();
    std::vector<std::uint8_t> frame(compose_max_frame_len);
    frame.resize(compose_frame(*k, frame));
    return frame;
}

} // namespace flowpipe::ofctl
