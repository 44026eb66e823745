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
// learn rewrote the actions of a flow it then looks up runs the old ones.
//
// How.  Learns still install at once (limit, result_dst and the packet's
// next learn must see them). While a walk runs, each table it changes keeps
// a *shadow* of those changes: the ids of the flows the walk added, and a
// copy of each flow as it was before the walk replaced its actions or
// cookie, or removed it (evicted it, or flushed it for delete_learned). A
// lookup in a table whose shadow is not empty (one flag, tested on the path
// every lookup takes) sees the best flow the walk did not add, or a removed
// flow's copy when that beats it, and a replaced flow as its copy. The end
// of the walk clears the shadows.
//
// Who records.  The walk running on this thread is named by a thread-local
// `walk_versions` (the engine and the trace set it for the length of a
// walk); a change is the walk's own when it is set and the learn making the
// change is that walk's (a staged learn of an earlier packet, installed
// while this one runs, is visible to it: `installing_for`). Nothing is
// recorded outside a walk (flow mods, expiry, learn's own benchmarks).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace flowpipe::detail {

struct walk_versions_state {
    static constexpr std::size_t none = ~std::size_t{0};
    std::size_t walk = none;    // the walk running on this thread (its packet's place in the burst)
    std::size_t learner = none; // the walk whose learn is installing now
    // Tables holding a shadow, and how to clear each (an indirect call per
    // table a walk changed, at the end of that walk).
    struct shadowed {
        void* table;
        void (*clear)(void*) noexcept;
    };
    std::array<shadowed, 256> tables{};
    std::size_t n_tables = 0;

    [[nodiscard]] bool recording() const noexcept { return walk != none && learner == walk; }
};

[[nodiscard]] inline walk_versions_state& walk_versions() noexcept {
    thread_local walk_versions_state s;
    return s;
}

// Clears every shadow a walk left.
inline void end_walk_versions(walk_versions_state& s) noexcept {
    for (std::size_t i = 0; i < s.n_tables; ++i) s.tables[i].clear(s.tables[i].table);
    s.n_tables = 0;
}

// The length of one walk (walk `w` of a burst); walks do not nest.
class walk_version_scope {
  public:
    explicit walk_version_scope(std::size_t w) noexcept : s_(walk_versions()) { s_.walk = s_.learner = w; }
    ~walk_version_scope() {
        s_.walk = s_.learner = walk_versions_state::none;
        if (s_.n_tables != 0) end_walk_versions(s_);
    }
    walk_version_scope(const walk_version_scope&) = delete;
    walk_version_scope& operator=(const walk_version_scope&) = delete;

  private:
    walk_versions_state& s_;
};

// While a staged learn of walk `w` installs: its changes are w's own only
// when w is the walk running now.
class learner_scope {
  public:
    explicit learner_scope(std::size_t w) noexcept : s_(walk_versions()), saved_(s_.learner) { s_.learner = w; }
    ~learner_scope() { s_.learner = saved_; }
    learner_scope(const learner_scope&) = delete;
    learner_scope& operator=(const learner_scope&) = delete;

  private:
    walk_versions_state& s_;
    std::size_t saved_;
};

} // namespace flowpipe::detail
