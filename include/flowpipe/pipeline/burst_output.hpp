// What a pipeline run hands back: the frames to transmit, split per output
// port, and the frames to drop.
//
// A frame output to one port is rewritten in place and handed back in its
// driver's buffer. A frame output to several ports is cloned only then, for
// all outputs but the last, into this object's clone arena (memory allocated
// once, reused every run); `packet::cookie` of a clone is `clone_cookie`, so
// a driver knows the buffer is not one of its own. Grouping by port keeps the
// order in which frames were output within each port.
//
// The idea that keeps it cheap per packet (as VPP's and OVS-DPDK's output
// batches): every array is allocated once, at its largest size, and emit()
// finds the output's port group as it records it, through a 256-entry table
// indexed by the port's low byte (the group last used is tried first: a
// burst mostly goes one way), and notes the frame's place in that group. So
// emit() is a store and a count, with no growth and no search; finish()
// turns the counts into offsets and moves each frame to its place in one
// pass, or, when the run went to one port only, moves nothing: the frames
// are already in order. The ungrouped view (outputs(), for tests and tools)
// is only put together when asked for.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include <flowpipe/core/packet.hpp>

namespace flowpipe {

inline constexpr std::uint64_t clone_cookie = ~std::uint64_t{0};

struct burst_counters {
    std::uint64_t received = 0;
    std::uint64_t transmitted = 0;     // frames handed back for transmission (clones included)
    std::uint64_t dropped = 0;         // frames no flow output anywhere
    std::uint64_t malformed = 0;       // frames whose parse stopped early (still processed)
    std::uint64_t not_ethernet = 0;    // shorter than an Ethernet header: dropped unprocessed
    std::uint64_t too_deep = 0;        // over 64 nested resubmits or 4096 resubmits: dropped
    std::uint64_t no_headroom = 0;     // an output needing a VLAN push had no room: that output dropped
    std::uint64_t clone_failed = 0;    // clone arena exhausted or frame too large: that output dropped
    std::uint64_t output_overflow = 0; // more outputs than a burst can record: those outputs dropped
    std::uint64_t to_controller = 0;
};

class burst_output {
  public:
    struct config {
        std::size_t max_clones = 512;            // clones per run
        std::size_t clone_size = 2048;           // largest frame that can be cloned
        std::size_t clone_headroom = 64;         // room before each clone (VLAN push, encapsulation)
        std::size_t max_outputs = 4 * max_burst; // output records per run
    };

    struct tx {
        std::uint32_t port;
        std::uint32_t seq; // order of output within the run
        packet pkt;
    };

    burst_output() : burst_output(config{}) {}
    explicit burst_output(config c)
        : cfg_(c), arena_(std::make_unique<std::uint8_t[]>(c.max_clones * (c.clone_size + c.clone_headroom))),
          frames_(std::make_unique<packet[]>(c.max_outputs)), ports_(std::make_unique<std::uint32_t[]>(c.max_outputs)),
          where_(std::make_unique<place[]>(c.max_outputs)), sorted_(std::make_unique<packet[]>(c.max_outputs)),
          tx_(std::make_unique<tx[]>(c.max_outputs)), groups_(std::make_unique<group[]>(c.max_outputs)) {
        dropped_.reserve(max_burst);
        recent_.fill(no_group);
    }

    // ---- for the embedder -------------------------------------------------

    // Calls f(port, span<const packet>) once per port that has frames, in order
    // of first output. Valid until the next run.
    template <class F>
    void for_each_port(F&& f) const {
        for (std::size_t g = 0; g < n_groups_; ++g)
            f(groups_[g].port, std::span<const packet>(grouped_ + groups_[g].begin, groups_[g].count));
    }

    // Driver buffers the run does not transmit: return them to their driver.
    [[nodiscard]] std::span<const packet> dropped() const noexcept { return dropped_; }
    // Every transmission in output order, ungrouped (put together on the
    // first call after a run).
    [[nodiscard]] std::span<const tx> outputs() const noexcept {
        if (!tx_built_) {
            for (std::size_t i = 0; i < n_tx_; ++i) tx_[i] = tx{ports_[i], static_cast<std::uint32_t>(i), frames_[i]};
            tx_built_ = true;
        }
        return {tx_.get(), n_tx_};
    }
    [[nodiscard]] const burst_counters& counters() const noexcept { return counters_; }
    burst_counters& counters() noexcept { return counters_; }
    [[nodiscard]] const config& configuration() const noexcept { return cfg_; }

    // Frames transmitted on `port` in this run (for tests and small tools).
    [[nodiscard]] std::span<const packet> on_port(std::uint32_t port) const noexcept {
        for (std::size_t g = 0; g < n_groups_; ++g)
            if (groups_[g].port == port) return {grouped_ + groups_[g].begin, groups_[g].count};
        return {};
    }

    // ---- for the pipeline -------------------------------------------------

    void begin() noexcept {
        for (std::size_t g = 0; g < n_groups_; ++g) recent_[groups_[g].port & 0xffu] = no_group;
        n_tx_ = 0;
        tx_built_ = false;
        grouped_ = frames_.get();
        n_groups_ = 0;
        last_ = no_group;
        dropped_.clear();
        clones_used_ = 0;
    }

    // Sends `p` to `port`; false (counted as output_overflow, `p` not taken)
    // when the run's outputs are full.
    bool emit(std::uint32_t port, const packet& p) noexcept {
        if (n_tx_ == cfg_.max_outputs) {
            ++counters_.output_overflow;
            return false;
        }
        const std::uint32_t g = group_for(port);
        where_[n_tx_] = place{g, static_cast<std::uint32_t>(groups_[g].count++)};
        ports_[n_tx_] = port;
        frames_[n_tx_] = p;
        ++n_tx_;
        tx_built_ = false;
        ++counters_.transmitted;
        return true;
    }

    // A frame no flow sent anywhere: counted, and returned to its driver.
    void drop(const packet& p) {
        release(p);
        ++counters_.dropped;
    }

    // A buffer the run no longer needs (its clones went out instead).
    void release(const packet& p) {
        if (p.cookie != clone_cookie) dropped_.push_back(p);
    }

    // A copy of `p` in the arena, or false when none can be had.
    [[nodiscard]] bool clone(const packet& p, packet& out) noexcept {
        if (clones_used_ == cfg_.max_clones || p.len > cfg_.clone_size) {
            ++counters_.clone_failed;
            return false;
        }
        std::uint8_t* base = arena_.get() + clones_used_++ * (cfg_.clone_size + cfg_.clone_headroom);
        out = p;
        out.data = base + cfg_.clone_headroom;
        out.headroom = static_cast<std::uint32_t>(cfg_.clone_headroom);
        out.cookie = clone_cookie;
        std::memcpy(out.data, p.data, p.len);
        return true;
    }

    // Places the run's transmissions by port, keeping output order per port:
    // the groups' counts become offsets, then each frame goes to the place
    // emit() noted for it.
    void finish() noexcept {
        std::size_t at = 0;
        for (std::size_t g = 0; g < n_groups_; ++g) {
            groups_[g].begin = at;
            at += groups_[g].count;
        }
        if (n_groups_ <= 1) { // one way (or none): already in order
            grouped_ = frames_.get();
            return;
        }
        for (std::size_t i = 0; i < n_tx_; ++i) sorted_[groups_[where_[i].group].begin + where_[i].index] = frames_[i];
        grouped_ = sorted_.get();
    }

  private:
    struct group {
        std::uint32_t port;
        std::size_t begin;
        std::size_t count;
    };
    struct place {
        std::uint32_t group;
        std::uint32_t index; // within the group
    };
    static constexpr std::uint32_t no_group = 0xffffffffu;

    // The group of `port`, opened when the run has none yet. `recent_` maps a
    // port's low byte to the last group opened for it; ports that share a low
    // byte fall back to a scan (at most one group per output, so there is
    // always room).
    std::uint32_t group_for(std::uint32_t port) noexcept {
        if (last_ != no_group && groups_[last_].port == port) return last_;
        std::uint32_t& r = recent_[port & 0xffu];
        if (r != no_group && groups_[r].port == port) return last_ = r;
        if (r != no_group) // another port with the same low byte: look through the run's groups
            for (std::uint32_t g = 0; g < n_groups_; ++g)
                if (groups_[g].port == port) return last_ = g;
        const auto g = static_cast<std::uint32_t>(n_groups_++);
        groups_[g] = group{port, 0, 0};
        r = g;
        return last_ = g;
    }

    config cfg_;
    std::unique_ptr<std::uint8_t[]> arena_;
    std::size_t clones_used_ = 0;
    // Each array holds max_outputs.
    std::unique_ptr<packet[]> frames_;       // in output order
    std::unique_ptr<std::uint32_t[]> ports_; // their ports
    std::unique_ptr<place[]> where_;         // their places by port
    std::unique_ptr<packet[]> sorted_;       // frames_ placed by port, when a run had several
    std::unique_ptr<tx[]> tx_;               // outputs(), built when asked
    std::unique_ptr<group[]> groups_;        // in order of first output
    const packet* grouped_ = nullptr;        // frames_ or sorted_
    mutable bool tx_built_ = false;
    std::size_t n_tx_ = 0;
    std::size_t n_groups_ = 0;
    std::uint32_t last_ = no_group;
    std::array<std::uint32_t, 256> recent_{};
    std::vector<packet> dropped_;
    burst_counters counters_;
};

} // namespace flowpipe
