// burst_output: transmissions grouped per port in order of first output and,
// within a port, in order of output; checked against a plain reference
// grouping on random runs (ports that share a low byte included, runs reused
// without a fresh object), plus overflow, drops, releases and clones.
#include <flowpipe/pipeline/burst_output.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace fp = flowpipe;

namespace {

fp::packet frame(std::uint64_t id) {
    fp::packet p;
    p.cookie = id;
    p.len = 60;
    return p;
}

// (port, cookies in output order), ports in order of first output.
using grouping = std::vector<std::pair<std::uint32_t, std::vector<std::uint64_t>>>;

grouping reference(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& emitted) {
    grouping g;
    for (const auto& [port, id] : emitted) {
        auto it = g.begin();
        while (it != g.end() && it->first != port) ++it;
        if (it == g.end()) {
            g.push_back({port, {}});
            it = g.end() - 1;
        }
        it->second.push_back(id);
    }
    return g;
}

grouping grouped(const fp::burst_output& out) {
    grouping g;
    out.for_each_port([&](std::uint32_t port, std::span<const fp::packet> tx) {
        std::vector<std::uint64_t> ids;
        for (const fp::packet& p : tx) ids.push_back(p.cookie);
        g.push_back({port, ids});
    });
    return g;
}

} // namespace

TEST(burst_output, groups_like_the_reference_on_random_runs) {
    std::mt19937_64 rng(6);
    fp::burst_output out;
    // Ports 3, 259, 515 and 0x10003 share their low byte; 0xffffffff is the largest.
    const std::uint32_t ports[] = {1, 2, 3, 259, 515, 0x10003, 7, 0xffffffffu, 255, 256};
    std::size_t multi = 0;
    std::uint64_t sent = 0;
    for (int run = 0; run < 2000; ++run) {
        const std::size_t n_ports = 1 + rng() % std::size(ports);
        const std::size_t n = rng() % (out.configuration().max_outputs + 1);
        std::vector<std::pair<std::uint32_t, std::uint64_t>> emitted;
        out.begin();
        for (std::size_t i = 0; i < n; ++i) {
            // Runs of the same port, as bursts mostly are, and jumps.
            const std::uint32_t port =
                (!emitted.empty() && rng() % 4 != 0) ? emitted.back().first : ports[rng() % n_ports];
            const std::uint64_t id = (static_cast<std::uint64_t>(run) << 20) | i;
            ASSERT_TRUE(out.emit(port, frame(id)));
            emitted.push_back({port, id});
            sent += 1;
        }
        out.finish();
        const grouping want = reference(emitted);
        multi += want.size() > 1;
        ASSERT_EQ(grouped(out), want) << "run " << run;
        ASSERT_EQ(out.outputs().size(), n);
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(out.outputs()[i].port, emitted[i].first);
            ASSERT_EQ(out.outputs()[i].seq, i);
            ASSERT_EQ(out.outputs()[i].pkt.cookie, emitted[i].second);
        }
        for (const auto& [port, ids] : want) ASSERT_EQ(out.on_port(port).size(), ids.size()) << port;
        // A port of an earlier run that this one did not use has nothing.
        for (const std::uint32_t p : ports) {
            bool used = false;
            for (const auto& [port, ids] : want) used |= port == p;
            if (!used) {
                ASSERT_TRUE(out.on_port(p).empty()) << p;
            }
        }
    }
    EXPECT_GT(multi, 1500u);
    EXPECT_EQ(out.counters().output_overflow, 0u);
    EXPECT_EQ(out.counters().transmitted, sent);
}

TEST(burst_output, outputs_past_max_outputs_are_counted_and_dropped) {
    fp::burst_output out(fp::burst_output::config{.max_outputs = 4});
    out.begin();
    for (std::uint64_t i = 0; i < 6; ++i) EXPECT_EQ(out.emit(static_cast<std::uint32_t>(i % 2), frame(i)), i < 4);
    out.finish();
    EXPECT_EQ(out.outputs().size(), 4u);
    EXPECT_EQ(out.counters().transmitted, 4u);
    EXPECT_EQ(out.counters().output_overflow, 2u);
    EXPECT_EQ(grouped(out), (grouping{{0, {0, 2}}, {1, {1, 3}}}));
    // Four distinct ports fill every group there is, and the next run starts empty.
    out.begin();
    for (std::uint32_t p = 0; p < 4; ++p) out.emit(p * 256, frame(p));
    out.finish();
    EXPECT_EQ(grouped(out), (grouping{{0, {0}}, {256, {1}}, {512, {2}}, {768, {3}}}));
    out.begin();
    out.finish();
    EXPECT_TRUE(out.outputs().empty());
    EXPECT_TRUE(grouped(out).empty());
    EXPECT_TRUE(out.on_port(0).empty());
}

TEST(burst_output, drops_and_releases_return_driver_buffers_only) {
    fp::burst_output out;
    out.begin();
    fp::packet mine = frame(1);
    fp::packet copy;
    std::uint8_t bytes[60] = {0x11};
    mine.data = bytes;
    ASSERT_TRUE(out.clone(mine, copy));
    EXPECT_EQ(copy.cookie, fp::clone_cookie);
    EXPECT_NE(copy.data, mine.data);
    EXPECT_EQ(copy.data[0], 0x11);
    out.drop(copy);     // a clone is the run's own: not returned
    out.release(mine);  // the driver's buffer: returned
    out.drop(frame(2)); // counted as dropped and returned
    out.finish();
    ASSERT_EQ(out.dropped().size(), 2u);
    EXPECT_EQ(out.dropped()[0].cookie, 1u);
    EXPECT_EQ(out.dropped()[1].cookie, 2u);
    EXPECT_EQ(out.counters().dropped, 2u);
    out.begin();
    EXPECT_TRUE(out.dropped().empty());
}

TEST(burst_output, clones_past_the_arena_fail_and_are_counted) {
    fp::burst_output out(fp::burst_output::config{.max_clones = 2, .clone_size = 64});
    out.begin();
    std::uint8_t bytes[100] = {};
    fp::packet p = frame(1);
    p.data = bytes;
    fp::packet c;
    EXPECT_TRUE(out.clone(p, c));
    EXPECT_TRUE(out.clone(p, c));
    EXPECT_FALSE(out.clone(p, c));
    p.len = 100; // larger than a clone
    out.begin();
    EXPECT_FALSE(out.clone(p, c));
    EXPECT_EQ(out.counters().clone_failed, 2u);
}

// outputs() is put together when asked: asked in the middle of a run, it
// still shows later outputs when asked again, and nothing of an earlier run.
TEST(burst_output, outputs_view_follows_the_run) {
    fp::burst_output out;
    out.begin();
    out.emit(1, frame(10));
    out.emit(2, frame(11));
    ASSERT_EQ(out.outputs().size(), 2u);
    out.emit(1, frame(12));
    out.finish();
    ASSERT_EQ(out.outputs().size(), 3u);
    EXPECT_EQ(out.outputs()[2].pkt.cookie, 12u);
    EXPECT_EQ(out.outputs()[2].port, 1u);
    EXPECT_EQ(grouped(out), (grouping{{1, {10, 12}}, {2, {11}}}));
    out.begin();
    out.emit(7, frame(20));
    out.finish();
    ASSERT_EQ(out.outputs().size(), 1u);
    EXPECT_EQ(out.outputs()[0].pkt.cookie, 20u);
    EXPECT_EQ(grouped(out), (grouping{{7, {20}}}));
}
