// A packet as the data path sees it: a light reference to a frame that a
// driver owns, never a copy.
//
// `data` points at the first byte of the Ethernet header; `headroom` bytes
// before it belong to the same buffer and may be used to grow the frame at
// its front (a pushed 802.1Q tag, tunnel encapsulation). `cookie` is the
// driver's own handle (an rte_mbuf*, a UMEM address, an index) and is carried
// through untouched so the driver can return or transmit the buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace flowpipe {

struct packet {
    std::uint8_t* data = nullptr;
    std::uint32_t len = 0;
    std::uint32_t headroom = 0;
    std::uint32_t in_port = 0;
    std::uint64_t cookie = 0;
    // Tunnel metadata: set by a tunnel port on receive (the decapsulated
    // frame's VNI/key and outer addresses), read by it on transmit.
    std::uint64_t tun_id = 0;
    std::uint32_t tun_src = 0;
    std::uint32_t tun_dst = 0;

    [[nodiscard]] std::span<std::uint8_t> bytes() const noexcept { return {data, len}; }

    // Grows the frame by `n` bytes at its front; false (and unchanged) when
    // the buffer has no room.
    [[nodiscard]] bool push_front(std::uint32_t n) noexcept {
        if (headroom < n) return false;
        data -= n;
        headroom -= n;
        len += n;
        return true;
    }
    // Drops `n` bytes from the front; false when the frame is shorter.
    [[nodiscard]] bool pull_front(std::uint32_t n) noexcept {
        if (len < n) return false;
        data += n;
        headroom += n;
        len -= n;
        return true;
    }
};

// The most packets one pipeline run takes; drivers receive in bursts of 32
// to 256.
inline constexpr std::size_t max_burst = 256;

} // namespace flowpipe
