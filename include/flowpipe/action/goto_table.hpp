// goto_table:T: continue in a *later* table T (OpenFlow 1.1+ instruction).
// `goto_table_to<T>` is checked against the table it is used in when the
// pipeline is compiled; a run-time `goto_table` is checked when its flow is
// installed.
#pragma once

#include <cstdint>

namespace flowpipe::actions {

struct goto_table {
    std::uint8_t table = 0;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.goto_table(table);
    }
    friend constexpr bool operator==(const goto_table&, const goto_table&) = default;
};

template <std::uint8_t Table>
struct goto_table_to {
    static constexpr std::uint8_t table = Table;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.goto_table(Table);
    }
    friend constexpr bool operator==(const goto_table_to&, const goto_table_to&) = default;
};

} // namespace flowpipe::actions
