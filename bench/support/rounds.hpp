// What the peer benchmarks share: running every benchmark for several rounds
// (`--rounds=R`) and keeping each row's items_per_second per round, so ratios
// can be taken within a round and their median reported (the machine is
// noisy; only ratios measured side by side mean anything), and starting DPDK's
// EAL the way this machine allows (no huge pages, no NIC, no shared config).
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#if FLOWPIPE_HAVE_DPDK
#include <rte_eal.h>
#include <rte_errno.h>
#endif

namespace flowpipe::bench {

// Forwards to the console and keeps items_per_second of every row.
class recording_reporter : public benchmark::ConsoleReporter {
  public:
    std::map<std::string, double> rate; // run name -> items/s
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
            const auto it = r.counters.find("items_per_second");
            if (it != r.counters.end()) rate[r.benchmark_name()] = it->second.value;
        }
    }
};

[[nodiscard]] inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n == 0 ? 0.0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One argument's rows across the rounds (`rounds_of(per_round, "/flows:1024")`
// reads "<row>/flows:1024"): a row's median rate in millions a second, and
// the median of its per-round ratio to another row. Rounds where a row did not
// run (filtered out, or an error) are left out, and a row that never ran has
// rate and ratio 0.
class rounds_of {
  public:
    rounds_of(const std::vector<std::map<std::string, double>>& per_round, std::string suffix)
        : per_round_(per_round), suffix_(std::move(suffix)) {}

    [[nodiscard]] bool ran(const std::string& row) const {
        return std::any_of(per_round_.begin(), per_round_.end(),
                           [&](const auto& round) { return get(round, row) > 0; });
    }
    [[nodiscard]] double rate(const std::string& row) const {
        std::vector<double> v;
        for (const auto& round : per_round_)
            if (const double x = get(round, row); x > 0) v.push_back(x / 1e6);
        return median(std::move(v));
    }
    [[nodiscard]] double ratio(const std::string& row, const std::string& over) const {
        std::vector<double> v;
        for (const auto& round : per_round_)
            if (const double x = get(round, row), y = get(round, over); x > 0 && y > 0) v.push_back(x / y);
        return median(std::move(v));
    }

  private:
    [[nodiscard]] double get(const std::map<std::string, double>& round, const std::string& row) const {
        const auto it = round.find(row + suffix_);
        return it == round.end() ? 0.0 : it->second;
    }

    const std::vector<std::map<std::string, double>>& per_round_;
    std::string suffix_;
};

// Starts DPDK's EAL without huge pages, NICs or shared config (two DPDK
// processes on one machine would otherwise collide), on the first CPU. Without
// DPDK it does nothing. False when the EAL does not start.
[[nodiscard]] inline bool start_dpdk([[maybe_unused]] const char* argv0) {
#if FLOWPIPE_HAVE_DPDK
    const char* eal_args[] = {argv0, "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "-l", "0", "--log-level=1"};
    std::vector<char*> eal_argv;
    for (const char* a : eal_args) eal_argv.push_back(const_cast<char*>(a));
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
        return false;
    }
#endif
    return true;
}

inline void stop_dpdk() {
#if FLOWPIPE_HAVE_DPDK
    rte_eal_cleanup();
#endif
}

// Parses `--rounds=R` (default 1) and Google Benchmark's flags, registers the
// benchmarks, runs them R times and returns each round's rates; an empty
// result means bad arguments (already reported).
template <class Register>
[[nodiscard]] std::vector<std::map<std::string, double>> run_rounds(int argc, char** argv, Register&& register_all,
                                                                    int& rounds) {
    rounds = 1;
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--rounds=", 9) == 0)
            rounds = std::max(1, std::atoi(argv[i] + 9));
        else
            args.push_back(argv[i]);
    }
    int bargc = static_cast<int>(args.size());
    benchmark::Initialize(&bargc, args.data());
    if (benchmark::ReportUnrecognizedArguments(bargc, args.data())) return {};
    register_all();
    std::vector<std::map<std::string, double>> per_round;
    for (int r = 0; r < rounds; ++r) {
        recording_reporter rep;
        benchmark::RunSpecifiedBenchmarks(&rep);
        per_round.push_back(rep.rate);
    }
    return per_round;
}

} // namespace flowpipe::bench
