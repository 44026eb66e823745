// Learns staged per burst (engine.hpp's learn_deferral, learn.hpp's
// learn_staging) against learns installed at once: the same random bursts
// through two pipelines, one run with the engine's default (learns into big
// exact tables staged, installed before the table is looked at) and one with
// `immediate_learns` hooks, must leave identical frames on identical ports,
// identical burst and flow cache counters, identical flows (match, actions,
// cookie, timeouts, created/modified/used, counters: ovs-ofctl dump-flows and
// the milliseconds), learn stats and table stats, after every burst. The
// bursts mix learns (several learn actions into one table, a learn with
// limit, one with result_dst, one into a small table) with lookups of the
// learned tables, in one walk and across walks, MACs that move, expiry in
// between, with and without the flow cache. Then the cases by name: a staged
// learn changes nothing until it is installed and goes in in order; packet
// k+1 sees what packet k learned; delete_learned and fin timeouts.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/action/learn.hpp>
#include <flowpipe/ofctl/print.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace fp = flowpipe;
namespace f = fp::fields;
namespace la = fp::learn_args;
using namespace fp::actions;

namespace {

constexpr std::int64_t ms = 1;
// Learns into tables with at least this many flows are staged.
constexpr std::size_t big = 8192 + 64;

// Table 20 is learned by three learn actions (one with result_dst, which is
// never staged), table 40 by one with a limit, table 30 (small: installed at
// once) by one more. Every learned flow is eth_dst=<eth_src> -> output:<in_port>.
using learn_mac = learn<la::table<20>, la::hard_timeout<3>, la::priority<1>, la::match_field<f::eth_dst, f::eth_src>,
                        la::output_field<f::in_port>>;
using learn_mac_idle = learn<la::table<20>, la::idle_timeout<2>, la::priority<1>, la::cookie<0x5>,
                             la::match_field<f::eth_dst, f::eth_src>, la::output_field<f::in_port>>;
using learn_mac_result = learn<la::table<20>, la::hard_timeout<3>, la::priority<1>, la::result_dst<f::reg0::bits<0, 0>>,
                               la::match_field<f::eth_dst, f::eth_src>, la::output_field<f::in_port>>;
using learn_limited = learn<la::table<40>, la::hard_timeout<4>, la::priority<1>, la::cookie<0x77>,
                            la::match_field<f::eth_dst, f::eth_src>, la::output_field<f::in_port>>;
using learn_small =
    learn<la::table<30>, la::priority<1>, la::match_field<f::eth_dst, f::eth_src>, la::output_field<f::in_port>>;
using learn_fin = learn<la::table<20>, la::priority<2>, la::cookie<0x99>, la::delete_learned, la::fin_idle_timeout<5>,
                        la::fin_hard_timeout<9>, la::match_field<f::eth_dst, f::eth_src>, la::output_field<f::in_port>>;

using learned = fp::action_list<output>;
static_assert(std::is_same_v<learn_mac::flow_actions, learned>);

// Port 1: look up table 20. Ports 2, 3: learn into 20 and 40, then out to
// port 1. Port 4: learn into 20 with result_dst and into 30, then look 20
// up. Port 5: learn into 20, then look up 20 and 40 in the same walk. Port
// 6: look up 40, 30 and 20. Port 7: learn with delete_learned and fin
// timeouts. Port 9: out to port 1, looking nothing up (a cached walk that
// no staged learn is installed for).
using from_tunnel = fp::action_list<learn_mac, learn_limited, output>;
using learn_result_look = fp::action_list<learn_mac_result, learn_small, resubmit_to<20>>;
using learn_then_look = fp::action_list<learn_mac_idle, resubmit_to<20>, resubmit_to<40>>;
using look = fp::action_list<resubmit_to<20>>;
using look_all = fp::action_list<resubmit_to<40>, resubmit_to<30>, resubmit_to<20>>;
using learn_fin_list = fp::action_list<learn_fin, output>;
using straight = fp::action_list<output>;

using mac_table_allowed = fp::allowed<learned, learn_fin::flow_actions>;
using test_pipeline = fp::pipeline<
    fp::table<0, fp::schema<fp::exact<f::in_port>>,
              fp::allowed<from_tunnel, learn_result_look, learn_then_look, look, look_all, learn_fin_list, straight>>,
    fp::table<20, fp::schema<fp::exact<f::eth_dst>>, mac_table_allowed>,
    fp::table<30, fp::schema<fp::exact<f::eth_dst>>, fp::allowed<learned>>,
    fp::table<40, fp::schema<fp::exact<f::eth_dst>>, fp::allowed<learned>>>;

fp::match m_in_port(std::uint32_t p) { return fp::match{}.set(fp::field_id::in_port, p); }
fp::match m_eth_dst(std::uint64_t mac) { return fp::match{}.set(fp::field_id::eth_dst, mac); }

constexpr std::uint64_t filler_mac(std::size_t i) { return 0x020000000000ULL | i; }
constexpr std::uint64_t vm_mac(std::size_t i) { return 0xfa163e000000ULL | i; }

struct setup {
    std::uint32_t limit = 0; // table 40's learn
    bool evict = false;      // table 40 full at big + 24 flows, evicting
    std::size_t flow_cache = 0;
    bool defer_learns = true; // pipeline_config::defer_learns
};

std::unique_ptr<test_pipeline> make(const setup& s) {
    fp::pipeline_config c;
    c.tables.emplace_back(std::uint8_t{20}, fp::table_config{2 * big});
    c.tables.emplace_back(std::uint8_t{30}, fp::table_config{1024});
    c.tables.emplace_back(std::uint8_t{40},
                          s.evict ? fp::table_config{big + 24, fp::overflow_policy::evict} : fp::table_config{2 * big});
    c.flow_cache = s.flow_cache;
    c.defer_learns = s.defer_learns;
    auto p = std::make_unique<test_pipeline>(c);
    auto& t0 = p->table<0>();
    learn_limited limited;
    limited.limit = s.limit;
    EXPECT_TRUE(t0.add(m_in_port(1), 1, look{}, {}, 0));
    for (std::uint32_t port : {2u, 3u}) EXPECT_TRUE(t0.add(m_in_port(port), 1, from_tunnel{{}, limited, {1}}, {}, 0));
    EXPECT_TRUE(t0.add(m_in_port(4), 1, learn_result_look{}, {}, 0));
    EXPECT_TRUE(t0.add(m_in_port(5), 1, learn_then_look{}, {}, 0));
    EXPECT_TRUE(t0.add(m_in_port(6), 1, look_all{}, {}, 0));
    EXPECT_TRUE(t0.add(m_in_port(7), 1, learn_fin_list{{}, {1}}, {}, 0));
    EXPECT_TRUE(t0.add(m_in_port(9), 1, straight{{1}}, {}, 0));
    // Enough flows in 20 and 40 for their learns to be staged; some with a
    // long hard timeout, so that an evicting table 40 stays full (its learned
    // flows expire first: they go).
    for (std::size_t i = 0; i < big; ++i) {
        EXPECT_TRUE(p->table<20>().add(m_eth_dst(filler_mac(i)), 1, learned{{50}}, {}, 0));
        EXPECT_TRUE(p->table<40>().add(m_eth_dst(filler_mac(i)), 1, learned{{60}},
                                       fp::flow_options{0, 0, static_cast<std::uint16_t>(i % 3 == 0 ? 600 : 0)}, 0));
    }
    EXPECT_TRUE(p->table<20>().add(fp::match{}, 0, learned{{9}}, {}, 0)); // unknown: "flood"
    return p;
}

// ---- what must be identical -------------------------------------------------

struct sent_frame {
    std::uint32_t port;
    std::vector<std::uint8_t> bytes;
    friend bool operator==(const sent_frame&, const sent_frame&) = default;
};

std::vector<sent_frame> sent(const fp::burst_output& out) {
    std::vector<sent_frame> r;
    for (const auto& t : out.outputs())
        r.push_back({t.port, std::vector<std::uint8_t>(t.pkt.data, t.pkt.data + t.pkt.len)});
    return r;
}

std::vector<std::uint64_t> counters_of(test_pipeline& p, const fp::burst_output& out) {
    const fp::burst_counters& c = out.counters();
    std::vector<std::uint64_t> v{c.received, c.transmitted,     c.dropped,           c.malformed,
                                 c.too_deep, c.output_overflow, out.dropped().size()};
    if (const fp::flow_cache* fc = p.flow_cache_ptr()) {
        const auto& k = fc->counters();
        v.insert(v.end(),
                 {k.hits, k.misses, k.uncacheable, k.invalidations, k.inserts, fc->epoch(), p.flow_cache_generation()});
    }
    return v;
}

// Every flow, with its times in milliseconds, its cookie and its actions, and
// every table's stats, as lines.
std::vector<std::string> flows_of(test_pipeline& p) {
    std::vector<std::string> lines;
    p.for_each_table([&](auto& t) {
        t.for_each([&](const auto& fl) {
            std::string s;
            fp::ofctl::append_flow_stats(s, fl, t.id(), 0);
            s += " created=" + std::to_string(fl.created_ms) + " modified=" + std::to_string(fl.modified_ms) +
                 " used=" + std::to_string(fl.used_ms);
            lines.push_back(std::move(s));
        });
        const fp::table_stats& st = t.stats();
        lines.push_back("table " + std::to_string(t.id()) + " lookups=" + std::to_string(st.lookups) +
                        " matched=" + std::to_string(st.matched) + " expired=" + std::to_string(st.expired) +
                        " evicted=" + std::to_string(st.evicted) + " size=" + std::to_string(t.size()) +
                        " changes=" + std::to_string(t.changes()));
    });
    std::sort(lines.begin(), lines.end());
    return lines;
}

// Each learn action's stats, in table 0's flows.
std::vector<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t>>
learn_stats_of(test_pipeline& p) {
    std::vector<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t>> r;
    p.table<0>().for_each([&](const auto& fl) {
        std::visit(
            [&](const auto& list) {
                list.for_each([&](const auto& a) {
                    if constexpr (requires { a.stats(); }) {
                        const fp::learn_stats& s = a.stats();
                        r.emplace_back(s.added, s.refreshed, s.modified, s.refused_limit, s.failed);
                    }
                });
            },
            fl.actions);
    });
    return r;
}

void expect_same_flows(test_pipeline& a, test_pipeline& b, const std::string& where) {
    const auto x = flows_of(a), y = flows_of(b);
    for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i)
        if (x[i] != y[i]) {
            ADD_FAILURE() << where << ": first different line\n  immediate: " << x[i] << "\n  staged:    " << y[i];
            return;
        }
    EXPECT_EQ(x.size(), y.size()) << where;
}

// A packet: mostly learners and lookups, each port weighted. In a `stable`
// burst every MAC is learned from its own port by one learn (re-learns are
// refreshes, which leave the flow cache valid); otherwise MACs move between
// ports and learns.
fp::flow_key random_key(std::mt19937_64& rng, std::size_t macs, bool stable) {
    static constexpr std::uint32_t ports[] = {1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6, 7, 9, 9};
    static constexpr std::uint32_t stable_ports[] = {1, 1, 1, 2, 3, 6, 9, 9};
    std::uint32_t in_port = stable ? stable_ports[rng() % std::size(stable_ports)] : ports[rng() % std::size(ports)];
    std::uint64_t src = vm_mac(rng() % macs);
    if (stable && (in_port == 2 || in_port == 3)) {
        // Six MACs, learned from their own port; now and then a new one.
        src = rng() % 16 ? vm_mac(rng() % 6) : vm_mac(1000 + rng() % 4096);
        in_port = 2 + static_cast<std::uint32_t>(src % 2);
    }
    // Lookups come from few sources, so that their keys repeat (flow cache hits).
    if (in_port == 1 || in_port == 6 || in_port == 9) src = vm_mac(100 + rng() % 2);
    std::uint64_t dst;
    switch (rng() % 6) {
    case 0: dst = filler_mac(rng() % 2 ? rng() % 8 : rng() % big); break; // a prefilled flow
    case 1: dst = 0xfa163e990000ULL | (rng() % 4); break;                 // never learned
    default: dst = vm_mac(rng() % macs);                                  // learned, or soon
    }
    if (in_port == 9) dst = vm_mac(rng() % 2);
    return fp::test::eth(in_port, src, dst);
}

void run_both(const setup& s, std::uint64_t seed, int bursts) {
    auto immediate = make(s), staged = make(s);
    std::mt19937_64 rng(seed);
    fp::burst_output out_a, out_b;
    std::int64_t now = 1000 * ms;
    for (int b = 0; b < bursts; ++b) {
        // Mostly bursts of up to 64; sometimes more than one engine chunk.
        const std::size_t n = rng() % 16 == 0 ? fp::max_burst + 1 + rng() % 64 : 1 + rng() % 64;
        const std::size_t macs = 2 + rng() % 40;
        const bool stable = rng() % 2 == 0;
        fp::test::frames fa, fb;
        for (std::size_t i = 0; i < n; ++i) {
            const fp::flow_key k = random_key(rng, macs, stable);
            fa.add(k);
            fb.add(k);
        }
        immediate->run(fa.pkts, now, out_a, fp::immediate_learns{});
        staged->run(fb.pkts, now, out_b);
        const std::string where = "seed " + std::to_string(seed) + " burst " + std::to_string(b);
        ASSERT_EQ(sent(out_a), sent(out_b)) << where;
        ASSERT_EQ(counters_of(*immediate, out_a), counters_of(*staged, out_b)) << where;
        ASSERT_EQ(learn_stats_of(*immediate), learn_stats_of(*staged)) << where;
        if (b % 8 == 0 || b + 1 == bursts) {
            expect_same_flows(*immediate, *staged, where);
            if (::testing::Test::HasFailure()) return;
        }
        now += static_cast<std::int64_t>(rng() % 900) * ms;
        if (rng() % 3 == 0) {
            ASSERT_EQ(fp::expire_flows(*immediate, now), fp::expire_flows(*staged, now)) << where;
        }
    }
    EXPECT_EQ(fp::ofctl::dump_flows(*immediate, now), fp::ofctl::dump_flows(*staged, now));
    if (const fp::flow_cache* c = staged->flow_cache_ptr()) { // the replays were exercised
        std::printf("seed %llu: %llu cache hits, %llu invalidations\n", static_cast<unsigned long long>(seed),
                    static_cast<unsigned long long>(c->counters().hits),
                    static_cast<unsigned long long>(c->counters().invalidations));
        EXPECT_GT(c->counters().hits, 0u);
    }
}

} // namespace

TEST(deferred_learn, random_bursts_leave_what_immediate_learns_leave) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        run_both(setup{}, seed, 60);
        ASSERT_FALSE(HasFailure());
    }
}

TEST(deferred_learn, random_bursts_with_the_flow_cache) {
    for (std::uint64_t seed = 11; seed <= 13; ++seed) {
        run_both(setup{.flow_cache = 256}, seed, 60);
        ASSERT_FALSE(HasFailure());
    }
}

TEST(deferred_learn, random_bursts_with_a_limit_and_an_evicting_table) {
    for (std::uint64_t seed = 21; seed <= 21; ++seed) {
        run_both(setup{.limit = 20}, seed, 50);
        run_both(setup{.limit = 20, .flow_cache = 256}, seed + 100, 50);
        run_both(setup{.evict = true}, seed + 200, 50);
        run_both(setup{.limit = 20, .evict = true, .flow_cache = 256}, seed + 300, 50);
        ASSERT_FALSE(HasFailure());
    }
}

// ---- by name ------------------------------------------------------------------

namespace {
// An action context with a pipeline and a staging area: what the engine
// gives a learn, without the engine.
struct staging_context {
    test_pipeline& p;
    fp::detail::learn_staging& stage;
    fp::flow_key k;
    std::int64_t t = 0;
    std::size_t i = 0;
    test_pipeline& tables() { return p; }
    [[nodiscard]] const fp::flow_key& key() const { return k; }
    fp::flow_key& edit() { return k; }
    [[nodiscard]] std::int64_t now() const { return t; }
    [[nodiscard]] std::size_t index() const { return i; }
    fp::detail::learn_staging* learn_stage() { return &stage; }
    void flush_learns() { stage.install_all(); }
};

const learned* learned_actions(test_pipeline& p, std::uint64_t mac) {
    const auto* fl = p.table<20>().find_strict(m_eth_dst(mac), 1);
    return fl == nullptr ? nullptr : std::get_if<learned>(&fl->actions);
}
} // namespace

TEST(deferred_learn, a_staged_learn_changes_nothing_until_installed_and_goes_in_in_order) {
    auto p = make(setup{});
    auto stage = std::make_unique<fp::detail::learn_staging>();
    const learn_mac l;
    const std::size_t before = p->table<20>().size();
    staging_context ctx{*p, *stage, fp::test::eth(2, vm_mac(1), 0), 5 * ms};
    l(ctx); // M1 on port 2
    ctx.k = fp::test::eth(3, vm_mac(1), 0);
    ctx.i = 1;
    l(ctx); // M1 moves to port 3
    ctx.k = fp::test::eth(2, vm_mac(2), 0);
    ctx.i = 2;
    l(ctx); // M2 on port 2
    EXPECT_TRUE(stage->pending(20));
    EXPECT_FALSE(stage->pending(40));
    EXPECT_EQ(p->table<20>().size(), before);
    EXPECT_EQ(learned_actions(*p, vm_mac(1)), nullptr);
    EXPECT_EQ(l.stats().added, 0u);

    stage->install_all();
    EXPECT_FALSE(stage->any());
    EXPECT_FALSE(stage->pending(20));
    EXPECT_EQ(p->table<20>().size(), before + 2);
    ASSERT_NE(learned_actions(*p, vm_mac(1)), nullptr);
    EXPECT_EQ(std::get<0>(learned_actions(*p, vm_mac(1))->actions).port, 3u); // the move, installed after the add
    EXPECT_EQ(l.stats().added, 2u);
    EXPECT_EQ(l.stats().modified, 1u);

    // A small target table is not staged: installed at once.
    const learn_small small_learn;
    ctx.k = fp::test::eth(2, vm_mac(3), 0);
    small_learn(ctx);
    EXPECT_FALSE(stage->any());
    EXPECT_EQ(p->table<30>().size(), 1u);
}

TEST(deferred_learn, packet_k_plus_1_sees_what_packet_k_learned) {
    for (const std::size_t cache : {std::size_t{0}, std::size_t{256}}) {
        auto p = make(setup{.flow_cache = cache});
        // A burst that looks M up first (unknown: port 9, and cached so), then
        // learns it from port 2, then looks it up again: port 2. Then learns
        // it from port 3 and looks again: the move is seen.
        fp::test::frames fr;
        fr.add(fp::test::eth(1, vm_mac(8), vm_mac(7)));
        fr.add(fp::test::eth(2, vm_mac(7), vm_mac(8)));
        fr.add(fp::test::eth(1, vm_mac(8), vm_mac(7)));
        fr.add(fp::test::eth(3, vm_mac(7), vm_mac(8)));
        fr.add(fp::test::eth(3, vm_mac(6), vm_mac(8)));
        fr.add(fp::test::eth(1, vm_mac(8), vm_mac(7)));
        fp::burst_output out;
        p->run(fr.pkts, 1000 * ms, out);
        // (The learners output to port 1 too.)
        EXPECT_EQ(out.on_port(9).size(), 1u) << "cache " << cache;
        EXPECT_EQ(out.on_port(2).size(), 1u) << "cache " << cache;
        EXPECT_EQ(out.on_port(3).size(), 1u) << "cache " << cache;
        EXPECT_EQ(out.on_port(1).size(), 3u) << "cache " << cache;
        const auto* fl = p->table<20>().find_strict(m_eth_dst(vm_mac(7)), 1);
        ASSERT_NE(fl, nullptr);
        EXPECT_EQ(fl->n_packets, 2u); // counters kept across the move
        EXPECT_EQ(std::get<0>(std::get<learned>(fl->actions).actions).port, 3u);
    }
}

// pipeline_config::defer_learns decides: learns into big tables wait for
// their burst install (learn_stats::staged counts them) or install at once,
// and the tables end up the same either way.
TEST(deferred_learn, the_pipeline_config_turns_staging_on_and_off) {
    std::vector<std::string> flows[2];
    for (const bool defer : {true, false}) {
        auto p = make(setup{.defer_learns = defer});
        fp::test::frames fr;
        for (std::size_t i = 0; i < 10; ++i) fr.add(fp::test::eth(2, vm_mac(40 + i), 0));
        fp::burst_output out;
        p->run(fr.pkts, 1000 * ms, out);
        std::uint64_t added = 0, staged = 0;
        p->table<0>().for_each([&](const auto& fl) {
            if (const auto* l = std::get_if<from_tunnel>(&fl.actions)) {
                added += std::get<0>(l->actions).stats().added;
                staged += std::get<0>(l->actions).stats().staged;
            }
        });
        EXPECT_EQ(added, 10u) << "defer " << defer;
        EXPECT_EQ(staged, defer ? 10u : 0u);
        flows[defer] = flows_of(*p);
    }
    EXPECT_EQ(flows[0], flows[1]);
}

TEST(deferred_learn, delete_learned_and_fin_timeouts_of_staged_learns) {
    auto p = make(setup{});
    fp::test::frames fr;
    for (std::size_t i = 0; i < 5; ++i) fr.add(fp::test::eth(7, vm_mac(20 + i), 0));
    fp::burst_output out;
    p->run(fr.pkts, 1000 * ms, out);
    std::size_t learned_by_fin = 0;
    p->table<20>().for_each([&](const auto& fl) {
        if (const auto* a = std::get_if<learn_fin::flow_actions>(&fl.actions)) {
            ++learned_by_fin;
            EXPECT_EQ(fl.cookie, 0x99u);
            EXPECT_EQ(std::get<0>(a->actions).fin_idle_timeout, 5u);
            EXPECT_EQ(std::get<0>(a->actions).fin_hard_timeout, 9u);
        }
    });
    EXPECT_EQ(learned_by_fin, 5u);
    // Deleting the flow that learned them deletes what it learned.
    const std::size_t before = p->table<20>().size();
    EXPECT_EQ(fp::remove_flows(*p, 0, m_in_port(7), true, 1).count, 1u);
    EXPECT_EQ(p->table<20>().size(), before - 5);
}

TEST(deferred_learn, the_flow_cache_reads_the_generation_staged_learns_make) {
    // Port 9's walk looks nothing up: no staged learn is installed for it,
    // yet the cache must see the learns of the packets before it.
    auto run = [](test_pipeline& p, std::initializer_list<fp::flow_key> keys, std::int64_t now, auto hooks) {
        fp::test::frames fr;
        for (const auto& k : keys) fr.add(k);
        fp::burst_output out;
        p.run(fr.pkts, now, out, hooks);
        const fp::flow_cache_counters& c = p.flow_cache_ptr()->counters();
        return std::array<std::uint64_t, 4>{c.hits, c.misses, c.inserts, c.invalidations};
    };
    const fp::flow_key k9 = fp::test::eth(9, vm_mac(100), vm_mac(1));
    for (const bool staged : {true, false}) {
        auto p = make(setup{.flow_cache = 256});
        auto go = [&](std::initializer_list<fp::flow_key> keys, std::int64_t now) {
            return staged ? run(*p, keys, now, fp::no_hooks{}) : run(*p, keys, now, fp::immediate_learns{});
        };
        // Stored in burst 1; in burst 2 a learn of a new MAC comes first, so
        // the stored walk is stale: walked and stored again, then hit.
        EXPECT_EQ(go({k9}, 1000), (std::array<std::uint64_t, 4>{0, 1, 1, 0}));
        EXPECT_EQ(go({fp::test::eth(2, vm_mac(5), 0), k9, k9}, 1001), (std::array<std::uint64_t, 4>{1, 3, 2, 1}))
            << (staged ? "staged" : "immediate");
        // A re-learn (a refresh) leaves the stored walk valid.
        EXPECT_EQ(go({fp::test::eth(2, vm_mac(5), 0), k9}, 1002), (std::array<std::uint64_t, 4>{2, 4, 2, 1}))
            << (staged ? "staged" : "immediate");
        // A move replaces actions in place: stale again.
        EXPECT_EQ(go({fp::test::eth(3, vm_mac(5), 0), k9, k9}, 1003), (std::array<std::uint64_t, 4>{3, 6, 3, 2}))
            << (staged ? "staged" : "immediate");
        // A walk never stored before, after a learn: stored in the
        // generation the learn made, so its second packet hits.
        const fp::flow_key k9b = fp::test::eth(9, vm_mac(101), vm_mac(1));
        EXPECT_EQ(go({fp::test::eth(2, vm_mac(6), 0), k9b, k9b}, 1004), (std::array<std::uint64_t, 4>{4, 8, 4, 3}))
            << (staged ? "staged" : "immediate");
    }
}
