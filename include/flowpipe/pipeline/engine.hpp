// Running a burst through a pipeline of flow tables, with Open vSwitch's
// translation rules.
//
// One run: (1) parse every frame of the burst into its flow key; (2) run each
// packet from table 0: look up, credit the flow, run its action list, which
// may resubmit (look up another table, run that flow's actions, *return*),
// goto a later table, edit the key and record outputs; (3) rewrite each frame
// once from its edited key and hand it back per output port.
//
// Outputs record the key as it was when the output ran (Open vSwitch sends
// the packet as modified *so far*). A copy of the key is taken only when an
// action is about to modify a key that an earlier output still refers to
// (copy on write), so the usual flow, edit then output, copies nothing.
//
// Limits, as in Open vSwitch 3.1 (ofproto-dpif-xlate.c): a resubmit or goto
// to the same or an earlier table deepens the recursion, capped at 64; at most
// 4096 resubmits per packet. Going over either drops the packet *entirely*,
// outputs already recorded included (OVS clears the datapath actions on a
// translation error). Output to the packet's own in_port is skipped unless it
// is the explicit `in_port` action. A miss, in table 0 or after a resubmit,
// does nothing: with no output the packet is dropped. resubmit(P,T) looks up
// T with in_port P and restores in_port right after the lookup.
//
// Learned flows (issue 3) installed while packet k runs are visible to packet
// k+1 of the same burst, because packets run one after the other against the
// live tables. A learn into a big exact table does not install while its
// packet runs, though: it stages its key and actions (learn.hpp's
// learn_staging, in the scratch space) and prefetches its index lines, and
// the staged learns go in, in order and with one burst probe per 32, just
// before anything could tell: a lookup in a table with staged learns that
// may find what they install (packet_context::before_lookup), a flow cache
// lookup or insert (the generation must be theirs), a controller callback, a
// learn that installs at once, the end of the burst. So every
// lookup, counter, timer, learn_stats and flow cache count is what immediate
// installs give (tests/pipeline/deferred_learn_test.cpp runs both and
// compares), while a run of learning packets pays its table's cache misses
// overlapped. `pipeline_config::defer_learns = false`, or hooks with
// `defer_learns = false` (`immediate_learns`), turn it off.
//
// The engine is shared by the typed `pipeline<...>` and the run-time
// `generic_pipeline` through `Tables::run_table(table_id, ctx)` (CRTP-free:
// the engine takes the table set as a template parameter).
//
// With a flow cache (pipeline/flow_cache.hpp; opt-in, `flow_cache_ptr()` of
// the table set is null without one) a burst is first looked up in the cache
// as a whole; a packet that hits replays the stored walk (credits its flows
// and table stats, emits its outputs), one that misses walks the tables with
// a log of its lookups and effects, and the walk is stored when it may be.
// Packets still go in order: a walk whose learn added or replaced a flow
// moves the cache's generation, so later packets of the burst whose entry is
// older walk the tables and see the new flow.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <flowpipe/action/context.hpp>
#include <flowpipe/core/extract.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/core/packet.hpp>
#include <flowpipe/core/prefetch.hpp>
#include <flowpipe/core/rewrite.hpp>
#include <flowpipe/pipeline/burst_output.hpp>
#include <flowpipe/pipeline/flow_cache.hpp>
#include <flowpipe/proto/parse.hpp>
#include <flowpipe/table/walk_version.hpp>

namespace flowpipe {

inline constexpr int max_resubmit_depth = 64;
inline constexpr int max_resubmits = max_resubmit_depth * max_resubmit_depth;

// Embedder callbacks. The default does nothing.
struct no_hooks {
    void controller(const packet&, const flow_key&, std::uint16_t /*max_len*/) noexcept {}
};

// Hooks that turn the deferral of learns off (every learn installs at once,
// as a packet runs): the reference the deferred path is tested against.
struct immediate_learns : no_hooks {
    static constexpr bool defer_learns = false;
};

template <class Hooks>
[[nodiscard]] constexpr bool hooks_defer_learns() noexcept {
    if constexpr (requires { Hooks::defer_learns; })
        return Hooks::defer_learns;
    else
        return true;
}

// The learns a burst staged (detail::learn_staging), installed before any
// lookup in a table they go to, and the flow cache's bookkeeping for them.
//
// The cache must end up as if every learn had installed at once: after each
// walk that learned, immediate installs invalidated (moved the epoch) when a
// learn replaced actions in place, and counted an invalidation when the
// generation moved. Here a walk's effects arrive in parts: its own immediate
// installs (result_dst learns, generic learns, small tables), and its staged
// ones, installed later, possibly during another walk. So every walk keeps
// flags (moved, replaced): staged installs note them per walk; at the end of
// a walk, the generation's growth not explained by flushes during the walk
// is its own immediate part. A walk is settled (epoch moved if it replaced,
// one invalidation counted if anything moved) once none of its learns is
// pending; the generation is observed after each flush and walk, without
// counting (the walks' settling counts). Every cache lookup, insert and
// replay comes after a flush, so the cache reads the same generation as
// with immediate installs.
template <class Tables>
class learn_deferral {
  public:
    static constexpr std::size_t no_walk = ~std::size_t{0};

    learn_deferral(Tables& tables, detail::learn_staging& stage, flow_cache* cache, bool enabled) noexcept
        : tables_(tables), stage_(stage), cache_(cache), enabled_(enabled) {}

    // Where a learn may stage itself, or null: install at once.
    [[nodiscard]] detail::learn_staging* stage() noexcept { return enabled_ ? &stage_ : nullptr; }
    [[nodiscard]] bool pending(std::uint8_t table) const noexcept { return stage_.pending(table); }
    [[nodiscard]] bool may_match(std::uint8_t table, std::uint64_t h) const noexcept {
        return stage_.may_match(table, h);
    }
    [[nodiscard]] std::size_t staged_into(std::uint8_t table) const noexcept { return stage_.staged_into(table); }
    [[nodiscard]] bool any() const noexcept { return stage_.any(); }

    void begin_walk(std::size_t i) noexcept {
        walk_ = i;
        flushed_ = 0;
        if (cache_ != nullptr) walk_start_ = cache_->generation();
    }

    // After a walk whose actions may have changed tables (`replaced`: an
    // immediate learn replaced actions in place).
    void end_learning_walk(bool replaced) noexcept {
        if (cache_ != nullptr) {
            const std::uint64_t g = tables_.flow_cache_generation();
            std::uint8_t f = stage_.take_flags(walk_);
            if (replaced) f |= detail::learn_staging::walk_replaced;
            if (g - walk_start_ != flushed_) f |= detail::learn_staging::walk_moved;
            if (stage_.pending_walk(walk_)) {
                stage_.add_flags(walk_, f); // settled by the flush that installs the rest
                observe(g);
            } else {
                settle(f);
                observe(tables_.flow_cache_generation());
            }
        }
        walk_ = no_walk;
    }
    void end_walk() noexcept { walk_ = no_walk; }

    // Installs every staged learn (called per packet: the check is inline,
    // the install out of line).
    void flush() {
        if (stage_.any()) install_staged();
    }

  private:
    [[gnu::noinline]] void install_staged() {
        if (cache_ == nullptr) {
            stage_.install_all();
            stage_.settle_walks(no_walk, [](std::uint8_t) {});
            return;
        }
        const std::uint64_t before = tables_.flow_cache_generation();
        stage_.install_all();
        stage_.settle_walks(walk_, [&](std::uint8_t f) { settle(f); });
        const std::uint64_t after = tables_.flow_cache_generation();
        if (walk_ != no_walk) flushed_ += after - before;
        observe(after);
    }

    void settle(std::uint8_t f) noexcept {
        if ((f & detail::learn_staging::walk_replaced) != 0) cache_->invalidate();
        if (f != 0) ++cache_->counters().invalidations;
    }
    void observe(std::uint64_t g) noexcept {
        const std::uint64_t counted = cache_->counters().invalidations;
        cache_->observe(g);
        cache_->counters().invalidations = counted;
    }

    Tables& tables_;
    detail::learn_staging& stage_;
    flow_cache* cache_;
    bool enabled_;
    std::size_t walk_ = no_walk;
    std::uint64_t walk_start_ = 0; // the generation when the walk began
    std::uint64_t flushed_ = 0;    // its growth through flushes during the walk
};

// One recorded output: a port and the key the frame must carry there.
struct output_record {
    std::uint32_t port;
    std::uint32_t snapshot; // index into the snapshot pool, or live_key
};
inline constexpr std::uint32_t live_key = 0xffffffffu;

template <class Tables, class Hooks>
class packet_context {
  public:
    packet_context(Tables& tables, Hooks& hooks, std::int64_t now_ms, const packet& pkt, std::size_t index,
                   flow_key& key, std::span<output_record> outputs, std::span<flow_key> snapshots,
                   std::size_t& snapshots_used, learn_deferral<Tables>* deferral = nullptr) noexcept
        : tables_(tables), hooks_(hooks), now_(now_ms), pkt_(pkt), index_(index), key_(key), outputs_(outputs),
          snapshots_(snapshots), snapshots_used_(snapshots_used), deferral_(deferral) {}

    // ---- the action_context concept ----
    [[nodiscard]] const flow_key& key() const noexcept { return key_; }
    [[nodiscard]] flow_key& edit() noexcept {
        if (live_outputs_) freeze_live_outputs();
        return key_;
    }
    void output(std::uint32_t port) noexcept {
        if (port == key_.in_port) return; // Open vSwitch: "skipping output to input port"
        record(port);
    }
    void output_in_port() noexcept { record(key_.in_port); }
    void resubmit(std::uint32_t in_port, std::uint8_t table) noexcept { enter(in_port, table); }
    void goto_table(std::uint8_t table) noexcept { enter(ports::in_port, table); }
    void to_controller(std::uint16_t max_len) noexcept {
        ++controller_calls_;
        flush_learns(); // the embedder's callback may look at any table
        // Its flow mods are this walk's (as a packet-in's come after the
        // packet's translation in Open vSwitch): the walk does not see them,
        // and the actions running now are not overwritten or freed.
        hooks_.controller(pkt_, key_, max_len);
    }
    // Ends the action list running now (dec_ttl on an expiring TTL). As in
    // Open vSwitch, the lists that resubmitted to it go on after the resubmit.
    void stop() noexcept { stopped_ = true; }
    void end_of_list() noexcept { stopped_ = false; }
    [[nodiscard]] bool stopped() const noexcept { return stopped_ || failed_; }
    [[nodiscard]] std::uint8_t table_id() const noexcept { return table_; }

    // ---- for the engine, the tables and actions that change tables (learn) ----
    // The pipeline running this packet: `learn` installs flows through it.
    [[nodiscard]] Tables& tables() noexcept { return tables_; }
    // Where a learn may stage its install until the table is looked at
    // (null: install at once), and the installs of what was staged.
    [[nodiscard]] detail::learn_staging* learn_stage() noexcept {
        return deferral_ != nullptr ? deferral_->stage() : nullptr;
    }
    void flush_learns() {
        if (deferral_ != nullptr) deferral_->flush();
    }
    // What a learn that installed at once did (a replacement in place moves
    // the flow cache's epoch after the walk).
    void learned(learn_result r) noexcept {
        if (r == learn_result::modified && log_ != nullptr) log_->replaced_actions = true;
    }
    // The key without copy-on-write: for the in_port swap of resubmit(P,T),
    // which is undone before any action runs.
    [[nodiscard]] flow_key& lookup_key() noexcept { return key_; }
    [[nodiscard]] std::int64_t now() const noexcept { return now_; }
    [[nodiscard]] const packet& pkt() const noexcept { return pkt_; }
    // The packet's position in the burst (for results staged per burst).
    [[nodiscard]] std::size_t index() const noexcept { return index_; }
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    [[nodiscard]] std::size_t output_count() const noexcept { return n_outputs_; }
    [[nodiscard]] std::size_t overflowed_outputs() const noexcept { return overflow_; }
    [[nodiscard]] std::size_t controller_calls() const noexcept { return controller_calls_; }

    // ---- for the flow cache: what a walk that may be stored did ----
    void log_into(walk_log* log) noexcept { log_ = log; }
    [[nodiscard]] bool logging() const noexcept { return log_ != nullptr; }
    // A lookup in `table` that found `flow` (null: a miss) whose actions have `effects`.
    void note_lookup(std::uint8_t table, void* flow, std::uint8_t effects) noexcept {
        log_->lookup(table, flow);
        log_->effects |= effects;
    }

    // Runs the packet from table 0.
    void start() noexcept {
        table_ = 0;
        tables_.run_table(0, *this, key_.in_port);
    }

    // Learns staged for table t go in before it is looked up for `key`,
    // unless none of them can change what the lookup finds or what it
    // credits. In an exact table every staged learn is a flow of one full
    // key: it changes nothing for a lookup of another key (not the flow
    // found, not the stats, not the prelookup's answer), as long as it cannot
    // evict, that is while the table has room for every staged add. Then only
    // a staged key that may equal the lookup's (the staging's filter) needs
    // the learns in. (In the mixed row of bench/pipeline_bench, tunnel
    // packets learning between patch-int packets looking up other MACs, the
    // learns of a burst still go in together.)
    template <class Table>
    void before_lookup(Table& t, const flow_key& key) {
        if (deferral_ == nullptr || !deferral_->pending(t.id())) return;
        if constexpr (Table::exact_mode) {
            if (t.size() + deferral_->staged_into(t.id()) < t.config().max_flows &&
                !deferral_->may_match(t.id(), Table::learn_hash(Table::schema_type::pack(key))))
                return;
        }
        deferral_->flush();
    }

  private:
    void record(std::uint32_t port) noexcept {
        if (n_outputs_ == outputs_.size()) {
            ++overflow_;
            return;
        }
        outputs_[n_outputs_++] = output_record{port, live_key};
        ++live_outputs_;
    }

    // The key is about to change: outputs that still point at the live key
    // get a copy of it.
    void freeze_live_outputs() noexcept {
        std::uint32_t snap = live_key;
        if (snapshots_used_ < snapshots_.size()) {
            snap = static_cast<std::uint32_t>(snapshots_used_++);
            snapshots_[snap] = key_;
        }
        for (std::size_t i = n_outputs_ - live_outputs_; i < n_outputs_; ++i) {
            if (snap == live_key)
                outputs_[i].port = ports::none; // no room for a copy: that output is lost, and counted
            outputs_[i].snapshot = snap;
        }
        if (snap == live_key) overflow_ += live_outputs_;
        live_outputs_ = 0;
    }

    void enter(std::uint32_t in_port, std::uint8_t table) noexcept {
        if (failed_) return;
        const bool deepens = table <= table_;
        if (depth_ >= max_resubmit_depth || resubmits_ >= max_resubmits) {
            failed_ = true; // Open vSwitch drops the whole packet
            return;
        }
        const std::uint8_t old_table = table_;
        const std::uint32_t old_in_port = key_.in_port;
        if (in_port != ports::in_port) key_.in_port = in_port;
        ++resubmits_;
        depth_ += deepens;
        table_ = table;
        tables_.run_table(table, *this, old_in_port);
        table_ = old_table;
        depth_ -= deepens;
    }

    Tables& tables_;
    Hooks& hooks_;
    std::int64_t now_;
    const packet& pkt_;
    std::size_t index_;
    flow_key& key_;
    std::span<output_record> outputs_;
    std::span<flow_key> snapshots_;
    std::size_t& snapshots_used_;
    learn_deferral<Tables>* deferral_;
    walk_log* log_ = nullptr;
    std::size_t n_outputs_ = 0;
    std::size_t live_outputs_ = 0;
    std::size_t overflow_ = 0;
    std::size_t controller_calls_ = 0;
    int depth_ = 0;
    int resubmits_ = 0;
    std::uint8_t table_ = 0;
    bool stopped_ = false;
    bool failed_ = false;
};

// Looks up `table` for ctx's key, credits the flow and runs its actions. The
// tables call this from their run_table; `restore_in_port` puts back the
// in_port that resubmit(P,T) changed for the lookup only.
template <class Table, class Ctx>
inline void lookup_and_run(Table& table, Ctx& ctx, flow_key& key, std::uint32_t restore_in_port) noexcept {
    if constexpr (requires { ctx.before_lookup(table, key); }) ctx.before_lookup(table, key);
    // `seen`: the flow the walk runs; `f`: the live flow its packet is
    // credited to. They differ only in a table this walk's own learns (or
    // its controller hook's flow mods) changed (table/walk_version.hpp):
    // there the walk sees the table as it was when it began (kept slots
    // stay as they are until it ends).
    typename Table::flow_type* f;
    const typename Table::flow_type* seen;
    if constexpr (Table::store_mode) {
        // (lookup::exact_learned: a learned flow is a record, whose actions
        // are built from it here: one list, no variant dispatch.)
        const auto r = table.shadowed() ? table.lookup_ref_as_walk_began(key) : table.lookup_ref_at(key, ctx.index());
        key.in_port = restore_in_port;
        if (r.rec != nullptr) {
            const auto acts = table.store().actions_of(*r.rec);
            if (ctx.logging())
                ctx.note_lookup(table.id(), Table::handle(r.rec),
                                list_effects<typename Table::store_type::flow_actions>::of(acts));
            table.hit_record(*r.rec, ctx.pkt().len, ctx.now());
            acts(ctx);
            ctx.end_of_list();
            return;
        }
        f = r.credit;
        seen = r.seen;
    } else if (table.shadowed()) [[unlikely]] {
        const auto h = table.lookup_as_walk_began(key);
        f = h.credit;
        seen = h.seen;
    } else {
        seen = f = table.lookup_at(key, ctx.index());
    }
    if constexpr (!Table::store_mode) key.in_port = restore_in_port;
    if (ctx.logging()) { // the flow cache is on and this walk may be stored
        // (Read before the actions run: a learn may evict this very flow.
        // A walk whose learns changed a table is never stored.)
        const std::uint8_t effects = seen != nullptr ? action_effects(seen->actions) : effect::none;
        ctx.note_lookup(table.id(), f, effects);
    }
    if (seen == nullptr) return;
    if (f != nullptr) [[likely]]
        Table::hit(*f, ctx.pkt().len, ctx.now());
    Table::allowed_type::run(seen->actions, ctx);
    ctx.end_of_list();
}

// Per-run scratch space, allocated once per pipeline.
struct engine_scratch {
    std::array<flow_key, max_burst> keys;
    std::array<flow_key, max_burst> original;
    std::array<proto::frame_layout, max_burst> layouts;
    std::array<output_record, 4096> outputs; // per packet
    std::array<flow_key, 256> snapshots;     // per packet
    // flow cache only
    std::array<std::uint64_t, max_burst> hashes;
    std::array<std::uint32_t, max_burst> candidates;
    walk_log log;
    // learns staged during a burst
    detail::learn_staging learns;
};

namespace detail {

// Emits packet p's n_out outputs: output o goes to port(o) carrying key
// after(o). All but the last get a clone of the untouched frame, the last
// one the frame itself, rewritten in place.
template <class Port, class After>
void emit_outputs(burst_output& out, burst_counters& c, packet& p, const proto::frame_layout& layout,
                  const flow_key& original, std::size_t n_out, Port&& port, After&& after) {
    std::size_t sent = 0;
    for (std::size_t o = 0; o + 1 < n_out; ++o) {
        const std::uint32_t to = port(o);
        if (to == ports::none) continue;
        packet copy;
        if (!out.clone(p, copy)) continue;
        const flow_key& a = after(o);
        if (rewrite_frame(copy, layout, original, a) != rewrite_status::ok) {
            ++c.no_headroom;
            continue;
        }
        copy.tun_id = a.tun_id;
        copy.tun_src = a.tun_src;
        copy.tun_dst = a.tun_dst;
        sent += out.emit(to, copy);
    }
    if (n_out > 0 && port(n_out - 1) != ports::none) {
        const flow_key& a = after(n_out - 1);
        if (rewrite_frame(p, layout, original, a) == rewrite_status::ok) {
            p.tun_id = a.tun_id;
            p.tun_src = a.tun_src;
            p.tun_dst = a.tun_dst;
            if (out.emit(port(n_out - 1), p)) return;
            // The run's outputs are full (counted): the buffer goes back
            // below instead of being lost.
        } else {
            ++c.no_headroom;
        }
    }
    if (sent == 0)
        out.drop(p);
    else
        out.release(p); // the buffer itself goes nowhere; its clones do
}

} // namespace detail

// A packet that hit the flow cache: what its walk did, without walking.
template <class Tables>
void replay_cached(Tables& tables, flow_cache& cache, const flow_cache::entry& e, engine_scratch& s, std::size_t i,
                   packet& p, const proto::frame_layout& layout, std::int64_t now_ms, burst_output& out) {
    burst_counters& c = out.counters();
    ++cache.counters().hits;
    for (std::size_t j = 0; j < e.n_lookups; ++j) {
        cache.credit_lookup(e.table[j], e.flow[j] != nullptr);
        if (e.flow[j] != nullptr) tables.credit_flow(e.table[j], e.flow[j], p.len, now_ms);
    }
    if (e.too_deep) {
        ++c.too_deep;
        out.drop(p);
        return;
    }
    // Version 0 is built in the packet's key (still the original: no walk
    // ran), the others in the snapshot pool.
    for (std::size_t v = 0; v < e.n_versions; ++v) {
        flow_key& k = v == 0 ? s.keys[i] : s.snapshots[v];
        if (v != 0) k = s.original[i];
        flow_cache::apply(e, v, k);
    }
    detail::emit_outputs(
        out, c, p, layout, s.original[i], e.n_outputs, [&](std::size_t o) { return e.port[o]; },
        [&](std::size_t o) -> const flow_key& { return e.version[o] == 0 ? s.keys[i] : s.snapshots[e.version[o]]; });
}

// Runs pkts through `tables`, which provide prelookup(span<const flow_key>) and
// run_table(table_id, ctx, restore_in_port):
// look the table up with ctx's key, set key.in_port = restore_in_port, then
// run the matched flow's actions (see lookup_and_run); and for the flow
// cache flow_cache_ptr() (null: none), flow_cache_generation() (see
// flow_cache.hpp), credit_flow(table_id, flow, bytes, now) (Table::hit on a
// flow a cached walk found), for_each_table. `defer_learns`: stage learns
// per burst (see the top); off, or with hooks that say so, every learn
// installs as its packet runs.
template <class Tables, class Hooks>
void run_burst(Tables& tables, engine_scratch& s, std::span<packet> pkts, std::int64_t now_ms, burst_output& out,
               Hooks& hooks, bool defer_learns = true) {
    out.begin();
    burst_counters& c = out.counters();
    flow_cache* const cache = tables.flow_cache_ptr();
    std::size_t snapshots_used = 0;
    const bool defer = defer_learns && hooks_defer_learns<std::remove_cvref_t<Hooks>>();
    learn_deferral<Tables> deferral(tables, s.learns, cache, defer);
    detail::walk_version_scope walks;
    for (std::size_t base = 0; base < pkts.size(); base += max_burst) {
        const std::size_t n = std::min(max_burst, pkts.size() - base);
        // (1) parse (the common frame on extract's straight path), with the
        // headers of the frame 4 ahead on their way into the cache
        for (std::size_t i = 0; i < n; ++i) {
            if (i + 4 < n) prefetch_read(pkts[base + i + 4].data);
            const packet& p = pkts[base + i];
            flow_key& k = s.keys[i];
            k.metadata = 0;
            k.regs = {};
            k.in_port = p.in_port;
            k.tun_id = p.tun_id;
            k.tun_src = p.tun_src;
            k.tun_dst = p.tun_dst;
            extract(p.data, p.len, k, s.layouts[i]);
        }
        // A pass of its own: copying a key right after its fields were stored
        // one by one stalls on store forwarding (wide loads of narrow stores).
        for (std::size_t i = 0; i < n; ++i) s.original[i] = s.keys[i];
        c.received += n;
        // The flow cache, in passes over the burst: hash every key and
        // prefetch its slots; pick each candidate entry and prefetch it;
        // prefetch the flows each candidate will credit, all of them at once
        // (with a million flows that pass is 1.2x faster than prefetching 8
        // packets ahead: more misses in flight). Keys are compared when each
        // packet's turn comes (the generation may move before).
        std::size_t candidates = 0;
        const std::uint64_t inserts_before = cache != nullptr ? cache->counters().inserts : 0;
        if (cache != nullptr) {
            cache->observe(tables.flow_cache_generation());
            for (std::size_t i = 0; i < n; ++i) {
                s.hashes[i] = flow_cache::hash(s.original[i]);
                cache->prefetch_slots(s.hashes[i]);
            }
            for (std::size_t i = 0; i < n; ++i) {
                s.candidates[i] = s.layouts[i].has_ethernet ? cache->candidate(s.hashes[i]) : flow_cache::npos;
                candidates += s.candidates[i] != flow_cache::npos;
            }
            for (std::size_t i = 0; i < n; ++i)
                if (s.candidates[i] != flow_cache::npos) cache->prefetch_flows(s.candidates[i]);
        }
        // Big exact tables look the whole burst up now, interleaving the cache
        // misses of all packets, instead of once per packet as each gets there
        // (skipped when the flow cache is about to answer for most of them:
        // lookup_at then looks up the few that walk by themselves).
        if (cache == nullptr || 4 * (n - candidates) > n) tables.prelookup(std::span<const flow_key>(s.keys.data(), n));
        // (2) run, (3) rewrite and emit, packet by packet
        for (std::size_t i = 0; i < n; ++i) {
            // Outputs are emitted right after each packet runs, so every
            // packet has the whole output and snapshot pools to itself.
            snapshots_used = 0;
            packet& p = pkts[base + i];
            const proto::frame_layout& layout = s.layouts[i];
            if (!layout.has_ethernet) {
                ++c.not_ethernet;
                out.drop(p);
                continue;
            }
            if (layout.status != proto::parse_status::ok) ++c.malformed;
            if (cache != nullptr) {
                // A packet whose key an earlier packet of this burst stored
                // (a flow's packets often come in a row) looks again.
                // (Learns staged by earlier packets go in first: the
                // generation, and the flows a replay credits, must be theirs.)
                std::uint32_t cand = s.candidates[i];
                if (cand == flow_cache::npos && cache->counters().inserts != inserts_before) {
                    deferral.flush();
                    cand = cache->candidate(s.hashes[i]);
                } else if (cand != flow_cache::npos) {
                    deferral.flush();
                }
                if (const flow_cache::entry* e = cache->find(cand, s.hashes[i], s.original[i])) {
                    replay_cached(tables, *cache, *e, s, i, p, layout, now_ms, out);
                    continue;
                }
                ++cache->counters().misses;
                s.log.reset();
            }
            const std::span<output_record> outs(s.outputs);
            packet_context<Tables, Hooks> ctx(tables, hooks, now_ms, p, i, s.keys[i], outs,
                                              std::span<flow_key>(s.snapshots), snapshots_used, &deferral);
            if (cache != nullptr) ctx.log_into(&s.log);
            deferral.begin_walk(i);
            walks.begin(i); // what its learns change, the walk does not see
            ctx.start();
            // Slots its learns moved or removed are freed now: staged learns
            // (which point at their action) go in first.
            if (walks.kept_slots()) [[unlikely]]
                deferral.flush();
            walks.end();
            c.output_overflow += ctx.overflowed_outputs();
            c.to_controller += ctx.controller_calls();
            const std::size_t n_out = ctx.output_count();
            auto port = [&](std::size_t o) { return outs[o].port; };
            auto after = [&](std::size_t o) -> const flow_key& {
                return outs[o].snapshot == live_key ? s.keys[i] : s.snapshots[outs[o].snapshot];
            };
            if (cache != nullptr) {
                // A learn's new flow moved its table's changes(); a learn
                // that replaced actions in place moves the epoch (see
                // learn_deferral for when, with learns staged).
                if ((s.log.effects & effect::changes_tables) == 0) {
                    deferral.end_walk();
                } else if (defer) {
                    deferral.end_learning_walk(s.log.replaced_actions);
                } else { // every learn of the walk is in: the plain bookkeeping
                    if (s.log.replaced_actions) cache->invalidate();
                    cache->observe(tables.flow_cache_generation());
                }
                const bool may_store =
                    s.log.effects == effect::none && ctx.overflowed_outputs() == 0 && ctx.controller_calls() == 0;
                if (may_store) deferral.flush(); // stored in the generation the staged learns make
                if (!may_store ||
                    !cache->insert(s.hashes[i], s.original[i], s.log, ctx.failed(), ctx.failed() ? 0 : n_out, port,
                                   after, [&](std::size_t o) { return outs[o].snapshot; }))
                    ++cache->counters().uncacheable;
            } else {
                deferral.end_walk();
            }
            if (ctx.failed()) {
                ++c.too_deep;
                out.drop(p);
                continue;
            }
            detail::emit_outputs(out, c, p, layout, s.original[i], n_out, port, after);
        }
        deferral.flush(); // nothing outside a burst sees a staged learn
    }
    if (cache != nullptr) cache->flush_lookups(tables);
    out.finish();
}

} // namespace flowpipe
