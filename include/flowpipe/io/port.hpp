// The packet port concept: what a driver (DPDK ethdev queue, AF_XDP socket,
// libpcap handle, in-memory port, pcap file) offers the data path.
//
// Minimal definition. For a port `p`, `std::span<packet> rx` and
// `std::span<const packet> tx`:
//
//   p.receive(rx)   -> std::size_t   fills rx[0, n) with received frames, n <= rx.size()
//   p.transmit(tx)  -> std::size_t   takes the frames tx[0, n) for transmission
//   p.release(tx)   -> void          gives the buffers of tx back to the port
//   p.headroom()    -> std::uint32_t room every received frame has before its data
//   p.queue()       -> std::uint16_t the queue of its device this port stands for
//   p.owns(f)       -> bool          whether f's buffer is one this port frees itself
//                                    (its own, or of a pool it shares with other ports)
//
// all `noexcept`: a port never throws, allocates per packet or calls through
// a pointer per packet.
//
// Laws (ownership of buffers; "the caller" is whoever called receive):
//
// 1. A frame received is the caller's: its buffer stays valid, and is not
//    reused by the port, until the caller hands it back, exactly once: by
//    release() on the port that received it, or by a transmit that accepts it
//    on a port that owns() it. A transmit that accepts a frame it does not
//    own sends a copy (law 3) and leaves the buffer with the caller, to be
//    released to the port that received it (transmit_or_release does this).
//    `packet::cookie` is the driver's handle for the buffer; the caller
//    carries it unchanged (push_front/pull_front may move `data` within the
//    buffer, they never change `cookie`).
// 2. transmit accepts a prefix: the first n frames of tx become the port's
//    (it sends or copies them and frees their buffers itself); frames
//    tx[n, size) are not touched and stay the caller's, who may retry them
//    or release them. n < tx.size() only when the port has no room now.
// 3. A frame whose cookie is `clone_cookie` (burst_output's clone arena) is
//    not a driver buffer: transmit copies it (or refuses it, law 2), and
//    release ignores it. The same holds for any buffer the port does not own
//    (owns() is false: a frame received on another port of another pool).
// 4. Every received frame has at least headroom() bytes in front of `data`
//    (`packet::headroom` >= headroom()), enough for the encapsulation the
//    embedder configured the port for (a VLAN tag, a VXLAN or GRE outer
//    header; see tunnel.hpp's overheads).
// 5. receive sets `packet::in_port` to the port's number and clears the
//    tunnel metadata (tun_id, tun_src, tun_dst); a tunnel decapsulation
//    (tunnel.hpp) sets them afterwards.
// 6. One port object is one queue: receive and transmit on it from one
//    thread at a time. Several queues of one device are several port objects
//    with distinct queue() values, each used by its own thread.
//
// After a pipeline run the embedder transmits each port's frames
// (burst_output::for_each_port) and releases burst_output::dropped(), the
// frames transmit did not accept and the ones it copied (not owns()).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include <flowpipe/core/packet.hpp>

namespace flowpipe::io {

template <class Port>
concept packet_port = requires(Port& p, const Port& cp, std::span<packet> rx, std::span<const packet> tx) {
    { p.receive(rx) }
    noexcept->std::same_as<std::size_t>;
    { p.transmit(tx) }
    noexcept->std::same_as<std::size_t>;
    { p.release(tx) }
    noexcept->std::same_as<void>;
    { cp.headroom() }
    noexcept->std::same_as<std::uint32_t>;
    { cp.queue() }
    noexcept->std::same_as<std::uint16_t>;
    { cp.owns(std::as_const(rx[0])) }
    noexcept->std::same_as<bool>;
};

// Checks that Port models packet_port with one sentence instead of a page
// of failed requirements; entry points taking a port call it first.
template <class Port>
constexpr bool require_packet_port() noexcept {
    static_assert(packet_port<Port>,
                  "Port must model flowpipe::io::packet_port: noexcept receive(span<packet>) and "
                  "transmit(span<const packet>) returning std::size_t, release(span<const "
                  "packet>), headroom() -> uint32_t, queue() -> uint16_t and owns(const packet&) -> bool "
                  "(see io/port.hpp)");
    return packet_port<Port>;
}

// Transmits all of `frames` that `port` accepts and releases to `owner` (the
// port that received them) the rest and the accepted ones `port` copied
// rather than took (law 1): the usual end of a run for one output port.
// Returns the frames transmitted.
template <class Port, class Owner>
std::size_t transmit_or_release(Port& port, Owner& owner, std::span<const packet> frames) noexcept {
    static_assert(require_packet_port<Port>() && require_packet_port<Owner>());
    const std::size_t n = port.transmit(frames);
    for (std::size_t i = 0; i < n; ++i)
        if (!port.owns(frames[i])) owner.release(frames.subspan(i, 1));
    if (n < frames.size()) owner.release(frames.subspan(n));
    return n;
}

} // namespace flowpipe::io
