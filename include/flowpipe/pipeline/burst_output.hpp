// What a pipeline run hands back: the frames to transmit, split per output
// port, and the frames to drop.
//
// A frame output to one port is rewritten in place and handed back in its
// driver's buffer. A frame output to several ports is cloned only then, for
// all outputs but the last, into this object's clone arena (memory allocated
// once, reused every run); `packet::cookie` of a clone is `clone_cookie`, so
// a driver knows the buffer is not one of its own. Grouping by port keeps the
// order in which frames were output within each port.
#pragma once

#include <algorithm>
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
        : cfg_(c), arena_(std::make_unique<std::uint8_t[]>(c.max_clones * (c.clone_size + c.clone_headroom))) {
        tx_.reserve(c.max_outputs);
        sorted_.reserve(c.max_outputs);
        dropped_.reserve(max_burst);
        groups_.reserve(64);
    }

    // ---- for the embedder -------------------------------------------------

    // Calls f(port, span<const packet>) once per port that has frames, in order
    // of first output. Valid until the next run.
    template <class F>
    void for_each_port(F&& f) const {
        for (const group& g : groups_) f(g.port, std::span<const packet>(sorted_.data() + g.begin, g.count));
    }

    // Driver buffers the run does not transmit: return them to their driver.
    [[nodiscard]] std::span<const packet> dropped() const noexcept { return dropped_; }
    // Every transmission in output order, ungrouped.
    [[nodiscard]] std::span<const tx> outputs() const noexcept { return tx_; }
    [[nodiscard]] const burst_counters& counters() const noexcept { return counters_; }
    burst_counters& counters() noexcept { return counters_; }
    [[nodiscard]] const config& configuration() const noexcept { return cfg_; }

    // Frames transmitted on `port` in this run (for tests and small tools).
    [[nodiscard]] std::span<const packet> on_port(std::uint32_t port) const noexcept {
        for (const group& g : groups_)
            if (g.port == port) return {sorted_.data() + g.begin, g.count};
        return {};
    }

    // ---- for the pipeline -------------------------------------------------

    void begin() noexcept {
        tx_.clear();
        sorted_.clear();
        dropped_.clear();
        groups_.clear();
        last_ = 0;
        clones_used_ = 0;
    }

    void emit(std::uint32_t port, const packet& p) {
        if (tx_.size() == cfg_.max_outputs) {
            ++counters_.output_overflow;
            return;
        }
        tx_.push_back(tx{port, static_cast<std::uint32_t>(tx_.size()), p});
        ++counters_.transmitted;
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

    // Groups the run's transmissions by port, keeping output order per port.
    void finish() {
        groups_.clear();
        last_ = 0;
        for (const tx& t : tx_) {
            group* g = find_group(t.port);
            if (g == nullptr) {
                groups_.push_back(group{t.port, 0, 0});
                g = &groups_.back();
            }
            ++g->count;
        }
        std::size_t at = 0;
        for (group& g : groups_) {
            g.begin = at;
            at += g.count;
            g.count = 0;
        }
        sorted_.resize(tx_.size());
        for (const tx& t : tx_) {
            group* g = find_group(t.port);
            sorted_[g->begin + g->count++] = t.pkt;
        }
    }

  private:
    struct group {
        std::uint32_t port;
        std::size_t begin;
        std::size_t count;
    };

    group* find_group(std::uint32_t port) noexcept {
        // Bursts go to few ports; the last group hit is the likeliest.
        if (!groups_.empty() && groups_[last_].port == port) return &groups_[last_];
        for (std::size_t i = 0; i < groups_.size(); ++i) {
            if (groups_[i].port == port) {
                last_ = i;
                return &groups_[i];
            }
        }
        return nullptr;
    }

    config cfg_;
    std::unique_ptr<std::uint8_t[]> arena_;
    std::size_t clones_used_ = 0;
    std::vector<tx> tx_;
    std::vector<packet> sorted_;
    std::vector<packet> dropped_;
    std::vector<group> groups_;
    std::size_t last_ = 0;
    burst_counters counters_;
};

} // namespace flowpipe
