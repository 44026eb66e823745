// Instructions per learn, for callgrind: br-tun's table-10 learn into
// br_tun_core's table 20 (1K learned MACs), the same learns as learn_bench's
// rows. Timing on a shared 2-vCPU VM moves by +-20% from run to run; an
// instruction count does not, so a change to the learn's fast path is
// measured here first (scripts/learn_icount.sh runs this under callgrind
// with two burst counts and prints the difference per learn, which leaves
// out the setup).
//
//   learn_icount BURSTS MODE
//     MODE: relearn, relearn_burst, new, new_burst
//
// Built for x86-64-v3 (bench/icount.cmake): valgrind does not run AVX-512.
#include <flowpipe/neutron/br_tun.hpp>

#include "support/learn_packets.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace {

namespace fp = flowpipe;
using br_tun = fp::neutron::br_tun_core;
using table20 = std::remove_reference_t<decltype(std::declval<br_tun&>().table<20>())>;

constexpr std::size_t flows = 1024, burst = 32, max_bursts = 400;

// The learns of one burst, per packet (install) and through install_burst;
// out of line so that each is one piece of code, as in learn_bench's rows.
[[gnu::noinline, gnu::flatten]] std::size_t per_packet(const fp::neutron::learn_ucast& learn, table20& t,
                                                       const std::array<fp::flow_key, burst>& keys, std::int64_t now) {
    std::size_t ok = 0;
    for (const auto& k : keys) ok += learn.install(t, k, now) != fp::learn_result::failed;
    return ok;
}
[[gnu::noinline]] std::size_t per_burst(const fp::neutron::learn_ucast& learn, table20& t,
                                        const std::array<const fp::flow_key*, burst>& ptrs, std::int64_t now) {
    fp::learn_result res[burst];
    learn.install_burst(t, ptrs.data(), burst, now, res);
    std::size_t ok = 0;
    for (const auto r : res) ok += r != fp::learn_result::failed;
    return ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s BURSTS relearn|relearn_burst|new|new_burst\n", argv[0]);
        return 2;
    }
    const std::size_t bursts = std::strtoul(argv[1], nullptr, 10);
    const bool add = std::strncmp(argv[2], "new", 3) == 0;
    const bool in_bursts = std::strstr(argv[2], "_burst") != nullptr;
    if (bursts == 0 || bursts > max_bursts) {
        std::fprintf(stderr, "BURSTS: 1 to %zu\n", max_bursts);
        return 2;
    }
    // Table 20 sized for the held MACs and every new one (no add fails).
    fp::pipeline_config c;
    c.tables.emplace_back(std::uint8_t{20},
                          fp::table_config{flows + max_bursts * burst + 1, fp::overflow_policy::refuse});
    auto p = std::make_unique<br_tun>(c);
    auto& t = p->table<20>();
    fp::neutron::learn_ucast learn{};
    if (!t.add(fp::match{}, 0, fp::action_list<fp::actions::resubmit_to<22>>{}, {}, 0)) return 1;
    // The same MACs whatever BURSTS is, so the difference of two runs is the learns alone.
    std::mt19937_64 rng(1);
    auto mac = [&] { return (rng() & 0xfeffffffffffULL) | 0x020000000000ULL; };
    std::vector<std::uint64_t> present(flows), fresh(max_bursts * burst);
    for (auto& m : present) m = mac();
    for (auto& m : fresh) m = mac();
    for (const auto m : present)
        if (learn.install(t, fp::bench::learn_packet_key(m), 0) != fp::learn_result::added) return 1;

    std::array<fp::flow_key, burst> keys;
    keys.fill(fp::bench::learn_packet_key(0));
    std::array<const fp::flow_key*, burst> ptrs;
    for (std::size_t i = 0; i < burst; ++i) ptrs[i] = &keys[i];
    std::size_t ok = 0;
    for (std::size_t b = 0; b < bursts; ++b) {
        for (std::size_t i = 0; i < burst; ++i)
            keys[i].eth_src = add ? fresh[b * burst + i] : present[(b * burst + i) & (flows - 1)];
        const auto now = static_cast<std::int64_t>(b + 1);
        ok += in_bursts ? per_burst(learn, t, ptrs, now) : per_packet(learn, t, keys, now);
    }
    if (ok != bursts * burst) {
        std::fprintf(stderr, "a learn failed\n");
        return 1;
    }
    std::printf("%zu learns, table 20 holds %zu flows\n", ok, t.size());
    return 0;
}
