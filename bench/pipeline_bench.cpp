// Whole-pipeline throughput: the typed br-tun core (tables 0 -> 2 -> 20,
// strip the tag, set the tunnel id, output) on bursts of 32 unicast frames
// from patch-int to known MACs, with 1K, 64K and 1M MACs in table 20.
//
// Every frame is restored before each run (the pipeline pops its VLAN tag in
// place); BM_restore_only measures that copy alone so it can be subtracted.
//
// BM_br_tun_unicast_cached is the same pipeline with its flow cache on
// (pipeline/flow_cache.hpp; 8192 entries, Open vSwitch's EMC size): the 4096
// distinct frames cycled through hit the cache after their first pass, as an
// OVS-DPDK EMC would be hit by the same traffic. Rows report the cache's hit
// rate beside ns/packet.
//
// BM_br_tun_mixed[_cached]: one frame in four comes from a tunnel instead
// (tables 0 -> 4 -> 10: set the local VLAN, learn the sender into table 20,
// output to patch-int), as with traffic both ways. Those walks learn, so they
// are never cached; their learns refresh flows already there, which leaves
// the cache valid for the other three.
// The peer for whole switches (OVS-DPDK on the same DPDK devices) is measured
// by bench/ scripts of the I/O issue; this binary isolates the pipeline.
#include <flowpipe/core/compose.hpp>
#include <flowpipe/neutron/br_tun.hpp>

#include <benchmark/benchmark.h>

#include <array>
#include <random>
#include <vector>

namespace fp = flowpipe;
namespace nt = flowpipe::neutron;
using namespace fp::actions;

namespace {

constexpr std::uint32_t patch_int = 1;
constexpr std::size_t burst = 32;
constexpr std::size_t frame_pool = 4096; // distinct frames cycled through (random MACs)

struct setup {
    nt::br_tun_core pipeline;
    std::vector<std::array<std::uint8_t, 128>> pristine;
    std::vector<std::uint32_t> lens;
    std::vector<std::uint32_t> in_ports;
    std::vector<std::uint64_t> tun_ids;

    explicit setup(std::size_t macs, std::size_t cache_entries = 0, bool mixed = false)
        : pipeline(fp::pipeline_config{.default_table = {},
                                       .tables = {{nt::ucast_to_tun, {.max_flows = (mixed ? 2 : 1) * macs + 16}}},
                                       .flow_cache = cache_entries}) {
        using namespace fp;
        pipeline.table<0>().add(match{}.set(field_id::in_port, patch_int), 1,
                                action_list<resubmit_to<nt::patch_lv_to_tun>>{}, {}, 0);
        pipeline.table<2>().add(match{}.set(field_id::eth_dst, 0, 0x010000000000ULL), 0,
                                action_list<resubmit_to<nt::ucast_to_tun>>{}, {}, 0);
        auto& t20 = pipeline.table<nt::ucast_to_tun>();
        for (std::size_t i = 0; i < macs; ++i) {
            const auto st = t20.add(match{}.set(field_id::vlan_tci, 2, 0x0fff).set(field_id::eth_dst, mac(i)), 2,
                                    nt::to_tunnel_actions{{}, {6}, {2 + static_cast<std::uint32_t>(i % 8)}}, {}, 0);
            if (!st) std::abort();
        }
        if (mixed) {
            for (std::uint32_t tun = 2; tun < 10; ++tun)
                pipeline.table<0>().add(match{}.set(field_id::in_port, tun), 1,
                                        action_list<resubmit_to<nt::vxlan_tun_to_lv>>{}, {}, 0);
            pipeline.table<nt::vxlan_tun_to_lv>().add(match{}.set(field_id::tun_id, 6), 1,
                                                      nt::tun_to_lv_actions{{2}, {}}, {}, 0);
            pipeline.table<nt::learn_from_tun>().add(match{}, 1, nt::learn_from_tun_actions{{}, {patch_int}}, {}, 0);
        }
        std::mt19937_64 rng(1);
        pristine.resize(frame_pool);
        lens.resize(frame_pool);
        in_ports.resize(frame_pool);
        tun_ids.resize(frame_pool);
        for (std::size_t i = 0; i < frame_pool; ++i) {
            flow_key k{};
            const std::size_t m = rng() % macs;
            if (mixed && i % 4 == 3) { // from the tunnel table 20 says the MAC is behind
                k.in_port = 2 + static_cast<std::uint32_t>(m % 8);
                k.tun_id = 6;
                k.eth_src = mac(m);
                k.eth_dst = 0xfa163e000001ULL;
            } else {
                k.in_port = patch_int;
                k.vlan_tci = 0x1002;
                k.eth_src = 0xfa163e000001ULL;
                k.eth_dst = mac(m);
            }
            in_ports[i] = k.in_port;
            tun_ids[i] = k.tun_id;
            k.eth_type = 0x0800;
            k.nw_src = 0x0a000001;
            k.nw_dst = 0x0a000002;
            k.nw_proto = 17;
            k.nw_ttl = 64;
            pristine[i].fill(0);
            lens[i] = static_cast<std::uint32_t>(
                compose_frame(k, std::span<std::uint8_t>(pristine[i].data() + 64, pristine[i].size() - 64)));
        }
    }
    static std::uint64_t mac(std::size_t i) { return 0xfa0000000000ULL | (i * 0x9e3779b1ULL & 0xffffffffffULL); }
};

struct frames {
    std::array<std::array<std::uint8_t, 128>, burst> bufs;
    std::array<fp::packet, burst> pkts;
    std::size_t next = 0;
    void load(const setup& s) {
        for (std::size_t i = 0; i < burst; ++i) {
            const std::size_t f = next++ % frame_pool;
            std::memcpy(bufs[i].data(), s.pristine[f].data(), 64 + s.lens[f]);
            pkts[i] = fp::packet{bufs[i].data() + 64, s.lens[f], 64, s.in_ports[f], i, s.tun_ids[f]};
        }
    }
};

void report(benchmark::State& state, std::size_t packets) {
    state.SetItemsProcessed(static_cast<std::int64_t>(packets));
    state.counters["Mpps"] = benchmark::Counter(static_cast<double>(packets) / 1e6, benchmark::Counter::kIsRate);
    state.counters["ns/pkt"] = benchmark::Counter(static_cast<double>(packets) * 1e-9,
                                                  benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

template <std::size_t CacheEntries, bool Mixed = false>
void BM_br_tun_unicast(benchmark::State& state) {
    static std::unique_ptr<setup> s;
    static std::size_t built = 0;
    const auto macs = static_cast<std::size_t>(state.range(0));
    if (built != macs) {
        s = std::make_unique<setup>(macs, CacheEntries, Mixed);
        built = macs;
    }
    frames f;
    fp::burst_output out;
    std::size_t packets = 0;
    for (auto _ : state) {
        f.load(*s);
        s->pipeline.run(f.pkts, 0, out);
        out.for_each_port([](std::uint32_t, std::span<const fp::packet> tx) { benchmark::DoNotOptimize(tx.data()); });
        packets += burst;
    }
    if (out.counters().transmitted != out.counters().received) state.SkipWithError("frames were dropped");
    if (const fp::flow_cache* c = s->pipeline.flow_cache_ptr()) {
        const auto& n = c->counters();
        state.counters["hit%"] = 100.0 * static_cast<double>(n.hits) / static_cast<double>(n.hits + n.misses);
    }
    report(state, packets);
}

void BM_restore_only(benchmark::State& state) {
    static setup s(1024);
    frames f;
    std::size_t packets = 0;
    for (auto _ : state) {
        f.load(s);
        benchmark::DoNotOptimize(f.bufs.data());
        packets += burst;
    }
    report(state, packets);
}

} // namespace

BENCHMARK(BM_br_tun_unicast<0>)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_br_tun_unicast<8192>)
    ->Name("BM_br_tun_unicast_cached")
    ->Arg(1 << 10)
    ->Arg(1 << 16)
    ->Arg(1 << 20)
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_br_tun_unicast<0, true>)
    ->Name("BM_br_tun_mixed")
    ->Arg(1 << 10)
    ->Arg(1 << 20)
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_br_tun_unicast<8192, true>)
    ->Name("BM_br_tun_mixed_cached")
    ->Arg(1 << 10)
    ->Arg(1 << 20)
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_restore_only);
BENCHMARK_MAIN();
