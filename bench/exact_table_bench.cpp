// Exact-match lookup of 16-byte keys (packed_key<2>): flowpipe's exact_index
// (keys in the index) and exact_id_index (ids only, keys compared where the
// flows keep them: what flow tables use) beside DPDK's rte_hash (bulk lookup, the structure OVS-DPDK's EMC-less
// datapaths and DPDK pipelines use) and Abseil's flat_hash_map, in the same
// binary and the same run.
//
// Rows: <table>/<flows>/<hit%>. Each iteration looks up one burst of 32 keys.
// Counters: items_per_second = lookups per second; ns_per_lookup; bytes_per_flow
// (memory of the table divided by the flows it holds).
//
// Fair sizing: every table holds the same `flows` keys in the same number of
// slots, as far as the tables allow. exact_index(flows) picks its slot count
// (15 slots per bucket, a power-of-two number of buckets, load <= 3/4);
// rte_hash is created with entries = that slot count, which it rounds up to a
// power of two (8 slots per bucket), so rte_hash gets up to 6.7% more slots
// and a slightly lower load (1024/65536/1M flows: flowpipe 0.53, rte_hash
// 0.50; the "full" row, 1474560 flows = exact_index(1M).capacity(): flowpipe
// 0.75, rte_hash 0.70). RTE_HASH_EXTRA_FLAGS_EXT_TABLE is set so that a
// cuckoo path that cannot be found never loses a key (without it rte_hash
// refuses some inserts near full load); at load 1/2 the extension table stays
// empty and costs lookups nothing. flat_hash_map is reserve()d to `flows`
// (its own load rule, at most 7/8).
//
// Lookup keys are a random permutation of the present keys (hit) or of keys
// never inserted (miss), laid out in one array that is read in order, as keys
// extracted from a burst of packets would be: the table lines are touched in
// random order (so 1M flows measures DRAM), the keys themselves stream.
//
// `--rounds=R` (default 1) runs the whole suite R times and ends with a table
// of per-round ratios flowpipe/peer and their medians: only ratios measured
// in one run mean anything on a shared, noisy machine.
#include <flowpipe/match/hash.hpp>
#include <flowpipe/match/packed_key.hpp>
#include <flowpipe/table/exact_id_index.hpp>
#include <flowpipe/table/exact_index.hpp>

#include <benchmark/benchmark.h>

#include "support/rounds.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#if FLOWPIPE_HAVE_DPDK
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#endif
#if FLOWPIPE_HAVE_ABSL
#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>
#endif

namespace {

constexpr std::size_t words = 2;
using key = flowpipe::packed_key<words>;
constexpr std::size_t burst = 32;
static_assert(flowpipe::exact_index<words>::capacity_for(1048576) == 1474560, "the full row fills the 1M table");

// The keys of one table size: present keys, absent keys, and the two lookup
// streams. Built once per size and shared by every peer.
struct workload {
    std::size_t flows;
    std::vector<key> present;
    std::vector<key> hit_stream;
    std::vector<key> miss_stream;
};

key random_key(std::mt19937_64& rng) {
    key k;
    for (auto& w : k.w) w = rng();
    return k;
}

const workload& get_workload(std::size_t flows) {
    static std::map<std::size_t, std::unique_ptr<workload>> cache;
    auto& slot = cache[flows];
    if (!slot) {
        slot = std::make_unique<workload>();
        workload& w = *slot;
        w.flows = flows;
        std::mt19937_64 rng(flows * 7919 + 1);
        // Random 128-bit keys: a collision among 2M of them has probability ~1e-26.
        for (std::size_t i = 0; i < flows; ++i) w.present.push_back(random_key(rng));
        // Streams of at least 16K keys; for large tables, one full permutation.
        const std::size_t stream_len = std::max<std::size_t>(flows, 16384);
        std::vector<std::size_t> order(stream_len);
        for (std::size_t i = 0; i < stream_len; ++i) order[i] = i % flows;
        std::shuffle(order.begin(), order.end(), rng);
        for (std::size_t i : order) w.hit_stream.push_back(w.present[i]);
        for (std::size_t i = 0; i < stream_len; ++i) {
            key k = random_key(rng);
            k.w[0] |= 1; // present keys are even in word 0: see below
            w.miss_stream.push_back(k);
        }
        for (auto& k : w.present) k.w[0] &= ~std::uint64_t{1}; // so no miss key is present
        for (auto& k : w.hit_stream) k.w[0] &= ~std::uint64_t{1};
    }
    return *slot;
}

const std::vector<key>& stream_of(const workload& w, bool hit) { return hit ? w.hit_stream : w.miss_stream; }

// Wall time of the timed loop, for ns_per_lookup (a plain number: Google
// Benchmark's inverted rate counters print with an "s" unit, which misleads).
struct loop_clock {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    [[nodiscard]] double ns() const {
        return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    }
};

void set_counters(benchmark::State& state, const loop_clock& clock, double bytes_per_flow) {
    const double ns = clock.ns();
    const double lookups = static_cast<double>(state.iterations()) * burst;
    state.SetItemsProcessed(static_cast<std::int64_t>(lookups));
    state.counters["ns_per_lookup"] = ns / lookups;
    state.counters["bytes_per_flow"] = bytes_per_flow;
}

// ---------------------------------------------------------------------------
// flowpipe exact_index

const flowpipe::exact_index<words>& flowpipe_table(std::size_t flows) {
    static std::map<std::size_t, std::unique_ptr<flowpipe::exact_index<words>>> cache;
    auto& slot = cache[flows];
    if (!slot) {
        const workload& w = get_workload(flows);
        slot = std::make_unique<flowpipe::exact_index<words>>(flows);
        for (std::size_t i = 0; i < flows; ++i)
            if (slot->insert(w.present[i], static_cast<std::uint32_t>(i)) !=
                flowpipe::exact_index<words>::insert_result::inserted)
                std::abort();
    }
    return *slot;
}

void bm_flowpipe(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    const bool hit = state.range(1) == 100;
    const auto& table = flowpipe_table(flows);
    const auto& stream = stream_of(get_workload(flows), hit);
    std::uint32_t out[burst];
    std::size_t pos = 0, found = 0;
    const loop_clock clock;
    for (auto _ : state) {
        table.find_burst(stream.data() + pos, burst, out);
        for (std::size_t i = 0; i < burst; ++i) found += out[i] != flowpipe::exact_index<words>::npos;
        pos += burst;
        if (pos + burst > stream.size()) pos = 0;
    }
    benchmark::DoNotOptimize(found);
    if (found != (hit ? state.iterations() * burst : 0)) state.SkipWithError("wrong lookup results");
    set_counters(state, clock, static_cast<double>(table.memory_bytes()) / static_cast<double>(flows));
    state.counters["load"] = static_cast<double>(flows) / static_cast<double>(table.slot_count());
}

// ---------------------------------------------------------------------------
// flowpipe exact_id_index: what flow tables use. The index holds ids only;
// a key is compared where its flow keeps it, here the workload's key array
// (read in random order, as flows would be). bytes_per_flow counts that
// 16-byte key too, so the row is comparable with the tables that store keys.

struct id_table {
    std::unique_ptr<flowpipe::exact_id_index<words>> index;
    const std::vector<key>* keys = nullptr;
    [[nodiscard]] const key& key_of(std::uint32_t id) const noexcept { return (*keys)[id]; }
};

const id_table& flowpipe_id_table(std::size_t flows) {
    static std::map<std::size_t, id_table> cache;
    auto& t = cache[flows];
    if (!t.index) {
        const workload& w = get_workload(flows);
        t.keys = &w.present;
        t.index = std::make_unique<flowpipe::exact_id_index<words>>(flows);
        const auto key_of = [&t](std::uint32_t id) -> const key& { return t.key_of(id); };
        for (std::size_t i = 0; i < flows; ++i)
            if (t.index->insert(w.present[i], static_cast<std::uint32_t>(i), key_of) !=
                flowpipe::exact_id_index<words>::insert_result::inserted)
                std::abort();
    }
    return t;
}

void bm_flowpipe_id(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    const bool hit = state.range(1) == 100;
    const id_table& t = flowpipe_id_table(flows);
    const auto& stream = stream_of(get_workload(flows), hit);
    const auto key_of = [&t](std::uint32_t id) -> const key& { return t.key_of(id); };
    const auto prefetch = [&t](std::uint32_t id) { flowpipe::prefetch_read(&t.key_of(id)); };
    std::uint32_t out[burst];
    std::size_t pos = 0, found = 0;
    const loop_clock clock;
    for (auto _ : state) {
        t.index->find_burst(stream.data() + pos, burst, out, key_of, prefetch);
        for (std::size_t i = 0; i < burst; ++i) found += out[i] != flowpipe::exact_id_index<words>::npos;
        pos += burst;
        if (pos + burst > stream.size()) pos = 0;
    }
    benchmark::DoNotOptimize(found);
    if (found != (hit ? state.iterations() * burst : 0)) state.SkipWithError("wrong lookup results");
    set_counters(state, clock, static_cast<double>(t.index->memory_bytes()) / static_cast<double>(flows) + sizeof(key));
}

// ---------------------------------------------------------------------------
// DPDK rte_hash

#if FLOWPIPE_HAVE_DPDK
struct dpdk_table {
    rte_hash* h = nullptr;
    std::size_t bytes = 0;
};

const dpdk_table& dpdk_hash(std::size_t flows) {
    static std::map<std::size_t, dpdk_table> cache;
    auto& t = cache[flows];
    if (t.h == nullptr) {
        const workload& w = get_workload(flows);
        const std::string name = "fp_bench_" + std::to_string(flows);
        rte_hash_parameters p{};
        p.name = name.c_str();
        p.entries = static_cast<std::uint32_t>(flowpipe_table(flows).slot_count()); // same slots as flowpipe
        p.key_len = sizeof(key);
        p.hash_func = rte_hash_crc;
        p.hash_func_init_val = 0;
        p.socket_id = 0;
        p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
        rte_malloc_socket_stats before{}, after{};
        rte_malloc_get_socket_stats(0, &before);
        t.h = rte_hash_create(&p);
        if (t.h == nullptr) {
            std::fprintf(stderr, "rte_hash_create(%zu): %s\n", flows, rte_strerror(rte_errno));
            std::abort();
        }
        rte_malloc_get_socket_stats(0, &after);
        t.bytes = after.heap_allocsz_bytes - before.heap_allocsz_bytes;
        for (std::size_t i = 0; i < flows; ++i) {
            const int r =
                rte_hash_add_key_data(t.h, &w.present[i], reinterpret_cast<void*>(static_cast<std::uintptr_t>(i)));
            if (r != 0) {
                std::fprintf(stderr, "rte_hash_add_key_data: %d at %zu of %zu\n", r, i, flows);
                std::abort();
            }
        }
    }
    return t;
}

void bm_rte_hash(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    const bool hit = state.range(1) == 100;
    const dpdk_table& t = dpdk_hash(flows);
    const auto& stream = stream_of(get_workload(flows), hit);
    const void* ptrs[burst];
    void* data[burst];
    std::size_t pos = 0, found = 0;
    const loop_clock clock;
    for (auto _ : state) {
        // rte_hash takes an array of key pointers; building it is part of using the API.
        for (std::size_t i = 0; i < burst; ++i) ptrs[i] = &stream[pos + i];
        std::uint64_t hits = 0;
        rte_hash_lookup_bulk_data(t.h, ptrs, burst, &hits, data);
        found += static_cast<std::size_t>(__builtin_popcountll(hits));
        pos += burst;
        if (pos + burst > stream.size()) pos = 0;
    }
    benchmark::DoNotOptimize(found);
    if (found != (hit ? state.iterations() * burst : 0)) state.SkipWithError("wrong lookup results");
    set_counters(state, clock, static_cast<double>(t.bytes) / static_cast<double>(flows));
}
#endif

// ---------------------------------------------------------------------------
// Abseil flat_hash_map

#if FLOWPIPE_HAVE_ABSL
struct absl_key_hash {
    std::size_t operator()(const key& k) const noexcept { return absl::HashOf(k.w[0], k.w[1]); }
};
using absl_map = absl::flat_hash_map<key, std::uint32_t, absl_key_hash>;

const absl_map& absl_table(std::size_t flows) {
    static std::map<std::size_t, std::unique_ptr<absl_map>> cache;
    auto& slot = cache[flows];
    if (!slot) {
        const workload& w = get_workload(flows);
        slot = std::make_unique<absl_map>();
        slot->reserve(flows);
        for (std::size_t i = 0; i < flows; ++i) slot->emplace(w.present[i], static_cast<std::uint32_t>(i));
    }
    return *slot;
}

void bm_absl(benchmark::State& state) {
    const std::size_t flows = static_cast<std::size_t>(state.range(0));
    const bool hit = state.range(1) == 100;
    const absl_map& m = absl_table(flows);
    const auto& stream = stream_of(get_workload(flows), hit);
    std::uint32_t out[burst];
    std::size_t pos = 0, found = 0;
    const loop_clock clock;
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) {
            const auto it = m.find(stream[pos + i]);
            out[i] = it == m.end() ? 0xffffffffu : it->second;
        }
        for (std::size_t i = 0; i < burst; ++i) found += out[i] != 0xffffffffu;
        pos += burst;
        if (pos + burst > stream.size()) pos = 0;
    }
    benchmark::DoNotOptimize(found);
    if (found != (hit ? state.iterations() * burst : 0)) state.SkipWithError("wrong lookup results");
    // Control bytes (1 per slot + a group's worth of clones) plus slots.
    const double bytes = static_cast<double>(m.capacity()) * (1.0 + sizeof(absl_map::slot_type)) + sizeof(m);
    set_counters(state, clock, bytes / static_cast<double>(flows));
}
#endif

// One row per (flows, hit) and table; the tables of one (flows, hit) are
// registered next to each other so they run seconds apart.
void register_all() {
    for (std::int64_t flows : {1024, 65536, 1048576, 1474560}) {
        for (std::int64_t hit : {100, 0}) {
            benchmark::RegisterBenchmark("flowpipe_exact_index", bm_flowpipe)
                ->Args({flows, hit})
                ->ArgNames({"flows", "hit%"});
            benchmark::RegisterBenchmark("flowpipe_exact_id_index", bm_flowpipe_id)
                ->Args({flows, hit})
                ->ArgNames({"flows", "hit%"});
#if FLOWPIPE_HAVE_DPDK
            benchmark::RegisterBenchmark("rte_hash_bulk", bm_rte_hash)->Args({flows, hit})->ArgNames({"flows", "hit%"});
#endif
#if FLOWPIPE_HAVE_ABSL
            benchmark::RegisterBenchmark("absl_flat_hash_map", bm_absl)
                ->Args({flows, hit})
                ->ArgNames({"flows", "hit%"});
#endif
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    if (!flowpipe::bench::start_dpdk(argv[0])) return 1;
    int rounds = 1;
    const auto per_round = flowpipe::bench::run_rounds(argc, argv, register_all, rounds);
    if (per_round.empty()) return 1;

    // flowpipe exact_index size, and the ratios of each round.
    for (std::size_t flows : {std::size_t{1024}, std::size_t{65536}, std::size_t{1048576}, std::size_t{1474560}}) {
        const std::string row = "flowpipe_exact_index/flows:" + std::to_string(flows);
        if (std::none_of(per_round[0].begin(), per_round[0].end(),
                         [&](const auto& kv) { return kv.first.rfind(row + "/", 0) == 0; }))
            continue;
        const auto& t = flowpipe_table(flows);
        std::printf("flowpipe exact_index %7zu flows: %zu slots, load %.3f, %zu bytes, %.1f bytes/flow\n", flows,
                    t.slot_count(), static_cast<double>(flows) / static_cast<double>(t.slot_count()), t.memory_bytes(),
                    static_cast<double>(t.memory_bytes()) / static_cast<double>(flows));
    }
    std::printf("\nMedian over %d round(s) of lookups/s (M) and of the per-round ratio flowpipe/peer:\n", rounds);
    std::printf("%-22s %10s %10s %10s %10s %14s %14s %14s\n", "flows/hit%", "flowpipe", "id_index", "rte_hash", "absl",
                "fp/rte_hash", "id/rte_hash", "fp/absl");
    for (const char* fh : {"1024/hit%:100", "1024/hit%:0", "65536/hit%:100", "65536/hit%:0", "1048576/hit%:100",
                           "1048576/hit%:0", "1474560/hit%:100", "1474560/hit%:0"}) {
        const flowpipe::bench::rounds_of r(per_round, std::string("/flows:") + fh);
        const std::string fp = "flowpipe_exact_index", id = "flowpipe_exact_id_index", rte = "rte_hash_bulk",
                          ab = "absl_flat_hash_map";
        if (!r.ran(fp)) continue;
        std::printf("%-22s %10.1f %10.1f %10.1f %10.1f %14.2f %14.2f %14.2f\n", fh, r.rate(fp), r.rate(id), r.rate(rte),
                    r.rate(ab), r.ratio(fp, rte), r.ratio(id, rte), r.ratio(fp, ab));
    }
    benchmark::Shutdown();
    flowpipe::bench::stop_dpdk();
    return 0;
}
