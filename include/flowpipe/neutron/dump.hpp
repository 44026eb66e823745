// A pipeline's flows as `ovs-ofctl add-flows` takes them (no counters, no
// timers' ages): `table=20,priority=2,dl_vlan=2,dl_dst=... actions=...`, one
// line per flow, tables in order, highest priority first. Used to compare
// the agent's flows with the reference page, to load them into Open vSwitch
// and by the demo.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <type_traits>
#include <variant>

#include <flowpipe/neutron/br_tun.hpp>
#include <flowpipe/ofctl/print.hpp>

namespace flowpipe::neutron {

// Lines of table `table` (255: every table). With timeouts: hard_timeout= /
// idle_timeout= are written too (learned flows).
template <class Pipeline>
[[nodiscard]] std::vector<std::string> flow_lines(Pipeline& p, std::uint8_t table = 255, bool timeouts = true) {
    std::vector<std::pair<std::pair<unsigned, std::int32_t>, std::string>> lines;
    p.for_each_table([&](const auto& t) {
        if (table != 255 && t.id() != table) return;
        t.for_each([&](const auto& f) {
            std::string s = "table=" + std::to_string(t.id()) + ",";
            if (timeouts && f.idle_timeout) s += "idle_timeout=" + std::to_string(f.idle_timeout) + ",";
            if (timeouts && f.hard_timeout) s += "hard_timeout=" + std::to_string(f.hard_timeout) + ",";
            const match m = f.get_match();
            ofctl::append_match(s, m, f.priority);
            s += " actions=";
            const ofctl::detail::l4_scope l4(m);
            ofctl::append_actions(s, f.actions);
            lines.push_back({{t.id(), f.priority}, std::move(s)});
        });
    });
    std::sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) {
        if (a.first.first != b.first.first) return a.first.first < b.first.first;
        if (a.first.second != b.first.second) return a.first.second > b.first.second;
        return a.second < b.second;
    });
    std::vector<std::string> out;
    for (auto& l : lines) out.push_back(std::move(l.second));
    return out;
}

template <class Pipeline>
[[nodiscard]] std::string flows_text(Pipeline& p, std::uint8_t table = 255, bool timeouts = true) {
    std::string s;
    for (const auto& l : flow_lines(p, table, timeouts)) s += l + "\n";
    return s;
}

} // namespace flowpipe::neutron
