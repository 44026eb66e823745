// in_port (IN_PORT): send the frame back out of the port it came in on.
#pragma once

namespace flowpipe::actions {

struct in_port {
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.output_in_port();
    }
    friend constexpr bool operator==(const in_port&, const in_port&) = default;
};

} // namespace flowpipe::actions
