// Field values as ovs-ofctl writes them: integers (decimal or 0x hex), MAC
// addresses, IPv4 and IPv6 addresses, port numbers and the reserved port
// names, in both directions.
//
// The one idea: every parser takes the whole token and says yes or no (no
// partial reads, no exceptions, no locale), and every printer writes exactly
// what Open vSwitch 3.1 prints (`%#x` style hex, so zero is "0"; IPv6 in the
// RFC 5952 form glibc's inet_ntop gives), so that print(parse(x)) == x for
// what ovs-ofctl itself prints.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <flowpipe/action/context.hpp>
#include <flowpipe/core/flow_key.hpp>

namespace flowpipe::ofctl {

// ---- parsing ----------------------------------------------------------------

namespace detail {
[[nodiscard]] constexpr int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}
// A reserved port by its name (case-insensitive), as ovs-ofctl names them.
[[nodiscard]] inline std::optional<std::uint32_t> named_port(std::string_view s) noexcept {
    struct named {
        std::string_view name;
        std::uint32_t port;
    };
    static constexpr std::array<named, 9> names{{{"IN_PORT", ports::in_port},
                                                 {"TABLE", 0xfffffff9u},
                                                 {"NORMAL", ports::normal},
                                                 {"FLOOD", 0xfffffffbu},
                                                 {"ALL", 0xfffffffcu},
                                                 {"CONTROLLER", ports::controller},
                                                 {"LOCAL", ports::local},
                                                 {"ANY", ports::none},
                                                 {"NONE", ports::none}}};
    for (const named& n : names)
        if (iequals(s, n.name)) return n.port;
    return std::nullopt;
}
} // namespace detail

// A decimal or 0x-prefixed hexadecimal unsigned integer of up to 128 bits.
// A number as C's strtoull(s, .., 0) reads it, which is how ovs-ofctl reads
// cookies (str_to_u64): an optional sign, then hex after 0x, octal after a
// leading 0, else decimal (`010` is 8); a '-' negates modulo 2^64 (`-1` is
// every bit); a value past 2^64 - 1, or anything after the digits, is
// refused.
[[nodiscard]] inline std::optional<std::uint64_t> parse_c_u64(std::string_view s) noexcept {
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    unsigned base = 10;
    if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    } else if (!s.empty() && s[0] == '0') {
        base = 8;
    }
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        const int d = base == 16                                        ? detail::hex_digit(c)
                      : (c >= '0' && c < static_cast<char>('0' + base)) ? c - '0'
                                                                        : -1;
        if (d < 0) return std::nullopt;
        if (v > (~std::uint64_t{0} - static_cast<unsigned>(d)) / base) return std::nullopt;
        v = v * base + static_cast<unsigned>(d);
    }
    return negative ? std::uint64_t{0} - v : v;
}

[[nodiscard]] inline std::optional<uint128> parse_uint(std::string_view s) noexcept {
    if (s.empty()) return std::nullopt;
    uint128 v = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        while (s.size() > 1 && s[0] == '0') s.remove_prefix(1);
        if (s.size() > 32) return std::nullopt;
        for (char c : s) {
            const int d = detail::hex_digit(c);
            if (d < 0) return std::nullopt;
            v = (v << 4) | static_cast<unsigned>(d);
        }
        return v;
    }
    const uint128 max = ~uint128{0};
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const unsigned d = static_cast<unsigned>(c - '0');
        if (v > (max - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

// xx:xx:xx:xx:xx:xx (one or two hex digits per byte, as ovs-ofctl takes it).
[[nodiscard]] inline std::optional<std::uint64_t> parse_mac(std::string_view s) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 6; ++i) {
        if (i > 0) {
            if (s.empty() || s[0] != ':') return std::nullopt;
            s.remove_prefix(1);
        }
        int n = 0, b = 0;
        while (n < 2 && !s.empty() && detail::hex_digit(s[0]) >= 0) {
            b = b * 16 + detail::hex_digit(s[0]);
            s.remove_prefix(1);
            ++n;
        }
        if (n == 0) return std::nullopt;
        v = (v << 8) | static_cast<unsigned>(b);
    }
    if (!s.empty()) return std::nullopt;
    return v;
}

// a.b.c.d
[[nodiscard]] inline std::optional<std::uint32_t> parse_ipv4(std::string_view s) noexcept {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
        if (i > 0) {
            if (s.empty() || s[0] != '.') return std::nullopt;
            s.remove_prefix(1);
        }
        int n = 0;
        unsigned b = 0;
        while (!s.empty() && s[0] >= '0' && s[0] <= '9' && n < 3) {
            b = b * 10 + static_cast<unsigned>(s[0] - '0');
            s.remove_prefix(1);
            ++n;
        }
        if (n == 0 || b > 255) return std::nullopt;
        v = (v << 8) | b;
    }
    if (!s.empty()) return std::nullopt;
    return v;
}

// RFC 4291 text: eight groups, one "::", an optional dotted IPv4 tail.
[[nodiscard]] inline std::optional<uint128> parse_ipv6(std::string_view s) noexcept {
    std::array<std::uint16_t, 8> head{}, tail{};
    int n_head = 0, n_tail = 0;
    bool gap = false;
    if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
        gap = true;
        s.remove_prefix(2);
    } else if (!s.empty() && s[0] == ':') {
        return std::nullopt;
    }
    while (!s.empty()) {
        auto& groups = gap ? tail : head;
        int& n = gap ? n_tail : n_head;
        // An IPv4 tail takes the last two groups.
        const std::size_t colon = s.find(':');
        const std::string_view word = s.substr(0, colon);
        if (colon == std::string_view::npos && word.find('.') != std::string_view::npos) {
            const auto v4 = parse_ipv4(word);
            if (!v4 || n + 2 > 8) return std::nullopt;
            groups[static_cast<std::size_t>(n++)] = static_cast<std::uint16_t>(*v4 >> 16);
            groups[static_cast<std::size_t>(n++)] = static_cast<std::uint16_t>(*v4);
            s = {};
            break;
        }
        if (word.empty() || word.size() > 4 || n == 8) return std::nullopt;
        unsigned g = 0;
        for (char c : word) {
            const int d = detail::hex_digit(c);
            if (d < 0) return std::nullopt;
            g = g * 16 + static_cast<unsigned>(d);
        }
        groups[static_cast<std::size_t>(n++)] = static_cast<std::uint16_t>(g);
        if (colon == std::string_view::npos) {
            s = {};
            break;
        }
        s.remove_prefix(colon + 1);
        if (!s.empty() && s[0] == ':') {
            if (gap) return std::nullopt;
            gap = true;
            s.remove_prefix(1);
        } else if (s.empty()) {
            return std::nullopt; // trailing single colon
        }
    }
    if (gap ? n_head + n_tail > 7 : n_head != 8) return std::nullopt;
    uint128 v = 0;
    for (int i = 0; i < n_head; ++i) v = (v << 16) | head[static_cast<std::size_t>(i)];
    for (int i = n_head; i < 8; ++i) v <<= 16;
    uint128 t = 0;
    for (int i = 0; i < n_tail; ++i) t = (t << 16) | tail[static_cast<std::size_t>(i)];
    return v | t;
}

// An OpenFlow 1.0 port (16 bits) as ofputil_port_from_string takes it where
// Open vSwitch's own field is the 16-bit `in_port` (a learn's `in_port=`
// or `NXM_OF_IN_PORT[]=` constant): a reserved name (case-insensitive,
// UNSET and NONE too), or a decimal number (strtoll base 10: one leading
// '+', no "0x", no '-') below 0xff00, a reserved OF1.0 number
// 0xff00..0xffff, or an OF1.1 reserved number 0xffffff00..0xffffffff, which
// is its OF1.0 self (4294967294 is LOCAL). Anything else is refused, as
// Open vSwitch refuses it.
[[nodiscard]] inline std::optional<std::uint16_t> parse_ofp10_port(std::string_view s) noexcept {
    if (detail::iequals(s, "UNSET")) return 0xfff7;
    if (auto p = detail::named_port(s)) return ports::to_ofp10(*p);
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
        if (v > 0xffffffffu) return std::nullopt; // str_to_uint: above UINT_MAX
    }
    if (v <= 0xffff) return static_cast<std::uint16_t>(v);
    if (v >= 0xffffff00u) return ports::to_ofp10(static_cast<std::uint32_t>(v));
    return std::nullopt;
}

// An OpenFlow port as ovs-ofctl takes it (OpenFlow 1.0, where Open vSwitch's
// ports are 16 bits): parse_ofp10_port above, as flowpipe's 32-bit port
// (ports::from_ofp10: 65534 is LOCAL, 65280 is 4294967040). Hex and
// numbers between 65536 and 4294967039 are refused, as ovs-ofctl refuses
// them; flowpipe's API takes any 32-bit port.
[[nodiscard]] inline std::optional<std::uint32_t> parse_port(std::string_view s) noexcept {
    const auto p = parse_ofp10_port(s);
    if (!p) return std::nullopt;
    return ports::from_ofp10(*p);
}

// ---- printing ---------------------------------------------------------------

// C's "%#x": "0" for zero, "0x..." otherwise.
inline void append_hex(std::string& out, uint128 v) {
    if (v == 0) {
        out += '0';
        return;
    }
    char buf[34];
    int n = 0;
    while (v != 0) {
        buf[n++] = "0123456789abcdef"[static_cast<unsigned>(v & 0xf)];
        v >>= 4;
    }
    out += "0x";
    while (n > 0) out += buf[--n];
}

// Zero-padded hex of `digits` digits with a 0x prefix ("0x%04x").
inline void append_hex_padded(std::string& out, uint128 v, int digits) {
    out += "0x";
    for (int i = digits - 1; i >= 0; --i) out += "0123456789abcdef"[static_cast<unsigned>((v >> (4 * i)) & 0xf)];
}

inline void append_dec(std::string& out, uint128 v) {
    char buf[40];
    int n = 0;
    do {
        buf[n++] = static_cast<char>('0' + static_cast<unsigned>(v % 10));
        v /= 10;
    } while (v != 0);
    while (n > 0) out += buf[--n];
}

inline void append_mac(std::string& out, std::uint64_t mac) {
    for (int i = 5; i >= 0; --i) {
        const unsigned b = static_cast<unsigned>(mac >> (8 * i)) & 0xff;
        out += "0123456789abcdef"[b >> 4];
        out += "0123456789abcdef"[b & 0xf];
        if (i) out += ':';
    }
}

inline void append_ipv4(std::string& out, std::uint32_t ip) {
    for (int i = 3; i >= 0; --i) {
        append_dec(out, (ip >> (8 * i)) & 0xff);
        if (i) out += '.';
    }
}

// As glibc's inet_ntop prints it: the longest run (>= 2) of zero groups as
// "::", lower-case hex, an IPv4 tail for ::a.b.c.d and ::ffff:a.b.c.d.
inline void append_ipv6(std::string& out, uint128 ip) {
    std::array<unsigned, 8> w{};
    for (int i = 0; i < 8; ++i) w[static_cast<std::size_t>(i)] = static_cast<unsigned>(ip >> (16 * (7 - i))) & 0xffff;
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[static_cast<std::size_t>(i)] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && w[static_cast<std::size_t>(j)] == 0) ++j;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2) best = -1;
    for (int i = 0; i < 8; ++i) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best) out += ':';
            continue;
        }
        if (i != 0) out += ':';
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
            append_ipv4(out, static_cast<std::uint32_t>(ip));
            return;
        }
        char buf[5];
        int n = 0;
        unsigned g = w[static_cast<std::size_t>(i)];
        do {
            buf[n++] = "0123456789abcdef"[g & 0xf];
            g >>= 4;
        } while (g != 0);
        while (n > 0) out += buf[--n];
    }
    if (best >= 0 && best + best_len == 8) out += ':';
}

// A port as ovs-ofctl prints it (ofputil_format_port, OpenFlow 1.0): the
// reserved ports 0xfffffff7.. by name, the other reserved numbers
// 0xffffff00.. as their 16-bit selves (4294967040 is 65280), every other
// number in decimal.
inline void append_port(std::string& out, std::uint32_t port) {
    switch (port) {
    case 0xfffffff7u: out += "UNSET"; return;
    case ports::in_port: out += "IN_PORT"; return;
    case 0xfffffff9u: out += "TABLE"; return;
    case ports::normal: out += "NORMAL"; return;
    case 0xfffffffbu: out += "FLOOD"; return;
    case 0xfffffffcu: out += "ALL"; return;
    case ports::controller: out += "CONTROLLER"; return;
    case ports::local: out += "LOCAL"; return;
    case ports::none: out += "ANY"; return;
    default: append_dec(out, port >= 0xffffff00u ? ports::to_ofp10(port) : port);
    }
}

// A 16-bit OpenFlow 1.0 port, the same way.
inline void append_ofp10_port(std::string& out, std::uint16_t port) { append_port(out, ports::from_ofp10(port)); }

// The number of leading one bits of `mask` (of `width` bits) if it is a
// CIDR-style prefix mask, else -1.
[[nodiscard]] inline int prefix_length(uint128 mask, int width) noexcept {
    int n = 0;
    while (n < width && ((mask >> (width - 1 - n)) & 1)) ++n;
    const uint128 all = width >= 128 ? ~uint128{0} : ((uint128{1} << width) - 1);
    const uint128 expect = n == 0 ? uint128{0} : ((all >> (width - n)) << (width - n)) & all;
    return (mask & all) == expect ? n : -1;
}

[[nodiscard]] inline uint128 prefix_mask(int n, int width) noexcept {
    const uint128 all = width >= 128 ? ~uint128{0} : ((uint128{1} << width) - 1);
    if (n <= 0) return 0;
    return ((all >> (width - n)) << (width - n)) & all;
}

} // namespace flowpipe::ofctl
