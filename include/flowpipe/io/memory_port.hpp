// In-memory packet ports over a fixed buffer pool: for tests and benchmarks.
//
// A `buffer_pool` holds `count` buffers of `buffer_size` bytes, allocated
// once; a buffer's first `headroom` bytes are the room in front of a frame.
// Several `memory_port`s may share one pool, as the ports of one DPDK mempool
// do; then a frame received on one is transmitted on another without a copy.
//
// A memory_port has a receive queue and a transmit log, both of fixed
// capacity:
//
//   inject(bytes)   copies a frame into a pool buffer and queues it for receive
//   receive(rx)     hands out queued frames (law 1 of io/port.hpp)
//   transmit(tx)    logs frames: a pool buffer is kept as is, a clone or a
//                   foreign buffer is copied into a pool buffer; stops when
//                   the log is full or no buffer is left (law 2)
//   transmitted()   the logged frames, in order
//   clear_transmitted()  frees the logged frames' buffers
//   release(tx)     frees pool buffers; ignores others (law 3)
//
// Nothing allocates after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include <flowpipe/core/packet.hpp>
#include <flowpipe/io/port.hpp>
#include <flowpipe/pipeline/burst_output.hpp>

namespace flowpipe::io {

class buffer_pool {
  public:
    struct config {
        std::uint32_t count = 1024;
        std::uint32_t buffer_size = 2048;
        std::uint32_t headroom = 128; // room for an 802.1Q tag and a VXLAN/GRE outer header
    };

    buffer_pool() : buffer_pool(config{}) {}
    explicit buffer_pool(config c)
        : cfg_(c), mem_(std::make_unique<std::uint8_t[]>(std::size_t{c.count} * c.buffer_size)) {
        free_.reserve(c.count);
        for (std::uint32_t i = c.count; i > 0; --i) free_.push_back(i - 1);
    }
    buffer_pool(const buffer_pool&) = delete;
    buffer_pool& operator=(const buffer_pool&) = delete;

    [[nodiscard]] const config& configuration() const noexcept { return cfg_; }
    [[nodiscard]] std::uint32_t headroom() const noexcept { return cfg_.headroom; }
    // The largest frame a buffer holds at its normal headroom.
    [[nodiscard]] std::uint32_t max_frame_len() const noexcept { return cfg_.buffer_size - cfg_.headroom; }
    [[nodiscard]] std::size_t available() const noexcept { return free_.size(); }

    // An empty frame in a fresh buffer (data at the headroom, len 0), or false.
    [[nodiscard]] bool alloc(packet& p) noexcept {
        if (free_.empty()) return false;
        const std::uint32_t i = free_.back();
        free_.pop_back();
        p = packet{};
        p.data = mem_.get() + std::size_t{i} * cfg_.buffer_size + cfg_.headroom;
        p.headroom = cfg_.headroom;
        p.cookie = i;
        return true;
    }

    // Whether p's buffer is one of this pool's.
    [[nodiscard]] bool owns(const packet& p) const noexcept {
        const std::uint8_t* base = mem_.get();
        return p.cookie != clone_cookie && p.data >= base && p.data < base + std::size_t{cfg_.count} * cfg_.buffer_size;
    }

    // Returns p's buffer; false (and nothing done) for a buffer not of this pool.
    bool free(const packet& p) noexcept {
        if (!owns(p)) return false;
        free_.push_back(static_cast<std::uint32_t>(static_cast<std::size_t>(p.data - mem_.get()) / cfg_.buffer_size));
        return true;
    }

  private:
    config cfg_;
    std::unique_ptr<std::uint8_t[]> mem_;
    std::vector<std::uint32_t> free_; // reserved for every buffer: push_back never allocates
};

struct memory_port_counters {
    std::uint64_t received = 0;
    std::uint64_t transmitted = 0;
    std::uint64_t tx_refused = 0;    // frames transmit did not accept (log full, no buffer, too long)
    std::uint64_t inject_failed = 0; // frames inject could not queue
};

class memory_port {
  public:
    struct config {
        std::uint32_t port = 0; // set as packet::in_port on receive
        std::uint16_t queue = 0;
        std::uint32_t rx_capacity = 1024;
        std::uint32_t tx_capacity = 1024;
    };

    memory_port(buffer_pool& pool, config c) : pool_(&pool), cfg_(c), rx_(c.rx_capacity) { tx_.reserve(c.tx_capacity); }
    memory_port(const memory_port&) = delete;
    memory_port& operator=(const memory_port&) = delete;
    ~memory_port() {
        packet p;
        while (pop(p)) pool_->free(p);
        clear_transmitted();
    }

    // ---- the packet_port concept ----
    std::size_t receive(std::span<packet> rx) noexcept {
        std::size_t n = 0;
        while (n < rx.size() && pop(rx[n])) {
            rx[n].in_port = cfg_.port;
            rx[n].tun_id = 0;
            rx[n].tun_src = 0;
            rx[n].tun_dst = 0;
            ++n;
        }
        counters_.received += n;
        return n;
    }

    std::size_t transmit(std::span<const packet> tx) noexcept {
        std::size_t n = 0;
        for (; n < tx.size(); ++n) {
            if (tx_.size() == cfg_.tx_capacity) break;
            const packet& p = tx[n];
            if (pool_->owns(p)) {
                tx_.push_back(p);
                continue;
            }
            packet copy;
            if (p.len > pool_->max_frame_len() || !pool_->alloc(copy)) break;
            std::memcpy(copy.data, p.data, p.len);
            copy.len = p.len;
            copy.in_port = p.in_port;
            copy.tun_id = p.tun_id;
            copy.tun_src = p.tun_src;
            copy.tun_dst = p.tun_dst;
            tx_.push_back(copy);
        }
        counters_.transmitted += n;
        counters_.tx_refused += tx.size() - n;
        return n;
    }

    // Whether f's buffer is of this port's pool (shared pools: of any of its ports).
    [[nodiscard]] bool owns(const packet& f) const noexcept { return pool_->owns(f); }

    void release(std::span<const packet> frames) noexcept {
        for (const packet& p : frames) pool_->free(p);
    }

    [[nodiscard]] std::uint32_t headroom() const noexcept { return pool_->headroom(); }
    [[nodiscard]] std::uint16_t queue() const noexcept { return cfg_.queue; }

    // ---- for tests and benchmarks ----
    [[nodiscard]] std::uint32_t port() const noexcept { return cfg_.port; }

    // Queues a copy of `frame` for receive; false (counted) when the queue is
    // full, the pool empty or the frame longer than a buffer holds.
    bool inject(std::span<const std::uint8_t> frame) noexcept {
        packet p;
        if (rx_count_ == rx_.size() || frame.size() > pool_->max_frame_len() || !pool_->alloc(p)) {
            ++counters_.inject_failed;
            return false;
        }
        if (!frame.empty()) std::memcpy(p.data, frame.data(), frame.size());
        p.len = static_cast<std::uint32_t>(frame.size());
        rx_[(rx_head_ + rx_count_) % rx_.size()] = p;
        ++rx_count_;
        return true;
    }

    // Queues frames transmitted elsewhere for receive here (a wire between
    // two ports): a frame in a buffer of this port's pool is queued as is and
    // its buffer becomes this port's; any other frame is copied and its
    // buffer stays with its owner. Returns the frames queued, a prefix.
    std::size_t inject(std::span<const packet> frames) noexcept {
        std::size_t n = 0;
        for (; n < frames.size(); ++n) {
            const packet& f = frames[n];
            if (pool_->owns(f)) {
                if (rx_count_ == rx_.size()) break;
                rx_[(rx_head_ + rx_count_) % rx_.size()] = f;
                ++rx_count_;
            } else if (!inject(f.bytes())) {
                break;
            }
        }
        return n;
    }

    [[nodiscard]] std::size_t pending() const noexcept { return rx_count_; }
    [[nodiscard]] std::span<const packet> transmitted() const noexcept { return tx_; }
    // Frees the buffers of the logged frames and empties the log.
    void clear_transmitted() noexcept {
        release(tx_);
        tx_.clear();
    }
    // Empties the log without freeing: the caller took the frames (see
    // inject(span<const packet>)).
    void forget_transmitted() noexcept { tx_.clear(); }

    [[nodiscard]] const memory_port_counters& counters() const noexcept { return counters_; }

  private:
    bool pop(packet& p) noexcept {
        if (rx_count_ == 0) return false;
        p = rx_[rx_head_];
        rx_head_ = (rx_head_ + 1) % rx_.size();
        --rx_count_;
        return true;
    }

    buffer_pool* pool_;
    config cfg_;
    std::vector<packet> rx_; // ring of rx_capacity
    std::size_t rx_head_ = 0;
    std::size_t rx_count_ = 0;
    std::vector<packet> tx_; // reserved to tx_capacity
    memory_port_counters counters_;
};

static_assert(require_packet_port<memory_port>());

} // namespace flowpipe::io
