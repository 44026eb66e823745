// move:F1[a..b]->F2[c..d]: copy bits of one field into bits of another.
// Both ranges must have the same width: a run-time `move` is checked when its
// flow is installed, a compile-time `move_bits<Src, Dst>` when it is compiled.
#pragma once

#include <flowpipe/core/field.hpp>

namespace flowpipe::actions {

struct move {
    bit_range src{};
    bit_range dst{};
    [[nodiscard]] constexpr bool valid() const noexcept {
        return src.valid() && dst.valid() && src.n_bits == dst.n_bits;
    }
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        const uint128 v = get(ctx.key(), src);
        set(ctx.edit(), dst, v);
    }
    friend constexpr bool operator==(const move&, const move&) = default;
};

template <class Src, class Dst>
struct move_bits {
    static_assert(Src::range.n_bits == Dst::range.n_bits,
                  "move_bits<Src, Dst> needs source and destination of the same width");
    static constexpr bit_range src = Src::range;
    static constexpr bit_range dst = Dst::range;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        const uint128 v = get(ctx.key(), src);
        set(ctx.edit(), dst, v);
    }
    friend constexpr bool operator==(const move_bits&, const move_bits&) = default;
};

} // namespace flowpipe::actions
