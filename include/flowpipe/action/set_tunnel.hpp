// set_tunnel:ID (32-bit in Open vSwitch's encoding) and set_tunnel64:ID: the
// tunnel id (VNI, GRE key) the frame will carry when output to a tunnel port.
#pragma once

#include <cstdint>

namespace flowpipe::actions {

struct set_tunnel {
    std::uint64_t id = 0;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.edit().tun_id = id;
    }
    friend constexpr bool operator==(const set_tunnel&, const set_tunnel&) = default;
};

using set_tunnel64 = set_tunnel;

} // namespace flowpipe::actions
