// The flow cache against the walk it caches: the same random tables and the
// same random packets through a pipeline with the cache and one without, with
// random flow mods and expiries in between, must leave identical frames on
// identical ports in identical order, identical flow counters (n_packets,
// n_bytes, used) and identical table stats after every burst. Typed (the
// br-tun core, whose table 10 learns) and generic (random tables with
// resubmits back and forth, set_field, VLAN push/strip, several outputs,
// drops, misses, controller). Then the cases that must not be cached: learn
// (packet k+1 of a burst sees what packet k learned, a MAC move included),
// and an idle timeout kept alive only by cache hits.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/core/compose.hpp>
#include <flowpipe/neutron/br_tun.hpp>
#include <flowpipe/pipeline/flow_cache.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <random>
#include <tuple>
#include <vector>

namespace fp = flowpipe;
namespace nt = flowpipe::neutron;
using namespace fp::actions;

namespace {

constexpr std::uint32_t patch_int = 1;
constexpr std::int64_t second = 1000;

// ---- what must be identical -------------------------------------------------

struct sent_frame {
    std::uint32_t port;
    std::uint64_t tun_id;
    std::uint32_t tun_src, tun_dst;
    std::vector<std::uint8_t> bytes;
    friend bool operator==(const sent_frame&, const sent_frame&) = default;
};

std::vector<sent_frame> sent(const fp::burst_output& out) {
    std::vector<sent_frame> r;
    for (const auto& t : out.outputs())
        r.push_back({t.port, t.pkt.tun_id, t.pkt.tun_src, t.pkt.tun_dst,
                     std::vector<std::uint8_t>(t.pkt.data, t.pkt.data + t.pkt.len)});
    return r;
}

std::vector<std::uint64_t> counters_of(const fp::burst_output& out) {
    const fp::burst_counters& c = out.counters();
    return {c.received,    c.transmitted,  c.dropped,         c.malformed,     c.not_ethernet,      c.too_deep,
            c.no_headroom, c.clone_failed, c.output_overflow, c.to_controller, out.dropped().size()};
}

// Every flow's (table, id, priority, n_packets, n_bytes, used, modified) and
// every table's stats.
using flow_row = std::tuple<int, std::uint32_t, std::int32_t, std::uint64_t, std::uint64_t, std::int64_t, std::int64_t>;
using stats_row = std::tuple<int, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::size_t>;

template <class P>
std::pair<std::vector<flow_row>, std::vector<stats_row>> dump(P& p) {
    std::vector<flow_row> flows;
    std::vector<stats_row> stats;
    p.for_each_table([&](auto& t) {
        t.for_each([&](const auto& f) {
            flows.emplace_back(t.id(), f.id, f.priority, f.n_packets, f.n_bytes, f.used_ms, f.modified_ms);
        });
        const fp::table_stats& s = t.stats();
        stats.emplace_back(t.id(), s.lookups, s.matched, s.expired, s.evicted, t.size());
    });
    std::sort(flows.begin(), flows.end());
    return {flows, stats};
}

struct controller_log {
    std::vector<std::pair<std::uint32_t, std::uint16_t>> calls;
    void controller(const fp::packet& p, const fp::flow_key&, std::uint16_t max_len) noexcept {
        calls.emplace_back(p.in_port, max_len);
    }
};

// Runs the same keys through both pipelines and expects the same everything.
template <class P>
void run_both(P& plain, P& cached, const std::vector<fp::flow_key>& keys, std::int64_t now, fp::burst_output& out_a,
              fp::burst_output& out_b, controller_log& ctl_a, controller_log& ctl_b, const char* where) {
    fp::test::frames fa, fb;
    for (const auto& k : keys) {
        fa.add(k);
        fb.add(k);
    }
    plain.run(fa.pkts, now, out_a, ctl_a);
    cached.run(fb.pkts, now, out_b, ctl_b);
    ASSERT_EQ(sent(out_a), sent(out_b)) << where;
    ASSERT_EQ(counters_of(out_a), counters_of(out_b)) << where;
    ASSERT_EQ(ctl_a.calls, ctl_b.calls) << where;
    const auto a = dump(plain), b = dump(cached);
    if (a.first != b.first) {
        for (std::size_t i = 0; i < std::min(a.first.size(), b.first.size()); ++i)
            if (a.first[i] != b.first[i]) {
                const auto& x = a.first[i];
                const auto& y = b.first[i];
                ADD_FAILURE() << "first differing flow: table " << std::get<0>(x) << " id " << std::get<1>(x)
                              << " n_packets " << std::get<3>(x) << " vs " << std::get<3>(y) << ", id "
                              << std::get<1>(y);
                break;
            }
    }
    ASSERT_EQ(a.first, b.first) << where << ": flow counters";
    ASSERT_EQ(a.second, b.second) << where << ": table stats";
}

// ---- typed: the br-tun core ---------------------------------------------------

struct remote_vm {
    std::uint64_t mac;
    std::uint32_t ip;
    std::uint32_t tunnel;
};
struct network {
    std::uint64_t segment;
    std::uint16_t lvid;
    std::vector<remote_vm> vms;
    std::vector<std::uint32_t> flood;
};

fp::match m_in_port(std::uint32_t p) { return fp::match{}.set(fp::field_id::in_port, p); }
fp::match m_vlan(std::uint16_t lvid) { return fp::match{}.set(fp::field_id::vlan_tci, lvid, 0x0fff); }

void install_br_tun(nt::br_tun_core& t, const std::vector<std::uint32_t>& tunnels, const std::vector<network>& nets) {
    using namespace fp;
    t.table<0>().add(m_in_port(patch_int), 1, action_list<resubmit_to<2>>{}, {}, 0);
    for (std::uint32_t tun : tunnels) t.table<0>().add(m_in_port(tun), 1, action_list<resubmit_to<4>>{}, {}, 0);
    t.table<0>().add(match{}, 0, action_list<drop>{}, {}, 0);
    t.table<2>().add(match{}.set(field_id::eth_type, 0x0806).set(field_id::eth_dst, 0xffffffffffffULL), 1,
                     action_list<resubmit_to<21>>{}, {}, 0);
    t.table<2>().add(match{}.set(field_id::eth_dst, 0, 0x010000000000ULL), 0, action_list<resubmit_to<20>>{}, {}, 0);
    t.table<2>().add(match{}.set(field_id::eth_dst, 0x010000000000ULL, 0x010000000000ULL), 0,
                     action_list<resubmit_to<22>>{}, {}, 0);
    t.table<4>().add(match{}, 0, action_list<drop>{}, {}, 0);
    // Table 10 learns the sender into table 20, then outputs to patch-int.
    t.table<10>().add(match{}, 1, nt::learn_from_tun_actions{{}, {patch_int}}, {}, 0);
    t.table<20>().add(match{}, 0, action_list<resubmit_to<22>>{}, {}, 0);
    t.table<21>().add(match{}, 0, action_list<resubmit_to<22>>{}, {}, 0);
    t.table<22>().add(match{}, 0, action_list<drop>{}, {}, 0);
    for (const network& n : nets) {
        t.table<4>().add(match{}.set(field_id::tun_id, n.segment), 1, nt::tun_to_lv_actions{{n.lvid}, {}}, {}, 0);
        for (const remote_vm& v : n.vms) {
            t.table<21>().add(m_vlan(n.lvid).set(field_id::eth_type, 0x0806).set(field_id::arp_tpa, v.ip), 1,
                              nt::arp_reply(v.mac, v.ip), {}, 0);
        }
        if (!n.flood.empty()) {
            output_ports<nt::max_flood_ports> ports;
            for (std::uint32_t p : n.flood) ports.add(p);
            t.table<22>().add(m_vlan(n.lvid), 1, nt::flood_actions{{}, {n.segment}, ports}, {}, 0);
        }
    }
}

fp::flow_key br_tun_packet(const std::vector<std::uint32_t>& tunnels, const std::vector<network>& nets,
                           std::mt19937_64& rng) {
    fp::flow_key k{};
    const network& n = nets[rng() % nets.size()];
    const bool from_tunnel = rng() % 4 == 0;
    const auto some_vm = [&]() -> const remote_vm* { return n.vms.empty() ? nullptr : &n.vms[rng() % n.vms.size()]; };
    if (from_tunnel) {
        // A remote VM talking to us: table 10 learns (or re-learns, or moves) it.
        const remote_vm* v = some_vm();
        k.eth_src = v ? v->mac : 0xfa163e777777ULL;
        k.in_port = rng() % 8 ? (v ? v->tunnel : tunnels[0]) : tunnels[rng() % tunnels.size()];
        k.tun_id = rng() % 6 ? n.segment : 999;
        k.eth_dst = 0xfa163e100000ULL | (rng() % 4);
    } else {
        k.eth_src = 0xfa163e100000ULL | (rng() % 4);
        k.in_port = rng() % 12 ? patch_int : 77;
        k.vlan_tci = static_cast<std::uint16_t>(0x1000 | (rng() % 8 ? n.lvid : 9));
        const remote_vm* v = some_vm();
        if (rng() % 5 == 0) {
            k.eth_dst = 0xffffffffffffULL;
            k.eth_type = 0x0806;
            k.arp_op = 1;
            k.arp_sha = k.eth_src;
            k.arp_spa = 0x0a0000fe;
            k.arp_tpa = v && rng() % 3 ? v->ip : 0x0a0000aa;
            return k;
        }
        const int kind = static_cast<int>(rng() % 5);
        k.eth_dst = kind == 0 ? 0xffffffffffffULL : (v && kind != 1 ? v->mac : 0xfa163e999999ULL);
    }
    k.eth_type = 0x0800;
    k.nw_src = 0x0a000001;
    k.nw_dst = 0x0a000002;
    k.nw_proto = 17;
    k.nw_ttl = 64;
    k.tp_src = 1234;
    k.tp_dst = 4789;
    return k;
}

// ---- generic: random tables ---------------------------------------------------

fp::generic_actions random_actions(std::mt19937_64& rng, std::uint8_t table) {
    using namespace fp;
    generic_actions a;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
        switch (rng() % 14) {
        case 0:
        case 1: a.list.push_back(output{1 + static_cast<std::uint32_t>(rng() % 6)}); break;
        case 2: a.list.push_back(resubmit{ports::in_port, static_cast<std::uint8_t>(rng() % 4)}); break;
        case 3:
            a.list.push_back(resubmit{static_cast<std::uint32_t>(1 + rng() % 4), static_cast<std::uint8_t>(rng() % 4)});
            break;
        case 4: a.list.push_back(set_field(field_id::reg0, rng() % 3)); break;
        case 5: a.list.push_back(set_field(field_id::eth_src, 0xfa163e000000ULL | (rng() % 4))); break;
        case 6: a.list.push_back(push_vlan{}); break;
        case 7: a.list.push_back(strip_vlan{}); break;
        case 8: a.list.push_back(mod_vlan_vid{static_cast<std::uint16_t>(1 + rng() % 4)}); break;
        case 9: a.list.push_back(set_tunnel{100 + rng() % 3}); break;
        case 10: a.list.push_back(in_port{}); break;
        case 11: a.list.push_back(dec_ttl{}); break;
        case 12: a.list.push_back(rng() % 4 == 0 ? any_action{controller{64}} : any_action{drop{}}); break;
        default:
            // A goto must be last and go forward.
            if (table < 3) {
                a.list.push_back(goto_table{static_cast<std::uint8_t>(table + 1 + rng() % (3 - table))});
                return a;
            }
            a.list.push_back(output{7});
        }
    }
    return a;
}

fp::match random_match(std::mt19937_64& rng) {
    using namespace fp;
    match m;
    if (rng() % 2) m.set(field_id::in_port, 1 + rng() % 4);
    if (rng() % 3 == 0) m.set(field_id::reg0, rng() % 3);
    if (rng() % 3 == 0) m.set(field_id::eth_dst, 0xfa163e000000ULL | (rng() % 4), rng() % 2 ? ~0ULL >> 16 : 0x3);
    if (rng() % 4 == 0)
        m.set(field_id::vlan_tci, rng() % 2 ? 0 : 0x1000 | (1 + rng() % 4), rng() % 2 ? 0x1fff : 0x1000);
    return m;
}

std::vector<fp::flow_key> generic_key_pool(std::mt19937_64& rng) {
    std::vector<fp::flow_key> pool;
    for (int i = 0; i < 24; ++i) {
        fp::flow_key k{};
        k.in_port = 1 + static_cast<std::uint32_t>(rng() % 4);
        k.eth_src = 0xfa163e100000ULL | (rng() % 4);
        k.eth_dst = rng() % 6 ? 0xfa163e000000ULL | (rng() % 4) : 0xffffffffffffULL;
        k.vlan_tci = rng() % 2 ? static_cast<std::uint16_t>(0x1000 | (1 + rng() % 4)) : 0;
        k.eth_type = 0x0800;
        k.nw_src = 0x0a000001;
        k.nw_dst = 0x0a000002 + static_cast<std::uint32_t>(rng() % 2);
        k.nw_proto = 17;
        k.nw_ttl = static_cast<std::uint8_t>(rng() % 4 ? 64 : 1);
        k.tp_src = 1234;
        k.tp_dst = 4789;
        if (rng() % 5 == 0) k.tun_id = 100;
        pool.push_back(k);
    }
    return pool;
}

} // namespace

TEST(flow_cache, typed_br_tun_core_matches_the_uncached_walk) {
    std::uint64_t hits = 0, uncacheable = 0, invalidations = 0;
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
        std::mt19937_64 rng(seed);
        std::vector<std::uint32_t> tunnels;
        for (std::uint32_t i = 0, n = 1 + static_cast<std::uint32_t>(rng() % 4); i < n; ++i) tunnels.push_back(2 + i);
        std::vector<network> nets;
        for (int n = 0, nn = 1 + static_cast<int>(rng() % 3); n < nn; ++n) {
            network net{100 + static_cast<std::uint64_t>(n), static_cast<std::uint16_t>(1 + n), {}, {}};
            for (std::uint32_t t : tunnels)
                if (rng() % 3) net.flood.push_back(t);
            for (int v = 0, nv = static_cast<int>(rng() % 6); v < nv; ++v)
                net.vms.push_back(
                    {0xfa163e000000ULL | (static_cast<std::uint64_t>(n) << 16) | static_cast<std::uint64_t>(v),
                     0x0a000000u | static_cast<std::uint32_t>(n << 8 | v), tunnels[rng() % tunnels.size()]});
            nets.push_back(net);
        }
        // A small cache (64 entries): entries get evicted and replaced too.
        nt::br_tun_core plain, cached(fp::pipeline_config{.flow_cache = 64});
        install_br_tun(plain, tunnels, nets);
        install_br_tun(cached, tunnels, nets);
        fp::burst_output out_a, out_b;
        controller_log ctl_a, ctl_b;
        std::int64_t now = 0;
        for (int burst = 0; burst < 60; ++burst) {
            // Flow mods and expiry, the same on both sides.
            const network& n = nets[rng() % nets.size()];
            if (!n.vms.empty() && rng() % 3 == 0) {
                const remote_vm& v = n.vms[rng() % n.vms.size()];
                const fp::match m = m_vlan(n.lvid).set(fp::field_id::eth_dst, v.mac);
                const std::uint32_t tun = tunnels[rng() % tunnels.size()];
                const std::uint16_t idle = static_cast<std::uint16_t>(rng() % 3);
                switch (rng() % 3) {
                case 0: // l2pop add (replaces), sometimes with an idle timeout
                    for (auto* p : {&plain, &cached})
                        ASSERT_TRUE(p->table<20>().add(m, 2, nt::to_tunnel_actions{{}, {n.segment}, {tun}},
                                                       fp::flow_options{0, idle, 0}, now));
                    break;
                case 1: // mod-flows through the pipeline: actions replaced in place
                    for (auto* p : {&plain, &cached})
                        ASSERT_TRUE(
                            p->modify(20, m, true, 2, {strip_vlan{}, set_tunnel{n.segment}, output{tun}}, {}, now));
                    break;
                default:
                    for (auto* p : {&plain, &cached}) p->remove(20, m, true, 2);
                }
            }
            now += static_cast<std::int64_t>(rng() % 700);
            ASSERT_EQ(plain.expire(now), cached.expire(now));
            std::vector<fp::flow_key> keys;
            for (int i = 0, np = 1 + static_cast<int>(rng() % 40); i < np; ++i)
                keys.push_back(br_tun_packet(tunnels, nets, rng));
            run_both(plain, cached, keys, now, out_a, out_b, ctl_a, ctl_b, "br-tun");
            if (testing::Test::HasFatalFailure()) {
                ADD_FAILURE() << "seed " << seed << " burst " << burst;
                return;
            }
        }
        EXPECT_EQ(plain.flow_cache_ptr(), nullptr);
        hits += cached.flow_cache_ptr()->counters().hits;
        uncacheable += cached.flow_cache_ptr()->counters().uncacheable;
        invalidations += cached.flow_cache_ptr()->counters().invalidations;
    }
    // The comparison means something only if the cache answered, refused
    // (learning walks) and was invalidated.
    EXPECT_GT(hits, 1000u);
    EXPECT_GT(uncacheable, 100u);
    EXPECT_GT(invalidations, 50u);
}

TEST(flow_cache, generic_random_tables_match_the_uncached_walk) {
    std::uint64_t hits = 0, uncacheable = 0, inserts = 0;
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
        std::mt19937_64 rng(seed * 7919);
        fp::generic_pipeline plain({.max_flows = 64}), cached({.max_flows = 64}, 32);
        std::int64_t now = 0;
        auto random_add = [&] {
            const auto table = static_cast<std::uint8_t>(rng() % 4);
            const fp::match m = random_match(rng);
            const auto prio = static_cast<std::int32_t>(rng() % 4);
            const fp::generic_actions a = random_actions(rng, table);
            const fp::flow_options o{rng() % 2, static_cast<std::uint16_t>(rng() % 4 == 0 ? 1 + rng() % 2 : 0),
                                     static_cast<std::uint16_t>(rng() % 6 == 0 ? 2 : 0)};
            const auto sa = plain.add(table, m, prio, a, o, now);
            const auto sb = cached.add(table, m, prio, a, o, now);
            ASSERT_EQ(sa.code, sb.code);
        };
        for (int i = 0; i < 24; ++i) random_add();
        const std::vector<fp::flow_key> pool = generic_key_pool(rng);
        fp::burst_output out_a, out_b;
        controller_log ctl_a, ctl_b;
        for (int burst = 0; burst < 50; ++burst) {
            switch (rng() % 6) {
            case 0: random_add(); break;
            case 1: { // mod-flows, strict or loose
                const auto table = static_cast<std::uint8_t>(rng() % 4);
                const fp::match m = random_match(rng);
                const bool strict = rng() % 2;
                const auto prio = static_cast<std::int32_t>(rng() % 4);
                const fp::generic_actions a = random_actions(rng, table);
                ASSERT_EQ(plain.modify(table, m, strict, prio, a, {}, now).count,
                          cached.modify(table, m, strict, prio, a, {}, now).count);
                break;
            }
            case 2: {
                const auto table = static_cast<std::uint8_t>(rng() % 4);
                const fp::match m = random_match(rng);
                ASSERT_EQ(plain.remove(table, m, false).count, cached.remove(table, m, false).count);
                break;
            }
            default: break;
            }
            now += static_cast<std::int64_t>(rng() % 900);
            ASSERT_EQ(plain.expire(now), cached.expire(now));
            std::vector<fp::flow_key> keys;
            for (int i = 0, np = 1 + static_cast<int>(rng() % 40); i < np; ++i)
                keys.push_back(pool[rng() % pool.size()]);
            run_both(plain, cached, keys, now, out_a, out_b, ctl_a, ctl_b, "generic");
            if (testing::Test::HasFatalFailure()) {
                ADD_FAILURE() << "seed " << seed << " burst " << burst;
                return;
            }
        }
        hits += cached.flow_cache_ptr()->counters().hits;
        uncacheable += cached.flow_cache_ptr()->counters().uncacheable;
        inserts += cached.flow_cache_ptr()->counters().inserts;
    }
    EXPECT_GT(hits, 5000u);
    EXPECT_GT(uncacheable, 100u); // controller, too many lookups or outputs, too deep
    EXPECT_GT(inserts, 1000u);
}

TEST(flow_cache, a_big_exact_table_looked_up_ahead_agrees_with_the_cache) {
    // Table 20 over the pre-lookup threshold: the uncached pipeline looks
    // every burst up ahead in it; the cached one skips that when most packets
    // hit, and its few walks take lookup_at's stored results only when the
    // packed key and the table's flows are still the ones looked up.
    using table_20 = std::remove_reference_t<decltype(std::declval<nt::br_tun_core&>().table<20>())>;
    constexpr std::size_t macs = table_20::prelookup_threshold + 100;
    auto mac = [](std::size_t i) { return 0xfa0000000000ULL | (i * 0x9e3779b1ULL & 0xffffffffffULL); };
    const fp::pipeline_config big{.default_table = {}, .tables = {{nt::ucast_to_tun, {.max_flows = macs + 16}}}};
    nt::br_tun_core plain(big), cached([&] {
        fp::pipeline_config c = big;
        c.flow_cache = 256;
        return c;
    }());
    for (auto* p : {&plain, &cached}) {
        install_br_tun(*p, {2}, {network{100, 2, {}, {}}});
        for (std::size_t i = 0; i < macs; ++i)
            ASSERT_TRUE(p->table<20>().add(m_vlan(2).set(fp::field_id::eth_dst, mac(i)), 2,
                                           nt::to_tunnel_actions{{}, {100}, {2 + static_cast<std::uint32_t>(i % 8)}},
                                           {}, 0));
    }
    std::mt19937_64 rng(11);
    fp::burst_output out_a, out_b;
    controller_log ctl_a, ctl_b;
    for (int burst = 0; burst < 200; ++burst) {
        if (rng() % 4 == 0) { // move or remove one of the MACs the traffic uses
            const fp::match m = m_vlan(2).set(fp::field_id::eth_dst, mac(rng() % 48));
            const std::uint32_t tun = 2 + static_cast<std::uint32_t>(rng() % 8);
            const bool add = rng() % 2;
            for (auto* p : {&plain, &cached}) {
                if (add)
                    p->table<20>().add(m, 2, nt::to_tunnel_actions{{}, {100}, {tun}}, {}, burst);
                else
                    p->remove(20, m, true, 2);
            }
        }
        std::vector<fp::flow_key> keys;
        for (int i = 0; i < 32; ++i) {
            fp::flow_key k{};
            k.in_port = patch_int;
            k.vlan_tci = 0x1002;
            k.eth_src = 0xfa163e000001ULL;
            k.eth_dst = mac(rng() % 48);
            k.eth_type = 0x0800;
            k.nw_ttl = 64;
            keys.push_back(k);
        }
        run_both(plain, cached, keys, burst, out_a, out_b, ctl_a, ctl_b, "big table");
        if (testing::Test::HasFatalFailure()) {
            ADD_FAILURE() << "burst " << burst;
            return;
        }
    }
    EXPECT_GT(cached.flow_cache_ptr()->counters().hits, 4000u);
}

namespace {
// table 0: from port 2 or 4, learn "eth_dst=<eth_src> -> output:<in_port>"
// into table 1 and drop; from port 3, resubmit(,1). Table 1: the learned
// flows, and a catch-all that floods to port 9.
fp::generic_pipeline learning_switch(std::size_t cache) {
    using K = learn_spec::kind;
    using fid = fp::field_id;
    learn_description d;
    d.table = 1;
    d.priority = 1;
    d.specs = {
        {K::match_field, fp::bit_range::whole(fid::eth_dst), fp::bit_range::whole(fid::eth_src), 0},
        {K::output, {}, fp::bit_range{fid::in_port, 0, 16}, 0},
    };
    fp::generic_pipeline p({}, cache);
    for (std::uint32_t port : {2u, 4u}) EXPECT_TRUE(p.add(0, m_in_port(port), 1, {generic_learn{d}}, {}, 0));
    EXPECT_TRUE(p.add(0, m_in_port(3), 1, {resubmit{fp::ports::in_port, 1}}, {}, 0));
    EXPECT_TRUE(p.add(1, fp::match{}, 0, {output{9}}, {}, 0));
    return p;
}

fp::flow_key l2(std::uint32_t in_port, std::uint64_t src, std::uint64_t dst) {
    fp::flow_key k{};
    k.in_port = in_port;
    k.eth_src = src;
    k.eth_dst = dst;
    k.eth_type = 0x0800;
    k.nw_proto = 17;
    k.nw_ttl = 64;
    return k;
}
} // namespace

TEST(flow_cache, learn_is_never_cached_and_packet_k_plus_1_sees_what_k_learned) {
    constexpr std::uint64_t m = 0xfa163e0000aaULL, other = 0xfa163e0000bbULL;
    fp::generic_pipeline plain = learning_switch(0), cached = learning_switch(16);
    fp::burst_output out_a, out_b;
    controller_log ctl_a, ctl_b;
    // Burst 1: the packet to M floods (nothing learned yet), and is cached so.
    run_both(plain, cached, {l2(3, other, m), l2(3, other, m)}, 0, out_a, out_b, ctl_a, ctl_b, "burst 1");
    ASSERT_EQ(out_b.outputs().size(), 2u);
    EXPECT_EQ(out_b.outputs()[1].port, 9u);
    EXPECT_EQ(cached.flow_cache_ptr()->counters().hits, 1u);
    // Burst 2: packet 0 learns M on port 2; packet 1 (cached as a flood) must
    // now go to port 2. Learning walks are never stored.
    run_both(plain, cached, {l2(2, m, other), l2(3, other, m)}, 1, out_a, out_b, ctl_a, ctl_b, "burst 2");
    ASSERT_EQ(out_b.outputs().size(), 1u);
    EXPECT_EQ(out_b.outputs()[0].port, 2u);
    // Burst 3: packet 0 hits the walk stored in burst 2; then M moves to port
    // 4: the re-learn replaces the learned flow's actions in place (no flow
    // added or removed), and the next packet follows it.
    run_both(plain, cached, {l2(3, other, m), l2(4, m, other), l2(3, other, m)}, 2, out_a, out_b, ctl_a, ctl_b,
             "burst 3");
    ASSERT_EQ(out_b.outputs().size(), 2u);
    EXPECT_EQ(out_b.outputs()[0].port, 2u);
    EXPECT_EQ(out_b.outputs()[1].port, 4u);
    const fp::flow_cache_counters& c = cached.flow_cache_ptr()->counters();
    EXPECT_EQ(c.uncacheable, 2u); // the two learning packets
    EXPECT_EQ(c.hits, 2u);        // burst 1's second packet, burst 3's first
    EXPECT_EQ(c.hits + c.misses, 7u);
    EXPECT_GE(c.invalidations, 2u);
}

TEST(flow_cache, idle_timeout_of_a_flow_hit_only_through_the_cache_does_not_expire) {
    fp::generic_pipeline plain, cached({}, 16);
    for (auto* p : {&plain, &cached}) {
        ASSERT_TRUE(p->add(0, m_in_port(3), 1, {resubmit{fp::ports::in_port, 1}}, {}, 0));
        ASSERT_TRUE(p->add(1, fp::match{}.set(fp::field_id::eth_dst, 0xaa), 1, {output{5}}, {0, 2, 0}, 0));
    }
    fp::burst_output out_a, out_b;
    controller_log ctl_a, ctl_b;
    std::int64_t now = 0;
    for (int i = 0; i < 20; ++i) { // 10 s of traffic against a 2 s idle timeout
        now += second / 2;
        ASSERT_EQ(plain.expire(now), 0u);
        ASSERT_EQ(cached.expire(now), 0u);
        run_both(plain, cached, {l2(3, 0xbb, 0xaa)}, now, out_a, out_b, ctl_a, ctl_b, "traffic");
        ASSERT_EQ(out_b.outputs().size(), 1u);
    }
    EXPECT_EQ(cached.flow_cache_ptr()->counters().hits, 19u);
    EXPECT_EQ(cached.table(1).find_strict(fp::match{}.set(fp::field_id::eth_dst, 0xaa), 1)->used_ms, now);
    // Traffic stops: the flow goes 2 s after its last hit, on both sides.
    EXPECT_EQ(cached.expire(now + 2 * second), 0u);
    EXPECT_EQ(cached.expire(now + 2 * second + 1), 1u);
    EXPECT_EQ(plain.expire(now + 2 * second + 1), 1u);
    // And the cached walk that used it is gone with it.
    run_both(plain, cached, {l2(3, 0xbb, 0xaa)}, now + 3 * second, out_a, out_b, ctl_a, ctl_b, "after expiry");
    EXPECT_TRUE(out_b.outputs().empty());
}

TEST(flow_cache, a_generic_table_created_after_a_walk_was_stored_counts_its_lookups) {
    fp::generic_pipeline plain, cached({}, 16);
    for (auto* p : {&plain, &cached})
        ASSERT_TRUE(p->add(0, fp::match{}, 0, {resubmit{fp::ports::in_port, 5}, output{2}}, {}, 0));
    fp::burst_output out_a, out_b;
    controller_log ctl_a, ctl_b;
    run_both(plain, cached, {l2(1, 0xa, 0xb), l2(1, 0xa, 0xb)}, 0, out_a, out_b, ctl_a, ctl_b, "no table 5");
    EXPECT_EQ(cached.flow_cache_ptr()->counters().hits, 1u);
    // Table 5 now exists, empty: the same walk makes one lookup (a miss) in it.
    plain.table(5);
    cached.table(5);
    run_both(plain, cached, {l2(1, 0xa, 0xb)}, 1, out_a, out_b, ctl_a, ctl_b, "empty table 5");
    EXPECT_EQ(cached.table(5).stats().lookups, 1u);
}

TEST(flow_cache, walks_bigger_than_an_entry_are_walked_every_time) {
    fp::generic_pipeline plain, cached({}, 16);
    for (auto* p : {&plain, &cached}) {
        // Port 1: 9 outputs (an entry holds 8). Port 2: a chain of 10 lookups (an entry records 8).
        fp::generic_actions many;
        for (std::uint32_t o = 10; o < 19; ++o) many.list.push_back(fp::any_action{output{o}});
        ASSERT_TRUE(p->add(0, m_in_port(1), 1, many, {}, 0));
        ASSERT_TRUE(p->add(0, m_in_port(2), 1, {goto_table{1}}, {}, 0));
        for (std::uint8_t t = 1; t < 9; ++t)
            ASSERT_TRUE(p->add(t, fp::match{}, 0, {goto_table{static_cast<std::uint8_t>(t + 1)}}, {}, 0));
        ASSERT_TRUE(p->add(9, fp::match{}, 0, {output{7}}, {}, 0));
        // Port 3: a small walk, cached.
        ASSERT_TRUE(p->add(0, m_in_port(3), 1, {push_vlan{}, output{5}, strip_vlan{}, output{6}}, {}, 0));
    }
    fp::burst_output out_a, out_b;
    controller_log ctl_a, ctl_b;
    for (int i = 0; i < 3; ++i)
        run_both(plain, cached, {l2(1, 0xa, 0xb), l2(2, 0xa, 0xb), l2(3, 0xa, 0xb)}, i, out_a, out_b, ctl_a, ctl_b,
                 "limits");
    EXPECT_EQ(out_b.outputs().size(), 9u + 1u + 2u);
    const fp::flow_cache_counters& c = cached.flow_cache_ptr()->counters();
    EXPECT_EQ(c.uncacheable, 6u);
    EXPECT_EQ(c.hits, 2u);
    EXPECT_EQ(c.inserts, 1u);
}

TEST(flow_cache, hash_and_key_compare_match_their_scalar_twins) {
    std::mt19937_64 rng(5);
    for (int i = 0; i < 2000; ++i) {
        fp::flow_key k{};
        auto* w = reinterpret_cast<unsigned char*>(&k);
        // A few random bytes anywhere in the key, the rest zero.
        for (int j = 0, n = 1 + static_cast<int>(rng() % 8); j < n; ++j)
            w[rng() % sizeof k] = static_cast<unsigned char>(rng());
        EXPECT_EQ(fp::flow_cache::hash(k), fp::flow_cache::hash_scalar(k));
        fp::flow_key o = k;
        EXPECT_TRUE(fp::flow_cache::same_key(k, o));
        reinterpret_cast<unsigned char*>(&o)[rng() % sizeof o] ^= static_cast<unsigned char>(1 + rng() % 255);
        EXPECT_FALSE(fp::flow_cache::same_key(k, o));
        EXPECT_FALSE(fp::flow_cache::same_key_scalar(k, o));
        EXPECT_NE(fp::flow_cache::hash(k), fp::flow_cache::hash(o));
    }
}
