// resubmit(,T) and resubmit(P,T): look the packet up in table T (with
// in_port temporarily P, restored right after the lookup, as Open vSwitch
// does), run the matched flow's actions, then *return* and go on with the
// actions after the resubmit.
//
// `resubmit` takes its table at run time (flows from text); `resubmit_to<T>`
// fixes it at compile time, so a pipeline can check it and the common
// tail-position resubmit of br-tun compiles to a direct call.
#pragma once

#include <cstdint>

#include <flowpipe/action/context.hpp>

namespace flowpipe::actions {

struct resubmit {
    std::uint32_t port = ports::in_port; // ports::in_port: leave in_port alone
    std::uint8_t table = current_table;  // current_table: the table this flow is in
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.resubmit(port, table == current_table ? ctx.table_id() : table);
    }
    friend constexpr bool operator==(const resubmit&, const resubmit&) = default;
};

template <std::uint8_t Table>
struct resubmit_to {
    static constexpr std::uint8_t table = Table;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.resubmit(ports::in_port, Table);
    }
    friend constexpr bool operator==(const resubmit_to&, const resubmit_to&) = default;
};

} // namespace flowpipe::actions
