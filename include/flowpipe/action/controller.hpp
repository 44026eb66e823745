// controller(max_len=N): hand the packet (its key as edited so far and its
// frame as received) to the embedder's controller callback. Processing goes on
// after it, as with Open vSwitch's controller action.
#pragma once

#include <cstdint>

namespace flowpipe::actions {

struct controller {
    std::uint16_t max_len = 0xffff;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.to_controller(max_len);
    }
    friend constexpr bool operator==(const controller&, const controller&) = default;
};

} // namespace flowpipe::actions
