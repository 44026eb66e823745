// Lowering: a run-time action list (generic_actions, what the text parser
// and a control socket produce) into one of the typed action lists a table
// allows, so that `ovs-ofctl`-style flows install into typed tables and then
// run at typed speed.
//
// The one idea: every typed action has exactly one run-time spelling, the one
// ofctl/print.hpp prints for it (`resubmit_to<20>` is `resubmit(,20)`,
// `load_to<vlan_tci::bits<0, 11>>` is `load:V->NXM_OF_VLAN_TCI[0..11]`,
// `output_ports<N>` is a run of `output:P`, the ARP responder is Neutron's
// eight actions). A typed list matches a generic list when its actions, in
// order, each consume their spelling from the front of the generic list and
// nothing is left over. Run-time values (a port, a VID, a loaded value, a
// learn's cookie) are taken from the generic actions; compile-time parts (a
// resubmit's table, a load's bits, a learn's specs) must be equal, or that
// list does not match. A table's lists are tried in declaration order and the
// first that matches wins; `output_ports<N>` takes as many outputs as it can
// (so a list that has it followed by a plain `output` never matches more
// than one trailing output: declare lists accordingly).
//
// Control path only: lowering allocates nothing per packet because it never
// runs per packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <flowpipe/action/actions.hpp>

namespace flowpipe {

namespace detail {

template <class T>
inline constexpr bool is_output_ports = false;
template <std::size_t N>
inline constexpr bool is_output_ports<actions::output_ports<N>> = true;
template <class T>
inline constexpr bool is_resubmit_to = false;
template <std::uint8_t T>
inline constexpr bool is_resubmit_to<actions::resubmit_to<T>> = true;
template <class T>
inline constexpr bool is_goto_to = false;
template <std::uint8_t T>
inline constexpr bool is_goto_to<actions::goto_table_to<T>> = true;
template <class T>
inline constexpr bool is_load_to = false;
template <class B>
inline constexpr bool is_load_to<actions::load_to<B>> = true;
template <class F>
inline constexpr bool is_load_to<actions::set_field_to<F>> = true;
template <class T>
inline constexpr bool is_move_bits = false;
template <class S, class D>
inline constexpr bool is_move_bits<actions::move_bits<S, D>> = true;
template <class T>
inline constexpr bool is_typed_learn_action = false;
template <class... A>
inline constexpr bool is_typed_learn_action<actions::learn<A...>> = true;

template <class T, class Variant>
inline constexpr bool is_alternative_of = false;
template <class T, class... Ts>
inline constexpr bool is_alternative_of<T, std::variant<Ts...>> = (std::is_same_v<T, Ts> || ...);

using action_cursor = std::span<const any_action>;

// The front of `in` as an A, or nullptr.
template <class A>
[[nodiscard]] const A* front_as(const action_cursor& in) noexcept {
    return in.empty() ? nullptr : std::get_if<A>(&in.front());
}

[[nodiscard]] inline bool is_move(const any_action& a, bit_range src, bit_range dst) noexcept {
    const auto* m = std::get_if<actions::move>(&a);
    return m && m->src == src && m->dst == dst;
}
[[nodiscard]] inline const actions::load* load_to_range(const any_action& a, bit_range dst) noexcept {
    const auto* l = std::get_if<actions::load>(&a);
    return l && l->dst == dst ? l : nullptr;
}

// Neutron's ARP responder as eight generic actions (see neutron/br_tun.hpp):
// move eth_src->eth_dst, mod_dl_src:M, load:2->arp_op, move sha->tha,
// move spa->tpa, load:M->arp_sha, load:IP->arp_spa, IN_PORT.
[[nodiscard]] inline bool take_arp_responder(action_cursor& in, actions::arp_responder& out) noexcept {
    if (in.size() < 8) return false;
    const auto whole = [](field_id f) { return bit_range::whole(f); };
    const auto* src = std::get_if<actions::mod_dl_src>(&in[1]);
    const auto* op = load_to_range(in[2], whole(field_id::arp_op));
    const auto* sha = load_to_range(in[5], whole(field_id::arp_sha));
    const auto* spa = load_to_range(in[6], whole(field_id::arp_spa));
    if (!is_move(in[0], whole(field_id::eth_src), whole(field_id::eth_dst)) || !src || !op || op->value != 2 ||
        !is_move(in[3], whole(field_id::arp_sha), whole(field_id::arp_tha)) ||
        !is_move(in[4], whole(field_id::arp_spa), whole(field_id::arp_tpa)) || !sha || sha->value != src->mac || !spa ||
        !std::holds_alternative<actions::in_port>(in[7]))
        return false;
    out.mac = src->mac;
    out.ip = static_cast<std::uint32_t>(spa->value);
    in = in.subspan(8);
    return true;
}

// Consumes the spelling of one typed action A from the front of `in` and
// fills `out`'s run-time values; false (cursor unspecified) when it is not there.
template <class A>
[[nodiscard]] bool take_action(action_cursor& in, A& out) {
    if constexpr (std::is_same_v<A, actions::drop>) {
        // `actions=drop` parses to an empty list; an explicit drop is consumed too.
        if (front_as<actions::drop>(in)) in = in.subspan(1);
        return true;
    } else if constexpr (is_output_ports<A>) {
        out = A{};
        while (const auto* o = front_as<actions::output>(in)) {
            if (!out.add(o->port)) break;
            in = in.subspan(1);
        }
        return out.count > 0;
    } else if constexpr (is_resubmit_to<A>) {
        const auto* r = front_as<actions::resubmit>(in);
        if (!r || r->port != ports::in_port || r->table != A::table) return false;
        in = in.subspan(1);
        return true;
    } else if constexpr (is_goto_to<A>) {
        const auto* g = front_as<actions::goto_table>(in);
        if (!g || g->table != A{}.table) return false;
        in = in.subspan(1);
        return true;
    } else if constexpr (is_load_to<A>) {
        const auto* l = in.empty() ? nullptr : load_to_range(in.front(), A::dst);
        if (!l || (l->value & ~A::dst.mask()) != 0) return false;
        out.value = static_cast<decltype(out.value)>(l->value);
        in = in.subspan(1);
        return true;
    } else if constexpr (is_move_bits<A>) {
        if (in.empty() || !is_move(in.front(), A::src, A::dst)) return false;
        in = in.subspan(1);
        return true;
    } else if constexpr (is_typed_learn_action<A>) {
        const auto* g = front_as<actions::generic_learn>(in);
        if (!g) return false;
        out.cookie = g->d->cookie;
        out.limit = g->d->limit;
        if (!(actions::describe(out) == *g->d)) return false;
        in = in.subspan(1);
        return true;
    } else if constexpr (std::is_same_v<A, actions::arp_responder>) {
        if (const auto* a = front_as<actions::arp_responder>(in)) {
            out = *a;
            in = in.subspan(1);
            return true;
        }
        return take_arp_responder(in, out);
    } else if constexpr (is_alternative_of<A, any_action>) {
        const auto* a = front_as<A>(in);
        if (!a) return false;
        out = *a;
        in = in.subspan(1);
        return true;
    } else {
        return false; // an action type with no run-time spelling
    }
}

} // namespace detail

// `acts` as the typed action list List, or nullopt when List does not spell
// the same actions.
template <class List>
[[nodiscard]] std::optional<List> lower(const generic_actions& acts) {
    static_assert(is_action_list<List>, "lower<List>(acts) requires List to be an action_list<...>");
    List out{};
    detail::action_cursor in(acts.list);
    const bool all = std::apply([&](auto&... a) { return (detail::take_action(in, a) && ...); }, out.actions);
    if (!all || !in.empty()) return std::nullopt;
    return out;
}

// `acts` as a flow of a table with allowed<Lists...> stores it (the first
// list that spells the same actions), or nullopt.
template <class Allowed>
[[nodiscard]] std::optional<typename Allowed::storage> lower_to(const generic_actions& acts) {
    static_assert(is_allowed_actions<Allowed>, "lower_to<Allowed>(acts) requires Allowed to be an allowed<...>");
    std::optional<typename Allowed::storage> out;
    [&]<class... Lists>(allowed<Lists...>*) {
        (void)((out = [&]() -> std::optional<typename Allowed::storage> {
                   if (auto l = lower<Lists>(acts)) return typename Allowed::storage(std::in_place_type<Lists>, *l);
                   return std::nullopt;
               }())
                   .has_value() ||
               ...);
    }(static_cast<Allowed*>(nullptr));
    return out;
}

} // namespace flowpipe
