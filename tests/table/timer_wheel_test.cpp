// The timer wheel: against a naive model (every flow's exact expiry,
// now > modified + hard*1000 or now > used + idle*1000) on random timeouts,
// hits, re-learns (modified moves), deletes and clock steps from 0 ms to far
// beyond the wheel's 16.4 s revolution; eviction takes the flow that expires
// first; next_expiry() is a lower bound.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/table/flow_table.hpp>
#include <flowpipe/table/timer_wheel.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace fp = flowpipe;
using namespace fp::actions;

namespace {

using out_list = fp::action_list<output>;
using acts = fp::allowed<out_list>;
using exact_schema = fp::schema<fp::exact<fp::fields::vlan_tci::bits<0, 11>>, fp::exact<fp::fields::eth_dst>>;
using wild_schema = fp::schema<fp::masked<fp::fields::eth_dst>, fp::masked<fp::fields::tun_id>>;

fp::match key(std::uint64_t mac) {
    fp::match m;
    m.set(fp::field_id::vlan_tci, 5, 0x0fff);
    m.set(fp::field_id::eth_dst, mac);
    return m;
}
fp::flow_key pkt(std::uint64_t mac) {
    fp::flow_key k{};
    k.vlan_tci = 0x1005;
    k.eth_dst = mac;
    return k;
}

struct model_flow {
    std::int64_t modified, used;
    std::uint16_t idle, hard;
    [[nodiscard]] std::int64_t due() const {
        std::int64_t t = std::numeric_limits<std::int64_t>::max();
        if (hard) t = std::min(t, modified + std::int64_t{hard} * 1000 + 1);
        if (idle) t = std::min(t, used + std::int64_t{idle} * 1000 + 1);
        return t;
    }
};

template <class Table>
void differential(std::uint32_t seed, bool evict) {
    std::mt19937_64 rng(seed);
    constexpr std::size_t max_flows = 64;
    Table t(fp::table_config{.max_flows = max_flows,
                             .on_full = evict ? fp::overflow_policy::evict : fp::overflow_policy::refuse});
    std::map<std::uint64_t, model_flow> model;
    std::int64_t now = static_cast<std::int64_t>(rng() % 100000);
    std::size_t expired_total = 0;
    for (int step = 0; step < 20000; ++step) {
        const int op = static_cast<int>(rng() % 100);
        const std::uint64_t mac = 1 + rng() % 96;
        if (op < 30) { // add (replaces)
            const std::uint16_t small[] = {0, 1, 2, 5, 10, 17, 30, 300};
            const std::uint16_t idle = small[rng() % 8], hard = small[rng() % 8];
            const bool present = model.count(mac) != 0;
            if (!present && model.size() >= max_flows && !evict) {
                EXPECT_FALSE(
                    t.add(key(mac), 5, out_list{output{1}}, {.idle_timeout = idle, .hard_timeout = hard}, now));
                continue;
            }
            if (!present && model.size() >= max_flows) {
                // The model's victim: the earliest expiry among flows with a timeout.
                std::int64_t best = std::numeric_limits<std::int64_t>::max();
                for (auto& [m, f] : model)
                    if (f.idle || f.hard) best = std::min(best, f.due());
                const auto st =
                    t.add(key(mac), 5, out_list{output{1}}, {.idle_timeout = idle, .hard_timeout = hard}, now);
                if (best == std::numeric_limits<std::int64_t>::max()) {
                    ASSERT_EQ(st.code, fp::flow_mod_errc::table_full) << "step " << step;
                    continue;
                }
                ASSERT_TRUE(st) << "step " << step;
                // Exactly one flow with the earliest expiry went.
                std::uint64_t gone = 0;
                int n_gone = 0;
                for (auto& [m, f] : model)
                    if (t.lookup(pkt(m)) == nullptr) gone = m, ++n_gone;
                ASSERT_EQ(n_gone, 1) << "step " << step;
                ASSERT_EQ(model[gone].due(), best) << "step " << step;
                model.erase(gone);
            } else {
                ASSERT_TRUE(t.add(key(mac), 5, out_list{output{1}}, {.idle_timeout = idle, .hard_timeout = hard}, now));
            }
            model[mac] = model_flow{now, now, idle, hard};
        } else if (op < 45) { // a packet hits it
            auto* f = t.lookup(pkt(mac));
            ASSERT_EQ(f != nullptr, model.count(mac) != 0) << "step " << step;
            if (f) {
                Table::hit(*f, 60, now);
                model[mac].used = now;
            }
        } else if (op < 60) { // re-learn: modified moves (strict modify, same actions)
            const auto st = t.modify(key(mac), true, 5, out_list{output{1}}, {}, now, false);
            ASSERT_EQ(st.count, model.count(mac)) << "step " << step;
            if (model.count(mac)) model[mac].modified = now;
        } else if (op < 65) { // delete
            const auto st = t.remove(key(mac), true, 5);
            ASSERT_EQ(st.count, model.erase(mac)) << "step " << step;
        } else { // time passes, expire
            const int kind = static_cast<int>(rng() % 10);
            now += kind < 5   ? static_cast<std::int64_t>(rng() % 4)
                   : kind < 8 ? static_cast<std::int64_t>(rng() % 3000)
                   : kind < 9 ? static_cast<std::int64_t>(rng() % 40000)
                              : static_cast<std::int64_t>(rng() % 400000);
            const std::int64_t bound = t.next_expiry();
            std::size_t want = 0;
            std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
            for (auto& [m, f] : model) earliest = std::min(earliest, f.due());
            ASSERT_LE(bound, earliest) << "step " << step;
            std::erase_if(model, [&](const auto& kv) {
                const bool dead = kv.second.due() <= now;
                want += dead;
                return dead;
            });
            ASSERT_EQ(t.expire(now), want) << "step " << step << " now " << now;
            expired_total += want;
        }
        ASSERT_EQ(t.size(), model.size()) << "step " << step;
    }
    EXPECT_GT(expired_total, 1000u);
    EXPECT_EQ(t.stats().expired, expired_total);
}

} // namespace

TEST(timer_wheel, exact_table_expires_like_the_model) {
    for (std::uint32_t seed : {1u, 2u, 3u}) differential<fp::flow_table<exact_schema, acts>>(seed, false);
}
TEST(timer_wheel, exact_table_evicts_the_earliest_expiry) {
    for (std::uint32_t seed : {4u, 5u}) differential<fp::flow_table<exact_schema, acts>>(seed, true);
}
TEST(timer_wheel, tuple_space_table_expires_like_the_model) {
    differential<fp::flow_table<exact_schema, acts, fp::lookup::tuple_space>>(6, true);
}

// The exact boundary, at and across the wheel's revolution.
TEST(timer_wheel, boundary_is_now_greater_than_modified_plus_timeout) {
    for (std::uint16_t hard : {1, 16, 17, 300, 65535}) {
        fp::flow_table<exact_schema, acts> t;
        ASSERT_TRUE(t.add(key(1), 5, out_list{output{1}}, {.hard_timeout = hard}, 1000));
        const std::int64_t edge = 1000 + std::int64_t{hard} * 1000;
        EXPECT_EQ(t.expire(edge), 0u) << hard;
        EXPECT_EQ(t.expire(edge + 1), 1u) << hard;
    }
    // A flow added with a time the wheel has already walked past.
    fp::flow_table<exact_schema, acts> t;
    EXPECT_EQ(t.expire(100'000), 0u);
    ASSERT_TRUE(t.add(key(2), 5, out_list{output{1}}, {.hard_timeout = 10}, 50'000));
    EXPECT_EQ(t.expire(100'000), 1u); // 100 s > 50 s + 10 s, even without the clock moving
}

// The wheel alone: links through an external node array.
TEST(timer_wheel, link_unlink_and_memory) {
    struct node {
        std::uint32_t prev = fp::timer_wheel::unlinked, next = fp::timer_wheel::npos;
        std::int64_t due = 0;
    };
    std::vector<node> nodes(1000);
    struct links {
        std::vector<node>* n;
        std::uint32_t& prev(std::uint32_t i) const { return (*n)[i].prev; }
        std::uint32_t& next(std::uint32_t i) const { return (*n)[i].next; }
    } l{&nodes};
    fp::timer_wheel w;
    EXPECT_EQ(w.memory_bytes(), sizeof(fp::timer_wheel)); // nothing until the first link
    std::mt19937_64 rng(7);
    for (std::uint32_t i = 0; i < 1000; ++i) {
        nodes[i].due = static_cast<std::int64_t>(rng() % 100000);
        w.link(l, i, nodes[i].due);
    }
    for (std::uint32_t i = 0; i < 1000; i += 3) w.unlink(l, i);
    w.unlink(l, 0); // twice: nothing
    EXPECT_EQ(w.size(), 1000u - 334u);
    std::vector<std::uint32_t> fired;
    const std::size_t n = w.expire(
        l, 50000, [&](std::uint32_t i) { return nodes[i].due; }, [&](std::uint32_t i) { fired.push_back(i); });
    std::size_t want = 0;
    for (std::uint32_t i = 0; i < 1000; ++i) want += i % 3 != 0 && nodes[i].due <= 50000;
    EXPECT_EQ(n, want);
    EXPECT_EQ(fired.size(), want);
    for (std::uint32_t i : fired) EXPECT_LE(nodes[i].due, 50000);
    const std::uint32_t e = w.earliest(l, [&](std::uint32_t i) { return nodes[i].due; });
    std::int64_t best = std::numeric_limits<std::int64_t>::max();
    for (std::uint32_t i = 0; i < 1000; ++i)
        if (i % 3 != 0 && nodes[i].due > 50000) best = std::min(best, nodes[i].due);
    ASSERT_NE(e, fp::timer_wheel::npos);
    EXPECT_EQ(nodes[e].due, best);
}

// take_place: a node takes another's place in its list (a flow moved to a
// new slot keeps its timer, and its order among timers of equal due).
TEST(timer_wheel, take_place_keeps_the_list_order) {
    struct node {
        std::uint32_t prev = fp::timer_wheel::unlinked, next = fp::timer_wheel::npos;
    };
    std::vector<node> nodes(8);
    struct links {
        std::vector<node>* n;
        std::uint32_t& prev(std::uint32_t id) const noexcept { return (*n)[id].prev; }
        std::uint32_t& next(std::uint32_t id) const noexcept { return (*n)[id].next; }
    } l{&nodes};
    for (const std::uint32_t from : {0u, 1u, 2u}) { // head, middle, tail of one slot's list
        fp::timer_wheel w;
        for (auto& n : nodes) n = node{};
        for (std::uint32_t id = 0; id < 3; ++id) w.link(l, id, 100);
        w.take_place(l, from, 5);
        EXPECT_EQ(nodes[from].prev, fp::timer_wheel::unlinked);
        std::vector<std::uint32_t> fired;
        EXPECT_EQ(w.expire(
                      l, 100, [](std::uint32_t) { return std::int64_t{100}; },
                      [&](std::uint32_t id) { fired.push_back(id); }),
                  3u);
        std::vector<std::uint32_t> want{2, 1, 0}; // linked at the head: last linked first
        std::replace(want.begin(), want.end(), from, 5u);
        EXPECT_EQ(fired, want) << "from " << from;
        EXPECT_EQ(w.size(), 0u);
    }
}
