// learn into br-tun's table 20 beside DPDK's SWX learner table, in the same
// binary and the same run.
//
// Rows (each iteration = one burst of 32 packets):
//   flowpipe_learn_add/flows:N     table 20 holds N learned MACs; each packet
//                                  carries a MAC never seen: miss -> insert
//                                  (br-tun's typed table-10 learn, the code
//                                  the pipeline runs per packet)
//   flowpipe_learn_refresh/flows:N each packet re-learns a known MAC: hit ->
//                                  timer refresh
//   flowpipe_learn_{add,refresh}_agent  the same per packet into the
//                                  agent's whole br_tun (neutron::br_tun),
//                                  whose table 20 matches vlan_tci masked
//                                  (l2pop's dl_vlan= flows in its tuple
//                                  space, the learned 0x0XXX/0x0fff ones in
//                                  its exact side index); the rows above use
//                                  br_tun_core's exact table 20
//   flowpipe_learn_{add,refresh}_burst  the same through learn's burst form
//                                  (install_burst: hash the 32 and prefetch
//                                  their index buckets, then install; tables
//                                  under 8192 flows go packet by packet),
//                                  what the engine's staged learns run
//   flowpipe_learn_{add,refresh}_burst_room2  the same with table 20's
//                                  exact index sized for twice its flows
//                                  (table_config::index_flows): the trade of
//                                  index bytes for emptier buckets
//   swx_learner_add/flows:N        rte_swx_table_learner: lookup (32 mailboxes
//                                  interleaved, as the SWX pipeline runs it)
//                                  then add, on the same keys (16 bytes:
//                                  VLAN + MAC, zero padded)
//   swx_learner_rearm/flows:N      lookup (hit) then rearm
//   absl_learn_{add,refresh}/flows:N  Abseil's flat_hash_map doing the
//                                  same learns (for scale: a key to its
//                                  values and a time, nothing else), its 32
//                                  keys prefetched first
//   flowpipe_br_tun_learn/flows:N  whole frames from a tunnel through the
//                                  typed br-tun pipeline (parse, tables 0, 4,
//                                  10, output): packets/s that re-learn
//   flowpipe_learn_pipeline_{add,refresh}[_immediate]/flows:N  frames from
//                                  a tunnel through br-tun (tables 0, 4, 10),
//                                  new or known source MACs: the pipeline's
//                                  own learn path, learns staged per burst
//                                  (the engine's default) or, _immediate,
//                                  installed as each packet runs
//   flowpipe_mac_flood             1M random source MACs through the table-10
//                                  learn with limit=65536: memory stays
//                                  bounded, refused learns are counted
//
// The add rows learn F = min(N, 64K) new MACs on top of the N, then remove
// them outside the timed region and start over. flowpipe's table 20 is
// sized for N + F + 1 flows; the SWX learner for n_keys_max = N, which it
// turns into N buckets of 4 slots (load 1/4 at N keys; an add into a full
// bucket fails, counted as add_failed). Counters: learns/s
// (items_per_second), ns_per_learn, bytes_per_flow (table memory over the
// N learned flows; flowpipe's breakdown is printed at the end).
//
// `--rounds=R` runs the suite R times and prints the median of each rate and
// of the per-round ratio flowpipe/SWX: on a noisy machine only ratios
// measured in one run mean anything.
#include <flowpipe/neutron/br_tun.hpp>

#include <benchmark/benchmark.h>

#include "support/learn_packets.hpp"
#include "support/rounds.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if FLOWPIPE_HAVE_ABSL
#include <absl/container/flat_hash_map.h>
#endif

#if FLOWPIPE_HAVE_DPDK
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_swx_table_learner.h>
#endif

namespace {

namespace fp = flowpipe;
using br_tun = fp::neutron::br_tun_core;
// The agent's whole bridge (neutron::br_tun): its table 20 matches vlan_tci
// masked (l2pop's dl_vlan= flows and the learned vlan_tci=0x0XXX/0x0fff
// ones): a tuple space for the former, an exact side index for the latter
// (lookup::tuple_space_exact).
using br_tun_agent = fp::neutron::br_tun;
template <class P>
using table20_of = std::remove_reference_t<decltype(std::declval<P&>().template table<20>())>;
using table20 = table20_of<br_tun>;

constexpr std::size_t burst = 32;
using fp::bench::lvid, fp::bench::seg, fp::bench::tun_port, fp::bench::patch_int;

// Source MACs: `present` are learned before timing, `fresh` never are.
struct workload {
    std::vector<std::uint64_t> present; // in random order: the refresh stream
    std::vector<std::uint64_t> fresh;
};

const workload& get_workload(std::size_t flows) {
    static std::map<std::size_t, std::unique_ptr<workload>> cache;
    auto& w = cache[flows];
    if (!w) {
        w = std::make_unique<workload>();
        std::mt19937_64 rng(flows);
        // Unicast, locally administered, distinct (low 32 bits count, high bits random).
        for (std::size_t i = 0; i < 2 * flows; ++i) {
            const std::uint64_t mac = (((rng() & 0xfcff) | 0x0200) << 32) | static_cast<std::uint32_t>(i * 2654435761u);
            (i < flows ? w->present : w->fresh).push_back(mac & 0xffffffffffffULL);
        }
        std::sort(w->present.begin(), w->present.end());
        std::sort(w->fresh.begin(), w->fresh.end());
        std::vector<std::uint64_t> all(w->present);
        all.insert(all.end(), w->fresh.begin(), w->fresh.end());
        std::sort(all.begin(), all.end());
        if (std::adjacent_find(all.begin(), all.end()) != all.end()) std::abort();
        std::shuffle(w->present.begin(), w->present.end(), rng);
        std::shuffle(w->fresh.begin(), w->fresh.end(), rng);
    }
    return *w;
}

struct loop_clock {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    [[nodiscard]] double ns() const {
        return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    }
};

// The next burst's position in a stream of n keys (n a multiple of the
// burst, as every size here: a burst never wraps). Not a modulo: a
// division per key cost every row here 1-2 ns a learn (SWX's 1K re-learns:
// 17.7 -> 15.6 ns without it).
static_assert(1024 % burst == 0, "the sizes are multiples of the burst");
std::size_t next_burst(std::size_t pos, std::size_t n) {
    pos += burst;
    return pos == n ? 0 : pos;
}

void set_counters(benchmark::State& state, double ns, double bytes_per_flow) {
    const double n = static_cast<double>(state.iterations()) * burst;
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
    state.counters["ns_per_learn"] = ns / n;
    state.counters["bytes_per_flow"] = bytes_per_flow;
}

// The timed loop of the add rows: each iteration, learn_burst(pos) learns
// the 32 MACs from position pos of the F fresh ones; when they run out,
// undo(n) removes the first n again outside the timed region (and once at
// the end). Returns the timed ns.
template <class LearnBurst, class Undo>
double timed_adds(benchmark::State& state, std::size_t fresh, LearnBurst&& learn_burst, Undo&& undo) {
    std::size_t pos = 0;
    double ns = 0;
    loop_clock clock;
    for (auto _ : state) {
        if (pos + burst > fresh) {
            ns += clock.ns();
            state.PauseTiming();
            undo(pos);
            pos = 0;
            state.ResumeTiming();
            clock = loop_clock{};
        }
        learn_burst(pos);
        pos += burst;
    }
    ns += clock.ns();
    undo(pos);
    return ns;
}

// ---------------------------------------------------------------------------
// flowpipe: br-tun's typed table-10 learn into table 20

fp::flow_key packet_key(std::uint64_t mac) { return fp::bench::learn_packet_key(mac); }

// New MACs an add row learns before they are removed again (outside timing).
std::size_t fresh_of(std::size_t flows) { return std::min<std::size_t>(flows, 65536); }

// Table 20 sized for the N learned flows, the fresh ones and its catch-all;
// its exact index for `room` times that many (table_config::index_flows).
fp::pipeline_config config_for(std::size_t flows, std::size_t extra, std::size_t room = 1) {
    fp::pipeline_config c;
    const std::size_t max = flows + extra + 1;
    c.tables.emplace_back(std::uint8_t{20}, fp::table_config{max, fp::overflow_policy::refuse, room * max});
    return c;
}

template <class P = br_tun>
struct fp_setup {
    std::unique_ptr<P> p;
    fp::neutron::learn_ucast learn{};
};

template <class P = br_tun, std::size_t Room = 1>
fp_setup<P>& flowpipe_table(std::size_t flows) {
    static std::map<std::size_t, std::unique_ptr<fp_setup<P>>> cache;
    auto& s = cache[flows];
    if (!s) {
        s = std::make_unique<fp_setup<P>>();
        s->p = std::make_unique<P>(config_for(flows, fresh_of(flows), Room));
        auto& t = s->p->template table<20>();
        if (!t.add(fp::match{}, 0, fp::action_list<fp::actions::resubmit_to<22>>{}, {}, 0)) std::abort();
        for (std::uint64_t mac : get_workload(flows).present)
            if (s->learn.install(t, packet_key(mac), 0) != fp::learn_result::added) std::abort();
    }
    return *s;
}

// Removes the flows the first n MACs of `stream` learned into table t
// (outside timing: the add rows go back to their N present flows).
template <class Table>
void remove_learned(Table& t, const std::vector<std::uint64_t>& stream, std::size_t n) {
    fp::flow_key k = packet_key(0);
    for (std::size_t i = 0; i < n; ++i) {
        k.eth_src = stream[i];
        typename Table::key_type v, m;
        fp::neutron::learn_ucast::build_match<typename Table::schema_type>(k, v, m);
        // (Not find_strict first: in a store table that moves the record
        // into the slab, and the remove takes records as they are.)
        t.remove(Table::schema_type::unpack(v, m), true, fp::neutron::learn_ucast::priority);
    }
}

// Bytes table 20 spends per learned flow it holds (N), by part: its slab
// (sized by the flows it has held), its exact index (exact_id_index: tags
// and flow ids, the keys are in the flows) and its timer wheel (64 KiB of
// slot heads; the per-flow links are inside the flow).
struct fp_memory {
    double flow, index, timers, total;
};
template <class P = br_tun, std::size_t Room = 1>
fp_memory flowpipe_memory(std::size_t flows) {
    auto& t = flowpipe_table<P, Room>(flows).p->template table<20>();
    const double n = static_cast<double>(flows);
    const double held = static_cast<double>(flows + fresh_of(flows) + 1);
    fp_memory m{};
    m.index = static_cast<double>(t.index_memory_bytes()) / n;
    m.timers = static_cast<double>(t.timers().memory_bytes()) / n;
    if constexpr (table20_of<P>::store_mode) {
        // Records (and the slab, free lists and timer heads) as allocated:
        // the add rows held N + F of them.
        m.flow = static_cast<double>(t.memory_bytes()) / n - m.index - m.timers;
    } else {
        m.flow = std::ceil(held / 1024.0) * 1024.0 * sizeof(typename table20_of<P>::flow_type) / n;
    }
    m.total = m.flow + m.index + m.timers;
    return m;
}

template <class P = br_tun>
void bm_flowpipe_refresh(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    fp_setup<P>& s = flowpipe_table<P>(flows);
    auto& t = s.p->template table<20>();
    const auto& stream = get_workload(flows).present;
    std::array<fp::flow_key, burst> keys;
    keys.fill(packet_key(0));
    std::size_t pos = 0, refreshed = 0;
    std::int64_t now = 1;
    const loop_clock clock;
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) keys[i].eth_src = stream[pos + i];
        for (std::size_t i = 0; i < burst; ++i)
            refreshed += s.learn.install(t, keys[i], now) == fp::learn_result::refreshed;
        pos = next_burst(pos, stream.size());
        ++now;
    }
    const double ns = clock.ns();
    if (refreshed != state.iterations() * burst) state.SkipWithError("a re-learn was not a refresh");
    set_counters(state, ns, flowpipe_memory<P>(flows).total);
}

template <class P = br_tun>
void bm_flowpipe_add(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    fp_setup<P>& s = flowpipe_table<P>(flows);
    auto& t = s.p->template table<20>();
    const auto& fresh = get_workload(flows).fresh;
    const std::vector<std::uint64_t> stream(fresh.begin(),
                                            fresh.begin() + static_cast<std::ptrdiff_t>(fresh_of(flows)));
    std::array<fp::flow_key, burst> keys;
    keys.fill(packet_key(0));
    std::size_t added = 0;
    const double ns = timed_adds(
        state, stream.size(),
        [&](std::size_t pos) {
            for (std::size_t i = 0; i < burst; ++i) keys[i].eth_src = stream[pos + i];
            for (std::size_t i = 0; i < burst; ++i) added += s.learn.install(t, keys[i], 1) == fp::learn_result::added;
        },
        [&](std::size_t n) { remove_learned(t, stream, n); }); // back to the N present flows
    if (added != state.iterations() * burst) state.SkipWithError("a learn of a new MAC did not add");
    set_counters(state, ns, flowpipe_memory<P>(flows).total);
}

// The same two, through learn's burst form (probe all 32, then install);
// Room: table 20's index sized for that many times its flows.
template <std::size_t Room = 1>
void bm_flowpipe_refresh_burst(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    fp_setup<>& s = flowpipe_table<br_tun, Room>(flows);
    auto& t = s.p->table<20>();
    const auto& stream = get_workload(flows).present;
    std::array<fp::flow_key, burst> keys;
    keys.fill(packet_key(0));
    std::array<const fp::flow_key*, burst> ptrs;
    for (std::size_t i = 0; i < burst; ++i) ptrs[i] = &keys[i];
    fp::learn_result res[burst];
    std::size_t pos = 0, refreshed = 0;
    std::int64_t now = 1;
    const loop_clock clock;
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) keys[i].eth_src = stream[pos + i];
        s.learn.install_burst(t, ptrs.data(), burst, now, res);
        for (std::size_t i = 0; i < burst; ++i) refreshed += res[i] == fp::learn_result::refreshed;
        pos = next_burst(pos, stream.size());
        ++now;
    }
    const double ns = clock.ns();
    if (refreshed != state.iterations() * burst) state.SkipWithError("a re-learn was not a refresh");
    set_counters(state, ns, flowpipe_memory<br_tun, Room>(flows).total);
}

template <std::size_t Room = 1>
void bm_flowpipe_add_burst(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    fp_setup<>& s = flowpipe_table<br_tun, Room>(flows);
    auto& t = s.p->table<20>();
    const auto& fresh = get_workload(flows).fresh;
    const std::vector<std::uint64_t> stream(fresh.begin(),
                                            fresh.begin() + static_cast<std::ptrdiff_t>(fresh_of(flows)));
    std::array<fp::flow_key, burst> keys;
    keys.fill(packet_key(0));
    std::array<const fp::flow_key*, burst> ptrs;
    for (std::size_t i = 0; i < burst; ++i) ptrs[i] = &keys[i];
    fp::learn_result res[burst];
    std::size_t added = 0;
    const double ns = timed_adds(
        state, stream.size(),
        [&](std::size_t pos) {
            for (std::size_t i = 0; i < burst; ++i) keys[i].eth_src = stream[pos + i];
            s.learn.install_burst(t, ptrs.data(), burst, 1, res);
            for (std::size_t i = 0; i < burst; ++i) added += res[i] == fp::learn_result::added;
        },
        [&](std::size_t n) { remove_learned(t, stream, n); }); // back to the N present flows
    if (added != state.iterations() * burst) state.SkipWithError("a learn of a new MAC did not add");
    set_counters(state, ns, flowpipe_memory<br_tun, Room>(flows).total);
}

// Tables 0, 4 and 10 of br-tun: from the tunnel, set the local VLAN, learn, out to patch-int.
void install_tunnel_path(br_tun& p) {
    auto& t0 = p.table<0>();
    if (t0.size() == 0) {
        using namespace fp;
        (void)t0.add(match{}.set(field_id::in_port, tun_port), 1, action_list<actions::resubmit_to<4>>{}, {}, 0);
        (void)p.table<4>().add(match{}.set(field_id::tun_id, seg), 1, neutron::tun_to_lv_actions{{lvid}, {}}, {}, 0);
        (void)p.table<10>().add(match{}, 1, neutron::learn_from_tun_actions{{}, {patch_int}}, {}, 0);
    }
}

// Whole frames from a tunnel through the br-tun pipeline, all re-learning.
void bm_flowpipe_pipeline(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    fp_setup<>& s = flowpipe_table(flows);
    br_tun& p = *s.p;
    install_tunnel_path(p);
    const auto& stream = get_workload(flows).present;
    std::vector<std::array<std::uint8_t, 128>> bufs(burst);
    std::array<fp::packet, burst> pkts;
    fp::burst_output out;
    std::size_t pos = 0;
    std::int64_t now = 1;
    const loop_clock clock;
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) {
            fp::flow_key k = packet_key(stream[pos + i]);
            k.vlan_tci = 0;
            k.nw_ttl = 64;
            const std::size_t len = fp::compose_frame(k, std::span<std::uint8_t>(bufs[i].data() + 32, 96));
            pkts[i] = fp::packet{bufs[i].data() + 32, static_cast<std::uint32_t>(len), 32, tun_port, 0, seg, 0, 0};
        }
        p.run(pkts, now++, out);
        pos = next_burst(pos, stream.size());
    }
    const double ns = clock.ns();
    if (out.on_port(patch_int).size() != burst) state.SkipWithError("frames did not reach patch-int");
    set_counters(state, ns, flowpipe_memory(flows).total);
}

// The pipeline's own learn path: bursts of 32 frames from a tunnel through
// br-tun (tables 0, 4, 10: the learn into table 20, output), framed before
// the timed region (each burst copies its frames from a ready copy, as the
// pipeline rewrites them in place), with the engine's default (learns into
// a big table 20 staged and installed per burst) or, with immediate_learns
// hooks, each learn installed as its packet runs. Add: every frame's source
// MAC is new (removed again outside timing, as the add rows do). Refresh:
// every frame re-learns a known MAC.
template <bool Add, class Hooks>
void bm_flowpipe_learn_pipeline(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    fp_setup<>& s = flowpipe_table(flows);
    br_tun& p = *s.p;
    install_tunnel_path(p);
    auto& t = p.table<20>();
    const auto& w = get_workload(flows);
    const std::vector<std::uint64_t> stream =
        Add ? std::vector<std::uint64_t>(w.fresh.begin(),
                                         w.fresh.begin() + static_cast<std::ptrdiff_t>(fresh_of(flows)))
            : w.present;
    // Frames are built a round of `frames` packets at a time, outside timing.
    constexpr std::size_t room = 128, head = 32;
    const std::size_t frames = std::min<std::size_t>(4096, stream.size());
    std::vector<std::array<std::uint8_t, room>> ready(frames), bufs(burst);
    std::vector<std::uint32_t> lens(frames);
    auto frame_round = [&](std::size_t first) {
        for (std::size_t i = 0; i < frames; ++i) {
            fp::flow_key k = packet_key(stream[(first + i) % stream.size()]);
            k.vlan_tci = 0;
            k.nw_ttl = 64;
            lens[i] = static_cast<std::uint32_t>(
                fp::compose_frame(k, std::span<std::uint8_t>(ready[i].data() + head, room - head)));
        }
    };
    std::array<fp::packet, burst> pkts;
    fp::burst_output out;
    std::size_t pos = 0, done = 0, added = 0;
    std::int64_t now = 1;
    const std::size_t size_before = t.size();
    auto undo = [&] { // back to the N present flows
        remove_learned(t, stream, pos);
        pos = 0;
    };
    frame_round(0);
    double ns = 0;
    loop_clock clock;
    for (auto _ : state) {
        if (pos % frames == 0 && pos != 0) { // new frames (and, adding, room in table 20)
            ns += clock.ns();
            state.PauseTiming();
            if (Add && pos + frames > stream.size()) {
                added += t.size() - size_before;
                undo();
            }
            frame_round(pos);
            state.ResumeTiming();
            clock = loop_clock{};
        }
        const std::size_t at = pos % frames;
        for (std::size_t i = 0; i < burst; ++i) {
            std::memcpy(bufs[i].data(), ready[at + i].data(), room);
            pkts[i] = fp::packet{bufs[i].data() + head, lens[at + i], head, tun_port, 0, seg, 0, 0};
        }
        p.run(pkts, Add ? 1 : now++, out, Hooks{});
        done += out.on_port(patch_int).size();
        pos += burst;
    }
    ns += clock.ns();
    if (Add) {
        added += t.size() - size_before;
        undo();
        if (added != done) state.SkipWithError("a learn of a new MAC did not add");
    }
    if (done != state.iterations() * burst) state.SkipWithError("frames did not reach patch-int");
    set_counters(state, ns, flowpipe_memory(flows).total);
}

// 1M random source MACs through table 10's learn with limit=65536.
void bm_flowpipe_mac_flood(benchmark::State& state) {
    constexpr std::size_t limit = 65536, macs = 1 << 20;
    fp::neutron::learn_ucast learn{};
    learn.limit = limit;
    std::mt19937_64 rng(42);
    std::vector<std::uint64_t> stream(macs);
    for (auto& m : stream) m = (rng() & 0xfeffffffffffULL); // unicast, random
    std::size_t max_size = 0;
    double ns = 0;
    std::uint64_t refused = 0, learns = 0;
    for (auto _ : state) {
        br_tun p(config_for(limit, 0));
        auto& t = p.table<20>();
        learn = fp::neutron::learn_ucast{};
        learn.limit = limit;
        fp::flow_key k = packet_key(0);
        const loop_clock clock;
        for (std::size_t i = 0; i < macs; ++i) {
            k.eth_src = stream[i];
            learn.install(t, k, 1);
        }
        ns += clock.ns();
        max_size = std::max(max_size, t.size());
        refused += learn.stats().refused_limit;
        learns += macs;
        state.counters["flows_after"] = static_cast<double>(t.size());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(learns));
    state.counters["ns_per_learn"] = ns / static_cast<double>(learns);
    state.counters["refused"] = static_cast<double>(refused) / static_cast<double>(state.iterations());
    state.counters["max_flows"] = static_cast<double>(max_size);
    state.counters["limit"] = limit;
}

// ---------------------------------------------------------------------------
// DPDK's SWX learner table

#if FLOWPIPE_HAVE_DPDK
struct swx_setup {
    void* table = nullptr;
    std::uint64_t footprint = 0;
    std::uint32_t capacity = 0;
    std::size_t prefill_failed = 0; // keys whose 4-key bucket was full
    std::vector<std::unique_ptr<std::uint8_t[]>> mailboxes;
};

struct swx_key {
    alignas(16) std::uint8_t b[16];
};
swx_key swx_key_of(std::uint64_t mac) {
    swx_key k{};
    const std::uint64_t w = (std::uint64_t{lvid} << 48) | mac;
    std::memcpy(k.b, &w, 8);
    return k;
}

struct swx_data {
    std::uint64_t tun_id;
    std::uint32_t port;
    std::uint32_t pad;
};

swx_setup& swx_table(std::size_t flows) {
    static std::map<std::size_t, std::unique_ptr<swx_setup>> cache;
    auto& s = cache[flows];
    if (!s) {
        s = std::make_unique<swx_setup>();
        static std::uint32_t timeout[] = {300};
        rte_swx_table_learner_params prm{};
        prm.key_size = 16;
        prm.key_offset = 0;
        prm.key_mask0 = nullptr;
        prm.action_data_size = sizeof(swx_data);
        prm.hash_func = nullptr;
        // N: the SWX learner gives every key of n_keys_max (a power of two) a
        // bucket of 4 slots, so N keys sit at load 1/4 and N + fresh ones fit.
        // 2N would not fit EAL's 512 MB at 1M (256 bytes per key).
        prm.n_keys_max = static_cast<std::uint32_t>(flows);
        prm.key_timeout = timeout;
        prm.n_key_timeouts = 1;
        s->capacity = prm.n_keys_max;
        s->footprint = rte_swx_table_learner_footprint_get(&prm);
        s->table = rte_swx_table_learner_create(&prm, 0);
        if (s->table == nullptr) {
            std::fprintf(stderr, "rte_swx_table_learner_create(%zu keys) failed\n", flows);
            std::abort();
        }
        const std::size_t mb = rte_swx_table_learner_mailbox_size_get();
        for (std::size_t i = 0; i < burst; ++i) {
            s->mailboxes.push_back(std::make_unique<std::uint8_t[]>(mb + 64));
            std::memset(s->mailboxes.back().get(), 0, mb + 64);
        }
        const std::uint64_t now = rte_get_tsc_cycles();
        for (std::uint64_t mac : get_workload(flows).present) {
            swx_key k = swx_key_of(mac);
            std::uint8_t* kp = k.b;
            std::uint64_t action_id;
            std::uint8_t* data;
            std::size_t entry;
            int hit = 0;
            while (!rte_swx_table_learner_lookup(s->table, s->mailboxes[0].get(), now, &kp, &action_id, &data, &entry,
                                                 &hit)) {}
            swx_data d{seg, tun_port, 0};
            if (hit) std::abort();
            s->prefill_failed += rte_swx_table_learner_add(s->table, s->mailboxes[0].get(), now, 1,
                                                           reinterpret_cast<std::uint8_t*>(&d), 0) != 0;
        }
    }
    return *s;
}

// One burst: all lookups started, then completed, then `op` per key.
template <class Op>
void swx_burst(swx_setup& s, swx_key* keys, std::uint64_t now, int* hits, Op&& op) {
    std::uint8_t* kp[burst];
    std::uint64_t action_id[burst];
    std::uint8_t* data[burst];
    std::size_t entry[burst];
    int done[burst];
    for (std::size_t i = 0; i < burst; ++i) {
        kp[i] = keys[i].b;
        done[i] = rte_swx_table_learner_lookup(s.table, s.mailboxes[i].get(), now, &kp[i], &action_id[i], &data[i],
                                               &entry[i], &hits[i]);
    }
    for (std::size_t i = 0; i < burst; ++i) {
        while (!done[i])
            done[i] = rte_swx_table_learner_lookup(s.table, s.mailboxes[i].get(), now, &kp[i], &action_id[i], &data[i],
                                                   &entry[i], &hits[i]);
        op(i, hits[i]);
    }
}

void bm_swx_rearm(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    swx_setup& s = swx_table(flows);
    const auto& stream = get_workload(flows).present;
    std::array<swx_key, burst> keys;
    int hits[burst];
    std::size_t pos = 0, rearmed = 0;
    const std::uint64_t t0 = rte_get_tsc_cycles();
    std::uint64_t now = t0;
    const loop_clock clock;
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) keys[i] = swx_key_of(stream[pos + i]);
        swx_burst(s, keys.data(), now, hits, [&](std::size_t i, int hit) {
            if (hit) {
                rte_swx_table_learner_rearm(s.table, s.mailboxes[i].get(), now);
                ++rearmed;
            }
        });
        pos = next_burst(pos, stream.size());
        now += 1000;
    }
    const double ns = clock.ns();
    // Keys the prefill could not add miss here (no rearm, but a lookup).
    state.counters["prefill_failed"] = static_cast<double>(s.prefill_failed);
    state.counters["missed"] = static_cast<double>(state.iterations() * burst - rearmed);
    set_counters(state, ns, static_cast<double>(s.footprint) / static_cast<double>(flows));
}

void bm_swx_add(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    swx_setup& s = swx_table(flows);
    const auto& fresh = get_workload(flows).fresh;
    const std::vector<std::uint64_t> stream(fresh.begin(),
                                            fresh.begin() + static_cast<std::ptrdiff_t>(fresh_of(flows)));
    std::array<swx_key, burst> keys;
    int hits[burst];
    std::size_t added = 0;
    const std::uint64_t now = rte_get_tsc_cycles();
    swx_data d{seg, tun_port, 0};
    const double ns = timed_adds(
        state, stream.size(),
        [&](std::size_t pos) {
            for (std::size_t i = 0; i < burst; ++i) keys[i] = swx_key_of(stream[pos + i]);
            swx_burst(s, keys.data(), now, hits, [&](std::size_t i, int hit) {
                if (!hit)
                    added += rte_swx_table_learner_add(s.table, s.mailboxes[i].get(), now, 1,
                                                       reinterpret_cast<std::uint8_t*>(&d), 0) == 0;
            });
        },
        [&](std::size_t n) {
            for (std::size_t base = 0; base + burst <= n; base += burst) {
                for (std::size_t i = 0; i < burst; ++i) keys[i] = swx_key_of(stream[base + i]);
                swx_burst(s, keys.data(), now, hits, [&](std::size_t i, int hit) {
                    if (hit) rte_swx_table_learner_delete(s.table, s.mailboxes[i].get()); // else its add failed
                });
            }
        });
    // The SWX learner has no overflow: an add into a full 4-key bucket fails.
    state.counters["add_failed"] = static_cast<double>(state.iterations() * burst - added);
    set_counters(state, ns, static_cast<double>(s.footprint) / static_cast<double>(flows));
}
#endif

// ---------------------------------------------------------------------------
// Abseil's flat_hash_map as a learner: a general-purpose hash map doing the
// same learns, for scale (no timers, counters or OpenFlow semantics): the
// key (VLAN and MAC in 64 bits) maps to the learned tun_id and port and the
// time of the last learn. A burst prefetches its 32 keys' groups first
// (flat_hash_map::prefetch), then learns them in order: a re-learn finds the
// key, compares the values and moves the time; a new MAC is one try_emplace.
// Reserved for N + F keys, so nothing rehashes while timed.

#if FLOWPIPE_HAVE_ABSL
struct absl_learned {
    std::uint64_t tun_id;
    std::uint32_t port;
    std::uint32_t modified;
};
using absl_learner = absl::flat_hash_map<std::uint64_t, absl_learned>;

std::uint64_t absl_key_of(std::uint64_t mac) { return (std::uint64_t{lvid} << 48) | mac; }

absl_learner& absl_table(std::size_t flows) {
    static std::map<std::size_t, std::unique_ptr<absl_learner>> cache;
    auto& m = cache[flows];
    if (!m) {
        m = std::make_unique<absl_learner>();
        m->reserve(flows + fresh_of(flows));
        for (std::uint64_t mac : get_workload(flows).present)
            m->try_emplace(absl_key_of(mac), absl_learned{seg, tun_port, 0});
    }
    return *m;
}

double absl_bytes_per_flow(const absl_learner& m, std::size_t flows) {
    // A slot per capacity, plus a control byte each (and a group's worth of clones).
    return static_cast<double>(m.capacity() * (sizeof(absl_learner::value_type) + 1)) / static_cast<double>(flows);
}

void bm_absl_refresh(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    absl_learner& m = absl_table(flows);
    const auto& stream = get_workload(flows).present;
    std::array<std::uint64_t, burst> keys;
    std::size_t pos = 0, refreshed = 0;
    std::uint32_t now = 1;
    const loop_clock clock;
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) {
            keys[i] = absl_key_of(stream[pos + i]);
            m.prefetch(keys[i]);
        }
        for (std::size_t i = 0; i < burst; ++i) {
            const auto it = m.find(keys[i]);
            if (it != m.end() && it->second.tun_id == seg && it->second.port == tun_port) {
                it->second.modified = now;
                ++refreshed;
            }
        }
        pos = next_burst(pos, stream.size());
        ++now;
    }
    const double ns = clock.ns();
    if (refreshed != state.iterations() * burst) state.SkipWithError("a re-learn was not a refresh");
    set_counters(state, ns, absl_bytes_per_flow(m, flows));
}

void bm_absl_add(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    absl_learner& m = absl_table(flows);
    const auto& fresh = get_workload(flows).fresh;
    const std::vector<std::uint64_t> stream(fresh.begin(),
                                            fresh.begin() + static_cast<std::ptrdiff_t>(fresh_of(flows)));
    std::array<std::uint64_t, burst> keys;
    std::size_t added = 0;
    const double ns = timed_adds(
        state, stream.size(),
        [&](std::size_t pos) {
            for (std::size_t i = 0; i < burst; ++i) {
                keys[i] = absl_key_of(stream[pos + i]);
                m.prefetch(keys[i]);
            }
            for (std::size_t i = 0; i < burst; ++i)
                added += m.try_emplace(keys[i], absl_learned{seg, tun_port, 1}).second;
        },
        [&](std::size_t n) { // back to the N present keys
            for (std::size_t i = 0; i < n; ++i) m.erase(absl_key_of(stream[i]));
        });
    if (added != state.iterations() * burst) state.SkipWithError("a learn of a new MAC did not add");
    set_counters(state, ns, absl_bytes_per_flow(m, flows));
}
#endif

constexpr std::int64_t sizes[] = {1024, 65536, 1048576};

void register_all() {
    for (std::int64_t flows : sizes) {
        benchmark::RegisterBenchmark("flowpipe_learn_add", bm_flowpipe_add<>)->Arg(flows)->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_add_burst", bm_flowpipe_add_burst<>)->Arg(flows)->ArgName("flows");
#if FLOWPIPE_HAVE_DPDK
        benchmark::RegisterBenchmark("swx_learner_add", bm_swx_add)->Arg(flows)->ArgName("flows");
#endif
        benchmark::RegisterBenchmark("flowpipe_learn_refresh", bm_flowpipe_refresh<>)->Arg(flows)->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_add_agent", bm_flowpipe_add<br_tun_agent>)
            ->Arg(flows)
            ->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_refresh_agent", bm_flowpipe_refresh<br_tun_agent>)
            ->Arg(flows)
            ->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_refresh_burst", bm_flowpipe_refresh_burst<>)
            ->Arg(flows)
            ->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_add_burst_room2", bm_flowpipe_add_burst<2>)
            ->Arg(flows)
            ->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_refresh_burst_room2", bm_flowpipe_refresh_burst<2>)
            ->Arg(flows)
            ->ArgName("flows");
#if FLOWPIPE_HAVE_DPDK
        benchmark::RegisterBenchmark("swx_learner_rearm", bm_swx_rearm)->Arg(flows)->ArgName("flows");
#endif
#if FLOWPIPE_HAVE_ABSL
        benchmark::RegisterBenchmark("absl_learn_add", bm_absl_add)->Arg(flows)->ArgName("flows");
        benchmark::RegisterBenchmark("absl_learn_refresh", bm_absl_refresh)->Arg(flows)->ArgName("flows");
#endif
        benchmark::RegisterBenchmark("flowpipe_br_tun_learn", bm_flowpipe_pipeline)->Arg(flows)->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_pipeline_add", bm_flowpipe_learn_pipeline<true, fp::no_hooks>)
            ->Arg(flows)
            ->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_pipeline_add_immediate",
                                     bm_flowpipe_learn_pipeline<true, fp::immediate_learns>)
            ->Arg(flows)
            ->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_pipeline_refresh", bm_flowpipe_learn_pipeline<false, fp::no_hooks>)
            ->Arg(flows)
            ->ArgName("flows");
        benchmark::RegisterBenchmark("flowpipe_learn_pipeline_refresh_immediate",
                                     bm_flowpipe_learn_pipeline<false, fp::immediate_learns>)
            ->Arg(flows)
            ->ArgName("flows");
    }
    benchmark::RegisterBenchmark("flowpipe_mac_flood", bm_flowpipe_mac_flood)->Iterations(2);
}

} // namespace

int main(int argc, char** argv) {
    if (!flowpipe::bench::start_dpdk(argv[0])) return 1;
    int rounds = 1;
    const auto per_round = flowpipe::bench::run_rounds(argc, argv, register_all, rounds);
    if (per_round.empty()) return 1;

    std::printf("\nflowpipe table-20 memory per learned flow (N held, sized for N + F + 1), by part (learned flows "
                "are %zu-byte records, lookup::exact_learned; a general flow, as the catch-all, is the slab's):\n",
                sizeof(table20::record));
    std::printf("  sizeof(flow) %zu bytes: value %zu (+ mask %zu only in masked schemas) + priority 2 + cookie 8 + "
                "timeouts 4 + created/modified/used 24"
                " + n_packets/n_bytes 16 + actions variant %zu + id/next_same_key/timer links 16 + live/catch-all 2 + "
                "padding\n",
                sizeof(table20::flow_type), sizeof(table20::key_type), sizeof(table20::key_type),
                sizeof(table20::actions_type));
    for (std::int64_t flows : sizes) {
        const std::string row = "flowpipe_learn_refresh/flows:" + std::to_string(flows);
        if (!per_round[0].count(row) && !per_round[0].count("flowpipe_learn_add/flows:" + std::to_string(flows)))
            continue;
        const fp_memory m = flowpipe_memory(static_cast<std::size_t>(flows));
        std::printf("  %7lld flows: records and flow slab %.1f + exact index %.1f + slab timer wheel %.1f = %.1f "
                    "bytes/flow\n",
                    static_cast<long long>(flows), m.flow, m.index, m.timers, m.total);
    }

    std::printf("\nThe agent's br_tun (table 20 masked: l2pop flows in the tuple space, learned ones in its exact side "
                "index), memory per learned flow:\n");
    for (std::int64_t flows : sizes) {
        const std::string n = std::to_string(flows);
        if (!per_round[0].count("flowpipe_learn_refresh_agent/flows:" + n) &&
            !per_round[0].count("flowpipe_learn_add_agent/flows:" + n))
            continue;
        const fp_memory m = flowpipe_memory<br_tun_agent>(static_cast<std::size_t>(flows));
        std::printf("  %7lld flows: records and flow slab %.1f + tuple space and exact side index %.1f + slab timer "
                    "wheel %.1f = %.1f bytes/flow\n",
                    static_cast<long long>(flows), m.flow, m.index, m.timers, m.total);
    }

    std::printf("\nMedian over %d round(s): learns/s (M) and the per-round ratio flowpipe/SWX learner\n", rounds);
    std::printf("%-10s %9s %9s %9s %7s %7s %9s %9s %9s %7s %7s\n", "flows", "fp add", "fp add/b", "swx add", "ratio",
                "ratio/b", "fp refr", "fp refr/b", "swx rearm", "ratio", "ratio/b");
    for (std::int64_t flows : sizes) {
        const std::string n = std::to_string(flows);
        const flowpipe::bench::rounds_of r(per_round, "/flows:" + n);
        const std::string add = "flowpipe_learn_add", addb = "flowpipe_learn_add_burst", swx_add = "swx_learner_add",
                          refr = "flowpipe_learn_refresh", refrb = "flowpipe_learn_refresh_burst",
                          swx_rearm = "swx_learner_rearm";
        if (!r.ran(add) && !r.ran(refr) && !r.ran(addb) && !r.ran(refrb)) continue;
        std::printf("%-10s %9.2f %9.2f %9.2f %7.2f %7.2f %9.2f %9.2f %9.2f %7.2f %7.2f\n", n.c_str(), r.rate(add),
                    r.rate(addb), r.rate(swx_add), r.ratio(add, swx_add), r.ratio(addb, swx_add), r.rate(refr),
                    r.rate(refrb), r.rate(swx_rearm), r.ratio(refr, swx_rearm), r.ratio(refrb, swx_rearm));
    }
    std::printf("\nTable 20's exact index with room (table_config::index_flows = 2 x max_flows), bursts: M learns/s, "
                "the per-round ratio to the SWX learner, and bytes per learned flow (and with the default index)\n");
    std::printf("%-10s %9s %7s %9s %7s %9s %9s\n", "flows", "add/b", "ratio", "refr/b", "ratio", "bytes", "default");
    for (std::int64_t flows : sizes) {
        const std::string n = std::to_string(flows);
        const flowpipe::bench::rounds_of r(per_round, "/flows:" + n);
        const std::string add = "flowpipe_learn_add_burst_room2", refr = "flowpipe_learn_refresh_burst_room2";
        if (!r.ran(add) && !r.ran(refr)) continue;
        const auto size = static_cast<std::size_t>(flows);
        std::printf("%-10s %9.2f %7.2f %9.2f %7.2f %9.1f %9.1f\n", n.c_str(), r.rate(add),
                    r.ratio(add, "swx_learner_add"), r.rate(refr), r.ratio(refr, "swx_learner_rearm"),
                    flowpipe_memory<br_tun, 2>(size).total, flowpipe_memory(size).total);
    }
    std::printf(
        "\nAbseil's flat_hash_map doing the same learns (a key to its values and a time; no timers, counters or "
        "OpenFlow semantics), M learns/s, and the per-round ratios to it of flowpipe (per packet / burst) and "
        "of the SWX learner\n");
    std::printf("%-10s %9s %7s %7s %7s %9s %7s %7s %7s\n", "flows", "absl add", "fp", "fp/b", "swx", "absl refr", "fp",
                "fp/b", "swx");
    for (std::int64_t flows : sizes) {
        const std::string n = std::to_string(flows);
        const flowpipe::bench::rounds_of r(per_round, "/flows:" + n);
        const std::string add = "absl_learn_add", refr = "absl_learn_refresh";
        if (!r.ran(add) && !r.ran(refr)) continue;
        std::printf("%-10s %9.2f %7.2f %7.2f %7.2f %9.2f %7.2f %7.2f %7.2f\n", n.c_str(), r.rate(add),
                    r.ratio("flowpipe_learn_add", add), r.ratio("flowpipe_learn_add_burst", add),
                    r.ratio("swx_learner_add", add), r.rate(refr), r.ratio("flowpipe_learn_refresh", refr),
                    r.ratio("flowpipe_learn_refresh_burst", refr), r.ratio("swx_learner_rearm", refr));
    }
    std::printf("\nThe same learns per packet into the agent's br_tun table 20 (masked), and the per-round ratio to "
                "SWX\n");
    std::printf("%-10s %9s %7s %9s %7s\n", "flows", "add", "ratio", "refr", "ratio");
    for (std::int64_t flows : sizes) {
        const std::string n = std::to_string(flows);
        const flowpipe::bench::rounds_of r(per_round, "/flows:" + n);
        const std::string add = "flowpipe_learn_add_agent", refr = "flowpipe_learn_refresh_agent";
        if (!r.ran(add) && !r.ran(refr)) continue;
        std::printf("%-10s %9.2f %7.2f %9.2f %7.2f\n", n.c_str(), r.rate(add), r.ratio(add, "swx_learner_add"),
                    r.rate(refr), r.ratio(refr, "swx_learner_rearm"));
    }
    std::printf("\nThe pipeline's learn path (frames through br-tun tables 0, 4, 10): packets/s (M), learns staged per"
                " burst (engine default) and installed at once (immediate_learns), and the per-round ratio to SWX\n");
    std::printf("%-10s %9s %9s %7s %7s %9s %9s %7s %7s %9s\n", "flows", "add", "add imm", "st/imm", "st/swx", "refr",
                "refr imm", "st/imm", "st/swx", "br_tun");
    for (std::int64_t flows : sizes) {
        const std::string n = std::to_string(flows);
        const flowpipe::bench::rounds_of r(per_round, "/flows:" + n);
        const std::string add = "flowpipe_learn_pipeline_add", add_imm = "flowpipe_learn_pipeline_add_immediate",
                          refr = "flowpipe_learn_pipeline_refresh",
                          refr_imm = "flowpipe_learn_pipeline_refresh_immediate";
        if (!r.ran(add) && !r.ran(refr)) continue;
        std::printf("%-10s %9.2f %9.2f %7.2f %7.2f %9.2f %9.2f %7.2f %7.2f %9.2f\n", n.c_str(), r.rate(add),
                    r.rate(add_imm), r.ratio(add, add_imm), r.ratio(add, "swx_learner_add"), r.rate(refr),
                    r.rate(refr_imm), r.ratio(refr, refr_imm), r.ratio(refr, "swx_learner_rearm"),
                    r.rate("flowpipe_br_tun_learn"));
    }
    benchmark::Shutdown();
    flowpipe::bench::stop_dpdk();
    return 0;
}
