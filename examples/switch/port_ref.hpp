// A packet port held by reference: lets a bridge drive a port it does not
// own (a test's io::memory_port, which is neither copyable nor movable).
//
// The bridge keeps its ports in a std::variant by value; a driver that must
// stay where it is (a test inspects it, a benchmark shares it) goes in as
// port_ref<Port>, a pointer with the packet_port interface forwarded. The
// forwarding calls are inline and direct: no virtual call is added.
//
// owns(frame) says whether a buffer is one the port frees itself when its
// transmit accepts it (a buffer of its own pool); the bridge returns every
// other accepted buffer to the port that received it, since the port only
// copied it (io/port.hpp, law 3). port_ref forwards Port::owns when the port
// has one; memory_port_ref asks the memory port's pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <flowpipe/core/packet.hpp>
#include <flowpipe/io/memory_port.hpp>
#include <flowpipe/io/port.hpp>

namespace flowpipe::examples {

template <class Port>
class port_ref {
    static_assert(io::require_packet_port<Port>());

  public:
    explicit port_ref(Port& p) noexcept : p_(&p) {}

    std::size_t receive(std::span<packet> rx) noexcept { return p_->receive(rx); }
    std::size_t transmit(std::span<const packet> tx) noexcept { return p_->transmit(tx); }
    void release(std::span<const packet> tx) noexcept { p_->release(tx); }
    [[nodiscard]] std::uint32_t headroom() const noexcept { return p_->headroom(); }
    [[nodiscard]] std::uint16_t queue() const noexcept { return p_->queue(); }

    [[nodiscard]] bool owns(const packet& f) const noexcept requires requires(const Port& p) {
        { p.owns(f) }
        noexcept;
    }
    { return p_->owns(f); }

    [[nodiscard]] Port& get() const noexcept { return *p_; }

  private:
    Port* p_;
};

// An io::memory_port held by reference, with the pool its buffers come from.
class memory_port_ref {
  public:
    memory_port_ref(io::memory_port& p, const io::buffer_pool& pool) noexcept : p_(&p), pool_(&pool) {}

    std::size_t receive(std::span<packet> rx) noexcept { return p_->receive(rx); }
    std::size_t transmit(std::span<const packet> tx) noexcept { return p_->transmit(tx); }
    void release(std::span<const packet> tx) noexcept { p_->release(tx); }
    [[nodiscard]] std::uint32_t headroom() const noexcept { return p_->headroom(); }
    [[nodiscard]] std::uint16_t queue() const noexcept { return p_->queue(); }
    [[nodiscard]] bool owns(const packet& f) const noexcept { return pool_->owns(f); }

    [[nodiscard]] io::memory_port& get() const noexcept { return *p_; }

  private:
    io::memory_port* p_;
    const io::buffer_pool* pool_;
};

} // namespace flowpipe::examples
