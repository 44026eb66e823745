// In-memory ports over a fixed buffer pool.
#include <flowpipe/io/memory_port.hpp>
#include <flowpipe/pipeline/burst_output.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

namespace io = flowpipe::io;
using flowpipe::packet;

namespace {

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t first) {
    std::vector<std::uint8_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

} // namespace

TEST(memory_port, injected_frames_are_received_in_order_with_port_and_headroom) {
    io::buffer_pool pool({8, 512, 96});
    io::memory_port port(pool, {5, 3, 8, 8});
    const auto a = bytes(60, 0);
    const auto b = bytes(100, 50);
    ASSERT_TRUE(port.inject(a));
    ASSERT_TRUE(port.inject(b));
    EXPECT_EQ(port.pending(), 2u);
    std::array<packet, 1> one;
    ASSERT_EQ(port.receive(one), 1u);
    EXPECT_EQ(one[0].len, 60u);
    EXPECT_EQ(one[0].in_port, 5u);
    EXPECT_EQ(one[0].headroom, 96u);
    EXPECT_EQ(one[0].tun_id, 0u);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), one[0].data));
    std::array<packet, 4> rx;
    ASSERT_EQ(port.receive(rx), 1u);
    EXPECT_TRUE(std::equal(b.begin(), b.end(), rx[0].data));
    EXPECT_EQ(port.receive(rx), 0u);
    EXPECT_EQ(port.counters().received, 2u);
    port.release(one);
    port.release(std::span<const packet>(rx.data(), 1));
    EXPECT_EQ(pool.available(), 8u);
}

TEST(memory_port, inject_fails_and_counts_when_queue_full_pool_empty_or_frame_too_long) {
    io::buffer_pool pool({3, 256, 64});
    io::memory_port port(pool, {1, 0, 2, 4});
    const auto f = bytes(60, 0);
    EXPECT_TRUE(port.inject(f));
    EXPECT_TRUE(port.inject(f));
    EXPECT_FALSE(port.inject(f)); // queue full
    io::memory_port other(pool, {2, 0, 4, 4});
    EXPECT_TRUE(other.inject(f));
    EXPECT_FALSE(other.inject(f));             // pool empty
    EXPECT_FALSE(other.inject(bytes(193, 0))); // longer than 256 - 64
    EXPECT_EQ(port.counters().inject_failed, 1u);
    EXPECT_EQ(other.counters().inject_failed, 2u);
    EXPECT_EQ(pool.available(), 0u);
}

TEST(memory_port, the_receive_ring_wraps) {
    io::buffer_pool pool({4, 256, 64});
    io::memory_port port(pool, {1, 0, 3, 4});
    std::array<packet, 2> rx;
    for (std::uint8_t round = 0; round < 10; ++round) {
        ASSERT_TRUE(port.inject(bytes(20, round)));
        ASSERT_TRUE(port.inject(bytes(21, round)));
        ASSERT_EQ(port.receive(rx), 2u);
        EXPECT_EQ(rx[0].data[0], round);
        EXPECT_EQ(rx[1].len, 21u);
        port.release(rx);
    }
    EXPECT_EQ(pool.available(), 4u);
}

TEST(memory_port, transmit_keeps_pool_buffers_and_copies_clones) {
    io::buffer_pool pool({4, 256, 64});
    io::memory_port in(pool, {1, 0, 4, 4});
    io::memory_port out(pool, {2, 0, 4, 4});
    ASSERT_TRUE(in.inject(bytes(60, 1)));
    std::array<packet, 2> tx;
    ASSERT_EQ(in.receive(std::span<packet>(tx.data(), 1)), 1u);
    std::array<std::uint8_t, 80> clone_buf{};
    tx[1] = packet{};
    tx[1].data = clone_buf.data() + 16;
    tx[1].len = 64;
    tx[1].headroom = 16;
    tx[1].cookie = flowpipe::clone_cookie;
    tx[1].tun_id = 42;
    tx[1].data[0] = 0xee;
    EXPECT_EQ(pool.available(), 3u);
    ASSERT_EQ(out.transmit(tx), 2u);
    EXPECT_EQ(pool.available(), 2u); // the clone got a pool buffer
    ASSERT_EQ(out.transmitted().size(), 2u);
    EXPECT_EQ(out.transmitted()[0].data, tx[0].data); // no copy
    EXPECT_NE(out.transmitted()[1].data, tx[1].data);
    EXPECT_EQ(out.transmitted()[1].data[0], 0xee);
    EXPECT_EQ(out.transmitted()[1].len, 64u);
    EXPECT_EQ(out.transmitted()[1].tun_id, 42u);
    out.release(std::span<const packet>(tx.data() + 1, 1)); // a clone: ignored
    EXPECT_EQ(pool.available(), 2u);
    out.clear_transmitted();
    EXPECT_EQ(pool.available(), 4u);
    EXPECT_EQ(out.counters().transmitted, 2u);
}

TEST(memory_port, transmit_accepts_a_prefix_when_the_log_or_pool_runs_out) {
    io::buffer_pool pool({3, 256, 64});
    io::memory_port in(pool, {1, 0, 4, 4});
    io::memory_port out(pool, {2, 0, 4, 2});
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(in.inject(bytes(60, 0)));
    std::array<packet, 3> rx;
    ASSERT_EQ(in.receive(rx), 3u);
    EXPECT_EQ(out.transmit(rx), 2u); // log full
    EXPECT_EQ(out.counters().tx_refused, 1u);
    // The refused frame is still the caller's: release it.
    in.release(std::span<const packet>(rx.data() + 2, 1));
    EXPECT_EQ(pool.available(), 1u);
    out.clear_transmitted();

    // No buffer left for a clone's copy.
    io::buffer_pool tiny({1, 256, 64});
    io::memory_port t(tiny, {3, 0, 4, 4});
    std::array<std::uint8_t, 64> a{}, b{};
    std::array<packet, 2> clones;
    clones[0].data = a.data();
    clones[0].len = 64;
    clones[0].cookie = flowpipe::clone_cookie;
    clones[1] = clones[0];
    clones[1].data = b.data();
    EXPECT_EQ(t.transmit(clones), 1u);
    packet big = clones[0];
    std::vector<std::uint8_t> large(300);
    big.data = large.data();
    big.len = 300; // longer than a buffer holds
    t.clear_transmitted();
    EXPECT_EQ(t.transmit(std::span<const packet>(&big, 1)), 0u);
}

TEST(memory_port, a_wire_between_two_ports) {
    io::buffer_pool pool_a({4, 256, 64});
    io::buffer_pool pool_b({4, 256, 64});
    io::memory_port a(pool_a, {1, 0, 4, 4});
    io::memory_port a2(pool_a, {2, 0, 4, 4});
    io::memory_port b(pool_b, {9, 0, 4, 4});
    ASSERT_TRUE(a.inject(bytes(60, 7)));
    std::array<packet, 1> rx;
    ASSERT_EQ(a.receive(rx), 1u);
    ASSERT_EQ(a.transmit(rx), 1u);
    // Same pool: the buffer moves.
    ASSERT_EQ(a2.inject(a.transmitted()), 1u);
    a.forget_transmitted();
    EXPECT_EQ(pool_a.available(), 3u);
    ASSERT_EQ(a2.receive(rx), 1u);
    EXPECT_EQ(rx[0].in_port, 2u);
    ASSERT_EQ(a2.transmit(rx), 1u);
    // Another pool: copied, the original stays with its port.
    ASSERT_EQ(b.inject(a2.transmitted()), 1u);
    a2.clear_transmitted();
    EXPECT_EQ(pool_a.available(), 4u);
    EXPECT_EQ(pool_b.available(), 3u);
    ASSERT_EQ(b.receive(rx), 1u);
    EXPECT_EQ(rx[0].in_port, 9u);
    EXPECT_EQ(rx[0].data[59], 66u);
    b.release(rx);
    EXPECT_EQ(pool_b.available(), 4u);
}

TEST(memory_port, destruction_returns_queued_and_logged_buffers) {
    io::buffer_pool pool({4, 256, 64});
    {
        io::memory_port p(pool, {1, 0, 4, 4});
        ASSERT_TRUE(p.inject(bytes(60, 0)));
        ASSERT_TRUE(p.inject(bytes(60, 0)));
        std::array<packet, 1> rx;
        ASSERT_EQ(p.receive(rx), 1u);
        ASSERT_EQ(p.transmit(rx), 1u);
        EXPECT_EQ(pool.available(), 2u);
    }
    EXPECT_EQ(pool.available(), 4u);
}
