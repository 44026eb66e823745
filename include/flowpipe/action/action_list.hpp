// Action lists: the actions a flow runs, as a type.
//
// `action_list<strip_vlan, set_tunnel, output>` is a type list whose run-time
// arguments (the tunnel id, the port) are stored in each flow; running it is
// a fold over its actions, inlined at compile time. A table declares the
// lists its flows may carry with `allowed<List1, List2, ...>`; a flow holds
// one of them and the table dispatches on which one with a compile-time
// switch (`dispatch`), never a virtual call.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <flowpipe/action/context.hpp>

namespace flowpipe {

template <class... Actions>
struct action_list {
    std::tuple<Actions...> actions;

    constexpr action_list() = default;
    constexpr explicit action_list(Actions... as) : actions(std::move(as)...) {}

    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        std::apply([&](const auto&... a) { ((ctx.stopped() ? void() : a(ctx)), ...); }, actions);
    }

    template <class F>
    void for_each(F&& f) const {
        std::apply([&](const auto&... a) { (f(a), ...); }, actions);
    }

    friend constexpr bool operator==(const action_list&, const action_list&) = default;
};

template <class T>
inline constexpr bool is_action_list = false;
template <class... A>
inline constexpr bool is_action_list<action_list<A...>> = true;

// Calls f(std::integral_constant<std::size_t, I>{}) for the I == i, out of N:
// a chain of compares the compiler turns into a switch.
template <std::size_t N, class F>
inline void dispatch(std::size_t i, F&& f) {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        (void)((i == Is ? (f(std::integral_constant<std::size_t, Is>{}), true) : false) || ...);
    }
    (std::make_index_sequence<N>{});
}

// The action lists a table's flows may use. A flow stores one of them.
template <class... Lists>
struct allowed {
    static_assert(sizeof...(Lists) > 0, "allowed<...> names at least one action list");
    using storage = std::variant<Lists...>;
    static constexpr std::size_t count = sizeof...(Lists);

    template <class L>
    static constexpr bool allows = (std::is_same_v<L, Lists> || ...);

    template <class Ctx>
    static void run(const storage& s, Ctx& ctx) noexcept {
        if constexpr (count == 1) {
            (*std::get_if<0>(&s))(ctx);
        } else {
            dispatch<count>(s.index(), [&](auto I) { (*std::get_if<I.value>(&s))(ctx); });
        }
    }
};

template <class T>
inline constexpr bool is_allowed_actions = false;
template <class... L>
inline constexpr bool is_allowed_actions<allowed<L...>> = true;

} // namespace flowpipe
