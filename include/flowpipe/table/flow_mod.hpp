// Flow mods as data: options of a new flow, cookie filters, and the error
// every refused flow mod returns (with the reason, never half-installed).
#pragma once

#include <cstddef>
#include <cstdint>

#include <flowpipe/core/field.hpp>
#include <flowpipe/match/schema.hpp>

namespace flowpipe {

enum class flow_mod_errc : std::uint8_t {
    ok,
    table_full,          // the table's flow limit is reached (policy refuse, or nothing evictable)
    field_not_in_table,  // the match names a field the table's schema lacks
    partial_exact_match, // an exact-match field matched under a mask
    not_a_prefix,        // a prefix field matched under a non-prefix mask
    exact_table_partial, // an all-exact table takes full matches and catch-alls only
    unmet_prerequisite,  // e.g. arp_tpa without arp
    bad_action,          // an action that cannot be installed here (backward goto_table, bad move/load)
    no_such_table,       // a table number the pipeline does not have
    bad_priority,        // priority outside 0..65535
};

[[nodiscard]] constexpr const char* to_string(flow_mod_errc e) noexcept {
    switch (e) {
    case flow_mod_errc::ok: return "ok";
    case flow_mod_errc::table_full: return "table is full";
    case flow_mod_errc::field_not_in_table: return "the flow matches a field this table does not have";
    case flow_mod_errc::partial_exact_match: return "an exact-match field of this table is matched with a mask";
    case flow_mod_errc::not_a_prefix: return "a prefix field of this table is matched with a non-prefix mask";
    case flow_mod_errc::exact_table_partial:
        return "an exact-match table holds only flows matching all its fields, or none of them";
    case flow_mod_errc::unmet_prerequisite: return "a matched field's prerequisite is not matched";
    case flow_mod_errc::bad_action: return "an action cannot be installed in this table";
    case flow_mod_errc::no_such_table: return "no such table";
    case flow_mod_errc::bad_priority: return "priority must be 0..65535";
    }
    return "?";
}

[[nodiscard]] constexpr flow_mod_errc to_errc(schema_error e) noexcept {
    switch (e) {
    case schema_error::none: return flow_mod_errc::ok;
    case schema_error::field_not_in_table: return flow_mod_errc::field_not_in_table;
    case schema_error::partial_exact_match: return flow_mod_errc::partial_exact_match;
    case schema_error::not_a_prefix: return flow_mod_errc::not_a_prefix;
    case schema_error::exact_table_partial: return flow_mod_errc::exact_table_partial;
    }
    return flow_mod_errc::field_not_in_table;
}

// The outcome of a flow mod: ok (with how many flows it touched) or why not.
struct flow_mod_status {
    flow_mod_errc code = flow_mod_errc::ok;
    std::size_t count = 0;        // flows added, modified or deleted
    field_id field{};             // unmet_prerequisite and schema errors: the field at fault
    const char* detail = nullptr; // for bad_action: which rule it breaks

    [[nodiscard]] explicit operator bool() const noexcept { return code == flow_mod_errc::ok; }
    [[nodiscard]] const char* what() const noexcept { return detail ? detail : to_string(code); }
};

// cookie=value/mask: selects flows whose cookie agrees with value on mask.
struct cookie_filter {
    std::uint64_t value = 0;
    std::uint64_t mask = 0; // 0: every flow
    [[nodiscard]] constexpr bool matches(std::uint64_t cookie) const noexcept { return ((cookie ^ value) & mask) == 0; }
};

// What a new flow carries besides its match, priority and actions.
struct flow_options {
    std::uint64_t cookie = 0;
    std::uint16_t idle_timeout = 0; // seconds, 0: none
    std::uint16_t hard_timeout = 0; // seconds, 0: none
};

// What a table does when an add finds it at its flow limit.
enum class overflow_policy : std::uint8_t {
    refuse, // the add fails with table_full
    evict,  // the flow with a timeout that would expire first goes; without one, refuse
};

struct table_config {
    std::size_t max_flows = 4096;
    overflow_policy on_full = overflow_policy::refuse;
    // The flows an exact hash index (an all-exact table's, or a
    // tuple_space_exact / exact_learned side index) is sized for: 0 or less
    // than max_flows means max_flows. The index fills to 2/3 of its slots at
    // that many flows; sized for more, its buckets stay emptier, so a new
    // key near max_flows more often finds room in its home bucket (the fast
    // path of a learn), at 9.6 index bytes a flow of room. max_flows stays
    // the table's limit. Other lookups ignore it.
    std::size_t index_flows = 0;
};

// Why a flow left its table (for counters and, later, flow-removed messages).
enum class removal_reason : std::uint8_t { deleted, idle_timeout, hard_timeout, evicted, replaced };

} // namespace flowpipe
