// A packet's walk sees its tables as they were when it began: what its own
// learns add, replace or remove is there for the next packet, not for it
// (Open vSwitch's table versions).
//
// What Open vSwitch does.  A packet's translation looks every table up in
// the version it began in (xin->tables_version). A learn's flow mod goes
// into version + 1 and the version moves at once (ofproto_flow_mod_learn),
// so the packet's next learn, that learn's limit count and every later
// packet see it; the packet itself does not: a `learn(table=1,...),
// resubmit(,1)` packet misses the flow it just learned, and a packet whose
// learn rewrote the actions of a flow it then looks up, or of the flow whose
// actions are running, runs the old ones.
//
// How.  Learns still install at once (limit, result_dst and the packet's
// next learn must see them). While a walk runs, each table its learns
// change keeps a *shadow* of those changes, in slots of its slab that stay
// as they were until the walk ends: a flow the walk's learn removes
// (evicts, flushes for delete_learned) leaves the index but keeps its slot;
// a flow whose actions or cookie the learn replaces moves to a new slot,
// which the learn changes, and its old slot stays; the ids of flows the
// walk added are noted. A lookup in a table whose shadow is not empty (one
// flag, tested on the path every lookup takes) sees the best flow the walk
// did not add, the old slot of a flow it moved, or a removed flow when that
// beats it. Actions that are running keep running from their slot, which
// nothing overwrites or frees before the walk ends. The end of the walk
// frees the kept slots (and the engine installs staged learns first: a
// staged learn points at its action, which may be in a kept slot).
//
// Who records.  The walk running on this thread (the engine and the trace
// scope each walk): a change made while it runs is its own (learner ==
// walk), its learns' and the flow mods an embedder's controller hook makes
// (in Open vSwitch those come from a packet-in, after the packet's
// translation: the packet never sees them), except a staged learn of an
// earlier packet installed meanwhile (its learner is that packet's walk).
// Walks may nest (a hook that runs another pipeline): each scope restores
// the one it interrupted and ends only the shadows of tables registered
// while it ran; a hook must not run the pipeline it is called from.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace flowpipe::detail {

struct walk_versions_state {
    static constexpr std::size_t none = ~std::size_t{0};
    std::size_t walk = none;    // the walk running on this thread (its packet's place in the burst)
    std::size_t learner = none; // the walk whose learn is installing now
    bool kept_slots = false;    // a table keeps slots until the walk ends (see the engine)
    // Tables holding a shadow, and how to end each (an indirect call per
    // table a walk changed, at the end of that walk).
    struct shadowed {
        void* table;
        void (*end)(void*) noexcept;
    };
    std::array<shadowed, 256> tables{};
    std::size_t n_tables = 0;

    [[nodiscard]] bool recording() const noexcept { return walk != none && learner == walk; }
    // Registers a table's shadow; false when there is no room (nested walks
    // over 256 tables): that table then changes in place.
    [[nodiscard]] bool add(void* table, void (*end)(void*) noexcept) noexcept {
        if (n_tables == tables.size()) return false;
        tables[n_tables++] = {table, end};
        return true;
    }
};

[[nodiscard]] inline walk_versions_state& walk_versions() noexcept {
    thread_local walk_versions_state s;
    return s;
}

// The walks of one run (a burst, a trace): begin(w) and end() bracket walk
// w. The thread-local state is found once per run (a walk then costs a few
// plain stores); the scope restores the run it interrupted, if any.
class walk_version_scope {
  public:
    walk_version_scope() noexcept
        : s_(walk_versions()), walk_(s_.walk), learner_(s_.learner), kept_(s_.kept_slots), first_(s_.n_tables) {
        s_.walk = s_.learner = walk_versions_state::none;
        s_.kept_slots = false;
    }
    ~walk_version_scope() {
        end();
        s_.walk = walk_;
        s_.learner = learner_;
        s_.kept_slots = kept_;
    }
    walk_version_scope(const walk_version_scope&) = delete;
    walk_version_scope& operator=(const walk_version_scope&) = delete;

    void begin(std::size_t w) noexcept { s_.walk = s_.learner = w; }
    // Whether the walk's learns kept slots (freed by end(): staged learns,
    // which point at their action, go in first).
    [[nodiscard]] bool kept_slots() const noexcept { return s_.kept_slots; }
    void end() noexcept {
        if (s_.n_tables != first_) [[unlikely]] {
            for (std::size_t i = first_; i < s_.n_tables; ++i) s_.tables[i].end(s_.tables[i].table);
            s_.n_tables = first_;
        }
        s_.walk = s_.learner = walk_versions_state::none;
        s_.kept_slots = false;
    }

  private:
    walk_versions_state& s_;
    std::size_t walk_, learner_;
    bool kept_;
    std::size_t first_;
};

// While a staged learn of walk `w` installs.
class learner_scope {
  public:
    learner_scope(walk_versions_state& s, std::size_t w) noexcept : s_(s), saved_(s.learner) { s.learner = w; }
    explicit learner_scope(std::size_t w) noexcept : learner_scope(walk_versions(), w) {}
    ~learner_scope() { s_.learner = saved_; }
    learner_scope(const learner_scope&) = delete;
    learner_scope& operator=(const learner_scope&) = delete;

  private:
    walk_versions_state& s_;
    std::size_t saved_;
};

} // namespace flowpipe::detail
