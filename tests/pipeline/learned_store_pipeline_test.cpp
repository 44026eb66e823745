// The learned-flow store (lookup::exact_learned, table/learned_store.hpp)
// against the plain exact table it stands in for, in a whole br-tun core
// pipeline: the idea is that nothing outside the table may tell the two
// apart. Two pipelines, identical but for table 20's lookup tag, are driven
// by the same random script: bursts from tunnels (new MACs, known MACs, MACs
// that move to another tunnel, another tun_id or another network, tun_ids
// beyond 32 bits, a hairpin port whose walk looks up what it just learned)
// and from patch-int (table 20 hits and misses); clock steps from a few ms
// to jumps past the 300 s hard timeout and past 2^32 ms; expiry; and flow
// mods on table 20 as ovs-ofctl text (l2pop adds, adds with a learned flow's
// key at another priority and at its own, mod-flows and del-flows strict and
// loose, with and without cookie filters, the catch-all removed and added
// back, everything deleted). After every step both must show the same
// frames on the same ports, burst counters, flow mod results, flows (dump
// line, counters, created/modified/used in ms), table sizes and stats, learn
// stats, flow cache counters, expired counts, and a next_expiry() that is a
// true lower bound of the earliest expiry on both sides. Variants: the store
// holding either of two learns (one with cookie and limit=N), flow cache on
// and off, staged learns on (table 20 prefilled past the staging threshold)
// and off, table 20 small and refusing, small and evicting. After every
// step an ofctl trace of a random frame must read the same on both sides
// and leave the store's records where they are.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/action/learn.hpp>
#include <flowpipe/neutron/br_tun.hpp>
#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/ofctl/print.hpp>
#include <flowpipe/ofctl/trace.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace fp = flowpipe;
namespace f = fp::fields;
namespace la = fp::learn_args;
namespace nt = flowpipe::neutron;
using namespace fp::actions;

namespace {

// The store side's lookup tag for a table learned by L.
template <class L>
using store_lookup = fp::lookup::exact_learned<L>;

// A second learn into table 20, as Neutron's but with a cookie and limit=N:
// its flows carry the same action list as learn_ucast's.
using learn_limited = learn<la::table<nt::ucast_to_tun>, la::hard_timeout<300>, la::priority<1>, la::cookie<0x5>,
                            la::limit<0>, la::match_field<f::vlan_tci::bits<0, 11>>,
                            la::match_field<f::eth_dst, f::eth_src>, la::load_const<0, f::vlan_tci>,
                            la::load_field<f::tun_id, f::tun_id>, la::output_field<f::in_port::bits<0, 15>>>;
static_assert(std::is_same_v<learn_limited::flow_actions, nt::learned_ucast_actions>);

// br_tun_core's tables (neutron/br_tun.hpp), table 20's lookup as given,
// table 10 allowing two more lists: Neutron's learn followed by a lookup of
// table 20 (a walk that looks up what it learned) and the limited learn.
using hairpin_actions = fp::action_list<nt::learn_ucast, resubmit_to<nt::ucast_to_tun>>;
using limited_actions = fp::action_list<learn_limited, output>;

// (Table20: table 20's schema; the agent's br_tun matches vlan_tci masked
// and keeps the learned flows in an exact side index.)
template <class Lookup, class Table20 = fp::schema<fp::exact<f::vlan_tci::bits<0, 11>>, fp::exact<f::eth_dst>>>
using br_tun_with = fp::pipeline<
    fp::table<
        nt::local_switching, fp::schema<fp::exact<f::in_port>>,
        fp::allowed<fp::action_list<resubmit_to<nt::patch_lv_to_tun>>, fp::action_list<resubmit_to<nt::gre_tun_to_lv>>,
                    fp::action_list<resubmit_to<nt::vxlan_tun_to_lv>>,
                    fp::action_list<resubmit_to<nt::geneve_tun_to_lv>>, fp::action_list<drop>>>,
    fp::table<
        nt::patch_lv_to_tun, fp::schema<fp::exact<f::eth_type>, fp::masked<f::eth_dst>>,
        fp::allowed<fp::action_list<resubmit_to<nt::ucast_to_tun>>, fp::action_list<resubmit_to<nt::arp_responder>>,
                    fp::action_list<resubmit_to<nt::flood_to_tun>>>>,
    nt::tun_to_lv_table<nt::gre_tun_to_lv>, nt::tun_to_lv_table<nt::vxlan_tun_to_lv>,
    nt::tun_to_lv_table<nt::geneve_tun_to_lv>,
    fp::table<nt::learn_from_tun, fp::schema<fp::exact<f::in_port>>,
              fp::allowed<fp::action_list<output>, nt::learn_from_tun_actions, hairpin_actions, limited_actions>>,
    fp::table<
        nt::ucast_to_tun, Table20,
        fp::allowed<nt::to_tunnel_actions, fp::action_list<resubmit_to<nt::flood_to_tun>>, nt::learned_ucast_actions>,
        Lookup>,
    fp::table<nt::arp_responder,
              fp::schema<fp::exact<f::eth_type>, fp::exact<f::vlan_tci::bits<0, 11>>, fp::exact<f::arp_tpa>>,
              fp::allowed<nt::arp_reply_actions, fp::action_list<resubmit_to<nt::flood_to_tun>>>>,
    fp::table<nt::flood_to_tun, fp::schema<fp::exact<f::vlan_tci::bits<0, 11>>>,
              fp::allowed<nt::flood_actions, fp::action_list<drop>>>>;

using plain_pipeline = br_tun_with<fp::lookup::automatic>;

constexpr std::uint32_t patch_int = 1;
constexpr std::int64_t second = 1000;
constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

// Networks: segment -> local VLAN. Two segments share VLAN 1 (one of them
// beyond 32 bits: its learned tun_id does not fit a record's lane), so a MAC
// that moves between them changes a learned flow's values, not its key.
struct network {
    std::uint64_t segment;
    std::uint16_t lvid;
};
constexpr network networks[] = {{100, 1}, {(std::uint64_t{1} << 32) + 100, 1}, {200, 2}, {300, 3}};
constexpr network filler_net{150, 50}; // the prefill's MACs (staging setups)

// Tunnel ports, as table 10 treats them: Neutron's learn, the hairpin (learn,
// then look up 20), the limited learn. Ports past 16 bits and OpenFlow 1.0's
// reserved range test the record's 2-byte port lane (output:NXM_OF_IN_PORT[]
// keeps 16 bits).
constexpr std::uint32_t tunnels[] = {2, 3, 4, 5, 40000, 0xff00, 0x1000a};
constexpr std::uint32_t hairpin_port = 5;
constexpr std::uint32_t limited_port = 4;
static_assert(tunnels[2] == limited_port);

constexpr std::uint64_t remote_mac(std::size_t i) { return 0xfa163e000000ULL | i; }
constexpr std::uint64_t local_mac(std::size_t i) { return 0xfa163e100000ULL | i; }
constexpr std::uint64_t unknown_mac = 0xfa163e999999ULL;

struct setup {
    std::size_t max_flows = 4096; // table 20
    bool evict = false;           // table 20 full: evict, not refuse
    std::uint32_t limit = 0;      // learn_limited's limit=N
    std::size_t flow_cache = 0;
    bool defer_learns = true;
    std::size_t prefill = 0;           // learned MACs put in table 20 first (past 8192: learns are staged)
    std::size_t store_index_flows = 0; // the store side's table_config::index_flows (the plain side's is max_flows)
};

fp::match m_in_port(std::uint32_t p) { return fp::match{}.set(fp::field_id::in_port, p); }
fp::match m_vlan(std::uint16_t lvid) { return fp::match{}.set(fp::field_id::vlan_tci, lvid, 0x0fff); }

template <class P>
std::unique_ptr<P> make(const setup& s, std::size_t index_flows = 0) {
    fp::pipeline_config c;
    c.tables.emplace_back(
        std::uint8_t{nt::ucast_to_tun},
        fp::table_config{s.max_flows, s.evict ? fp::overflow_policy::evict : fp::overflow_policy::refuse, index_flows});
    c.flow_cache = s.flow_cache;
    c.defer_learns = s.defer_learns;
    auto p = std::make_unique<P>(c);
    using namespace fp;
    auto& t = *p;
    EXPECT_TRUE(t.template table<0>().add(m_in_port(patch_int), 1, action_list<resubmit_to<2>>{}, {}, 0));
    for (std::uint32_t tun : tunnels)
        EXPECT_TRUE(t.template table<0>().add(m_in_port(tun), 1, action_list<resubmit_to<4>>{}, {}, 0));
    EXPECT_TRUE(t.template table<0>().add(match{}, 0, action_list<drop>{}, {}, 0));
    EXPECT_TRUE(
        t.template table<2>().add(match{}.set(field_id::eth_type, 0x0806).set(field_id::eth_dst, 0xffffffffffffULL), 1,
                                  action_list<resubmit_to<21>>{}, {}, 0));
    EXPECT_TRUE(t.template table<2>().add(match{}.set(field_id::eth_dst, 0, 0x010000000000ULL), 0,
                                          action_list<resubmit_to<20>>{}, {}, 0));
    EXPECT_TRUE(t.template table<2>().add(match{}.set(field_id::eth_dst, 0x010000000000ULL, 0x010000000000ULL), 0,
                                          action_list<resubmit_to<22>>{}, {}, 0));
    EXPECT_TRUE(t.template table<4>().add(match{}, 0, action_list<drop>{}, {}, 0));
    for (const network& n : networks)
        EXPECT_TRUE(t.template table<4>().add(match{}.set(field_id::tun_id, n.segment), 1,
                                              nt::tun_to_lv_actions{{n.lvid}, {}}, {}, 0));
    EXPECT_TRUE(t.template table<4>().add(match{}.set(field_id::tun_id, filler_net.segment), 1,
                                          nt::tun_to_lv_actions{{filler_net.lvid}, {}}, {}, 0));
    learn_limited limited;
    limited.limit = s.limit;
    for (std::uint32_t tun : tunnels) {
        bool ok;
        if (tun == hairpin_port)
            ok = t.template table<10>().add(m_in_port(tun), 1, hairpin_actions{}, {}, 0).code == flow_mod_errc::ok;
        else if (tun == limited_port)
            ok = t.template table<10>().add(m_in_port(tun), 1, limited_actions{limited, {patch_int}}, {}, 0).code ==
                 flow_mod_errc::ok;
        else
            ok = t.template table<10>()
                     .add(m_in_port(tun), 1, nt::learn_from_tun_actions{{}, {patch_int}}, {}, 0)
                     .code == flow_mod_errc::ok;
        EXPECT_TRUE(ok);
    }
    EXPECT_TRUE(t.template table<20>().add(match{}, 0, action_list<resubmit_to<22>>{}, {}, 0));
    EXPECT_TRUE(t.template table<21>().add(match{}, 0, action_list<resubmit_to<22>>{}, {}, 0));
    EXPECT_TRUE(t.template table<22>().add(match{}, 0, action_list<drop>{}, {}, 0));
    for (std::uint16_t lvid : {1, 2, 3}) {
        output_ports<nt::max_flood_ports> ports;
        for (std::uint32_t tun : {2u, 3u, 40000u}) ports.add(tun);
        EXPECT_TRUE(t.template table<22>().add(m_vlan(lvid), 1, nt::flood_actions{{}, {100u * lvid}, ports}, {}, 0));
    }
    return p;
}

// ---- what must be identical -------------------------------------------------

struct sent_frame {
    std::uint32_t port;
    std::uint64_t tun_id;
    std::vector<std::uint8_t> bytes;
    friend bool operator==(const sent_frame&, const sent_frame&) = default;
};

void PrintTo(const sent_frame& f, std::ostream* os) {
    *os << "port " << f.port << " tun_id " << f.tun_id << " " << f.bytes.size() << " bytes:";
    for (std::uint8_t b : f.bytes) *os << ' ' << std::hex << unsigned{b} << std::dec;
}

std::vector<sent_frame> sent(const fp::burst_output& out) {
    std::vector<sent_frame> r;
    for (const auto& t : out.outputs())
        r.push_back({t.port, t.pkt.tun_id, std::vector<std::uint8_t>(t.pkt.data, t.pkt.data + t.pkt.len)});
    return r;
}

std::vector<std::uint64_t> burst_counters_of(const fp::burst_output& out) {
    const fp::burst_counters& c = out.counters();
    return {c.received,    c.transmitted,  c.dropped,         c.malformed,     c.not_ethernet,      c.too_deep,
            c.no_headroom, c.clone_failed, c.output_overflow, c.to_controller, out.dropped().size()};
}

template <class P>
std::vector<std::uint64_t> cache_counters_of(P& p) {
    const fp::flow_cache* fc = p.flow_cache_ptr();
    if (fc == nullptr) return {};
    const auto& k = fc->counters();
    return {k.hits, k.misses, k.uncacheable, k.invalidations, k.inserts};
}

// Every flow as dump-flows prints it at `now`, with its times in ms, sorted;
// then each table's stats and size.
struct table_dump {
    std::vector<std::string> flows;
    std::vector<std::string> tables;
    std::int64_t earliest_expiry = never; // of the flows listed
};

template <class P>
table_dump dump_of(P& p, std::int64_t now) {
    table_dump d;
    p.for_each_table([&](const auto& t) {
        t.for_each([&](const auto& fl) {
            std::string s;
            fp::ofctl::append_flow_stats(s, fl, t.id(), now);
            s += " created=" + std::to_string(fl.created_ms) + " modified=" + std::to_string(fl.modified_ms) +
                 " used=" + std::to_string(fl.used_ms);
            d.flows.push_back(std::move(s));
        });
        const fp::table_stats& st = t.stats();
        d.tables.push_back("table " + std::to_string(t.id()) + " lookups=" + std::to_string(st.lookups) +
                           " matched=" + std::to_string(st.matched) + " expired=" + std::to_string(st.expired) +
                           " evicted=" + std::to_string(st.evicted) + " size=" + std::to_string(t.size()));
    });
    std::sort(d.flows.begin(), d.flows.end());
    return d;
}

// Each learn action's stats, in table 10's flows (the same order on both
// sides: table 10 is the same kind of table in both).
using learn_row =
    std::tuple<std::uint32_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t>;
template <class P>
std::vector<learn_row> learn_stats_of(P& p) {
    std::vector<learn_row> r;
    p.template table<10>().for_each([&](const auto& fl) {
        const auto port = static_cast<std::uint32_t>(fl.get_match().value_of(fp::field_id::in_port));
        std::visit(
            [&](const auto& list) {
                list.for_each([&](const auto& a) {
                    if constexpr (requires { a.stats(); }) {
                        const fp::learn_stats& s = a.stats();
                        r.emplace_back(port, s.added, s.refreshed, s.modified, s.refused_limit, s.failed, s.staged);
                    }
                });
            },
            fl.actions);
    });
    std::sort(r.begin(), r.end());
    return r;
}

std::string mac_text(std::uint64_t mac) {
    char b[18];
    std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", static_cast<unsigned>(mac >> 40 & 0xff),
                  static_cast<unsigned>(mac >> 32 & 0xff), static_cast<unsigned>(mac >> 24 & 0xff),
                  static_cast<unsigned>(mac >> 16 & 0xff), static_cast<unsigned>(mac >> 8 & 0xff),
                  static_cast<unsigned>(mac & 0xff));
    return b;
}

// ---- the script ------------------------------------------------------------------

// A frame from a tunnel (learned into table 20) or from patch-int (looked
// up in table 20). `macs` bounds the remote MACs of this burst: few MACs
// repeat (re-learns, cache hits), many add flows. The limited learn's MACs
// are learned by the other learns too, which take its flows over (their
// cookie changes: its limit must stop counting them).
fp::flow_key random_frame(std::mt19937_64& rng, std::size_t macs) {
    fp::flow_key k{};
    const std::size_t vm = rng() % macs;
    if (rng() % 2 == 0) {
        // Its home tunnel and network, or (one in 8) another: the MAC moves.
        k.in_port = rng() % 8 ? tunnels[vm % std::size(tunnels)] : tunnels[rng() % std::size(tunnels)];
        k.tun_id = (rng() % 8 ? networks[vm % std::size(networks)] : networks[rng() % std::size(networks)]).segment;
        if (rng() % 32 == 0) k.tun_id = 999; // no such network: table 4 drops it
        k.eth_src = remote_mac(vm);
        // The hairpin port looks up table 20 for eth_dst: now and then its own MAC.
        k.eth_dst = k.in_port == hairpin_port && rng() % 3 == 0 ? k.eth_src
                    : rng() % 2                                 ? remote_mac(rng() % macs)
                                                                : local_mac(rng() % 4);
    } else {
        k.in_port = patch_int;
        const std::uint16_t lvid = rng() % 10 ? networks[rng() % std::size(networks)].lvid : 9;
        k.vlan_tci = static_cast<std::uint16_t>(0x1000 | lvid);
        k.eth_src = local_mac(rng() % 4);
        switch (rng() % 8) {
        case 0: k.eth_dst = unknown_mac; break;
        case 1: k.eth_dst = rng() % 4 ? 0xffffffffffffULL : 0x01005e000001ULL; break;
        default: k.eth_dst = remote_mac(rng() % macs);
        }
    }
    fp::flow_key f = fp::test::eth(k.in_port, k.eth_src, k.eth_dst, k.vlan_tci); // an IPv4/UDP frame
    f.tun_id = k.tun_id;
    return f;
}

// Kinds of flow mods, counted per kind (those that did something on the
// plain side), so that a run shows every kind took effect.
enum flow_mod_kind {
    l2pop_add,
    add_same_key_other_priority,
    add_same_key_priority_1,
    mod_strict,
    mod_strict_cookie,
    mod_loose_mac,
    mod_loose_cookie,
    del_strict,
    del_strict_cookie,
    del_loose_mac,
    del_loose_vlan,
    del_loose_cookie,
    del_catch_all,
    add_catch_all,
    del_all_table_20,
    del_mac_all_tables,
    flow_mod_kinds
};

struct flow_mod_text {
    flow_mod_kind kind;
    fp::ofctl::flow_command command;
    std::string text;
};

flow_mod_text random_flow_mod(std::mt19937_64& rng, std::size_t macs) {
    using cmd = fp::ofctl::flow_command;
    const std::size_t vm = rng() % macs;
    const network& n = networks[rng() % std::size(networks)];
    const std::string key = "vlan_tci=0x" + std::to_string(n.lvid) +
                            "/0x0fff,dl_dst=" + mac_text(rng() % 16 ? remote_mac(vm) : unknown_mac);
    // (OpenFlow 1.0 reserves 0xff00 and up: a flow mod cannot name them, a learn can.)
    constexpr std::uint32_t ports[] = {2, 3, 4, 5, 40000, 10};
    const std::uint32_t port = ports[rng() % std::size(ports)];
    const std::string to_tunnel = "actions=strip_vlan,set_tunnel:" + std::to_string(n.segment) +
                                  ",output:" + std::to_string(rng() % 2 ? port : 3);
    // What a learned flow carries, as text (a flow that looks learned, but is not).
    const std::string as_learned = "actions=load:0->NXM_OF_VLAN_TCI[],load:" + std::to_string(n.segment) +
                                   "->NXM_NX_TUN_ID[],output:" + std::to_string(port);
    // (ovs-ofctl also takes the mask as -1; flowpipe's parser does not.)
    const std::string cookie = rng() % 2 ? "cookie=0x5/0xffffffffffffffff," : "cookie=0/0xffffffffffffffff,";
    switch (rng() % 24) {
    case 0:
    case 1:
    case 2: return {l2pop_add, cmd::add, "table=20,priority=2,cookie=0x77," + key + "," + to_tunnel};
    case 3:
    case 4: return {add_same_key_other_priority, cmd::add, "table=20,priority=5," + key + "," + to_tunnel};
    case 5:
    case 6:
        return {add_same_key_priority_1, cmd::add,
                "table=20,priority=1," + std::string(rng() % 2 ? "hard_timeout=300," : "idle_timeout=7,") + key + "," +
                    (rng() % 2 ? to_tunnel : as_learned)};
    case 7:
    case 8: return {mod_strict, cmd::modify_strict, "table=20,priority=1," + key + "," + to_tunnel};
    case 9: return {mod_strict_cookie, cmd::modify_strict, "table=20,priority=1," + cookie + key + "," + as_learned};
    case 10: return {mod_loose_mac, cmd::modify, "table=20,dl_dst=" + mac_text(remote_mac(vm)) + "," + to_tunnel};
    case 11: return {mod_loose_cookie, cmd::modify, "table=20," + cookie + to_tunnel};
    case 12:
    case 13: return {del_strict, cmd::remove_strict, "table=20,priority=1," + key};
    case 14: return {del_strict_cookie, cmd::remove_strict, "table=20,priority=1," + cookie + key};
    case 15:
    case 16: return {del_loose_mac, cmd::remove, "table=20,dl_dst=" + mac_text(remote_mac(vm))};
    case 17: return {del_loose_vlan, cmd::remove, "table=20,vlan_tci=0x" + std::to_string(n.lvid) + "/0x0fff"};
    case 18: return {del_loose_cookie, cmd::remove, "table=20," + cookie.substr(0, cookie.size() - 1)};
    case 19: return {del_catch_all, cmd::remove_strict, "table=20,priority=0"};
    case 20:
    case 21: return {add_catch_all, cmd::add, "table=20,priority=0,actions=resubmit(,22)"};
    case 22:
        if (rng() % 4 == 0) return {del_all_table_20, cmd::remove, "table=20"};
        [[fallthrough]];
    default: return {del_mac_all_tables, cmd::remove, "dl_dst=" + mac_text(remote_mac(vm))};
    }
}

struct totals {
    std::size_t steps = 0, packets = 0, flow_mods = 0, refused = 0, expiries = 0, expired = 0;
    std::array<std::size_t, flow_mod_kinds> effective{};
    fp::learn_stats learns{}; // summed over the learn actions, at the end of each seed
    std::uint64_t cache_hits = 0;
    // The store side's own: the most records it held after a step, and its
    // records that went to the side table or were rewritten by a rebase.
    std::size_t max_records = 0;
    std::uint64_t spilled = 0, rebased = 0;
    std::size_t traces = 0, traced_learned = 0; // traces, and those that matched a learned (or l2pop) flow in table 20
};

template <class A, class B>
void expect_same_state(A& a, B& b, std::int64_t now, const std::string& where) {
    ASSERT_EQ(learn_stats_of(a), learn_stats_of(b)) << where;
    const table_dump x = dump_of(a, now), y = dump_of(b, now);
    for (std::size_t i = 0; i < std::min(x.flows.size(), y.flows.size()); ++i)
        ASSERT_EQ(x.flows[i], y.flows[i]) << where << ": first different flow (plain, then store)";
    ASSERT_EQ(x.flows.size(), y.flows.size()) << where;
    ASSERT_EQ(x.tables, y.tables) << where;
    ASSERT_EQ(cache_counters_of(a), cache_counters_of(b)) << where;
    // next_expiry(): no later than the first ms at which expire() removes a
    // flow (now > modified + hard_timeout, or used + idle_timeout), and
    // `never` exactly when no flow has a timeout; the two tables may keep
    // different bounds.
    const std::int64_t na = a.template table<20>().next_expiry(), nb = b.template table<20>().next_expiry();
    table_dump t20;
    a.template table<20>().for_each([&](const auto& fl) {
        if (fl.hard_timeout)
            t20.earliest_expiry =
                std::min(t20.earliest_expiry, fl.modified_ms + std::int64_t{fl.hard_timeout} * second + 1);
        if (fl.idle_timeout)
            t20.earliest_expiry =
                std::min(t20.earliest_expiry, fl.used_ms + std::int64_t{fl.idle_timeout} * second + 1);
    });
    ASSERT_LE(na, t20.earliest_expiry) << where << ": plain next_expiry";
    ASSERT_LE(nb, t20.earliest_expiry) << where << ": store next_expiry";
    ASSERT_EQ(na == never, t20.earliest_expiry == never) << where << ": plain next_expiry " << na;
    ASSERT_EQ(nb == never, t20.earliest_expiry == never) << where << ": store next_expiry " << nb;
}

// Learns `n` MACs of the filler network into table 20 (from tunnel 2).
template <class P>
void prefill(P& p, std::size_t n, std::int64_t now) {
    fp::burst_output out;
    for (std::size_t base = 0; base < n; base += 1024) {
        fp::test::frames fr;
        for (std::size_t i = base; i < std::min(n, base + 1024); ++i) {
            fp::flow_key k = fp::test::eth(2, 0x020000000000ULL | i, local_mac(0));
            k.tun_id = filler_net.segment;
            fr.add(k);
        }
        p.run(fr.pkts, now, out);
    }
}

template <class Store, class Plain>
void run_both(const setup& s, std::uint64_t seed, int steps, totals& tot) {
    auto plain = make<Plain>(s);
    auto store = make<Store>(s, s.store_index_flows);
    std::mt19937_64 rng(seed), trace_rng(seed ^ 0x7ace);
    std::int64_t now = 1000 * second + static_cast<std::int64_t>(rng() % 1000);
    if (s.prefill) {
        prefill(*plain, s.prefill, now);
        prefill(*store, s.prefill, now);
    }
    fp::burst_output out_a, out_b;
    bool jumped_far = false;
    for (int step = 0; step < steps; ++step) {
        const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
        ++tot.steps;
        const std::uint64_t what = rng() % 16;
        const std::size_t macs = 2 + rng() % (rng() % 4 ? 12 : 200);
        if (what < 10) { // a burst
            const std::size_t n = rng() % 16 == 0 ? fp::max_burst + 1 + rng() % 64 : 1 + rng() % 64;
            fp::test::frames fa, fb;
            for (std::size_t i = 0; i < n; ++i) {
                const fp::flow_key k = random_frame(rng, macs);
                fa.add(k);
                fb.add(k);
            }
            plain->run(fa.pkts, now, out_a);
            store->run(fb.pkts, now, out_b);
            tot.packets += n;
            ASSERT_EQ(sent(out_a), sent(out_b)) << where;
            ASSERT_EQ(burst_counters_of(out_a), burst_counters_of(out_b)) << where;
        } else if (what < 14) { // a flow mod, or a few
            for (int i = 0, nm = 1 + static_cast<int>(rng() % 3); i < nm; ++i) {
                const flow_mod_text fm = random_flow_mod(rng, macs);
                const auto ra = fp::ofctl::install(*plain, fm.text, now, fm.command);
                const auto rb = fp::ofctl::install(*store, fm.text, now, fm.command);
                ++tot.flow_mods;
                ASSERT_EQ(bool(ra), bool(rb)) << where << ": " << fm.text;
                if (ra) {
                    ASSERT_EQ(ra->code, rb->code) << where << ": " << fm.text;
                    ASSERT_EQ(ra->count, rb->count) << where << ": " << fm.text;
                    if (ra->count) ++tot.effective[fm.kind];
                } else {
                    // Refused on both sides alike: only a full table may refuse these.
                    const std::string why = fp::ofctl::to_string(ra.error());
                    ASSERT_EQ(why, fp::ofctl::to_string(rb.error())) << where << ": " << fm.text;
                    // Only a full table refuses these, or a modify that selected
                    // nothing and so adds (OpenFlow 1.0) a flow an exact table
                    // cannot hold.
                    const bool partial_add = fm.command == fp::ofctl::flow_command::modify &&
                                             why.find("exact-match table holds only") != std::string::npos;
                    ASSERT_TRUE(why.find("table is full") != std::string::npos || partial_add)
                        << where << ": " << fm.text << ": " << why;
                    ++tot.refused;
                }
            }
        } else { // expiry
            ++tot.expiries;
            const std::size_t ea = plain->expire(now), eb = store->expire(now);
            tot.expired += ea;
            ASSERT_EQ(ea, eb) << where;
        }
        expect_same_state(*plain, *store, now, where);
        // A trace (ofctl, without -generate) of a random frame: the same
        // text on both sides, and on the store side it only reads (no
        // record moves into the slab, as a lookup's would).
        {
            const fp::flow_key k = random_frame(trace_rng, macs);
            auto& t20 = store->template table<20>();
            const std::size_t records = t20.store().size(), memory = t20.memory_bytes();
            const auto ta = fp::ofctl::trace(*plain, k, {.now_ms = now});
            const auto tb = fp::ofctl::trace(*store, k, {.now_ms = now});
            ASSERT_EQ(ta.text, tb.text) << where;
            ASSERT_EQ(t20.store().size(), records) << where << ": the trace moved a record\n" << tb.text;
            ASSERT_EQ(t20.memory_bytes(), memory) << where;
            ++tot.traces;
            if (const std::size_t at = tb.text.find("\n20. vlan_tci="); at != std::string::npos) {
                const std::size_t eol = tb.text.find('\n', at + 1);
                tot.traced_learned += eol != std::string::npos && tb.text.compare(eol - 12, 12, ", priority 1") == 0;
            }
        }
        tot.max_records = std::max(tot.max_records, store->template table<20>().store().size());
        if (::testing::Test::HasFatalFailure() || ::testing::Test::HasFailure()) return;
        // The clock: mostly ms to seconds; now and then past the 300 s hard
        // timeout; once per run (half the seeds) 2^32 ms on, past the
        // records' time window.
        switch (rng() % 32) {
        case 0: now += (290 + static_cast<std::int64_t>(rng() % 20)) * second; break;
        case 1: now += (300 + static_cast<std::int64_t>(rng() % 5000)) * second; break;
        case 2:
            if (!jumped_far && seed % 2 == 0) {
                now += std::int64_t{1} << 32;
                jumped_far = true;
                break;
            }
            [[fallthrough]];
        default: now += static_cast<std::int64_t>(rng() % (rng() % 4 ? 50 : 3000));
        }
    }
    EXPECT_EQ(fp::ofctl::dump_flows(*plain, now), fp::ofctl::dump_flows(*store, now));
    for (const learn_row& r : learn_stats_of(*store)) {
        tot.learns.added += std::get<1>(r);
        tot.learns.refreshed += std::get<2>(r);
        tot.learns.modified += std::get<3>(r);
        tot.learns.refused_limit += std::get<4>(r);
        tot.learns.failed += std::get<5>(r);
        tot.learns.staged += std::get<6>(r);
    }
    if (const fp::flow_cache* c = store->flow_cache_ptr()) tot.cache_hits += c->counters().hits;
    tot.spilled += store->template table<20>().store().stats().spilled;
    tot.rebased += store->template table<20>().store().stats().rebased;
}

template <class Store, class Plain = plain_pipeline>
totals run_seeds(const setup& s, std::uint64_t first, std::uint64_t seeds, int steps, const char* name) {
    totals tot;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
        run_both<Store, Plain>(s, seed, steps, tot);
        if (::testing::Test::HasFailure()) return tot;
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "%s: %llu seeds, %zu steps, %zu packets, %zu flow mods (%zu refused on both sides), %zu expiries (%zu flows "
        "expired), %.0f ms\n",
        name, static_cast<unsigned long long>(seeds), tot.steps, tot.packets, tot.flow_mods, tot.refused, tot.expiries,
        tot.expired, ms);
    std::printf("  flow mods that changed something, by kind:");
    for (std::size_t k = 0; k < flow_mod_kinds; ++k) std::printf(" %zu", tot.effective[k]);
    const fp::learn_stats& l = tot.learns;
    std::printf("\n  learns: %llu added, %llu refreshed, %llu modified, %llu refused (limit), %llu failed, %llu "
                "staged; %llu flow cache hits\n",
                static_cast<unsigned long long>(l.added), static_cast<unsigned long long>(l.refreshed),
                static_cast<unsigned long long>(l.modified), static_cast<unsigned long long>(l.refused_limit),
                static_cast<unsigned long long>(l.failed), static_cast<unsigned long long>(l.staged),
                static_cast<unsigned long long>(tot.cache_hits));
    std::printf("  store: at most %zu records, %llu spilled, %llu rebases; %zu traces, %zu matched a learned "
                "(or l2pop) flow in table 20\n",
                tot.max_records, static_cast<unsigned long long>(tot.spilled),
                static_cast<unsigned long long>(tot.rebased), tot.traces, tot.traced_learned);
    EXPECT_GT(tot.traced_learned, 0u) << name;
    // The script reached what the run is about: learns of every kind, and
    // each flow mod kind that selected something.
    EXPECT_GT(l.added, 0u) << name;
    EXPECT_GT(l.refreshed, 0u) << name;
    EXPECT_GT(l.modified, 0u) << name;
    if (s.limit) {
        EXPECT_GT(l.refused_limit, 0u) << name;
    }
    if (s.max_flows < 100 && !s.evict) {
        EXPECT_GT(l.failed, 0u) << name;
    }
    if (s.prefill && s.defer_learns) {
        EXPECT_GT(l.staged, 0u) << name;
    }
    if (s.flow_cache) {
        EXPECT_GT(tot.cache_hits, 0u) << name;
    }
    // The store held records, some spilled (tun_ids past 32 bits) and the
    // 2^32 ms jump rebased it; a table that evicts keeps its flows in the
    // slab (flow_table.hpp), so there the store stays empty.
    if (s.evict) {
        EXPECT_EQ(tot.max_records, 0u) << name;
    } else {
        EXPECT_GT(tot.max_records, 0u) << name;
        EXPECT_GT(tot.spilled, 0u) << name;
        EXPECT_GT(tot.rebased, 0u) << name;
    }
    for (std::size_t k = 0; k < flow_mod_kinds; ++k)
        if (k != del_all_table_20 && k != mod_strict_cookie && k != del_strict_cookie) {
            EXPECT_GT(tot.effective[k], 0u) << name << ": flow mod kind " << k << " never selected a flow";
        }
    return tot;
}

using store_ucast = br_tun_with<store_lookup<nt::learn_ucast>>;
using store_limited = br_tun_with<store_lookup<learn_limited>>;

// The agent's table 20 (neutron::br_tun): vlan_tci masked, the learned
// flows' mask in an exact side index, as flows or as records.
using masked_20 = fp::schema<fp::masked<f::vlan_tci>, fp::exact<f::eth_dst>>;
using side_plain = br_tun_with<fp::lookup::tuple_space_exact<f::vlan_tci::bits<0, 11>, f::eth_dst>, masked_20>;
template <class L>
using side_store = br_tun_with<fp::lookup::exact_learned<L, f::vlan_tci::bits<0, 11>, f::eth_dst>, masked_20>;

} // namespace

TEST(learned_store_pipeline, the_store_of_neutrons_learn_is_the_plain_table) {
    run_seeds<store_ucast>(setup{}, 1, 4, 250, "plain");
}

TEST(learned_store_pipeline, with_the_flow_cache) {
    run_seeds<store_ucast>(setup{.flow_cache = 256}, 101, 4, 250, "flow cache");
}

TEST(learned_store_pipeline, the_store_of_a_learn_with_a_cookie_and_a_limit) {
    run_seeds<store_limited>(setup{.limit = 12}, 201, 3, 250, "limited");
    run_seeds<store_limited>(setup{.limit = 12, .flow_cache = 256}, 211, 3, 250, "limited, flow cache");
}

TEST(learned_store_pipeline, a_small_table_refusing_and_evicting) {
    run_seeds<store_ucast>(setup{.max_flows = 24}, 301, 3, 250, "small");
    run_seeds<store_limited>(setup{.max_flows = 24, .limit = 6}, 311, 3, 250, "small, limited");
    run_seeds<store_ucast>(setup{.max_flows = 24, .evict = true, .flow_cache = 256}, 321, 3, 250, "small, evicting");
}

// table_config::index_flows gives the store's index room; the table's limit
// stays max_flows (the small cases must still refuse learns), and every
// learn, lookup and flow mod does what the plain table's does.
TEST(learned_store_pipeline, an_index_with_room_changes_nothing_but_its_size) {
    run_seeds<store_ucast>(setup{.max_flows = 24, .store_index_flows = 96}, 341, 2, 250, "small, index room");
    run_seeds<store_limited>(setup{.max_flows = 24, .limit = 6, .store_index_flows = 96}, 351, 2, 250,
                             "small, limited, index room");
    run_seeds<store_ucast>(setup{.max_flows = 16384, .prefill = 8300, .store_index_flows = 65536}, 441, 2, 200,
                           "staged, index room");
    run_seeds<side_store<nt::learn_ucast>, side_plain>(setup{.max_flows = 24, .store_index_flows = 96}, 531, 2, 250,
                                                       "masked, small, index room");
}

TEST(learned_store_pipeline, staged_learns_into_a_big_table) {
    const setup big{.max_flows = 16384, .prefill = 8300};
    run_seeds<store_ucast>(big, 401, 2, 200, "staged");
    run_seeds<store_ucast>(setup{.max_flows = 16384, .flow_cache = 256, .prefill = 8300}, 411, 2, 200,
                           "staged, flow cache");
    run_seeds<store_limited>(setup{.max_flows = 16384, .limit = 10, .prefill = 8300}, 421, 2, 200, "staged, limited");
    run_seeds<store_ucast>(setup{.max_flows = 16384, .defer_learns = false, .prefill = 8300}, 431, 2, 200, "immediate");
}

TEST(learned_store_pipeline, the_agents_masked_table_20_keeps_records_in_its_side_index) {
    run_seeds<side_store<nt::learn_ucast>, side_plain>(setup{}, 501, 3, 250, "masked");
    run_seeds<side_store<learn_limited>, side_plain>(setup{.limit = 12, .flow_cache = 256}, 511, 3, 250,
                                                     "masked, limited, flow cache");
    run_seeds<side_store<nt::learn_ucast>, side_plain>(setup{.max_flows = 24}, 521, 3, 250, "masked, small");
}
