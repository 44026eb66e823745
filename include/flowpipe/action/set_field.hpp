// set_field:V->F and load:V->F[a..b]: write a constant into a field or into
// some of its bits. `load` carries its bit range at run time (text flows);
// `load_to<Bits>` and `set_field_to<F>` fix the destination at compile time,
// which leaves a single store in the compiled action list.
#pragma once

#include <flowpipe/core/field.hpp>

namespace flowpipe::actions {

struct load {
    bit_range dst{};
    uint128 value = 0;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        set(ctx.edit(), dst, value);
    }
    friend constexpr bool operator==(const load&, const load&) = default;
};

// set_field:V->F is load:V->F[] (the whole field).
[[nodiscard]] inline load set_field(field_id f, uint128 v) noexcept { return load{bit_range::whole(f), v}; }

template <class Bits>
struct load_to {
    static constexpr bit_range dst = Bits::range;
    typename Bits::value_type value{};
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        set(ctx.edit(), dst, value);
    }
    friend constexpr bool operator==(const load_to&, const load_to&) = default;
};

template <field_type F>
struct set_field_to {
    static constexpr bit_range dst = F::range;
    typename F::value_type value{};
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        F::set(ctx.edit(), value);
    }
    friend constexpr bool operator==(const set_field_to&, const set_field_to&) = default;
};

} // namespace flowpipe::actions
