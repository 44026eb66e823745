// Flow-table semantics (Open vSwitch 3.1 through ovs-ofctl) for every lookup
// structure, and a randomised differential test of whole tables against a
// naive model.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/table/flow_table.hpp>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <tuple>

namespace fp = flowpipe;
using namespace fp::actions;

namespace {

using out_list = fp::action_list<output>;
using acts = fp::allowed<out_list, fp::action_list<drop>>;

// A masked schema (two fields) used by the wildcard tables.
using wild_schema = fp::schema<fp::masked<fp::fields::eth_dst>, fp::masked<fp::fields::tun_id>>;
// An exact schema like br-tun's table 20.
using exact_schema = fp::schema<fp::exact<fp::fields::vlan_tci::bits<0, 11>>, fp::exact<fp::fields::eth_dst>>;

template <class Table>
struct flow_table_test : ::testing::Test {};

struct exact_kind {
    using table = fp::flow_table<exact_schema, acts>;
};
struct tss_kind {
    using table = fp::flow_table<wild_schema, acts, fp::lookup::tuple_space>;
};
struct scan_kind {
    using table = fp::flow_table<wild_schema, acts, fp::lookup::scan>;
};
using kinds = ::testing::Types<exact_kind, tss_kind, scan_kind>;
TYPED_TEST_SUITE(flow_table_test, kinds);

// A match that fits the table kind: exact tables take vlan+mac, wildcard ones mac+tun.
template <class K>
fp::match key_match(std::uint64_t mac, std::uint16_t vlan = 5) {
    fp::match m;
    if constexpr (std::is_same_v<K, exact_kind>) {
        m.set(fp::field_id::vlan_tci, vlan, 0x0fff);
        m.set(fp::field_id::eth_dst, mac);
    } else {
        m.set(fp::field_id::eth_dst, mac);
        m.set(fp::field_id::tun_id, vlan);
    }
    return m;
}

template <class K>
fp::flow_key packet_for(std::uint64_t mac, std::uint16_t vlan = 5) {
    fp::flow_key k{};
    k.eth_dst = mac;
    k.vlan_tci = static_cast<std::uint16_t>(0x1000 | vlan);
    k.tun_id = vlan;
    return k;
}

std::uint32_t port_of(const fp::allowed<out_list, fp::action_list<drop>>::storage& s) {
    if (auto* o = std::get_if<out_list>(&s)) return std::get<0>(o->actions).port;
    return 0;
}

out_list to(std::uint32_t port) { return out_list{output{port}}; }

} // namespace

TYPED_TEST(flow_table_test, highest_priority_wins_and_catch_all_catches) {
    typename TypeParam::table t;
    const auto m = key_match<TypeParam>(0xaabbccddeeffULL);
    ASSERT_TRUE(t.add(fp::match{}, 0, to(99), {}, 0));
    ASSERT_TRUE(t.add(m, 10, to(1), {}, 0));
    ASSERT_TRUE(t.add(m, 20, to(2), {}, 0));
    EXPECT_EQ(t.size(), 3u);
    auto* f = t.lookup(packet_for<TypeParam>(0xaabbccddeeffULL));
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->priority, 20);
    EXPECT_EQ(port_of(f->actions), 2u);
    auto* miss = t.lookup(packet_for<TypeParam>(0x1ULL));
    ASSERT_NE(miss, nullptr);
    EXPECT_EQ(port_of(miss->actions), 99u);
    // A catch-all above the specific flows wins.
    ASSERT_TRUE(t.add(fp::match{}, 30, to(77), {}, 0));
    EXPECT_EQ(port_of(t.lookup(packet_for<TypeParam>(0xaabbccddeeffULL))->actions), 77u);
    EXPECT_EQ(t.stats().lookups, 3u);
    EXPECT_EQ(t.stats().matched, 3u);
}

TYPED_TEST(flow_table_test, add_replaces_same_match_and_priority_and_resets_counters) {
    typename TypeParam::table t;
    const auto m = key_match<TypeParam>(0x10);
    ASSERT_TRUE(t.add(m, 5, to(1), {.cookie = 7}, 0));
    auto* f = t.lookup(packet_for<TypeParam>(0x10));
    TypeParam::table::hit(*f, 100, 50);
    EXPECT_EQ(f->n_packets, 1u);
    ASSERT_TRUE(t.add(m, 5, to(2), {.cookie = 8}, 1000));
    EXPECT_EQ(t.size(), 1u);
    f = t.lookup(packet_for<TypeParam>(0x10));
    EXPECT_EQ(port_of(f->actions), 2u);
    EXPECT_EQ(f->n_packets, 0u); // keeps nothing of the old flow
    EXPECT_EQ(f->cookie, 8u);
    EXPECT_EQ(f->created_ms, 1000);
}

TYPED_TEST(flow_table_test, modify_keeps_counters_and_restarts_hard_timeout) {
    typename TypeParam::table t;
    const auto m = key_match<TypeParam>(0x20);
    ASSERT_TRUE(t.add(m, 5, to(1), {.cookie = 3, .hard_timeout = 10}, 0));
    auto* f = t.lookup(packet_for<TypeParam>(0x20));
    TypeParam::table::hit(*f, 60, 1);
    auto st = t.modify(m, true, 5, to(4), {}, 9000);
    ASSERT_TRUE(st);
    EXPECT_EQ(st.count, 1u);
    f = t.lookup(packet_for<TypeParam>(0x20));
    EXPECT_EQ(port_of(f->actions), 4u);
    EXPECT_EQ(f->n_packets, 1u);
    EXPECT_EQ(f->n_bytes, 60u);
    EXPECT_EQ(f->cookie, 3u);
    EXPECT_EQ(f->hard_timeout, 10u);
    EXPECT_EQ(f->created_ms, 0);
    // The hard timeout now counts from the modification at 9 s.
    EXPECT_EQ(t.expire(10'001), 0u);
    EXPECT_EQ(t.expire(19'000), 0u);
    EXPECT_EQ(t.expire(19'001), 1u);
}

TYPED_TEST(flow_table_test, modify_without_a_match_adds_unless_a_cookie_mask_is_given) {
    typename TypeParam::table t;
    const auto m = key_match<TypeParam>(0x30);
    auto st = t.modify(m, true, 5, to(1), {.value = 0x55, .mask = 0xff}, 0);
    ASSERT_TRUE(st);
    EXPECT_EQ(t.size(), 0u);
    st = t.modify(m, true, 5, to(1), {}, 0);
    ASSERT_TRUE(st);
    EXPECT_EQ(t.size(), 1u);
}

TYPED_TEST(flow_table_test, strict_and_loose_delete_with_cookie_masks) {
    typename TypeParam::table t;
    const auto a = key_match<TypeParam>(0x40);
    const auto b = key_match<TypeParam>(0x41);
    ASSERT_TRUE(t.add(a, 5, to(1), {.cookie = 0x1001}, 0));
    ASSERT_TRUE(t.add(a, 6, to(1), {.cookie = 0x2001}, 0));
    ASSERT_TRUE(t.add(b, 5, to(1), {.cookie = 0x1002}, 0));
    ASSERT_TRUE(t.add(fp::match{}, 0, to(9), {.cookie = 0x1003}, 0));
    // strict: exact match and priority only
    EXPECT_EQ(t.remove(a, true, 7).count, 0u);
    EXPECT_EQ(t.remove(a, true, 6, {.value = 0x1000, .mask = 0xf000}).count, 0u); // cookie filters it out
    EXPECT_EQ(t.remove(a, true, 6).count, 1u);
    EXPECT_EQ(t.size(), 3u);
    // loose with a cookie mask: every flow covered by the (empty) match with cookie 0x1xxx
    EXPECT_EQ(t.remove(fp::match{}, false, 0, {.value = 0x1000, .mask = 0xf000}).count, 3u);
    EXPECT_EQ(t.size(), 0u);
}

TYPED_TEST(flow_table_test, loose_delete_selects_only_covered_flows) {
    typename TypeParam::table t;
    ASSERT_TRUE(t.add(key_match<TypeParam>(0x50), 5, to(1), {}, 0));
    ASSERT_TRUE(t.add(key_match<TypeParam>(0x51), 5, to(1), {}, 0));
    ASSERT_TRUE(t.add(fp::match{}, 0, to(1), {}, 0));
    fp::match m;
    m.set(fp::field_id::eth_dst, 0x50);
    EXPECT_EQ(t.remove(m, false).count, 1u); // covers the 0x50 flow only, not the catch-all
    EXPECT_EQ(t.size(), 2u);
}

TYPED_TEST(flow_table_test, timeouts_expire_at_their_exact_boundary) {
    typename TypeParam::table t;
    ASSERT_TRUE(t.add(key_match<TypeParam>(0x60), 5, to(1), {.hard_timeout = 300}, 1000));
    ASSERT_TRUE(t.add(key_match<TypeParam>(0x61), 5, to(1), {.idle_timeout = 10}, 1000));
    // idle: a hit at 5 s pushes it to 15 s
    auto* f = t.lookup(packet_for<TypeParam>(0x61));
    ASSERT_NE(f, nullptr);
    TypeParam::table::hit(*f, 64, 5000);
    EXPECT_EQ(t.expire(11'001), 0u);
    EXPECT_EQ(t.expire(15'000), 0u);
    EXPECT_EQ(t.expire(15'001), 1u);
    EXPECT_EQ(t.lookup(packet_for<TypeParam>(0x61)), nullptr);
    // hard: gone when now > installed + 300 s, not at it
    EXPECT_EQ(t.expire(301'000), 0u);
    EXPECT_EQ(t.expire(301'001), 1u);
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.stats().expired, 2u);
}

TYPED_TEST(flow_table_test, limit_refuse) {
    typename TypeParam::table t(fp::table_config{.max_flows = 4, .on_full = fp::overflow_policy::refuse});
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(t.add(key_match<TypeParam>(0x100 + i), 5, to(1), {}, 0));
    auto st = t.add(key_match<TypeParam>(0x200), 5, to(1), {}, 0);
    EXPECT_EQ(st.code, fp::flow_mod_errc::table_full);
    EXPECT_STREQ(st.what(), "table is full");
    EXPECT_EQ(t.size(), 4u);
    // Replacing an existing flow needs no room.
    EXPECT_TRUE(t.add(key_match<TypeParam>(0x100), 5, to(2), {}, 0));
}

// index_flows sizes an exact index for more flows than the table may hold
// (room for fast inserts near max_flows); the limit stays max_flows, and the
// other lookups are sized by max_flows alone.
TYPED_TEST(flow_table_test, index_room_keeps_the_limit) {
    using table = typename TypeParam::table;
    table small(fp::table_config{.max_flows = 64});
    table roomy(fp::table_config{.max_flows = 64, .index_flows = 640});
    if constexpr (table::exact_mode) {
        EXPECT_GE(roomy.index().capacity(), 640u);
        EXPECT_GE(roomy.index_memory_bytes(), 8 * small.index_memory_bytes());
    } else {
        EXPECT_EQ(roomy.index_memory_bytes(), small.index_memory_bytes());
    }
    for (int i = 0; i < 64; ++i) ASSERT_TRUE(roomy.add(key_match<TypeParam>(0x100 + i), 5, to(1), {}, 0));
    EXPECT_EQ(roomy.add(key_match<TypeParam>(0x200), 5, to(1), {}, 0).code, fp::flow_mod_errc::table_full);
    EXPECT_EQ(roomy.size(), 64u);
    for (int i = 0; i < 64; ++i) EXPECT_NE(roomy.lookup(packet_for<TypeParam>(0x100 + i)), nullptr);
    EXPECT_EQ(roomy.lookup(packet_for<TypeParam>(0x200)), nullptr);
    // Less than max_flows is max_flows.
    table under(fp::table_config{.max_flows = 64, .index_flows = 8});
    EXPECT_EQ(under.index_memory_bytes(), small.index_memory_bytes());
}

TYPED_TEST(flow_table_test, limit_evict_takes_the_flow_that_expires_first_and_only_flows_with_timeouts) {
    typename TypeParam::table t(fp::table_config{.max_flows = 3, .on_full = fp::overflow_policy::evict});
    ASSERT_TRUE(t.add(key_match<TypeParam>(0x1), 5, to(1), {}, 0));                    // permanent
    ASSERT_TRUE(t.add(key_match<TypeParam>(0x2), 5, to(1), {.hard_timeout = 100}, 0)); // expires at 100 s
    ASSERT_TRUE(t.add(key_match<TypeParam>(0x3), 5, to(1), {.idle_timeout = 50}, 0));  // 50 s, but used at 80 s
    TypeParam::table::hit(*t.lookup(packet_for<TypeParam>(0x3)), 1, 80'000);           // now 130 s
    ASSERT_TRUE(t.add(key_match<TypeParam>(0x4), 5, to(1), {}, 90'000));
    EXPECT_EQ(t.lookup(packet_for<TypeParam>(0x2)), nullptr); // evicted: earliest expiry
    EXPECT_NE(t.lookup(packet_for<TypeParam>(0x3)), nullptr);
    EXPECT_EQ(t.stats().evicted, 1u);
    ASSERT_TRUE(t.add(key_match<TypeParam>(0x5), 5, to(1), {}, 90'000)); // evicts 0x3
    EXPECT_EQ(t.lookup(packet_for<TypeParam>(0x3)), nullptr);
    // Only permanent flows left: nothing can be evicted.
    EXPECT_EQ(t.add(key_match<TypeParam>(0x6), 5, to(1), {}, 90'000).code, fp::flow_mod_errc::table_full);
}

TEST(flow_table, errors_name_the_reason_and_install_nothing) {
    fp::flow_table<exact_schema, acts> t;
    fp::match not_in_table;
    not_in_table.set(fp::field_id::nw_src, 1);
    not_in_table.set(fp::field_id::eth_type, 0x0800);
    EXPECT_EQ(t.add(not_in_table, 1, to(1), {}, 0).code, fp::flow_mod_errc::field_not_in_table);
    fp::match partial;
    partial.set(fp::field_id::eth_dst, 0x1, 0xff);
    partial.set(fp::field_id::vlan_tci, 2, 0x0fff);
    EXPECT_EQ(t.add(partial, 1, to(1), {}, 0).code, fp::flow_mod_errc::partial_exact_match);
    fp::match half;
    half.set(fp::field_id::eth_dst, 0x1);
    EXPECT_EQ(t.add(half, 1, to(1), {}, 0).code, fp::flow_mod_errc::exact_table_partial);
    fp::match prereq;
    prereq.set(fp::field_id::arp_tpa, 0x0a000001);
    fp::flow_table<fp::generic_schema, fp::allowed<fp::generic_actions>> g;
    auto st = g.add(prereq, 1, fp::generic_actions{}, {}, 0);
    EXPECT_EQ(st.code, fp::flow_mod_errc::unmet_prerequisite);
    EXPECT_EQ(st.field, fp::field_id::arp_tpa);
    prereq.set(fp::field_id::eth_type, 0x0806);
    EXPECT_TRUE(g.add(prereq, 1, fp::generic_actions{}, {}, 0));
    EXPECT_EQ(g.add(fp::match{}, 70000, fp::generic_actions{}, {}, 0).code, fp::flow_mod_errc::bad_priority);
    EXPECT_EQ(t.size(), 0u);
}

TEST(flow_table, typed_match_builder) {
    using table_t = fp::flow_table<exact_schema, acts>;
    table_t t;
    table_t::match_type m;
    m.set<fp::fields::vlan_tci::bits<0, 11>>(5).set<fp::fields::eth_dst>(0xfa163e7eabccULL);
    ASSERT_TRUE(t.add(m, 1, to(3), {}, 0));
    fp::flow_key k{};
    k.vlan_tci = 0x1005;
    k.eth_dst = 0xfa163e7eabccULL;
    ASSERT_NE(t.lookup(k), nullptr);
    k.vlan_tci = 0x1006;
    EXPECT_EQ(t.lookup(k), nullptr);
}

// Random flow mods and lookups against a naive model: a list of (match,
// priority, port, cookie) searched linearly.
// Which flows a differential run makes: all-exact ones, random masks, or
// (side) mostly flows of the side index's mask (vlan_tci[0..11] + dl_dst)
// among dl_vlan= flows, masked MACs and catch-alls.
enum class flows_kind { exact, wild, side };

template <class Table, flows_kind Kind>
void differential(std::uint32_t seed) {
    constexpr bool Exact = Kind == flows_kind::exact;
    std::mt19937_64 rng(seed);
    Table t(fp::table_config{.max_flows = 4096});
    struct model_flow {
        fp::match m;
        int priority;
        std::uint32_t port;
        std::uint64_t cookie;
    };
    std::vector<model_flow> model;
    const std::uint64_t macs[] = {0x1, 0x2, 0x3, 0x10, 0x11, 0xff, 0x100, 0xabcdef};
    auto random_match = [&] {
        fp::match m;
        if (rng() % 20 == 0) return m; // catch-all
        const std::uint64_t mac = macs[rng() % 8];
        const std::uint16_t v = static_cast<std::uint16_t>(rng() % 4);
        if constexpr (Exact) {
            m.set(fp::field_id::vlan_tci, v, 0x0fff);
            m.set(fp::field_id::eth_dst, mac);
        } else if constexpr (Kind == flows_kind::side) {
            switch (rng() % 5) {
            case 0: m.set(fp::field_id::vlan_tci, 0x1000 | v, 0x1fff); break; // dl_vlan=v
            case 1: m.set(fp::field_id::vlan_tci, v, 0x0fff); break;          // VID only, any MAC
            default: m.set(fp::field_id::vlan_tci, v, 0x0fff); break;
            }
            if (rng() % 5 != 1) m.set(fp::field_id::eth_dst, mac, rng() % 6 ? 0xffffffffffffULL : 0xffULL);
        } else {
            const std::uint64_t masks[] = {0xffffffffffffULL, 0xffULL, 0xf0ULL, 0x1ULL};
            if (rng() % 2) m.set(fp::field_id::eth_dst, mac, masks[rng() % 4]);
            if (rng() % 2) m.set(fp::field_id::tun_id, v, rng() % 2 ? 0xffffffffffffffffULL : 0x1ULL);
        }
        return m;
    };
    auto lookup_model = [&](const fp::flow_key& k) -> const model_flow* {
        const model_flow* best = nullptr;
        for (const auto& f : model)
            if (f.m.matches(k) && (!best || f.priority > best->priority)) best = &f;
        return best;
    };
    std::size_t lookups = 0;
    for (int step = 0; step < 3000; ++step) {
        const int op = static_cast<int>(rng() % 10);
        const fp::match m = random_match();
        const int prio = static_cast<int>(rng() % 6);
        const std::uint32_t port = static_cast<std::uint32_t>(rng() % 1000);
        const std::uint64_t cookie = rng() % 4;
        if (op < 5) {
            ASSERT_TRUE(t.add(m, prio, to(port), {.cookie = cookie}, 0));
            bool replaced = false;
            for (auto& f : model)
                if (f.m == m && f.priority == prio) f = model_flow{m, prio, port, cookie}, replaced = true;
            if (!replaced) model.push_back({m, prio, port, cookie});
        } else if (op < 7) {
            const bool strict = rng() % 2;
            const fp::cookie_filter cf{cookie, rng() % 2 ? 0x3ULL : 0ULL};
            const auto st = t.remove(m, strict, prio, cf);
            std::size_t n = 0;
            std::erase_if(model, [&](const model_flow& f) {
                const bool sel = cf.matches(f.cookie) && (strict ? (f.m == m && f.priority == prio) : m.covers(f.m));
                n += sel;
                return sel;
            });
            ASSERT_EQ(st.count, n) << "step " << step;
        } else if (op < 8) {
            const bool strict = rng() % 2;
            const auto st = t.modify(m, strict, prio, to(port), {}, 0);
            std::size_t n = 0;
            for (auto& f : model)
                if (strict ? (f.m == m && f.priority == prio) : m.covers(f.m)) f.port = port, ++n;
            if (n == 0) model.push_back({m, prio, port, 0});
            ASSERT_EQ(st.count, std::max<std::size_t>(n, 1)) << "step " << step;
        }
        ASSERT_EQ(t.size(), model.size());
        for (int q = 0; q < 5; ++q) {
            fp::flow_key k{};
            k.eth_dst = rng() % 3 ? macs[rng() % 8] : rng();
            k.vlan_tci = static_cast<std::uint16_t>(0x1000 | (rng() % 4));
            k.tun_id = rng() % 4;
            const model_flow* want = lookup_model(k);
            auto* got = t.lookup(k);
            ++lookups;
            // The burst form agrees with the single lookup.
            const fp::flow_key* kp[1] = {&k};
            typename Table::flow_type* in_burst[1];
            t.lookup_burst(kp, 1, in_burst);
            ASSERT_EQ(in_burst[0], got) << "step " << step;
            ASSERT_EQ(got == nullptr, want == nullptr) << "step " << step;
            if (got) {
                ASSERT_EQ(got->priority, want->priority) << "step " << step;
                // Equal priorities may resolve either way: the result must be one of them.
                bool ok = false;
                for (const auto& f : model)
                    if (f.priority == want->priority && f.m.matches(k) && f.port == port_of(got->actions)) ok = true;
                ASSERT_TRUE(ok) << "step " << step;
            }
        }
    }
    EXPECT_GE(lookups, 10'000u);
    // Both halves were used: a third or more of the flows (those of the side
    // mask) outside the tuple space, and some in it.
    if constexpr (Kind == flows_kind::side) {
        EXPECT_GT((t.size() - t.index().size()) * 3, t.size());
        EXPECT_GT(t.index().size(), 0u);
    }
}

TEST(flow_table, differential_exact) {
    for (std::uint32_t seed : {1u, 2u, 3u}) differential<fp::flow_table<exact_schema, acts>, flows_kind::exact>(seed);
}
TEST(flow_table, differential_tuple_space) {
    for (std::uint32_t seed : {4u, 5u, 6u})
        differential<fp::flow_table<wild_schema, acts, fp::lookup::tuple_space>, flows_kind::wild>(seed);
}
TEST(flow_table, differential_generic) {
    using g = fp::flow_table<fp::generic_schema, acts>;
    for (std::uint32_t seed : {7u, 8u}) differential<g, flows_kind::wild>(seed);
}
// lookup::tuple_space_exact: the flows of one mask in an exact side index,
// the others in the tuple space; lookups, strict and loose mods and deletes
// must behave as one table.
TEST(flow_table, differential_tuple_space_exact) {
    using side_schema = fp::schema<fp::masked<fp::fields::vlan_tci>, fp::masked<fp::fields::eth_dst>>;
    using t = fp::flow_table<side_schema, acts,
                             fp::lookup::tuple_space_exact<fp::fields::vlan_tci::bits<0, 11>, fp::fields::eth_dst>>;
    for (std::uint32_t seed : {9u, 10u, 11u}) differential<t, flows_kind::side>(seed);
}
