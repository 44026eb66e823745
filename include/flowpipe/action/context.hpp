// What an action may do to the packet it runs on: the execution context
// concept every action is written against.
//
// Actions are plain structs holding their run-time arguments (a port, a
// tunnel id, a MAC); `a(ctx)` runs one. The context is the pipeline's
// per-packet state, a template parameter, so an action list compiles to
// straight-line code with no indirect call.
#pragma once

#include <concepts>
#include <cstdint>

#include <flowpipe/core/flow_key.hpp>

namespace flowpipe {

// Port numbers with a meaning of their own (OpenFlow's reserved ports).
namespace ports {
inline constexpr std::uint32_t in_port = 0xfffffff8;    // OFPP_IN_PORT
inline constexpr std::uint32_t normal = 0xfffffffa;     // OFPP_NORMAL
inline constexpr std::uint32_t controller = 0xfffffffd; // OFPP_CONTROLLER
inline constexpr std::uint32_t local = 0xfffffffe;      // OFPP_LOCAL
inline constexpr std::uint32_t none = 0xffffffff;       // OFPP_NONE / OFPP_ANY

// Open vSwitch's 16-bit (OpenFlow 1.0) port numbers and flowpipe's 32-bit
// ones (OpenFlow 1.1's), as ofputil_port_to_ofp11 / ofputil_port_from_ofp11
// map them: the reserved ports 0xff00.. are 0xffffff00..; a 32-bit number
// with no 16-bit twin is ANY.
[[nodiscard]] constexpr std::uint32_t from_ofp10(std::uint16_t p) noexcept { return p < 0xff00 ? p : 0xffff0000u + p; }
[[nodiscard]] constexpr std::uint16_t to_ofp10(std::uint32_t p) noexcept {
    if (p < 0xff00) return static_cast<std::uint16_t>(p);
    if (p >= 0xffffff00u) return static_cast<std::uint16_t>(p - 0xffff0000u);
    return 0xffff;
}
} // namespace ports

// The table number that means "the table this action runs in" (resubmit:P).
inline constexpr std::uint8_t current_table = 255;

template <class Ctx>
concept action_context = requires(Ctx& c, const Ctx& cc, std::uint32_t port, std::uint8_t table, std::uint16_t len) {
    { cc.key() } -> std::same_as<const flow_key&>;
    { c.edit() } -> std::same_as<flow_key&>; // the key, about to be modified
    c.output(port);                          // dropped when port == in_port
    c.output_in_port();                      // back out of the input port
    c.resubmit(port, table);                 // port: ports::in_port keeps in_port
    c.goto_table(table);
    c.to_controller(len);
    c.stop(); // no further actions for this packet
    { cc.table_id() } -> std::convertible_to<std::uint8_t>;
};

} // namespace flowpipe
