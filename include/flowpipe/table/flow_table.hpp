// A flow table: flows with priorities, cookies, counters and timeouts over
// the lookup structure its schema chose, with Open vSwitch's flow-mod rules.
//
// What?  `flow_table<Schema, Allowed, Lookup>` holds flows whose match is
// packed by `Schema` and whose actions are one of the lists in `Allowed`.
// The lookup structure is picked at compile time: an all-exact schema gets
// one hash table (`exact_id_index`: tags and flow ids only, the key is
// compared in the flow, which a hit reads anyway), anything else one
// subtable per mask (`masked_index`), or a linear scan (`scan_index`) when
// asked for; `lookup::tuple_space_exact<Bits...>` adds to the subtables an
// exact_id_index for the flows of one mask (a learned bulk: see there).
// Strict flow mods find a flow through the index that holds it.
//
// Flows live in fixed chunks of a slab, so a flow never moves once
// installed and lookups hand out stable pointers; a flow's id is its slab
// index, and that id is what the lookup structures store. (One exception: a
// learn, or a controller hook's flow mod, that replaces a flow's actions or
// cookie while a packet runs moves it to a new slot, counters and all, so
// that the packet goes on seeing and running the old one, as below.
// Pointers taken before a run may then name the old slot: find the flow
// again after a run.)
//
// All-exact tables.  An exact table holds flows that match every schema
// field exactly, plus catch-all flows that match nothing (`priority=0
// actions=resubmit(,22)`). Several flows may share a key at different
// priorities: the index maps the key to the highest one, which chains to
// the next lower (`next_same_key`). Catch-alls are a short list sorted by
// priority.
//
// Learned records (`lookup::exact_learned<Learn>`).  The flows one typed
// learn installs are, in br-tun's table 20, nearly all of the table and all
// alike but for the packet's values: they are kept as 48-byte records of a
// learned_store (learned_store.hpp) instead of 112-byte flows. The exact
// index holds their ids with `record_bit` set. A key has either one record
// or slab flows, never both: anything but that learn (with the store's
// cookie), a lookup by the engine, expiry or a removal that needs a record
// as a flow first moves it into the slab (`promote`: the same flow, with its
// counters, times and timer), so every rule below holds for records as for
// flows. The engine runs a record's actions from the record (lookup_ref_at);
// the flow cache keeps a tagged record address (`handle`); for_each gives a
// copy of each record's flow. A table that evicts keeps its flows in the
// slab (eviction asks the slab's timer wheel).
//
// Flow-mod rules (Open vSwitch 3.1 through ovs-ofctl, OpenFlow 1.0):
//  - add replaces a flow with the same match and priority and keeps nothing
//    of it (counters restart, as OF1.0 "add" implies reset_counts);
//  - modify (strict: same match and priority; loose: every flow the match
//    covers) replaces actions, keeps counters, timeouts, cookie and creation
//    time and restarts the hard timeout; a modify that finds no flow and has
//    no cookie mask adds the flow;
//  - delete, strict or loose, both filtered by cookie=value/mask;
//  - a flow expires when now > modified + hard_timeout or now > last used +
//    idle_timeout (milliseconds; Open vSwitch's rule_expire).
//
// Timers.  Every flow with a timeout is on one list of a timer wheel
// (timer_wheel.hpp: 1 ms slots, links inside the flow, 8 bytes a flow), in
// the slot of a *lower bound* of its expiry. expire(now) walks the slots
// that came due; a flow that was used or modified since is moved to the slot
// of its new bound (so a re-learn writes only the flow's `modified`). The
// cost is proportional to what comes due (plus one look per 16.4 s at flows
// with longer timeouts), never to the table. Eviction takes the flow that
// expires first (timer_wheel::earliest).
//
// A walk's own learns.  While a packet's walk runs, the table keeps a
// shadow of what that walk's learns (and the flow mods of a controller hook
// it called) changed in it, and the walk's lookups see the table as it was
// when the walk began, as Open vSwitch's table versions make them
// (walk_version.hpp): flows the walk removed keep their slots, flows whose
// actions it replaced move to a new slot and keep their old one, until the
// walk ends (prepare_replace, lookup_as_walk_began; on the slow path that
// `shadowed()` selects: for every walk that changes nothing here it costs
// one flag test). So actions that are running are never overwritten or
// freed under the walk.
//
// Threads.  One thread owns a table: it runs flow mods, lookups and expiry.
// (Lock-free readers with quiescent-state reclamation are planned; the
// stable slab is the first half of that.)
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <flowpipe/action/action_list.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/core/packet.hpp>
#include <flowpipe/core/prefetch.hpp>
#include <flowpipe/match/match.hpp>
#include <flowpipe/match/schema.hpp>
#include <flowpipe/table/exact_id_index.hpp>
#include <flowpipe/table/flow_mod.hpp>
#include <flowpipe/table/learned_store.hpp>
#include <flowpipe/table/masked_index.hpp>
#include <flowpipe/table/scan_index.hpp>
#include <flowpipe/table/timer_wheel.hpp>
#include <flowpipe/table/walk_version.hpp>

namespace flowpipe {

// Which lookup structure a table uses.
namespace lookup {
struct automatic {}; // exact for all-exact schemas, tuple space otherwise
struct exact {};
struct tuple_space {};
struct scan {};
// Tuple space plus one hash table for the flows whose mask is exactly the
// listed bits (`tuple_space_exact<fields::vlan_tci::bits<0, 11>,
// fields::eth_dst>`): a table whose bulk is one kind of flow (the MACs that
// br-tun's table 10 learns into table 20) next to a few others of other
// masks (l2pop's dl_vlan= flows, the catch-all). The bulk costs what an
// exact table's flows cost: one probe of an id-only index, 9 bytes a flow.
template <class... Bits>
struct tuple_space_exact {};
// A table whose flows learned by `Learn` (a typed learn<...>) are kept as
// compact records (learned_store.hpp): br-tun's table 20, whose learned MACs
// then take under 64 bytes each instead of a general flow's 128.
// `exact_learned<Learn>` is otherwise lookup::exact, `exact_learned<Learn,
// Bits...>` lookup::tuple_space_exact<Bits...> (the records in its exact
// index: the learn's match must be exactly those bits).
template <class Learn, class... Bits>
struct exact_learned {};
} // namespace lookup

template <class L>
inline constexpr bool is_tuple_space_exact = false;
template <class... B>
inline constexpr bool is_tuple_space_exact<lookup::tuple_space_exact<B...>> = true;
template <class Learn, class B, class... Bs>
inline constexpr bool is_tuple_space_exact<lookup::exact_learned<Learn, B, Bs...>> = true;
template <class L>
struct exact_learned_of {
    using type = void;
};
template <class Learn, class... B>
struct exact_learned_of<lookup::exact_learned<Learn, B...>> {
    using type = Learn;
};

namespace detail {
// A flow's mask. In an all-exact schema a mask is either every schema bit or
// none (a catch-all), so such flows keep one flag instead of a packed key.
template <class Schema, bool AllExact = Schema::all_exact>
struct flow_mask {
    using key_type = typename Schema::key_type;
    key_type mask{};
    [[nodiscard]] const key_type& get_mask() const noexcept { return mask; }
    void set_mask(const key_type& m) noexcept { mask = m; }
    [[nodiscard]] bool catch_all() const noexcept { return mask.is_zero(); }
};
template <class Schema>
struct flow_mask<Schema, true> {
    using key_type = typename Schema::key_type;
    [[nodiscard]] static const key_type& full() noexcept {
        static const key_type m = Schema::full_mask();
        return m;
    }
    [[nodiscard]] static const key_type& none() noexcept {
        static const key_type m{};
        return m;
    }
    [[nodiscard]] const key_type& get_mask() const noexcept { return is_catch_all ? none() : full(); }
    void set_mask(const key_type& m) noexcept { is_catch_all = m.is_zero(); }
    [[nodiscard]] bool catch_all() const noexcept { return is_catch_all; }
    bool is_catch_all = false;
};
} // namespace detail

// One flow. Laid out for size (a learned br-tun table-20 flow is 112 bytes;
// it was 128 plus 32 bytes of timer heap, then 120): the packed match value (the mask
// only when the schema has masked fields), the timestamps and counters Open
// vSwitch reports, the action list, and 32-bit links (same-key chain, timer
// wheel).
template <class Schema, class Allowed>
struct flow : detail::flow_mask<Schema> {
    using key_type = typename Schema::key_type;
    // (In an all-exact schema the mask part is a 1-byte flag; these small
    // fields fill the rest of the first 8 bytes. OpenFlow priorities are
    // 16 bits: flow mods refuse others.)
    bool live = false;
    std::uint16_t idle_timeout = 0;
    std::uint16_t hard_timeout = 0;
    std::uint16_t priority = 0;
    std::uint32_t id = 0;
    std::uint32_t next_same_key = 0xffffffffu;
    key_type value{};
    std::uint64_t cookie = 0;
    std::int64_t created_ms = 0;
    std::int64_t modified_ms = 0;
    std::int64_t used_ms = 0;
    std::uint64_t n_packets = 0;
    std::uint64_t n_bytes = 0;
    typename Allowed::storage actions{};
    std::uint32_t timer_prev = 0xffffffffu; // timer_wheel links
    std::uint32_t timer_next = 0xffffffffu;

    [[nodiscard]] bool has_timeout() const noexcept { return idle_timeout != 0 || hard_timeout != 0; }
    // The first `now` at which the flow counts as expired, or max when never.
    [[nodiscard]] std::int64_t expires_at() const noexcept {
        std::int64_t t = std::numeric_limits<std::int64_t>::max();
        if (hard_timeout) t = std::min(t, modified_ms + std::int64_t{hard_timeout} * 1000 + 1);
        if (idle_timeout) t = std::min(t, used_ms + std::int64_t{idle_timeout} * 1000 + 1);
        return t;
    }
    [[nodiscard]] match get_match() const noexcept { return Schema::unpack(value, this->get_mask()); }
};

struct table_stats {
    std::uint64_t lookups = 0;
    std::uint64_t matched = 0;
    std::uint64_t expired = 0;
    std::uint64_t evicted = 0;
};

template <class Schema, class Allowed, class Lookup = lookup::automatic>
class flow_table {
    static_assert(is_schema<Schema>, "flow_table<Schema, ...> needs a schema<...> or generic_schema");
    static_assert(is_allowed_actions<Allowed>, "flow_table<..., Allowed> needs allowed<action lists...>");

  public:
    using schema_type = Schema;
    using allowed_type = Allowed;
    using key_type = typename Schema::key_type;
    using flow_type = flow<Schema, Allowed>;
    using actions_type = typename Allowed::storage;
    using match_type = schema_match<Schema>;
    static constexpr std::size_t words = Schema::words;
    static constexpr std::uint32_t npos = 0xffffffffu;
    // lookup::exact_learned<Learn>: the flows Learn installs as records.
    using store_learn = typename exact_learned_of<Lookup>::type;
    static constexpr bool store_mode = !std::is_void_v<store_learn>;
    static constexpr bool exact_mode = std::is_same_v<Lookup, lookup::exact> ||
                                       (std::is_same_v<Lookup, lookup::automatic> && Schema::all_exact) ||
                                       std::is_same_v<Lookup, lookup::exact_learned<store_learn>>;
    static_assert(!std::is_same_v<Lookup, lookup::exact> || Schema::all_exact,
                  "lookup::exact needs a schema whose fields are all exact<F>");
    static_assert(!std::is_same_v<Lookup, lookup::exact_learned<store_learn>> || Schema::all_exact,
                  "lookup::exact_learned<Learn> needs a schema whose fields are all exact<F> (or name the bits of "
                  "the learned flows: exact_learned<Learn, Bits...>)");
    using index_type = std::conditional_t<
        exact_mode, exact_id_index<words>,
        std::conditional_t<std::is_same_v<Lookup, lookup::scan>, scan_index<words>, masked_index<words>>>;
    // lookup::tuple_space_exact: flows of one mask in an exact index of their own.
    static constexpr bool side_mode = is_tuple_space_exact<Lookup>;
    static_assert(!side_mode || !Schema::all_exact,
                  "lookup::tuple_space_exact is for schemas with masked fields: an all-exact schema is one hash table");
    struct no_side_index {};
    using side_index_type = std::conditional_t<side_mode, exact_id_index<words>, no_side_index>;
    // Whether learn's one-probe path (probe_learn below) exists: in the exact
    // index, for flows of every schema bit (exact mode) or of the side mask.
    static constexpr bool probe_mode = exact_mode || side_mode;
    // The mask of the flows that path installs.
    [[nodiscard]] static const key_type& probe_mask() noexcept {
        if constexpr (side_mode) {
            static const key_type m = side_mask_of(Lookup{});
            return m;
        } else {
            static const key_type m = Schema::full_mask();
            return m;
        }
    }

    struct no_store {
        struct record {};
        explicit no_store(std::size_t) noexcept {}
    };
    using store_type = std::conditional_t<store_mode, learned_store<store_learn, Schema, Allowed>, no_store>;
    using record = typename store_type::record;
    // Index ids with this bit set name a store record (store mode).
    static constexpr std::uint32_t record_bit = 0x80000000u;

    explicit flow_table(table_config cfg = {}, std::uint8_t table_id = 0)
        : cfg_(cfg), id_(table_id), index_(index_capacity(cfg)), side_(make_side(cfg)),
          store_(std::max<std::size_t>(cfg.max_flows, 1)) {
        if constexpr (side_mode) side_mask_ = side_mask_of(Lookup{});
    }

    flow_table(const flow_table&) = delete;
    flow_table& operator=(const flow_table&) = delete;

    [[nodiscard]] std::uint8_t id() const noexcept { return id_; }
    [[nodiscard]] const table_config& config() const noexcept { return cfg_; }
    [[nodiscard]] std::size_t size() const noexcept {
        if constexpr (store_mode)
            return n_flows_ + store_.size();
        else
            return n_flows_;
    }
    [[nodiscard]] const table_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const index_type& index() const noexcept { return index_; }
    // Bytes the table holds: slab, free list, lookup structures, timers and
    // (store mode) records.
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        std::size_t b = chunks_.size() * chunk_size * sizeof(flow_type) + chunks_.capacity() * sizeof(void*) +
                        free_.capacity() * sizeof(std::uint32_t) + catch_alls_.capacity() * sizeof(std::uint32_t) +
                        index_memory_bytes() + wheel_.memory_bytes();
        if constexpr (store_mode) b += store_.memory_bytes();
        return b;
    }
    // Store mode: the records (learned_store.hpp).
    [[nodiscard]] const store_type& store() const noexcept { return store_; }
    // Bytes of every lookup structure (the side index of tuple_space_exact too).
    [[nodiscard]] std::size_t index_memory_bytes() const noexcept {
        if constexpr (side_mode)
            return index_.memory_bytes() + side_.memory_bytes();
        else
            return index_.memory_bytes();
    }

    // ---- data path ------------------------------------------------------

    // The highest-priority flow matching `k`, or nullptr. Counts a lookup.
    [[nodiscard]] flow_type* lookup(const flow_key& k) noexcept {
        ++stats_.lookups;
        flow_type* f = find(Schema::pack(k));
        stats_.matched += f != nullptr;
        return f;
    }

    // Looks up n keys at once (the index interleaves their memory accesses).
    void lookup_burst(const flow_key* const* keys, std::size_t n, flow_type** out) noexcept {
        key_type packed[64];
        std::uint32_t ids[64];
        for (std::size_t base = 0; base < n; base += 64) {
            const std::size_t m = std::min<std::size_t>(64, n - base);
            for (std::size_t i = 0; i < m; ++i) packed[i] = Schema::pack(*keys[base + i]);
            if constexpr (exact_mode)
                index_.find_burst(packed, m, ids, key_of{this}, prefetch_key{this});
            else
                index_.find_burst(packed, m, ids);
            if constexpr (side_mode) side_find_burst(packed, m, ids);
            for (std::size_t i = 0; i < m; ++i) {
                if constexpr (store_mode) // (a record an earlier packet's key promoted: find its flow)
                    if (is_record(ids[i]) && !store_.at(ids[i] & ~record_bit).live()) ids[i] = find_id(packed[i]);
                flow_type* f = as_flow(ids[i]);
                if constexpr (exact_mode) f = better_of(f, catch_all());
                out[base + i] = f;
                stats_.matched += f != nullptr;
            }
        }
        stats_.lookups += n;
    }

    // ---- staged lookups for a burst (big exact tables) ----
    //
    // A table too big for the caches costs a DRAM miss or two per lookup. The
    // engine therefore looks every packet of a burst up in such tables before
    // running the burst (prelookup: the index's interleaved find_burst, then a
    // prefetch of each flow found), and a packet that reaches the table later
    // takes the stored result (lookup_at) if its packed key is still the same
    // and no flow was installed or removed since. Speculative: a packet that
    // never gets here, or whose key changed on the way, wasted one probe.
    static constexpr std::size_t prelookup_threshold = 16384;
    [[nodiscard]] bool worth_prelookup() const noexcept { return exact_mode && size() >= prelookup_threshold; }

    void prelookup(std::span<const flow_key> keys) noexcept {
        if constexpr (exact_mode) {
            const std::size_t n = std::min(keys.size(), max_burst);
            key_type packed[max_burst];
            std::uint32_t ids[max_burst];
            for (std::size_t i = 0; i < n; ++i) packed[i] = Schema::pack(keys[i]);
            index_.find_burst(packed, n, ids, key_of{this}, prefetch_key{this});
            for (std::size_t i = 0; i < n; ++i) {
                pre_[i] = pre_entry{packed[i], ids[i]};
                if (ids[i] != npos) prefetch_entry(ids[i]);
            }
            pre_n_ = n;
            pre_changes_ = changes_;
        }
    }

    // lookup(k) for the packet at position `i` of the burst being run.
    [[nodiscard]] flow_type* lookup_at(const flow_key& k, std::size_t i) noexcept {
        if constexpr (exact_mode) {
            if (i < pre_n_ && pre_changes_ == changes_) {
                const key_type packed = Schema::pack(k);
                if (packed == pre_[i].key) {
                    ++stats_.lookups;
                    flow_type* f = better_of(as_flow(pre_[i].id), catch_all());
                    stats_.matched += f != nullptr;
                    return f;
                }
            }
        }
        return lookup(k);
    }

    // ---- store mode: lookups that hand out records (the engine's) ----
    //
    // A record is not a flow_type: the engine runs the actions
    // store().actions_of(record) gives and credits it through hit_record.
    // (The lookups above and lookup_as_walk_began return flows: a record
    // they find moves into the slab first, `promote`, as every control-path
    // use of one does.)
    struct ref {
        flow_type* credit;     // the live flow the packet is credited to (null: none, or a record)
        const flow_type* seen; // the flow the walk runs
        record* rec;           // or a record (then credit and seen are null)
        std::uint32_t rec_id;
    };
    // lookup_at(k, i), records left in place.
    [[nodiscard]] ref lookup_ref_at(const flow_key& k, std::size_t i) noexcept {
        ++stats_.lookups;
        const key_type packed = Schema::pack(k);
        const std::uint32_t id = exact_mode && i < pre_n_ && pre_changes_ == changes_ && packed == pre_[i].key
                                     ? pre_[i].id
                                     : find_id(packed);
        flow_type* c = exact_mode ? catch_all() : nullptr;
        ref r;
        if (is_record(id) && (c == nullptr || c->priority <= record_priority)) {
            r = {nullptr, nullptr, &store_.at(id & ~record_bit), id & ~record_bit};
        } else {
            flow_type* f = better_of(is_record(id) || id == npos ? nullptr : &at(id), c);
            r = {f, f, nullptr, npos};
        }
        stats_.matched += r.seen != nullptr || r.rec != nullptr;
        return r;
    }
    // lookup_as_walk_began(k), records left in place (those the walk added
    // are not seen; the walk changes no other record: see promote_for_walk).
    [[nodiscard]] ref lookup_ref_as_walk_began(const flow_key& k) noexcept {
        ++stats_.lookups;
        const key_type packed = Schema::pack(k);
        auto skip = [&](std::uint32_t id) { return shadow_added(id); };
        const std::uint32_t id = find_id_unless(packed, skip);
        ref r{nullptr, nullptr, nullptr, npos};
        std::int32_t prio = -1;
        if (is_record(id)) {
            r.rec = &store_.at(id & ~record_bit);
            r.rec_id = id & ~record_bit;
            prio = record_priority;
        } else if (id != npos) {
            r.credit = &at(id);
            prio = r.credit->priority;
        }
        for (const std::uint32_t c : catch_alls_)
            if (!skip(c)) {
                if (at(c).priority > prio) {
                    r = {&at(c), nullptr, nullptr, npos};
                    prio = at(c).priority;
                }
                break;
            }
        r.seen = r.credit;
        if (r.credit != nullptr)
            for (const auto& [old, now] : shadow_->moved)
                if (now == r.credit->id) r.seen = &at(old);
        for (const std::uint32_t rid : shadow_->removed) {
            const flow_type& x = at(rid);
            if ((packed & x.get_mask()) == x.value && x.priority > prio) {
                r = {nullptr, &x, nullptr, npos};
                prio = x.priority;
            }
        }
        stats_.matched += r.seen != nullptr || r.rec != nullptr;
        return r;
    }
    void hit_record(record& r, std::uint32_t bytes, std::int64_t now_ms) noexcept { store_.hit(r, bytes, now_ms); }
    // What the flow cache keeps for a record: its address, tagged (records
    // and flows are at least 8-byte aligned).
    [[nodiscard]] static void* handle(record* r) noexcept {
        return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(r) | 1);
    }
    // Credits what a lookup handed out: a flow, or a record's handle.
    void credit(void* h, std::uint32_t bytes, std::int64_t now_ms) noexcept {
        if constexpr (store_mode) {
            const auto u = reinterpret_cast<std::uintptr_t>(h);
            if (u & 1) {
                store_.hit(*reinterpret_cast<record*>(u & ~std::uintptr_t{1}), bytes, now_ms);
                return;
            }
        }
        hit(*static_cast<flow_type*>(h), bytes, now_ms);
    }

    // ---- a walk's own learns (table/walk_version.hpp) ----

    // Whether the walk running now changed this table: its lookups then go
    // through lookup_as_walk_began.
    [[nodiscard]] bool shadowed() const noexcept { return shadowed_; }
    // What a walk's lookup found: the flow as the walk sees it (`seen`: a
    // live flow, or the kept slot of a flow the walk moved or removed), and
    // the live flow its packet is credited to (null when the walk removed it).
    struct walk_hit {
        flow_type* credit;
        const flow_type* seen;
    };
    // lookup(k) in the table as it was when the walk began.
    [[nodiscard]] walk_hit lookup_as_walk_began(const flow_key& k) noexcept {
        if constexpr (store_mode) {
            const ref r = lookup_ref_as_walk_began(k);
            if (r.rec != nullptr) {
                flow_type& f = promote(r.rec_id);
                return {&f, &f};
            }
            return {r.credit, r.seen};
        }
        ++stats_.lookups;
        const key_type packed = Schema::pack(k);
        flow_type* f = find_unless(packed, [&](std::uint32_t id) { return shadow_added(id); });
        const flow_type* seen = f;
        if (f != nullptr)
            for (const auto& [old, now] : shadow_->moved)
                if (now == f->id) seen = &at(old);
        for (const std::uint32_t id : shadow_->removed) {
            const flow_type& r = at(id);
            if ((packed & r.get_mask()) == r.value && (seen == nullptr || r.priority > seen->priority)) {
                seen = &r;
                f = nullptr;
            }
        }
        stats_.matched += seen != nullptr;
        return {f, seen};
    }
    // The flow a walk's lookup of k sees (lookup(k), or lookup_as_walk_began
    // in a walk that changed the table), for a caller that only reads it
    // (ofctl's trace): a learned record stays where it is and its flow is
    // copied into `scratch` (materialize; a copy, whose id is the record's
    // and changing it changes nothing), where lookup() would move it into
    // the slab for good. Counts a lookup, as those do.
    [[nodiscard]] const flow_type* lookup_seen(const flow_key& k, flow_type& scratch) noexcept {
        if constexpr (store_mode) {
            // (An index past any burst's pre-probed keys: a lookup of its own.)
            const ref r =
                shadowed_ ? lookup_ref_as_walk_began(k) : lookup_ref_at(k, std::numeric_limits<std::size_t>::max());
            if (r.rec == nullptr) return r.seen;
            materialize(r.rec_id, scratch);
            return &scratch;
        } else {
            return shadowed_ ? lookup_as_walk_began(k).seen : lookup(k);
        }
    }
    // A learn or a flow mod is about to replace f's actions or cookie: the
    // flow to change. Outside a walk's own changes, or for a flow the walk
    // added or moved already, f itself. Otherwise the walk may be running
    // f's actions and must go on seeing f as it is: f moves to a new slot
    // (counters, times, cookie and all, in f's place in the index and
    // timers), which is returned, and f's slot stays as it is until the
    // walk ends.
    flow_type& prepare_replace(flow_type& f) {
        if (!detail::walk_versions().recording()) [[likely]]
            return f;
        return move_for_walk(f);
    }

  private:
    [[gnu::noinline, gnu::cold]] flow_type& move_for_walk(flow_type& f) {
        if (shadow_added(f.id) || moved_here(f.id) || !shadow_register()) return f;
        flow_type& g = allocate(); // (chunks never move: f stays where it is)
        const std::uint32_t id = g.id;
        g = f;
        g.id = id;
        g.next_same_key = npos;
        g.timer_prev = g.timer_next = timer_wheel::unlinked;
        if (f.timer_prev != timer_wheel::unlinked) { // g's timer is f's, in f's place
            timer_links l{this};
            wheel_.take_place(l, f.id, g.id);
        }
        keep(f);
        link(g); // where f was: it cannot be full
        shadow_->moved.emplace_back(f.id, id);
        // The same flows as before (allocate and keep counted a change
        // each), but the ids of burst pre-lookups may name f's slot.
        changes_ -= 2;
        pre_n_ = 0;
        return g;
    }

  public:
    // Credits a packet of `bytes` to a flow that matched it at `now_ms`.
    static void hit(flow_type& f, std::uint32_t bytes, std::int64_t now_ms) noexcept {
        ++f.n_packets;
        f.n_bytes += bytes;
        f.used_ms = now_ms;
    }

    // Counts lookups made for this table elsewhere: the pipeline's flow cache
    // replays a walk's lookups without running them (pipeline/flow_cache.hpp).
    void count_lookups(std::uint64_t lookups, std::uint64_t matched) noexcept {
        stats_.lookups += lookups;
        stats_.matched += matched;
    }

    // ---- control path ---------------------------------------------------

    // ovs-ofctl add-flow: installs a flow, replacing one with the same match
    // and priority.
    template <class Actions>
    flow_mod_status add(const match& m, std::int32_t priority, Actions&& acts, const flow_options& o,
                        std::int64_t now_ms) {
        static_assert(std::is_constructible_v<actions_type, Actions&&>,
                      "this table does not allow that action list: add it to the table's allowed<...>");
        key_type value, mask;
        if (auto st = prepare(m, priority, value, mask); !st) return st;
        return add_packed(value, mask, priority, std::forward<Actions>(acts), o, now_ms);
    }

    // add() for a match already packed for this schema, whose priority and
    // prerequisites the caller has checked (learn builds these per packet).
    template <class Actions>
    flow_mod_status add_packed(const key_type& value, const key_type& mask, std::int32_t priority, Actions&& acts,
                               const flow_options& o, std::int64_t now_ms) {
        static_assert(std::is_constructible_v<actions_type, Actions&&>,
                      "this table does not allow that action list: add it to the table's allowed<...>");
        const std::uint32_t existing = find_exact(value, mask, priority);
        if (existing != npos) {
            remove_flow(at(existing), removal_reason::replaced);
        } else if (size() >= cfg_.max_flows && !make_room()) {
            return {flow_mod_errc::table_full};
        }
        flow_type& f = new_flow(value, mask, priority, std::forward<Actions>(acts), o, now_ms);
        if (!link(f)) {
            release(f);
            return {flow_mod_errc::table_full};
        }
        schedule(f);
        note_add(f);
        return {flow_mod_errc::ok, 1};
    }

    // ovs-ofctl mod-flows [--strict]: replaces the actions of the selected
    // flows; adds the flow when none is selected and no cookie mask is given.
    template <class Actions>
    flow_mod_status modify(const match& m, bool strict, std::int32_t priority, Actions&& acts, cookie_filter cookie,
                           std::int64_t now_ms, bool may_add = true) {
        static_assert(std::is_constructible_v<actions_type, Actions&&>,
                      "this table does not allow that action list: add it to the table's allowed<...>");
        const actions_type a(std::forward<Actions>(acts));
        // Collected first: during a walk (a controller hook's flow mod) a
        // replaced flow moves to a new slot (prepare_replace), which a loose
        // select would meet again.
        std::vector<std::uint32_t> selected;
        select(m, strict, priority, cookie, [&](flow_type& f) { selected.push_back(f.id); });
        for (const std::uint32_t id : selected) {
            flow_type& f = prepare_replace(at(id));
            f.actions = a;
            f.modified_ms = now_ms;
        }
        if (selected.empty() && may_add && cookie.mask == 0)
            return add(m, priority, a, flow_options{cookie.value, 0, 0}, now_ms);
        return {flow_mod_errc::ok, selected.size()};
    }

    // ovs-ofctl del-flows [--strict]: removes the selected flows.
    flow_mod_status remove(const match& m, bool strict, std::int32_t priority = 0, cookie_filter cookie = {}) {
        if constexpr (store_mode) { // records go as they are (no promotion)
            if (strict) {
                key_type value, mask;
                if (priority == record_priority && Schema::pack(m, value, mask) == schema_error::none &&
                    mask == probe_mask()) {
                    const std::uint32_t id = learn_index().find(value, key_of{this});
                    if (is_record(id)) {
                        if (!cookie.matches(store_.cookie())) return {flow_mod_errc::ok, 0};
                        remove_record(id & ~record_bit, removal_reason::deleted);
                        return {flow_mod_errc::ok, 1};
                    }
                }
            } else {
                const std::vector<std::uint32_t> records = pick_records(m, cookie);
                std::vector<std::uint32_t> victims;
                for_each_slab([&](flow_type& f) {
                    if (cookie.matches(f.cookie) && m.covers(f.get_match())) victims.push_back(f.id);
                });
                for (const std::uint32_t rid : records) remove_record(rid, removal_reason::deleted);
                for (std::uint32_t id : victims) remove_flow(at(id), removal_reason::deleted);
                return {flow_mod_errc::ok, records.size() + victims.size()};
            }
        }
        if (strict) {
            // Collected first: removing while selecting would unlink chains under us.
            std::uint32_t victim = npos;
            select(m, true, priority, cookie, [&](flow_type& f) { victim = f.id; });
            if (victim == npos) return {flow_mod_errc::ok, 0};
            remove_flow(at(victim), removal_reason::deleted);
            return {flow_mod_errc::ok, 1};
        }
        std::vector<std::uint32_t> victims;
        select(m, false, priority, cookie, [&](flow_type& f) { victims.push_back(f.id); });
        for (std::uint32_t id : victims) remove_flow(at(id), removal_reason::deleted);
        return {flow_mod_errc::ok, victims.size()};
    }

    // Removes every flow whose timeout has passed at `now_ms`; returns how many.
    std::size_t expire(std::int64_t now_ms) {
        std::size_t n = 0;
        if constexpr (store_mode)
            n = store_.expire(now_ms, [&](std::uint32_t rid) {
                remove_record(rid, removal_reason::hard_timeout);
                ++stats_.expired;
            });
        timer_links l{this};
        return n + wheel_.expire(
                       l, now_ms, [&](std::uint32_t id) { return at(id).expires_at(); },
                       [&](std::uint32_t id) {
                           flow_type& f = at(id);
                           const bool hard =
                               f.hard_timeout && now_ms > f.modified_ms + std::int64_t{f.hard_timeout} * 1000;
                           remove_flow(f, hard ? removal_reason::hard_timeout : removal_reason::idle_timeout);
                           ++stats_.expired;
                       });
    }

    // A time at or before which expire() has nothing to do (a lower bound of
    // the earliest expiry; max when no flow has a timeout).
    [[nodiscard]] std::int64_t next_expiry() const noexcept {
        timer_links l{const_cast<flow_table*>(this)};
        if constexpr (store_mode)
            return std::min(wheel_.next_bound(l), store_.next_bound());
        else
            return wheel_.next_bound(l);
    }
    [[nodiscard]] const timer_wheel& timers() const noexcept { return wheel_; }

    // The flow with exactly this match and priority (ovs-ofctl --strict), or nullptr.
    [[nodiscard]] flow_type* find_strict(const match& m, std::int32_t priority) noexcept {
        key_type value, mask;
        if (Schema::pack(m, value, mask) != schema_error::none) return nullptr;
        const std::uint32_t id = find_exact(value, mask, priority);
        return id == npos ? nullptr : &at(id);
    }

    // The same for a packed (value, mask), without building a match.
    [[nodiscard]] flow_type* find_strict(const key_type& value, const key_type& mask, std::int32_t priority) noexcept {
        const std::uint32_t id = find_exact(value, mask, priority);
        return id == npos ? nullptr : &at(id);
    }

    // ---- learn's path in exact tables: one hash per learn ----
    //
    // (Also in a tuple_space_exact table, for learned flows of its side
    // mask: the same probes of its side index.)
    // probe_learn(value) hashes the learned key once and finds either its
    // flows (the head of its same-key chain) or where the index would put it;
    // find_probed and add_probed then use that probe instead of hashing and
    // probing again (add used to hash the key four times: strict find,
    // add's own find, link's find, insert). A probe stays usable across
    // add_probed's inserts of other keys (learn's burst probes 32 keys, then
    // installs them one by one): its `epoch` is the table's index_epoch()
    // when taken, which every other index change moves (link, unlink: adds
    // through the general path, removals, evictions), and learn_probe_valid
    // says whether it still holds; find_probed and add_probed redo a probe
    // that does not, from its stored hash (lines in cache).
    struct learn_probe {
        std::conditional_t<probe_mode, typename exact_id_index<words>::probe_result, char> r{};
        std::uint64_t epoch = 0;
    };
    [[nodiscard]] static std::uint64_t learn_hash(const key_type& value) noexcept {
        if constexpr (probe_mode)
            return exact_id_index<words>::hash(value);
        else
            return 0;
    }
    [[nodiscard, gnu::always_inline]] learn_probe probe_learn(const key_type& value) const noexcept {
        return probe_learn(value, learn_hash(value));
    }
    // (Flattened: left a call, the probe returns its result through memory,
    // and the store's learns ran at half speed at 1M flows.)
    [[nodiscard, gnu::flatten]] learn_probe probe_learn(const key_type& value, std::uint64_t h) const noexcept {
        learn_probe p;
        if constexpr (probe_mode) p.r = learn_index().probe(value, h, key_of{this});
        p.epoch = index_epoch_;
        return p;
    }
    // probe_learn for n keys and their hashes at once (the index overlaps
    // their cache misses: exact_id_index::probe_burst).
    void probe_learn_burst(const key_type* values, const std::uint64_t* hashes, std::size_t n,
                           learn_probe* out) const noexcept {
        if constexpr (probe_mode) {
            typename exact_id_index<words>::probe_result r[exact_id_index<words>::burst_group];
            for (std::size_t base = 0; base < n; base += exact_id_index<words>::burst_group) {
                const std::size_t m = std::min(n - base, exact_id_index<words>::burst_group);
                learn_index().probe_burst(values + base, hashes + base, m, r, key_of{this}, prefetch_key{this});
                for (std::size_t i = 0; i < m; ++i) out[base + i] = learn_probe{r[i], index_epoch_};
            }
        } else {
            for (std::size_t i = 0; i < n; ++i) out[i] = learn_probe{{}, index_epoch_};
        }
    }
    // Whether a probe still says what probing again would: no index change
    // but add_probed's inserts since (its epoch), and, when it found nothing,
    // the free slot it chose is still free. That suffices: an insert fills
    // the first free slot of its key's probe sequence, so another key cannot
    // make an earlier free slot appear, and the probe's own key could only
    // have been inserted into the very slot the probe chose.
    [[nodiscard]] bool learn_probe_valid(const learn_probe& p) const noexcept {
        if constexpr (probe_mode)
            return p.epoch == index_epoch_ &&
                   (p.r.found || !p.r.has_free || learn_index().slot_free(p.r.bucket, p.r.slot));
        else
            return true;
    }
    // Counts every index change but add_probed's inserts (see learn_probe).
    [[nodiscard]] std::uint64_t index_epoch() const noexcept { return index_epoch_; }
    // Prefetches the index lines a probe of hash h reads first.
    void prefetch_learn(std::uint64_t h) const noexcept {
        if constexpr (probe_mode) learn_index().prefetch(h);
    }
    // Then the line a probe of hash h reads next, when its first has
    // overflowed (reads the first: prefetch_learn(h) some time before).
    void prefetch_learn_next(std::uint64_t h) const noexcept {
        if constexpr (probe_mode) learn_index().prefetch_next(h);
    }
    // Prefetches (for writing) a flow's lines.
    void prefetch_flow(std::uint32_t id) const noexcept {
        if constexpr (store_mode) {
            if (is_record(id)) {
                const auto* r = &store_.at(id & ~record_bit);
                prefetch_write(r);
                prefetch_write(reinterpret_cast<const char*>(r) + sizeof(record) - 1);
                return;
            }
        }
        const auto* p = &chunks_[id >> chunk_bits][id & (chunk_size - 1)];
        prefetch_write(p);
        if constexpr (sizeof(flow_type) > 1) prefetch_write(reinterpret_cast<const char*>(p) + sizeof(flow_type) - 1);
        if constexpr (sizeof(flow_type) > 64) prefetch_write(reinterpret_cast<const char*>(p) + 64);
    }
    // Prefetches (for writing) the slab slot the k-th next new flow will take
    // (a store's records are not slab flows: its learns do not come here).
    void prefetch_new_flow(std::size_t k) const noexcept {
        std::size_t id;
        if (k < free_.size())
            id = free_[free_.size() - 1 - k];
        else
            id = next_id_ + (k - free_.size());
        if ((id >> chunk_bits) < chunks_.size()) {
            const auto* p = &chunks_[id >> chunk_bits][id & (chunk_size - 1)];
            prefetch_write(p);
            if constexpr (sizeof(flow_type) > 1)
                prefetch_write(reinterpret_cast<const char*>(p) + sizeof(flow_type) - 1);
            if constexpr (sizeof(flow_type) > 64) prefetch_write(reinterpret_cast<const char*>(p) + 64);
        }
    }

    // The flow with (value, probe_mask(), priority), from a probe of value.
    [[nodiscard]] flow_type* find_probed(learn_probe& p, const key_type& value, std::int32_t priority) noexcept {
        if constexpr (probe_mode) {
            if (!learn_probe_valid(p)) p = probe_learn(value, p.r.hash);
            if (p.r.found && is_record(p.r.id)) { // another learn's flow for a stored key: the general path
                promote(p.r.id & ~record_bit);
                p = probe_learn(value, p.r.hash);
            }
            for (std::uint32_t id = p.r.found ? p.r.id : npos; id != npos; id = at(id).next_same_key)
                if (at(id).priority == priority) return &at(id);
            return nullptr;
        } else {
            return find_strict(value, Schema::full_mask(), priority);
        }
    }

    // add_packed(value, probe_mask(), ...) through a probe of value.
    template <class Actions>
    flow_mod_status add_probed(learn_probe& p, const key_type& value, std::int32_t priority, Actions&& acts,
                               const flow_options& o, std::int64_t now_ms) {
        static_assert(std::is_constructible_v<actions_type, Actions&&>,
                      "this table does not allow that action list: add it to the table's allowed<...>");
        if constexpr (probe_mode) {
            if (!learn_probe_valid(p)) p = probe_learn(value, p.r.hash);
            // Other flows with this key, or a full table: the general path.
            if (p.r.found || size() >= cfg_.max_flows)
                return add_packed(value, probe_mask(), priority, std::forward<Actions>(acts), o, now_ms);
            auto& idx = learn_index();
            if (!p.r.has_free || idx.size() >= idx.capacity()) return {flow_mod_errc::table_full};
            flow_type& f = new_flow(value, probe_mask(), priority, std::forward<Actions>(acts), o, now_ms);
            if (idx.insert_at(p.r, f.id) != exact_id_index<words>::insert_result::inserted) {
                release(f);
                return {flow_mod_errc::table_full};
            }
            if constexpr (side_mode) side_max_priority_ = std::max<std::int32_t>(side_max_priority_, f.priority);
            schedule(f);
            note_add(f);
            return {flow_mod_errc::ok, 1};
        } else {
            return add_packed(value, Schema::full_mask(), priority, std::forward<Actions>(acts), o, now_ms);
        }
    }

    // Counts every flow added to or removed from the table, and every cookie
    // a learn changed: equal values mean the same set of flows with the same
    // cookies (learn's limit caches its per-cookie count on it).
    [[nodiscard]] std::uint64_t changes() const noexcept { return changes_; }
    void note_cookie_changed() noexcept { ++changes_; }

    // Calls f(flow) for every flow, in no particular order. (Store mode:
    // a record's flow is a copy, made for the call: changing it changes
    // nothing, and its id is not a slab id.)
    template <class F>
    void for_each(F&& f) {
        for_each_slab(f);
        for_each_record(f);
    }
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t c = 0; c < chunks_.size(); ++c)
            for (std::size_t i = 0; i < chunk_size; ++i)
                if (chunks_[c][i].live) f(static_cast<const flow_type&>(chunks_[c][i]));
        for_each_record(f);
    }
    // How many flows carry `cookie` (learn's limit=N).
    [[nodiscard]] std::size_t count_cookie(std::uint64_t cookie) const noexcept {
        std::size_t n = 0;
        for (std::size_t c = 0; c < chunks_.size(); ++c)
            for (std::size_t i = 0; i < chunk_size; ++i) n += chunks_[c][i].live && chunks_[c][i].cookie == cookie;
        if constexpr (store_mode)
            if (store_.cookie() == cookie) n += store_.size();
        return n;
    }

    void clear() {
        for_each_slab([&](flow_type& f) { remove_flow(f, removal_reason::deleted); });
        if constexpr (store_mode) {
            std::vector<std::uint32_t> all;
            store_.for_each_id([&](std::uint32_t rid) { all.push_back(rid); });
            for (const std::uint32_t rid : all) remove_record(rid, removal_reason::deleted);
        }
    }

    // ---- store mode: the learn's path (action/learn.hpp) ----
    //
    // Whether learns with this cookie go to the store: a table that evicts
    // keeps every flow in the slab (eviction takes the flow that expires
    // first, which the timer wheel of the slab answers), and the store
    // holds the flows of one cookie (the first learn's, while empty).
    [[nodiscard]] bool store_takes(std::uint64_t cookie) const noexcept {
        if constexpr (store_mode)
            return (store_.cookie() == cookie || store_.size() == 0) && cfg_.on_full != overflow_policy::evict;
        else
            return false;
    }
    // What a learn's probe found: nothing, a record, or slab flows.
    [[nodiscard]] record* probed_record(learn_probe& p, const key_type& value) noexcept {
        if (!learn_probe_valid(p)) p = probe_learn(value, p.r.hash);
        return found_record(p);
    }
    // The fast path of a learn into the store (action/learn.hpp): a probe
    // of value (hash h) taken in its home bucket alone (Near: and the next
    // one when home has overflowed), when that settles it
    // (exact_id_index::probe_home, probe_near); false sends the learn down
    // the full probe. `found` is the record it found (null: none, or a slab
    // flow), taken from the key compare (not computed again from the probe).
    template <bool Near = false>
    [[nodiscard, gnu::always_inline]] bool probe_learn_home(const key_type& value, std::uint64_t h, learn_probe& p,
                                                            record*& found) noexcept {
        if constexpr (store_mode) {
            p.epoch = index_epoch_;
            found = nullptr;
            const auto key_at = [&](std::uint32_t id) -> const key_type& {
                if (id & record_bit) {
                    found = &store_.at(id & ~record_bit);
                    return found->key;
                }
                return at(id).value;
            };
            if constexpr (Near)
                return learn_index().probe_near(value, h, key_at, p.r);
            else
                return learn_index().probe_home(value, h, key_at, p.r);
        } else {
            return false;
        }
    }
    // The record a probe found, or null (nothing, or a slab flow).
    [[nodiscard]] record* found_record(const learn_probe& p) noexcept {
        if constexpr (store_mode)
            if (p.r.found && is_record(p.r.id)) return &store_.at(p.r.id & ~record_bit);
        return nullptr;
    }
    // A record for a learn that found none (probed_record null and nothing
    // found; `p` a valid probe): false when it cannot go in (a full table),
    // and the general path decides.
    // (Inlined, with the index's insert: 1K-flow bursts of new MACs went from
    // 43 to 57 M/s in one run.)
    // One check of room: the index and the store are sized for at least
    // max_flows (and 1) and hold at most size() keys and records, so under
    // max_flows flows both have room (and the probe a free slot).
    // Checked: store_burst_checked held for the burst this add is part of
    // (room and the clock's window are known).
    template <bool Checked = false, class Values>
    [[gnu::always_inline]] bool add_record(learn_probe& p, const key_type& value, const Values& v, bool fit,
                                           std::uint64_t cookie, std::int64_t now_ms) {
        if constexpr (store_mode) {
            auto& idx = learn_index();
            if (!Checked && size() >= cfg_.max_flows) return false;
            if (!p.r.has_free) return false;
            assert(size() < cfg_.max_flows && idx.size() < idx.capacity() && store_.size() < store_.capacity());
            store_.set_cookie(cookie); // (store_takes: the store is empty, or holds this cookie)
            const std::uint32_t rid = store_.template add<Checked>(value, v, fit, now_ms);
            idx.insert_free(p.r, rid | record_bit); // (checked above: absent, a free slot, room)
            if constexpr (side_mode) side_max_priority_ = std::max(side_max_priority_, record_priority);
            ++changes_;
            if (detail::walk_versions().recording()) [[unlikely]]
                note_added(rid | record_bit);
            return true;
        } else {
            return false;
        }
    }
    // What a burst of n learns with this cookie at now_ms can check once
    // instead of per learn (action/learn.hpp, install_burst): the store
    // takes the cookie (and goes on taking it: only these learns change the
    // table meanwhile, and the first add sets an empty store's cookie), n
    // more flows fit under max_flows (each learn adds at most one), and
    // now_ms is in the store's time window (nothing rebases meanwhile).
    [[nodiscard]] bool store_burst_checked(std::uint64_t cookie, std::int64_t now_ms, std::size_t n) const noexcept {
        if constexpr (store_mode)
            return store_takes(cookie) && size() <= cfg_.max_flows && cfg_.max_flows - size() >= n &&
                   store_.in_window(now_ms);
        else
            return false;
    }
    // A learn is about to replace a record's values during its own walk:
    // the record moves to the slab, where the walk's shadow keeps the old
    // version (prepare_replace), and the probe is redone.
    [[gnu::noinline, gnu::cold]] void promote_for_walk(learn_probe& p, const key_type& value) {
        if (p.r.found && is_record(p.r.id)) promote(p.r.id & ~record_bit);
        p = probe_learn(value, p.r.hash);
    }
    store_type& store() noexcept { return store_; }

  private:
    template <class F>
    void for_each_slab(F&& f) {
        for (std::size_t c = 0; c < chunks_.size(); ++c)
            for (std::size_t i = 0; i < chunk_size; ++i)
                if (chunks_[c][i].live) f(chunks_[c][i]);
    }
    template <class F>
    void for_each_record(F&& f) const {
        if constexpr (store_mode) {
            flow_type copy;
            store_.for_each_id([&](std::uint32_t rid) {
                materialize(rid, copy);
                f(copy);
            });
        }
    }

    static constexpr std::size_t chunk_bits = 10;
    static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;

    struct timer_links {
        flow_table* t;
        std::uint32_t& prev(std::uint32_t id) const noexcept { return t->at(id).timer_prev; }
        std::uint32_t& next(std::uint32_t id) const noexcept { return t->at(id).timer_next; }
    };

    [[nodiscard]] flow_type& at(std::uint32_t id) noexcept { return chunks_[id >> chunk_bits][id & (chunk_size - 1)]; }
    [[nodiscard]] const flow_type& at(std::uint32_t id) const noexcept {
        return chunks_[id >> chunk_bits][id & (chunk_size - 1)];
    }

    // The exact index keeps no keys: it compares with the flows' values.
    struct key_of {
        const flow_table* t;
        [[gnu::always_inline]] const key_type& operator()(std::uint32_t id) const noexcept {
            if constexpr (store_mode)
                if (id & record_bit) return t->store_.at(id & ~record_bit).key;
            return t->at(id).value;
        }
    };
    struct prefetch_key {
        const flow_table* t;
        void operator()(std::uint32_t id) const noexcept { prefetch_read(&key_of{t}(id)); }
    };

    // ---- store mode ----
    static constexpr std::int32_t record_priority = [] {
        if constexpr (store_mode)
            return std::int32_t{store_learn::priority};
        else
            return 0;
    }();
    [[nodiscard]] std::int32_t priority_of(std::uint32_t id) const noexcept {
        return is_record(id) ? record_priority : at(id).priority;
    }
    [[nodiscard]] static bool is_record(std::uint32_t id) noexcept {
        if constexpr (store_mode)
            return id != npos && (id & record_bit);
        else
            return false;
    }
    void prefetch_entry(std::uint32_t id) const noexcept {
        if constexpr (store_mode)
            if (is_record(id)) return prefetch_read(&store_.at(id & ~record_bit));
        prefetch_read(&at(id));
    }
    // The flow an index id names, a record promoted first; null for npos.
    [[nodiscard]] flow_type* as_flow(std::uint32_t id) {
        if (id == npos) return nullptr;
        if (is_record(id)) return &promote(id & ~record_bit);
        return &at(id);
    }
    // The flow record `rid` stands for, as the table would hold it.
    void materialize(std::uint32_t rid, flow_type& f) const {
        if constexpr (store_mode) {
            const record& r = store_.at(rid);
            f.live = true;
            f.id = rid | record_bit;
            f.value = r.key;
            f.set_mask(probe_mask());
            f.priority = static_cast<std::uint16_t>(record_priority);
            f.idle_timeout = store_learn::idle_timeout;
            f.hard_timeout = store_learn::hard_timeout;
            f.cookie = store_.cookie();
            f.created_ms = store_.created_ms(r);
            f.modified_ms = store_.modified_ms(r);
            f.used_ms = store_.used_ms(r);
            f.n_packets = r.n_packets;
            f.n_bytes = r.n_bytes;
            f.actions = actions_type(store_.actions_of(r));
            f.next_same_key = npos;
            f.timer_prev = f.timer_next = timer_wheel::unlinked;
        }
    }
    // Moves record rid into the slab, as the same flow (counters, times,
    // timers, its place in the index and in the running walk's shadow):
    // what every use of a learned flow but a learn, a lookup or expiry does
    // first. Counts a change (ids and addresses handed out are stale).
    flow_type& promote(std::uint32_t rid) {
        if constexpr (store_mode) {
            flow_type& f = allocate();
            const std::uint32_t id = f.id;
            materialize(rid, f);
            f.id = id;
            learn_index().replace(f.value, id, key_of{this});
            ++index_epoch_;
            schedule(f);
            if (shadowed_)
                for (std::uint32_t& a : shadow_->added)
                    if (a == (rid | record_bit)) a = id;
            store_.release(rid);
            pre_n_ = 0;
            return f;
        } else {
            return at(rid);
        }
    }
    // The index's entry for a learned key: the record there moves to the
    // slab (a general flow with this key is coming, or is looked for).
    void promote_key(const key_type& value) {
        if constexpr (store_mode) {
            const std::uint32_t id = learn_index().find(value, key_of{this});
            if (is_record(id)) promote(id & ~record_bit);
        }
    }
    // Removes record rid from the table (a flow mod, expiry, clear).
    void remove_record(std::uint32_t rid, removal_reason why) {
        if constexpr (store_mode) {
            if (detail::walk_versions().recording()) [[unlikely]] {
                remove_flow(promote(rid), why); // the walk may have seen it: its shadow keeps it
                return;
            }
            if (why == removal_reason::evicted) ++stats_.evicted;
            learn_index().erase(store_.at(rid).key, key_of{this});
            ++index_epoch_;
            ++changes_;
            store_.release(rid);
        }
    }

    [[nodiscard]] flow_type* catch_all() noexcept { return catch_alls_.empty() ? nullptr : &at(catch_alls_.front()); }

    [[nodiscard]] static flow_type* better_of(flow_type* a, flow_type* b) noexcept {
        if (a == nullptr) return b;
        if (b == nullptr) return a;
        return b->priority > a->priority ? b : a;
    }

    [[nodiscard]] flow_type* find(const key_type& packed) noexcept {
        flow_type* f = as_flow(find_id(packed));
        if constexpr (exact_mode) f = better_of(f, catch_all());
        return f;
    }
    // The index id of the best flow or record for `packed`, catch-alls
    // aside, or npos.
    [[nodiscard]] std::uint32_t find_id(const key_type& packed) const noexcept {
        std::uint32_t id;
        if constexpr (exact_mode)
            id = index_.find(packed, key_of{this});
        else
            id = index_.find(packed);
        if constexpr (side_mode) {
            if (side_.size() != 0 && (id == npos || at(id).priority < side_max_priority_)) {
                const std::uint32_t s = side_.find(packed & side_mask_, key_of{this});
                if (s != npos && (id == npos || priority_of(s) > at(id).priority)) id = s;
            }
        }
        return id;
    }

    // The side index's answers for a burst, merged into the tuple space's.
    void side_find_burst(const key_type* packed, std::size_t m, std::uint32_t* ids) noexcept {
        if (side_.size() == 0) return;
        key_type keys[64];
        std::uint32_t found[64];
        for (std::size_t i = 0; i < m; ++i) keys[i] = packed[i] & side_mask_;
        side_.find_burst(keys, m, found, key_of{this}, prefetch_key{this});
        for (std::size_t i = 0; i < m; ++i)
            if (found[i] != npos && (ids[i] == npos || priority_of(found[i]) > at(ids[i]).priority)) ids[i] = found[i];
    }

    // Flows the index is built for: an exact index's room (index_flows),
    // else max_flows.
    [[nodiscard]] static std::size_t index_capacity(const table_config& cfg) noexcept {
        const std::size_t n = std::max<std::size_t>(cfg.max_flows, 1);
        return exact_mode ? std::max(n, cfg.index_flows) : n;
    }
    [[nodiscard]] static side_index_type make_side(const table_config& cfg) {
        if constexpr (side_mode)
            return side_index_type(std::max<std::size_t>({cfg.max_flows, cfg.index_flows, 1}));
        else
            return {};
    }
    // The packed mask of lookup::tuple_space_exact<Bits...>: every listed bit.
    template <class L, class... Bits>
    [[nodiscard]] static key_type side_mask_of(lookup::exact_learned<L, Bits...>) {
        return side_mask_of(lookup::tuple_space_exact<Bits...>{});
    }
    template <class... Bits>
    [[nodiscard]] static key_type side_mask_of(lookup::tuple_space_exact<Bits...>) {
        static_assert((field_type<Bits> && ...), "lookup::tuple_space_exact<...> lists fields or bits of fields");
        match m;
        ((m.set(Bits::id, 0, m.mask_of(Bits::id) | (Bits::range.mask() << Bits::range.start))), ...);
        key_type value, mask;
        if (Schema::pack(m, value, mask) != schema_error::none || mask.is_zero())
            throw std::invalid_argument("lookup::tuple_space_exact<...> names bits the table's schema does not have");
        return mask;
    }
    // The exact index learn's probe path uses (exact and side modes).
    [[nodiscard]] auto& learn_index() noexcept {
        if constexpr (side_mode)
            return side_;
        else
            return index_;
    }
    [[nodiscard]] const auto& learn_index() const noexcept {
        if constexpr (side_mode)
            return side_;
        else
            return index_;
    }
    // Whether a flow of this mask lives in the side index.
    [[nodiscard]] bool on_side(const key_type& mask) const noexcept {
        if constexpr (side_mode)
            return mask == side_mask_;
        else
            return false;
    }

    // Links f into the chain of flows with its key in an exact index (by
    // priority, highest first, the head in the index); false when full.
    template <class Index>
    bool link_exact(Index& idx, flow_type& f) {
        const std::uint32_t head = idx.find(f.value, key_of{this});
        if (head == npos) {
            f.next_same_key = npos;
            return idx.insert(f.value, f.id, key_of{this}) == Index::insert_result::inserted;
        }
        if (at(head).priority < f.priority) {
            f.next_same_key = head;
            return idx.replace(f.value, f.id, key_of{this});
        }
        std::uint32_t prev = head;
        while (at(prev).next_same_key != npos && at(at(prev).next_same_key).priority > f.priority)
            prev = at(prev).next_same_key;
        f.next_same_key = at(prev).next_same_key;
        at(prev).next_same_key = f.id;
        return true;
    }
    template <class Index>
    void unlink_exact(Index& idx, flow_type& f) {
        const std::uint32_t head = idx.find(f.value, key_of{this});
        if (head == f.id) {
            if (f.next_same_key == npos)
                idx.erase(f.value, key_of{this});
            else
                idx.replace(f.value, f.next_same_key, key_of{this});
            return;
        }
        for (std::uint32_t id = head; id != npos; id = at(id).next_same_key) {
            if (at(id).next_same_key == f.id) {
                at(id).next_same_key = f.next_same_key;
                return;
            }
        }
    }
    template <class Index>
    [[nodiscard]] std::uint32_t find_in_chain(const Index& idx, const key_type& value, std::int32_t priority) {
        for (std::uint32_t id = idx.find(value, key_of{this}); id != npos; id = at(id).next_same_key)
            if (at(id).priority == priority) return id;
        return npos;
    }

    flow_mod_status prepare(const match& m, std::int32_t priority, key_type& value, key_type& mask) const {
        if (priority < 0 || priority > 0xffff) return {flow_mod_errc::bad_priority};
        if (auto f = unmet_prerequisite(m)) return {flow_mod_errc::unmet_prerequisite, 0, *f};
        if (auto e = Schema::pack(m, value, mask); e != schema_error::none)
            return {to_errc(e), 0, Schema::diagnose(m).value_or(field_id{})};
        return {};
    }

    // The id of the flow with exactly (value, mask, priority), or npos.
    [[nodiscard]] std::uint32_t find_exact(const key_type& value, const key_type& mask, std::int32_t priority) {
        if constexpr (exact_mode) {
            if (mask.is_zero()) {
                for (std::uint32_t id : catch_alls_)
                    if (at(id).priority == priority) return id;
                return npos;
            }
            promote_key(value);
            return find_in_chain(index_, value, priority);
        } else {
            if constexpr (side_mode)
                if (on_side(mask)) {
                    promote_key(value);
                    return find_in_chain(side_, value, priority);
                }
            return index_.find_rule(value, mask, priority);
        }
    }

    // Calls act(flow) for each flow a flow mod selects.
    template <class Act>
    void select(const match& m, bool strict, std::int32_t priority, cookie_filter cookie, Act&& act) {
        if (strict) {
            key_type value, mask;
            if (Schema::pack(m, value, mask) != schema_error::none) return;
            const std::uint32_t id = find_exact(value, mask, priority);
            if (id != npos && cookie.matches(at(id).cookie)) act(at(id));
            return;
        }
        for_each_slab([&](flow_type& f) {
            if (!cookie.matches(f.cookie)) return;
            if (m.covers(f.get_match())) act(f);
        });
        if constexpr (store_mode)
            for (const std::uint32_t rid : pick_records(m, cookie)) act(promote(rid));
    }
    // The records a loose flow mod selects.
    [[nodiscard]] std::vector<std::uint32_t> pick_records(const match& m, cookie_filter cookie) const {
        std::vector<std::uint32_t> picked;
        if constexpr (store_mode) {
            if (store_.size() == 0 || !cookie.matches(store_.cookie())) return picked;
            store_.for_each_id([&](std::uint32_t rid) {
                if (m.covers(Schema::unpack(store_.at(rid).key, probe_mask()))) picked.push_back(rid);
            });
        }
        return picked;
    }

    // A flow from a free slot, filled as an add makes it: counters at 0,
    // created = modified = used = now, on no same-key chain yet.
    template <class Actions>
    flow_type& new_flow(const key_type& value, const key_type& mask, std::int32_t priority, Actions&& acts,
                        const flow_options& o, std::int64_t now_ms) {
        flow_type& f = allocate();
        f.value = value;
        f.set_mask(mask);
        f.priority = static_cast<std::uint16_t>(priority); // checked by prepare (0..65535)
        f.cookie = o.cookie;
        f.idle_timeout = o.idle_timeout;
        f.hard_timeout = o.hard_timeout;
        f.created_ms = f.modified_ms = f.used_ms = now_ms;
        f.n_packets = f.n_bytes = 0;
        f.actions = actions_type(std::forward<Actions>(acts));
        f.next_same_key = npos;
        return f;
    }

    flow_type& allocate() {
        std::uint32_t id;
        if (!free_.empty()) {
            id = free_.back();
            free_.pop_back();
        } else {
            if (next_id_ == chunks_.size() * chunk_size) chunks_.push_back(std::make_unique<flow_type[]>(chunk_size));
            id = next_id_++;
        }
        // Every field is set by the add that called this (the timer links
        // are unlinked: a released or new flow is on no timer list).
        flow_type& f = at(id);
        f.id = id;
        f.live = true;
        ++n_flows_;
        ++changes_;
        return f;
    }

    // Frees a flow that never got into the index (an add that failed).
    void release(flow_type& f) {
        f.live = false;
        --n_flows_;
        ++changes_;
        free_slot(f);
    }
    void free_slot(flow_type& f) {
        f.actions = actions_type{};
        free_.push_back(f.id); // (for kept slots, keep made room: see there)
    }

    // Puts a flow into the lookup structure; false when the index is full.
    bool link(flow_type& f) {
        ++index_epoch_;
        if constexpr (exact_mode) {
            if (f.catch_all()) {
                auto pos = std::find_if(catch_alls_.begin(), catch_alls_.end(),
                                        [&](std::uint32_t id) { return at(id).priority < f.priority; });
                catch_alls_.insert(pos, f.id);
                return true;
            }
            return link_exact(index_, f);
        } else {
            if constexpr (side_mode) {
                if (on_side(f.get_mask())) {
                    side_max_priority_ = std::max<std::int32_t>(side_max_priority_, f.priority);
                    return link_exact(side_, f);
                }
            }
            return index_.insert(f.value, f.get_mask(), f.priority, f.id);
        }
    }

    void unlink(flow_type& f) {
        ++index_epoch_;
        if constexpr (exact_mode) {
            if (f.catch_all()) {
                catch_alls_.erase(std::find(catch_alls_.begin(), catch_alls_.end(), f.id));
                return;
            }
            unlink_exact(index_, f);
        } else {
            if constexpr (side_mode) {
                if (on_side(f.get_mask())) {
                    unlink_exact(side_, f);
                    return;
                }
            }
            index_.erase(f.value, f.get_mask(), f.id);
        }
    }

    void remove_flow(flow_type& f, removal_reason why) {
        if (why == removal_reason::evicted) ++stats_.evicted;
        if (detail::walk_versions().recording()) [[unlikely]] {
            if (keep_removed(f)) return; // its slot stays as it is until the walk ends
        }
        detach(f);
        free_slot(f);
    }

    // Takes f out of the index, the timers and the table's count; its slot
    // is not freed.
    void detach(flow_type& f) {
        unlink(f);
        if (f.timer_prev != timer_wheel::unlinked) {
            timer_links l{this};
            wheel_.unlink(l, f.id);
        }
        f.live = false;
        --n_flows_;
        ++changes_;
    }

    void schedule(flow_type& f) {
        if (f.has_timeout()) {
            timer_links l{this};
            wheel_.link(l, f.id, f.expires_at());
        }
    }

    // The shadow of the running walk's own changes (see walk_version.hpp):
    // the flows it added; the flows it moved (old slot, new slot: the walk
    // sees the old one, kept as it was) and removed (kept as they were).
    struct shadow_state {
        std::vector<std::uint32_t> added, removed;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> moved;
    };
    bool shadow_register() {
        if (shadowed_) return true;
        if (!shadow_) shadow_ = std::make_unique<shadow_state>();
        if (!detail::walk_versions().add(this, &end_shadow)) return false;
        shadowed_ = true;
        return true;
    }
    // The walk ended: its kept slots are free.
    static void end_shadow(void* p) noexcept {
        auto* t = static_cast<flow_table*>(p);
        shadow_state& sh = *t->shadow_;
        for (const std::uint32_t id : sh.removed) t->free_slot(t->at(id));
        for (const auto& m : sh.moved) t->free_slot(t->at(m.first));
        sh.added.clear();
        sh.removed.clear();
        sh.moved.clear();
        t->shadowed_ = false;
    }
    [[nodiscard]] bool shadow_added(std::uint32_t id) const noexcept {
        return shadowed_ && std::find(shadow_->added.begin(), shadow_->added.end(), id) != shadow_->added.end();
    }
    [[nodiscard]] bool moved_here(std::uint32_t id) const noexcept {
        if (shadowed_)
            for (const auto& m : shadow_->moved)
                if (m.second == id) return true;
        return false;
    }
    // (The recording parts are out of line and cold: inlined, they made the
    // add path too big to inline and learn's adds 35% slower, learn_bench.)
    void note_add(const flow_type& f) {
        if (detail::walk_versions().recording()) [[unlikely]]
            note_added(f.id);
    }
    [[gnu::noinline, gnu::cold]] void note_added(std::uint32_t id) {
        if (shadow_register()) shadow_->added.push_back(id);
    }
    // detach(f), keeping its slot as it is until the walk ends.
    void keep(flow_type& f) {
        // Room on the free list for every kept slot now, so that the walk's
        // end (a noexcept path) does not allocate to free them (unless slots
        // released meanwhile took the room: then it may, as an add does).
        const std::size_t room = free_.size() + shadow_->removed.size() + shadow_->moved.size() + 1;
        if (free_.capacity() < room) free_.reserve(std::max(room, 2 * free_.capacity()));
        detach(f);
        detail::walk_versions().kept_slots = true;
    }
    // The walk's own learn removes f: true when its slot is kept (the walk
    // saw f, and may be running its actions); false when f goes now (the
    // walk never saw it: it added it, or sees the flow f moved from, which
    // is gone from now on).
    [[gnu::noinline, gnu::cold]] bool keep_removed(flow_type& f) {
        if (shadow_added(f.id)) {
            std::erase(shadow_->added, f.id);
            return false;
        }
        if (shadowed_) {
            auto& mv = shadow_->moved;
            for (auto it = mv.begin(); it != mv.end(); ++it)
                if (it->second == f.id) {
                    shadow_->removed.push_back(it->first);
                    mv.erase(it);
                    return false;
                }
        }
        if (!shadow_register()) return false;
        keep(f);
        shadow_->removed.push_back(f.id);
        return true;
    }
    // find() without the flows `skip` names (those the walk added), and
    // without changing anything. (Not for store mode, whose walks look up
    // through lookup_ref_as_walk_began: as_flow would promote.)
    template <class Skip>
    [[nodiscard]] flow_type* find_unless(const key_type& packed, Skip&& skip) noexcept {
        flow_type* f = as_flow(find_id_unless(packed, skip));
        if constexpr (exact_mode)
            for (const std::uint32_t c : catch_alls_)
                if (!skip(c)) {
                    f = better_of(f, &at(c));
                    break;
                }
        return f;
    }
    // find_id() without the flows `skip` names.
    template <class Skip>
    [[nodiscard]] std::uint32_t find_id_unless(const key_type& packed, Skip& skip) const noexcept {
        std::uint32_t id;
        if constexpr (exact_mode)
            id = chain_unless(index_, packed, skip);
        else
            id = index_.find_unless(packed, skip);
        if constexpr (side_mode) {
            if (side_.size() != 0) {
                const std::uint32_t s = chain_unless(side_, packed & side_mask_, skip);
                if (s != npos && (id == npos || priority_of(s) > at(id).priority)) id = s;
            }
        }
        return id;
    }
    template <class Index, class Skip>
    [[nodiscard]] std::uint32_t chain_unless(const Index& idx, const key_type& value, Skip& skip) const noexcept {
        for (std::uint32_t id = idx.find(value, key_of{this}); id != npos; id = at(id).next_same_key) {
            if (is_record(id)) return skip(id) ? npos : id; // a record has its key alone
            if (!skip(id)) return id;
        }
        return npos;
    }

    // Evicts the flow that would expire first, if the policy allows; true
    // when there is room now.
    bool make_room() {
        if (cfg_.on_full != overflow_policy::evict) return false;
        timer_links l{this};
        const std::uint32_t victim = wheel_.earliest(l, [&](std::uint32_t id) { return at(id).expires_at(); });
        if (victim == timer_wheel::npos) return false;
        remove_flow(at(victim), removal_reason::evicted);
        return true;
    }

    table_config cfg_;
    std::uint8_t id_;
    bool shadowed_ = false; // (read by every lookup: here, with what lookups read)
    index_type index_;
    // lookup::tuple_space_exact: the flows of mask side_mask_, and the
    // highest priority any ever had (an upper bound: a lookup whose tuple
    // space hit is at least that skips the side probe).
    [[no_unique_address]] side_index_type side_;
    key_type side_mask_{};
    std::int32_t side_max_priority_ = -1;
    store_type store_; // lookup::exact_learned: the learn's records
    std::vector<std::unique_ptr<flow_type[]>> chunks_;
    std::vector<std::uint32_t> free_;
    std::uint32_t next_id_ = 0;
    std::size_t n_flows_ = 0;
    std::uint64_t changes_ = 0;
    std::uint64_t index_epoch_ = 0; // see learn_probe
    // Burst pre-lookup results (exact tables only; see prelookup).
    struct pre_entry {
        key_type key;
        std::uint32_t id;
    };
    std::unique_ptr<pre_entry[]> pre_ = exact_mode ? std::make_unique<pre_entry[]>(max_burst) : nullptr;
    std::size_t pre_n_ = 0;
    std::uint64_t pre_changes_ = 0;
    std::vector<std::uint32_t> catch_alls_; // exact mode: flows matching nothing, by priority
    timer_wheel wheel_;
    table_stats stats_;
    std::unique_ptr<shadow_state> shadow_; // made by the first walk that changes the table
};

} // namespace flowpipe
