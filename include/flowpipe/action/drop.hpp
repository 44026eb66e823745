// drop: an explicit empty action list. A packet that no action outputs is
// dropped anyway; `drop` exists so that `actions=drop` reads as written.
#pragma once

namespace flowpipe::actions {

struct drop {
    template <class Ctx>
    void operator()(Ctx&) const noexcept {}
    friend constexpr bool operator==(const drop&, const drop&) = default;
};

} // namespace flowpipe::actions
