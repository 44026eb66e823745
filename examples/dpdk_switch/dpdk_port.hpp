// A packet_port over one queue of a DPDK ethdev (rte_eth_rx_burst /
// rte_eth_tx_burst), for the switch core (examples/switch/bridge.hpp).
//
// The one idea: a packet is a view of an rte_mbuf, never a copy. Receive
// hands out each mbuf's data (data = mtod, len = data_len, headroom =
// data_off) with the mbuf pointer as cookie; transmit writes the frame's
// data and len back into its mbuf (data_off, data_len, pkt_len: a pipeline
// may have grown the frame into its headroom or shrunk it) and passes the
// mbuf on. Ports over one mempool thus hand buffers to each other without a
// copy.
//
// Law 3 of io/port.hpp (a buffer the port does not own is copied, never
// freed): ownership is decided without touching the cookie. A frame is this
// port's when its cookie is not clone_cookie and its data lies inside one of
// the memory chunks of the port's mempool (listed once with
// rte_mempool_mem_iter when the port is made); anything else (a clone, an
// AF_XDP UMEM frame, another mempool's mbuf) is copied into a fresh mbuf of
// the port's mempool, and release ignores it.
//
// Frames in chained mbufs (several segments) are not supported: receive
// frees them and counts them. Nothing here allocates from the heap,
// throws or calls through a pointer per packet (rte_eth_*_burst call the
// driver through DPDK's own function table, once per burst).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <flowpipe/core/packet.hpp>
#include <flowpipe/io/port.hpp>
#include <flowpipe/pipeline/burst_output.hpp>

namespace flowpipe::examples {

struct dpdk_port_counters {
    std::uint64_t rx_multi_segment = 0; // chained mbufs received and freed
    std::uint64_t tx_copied = 0;        // foreign frames copied into our mempool
    std::uint64_t tx_no_mbuf = 0;       // a copy found the mempool empty (transmit stopped there)
    std::uint64_t tx_too_long = 0;      // a foreign frame longer than an mbuf holds (transmit stopped there)
};

class dpdk_port {
  public:
    static constexpr std::size_t max_burst = 64; // frames per rx/tx call

    struct config {
        std::uint16_t port_id = 0;
        std::uint16_t queue = 0;
        std::uint32_t ofport = 0; // set as packet::in_port on receive
        rte_mempool* pool = nullptr;
    };

    // A port over a started (or to be started) ethdev queue. Fails when the
    // mempool is missing or has no memory.
    static std::variant<dpdk_port, std::string> open(const config& c) {
        if (c.pool == nullptr) return "dpdk_port: no mempool";
        if (!rte_eth_dev_is_valid_port(c.port_id)) return "dpdk_port: no ethdev " + std::to_string(c.port_id);
        dpdk_port p(c);
        rte_mempool_mem_iter(
            c.pool,
            [](rte_mempool*, void* opaque, rte_mempool_memhdr* h, unsigned) {
                auto* chunks = static_cast<std::vector<std::pair<std::uintptr_t, std::uintptr_t>>*>(opaque);
                const auto a = reinterpret_cast<std::uintptr_t>(h->addr);
                chunks->emplace_back(a, a + h->len);
            },
            &p.chunks_);
        if (p.chunks_.empty()) return "dpdk_port: the mempool has no memory";
        std::sort(p.chunks_.begin(), p.chunks_.end());
        return p;
    }

    // ---- the packet_port concept ----

    std::size_t receive(std::span<packet> rx) noexcept {
        rte_mbuf* m[max_burst];
        const auto want = static_cast<std::uint16_t>(std::min(rx.size(), max_burst));
        const std::uint16_t got = rte_eth_rx_burst(cfg_.port_id, cfg_.queue, m, want);
        std::size_t n = 0;
        for (std::uint16_t i = 0; i < got; ++i) {
            if (m[i]->nb_segs != 1) {
                ++counters_.rx_multi_segment;
                rte_pktmbuf_free(m[i]);
                continue;
            }
            packet& p = rx[n++];
            p = packet{};
            p.data = rte_pktmbuf_mtod(m[i], std::uint8_t*);
            p.len = m[i]->data_len;
            p.headroom = m[i]->data_off;
            p.in_port = cfg_.ofport;
            p.cookie = reinterpret_cast<std::uintptr_t>(m[i]);
        }
        return n;
    }

    std::size_t transmit(std::span<const packet> tx) noexcept {
        std::size_t done = 0;
        while (done < tx.size()) {
            rte_mbuf* m[max_burst];
            bool copy[max_burst];
            const std::size_t want = std::min(tx.size() - done, max_burst);
            std::size_t n = 0;
            for (; n < want; ++n) {
                const packet& p = tx[done + n];
                copy[n] = !owns(p);
                if (!copy[n]) {
                    rte_mbuf* b = reinterpret_cast<rte_mbuf*>(static_cast<std::uintptr_t>(p.cookie));
                    b->data_off = static_cast<std::uint16_t>(p.data - static_cast<std::uint8_t*>(b->buf_addr));
                    b->data_len = static_cast<std::uint16_t>(p.len);
                    b->pkt_len = p.len;
                    m[n] = b;
                    continue;
                }
                rte_mbuf* b = rte_pktmbuf_alloc(cfg_.pool);
                if (b == nullptr) {
                    ++counters_.tx_no_mbuf;
                    break;
                }
                char* to = rte_pktmbuf_append(b, static_cast<std::uint16_t>(std::min<std::uint32_t>(p.len, 0xffff)));
                if (to == nullptr || p.len > 0xffff) {
                    ++counters_.tx_too_long;
                    rte_pktmbuf_free(b);
                    break;
                }
                std::memcpy(to, p.data, p.len);
                m[n] = b;
                ++counters_.tx_copied;
            }
            const std::uint16_t sent =
                n == 0 ? 0 : rte_eth_tx_burst(cfg_.port_id, cfg_.queue, m, static_cast<std::uint16_t>(n));
            // Copies the device did not take are ours to free; own mbufs it
            // did not take stay the caller's (law 2).
            for (std::size_t i = sent; i < n; ++i)
                if (copy[i]) rte_pktmbuf_free(m[i]);
            done += sent;
            if (sent < want) break;
        }
        return done;
    }

    void release(std::span<const packet> frames) noexcept {
        for (const packet& p : frames)
            if (owns(p)) rte_pktmbuf_free(reinterpret_cast<rte_mbuf*>(static_cast<std::uintptr_t>(p.cookie)));
    }

    [[nodiscard]] std::uint32_t headroom() const noexcept { return RTE_PKTMBUF_HEADROOM; }
    [[nodiscard]] std::uint16_t queue() const noexcept { return cfg_.queue; }

    // Whether `p` is an mbuf of this port's mempool (transmit passes it on,
    // release frees it); decided from its data address, the cookie untouched.
    [[nodiscard]] bool owns(const packet& p) const noexcept {
        if (p.cookie == clone_cookie) return false;
        const auto a = reinterpret_cast<std::uintptr_t>(p.data);
        for (const auto& [begin, end] : chunks_)
            if (a >= begin && a < end) return true;
        return false;
    }

    [[nodiscard]] std::uint16_t port_id() const noexcept { return cfg_.port_id; }
    [[nodiscard]] const dpdk_port_counters& counters() const noexcept { return counters_; }

  private:
    explicit dpdk_port(const config& c) : cfg_(c) {}

    config cfg_;
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> chunks_; // [begin, end) of the mempool's memory
    dpdk_port_counters counters_;
};

static_assert(io::require_packet_port<dpdk_port>());

} // namespace flowpipe::examples
