// Wildcard lookup: masked_index::find_burst (tuple space search) with 1, 8
// and 32 distinct masks, and scan_index for tiny tables, against
// reference_index (the linear classifier) as the in-binary peer.
//
// The masked rows are built so that every subtable is probed: subtable s holds
// rules of priority 1000 - s, and the lookup keys either hit a rule of the
// LAST subtable searched (hit_last=1) or no rule at all (hit_last=0). So
// (ns/lookup at 32 masks - ns/lookup at 1 mask) / 31 is the cost of one extra
// mask, the figure OVS's classifier pays per subtable (about 53 ns for
// OVS-DPDK on this kind of machine, see reference/tooling.md). The program
// prints that derived figure after the table, from the median of the runs
// when --benchmark_repetitions is given.
//
//   build-masked/bench/masked_table_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_min_time=0.2
#include <flowpipe/table/masked_index.hpp>
#include <flowpipe/table/reference_index.hpp>
#include <flowpipe/table/scan_index.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace fp = flowpipe;

namespace {

constexpr std::size_t words = 2;
using key = fp::packed_key<words>;
constexpr std::size_t burst = 32;
constexpr std::size_t key_count = 4096; // distinct lookup keys, cycled

template <std::size_t W>
fp::packed_key<W> random_key(std::mt19937_64& rng) {
    fp::packed_key<W> k;
    for (auto& w : k.w) w = rng();
    return k;
}

// A mask with about 3/4 of its bits set in each word it uses: distinct masks
// never shadow each other by accident. On the generic 22-word key a mask uses
// 2 words (a 2-field match), so only those are hashed and compared.
template <std::size_t W>
fp::packed_key<W> random_mask(std::mt19937_64& rng) {
    fp::packed_key<W> m{};
    if constexpr (W <= 2) {
        for (auto& w : m.w) w = rng() | rng();
    } else {
        const std::size_t a = rng() % W;
        const std::size_t b = (a + 1 + rng() % (W - 1)) % W;
        m.w[a] = rng() | rng();
        m.w[b] = rng() | rng();
    }
    return m;
}

template <std::size_t W>
struct masked_setup {
    std::vector<fp::packed_key<W>> masks;
    std::vector<std::pair<fp::packed_key<W>, std::size_t>> rules; // value, mask index
    std::vector<fp::packed_key<W>> keys;
};

template <std::size_t W>
masked_setup<W> make_masked_setup(std::size_t mask_count, std::size_t rule_count, bool hit_last, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    masked_setup<W> s;
    for (std::size_t i = 0; i < mask_count; ++i) s.masks.push_back(random_mask<W>(rng));
    for (std::size_t r = 0; r < rule_count; ++r) {
        const std::size_t m = r % mask_count;
        s.rules.emplace_back(random_key<W>(rng) & s.masks[m], m);
    }
    for (std::size_t i = 0; i < key_count; ++i) {
        auto k = random_key<W>(rng);
        if (hit_last) {
            // A rule of the last subtable, with random bits outside its mask.
            const std::size_t r = (rng() % (rule_count / mask_count)) * mask_count + (mask_count - 1);
            const auto& [v, m] = s.rules[r];
            for (std::size_t w = 0; w < W; ++w) k.w[w] = v.w[w] | (k.w[w] & ~s.masks[m].w[w]);
        }
        s.keys.push_back(k);
    }
    return s;
}

void report_lookups(benchmark::State& state, std::size_t per_iteration) {
    const double lookups = static_cast<double>(state.iterations()) * static_cast<double>(per_iteration);
    state.counters["lookups/s"] = benchmark::Counter(lookups, benchmark::Counter::kIsRate);
    // Seconds per lookup: the console prints it with an SI prefix ("7.4ns").
    state.counters["time/lookup"] =
        benchmark::Counter(lookups, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Args: masks, rules, hit_last.
template <std::size_t W>
void masked_find_burst(benchmark::State& state) {
    const auto mask_count = static_cast<std::size_t>(state.range(0));
    const auto rule_count = static_cast<std::size_t>(state.range(1));
    const bool hit_last = state.range(2) != 0;
    const masked_setup<W> s = make_masked_setup<W>(mask_count, rule_count, hit_last, 42 + mask_count);
    fp::masked_index<W> t(rule_count);
    for (std::size_t r = 0; r < s.rules.size(); ++r)
        if (!t.insert(s.rules[r].first, s.masks[s.rules[r].second], 1000 - static_cast<std::int32_t>(s.rules[r].second),
                      static_cast<std::uint32_t>(r)))
            throw std::runtime_error("insert refused");
    // Every key must land where the benchmark says it does.
    for (const auto& k : s.keys) {
        const std::uint32_t id = t.find(k);
        const bool ok = hit_last ? id != t.npos && s.rules[id].second == mask_count - 1 : id == t.npos;
        if (!ok) {
            state.SkipWithError("a lookup key does not hit the last subtable (or does not miss)");
            return;
        }
    }
    std::vector<std::uint32_t> out(burst);
    std::size_t at = 0;
    for (auto _ : state) {
        t.find_burst(&s.keys[at], burst, out.data());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        at = (at + burst) % key_count;
    }
    report_lookups(state, burst);
    state.counters["subtables"] = static_cast<double>(t.subtable_count());
    state.counters["bytes/rule"] = static_cast<double>(t.memory_bytes()) / static_cast<double>(rule_count);
}
BENCHMARK(masked_find_burst<2>)
    ->Name("masked_find_burst")
    ->ArgNames({"masks", "rules", "hit_last"})
    ->ArgsProduct({{1, 8, 32}, {1024, 16384, 65536}, {1, 0}});
// The generic 22-word flow key, each mask matching 2 of its words.
BENCHMARK(masked_find_burst<22>)
    ->Name("masked_find_burst_22w")
    ->ArgNames({"masks", "rules", "hit_last"})
    ->ArgsProduct({{1, 8, 32}, {1024, 65536}, {1, 0}});

// Tiny tables: n rules, each with its own random mask (so masked_index has n
// subtables), priorities 1..n; keys hit a random rule (the scan stops there).
struct tiny_setup {
    std::vector<std::pair<key, key>> rules; // value, mask
    std::vector<key> keys;
};

tiny_setup make_tiny_setup(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    tiny_setup s;
    for (std::size_t r = 0; r < n; ++r) {
        key m = random_mask<words>(rng);
        s.rules.emplace_back(random_key<words>(rng) & m, m);
    }
    for (std::size_t i = 0; i < key_count; ++i) {
        key k = random_key<words>(rng);
        if (rng() % 8 != 0) { // 7/8 hit, 1/8 miss
            const auto& [v, m] = s.rules[rng() % n];
            for (std::size_t w = 0; w < words; ++w) k.w[w] = v.w[w] | (k.w[w] & ~m.w[w]);
        }
        s.keys.push_back(k);
    }
    return s;
}

template <class Table>
void tiny_find_burst(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const tiny_setup s = make_tiny_setup(n, 7 + n);
    Table t(n);
    for (std::size_t r = 0; r < n; ++r)
        t.insert(s.rules[r].first, s.rules[r].second, static_cast<std::int32_t>(r + 1), static_cast<std::uint32_t>(r));
    std::vector<std::uint32_t> out(burst);
    std::size_t at = 0;
    for (auto _ : state) {
        if constexpr (requires { t.find_burst(s.keys.data(), burst, out.data()); }) {
            t.find_burst(&s.keys[at], burst, out.data());
        } else {
            for (std::size_t i = 0; i < burst; ++i) out[i] = t.find(s.keys[at + i]);
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        at = (at + burst) % key_count;
    }
    report_lookups(state, burst);
}

// reference_index has no capacity constructor: adapt it.
struct reference_table : fp::reference_index<words> {
    explicit reference_table(std::size_t) {}
};

// The scalar twin of scan_index, to show what the SIMD path buys.
struct scan_scalar_table : fp::scan_index<words> {
    using fp::scan_index<words>::scan_index;
    void find_burst(const key* keys, std::size_t n, std::uint32_t* out) const noexcept {
        for (std::size_t i = 0; i < n; ++i) out[i] = find_scalar(keys[i]);
    }
};

BENCHMARK(tiny_find_burst<fp::scan_index<words>>)->Name("scan_index")->ArgName("rules")->Arg(4)->Arg(8)->Arg(16);
BENCHMARK(tiny_find_burst<scan_scalar_table>)->Name("scan_index_scalar")->ArgName("rules")->Arg(4)->Arg(8)->Arg(16);
BENCHMARK(tiny_find_burst<fp::masked_index<words>>)
    ->Name("masked_index_tiny")
    ->ArgName("rules")
    ->Arg(4)
    ->Arg(8)
    ->Arg(16);
BENCHMARK(tiny_find_burst<reference_table>)->Name("reference_index")->ArgName("rules")->Arg(4)->Arg(8)->Arg(16);

// Console output, plus the derived "ns per extra mask" from the masked rows
// (medians when repetitions were asked for).
class derived_reporter : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            const std::string name = run.run_name.str();
            const std::size_t slash = name.find('/');
            if (name.rfind("masked_find_burst", 0) != 0 || slash == std::string::npos || run.error_occurred) continue;
            const std::string family = name.substr(0, slash);
            const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
            if (run.run_type == Run::RT_Aggregate && !median) continue;
            auto c = run.counters.find("time/lookup");
            if (c == run.counters.end()) continue;
            unsigned masks = 0, rules = 0, hit = 0;
            if (std::sscanf(name.c_str() + slash, "/masks:%u/rules:%u/hit_last:%u", &masks, &rules, &hit) != 3)
                continue;
            auto& slot = ns_[{family, rules, hit}][masks];
            if (median || !slot.second) slot = {c->second.value * 1e9, median};
        }
        ConsoleReporter::ReportRuns(runs);
    }
    void Finalize() override {
        ConsoleReporter::Finalize();
        if (ns_.empty()) return;
        std::printf("\nns per extra mask = (ns/lookup at 32 masks - at 1 mask) / 31%s\n",
                    any_median() ? " (medians)" : "");
        for (const auto& [cfg, by_masks] : ns_) {
            auto one = by_masks.find(1), many = by_masks.find(32);
            if (one == by_masks.end() || many == by_masks.end()) continue;
            std::printf("  %-22s rules %6u  %-9s  1 mask %6.1f ns  8 masks %6.1f ns  32 masks %6.1f ns  -> %5.2f "
                        "ns/extra mask\n",
                        std::get<0>(cfg).c_str(), std::get<1>(cfg), std::get<2>(cfg) ? "hit last" : "miss",
                        one->second.first, by_masks.count(8) ? by_masks.at(8).first : 0.0, many->second.first,
                        (many->second.first - one->second.first) / 31.0);
        }
    }

  private:
    bool any_median() const {
        for (const auto& [cfg, by_masks] : ns_)
            for (const auto& [m, v] : by_masks)
                if (v.second) return true;
        return false;
    }
    // (family, rules, hit_last) -> masks -> (ns/lookup, is a median)
    std::map<std::tuple<std::string, unsigned, unsigned>, std::map<unsigned, std::pair<double, bool>>> ns_;
};

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    derived_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
