// The packet_port concept: what models it, what does not, and the
// transmit-or-release helper's ownership law on in-memory ports.
#include <flowpipe/io/memory_port.hpp>
#include <flowpipe/io/port.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <span>

namespace io = flowpipe::io;
using flowpipe::packet;

namespace {

// The smallest port: receives nothing, accepts everything.
struct null_port {
    std::size_t receive(std::span<packet>) noexcept { return 0; }
    std::size_t transmit(std::span<const packet> tx) noexcept { return tx.size(); }
    void release(std::span<const packet>) noexcept {}
    [[nodiscard]] std::uint32_t headroom() const noexcept { return 0; }
    [[nodiscard]] std::uint16_t queue() const noexcept { return 0; }
    [[nodiscard]] bool owns(const packet&) const noexcept { return false; }
};

// Receive may throw: not a port.
struct throwing_port : null_port {
    std::size_t receive(std::span<packet>) { return 0; }
};

// Transmit returns a bool: not a port.
struct bool_port : null_port {
    bool transmit(std::span<const packet>) noexcept { return true; }
};

// No headroom(): not a port.
struct no_headroom_port {
    std::size_t receive(std::span<packet>) noexcept { return 0; }
    std::size_t transmit(std::span<const packet> tx) noexcept { return tx.size(); }
    void release(std::span<const packet>) noexcept {}
    [[nodiscard]] std::uint16_t queue() const noexcept { return 0; }
};

} // namespace

static_assert(io::packet_port<null_port>);
static_assert(io::packet_port<io::memory_port>);
static_assert(io::require_packet_port<io::memory_port>());
static_assert(!io::packet_port<throwing_port>);
static_assert(!io::packet_port<bool_port>);
static_assert(!io::packet_port<no_headroom_port>);
static_assert(!io::packet_port<int>);

// No owns(): not a port (transmit_or_release could not tell a copy from a take).
struct no_owns_port {
    std::size_t receive(std::span<packet>) noexcept { return 0; }
    std::size_t transmit(std::span<const packet> tx) noexcept { return tx.size(); }
    void release(std::span<const packet>) noexcept {}
    [[nodiscard]] std::uint32_t headroom() const noexcept { return 0; }
    [[nodiscard]] std::uint16_t queue() const noexcept { return 0; }
};
static_assert(!io::packet_port<no_owns_port>);

TEST(packet_port, transmit_or_release_returns_what_transmit_refused) {
    io::buffer_pool pool({8, 256, 64});
    io::memory_port in(pool, {1, 0, 8, 8});
    io::memory_port out(pool, {2, 0, 8, 2}); // room for two frames only
    const std::array<std::uint8_t, 60> frame{};
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(in.inject(frame));
    EXPECT_EQ(pool.available(), 4u);
    std::array<packet, 8> rx;
    const std::size_t n = in.receive(rx);
    ASSERT_EQ(n, 4u);
    EXPECT_EQ(io::transmit_or_release(out, in, std::span<const packet>(rx.data(), n)), 2u);
    EXPECT_EQ(out.transmitted().size(), 2u);
    EXPECT_EQ(pool.available(), 6u); // the two refused frames went back to the pool
    out.clear_transmitted();
    EXPECT_EQ(pool.available(), 8u);
}

TEST(packet_port, transmit_or_release_returns_frames_a_port_of_another_pool_copied) {
    io::buffer_pool in_pool({8, 256, 64}), out_pool({8, 256, 64});
    io::memory_port in(in_pool, {1, 0, 8, 8});
    io::memory_port out(out_pool, {2, 0, 8, 8});
    const std::array<std::uint8_t, 60> frame{};
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(in.inject(frame));
    std::array<packet, 8> rx;
    const std::size_t n = in.receive(rx);
    ASSERT_EQ(n, 3u);
    EXPECT_FALSE(out.owns(rx[0]));
    EXPECT_EQ(io::transmit_or_release(out, in, std::span<const packet>(rx.data(), n)), 3u);
    EXPECT_EQ(out.transmitted().size(), 3u); // copies in out's pool...
    EXPECT_EQ(out_pool.available(), 5u);
    EXPECT_EQ(in_pool.available(), 8u); // ...and every original back in its own
}

TEST(packet_port, a_port_per_queue) {
    io::buffer_pool pool({4, 256, 64});
    io::memory_port q0(pool, {7, 0, 4, 4});
    io::memory_port q1(pool, {7, 1, 4, 4});
    EXPECT_EQ(q0.queue(), 0u);
    EXPECT_EQ(q1.queue(), 1u);
    EXPECT_EQ(q0.headroom(), 64u);
}
