// A pipeline of typed flow tables, numbered like OpenFlow tables.
//
//   using br_tun = flowpipe::pipeline<
//       flowpipe::table<0, schema<exact<fields::in_port>>, allowed<action_list<resubmit_to<2>>, ...>>,
//       flowpipe::table<20, schema<exact<fields::dl_vlan>, exact<fields::eth_dst>>, ...>,
//       ...>;
//
// The table set is a Boost.Hana map from table number to table, built at
// compile time; `p.table<20>()` is the flow table for number 20, and running
// table N at run time (a resubmit's target) is a switch over the numbers the
// pipeline has, so every lookup and every action list is a direct call.
// Compile-time checks: numbers unique and in 0..254, and every compile-time
// `goto_table_to<T>` goes to a later table.
#pragma once

#include <boost/hana/at_key.hpp>
#include <boost/hana/contains.hpp>
#include <boost/hana/integral_constant.hpp>
#include <boost/hana/map.hpp>
#include <boost/hana/pair.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <flowpipe/action/action_list.hpp>
#include <flowpipe/action/generic.hpp>
#include <flowpipe/action/goto_table.hpp>
#include <flowpipe/action/lower.hpp>
#include <flowpipe/pipeline/engine.hpp>
#include <flowpipe/table/flow_table.hpp>

namespace flowpipe {

namespace hana = boost::hana;

// Declares table number Id: its schema, the action lists its flows may use
// and (optionally) the lookup structure.
template <std::uint8_t Id, class Schema, class Allowed, class Lookup = lookup::automatic>
struct table {
    static_assert(Id != 255, "table numbers are 0..254");
    static constexpr std::uint8_t id = Id;
    using flow_table_type = flow_table<Schema, Allowed, Lookup>;
};

template <class T>
inline constexpr bool is_table = false;
template <std::uint8_t Id, class S, class A, class L>
inline constexpr bool is_table<table<Id, S, A, L>> = true;

// Table sizes and overflow policies, per table number; the flow cache.
struct pipeline_config {
    table_config default_table{};
    std::vector<std::pair<std::uint8_t, table_config>> tables{};
    // Entries of the exact-match flow cache in front of the tables
    // (pipeline/flow_cache.hpp), rounded up to a power of two; 0: no cache.
    std::size_t flow_cache = 0;
    // Learns into big exact tables staged per burst and installed together
    // just before anything can see them (pipeline/engine.hpp); false: each
    // learn installs while its packet runs. The tables end up the same.
    bool defer_learns = true;

    [[nodiscard]] table_config for_table(std::uint8_t id) const {
        for (const auto& [n, c] : tables)
            if (n == id) return c;
        return default_table;
    }
};

namespace detail {

// Does action A, used in table From, go to a table not after From?
template <std::uint8_t From, class A>
struct backward_goto : std::false_type {};
template <std::uint8_t From, std::uint8_t T>
struct backward_goto<From, actions::goto_table_to<T>> : std::bool_constant<(T <= From)> {};

template <std::uint8_t From, class List>
struct list_has_backward_goto : std::false_type {};
template <std::uint8_t From, class... A>
struct list_has_backward_goto<From, action_list<A...>> : std::bool_constant<(backward_goto<From, A>::value || ...)> {};

template <class Table>
struct table_has_backward_goto;
template <std::uint8_t Id, class S, class... Lists, class L>
struct table_has_backward_goto<table<Id, S, allowed<Lists...>, L>>
    : std::bool_constant<(list_has_backward_goto<Id, Lists>::value || ...)> {};

template <std::uint8_t... Ids>
constexpr bool unique_ids() {
    constexpr std::uint8_t ids[] = {Ids...};
    for (std::size_t i = 0; i < sizeof...(Ids); ++i)
        for (std::size_t j = i + 1; j < sizeof...(Ids); ++j)
            if (ids[i] == ids[j]) return false;
    return true;
}

// A flow table that knows its number (constructed from the pipeline's config).
template <class T>
struct table_slot : T::flow_table_type {
    using flow_table_type = typename T::flow_table_type;
    explicit table_slot(const pipeline_config& c) : T::flow_table_type(c.for_table(T::id), T::id) {}
};

} // namespace detail

template <class... Tables>
class pipeline {
    static_assert(sizeof...(Tables) > 0, "a pipeline has at least one table");
    static_assert((is_table<Tables> && ...), "pipeline<...> takes table<Id, Schema, Allowed> elements");
    static_assert(detail::unique_ids<Tables::id...>(), "each table number appears once in a pipeline");
    static_assert((!detail::table_has_backward_goto<Tables>::value && ...), "goto_table must go to a later table");

    using slots = std::tuple<detail::table_slot<Tables>...>;

    // table number -> position in `slots`
    static constexpr auto positions = [] {
        return []<std::size_t... I>(std::index_sequence<I...>) {
            return hana::make_map(hana::make_pair(hana::integral_c<std::uint8_t, Tables::id>, hana::size_c<I>)...);
        }
        (std::index_sequence_for<Tables...>{});
    }();

  public:
    explicit pipeline(const pipeline_config& cfg = {})
        : tables_(std::make_unique<slots>(((void)sizeof(Tables), cfg)...)),
          scratch_(std::make_unique<engine_scratch>()),
          cache_(cfg.flow_cache != 0 ? std::make_unique<flowpipe::flow_cache>(cfg.flow_cache) : nullptr),
          defer_learns_(cfg.defer_learns) {}

    // The flow table numbered Id.
    template <std::uint8_t Id>
    [[nodiscard]] auto& table() noexcept {
        static_assert(hana::contains(decltype(positions){}, hana::integral_c<std::uint8_t, Id>),
                      "this pipeline has no table with that number");
        constexpr std::size_t pos = decltype(+positions[hana::integral_c<std::uint8_t, Id>])::value;
        return static_cast<typename std::tuple_element_t<pos, std::tuple<Tables...>>::flow_table_type&>(
            std::get<pos>(*tables_));
    }

    static constexpr bool has_table(std::uint8_t id) noexcept { return ((Tables::id == id) || ...); }

    // Runs a burst from table 0 at time now_ms; results in `out`.
    template <class Hooks = no_hooks>
    void run(std::span<packet> pkts, std::int64_t now_ms, burst_output& out, Hooks&& hooks = Hooks{}) {
        run_burst(*this, *scratch_, pkts, now_ms, out, hooks, defer_learns_);
    }

    // Expires timed-out flows in every table; returns how many went.
    std::size_t expire(std::int64_t now_ms) {
        std::size_t n = 0;
        for_each_table([&](auto& t) { n += t.expire(now_ms); });
        return n;
    }

    // Calls f(flow_table&) for each table, in declaration order.
    template <class F>
    void for_each_table(F&& f) {
        std::apply(
            [&](auto&... t) {
                (f(static_cast<typename std::remove_reference_t<decltype(t)>::flow_table_type&>(t)), ...);
            },
            *tables_);
    }

    // ---- run-time flow mods by table number (text, learn, generic code) ----

    // Adds a flow with run-time actions to table `id`: as they are when the
    // table stores generic_actions, otherwise lowered (action/lower.hpp) to
    // the first of the table's allowed lists that spells the same actions.
    flow_mod_status add(std::uint8_t id, const match& m, std::int32_t priority, const generic_actions& acts,
                        const flow_options& o, std::int64_t now_ms) {
        flow_mod_status st{flow_mod_errc::no_such_table};
        with_table(id, [&](auto& t) {
            with_actions_for<std::remove_reference_t<decltype(t)>>(
                id, acts, st, [&](auto&& a) { st = t.add(m, priority, a, o, now_ms); });
        });
        return st;
    }

    // ovs-ofctl mod-flows [--strict] on table `id` (a typed pipeline needs the
    // table: its tables take different action lists).
    flow_mod_status modify(std::uint8_t id, const match& m, bool strict, std::int32_t priority,
                           const generic_actions& acts, cookie_filter cookie, std::int64_t now_ms) {
        if (id == 255) return {flow_mod_errc::no_such_table, 0, {}, "mod-flows on a typed pipeline needs table=N"};
        flow_mod_status st{flow_mod_errc::no_such_table};
        with_table(id, [&](auto& t) {
            with_actions_for<std::remove_reference_t<decltype(t)>>(
                id, acts, st, [&](auto&& a) { st = t.modify(m, strict, priority, a, cookie, now_ms); });
        });
        invalidate_flow_cache(); // actions replaced in place: the tables' changes() do not see it
        return st;
    }

    // Deletes (strictly or not) from table `id`, or from every table when id is 255.
    flow_mod_status remove(std::uint8_t id, const match& m, bool strict, std::int32_t priority = 0,
                           cookie_filter cookie = {}) {
        if (id == 255) {
            flow_mod_status total;
            for_each_table([&](auto& t) {
                // A match that does not fit a table's schema selects nothing there.
                total.count += t.remove(m, strict, priority, cookie).count;
            });
            return total;
        }
        flow_mod_status st{flow_mod_errc::no_such_table};
        with_table(id, [&](auto& t) { st = t.remove(m, strict, priority, cookie); });
        return st;
    }

    // ---- the flow cache (null when pipeline_config::flow_cache is 0) ----
    [[nodiscard]] flowpipe::flow_cache* flow_cache_ptr() noexcept { return cache_.get(); }
    [[nodiscard]] const flowpipe::flow_cache* flow_cache_ptr() const noexcept { return cache_.get(); }
    // For an embedder that replaced a flow's actions through table<N>()
    // directly (modify): adds, removals and expiry are seen without it.
    void invalidate_flow_cache() noexcept {
        if (cache_) cache_->invalidate();
    }
    [[nodiscard]] std::uint64_t flow_cache_generation() noexcept {
        std::uint64_t g = cache_ ? cache_->epoch() : 0;
        for_each_table([&](auto& t) { g += t.changes(); });
        return g;
    }
    // Credits a flow of table `id` that a cached walk found.
    void credit_flow(std::uint8_t id, void* flow, std::uint32_t bytes, std::int64_t now_ms) noexcept {
        with_table(id, [&](auto& t) {
            t.credit(flow, bytes, now_ms); // a flow, or a record's handle
        });
    }

    // ---- used by the engine ----
    void prelookup(std::span<const flow_key> keys) noexcept {
        for_each_table([&](auto& t) {
            if (t.worth_prelookup()) t.prelookup(keys);
        });
    }

    template <class Ctx>
    void run_table(std::uint8_t id, Ctx& ctx, std::uint32_t restore_in_port) noexcept {
        flow_key& key = ctx.lookup_key();
        const bool found = with_table(id, [&](auto& t) { lookup_and_run(t, ctx, key, restore_in_port); });
        if (!found) key.in_port = restore_in_port; // a table the pipeline lacks misses
    }

  private:
    // Calls f(the actions as a Table stores them) for run-time `acts`, or
    // sets `st` to why a Table cannot take them.
    template <class Table, class F>
    static void with_actions_for(std::uint8_t id, const generic_actions& acts, flow_mod_status& st, F&& f) {
        if (auto why = validate(acts, id)) {
            st = flow_mod_status{flow_mod_errc::bad_action, 0, {}, *why};
            return;
        }
        if constexpr (std::is_constructible_v<typename Table::actions_type, const generic_actions&>) {
            f(acts);
        } else if (auto lowered = lower_to<typename Table::allowed_type>(acts)) {
            f(std::move(*lowered));
        } else {
            st = flow_mod_status{
                flow_mod_errc::bad_action, 0, {}, "these actions are none of the action lists this table allows"};
        }
    }

    template <class F>
    bool with_table(std::uint8_t id, F&& f) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return ((id == Tables::id ? (f(static_cast<typename Tables::flow_table_type&>(std::get<I>(*tables_))), true)
                                      : false) ||
                    ...);
        }
        (std::index_sequence_for<Tables...>{});
    }

    std::unique_ptr<slots> tables_;
    std::unique_ptr<engine_scratch> scratch_;
    std::unique_ptr<flowpipe::flow_cache> cache_;
    bool defer_learns_ = true;
};

} // namespace flowpipe
