// output:N. Open vSwitch drops an output to the packet's own input port;
// `in_port` (action/in_port.hpp) is the explicit way to send a frame back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace flowpipe::actions {

struct output {
    std::uint32_t port = 0;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.output(port);
    }
    friend constexpr bool operator==(const output&, const output&) = default;
};

// output:P1,output:P2,...: one action for a run-time list of ports (a flood
// list such as br-tun's table 22), up to MaxPorts of them.
template <std::size_t MaxPorts>
struct output_ports {
    std::array<std::uint32_t, MaxPorts> ports{};
    std::uint32_t count = 0;

    // Adds a port; false when the list is full.
    constexpr bool add(std::uint32_t port) noexcept {
        if (count == MaxPorts) return false;
        ports[count++] = port;
        return true;
    }
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        for (std::uint32_t i = 0; i < count; ++i) ctx.output(ports[i]);
    }
    friend constexpr bool operator==(const output_ports& a, const output_ports& b) noexcept {
        if (a.count != b.count) return false;
        for (std::uint32_t i = 0; i < a.count; ++i)
            if (a.ports[i] != b.ports[i]) return false;
        return true;
    }
};

} // namespace flowpipe::actions
