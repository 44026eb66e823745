// learn: build a flow for a target table from the current packet and install
// it there, with Open vSwitch 3.1's semantics (lib/learn.c learn_execute,
// ofproto/ofproto.c ofproto_flow_mod_learn).
//
// Two forms share one install routine (`detail::install_learned`):
//   - `learn<Args...>`: the whole description is a type, so building the
//     learned flow is straight-line code (pack a few fields, fill a typed
//     action list) and whether the target table can hold such flows (its
//     schema has the fields, its allowed<> has the action list) is a
//     static_assert with one sentence;
//   - `generic_learn`: the same description as run-time data (bit ranges),
//     for flows given as text; it installs `generic_actions` flows through a
//     `match`, so it allocates, as Open vSwitch does.
//
//   learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],
//         NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],
//         load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[])
// is
//   namespace la = learn_args;
//   learn<la::table<20>, la::hard_timeout<300>, la::priority<1>,
//         la::match_field<f::vlan_tci::bits<0, 11>>, la::match_field<f::eth_dst, f::eth_src>,
//         la::load_const<0, f::vlan_tci>, la::load_field<f::tun_id, f::tun_id>,
//         la::output_field<f::in_port>>
// and its flows carry action_list<load_to<f::vlan_tci>, load_to<f::tun_id>, output>
// (`learn<...>::flow_actions`), which the target table must allow.
//
// Semantics (each one is Open vSwitch's, and tested):
//   - learn is a strict modify of (match, priority) in the target table;
//   - an identical flow (same match, priority, timeouts, cookie and actions)
//     only has its timers restarted: `modified` becomes now, which is O(1)
//     here because the table's timer wheel holds a lower bound of each
//     flow's expiry and moves a flow whose bound moved when its slot comes due
//     (a hard_timeout=300 learned MAC lives until 300 s after the last packet
//     that re-learned it);
//   - same match and priority, other actions (a MAC that moved): actions are
//     replaced; counters, timeouts and creation time are kept, the cookie
//     becomes the learn's, `modified` becomes now;
//   - limit=N: a flow that is not already there identically is refused when
//     the table holds N or more flows with the learn's cookie (OVS counts
//     them with collect_rules_loose on every such learn; flowpipe caches
//     the count and recounts only when the table's set of flows changed,
//     `flow_table::changes()`); result_dst gets 0 when refused, else 1. As in
//     OVS, a table that is full for another reason does not clear result_dst
//     (ofproto_flow_mod_learn reports only the limit), but the failure is
//     counted in `learn_stats::failed`;
//   - packet k+1 of the same burst sees what packet k learned (the engine
//     runs packets one after another against live tables; the install may
//     be deferred, below, never past anything that could see it); packet k
//     itself does not: its walk sees the tables as they were when it began
//     (table versions, table/walk_version.hpp), while its next learn, and
//     that learn's limit, see what it learned;
//   - delete_learned: see `remove_flows` and `expire_flows` below;
//   - fin_idle_timeout / fin_hard_timeout put a `fin_timeout` action first in
//     the learned flow's actions, as OVS does. flowpipe's flow key has no TCP
//     flags yet, so that action cannot see a FIN and does nothing: an
//     intended difference until the key carries tcp_flags;
//   - output:F learns an output to the port F names when that is a port OVS
//     would accept (below 0xff00, or IN_PORT, FLOOD, ALL, LOCAL); otherwise
//     OVS leaves the output out, and the typed form (whose action list is
//     fixed) outputs to ports::none, which sends nothing.
//
// delete_learned, and how the learned cookies are tracked.  OVS keeps, per
// (target table, cookie), a count of the installed flows whose actions hold
// a learn with delete_learned; when a removal brings a count to zero it
// deletes every flow with that cookie from that table. flowpipe computes the
// same thing instead of counting, on the control path: `remove_flows(p, ...)`
// and `expire_flows(p, now)` note the (table, cookie) pairs of the
// delete_learned learns held by the flows they remove, remove them, and then
// delete the learned flows of every pair that no remaining flow still holds.
// The scan covers only tables that can hold such a learn (decided at compile
// time from each table's allowed<>: br-tun's table 10 learn has no
// delete_learned, so its tables are never scanned). Removing flows through
// the plain table API does not do this; a removal hook in flow_table would
// let the counts be kept incrementally as OVS does (see the issue notes).
//
// Deferred installs.  In the engine, a learn whose walk does not read its
// outcome (no result_dst) into an exact table it fills entirely, with at
// least `staged_learn_threshold` flows, is staged instead of installed: its
// packed key, hash and action list go to the engine's `learn_staging`, its
// index lines are prefetched, and the engine installs what was staged (in
// order, through install_burst's staged probe) before anything looks at that
// table in a way they could change (pipeline/engine.hpp). A learn that installs at once (result_dst, a
// generic learn, a small or masked target) first installs what was staged.
// Installed in the same order into the same table state, every outcome is
// what immediate installs give, limit=N included: the N-th add is refused
// exactly when it would have been. (A learn with result_dst could be staged
// only if nothing read the bit before the install; not worth it.)
//
// Threads: a learn runs on the data-path thread that owns the target table
// (the table's single writer). Its small per-flow state (the limit cache
// and `learn_stats`) is `mutable` inside the action for that reason.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <flowpipe/action/action_list.hpp>
#include <flowpipe/action/context.hpp>
#include <flowpipe/action/output.hpp>
#include <flowpipe/action/set_field.hpp>
#include <flowpipe/core/field.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/core/packet.hpp>
#include <flowpipe/core/prefetch.hpp>
#include <flowpipe/match/match.hpp>
#include <flowpipe/match/schema.hpp>
#include <flowpipe/table/flow_mod.hpp>
#include <flowpipe/table/walk_version.hpp>

namespace flowpipe {

struct generic_actions; // action/generic.hpp: what a generic_learn's flows carry

// ---------------------------------------------------------------------------
// fin_timeout(idle_timeout=I,hard_timeout=H)
namespace actions {

// Shortens a flow's timeouts when a TCP FIN or RST hits it. The flow key has
// no TCP flags yet, so this never fires (see the header comment).
struct fin_timeout {
    std::uint16_t fin_idle_timeout = 0;
    std::uint16_t fin_hard_timeout = 0;
    template <class Ctx>
    void operator()(Ctx&) const noexcept {}
    friend constexpr bool operator==(const fin_timeout&, const fin_timeout&) = default;
};

} // namespace actions

// ---------------------------------------------------------------------------
// What a learn did, per learn action (mutable state of the flow holding it).
struct learn_stats {
    std::uint64_t added = 0;         // new flows
    std::uint64_t refreshed = 0;     // identical flow found: timers restarted
    std::uint64_t modified = 0;      // same match and priority, other actions or cookie
    std::uint64_t refused_limit = 0; // limit=N reached (result_dst got 0)
    std::uint64_t failed = 0;        // the target table refused the flow (full, or a match it cannot hold)
    std::uint64_t staged = 0;        // of all of them, learns that waited for their table's burst install
};

enum class learn_result : std::uint8_t { added, refreshed, modified, refused_limit, failed };

namespace detail {

// The count of flows with one cookie in one table, valid while the table's
// set of flows has not changed.
struct learn_limit_cache {
    const void* table = nullptr;
    std::uint64_t changes = 0;
    std::uint64_t cookie = 0;
    std::size_t count = 0;
};

struct learn_state {
    learn_stats stats{};
    learn_limit_cache cache{};
};

// (table, cookie) of the delete_learned learns that a learn's modify took
// out of the flow it rewrote: the learn action flushes them once it has run
// (flush_learned), as Open vSwitch does when a rule stops holding its
// learned flows. Per thread (a learn runs on its tables' thread), and not in
// learn_state: a vector there made every learn's state non-trivial and
// typed adds 25-40% slower (learn_bench).
inline std::vector<std::pair<std::uint8_t, std::uint64_t>>& dropped_holds() noexcept {
    thread_local std::vector<std::pair<std::uint8_t, std::uint64_t>> held;
    return held;
}
// Notes in dropped_holds() the delete_learned learns of `old`; whether a
// table's action lists can hold any (defined below, with delete_learned).
template <class Storage>
void note_dropped_holds(const Storage& old);
template <class Storage>
constexpr bool storage_may_delete_learned();
// Flushes dropped_holds() from `tables` (defined below).
template <class Tables>
void flush_dropped_holds(Tables& tables);

struct learn_params {
    std::int32_t priority;
    std::uint16_t idle_timeout;
    std::uint16_t hard_timeout;
    std::uint64_t cookie;
    std::uint32_t limit;
};

// limit=N: true when a new flow with this cookie may be added.
template <class Table>
bool learn_under_limit(Table& t, const learn_params& p, learn_limit_cache& c) {
    if (p.limit == 0 || t.size() < p.limit) return true;
    if (c.table != &t || c.changes != t.changes() || c.cookie != p.cookie) {
        std::size_t n = 0;
        if constexpr (requires { t.count_cookie(p.cookie); })
            n = t.count_cookie(p.cookie);
        else
            t.for_each([&](const auto& f) { n += f.cookie == p.cookie; });
        c = learn_limit_cache{&t, t.changes(), p.cookie, n};
    }
    return c.count < p.limit;
}

// A learn added its flow (the table's changes() was `before`): the limit
// count follows when exactly one flow, with this cookie, came. A learn
// without a limit keeps no count (nothing reads it; one left stale is
// recounted by learn_under_limit, which compares changes()).
template <class Table>
[[gnu::always_inline]] inline learn_result learned_added(Table& t, const learn_params& p, learn_state& st,
                                                         std::uint64_t before) {
    learn_limit_cache& c = st.cache;
    if (p.limit != 0 && c.table == &t && c.cookie == p.cookie && c.changes == before && t.changes() == before + 1) {
        ++c.count;
        c.changes = t.changes();
    }
    ++st.stats.added;
    return learn_result::added;
}

// The strict modify that every learn is. `find` returns the flow with the
// learned match and priority or nullptr; `add` installs a new one.
template <class Table, class Actions, class Find, class Add>
learn_result install_learned(Table& t, const learn_params& p, Actions&& acts, std::int64_t now, learn_state& st,
                             Find&& find, Add&& add) {
    using actions_type = typename Table::actions_type;
    if (auto* f = find()) {
        const bool same_attrs =
            f->idle_timeout == p.idle_timeout && f->hard_timeout == p.hard_timeout && f->cookie == p.cookie;
        const bool same_actions = [&] {
            if constexpr (std::is_same_v<std::remove_cvref_t<Actions>, actions_type>) {
                return f->actions == acts;
            } else {
                using L = std::remove_cvref_t<Actions>;
                const L* cur = std::get_if<L>(&f->actions);
                return cur != nullptr && *cur == acts;
            }
        }();
        if (same_attrs && same_actions) {
            // ofproto_flow_mod_learn_refresh: only `modified` moves. The
            // timer wheel slot stays a valid lower bound; expire() moves it.
            f->modified_ms = now;
            ++st.stats.refreshed;
            return learn_result::refreshed;
        }
        // A new rule would replace this one: the limit applies (OVS checks
        // it whenever the learned rule is not already installed as is).
        if (!learn_under_limit(t, p, st.cache)) {
            ++st.stats.refused_limit;
            return learn_result::refused_limit;
        }
        // replace_rule_start for a modify: timeouts, creation time and
        // counters stay; the cookie becomes the learn's. (The packet whose
        // learn this is goes on seeing the flow as it was: walk_version.hpp.)
        if (!same_actions || f->cookie != p.cookie) f = &t.prepare_replace(*f);
        if (!same_actions) {
            note_dropped_holds(f->actions);
            f->actions = actions_type(std::forward<Actions>(acts));
        }
        if (f->cookie != p.cookie) {
            f->cookie = p.cookie;
            t.note_cookie_changed(); // every learn's limit count of this table is stale (not only this one's)
        }
        f->modified_ms = now;
        ++st.stats.modified;
        return learn_result::modified;
    }
    if (!learn_under_limit(t, p, st.cache)) {
        ++st.stats.refused_limit;
        return learn_result::refused_limit;
    }
    const std::uint64_t before = t.changes();
    const flow_mod_status s = add(std::forward<Actions>(acts));
    if (!s) {
        ++st.stats.failed;
        return learn_result::failed;
    }
    return learned_added(t, p, st, before);
}

// install_learned into a table that keeps this learn's flows as records
// (lookup::exact_learned, table/learned_store.hpp), from a probe of the
// learned key: the same strict modify, on a record when the probe found one
// or nothing; `general` (install_learned through the table's flows) takes
// the rest: flows of other learns or flow mods with this key, a full table,
// and a record whose values the learn's own walk replaces (it moves to the
// slab, whose shadow keeps the version the walk may be running).
template <class Table, class Actions, class General>
[[gnu::always_inline]] inline learn_result install_in_store(Table& t, const learn_params& p,
                                                            typename Table::learn_probe& probe,
                                                            const typename Table::key_type& value, Actions&& acts,
                                                            std::int64_t now, learn_state& st, General&& general) {
    using store_t = typename Table::store_type;
    typename store_t::values_type v;
    const bool fit = store_t::values_of(acts, v);
    if (auto* r = t.probed_record(probe, value)) {
        if (t.store().same_values(*r, v)) { // as install_learned: only `modified` moves
            t.store().refresh(*r, now);
            ++st.stats.refreshed;
            return learn_result::refreshed;
        }
        if (!learn_under_limit(t, p, st.cache)) {
            ++st.stats.refused_limit;
            return learn_result::refused_limit;
        }
        if (walk_versions().recording()) [[unlikely]] {
            t.promote_for_walk(probe, value);
            return general(std::forward<Actions>(acts));
        }
        t.store().modify(*r, v, fit, now); // counters, times and cookie stay
        ++st.stats.modified;
        return learn_result::modified;
    }
    if (probe.r.found) return general(std::forward<Actions>(acts));
    if (!learn_under_limit(t, p, st.cache)) {
        ++st.stats.refused_limit;
        return learn_result::refused_limit;
    }
    const std::uint64_t before = t.changes();
    if (!t.add_record(probe, value, v, fit, p.cookie, now)) return general(std::forward<Actions>(acts));
    return learned_added(t, p, st, before);
}

// Learns staged per burst (the engine's deferral, see "Deferred installs"
// at the top). Each staged learn is one entry in a fixed arena, built by the
// learn itself (its packed key, hash and action list); consecutive entries of
// one learn action into one table form a batch, installed by one call of that
// learn's install function (a call through a pointer per batch, never per
// packet). `pending` says which tables hold staged learns, so the engine can
// install them before anything looks at such a table.
class learn_staging {
  public:
    struct batch;
    using install_fn = void (*)(learn_staging&, const batch&);
    struct batch {
        install_fn install;
        const void* learn; // the learn action (inside a flow's action list: flows never move)
        void* table;
        std::int64_t now;
        std::uint32_t offset; // of the first entry in the arena
        std::uint32_t count;
    };
    static constexpr std::size_t arena_bytes = 32768;
    static constexpr std::size_t max_batches = 64;
    static constexpr std::size_t max_walks = max_burst;
    // What the installs of one walk (packet) did, for the flow cache.
    static constexpr std::uint8_t walk_moved = 1;    // a table's set of flows changed
    static constexpr std::uint8_t walk_replaced = 2; // a learn replaced a flow's actions in place

    [[nodiscard]] bool any() const noexcept { return n_batches_ != 0; }
    [[nodiscard]] bool pending(std::uint8_t table) const noexcept {
        return ((pending_[table >> 6] >> (table & 63)) & 1) != 0;
    }
    // Whether a lookup of a key whose learn hash is h in `table` may find
    // something else once the staged learns are in. Only a staged learn of
    // that very key can make it so (the engine checks that no staged add
    // can evict), so each table keeps a 64-bit filter of its staged keys'
    // hashes, two bits a key: with the 8 learns of a 32-packet burst, a key
    // not staged passes it in about 1 of 20 lookups.
    [[nodiscard]] bool may_match(std::uint8_t table, std::uint64_t h) const noexcept {
        const std::uint64_t m = filter_bits(h);
        return (filter_[table] & m) == m;
    }
    // Learns staged into `table`: at most that many flows added there.
    [[nodiscard]] std::size_t staged_into(std::uint8_t table) const noexcept { return count_[table]; }
    // Whether walk `w` still has staged learns (walks stage in order).
    [[nodiscard]] bool pending_walk(std::size_t w) const noexcept { return n_batches_ != 0 && last_walk_ == w; }

    // Room for one more Entry of learn `l` into `table` (number `id`) at
    // `now`, of a key whose learn hash is h, staged by walk `w`; null when
    // the arena is full (install, then ask again).
    template <class Entry>
    [[nodiscard]] void* stage(install_fn fn, const void* l, void* table, std::uint8_t id, std::uint64_t h,
                              std::int64_t now, std::size_t w) noexcept {
        static_assert(std::is_trivially_destructible_v<Entry> && alignof(Entry) <= 64,
                      "a staged learn entry needs no destructor (the arena is reused, never destroyed)");
        batch* b = n_batches_ != 0 ? &batches_[n_batches_ - 1] : nullptr;
        if (b == nullptr || b->learn != l || b->table != table || b->install != fn || b->now != now) {
            const std::size_t at = (used_ + alignof(Entry) - 1) & ~(alignof(Entry) - 1);
            if (n_batches_ == max_batches || at + sizeof(Entry) > arena_bytes) return nullptr;
            b = &batches_[n_batches_++];
            *b = batch{fn, l, table, now, static_cast<std::uint32_t>(at), 0};
            used_ = at;
        } else if (used_ + sizeof(Entry) > arena_bytes) {
            return nullptr;
        }
        void* e = arena_ + used_;
        used_ += sizeof(Entry);
        ++b->count;
        pending_[id >> 6] |= std::uint64_t{1} << (id & 63);
        filter_[id] |= filter_bits(h);
        ++count_[id];
        last_walk_ = w;
        return e;
    }
    [[nodiscard]] void* entries(const batch& b) noexcept { return arena_ + b.offset; }

    // Installs every staged learn, in the order they were staged. (An
    // install runs no actions, so nothing is staged meanwhile.)
    void install_all() {
        for (std::size_t i = 0; i < n_batches_; ++i) batches_[i].install(*this, batches_[i]);
        n_batches_ = 0;
        used_ = 0;
        for (std::size_t word = 0; word < pending_.size(); ++word)
            for (std::uint64_t m = pending_[word]; m != 0; m &= m - 1) {
                const std::size_t t = word * 64 + static_cast<std::size_t>(__builtin_ctzll(m));
                filter_[t] = 0;
                count_[t] = 0;
            }
        pending_ = {};
    }

    // An install's outcome, for walk w's flags.
    void note(std::size_t w, learn_result r, bool changed) noexcept {
        flags_[w] |=
            static_cast<std::uint8_t>((changed ? walk_moved : 0) | (r == learn_result::modified ? walk_replaced : 0));
        touched_[w >> 6] |= std::uint64_t{1} << (w & 63);
    }
    // Calls f(flags) for, and clears, each walk noted since, but `keep`.
    template <class F>
    void settle_walks(std::size_t keep, F&& f) {
        for (std::size_t word = 0; word < touched_.size(); ++word) {
            for (std::uint64_t m = touched_[word]; m != 0; m &= m - 1) {
                const std::size_t w = word * 64 + static_cast<std::size_t>(__builtin_ctzll(m));
                if (w == keep) continue;
                f(flags_[w]);
                flags_[w] = 0;
                touched_[word] &= ~(std::uint64_t{1} << (w & 63));
            }
        }
    }
    // Walk w's flags so far, cleared.
    [[nodiscard]] std::uint8_t take_flags(std::size_t w) noexcept {
        const std::uint8_t f = flags_[w];
        flags_[w] = 0;
        touched_[w >> 6] &= ~(std::uint64_t{1} << (w & 63));
        return f;
    }
    void add_flags(std::size_t w, std::uint8_t f) noexcept {
        if (f == 0) return;
        flags_[w] |= f;
        touched_[w >> 6] |= std::uint64_t{1} << (w & 63);
    }

  private:
    [[nodiscard]] static constexpr std::uint64_t filter_bits(std::uint64_t h) noexcept {
        return (std::uint64_t{1} << (h >> 58)) | (std::uint64_t{1} << ((h >> 52) & 63));
    }

    alignas(64) unsigned char arena_[arena_bytes];
    std::array<batch, max_batches> batches_{};
    std::size_t n_batches_ = 0;
    std::size_t used_ = 0;
    std::size_t last_walk_ = 0;
    std::array<std::uint64_t, 4> pending_{};
    std::array<std::uint64_t, 256> filter_{};
    std::array<std::uint32_t, 256> count_{};
    std::array<std::uint64_t, (max_walks + 63) / 64> touched_{};
    std::array<std::uint8_t, max_walks> flags_{};
};

// get(k, F::range) with the field's offset, size and shifts as constants: a
// learn reads a few fields per packet, and the table-driven get (when the
// inliner leaves it a call) costs more than the rest of building the flow.
template <field_type F>
[[nodiscard, gnu::always_inline]] inline uint128 learned_bits(const flow_key& k) noexcept {
    constexpr std::size_t offset = info(F::range.field).offset, size = info(F::range.field).size;
    constexpr unsigned shift = info(F::range.field).shift;
    constexpr uint128 all = info(F::range.field).all_ones();
    uint128 v = 0;
    std::memcpy(&v, reinterpret_cast<const std::uint8_t*>(&k) + offset, size);
    return (((v >> shift) & all) >> F::range.start) & F::range.mask();
}

// in_port bits 0..15: Open vSwitch's whole in_port (see learn_args::match_field).
template <class F>
inline constexpr bool is_ovs_in_port = std::is_same_v<F, fields::in_port::bits<0, 15>>;
template <class F>
using learned_match_dst = std::conditional_t<is_ovs_in_port<F>, fields::in_port, F>;
// A match spec's value in its learned field: on in_port bits 0..15, the
// 32-bit port of Open vSwitch's 16-bit one.
template <class F>
[[nodiscard]] constexpr uint128 learned_match_value(uint128 v) noexcept {
    if constexpr (is_ovs_in_port<F>)
        return ports::from_ofp10(static_cast<std::uint16_t>(v));
    else
        return v;
}

// output:F of a learned flow: the port OVS would output to, or none.
[[nodiscard]] constexpr std::uint32_t learned_output_port(uint128 v, unsigned n_bits) noexcept {
    if (n_bits > 16 && (v >> 16) != 0) return ports::none;
    const auto p = static_cast<std::uint16_t>(v);
    if (p < 0xff00) return p;
    switch (p) {
    case 0xfff8: return ports::in_port;
    case 0xfffb: return 0xfffffffbu; // FLOOD
    case 0xfffc: return 0xfffffffcu; // ALL
    case 0xfffe: return ports::local;
    default: return ports::none;
    }
}

// The storage bits a field (or bits of one) covers, with the VLAN present
// bit for views that imply it: what a learned match on it sets in the mask.
template <field_type F>
inline constexpr uint128 learned_storage_mask = ((F::range.mask() << F::range.start) << info(F::id).shift) |
                                                (info(F::id).implies_present ? uint128{proto::vlan_cfi} : uint128{0});

// Can a schema hold flows whose mask has these storage bits?
template <class Schema>
struct learn_schema_check {
    static constexpr bool fits(const std::array<uint128, field_count>&) { return true; } // generic_schema
};
template <class... Specs>
struct learn_schema_check<schema<Specs...>> {
    static constexpr bool fits(const std::array<uint128, field_count>& learned) {
        std::array<uint128, field_count> covered{};
        ((covered[static_cast<std::size_t>(Specs::storage.id)] |= Specs::storage_mask), ...);
        for (std::size_t i = 0; i < field_count; ++i)
            if ((learned[i] & ~covered[i]) != 0) return false;
        bool ok = true, any_full = false, any_empty = false;
        auto one = [&]<class Spec>(Spec*) {
            const uint128 lm = learned[static_cast<std::size_t>(Spec::storage.id)] & Spec::storage_mask;
            if constexpr (Spec::kind == match_kind::exact) {
                if (lm == Spec::storage_mask)
                    any_full = true;
                else if (lm == 0)
                    any_empty = true;
                else
                    ok = false;
            } else if constexpr (Spec::kind == match_kind::prefix) {
                if (!detail::is_prefix_mask(lm, Spec::storage_mask)) ok = false;
            }
        };
        (one(static_cast<Specs*>(nullptr)), ...);
        if (schema<Specs...>::all_exact && any_full && any_empty) return false;
        return ok;
    }
};

template <class Schema>
inline constexpr bool is_typed_schema = false;
template <class... Specs>
inline constexpr bool is_typed_schema<schema<Specs...>> = true;

// A typed learn's match packed for a schema<...> without a flow key in
// between: per schema element, the learned bits of its storage field
// (L::learned_storage_value), masked by what the element covers and what
// the learn sets, deposited at the element's byte offset as Schema::pack
// lays it out (little endian, elements back to back).
template <class Schema>
struct learn_direct_pack;
template <class... Specs>
struct learn_direct_pack<schema<Specs...>> {
    using key_type = typename schema<Specs...>::key_type;
    static constexpr std::array<std::size_t, sizeof...(Specs)> offset = [] {
        std::array<std::size_t, sizeof...(Specs)> o{};
        std::size_t at = 0, i = 0;
        ((o[i++] = at, at += Specs::packed_bytes), ...);
        return o;
    }();

    template <std::size_t At, std::size_t Bytes>
    [[gnu::always_inline]] static constexpr void deposit(key_type& out, uint128 v) noexcept {
        constexpr std::size_t w = At / 8, sh = (At % 8) * 8;
        if constexpr (Bytes < 16) v &= (uint128{1} << (Bytes * 8)) - 1;
        out.w[w] |= static_cast<std::uint64_t>(v << sh);
        if constexpr (sh + Bytes * 8 > 64) out.w[w + 1] |= static_cast<std::uint64_t>((v << sh) >> 64);
        if constexpr (sh != 0 && sh + Bytes * 8 > 128) out.w[w + 2] |= static_cast<std::uint64_t>(v >> (128 - sh));
    }

    // The storage bits of element Spec that learn L sets.
    template <class L, class Spec>
    static constexpr uint128
        covered = L::learned_masks()[static_cast<std::size_t>(Spec::storage.id)] & Spec::storage_mask;

    // (No lambdas: in install_burst's per-packet loop GCC made the one
    // here a call, with the key returned through memory.)
    template <class L>
    [[gnu::always_inline]] static key_type pack(const flow_key& k) noexcept {
        return pack_elements<L>(k, std::index_sequence_for<Specs...>{});
    }
    template <class L, std::size_t... I>
    [[gnu::always_inline]] static key_type pack_elements(const flow_key& k, std::index_sequence<I...>) noexcept {
        key_type out{};
        (pack_element<L, Specs, offset[I]>(out, k), ...);
        return out;
    }
    template <class L, class Spec, std::size_t At>
    [[gnu::always_inline]] static void pack_element(key_type& out, const flow_key& k) noexcept {
        if constexpr (covered<L, Spec> != 0)
            deposit<At, Spec::packed_bytes>(out,
                                            L::template learned_storage_value<Spec::storage.id>(k) & covered<L, Spec>);
    }

    // Whether L's match sets every bit the schema covers.
    template <class L>
    static constexpr bool full = ((covered<L, Specs> == Specs::storage_mask) && ...);

    template <class L>
    static constexpr key_type mask() noexcept {
        key_type out{};
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (deposit<offset[I], Specs::packed_bytes>(out, covered<L, Specs>), ...);
        }
        (std::index_sequence_for<Specs...>{});
        return out;
    }
};

template <class T>
struct lazy_generic_actions {
    using type = generic_actions; // named only when instantiated: generic.hpp is complete by then
};

template <class... Ts>
struct type_list {};
template <class... A, class... B>
constexpr type_list<A..., B...> operator+(type_list<A...>, type_list<B...>) {
    return {};
}

template <class T>
concept learn_option = requires {
    typename T::learn_option_tag;
};
template <class T>
concept learn_match_spec = requires {
    typename T::learn_match_tag;
};
template <class T>
concept learn_action_spec = requires {
    typename T::learn_action_tag;
};

template <class Tag, class T, class... Args>
constexpr T learn_option_or(T dflt) {
    T v = dflt;
    (
        [&] {
            if constexpr (learn_option<Args>) {
                if constexpr (std::is_same_v<typename Args::learn_option_tag, Tag>) v = static_cast<T>(Args::value);
            }
        }(),
        ...);
    return v;
}

template <class Tag, class... Args>
constexpr std::size_t learn_option_count() {
    std::size_t n = 0;
    (
        [&] {
            if constexpr (learn_option<Args>) n += std::is_same_v<typename Args::learn_option_tag, Tag>;
        }(),
        ...);
    return n;
}

} // namespace detail

// ---------------------------------------------------------------------------
// The arguments of learn<...>, named as ovs-ofctl names them.
namespace learn_args {
namespace tags {
struct table {};
struct priority {};
struct idle_timeout {};
struct hard_timeout {};
struct fin_idle_timeout {};
struct fin_hard_timeout {};
struct cookie {};
struct delete_learned {};
struct limit {};
struct result_dst {};
} // namespace tags

template <std::uint8_t T>
struct table {
    using learn_option_tag = tags::table;
    static constexpr std::uint8_t value = T;
};
template <std::uint16_t P>
struct priority {
    using learn_option_tag = tags::priority;
    static constexpr std::uint16_t value = P;
};
template <std::uint16_t S>
struct idle_timeout {
    using learn_option_tag = tags::idle_timeout;
    static constexpr std::uint16_t value = S;
};
template <std::uint16_t S>
struct hard_timeout {
    using learn_option_tag = tags::hard_timeout;
    static constexpr std::uint16_t value = S;
};
template <std::uint16_t S>
struct fin_idle_timeout {
    using learn_option_tag = tags::fin_idle_timeout;
    static constexpr std::uint16_t value = S;
};
template <std::uint16_t S>
struct fin_hard_timeout {
    using learn_option_tag = tags::fin_hard_timeout;
    static constexpr std::uint16_t value = S;
};
// The learned flows' cookie (the action's run-time `cookie` starts from it).
template <std::uint64_t C>
struct cookie {
    using learn_option_tag = tags::cookie;
    static constexpr std::uint64_t value = C;
};
struct delete_learned {
    using learn_option_tag = tags::delete_learned;
    static constexpr bool value = true;
};
// limit=N (the action's run-time `limit` starts from it).
template <std::uint32_t N>
struct limit {
    using learn_option_tag = tags::limit;
    static constexpr std::uint32_t value = N;
};
// result_dst=F[bit]: one bit, 1 when the learn was not refused by its limit.
template <field_type Bit>
struct result_dst {
    static_assert(Bit::range.n_bits == 1, "learn's result_dst names a single bit");
    using learn_option_tag = tags::result_dst;
    using field = Bit;
    static constexpr bool value = true;
};

// Match specs. `match_field<F>` is `F` (match F on the packet's F),
// `match_field<F1, F2>` is `F1=F2`, `match_const<F, V>` is `F=V`.
//
// Open vSwitch's in_port is 16 bits: a learned match on `in_port` bits
// 0..15 (`NXM_OF_IN_PORT[]`) is all of flowpipe's 32-bit in_port, a
// reserved port 0xffXX its 32-bit self 0xffffffXX (as generic_learn's).
template <field_type Dst, field_type Src = Dst>
struct match_field {
    static_assert(Dst::range.n_bits == Src::range.n_bits,
                  "a learn match spec needs source and destination of the same width");
    using learn_match_tag = void;
    using dst = detail::learned_match_dst<Dst>;
    static uint128 value(const flow_key& k) noexcept {
        return detail::learned_match_value<Dst>(detail::learned_bits<Src>(k));
    }
};
template <field_type Dst, std::uint64_t V>
struct match_const {
    static_assert(Dst::range.n_bits >= 64 || (V >> Dst::range.n_bits) == 0,
                  "a learn constant must fit in its destination bits");
    using learn_match_tag = void;
    using dst = detail::learned_match_dst<Dst>;
    static uint128 value(const flow_key&) noexcept { return detail::learned_match_value<Dst>(V); }
};

// Actions of the learned flow: `load_const<V, F>` is `load:V->F`,
// `load_field<F1, F2>` is `load:F1->F2` (the packet's F1), `output_field<F>`
// is `output:F` (the port the packet's F names).
template <std::uint64_t V, field_type Dst>
struct load_const {
    static_assert(Dst::range.n_bits >= 64 || (V >> Dst::range.n_bits) == 0,
                  "a learn constant must fit in its destination bits");
    using learn_action_tag = void;
    using action = actions::load_to<Dst>;
    static void fill(action& a, const flow_key&) noexcept { a.value = static_cast<typename Dst::value_type>(V); }
};
template <field_type Src, field_type Dst>
struct load_field {
    static_assert(Dst::range.n_bits == Src::range.n_bits,
                  "a learn load spec needs source and destination of the same width");
    using learn_action_tag = void;
    using action = actions::load_to<Dst>;
    static void fill(action& a, const flow_key& k) noexcept {
        a.value = static_cast<typename Dst::value_type>(detail::learned_bits<Src>(k));
    }
};
template <field_type Src>
struct output_field {
    using learn_action_tag = void;
    using action = actions::output;
    static void fill(action& a, const flow_key& k) noexcept {
        a.port = detail::learned_output_port(detail::learned_bits<Src>(k), Src::range.n_bits);
    }
};

} // namespace learn_args

namespace detail {
template <class T>
struct learn_match_filter {
    using type = std::conditional_t<learn_match_spec<T>, type_list<T>, type_list<>>;
};
template <class T>
struct learn_action_filter {
    using type = std::conditional_t<learn_action_spec<T>, type_list<T>, type_list<>>;
};
template <class T>
struct learn_result_filter {
    using type = type_list<>;
};
template <field_type B>
struct learn_result_filter<learn_args::result_dst<B>> {
    using type = type_list<learn_args::result_dst<B>>;
};

template <bool Fin, class List>
struct learned_action_list;
template <class... Specs>
struct learned_action_list<false, type_list<Specs...>> {
    using type = action_list<typename Specs::action...>;
};
template <class... Specs>
struct learned_action_list<true, type_list<Specs...>> {
    using type = action_list<actions::fin_timeout, typename Specs::action...>;
};
} // namespace detail

namespace actions {

// The compile-time learn action (see the top of this file).
template <class... Args>
struct learn {
    static_assert(((detail::learn_option<Args> || detail::learn_match_spec<Args> ||
                    detail::learn_action_spec<Args>)&&...),
                  "learn<...> takes learn_args options, match specs and learned actions");
    static_assert(detail::learn_option_count<learn_args::tags::table, Args...>() <= 1 &&
                      detail::learn_option_count<learn_args::tags::priority, Args...>() <= 1 &&
                      detail::learn_option_count<learn_args::tags::idle_timeout, Args...>() <= 1 &&
                      detail::learn_option_count<learn_args::tags::hard_timeout, Args...>() <= 1 &&
                      detail::learn_option_count<learn_args::tags::cookie, Args...>() <= 1 &&
                      detail::learn_option_count<learn_args::tags::limit, Args...>() <= 1 &&
                      detail::learn_option_count<learn_args::tags::result_dst, Args...>() <= 1,
                  "learn<...> takes each option at most once");

    // OVS defaults: table 1, priority OFP_DEFAULT_PRIORITY, no timeouts, cookie 0.
    static constexpr std::uint8_t target_table =
        detail::learn_option_or<learn_args::tags::table, std::uint8_t, Args...>(1);
    static constexpr std::uint16_t priority =
        detail::learn_option_or<learn_args::tags::priority, std::uint16_t, Args...>(0x8000);
    static constexpr std::uint16_t idle_timeout =
        detail::learn_option_or<learn_args::tags::idle_timeout, std::uint16_t, Args...>(0);
    static constexpr std::uint16_t hard_timeout =
        detail::learn_option_or<learn_args::tags::hard_timeout, std::uint16_t, Args...>(0);
    static constexpr std::uint16_t fin_idle_timeout =
        detail::learn_option_or<learn_args::tags::fin_idle_timeout, std::uint16_t, Args...>(0);
    static constexpr std::uint16_t fin_hard_timeout =
        detail::learn_option_or<learn_args::tags::fin_hard_timeout, std::uint16_t, Args...>(0);
    static constexpr bool delete_learned =
        detail::learn_option_or<learn_args::tags::delete_learned, bool, Args...>(false);
    static_assert(target_table != 255, "learn needs a target table number 0..254");

    using match_specs = decltype((typename detail::learn_match_filter<Args>::type{} + ... + detail::type_list<>{}));
    using action_specs = decltype((typename detail::learn_action_filter<Args>::type{} + ... + detail::type_list<>{}));
    using result_specs = decltype((typename detail::learn_result_filter<Args>::type{} + ... + detail::type_list<>{}));

    // The action list of every flow this learn installs.
    using flow_actions =
        typename detail::learned_action_list<(fin_idle_timeout != 0 || fin_hard_timeout != 0), action_specs>::type;

    // Run-time arguments (Neutron picks its cookie when the agent starts).
    std::uint64_t cookie = detail::learn_option_or<learn_args::tags::cookie, std::uint64_t, Args...>(0);
    std::uint32_t limit = detail::learn_option_or<learn_args::tags::limit, std::uint32_t, Args...>(0);
    mutable detail::learn_state state{};

    [[nodiscard]] const learn_stats& stats() const noexcept { return state.stats; }

    // The storage bits the learned match sets, per storage field.
    static constexpr std::array<uint128, field_count> learned_masks() {
        std::array<uint128, field_count> m{};
        [&]<class... M>(detail::type_list<M...>) {
            ((m[static_cast<std::size_t>(info(M::dst::id).base)] |= detail::learned_storage_mask<typename M::dst>),
             ...);
        }(match_specs{});
        return m;
    }

    template <class Table>
    static constexpr bool schema_fits = detail::learn_schema_check<typename Table::schema_type>::fits(learned_masks());
    template <class Table>
    static constexpr bool actions_fit = std::is_constructible_v<typename Table::actions_type, flow_actions>;

    // The learned flow's actions for a packet.
    [[nodiscard]] [[gnu::flatten]] static flow_actions build_actions(const flow_key& k) noexcept {
        flow_actions acts;
        // Outside the lambda below: inside it the assignment would not depend
        // on the lambda's parameters, and clang checks it even when discarded.
        if constexpr (fin_idle_timeout != 0 || fin_hard_timeout != 0)
            std::get<0>(acts.actions) = fin_timeout{fin_idle_timeout, fin_hard_timeout};
        [&]<class... S>(detail::type_list<S...>) {
            constexpr std::size_t first = std::tuple_size_v<decltype(acts.actions)> - sizeof...(S);
            [&]<std::size_t... I>(std::index_sequence<I...>) { (S::fill(std::get<first + I>(acts.actions), k), ...); }
            (std::index_sequence_for<S...>{});
        }(action_specs{});
        return acts;
    }

    // The learned match for a packet, packed for Schema: (value, mask).
    // For a schema<...> the packed words are built straight from the
    // packet's fields in registers: every shift and mask is a constant of
    // this learn and the schema (a few instructions per learned field; the
    // route through a scratch key, `build_match_via_key`, cost a fifth of a
    // re-learn at 1K flows). Other schemas (generic_schema) take that route.
    template <class Schema>
    [[gnu::flatten]] static void build_match(const flow_key& k, typename Schema::key_type& value,
                                             typename Schema::key_type& mask) noexcept {
        if constexpr (detail::is_typed_schema<Schema>) {
            value = detail::learn_direct_pack<Schema>::template pack<learn>(k);
            mask = detail::learn_direct_pack<Schema>::template mask<learn>();
        } else {
            build_match_via_key<Schema>(k, value, mask);
        }
    }

    // The same through a scratch flow key and Schema::pack: the reference
    // twin the direct build is tested against.
    template <class Schema>
    static void build_match_via_key(const flow_key& k, typename Schema::key_type& value,
                                    typename Schema::key_type& mask) noexcept {
        static const typename Schema::key_type packed_mask = [] {
            flow_key mk{};
            const auto m = learned_masks();
            for (std::size_t i = 0; i < field_count; ++i)
                if (m[i] != 0) store_storage(mk, info(static_cast<field_id>(i)), m[i]);
            return Schema::pack(mk);
        }();
        flow_key vk{};
        [&]<class... M>(detail::type_list<M...>) { (set(vk, M::dst::range, M::value(k)), ...); }(match_specs{});
        value = Schema::pack(vk) & packed_mask;
        mask = packed_mask;
    }

    // The bits of storage field `Storage` that the learned match sets from
    // `k`, as the match specs' set() calls (in order) would leave them in a
    // zeroed key.
    template <field_id Storage>
    [[gnu::always_inline]] static uint128 learned_storage_value(const flow_key& k) noexcept {
        uint128 s = 0;
        [&]<class... M>(detail::type_list<M...>) {
            (
                [&] {
                    using D = typename M::dst;
                    if constexpr (info(D::id).base == Storage) {
                        constexpr uint128 m = (D::range.mask() << D::range.start) << info(D::id).shift;
                        s = (s & ~m) | (((M::value(k) << D::range.start) << info(D::id).shift) & m);
                        if constexpr (info(D::id).implies_present) s |= proto::vlan_cfi;
                    }
                }(),
                ...);
        }(match_specs{});
        return s;
    }

    // Whether the learned match sets every bit of an all-exact target
    // schema (then an exact table takes the one-hash path), or exactly the
    // side mask of a tuple_space_exact target (then its side index does).
    template <class Table>
    static bool full_exact_match() noexcept {
        if constexpr (Table::exact_mode && detail::is_typed_schema<typename Table::schema_type>) {
            return detail::learn_direct_pack<typename Table::schema_type>::template full<learn>;
        } else if constexpr (Table::probe_mode) {
            static const bool on_probe_path = [] {
                typename Table::key_type v, m;
                build_match<typename Table::schema_type>(flow_key{}, v, m);
                return m == Table::probe_mask(); // every schema bit, or the side mask
            }();
            return on_probe_path;
        } else {
            return false;
        }
    }

    // Installs the flow this learn builds from `k` into `t` at `now`.
    // (Into a table that keeps this learn's flows as records, the store's
    // fast path inlined into the caller: left to GCC, a per-packet loop of
    // install() called it once the caller had grown, and 1K-flow re-learns
    // measured 0.84x.)
    template <class Table>
    [[gnu::always_inline]] learn_result install(Table& t, const flow_key& k, std::int64_t now) const {
        static_assert(schema_fits<Table>, "learn: the target table's schema cannot hold the match this learn builds");
        static_assert(actions_fit<Table>,
                      "learn: the target table does not allow the action list of the flows this learn builds");
        if constexpr (schema_fits<Table> && actions_fit<Table>) {
            if constexpr (stores_in<Table>) {
                if (full_exact_match<Table>()) {
                    typename Table::key_type value, mask;
                    build_match<typename Table::schema_type>(k, value, mask);
                    return install_store(t, value, Table::learn_hash(value), k, now);
                }
            }
            return install_any(t, k, now);
        } else {
            return learn_result::failed;
        }
    }

  private:
    // install() into a table that can hold the learn's flows (schema_fits,
    // actions_fit) but does not keep them as records: an exact table through
    // a probe, any other through the table's own strict find and add.
    template <class Table>
    learn_result install_any(Table& t, const flow_key& k, std::int64_t now) const {
        typename Table::key_type value, mask;
        build_match<typename Table::schema_type>(k, value, mask);
        const detail::learn_params p{priority, idle_timeout, hard_timeout, cookie, limit};
        if constexpr (Table::probe_mode) {
            if (full_exact_match<Table>()) {
                auto probe = t.probe_learn(value, Table::learn_hash(value));
                return install_probed(t, probe, value, k, now);
            }
        }
        return detail::install_learned(
            t, p, build_actions(k), now, state, [&] { return t.find_strict(value, mask, priority); },
            [&](flow_actions&& a) {
                return t.add_packed(value, mask, priority, std::move(a),
                                    flow_options{cookie, idle_timeout, hard_timeout}, now);
            });
    }

  public:
    // Whether table t keeps this learn's flows as records (lookup::exact_learned<learn>).
    template <class Table>
    static constexpr bool stores_in = [] {
        if constexpr (requires { typename Table::store_learn; })
            return std::is_same_v<typename Table::store_learn, learn>;
        else
            return false;
    }();

    // The store's fast path: the two learns that make up nearly all of a
    // learning switch's, done straight from the key's home bucket (no probe
    // state, no general path in the code around them). A re-learn of a
    // record with the same values moves its `modified`; a key that is
    // nowhere gets a record in its home bucket. Both exactly as
    // install_in_store does them. False leaves the learn to install_acts
    // (the home bucket does not settle it, the store does not take this
    // cookie, the values moved, or the record cannot be added), which
    // probes again from lines now in cache.
    // The learned flow's actions come as the store's values (v, and whether
    // they fit: learned_store::values_of_key or values_of). Near: the home
    // bucket and, when home has overflowed, the next one, for the declined
    // learns' second try (install_full, install_store_near); not in the
    // inlined path, where the second bucket's code cost every learn 10 to
    // 20 instructions more. Checked: the learn is one of a burst for which
    // burst_checked() holds (the store takes this cookie, no limit, room,
    // the clock in the store's window), and none of that is checked again
    // here.
    template <bool Near = false, bool Checked = false, class Table>
    [[gnu::always_inline]] bool install_store_fast(Table& t, const typename Table::key_type& value, std::uint64_t h,
                                                   const typename Table::store_type::values_type& v, bool fit,
                                                   std::int64_t now, learn_result& out) const {
        typename Table::learn_probe probe;
        typename Table::record* r;
        if (!t.template probe_learn_home<Near>(value, h, probe, r)) return false;
        if (probe.r.found) {
            // A record exists, so the store is not empty and the table does
            // not evict: of store_takes(cookie), only the cookie is left.
            if (r == nullptr || (!Checked && t.store().cookie() != cookie) || !t.store().same_values(*r, v))
                return false;
            t.store().template refresh<Checked>(*r, now);
            ++state.stats.refreshed;
            out = learn_result::refreshed;
            return true;
        }
        if constexpr (Checked) {
            if (!t.template add_record<true>(probe, value, v, fit, cookie, now)) return false;
            ++state.stats.added;
            out = learn_result::added;
            return true;
        } else {
            if (!t.store_takes(cookie)) return false;
            const detail::learn_params p{priority, idle_timeout, hard_timeout, cookie, limit};
            if (limit != 0 && !detail::learn_under_limit(t, p, state.cache)) {
                ++state.stats.refused_limit;
                out = learn_result::refused_limit;
                return true;
            }
            const std::uint64_t before = t.changes();
            if (!t.add_record(probe, value, v, fit, cookie, now)) return false;
            out = detail::learned_added(t, p, state, before);
            return true;
        }
    }
    // Whether a burst of n learns into t at now can take install_store_fast
    // with Checked (flow_table::store_burst_checked, and no limit: a
    // learn's limit count is the one check that depends on the learns
    // before it in a way the table's own state does not bound).
    template <class Table>
    [[nodiscard]] bool burst_checked(const Table& t, std::int64_t now, std::size_t n) const noexcept {
        return limit == 0 && t.store_burst_checked(cookie, now, n);
    }

    // A learn into a store table: the fast path, inlined, else the full
    // probe (out of line).
    template <bool Checked = false, class Table>
    [[gnu::always_inline]] learn_result install_store(Table& t, const typename Table::key_type& value, std::uint64_t h,
                                                      const flow_key& k, std::int64_t now) const {
        learn_result r;
        typename Table::store_type::values_type v;
        const bool fit = Table::store_type::values_of_key(k, v);
        if (install_store_fast<false, Checked>(t, value, h, v, fit, now, r)) return r;
        return install_full(t, value, h, k, now);
    }

    // install_store_fast<true>, out of line (the staged learns' second try).
    template <class Table>
    [[gnu::noinline]] bool install_store_near(Table& t, const typename Table::key_type value, std::uint64_t h,
                                              const typename Table::store_type::values_type& v, bool fit,
                                              std::int64_t now, learn_result& out) const {
        return install_store_fast<true>(t, value, h, v, fit, now, out);
    }

    // What the fast path declined: the fast path again over the home
    // bucket and the next, else through a full probe (out of line: the
    // fast path's callers stay small; the key by value, as a reference kept
    // every caller's key in memory).
    template <class Table>
    [[gnu::noinline]] learn_result install_full(Table& t, const typename Table::key_type value, std::uint64_t h,
                                                const flow_key& k, std::int64_t now) const {
        typename Table::store_type::values_type v;
        const bool fit = Table::store_type::values_of_key(k, v);
        if (learn_result r; install_store_fast<true>(t, value, h, v, fit, now, r)) return r;
        auto probe = t.probe_learn(value, h);
        return install_probed(t, probe, value, k, now);
    }

    // install() through a probe of the learned key (exact target tables).
    template <class Table>
    [[gnu::always_inline]] learn_result install_probed(Table& t, typename Table::learn_probe& probe,
                                                       const typename Table::key_type& value, const flow_key& k,
                                                       std::int64_t now) const {
        return install_acts(t, probe, value, build_actions(k), now);
    }
    // The same for a built action list (a staged learn's).
    // (Inlined whole into the callers, the store's part included; its
    // general path, rare there, stays a call.)
    template <class Table>
    [[gnu::always_inline]] learn_result install_acts(Table& t, typename Table::learn_probe& probe,
                                                     const typename Table::key_type& value, flow_actions&& acts,
                                                     std::int64_t now) const {
        if constexpr (std::is_same_v<typename Table::store_learn, learn>) {
            if (t.store_takes(cookie)) {
                const detail::learn_params p{priority, idle_timeout, hard_timeout, cookie, limit};
                return detail::install_in_store(t, p, probe, value, std::move(acts), now, state, [&](flow_actions&& a) {
                    return install_general(t, probe, value, std::move(a), now);
                });
            }
        }
        return install_general(t, probe, value, std::move(acts), now);
    }
    // install_learned through the table's flows, from a probe.
    template <class Table>
    learn_result install_general(Table& t, typename Table::learn_probe& probe, const typename Table::key_type& value,
                                 flow_actions&& acts, std::int64_t now) const {
        const detail::learn_params p{priority, idle_timeout, hard_timeout, cookie, limit};
        return detail::install_learned(
            t, p, std::move(acts), now, state, [&] { return t.find_probed(probe, value, priority); },
            [&](flow_actions&& b) {
                return t.add_probed(probe, value, priority, std::move(b),
                                    flow_options{cookie, idle_timeout, hard_timeout}, now);
            });
    }

    // install() for n packets at once, with the same results as n calls in
    // order: the target table is probed for every learned match first (the
    // index interleaves those memory accesses, and the matched flows are
    // prefetched), then each packet is installed. A flow found by the probe
    // is used only while the table's set of flows is unchanged since the
    // probe; otherwise (an earlier packet of the burst added or evicted a
    // flow) the packet looks its flow up again, from lines now in cache.
    // Note: the probe counts as lookups in the target table's stats.
    // Target tables with fewer flows take install_burst packet by packet.
    static constexpr std::size_t staged_learn_threshold = 8192;

    template <class Table>
    void install_burst(Table& t, const flow_key* const* keys, std::size_t n, std::int64_t now,
                       learn_result* results) const {
        static_assert(schema_fits<Table>, "learn: the target table's schema cannot hold the match this learn builds");
        static_assert(actions_fit<Table>,
                      "learn: the target table does not allow the action list of the flows this learn builds");
        if constexpr (schema_fits<Table> && actions_fit<Table>) {
            if constexpr (Table::probe_mode) {
                if (full_exact_match<Table>()) {
                    if constexpr (stores_in<Table>) {
                        install_burst_store(t, keys, n, now, results);
                        return;
                    }
                    if (t.size() < staged_learn_threshold) {
                        // A table this small is in L2: packet by packet,
                        // the core overlaps the few hits of consecutive
                        // installs by itself, and staging only adds work
                        // (measured at 1K flows: re-learn 57 vs 41 M/s).
                        install_each(t, keys, n, now, results);
                    } else {
                        install_burst_exact(t, keys, n, now, results);
                    }
                    return;
                }
            }
            using schema_t = typename Table::schema_type;
            constexpr std::size_t group = 32;
            flow_key match_keys[group];
            const flow_key* ptrs[group];
            typename Table::flow_type* found[group];
            typename Table::key_type value[group], mask;
            const detail::learn_params p{priority, idle_timeout, hard_timeout, cookie, limit};
            for (std::size_t base = 0; base < n; base += group) {
                const std::size_t m = n - base < group ? n - base : group;
                for (std::size_t i = 0; i < m; ++i) {
                    build_match<schema_t>(*keys[base + i], value[i], mask);
                    match_keys[i] = flow_key{};
                    [&]<class... M>(detail::type_list<M...>) {
                        (set(match_keys[i], M::dst::range, M::value(*keys[base + i])), ...);
                    }(match_specs{});
                    ptrs[i] = &match_keys[i];
                }
                t.lookup_burst(ptrs, m, found);
                for (std::size_t i = 0; i < m; ++i)
                    if (found[i] != nullptr) prefetch_write(found[i]);
                const std::uint64_t probed = t.changes();
                for (std::size_t i = 0; i < m; ++i) {
                    auto find = [&]() -> typename Table::flow_type* {
                        if (t.changes() == probed) {
                            auto* f = found[i];
                            if (f != nullptr && f->priority == priority && f->get_mask() == mask &&
                                f->value == value[i])
                                return f;
                            // An exact table that found nothing has no flow with this key at all.
                            if (f == nullptr && Table::exact_mode) return nullptr;
                        }
                        return t.find_strict(value[i], mask, priority);
                    };
                    results[base + i] = detail::install_learned(
                        t, p, build_actions(*keys[base + i]), now, state, find, [&](flow_actions&& a) {
                            return t.add_packed(value[i], mask, priority, std::move(a),
                                                flow_options{cookie, idle_timeout, hard_timeout}, now);
                        });
                }
            }
        }
    }

    // install() packet by packet, each install inlined whole. (Left to the
    // inliner, the probe, the add and the timer link stayed calls here,
    // each with its result through memory: 1K-flow adds through
    // install_burst ran at 25 M/s where a caller's own loop of install()
    // ran at 40.)
    template <class Table>
    [[gnu::flatten]] void install_each(Table& t, const flow_key* const* keys, std::size_t n, std::int64_t now,
                                       learn_result* results) const {
        for (std::size_t i = 0; i < n; ++i) results[i] = install(t, *keys[i], now);
    }

    // install_burst into an exact table, in passes that overlap the cache
    // misses of up to 32 packets: build and hash every learned key; probe
    // them all at once (flow_table::probe_learn_burst: tag groups, then key
    // lines, prefetched a pass ahead); prefetch the flows found and the slab
    // slots the new ones will take; then install each in order. The probes
    // stay usable across the burst's own inserts (flow_table::learn_probe:
    // one tag-lane check per use), and one that does not (an eviction, an
    // earlier packet of the burst that took its slot or learned its key) is
    // redone by find/add_probed. (The first version redid every probe after
    // the burst's first insert, through an out-of-line probe returning its
    // result in memory: at 1K flows it learned new MACs at half the
    // packet-by-packet rate.)
    // Probes m keys at once, then prefetches what installing them writes:
    // the flow of each key found, a free slot for each one not.
    template <class Table>
    static void probe_and_prefetch(Table& t, const typename Table::key_type* value, const std::uint64_t* hash,
                                   std::size_t m, typename Table::learn_probe* probe) noexcept {
        t.probe_learn_burst(value, hash, m, probe);
        std::size_t misses = 0;
        for (std::size_t i = 0; i < m; ++i) {
            if (probe[i].r.found)
                t.prefetch_flow(probe[i].r.id);
            else
                t.prefetch_new_flow(misses++);
        }
    }

    template <class Table>
    void install_burst_exact(Table& t, const flow_key* const* keys, std::size_t n, std::int64_t now,
                             learn_result* results) const {
        constexpr std::size_t group = 32;
        using schema_t = typename Table::schema_type;
        typename Table::key_type value[group], mask;
        std::uint64_t hash[group];
        typename Table::learn_probe probe[group];
        for (std::size_t base = 0; base < n; base += group) {
            const std::size_t m = n - base < group ? n - base : group;
            for (std::size_t i = 0; i < m; ++i) {
                build_match<schema_t>(*keys[base + i], value[i], mask);
                hash[i] = Table::learn_hash(value[i]);
            }
            probe_and_prefetch(t, value, hash, m, probe);
            for (std::size_t i = 0; i < m; ++i)
                results[base + i] = install_probed(t, probe[i], value[i], *keys[base + i], now);
        }
    }

    // install_burst into a table that keeps this learn's flows as records:
    // pack and hash the burst's keys and prefetch their home buckets; then
    // learn each in order through the fast path (the full one when that
    // declines). Only the last pass changes the table, in packet order, so
    // packet k + 1 sees what packet k learned. Tables under
    // staged_learn_threshold flows go packet by packet (at 1K flows the
    // passes hide nothing: re-learns 87 vs 107 M/s when first measured,
    // level with the current fast path, 3 interleaved runs each).
    // A pass between the two that read each home bucket and prefetched the
    // record (or new slot) behind it was, until GCC stopped deleting it
    // (core/prefetch.hpp), dead code; alive, it measured slower: 64K-flow
    // bursts 0.66x (re-learns) and 0.89x (new MACs), and no gain at 1M,
    // also with the reads 8 learns ahead of the installs instead of all
    // first (0.82x to 1.08x). The core overlaps the record reads of
    // consecutive installs whose buckets are in cache by itself.
    // Eight learns ahead of the installs, the bucket after each overflowed
    // home bucket is prefetched too (flow_table::prefetch_learn_next): near
    // a full table's load a quarter of the home buckets have overflowed,
    // and at 1M flows more than half of the new MACs' time went to reading
    // that next bucket (perf). learn_bench, interleaved runs, medians of 9:
    // 1M-flow bursts of new MACs 19.6 -> 23.2 M/s, 64K 56.2 -> 60.2;
    // re-learns level (0.97x, 1.02x).
    static constexpr std::size_t next_bucket_ahead = 8;
    template <class Table>
    void install_burst_store(Table& t, const flow_key* const* keys, std::size_t n, std::int64_t now,
                             learn_result* results) const {
        if (burst_checked(t, now, n))
            burst_store_installs<true>(t, keys, n, now, results);
        else
            burst_store_installs<false>(t, keys, n, now, results);
    }
    template <bool Checked, class Table>
    [[gnu::always_inline]] void burst_store_installs(Table& t, const flow_key* const* keys, std::size_t n,
                                                     std::int64_t now, learn_result* results) const {
        constexpr std::size_t group = 32;
        using schema_t = typename Table::schema_type;
        if (t.size() < staged_learn_threshold) { // in cache: the passes hide nothing
            for (std::size_t i = 0; i < n; ++i) {
                typename Table::key_type value, mask;
                build_match<schema_t>(*keys[i], value, mask);
                results[i] = install_store<Checked>(t, value, Table::learn_hash(value), *keys[i], now);
            }
            return;
        }
        typename Table::key_type value[group], mask;
        std::uint64_t hash[group];
        for (std::size_t base = 0; base < n; base += group) {
            const std::size_t m = n - base < group ? n - base : group;
            for (std::size_t i = 0; i < m; ++i) {
                build_match<schema_t>(*keys[base + i], value[i], mask);
                hash[i] = Table::learn_hash(value[i]);
                t.prefetch_learn(hash[i]);
            }
            for (std::size_t i = 0; i < m; ++i) {
                if (i + next_bucket_ahead < m) t.prefetch_learn_next(hash[i + next_bucket_ahead]);
                results[base + i] = install_store<Checked>(t, value[i], hash[i], *keys[base + i], now);
            }
        }
    }

    // ---- deferred installs (the engine stages learns per burst) ----
    //
    // A learn whose outcome its walk does not observe (no result_dst) into
    // an exact table that it fills entirely may be staged: its packed key,
    // hash and action list go to the engine's learn_staging and the index
    // lines of its key are prefetched; install_staged puts the staged learns
    // of one batch in, in order, through one burst probe (as
    // install_burst_exact does), before anything looks at the table.
    template <class Table>
    static constexpr bool stageable = [] {
        if constexpr (Table::exact_mode && detail::is_typed_schema<typename Table::schema_type> && schema_fits<Table> &&
                      actions_fit<Table>)
            return detail::learn_direct_pack<typename Table::schema_type>::template full<learn> &&
                   std::is_same_v<result_specs, detail::type_list<>> && std::is_trivially_destructible_v<flow_actions>;
        else
            return false;
    }();

    template <class Table>
    struct staged_entry {
        typename Table::key_type value;
        std::uint64_t hash;
        flow_actions acts;
        std::uint32_t walk; // the packet that learned it, for the flow cache's bookkeeping
    };

    template <class Table>
    void install_staged(Table& t, staged_entry<Table>* e, std::size_t n, std::int64_t now,
                        detail::learn_staging& st) const {
        if constexpr (stores_in<Table>) {
            if (burst_checked(t, now, n)) return staged_installs<true>(t, e, n, now, st);
        }
        staged_installs<false>(t, e, n, now, st);
    }
    template <bool Checked, class Table>
    [[gnu::always_inline]] void staged_installs(Table& t, staged_entry<Table>* e, std::size_t n, std::int64_t now,
                                                detail::learn_staging& st) const {
        constexpr std::size_t group = 32;
        typename Table::key_type value[group];
        std::uint64_t hash[group];
        typename Table::learn_probe probe[group];
        detail::walk_versions_state& walks = detail::walk_versions();
        for (std::size_t base = 0; base < n; base += group) {
            const std::size_t m = n - base < group ? n - base : group;
            for (std::size_t i = 0; i < m; ++i) {
                value[i] = e[base + i].value;
                hash[i] = e[base + i].hash;
            }
            // (A store's home buckets were prefetched as the learns were
            // staged; its learns go straight to the fast path.)
            if constexpr (!stores_in<Table>) probe_and_prefetch(t, value, hash, m, probe);
            for (std::size_t i = 0; i < m; ++i) {
                if constexpr (stores_in<Table>)
                    if (i + next_bucket_ahead < m) t.prefetch_learn_next(hash[i + next_bucket_ahead]);
                staged_entry<Table>& x = e[base + i];
                const detail::learner_scope whose(walks, x.walk); // the walk running now does not see its own
                const std::uint64_t before = t.changes();
                learn_result r;
                bool done = false;
                if constexpr (stores_in<Table>) {
                    typename Table::store_type::values_type v;
                    const bool fit = Table::store_type::values_of(x.acts, v);
                    done = install_store_fast<false, Checked>(t, value[i], hash[i], v, fit, now, r) ||
                           install_store_near(t, value[i], hash[i], v, fit, now, r);
                    if (!done) probe[i] = t.probe_learn(value[i], hash[i]);
                }
                if (!done) r = install_acts(t, probe[i], value[i], std::move(x.acts), now);
                st.note(x.walk, r, t.changes() != before);
            }
        }
    }

    template <class Table>
    static void install_staged_batch(detail::learn_staging& st, const detail::learn_staging::batch& b) {
        static_cast<const learn*>(b.learn)->install_staged(
            *static_cast<Table*>(b.table), static_cast<staged_entry<Table>*>(st.entries(b)), b.count, b.now, st);
    }

    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        static_assert(
            requires { ctx.tables().template table<target_table>(); },
            "a typed learn<...> runs in a typed pipeline<...>, which has its target table");
        if constexpr (requires { ctx.tables().template table<target_table>(); }) {
            auto& t = ctx.tables().template table<target_table>();
            using table_t = std::remove_reference_t<decltype(t)>;
            if constexpr (stageable<table_t> && requires { ctx.learn_stage(); }) {
                // Tables under staged_learn_threshold flows are in cache:
                // installing at once is cheaper than staging (see install_burst).
                if (detail::learn_staging* st = ctx.learn_stage();
                    st != nullptr && t.size() >= staged_learn_threshold) {
                    stage(ctx, t, *st);
                    return;
                }
            }
            // Learns staged before this one go in first.
            if constexpr (requires { ctx.flush_learns(); }) ctx.flush_learns();
            const learn_result r = install(t, ctx.key(), ctx.now());
            if constexpr (detail::storage_may_delete_learned<typename table_t::actions_type>())
                detail::flush_dropped_holds(ctx.tables());
            if constexpr (requires { ctx.learned(r); }) ctx.learned(r);
            [&]<class... R>(detail::type_list<R...>) {
                (set(ctx.edit(), R::field::range, r == learn_result::refused_limit ? 0 : 1), ...);
            }(result_specs{});
        }
    }

  private:
    template <class Ctx, class Table>
    void stage(Ctx& ctx, Table& t, detail::learn_staging& st) const noexcept {
        typename Table::key_type value, mask;
        build_match<typename Table::schema_type>(ctx.key(), value, mask);
        const std::uint64_t h = Table::learn_hash(value);
        t.prefetch_learn(h);
        constexpr auto fn = &install_staged_batch<Table>;
        void* slot = st.template stage<staged_entry<Table>>(fn, this, &t, target_table, h, ctx.now(), ctx.index());
        if (slot == nullptr) { // the staging area is full: install what it holds
            ctx.flush_learns();
            slot = st.template stage<staged_entry<Table>>(fn, this, &t, target_table, h, ctx.now(), ctx.index());
        }
        ::new (slot) staged_entry<Table>{value, h, build_actions(ctx.key()), static_cast<std::uint32_t>(ctx.index())};
        ++state.stats.staged;
    }

  public:
    friend bool operator==(const learn& a, const learn& b) noexcept {
        return a.cookie == b.cookie && a.limit == b.limit;
    }
};

// ---------------------------------------------------------------------------
// The run-time learn, for flows given as text.

struct learn_spec {
    enum class kind : std::uint8_t {
        match_field, // dst=src (or just dst: src == dst)
        match_const, // dst=value
        load_field,  // load:src->dst
        load_const,  // load:value->dst
        output,      // output:src
    };
    kind what = kind::match_field;
    bit_range dst{};
    bit_range src{};
    uint128 value = 0;
    // A match spec whose dst is written as bits 0..15 of the 32-bit
    // OXM_OF_IN_PORT (`OXM_OF_IN_PORT[0..15]`): part of a field flows cannot
    // mask, not the whole 16-bit NXM_OF_IN_PORT that the same bit range
    // names otherwise.
    bool oxm_in_port_bits = false;
    friend constexpr bool operator==(const learn_spec&, const learn_spec&) = default;
};

// What a run-time learn does: the same arguments as learn<...>, as data.
struct learn_description {
    std::uint8_t table = 1;
    std::uint16_t priority = 0x8000;
    std::uint16_t idle_timeout = 0;
    std::uint16_t hard_timeout = 0;
    std::uint16_t fin_idle_timeout = 0;
    std::uint16_t fin_hard_timeout = 0;
    std::uint64_t cookie = 0;
    bool delete_learned = false;
    std::uint32_t limit = 0;
    std::optional<bit_range> result_dst{};
    std::vector<learn_spec> specs{};
    friend bool operator==(const learn_description&, const learn_description&) = default;
};

// The run-time learn. The description and the state live behind shared
// pointers so that the learn costs an any_action no more than a `load`
// does; copies of one flow's action list share them, as one OVS rule's
// learn is one object.
struct generic_learn {
    std::shared_ptr<const learn_description> d;
    std::shared_ptr<detail::learn_state> state;

    generic_learn() : generic_learn(learn_description{}) {}
    explicit generic_learn(learn_description desc)
        : d(std::make_shared<const learn_description>(std::move(desc))),
          state(std::make_shared<detail::learn_state>()) {}

    [[nodiscard]] const learn_stats& stats() const noexcept { return state->stats; }
    [[nodiscard]] std::uint8_t table() const noexcept { return d->table; }
    [[nodiscard]] std::uint64_t cookie() const noexcept { return d->cookie; }
    [[nodiscard]] bool delete_learned() const noexcept { return d->delete_learned; }

    // Why this learn cannot be installed, or nullptr.
    [[nodiscard]] const char* invalid() const noexcept {
        if (d->table == 255) return "learn needs a target table number 0..254";
        if (d->result_dst && (!d->result_dst->valid() || d->result_dst->n_bits != 1))
            return "learn's result_dst names a single bit";
        for (const learn_spec& s : d->specs) {
            if (s.what != learn_spec::kind::output && !s.dst.valid()) return "learn spec bits lie outside the field";
            switch (s.what) {
            case learn_spec::kind::match_field:
            case learn_spec::kind::load_field:
                if (!s.src.valid() || s.src.n_bits != s.dst.n_bits)
                    return "a learn spec needs source and destination of the same width";
                break;
            case learn_spec::kind::match_const:
            case learn_spec::kind::load_const:
                if ((s.value & ~s.dst.mask()) != 0) return "a learn constant must fit in its destination bits";
                break;
            case learn_spec::kind::output:
                if (!s.src.valid()) return "learn output bits lie outside the field";
                break;
            }
        }
        return nullptr;
    }

    // The learned match for a packet. As in Open vSwitch, whose in_port is
    // 16 bits: `NXM_OF_IN_PORT[]` is all of in_port (a reserved 16-bit port
    // is its 32-bit self), and specs on a field that cannot be masked count
    // only when together they cover all of it; otherwise that field is left
    // out of the learned match (NXM_NX_IP_TTL[0..3]). in_port only counts
    // whole, as NXM_OF_IN_PORT[] or OXM_OF_IN_PORT[]: NXM_OF_IN_PORT[0..14]
    // and OXM_OF_IN_PORT[0..15] are left out, even with the bits that
    // complete them (OXM_OF_IN_PORT[16..31]).
    [[nodiscard]] match build_match(const flow_key& k) const noexcept {
        match m;
        for (const learn_spec& s : d->specs) {
            if (!is_match_spec(s)) continue;
            const uint128 v = s.what == learn_spec::kind::match_field ? get(k, s.src) : s.value;
            auto [value, mask] = learned_bits(s, v);
            if (s.dst.field == field_id::in_port) { // bits of in_port never add up (the oracle's oxm-in_port-bits)
                if (mask != info(field_id::in_port).all_ones()) continue;
            } else if (!info(s.dst.field).maskable) {
                uint128 all = 0;
                for (const learn_spec& o : d->specs)
                    if (is_match_spec(o) && o.dst.field == s.dst.field) all |= learned_bits(o, 0).second;
                if (all != info(s.dst.field).all_ones()) continue;
            }
            m.set(s.dst.field, value, mask);
        }
        return m;
    }

  private:
    [[nodiscard]] static bool is_match_spec(const learn_spec& s) noexcept {
        return s.what == learn_spec::kind::match_field || s.what == learn_spec::kind::match_const;
    }
    // A match spec's (value, mask) in its field, for the source value v.
    [[nodiscard]] static std::pair<uint128, uint128> learned_bits(const learn_spec& s, uint128 v) noexcept {
        if (s.dst.field == field_id::in_port && s.dst.start == 0 && s.dst.n_bits == 16 && !s.oxm_in_port_bits)
            return {ports::from_ofp10(static_cast<std::uint16_t>(v)), info(field_id::in_port).all_ones()};
        return {v << s.dst.start, s.dst.mask() << s.dst.start};
    }

  public:
    // The learned flow's actions (a generic_actions list).
    template <class Generic>
    [[nodiscard]] Generic build_actions(const flow_key& k) const {
        Generic g;
        if (d->fin_idle_timeout != 0 || d->fin_hard_timeout != 0)
            g.list.push_back(fin_timeout{d->fin_idle_timeout, d->fin_hard_timeout});
        for (const learn_spec& s : d->specs) {
            switch (s.what) {
            case learn_spec::kind::load_field: g.list.push_back(load{s.dst, get(k, s.src)}); break;
            case learn_spec::kind::load_const: g.list.push_back(load{s.dst, s.value}); break;
            case learn_spec::kind::output: {
                const std::uint32_t p = detail::learned_output_port(get(k, s.src), s.src.n_bits);
                if (p != ports::none) g.list.push_back(output{p});
                break;
            }
            default: break;
            }
        }
        return g;
    }

    template <class Table>
    learn_result install(Table& t, const flow_key& k, std::int64_t now) const {
        using Generic = typename detail::lazy_generic_actions<Table>::type;
        const match m = build_match(k);
        const detail::learn_params p{d->priority, d->idle_timeout, d->hard_timeout, d->cookie, d->limit};
        return detail::install_learned(
            t, p, build_actions<Generic>(k), now, *state, [&] { return t.find_strict(m, d->priority); },
            [&](Generic&& a) {
                return t.add(m, d->priority, std::move(a), flow_options{d->cookie, d->idle_timeout, d->hard_timeout},
                             now);
            });
    }

    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        // A context without a pipeline (a test recorder) has nowhere to learn to.
        if constexpr (requires {
                          ctx.tables();
                          ctx.now();
                      }) {
            auto& tables = ctx.tables();
            const std::uint8_t table = d->table;
            learn_result r = learn_result::failed;
            // Never staged (its flows allocate anyway, and generic tables
            // have no burst probe); learns staged before it go in first.
            if constexpr (requires { ctx.flush_learns(); }) ctx.flush_learns();
            if constexpr (requires { tables.find_table(table); }) { // generic_pipeline
                r = install(tables.table(table), ctx.key(), ctx.now());
            } else {
                bool ran = false;
                tables.for_each_table([&](auto& t) {
                    using T = std::remove_reference_t<decltype(t)>;
                    using Generic = typename detail::lazy_generic_actions<T>::type;
                    if constexpr (std::is_constructible_v<typename T::actions_type, Generic>) {
                        if (t.id() == table) {
                            r = install(t, ctx.key(), ctx.now());
                            ran = true;
                        }
                    }
                });
                // No such table, or one that takes no run-time action lists.
                if (!ran) ++state->stats.failed;
            }
            detail::flush_dropped_holds(tables);
            if constexpr (requires { ctx.learned(r); }) ctx.learned(r);
            if (d->result_dst) set(ctx.edit(), *d->result_dst, r == learn_result::refused_limit ? 0 : 1);
        }
    }

    friend bool operator==(const generic_learn& a, const generic_learn& b) noexcept {
        return a.d == b.d || *a.d == *b.d;
    }
};

} // namespace actions

namespace detail {
template <class S>
struct learn_spec_of;
template <class D, class S>
struct learn_spec_of<learn_args::match_field<D, S>> {
    static actions::learn_spec get() { return {actions::learn_spec::kind::match_field, D::range, S::range, 0}; }
};
template <class D, std::uint64_t V>
struct learn_spec_of<learn_args::match_const<D, V>> {
    static actions::learn_spec get() { return {actions::learn_spec::kind::match_const, D::range, {}, V}; }
};
template <std::uint64_t V, class D>
struct learn_spec_of<learn_args::load_const<V, D>> {
    static actions::learn_spec get() { return {actions::learn_spec::kind::load_const, D::range, {}, V}; }
};
template <class S, class D>
struct learn_spec_of<learn_args::load_field<S, D>> {
    static actions::learn_spec get() { return {actions::learn_spec::kind::load_field, D::range, S::range, 0}; }
};
template <class S>
struct learn_spec_of<learn_args::output_field<S>> {
    static actions::learn_spec get() { return {actions::learn_spec::kind::output, {}, S::range, 0}; }
};
} // namespace detail

namespace actions {
// A typed learn as data: what it does, in the form the run-time learn holds,
// so both print and compare the same way (dump-flows shows table 10's learn
// of a typed br-tun exactly as the reference page writes it).
template <class... Args>
[[nodiscard]] learn_description describe(const learn<Args...>& l) {
    using L = learn<Args...>;
    learn_description d;
    d.table = L::target_table;
    d.priority = L::priority;
    d.idle_timeout = L::idle_timeout;
    d.hard_timeout = L::hard_timeout;
    d.fin_idle_timeout = L::fin_idle_timeout;
    d.fin_hard_timeout = L::fin_hard_timeout;
    d.cookie = l.cookie;
    d.delete_learned = L::delete_learned;
    d.limit = l.limit;
    [&]<class... M>(detail::type_list<M...>) {
        (d.specs.push_back(detail::learn_spec_of<M>::get()), ...);
    }(typename L::match_specs{});
    [&]<class... A>(detail::type_list<A...>) {
        (d.specs.push_back(detail::learn_spec_of<A>::get()), ...);
    }(typename L::action_specs{});
    [&]<class... R>(detail::type_list<R...>) { ((d.result_dst = R::field::range), ...); }(typename L::result_specs{});
    return d;
}
} // namespace actions

// ---------------------------------------------------------------------------
// delete_learned: removals that also remove what the removed flows learned.

namespace detail {

template <class A>
inline constexpr bool is_typed_learn = false;
template <class... A>
inline constexpr bool is_typed_learn<actions::learn<A...>> = true;

template <class L>
constexpr bool list_may_delete_learned() {
    if constexpr (requires(const L& l) { l.list.begin(); }) {
        return true; // generic_actions: any flow may hold a generic_learn
    } else {
        return []<class... A>(const action_list<A...>*) {
            return ((is_typed_learn<A> &&
                     [] {
                         if constexpr (is_typed_learn<A>)
                             return A::delete_learned;
                         else
                             return false;
                     }()) ||
                    ...);
        }(static_cast<const L*>(nullptr));
    }
}

template <class Storage>
inline constexpr bool may_delete_learned = false;
template <class... L>
inline constexpr bool may_delete_learned<std::variant<L...>> = (list_may_delete_learned<L>() || ...);

// Calls f(target table, cookie) for each learn with delete_learned in `s`.
template <class Storage, class F>
void for_each_delete_learned(const Storage& s, F&& f) {
    std::visit(
        [&](const auto& l) {
            using L = std::remove_cvref_t<decltype(l)>;
            if constexpr (requires { l.list.begin(); }) {
                for (const auto& any : l.list)
                    if (const auto* g = std::get_if<actions::generic_learn>(&any); g && g->delete_learned())
                        f(g->table(), g->cookie());
            } else if constexpr (list_may_delete_learned<L>()) {
                l.for_each([&](const auto& a) {
                    using A = std::remove_cvref_t<decltype(a)>;
                    if constexpr (is_typed_learn<A>) {
                        if constexpr (A::delete_learned) f(A::target_table, a.cookie);
                    }
                });
            }
        },
        s);
}

using learned_ref = std::pair<std::uint8_t, std::uint64_t>; // (target table, cookie)

// Adds to `refs` the (table, cookie) of each delete_learned learn held by a
// flow of table `table` (255: every table) that `pick(flow)` selects.
// Tables that cannot hold such a learn (known at compile time) are skipped.
template <class Pipeline, class Pick>
void note_holds(Pipeline& p, std::uint8_t table, Pick&& pick, std::vector<learned_ref>& refs) {
    p.for_each_table([&](auto& t) {
        using T = std::remove_reference_t<decltype(t)>;
        if constexpr (may_delete_learned<typename T::actions_type>) {
            if (table != 255 && t.id() != table) return;
            t.for_each([&](const auto& f) {
                if (pick(f))
                    for_each_delete_learned(f.actions,
                                            [&](std::uint8_t tt, std::uint64_t c) { refs.emplace_back(tt, c); });
            });
        }
    });
}

// Every (table, cookie) a delete_learned learn of an installed flow refers to.
template <class Pipeline>
std::vector<learned_ref> learned_refs(Pipeline& p) {
    std::vector<learned_ref> refs;
    note_holds(
        p, 255, [](const auto&) { return true; }, refs);
    return refs;
}

template <class Storage>
constexpr bool storage_may_delete_learned() {
    return may_delete_learned<Storage>;
}
template <class Storage>
void note_dropped_holds(const Storage& old) {
    if constexpr (may_delete_learned<Storage>)
        for_each_delete_learned(old, [&](std::uint8_t tt, std::uint64_t c) { dropped_holds().emplace_back(tt, c); });
}

// Deletes the learned flows of each pair in `gone` that no flow refers to
// any more; and, as Open vSwitch does, when those flows held delete_learned
// learns themselves, their learned flows in turn (rounds until a round
// removes no such holder).
template <class Pipeline>
std::size_t flush_learned(Pipeline& p, std::vector<learned_ref> gone) {
    std::size_t n = 0;
    while (!gone.empty()) {
        const std::vector<learned_ref> still = learned_refs(p);
        std::vector<learned_ref> next; // what the flows removed this round held
        for (std::size_t i = 0; i < gone.size(); ++i) {
            bool dup = false;
            for (std::size_t j = 0; j < i; ++j) dup |= gone[j] == gone[i];
            if (dup) continue;
            bool held = false;
            for (const learned_ref& r : still) held |= r == gone[i];
            if (held) continue;
            const std::uint8_t table = gone[i].first;    // (not a structured binding: clang 14
            const std::uint64_t cookie = gone[i].second; // cannot capture those in a lambda)
            note_holds(
                p, table, [&](const auto& f) { return f.cookie == cookie; }, next);
            n += p.remove(table, match{}, false, 0, cookie_filter{cookie, ~std::uint64_t{0}}).count;
        }
        gone = std::move(next);
    }
    return n;
}

// A learn's modify rewrote flows that held delete_learned learns: their
// learned flows go, unless another flow still holds them (rare, and never
// for tables whose action lists have no such learn: no work then).
template <class Tables>
void flush_dropped_holds(Tables& tables) {
    if (dropped_holds().empty()) [[likely]]
        return;
    std::vector<learned_ref> gone;
    gone.swap(dropped_holds());
    if constexpr (requires { tables.remove(std::uint8_t{}, match{}, false, 0, cookie_filter{}); })
        flush_learned(tables, std::move(gone));
}

} // namespace detail

// Deletes flows like `p.remove(...)` (table 255: every table), then, as Open
// vSwitch does, the flows learned by delete_learned learns that no remaining
// flow holds: every flow with the learn's cookie in the learn's table.
template <class Pipeline>
flow_mod_status remove_flows(Pipeline& p, std::uint8_t table, const match& m, bool strict, std::int32_t priority = 0,
                             cookie_filter cookie = {}) {
    std::vector<detail::learned_ref> dying;
    p.for_each_table([&](auto& t) {
        using T = std::remove_reference_t<decltype(t)>;
        if constexpr (detail::may_delete_learned<typename T::actions_type>) {
            if (table != 255 && t.id() != table) return;
            auto note = [&](const auto& f) {
                detail::for_each_delete_learned(f.actions,
                                                [&](std::uint8_t tt, std::uint64_t c) { dying.emplace_back(tt, c); });
            };
            if (strict) {
                if (const auto* f = t.find_strict(m, priority); f && cookie.matches(f->cookie)) note(*f);
            } else {
                t.for_each([&](const auto& f) {
                    if (cookie.matches(f.cookie) && m.covers(f.get_match())) note(f);
                });
            }
        }
    });
    const flow_mod_status st = p.remove(table, m, strict, priority, cookie);
    detail::flush_learned(p, std::move(dying));
    return st;
}

// Expires flows like `p.expire(now)`, then removes what expired
// delete_learned learns had learned. Tables that cannot hold such a learn
// (known at compile time) are not scanned.
template <class Pipeline>
std::size_t expire_flows(Pipeline& p, std::int64_t now_ms) {
    std::vector<detail::learned_ref> before = detail::learned_refs(p);
    const std::size_t n = p.expire(now_ms);
    if (!before.empty()) {
        const std::vector<detail::learned_ref> after = detail::learned_refs(p);
        std::erase_if(before, [&](const detail::learned_ref& r) {
            for (const auto& a : after)
                if (a == r) return true;
            return false;
        });
        detail::flush_learned(p, std::move(before));
    }
    return n;
}

} // namespace flowpipe
