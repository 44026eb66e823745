// The generic action list: any action, chosen at run time and interpreted.
//
// Flows that arrive as text (ovs-ofctl syntax) or are built at run time use
// `generic_actions`: a vector of `any_action`, each one of the run-time
// argument forms of the typed actions, so both paths share one
// implementation of every action. Installing such a flow allocates; running
// it does not.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <variant>
#include <vector>

#include <flowpipe/action/action_list.hpp>
#include <flowpipe/action/arp_responder.hpp>
#include <flowpipe/action/controller.hpp>
#include <flowpipe/action/dec_ttl.hpp>
#include <flowpipe/action/drop.hpp>
#include <flowpipe/action/goto_table.hpp>
#include <flowpipe/action/in_port.hpp>
#include <flowpipe/action/learn.hpp>
#include <flowpipe/action/mod_dl.hpp>
#include <flowpipe/action/move.hpp>
#include <flowpipe/action/normal.hpp>
#include <flowpipe/action/output.hpp>
#include <flowpipe/action/resubmit.hpp>
#include <flowpipe/action/set_field.hpp>
#include <flowpipe/action/set_tunnel.hpp>
#include <flowpipe/action/vlan.hpp>

namespace flowpipe {

using any_action = std::variant<actions::output, actions::in_port, actions::drop, actions::resubmit,
                                actions::goto_table, actions::load, actions::move, actions::mod_dl_src,
                                actions::mod_dl_dst, actions::mod_vlan_vid, actions::mod_vlan_pcp, actions::push_vlan,
                                actions::strip_vlan, actions::set_tunnel, actions::dec_ttl, actions::controller,
                                actions::generic_learn, actions::fin_timeout, actions::arp_responder, actions::normal>;

struct generic_actions {
    std::vector<any_action> list;

    generic_actions() = default;
    generic_actions(std::initializer_list<any_action> as) : list(as) {}

    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        for (const any_action& a : list) {
            if (ctx.stopped()) return;
            dispatch<std::variant_size_v<any_action>>(a.index(), [&](auto I) { (*std::get_if<I.value>(&a))(ctx); });
        }
    }

    friend bool operator==(const generic_actions&, const generic_actions&) = default;
};

// Why a run-time action list cannot be installed in table `table`, or nullopt.
[[nodiscard]] inline std::optional<const char*> validate(const generic_actions& acts, std::uint8_t table) {
    for (std::size_t i = 0; i < acts.list.size(); ++i) {
        const any_action& a = acts.list[i];
        if (const auto* g = std::get_if<actions::goto_table>(&a)) {
            if (g->table <= table) return "goto_table must go to a later table";
            if (i + 1 != acts.list.size()) return "goto_table must be the last action";
        } else if (const auto* m = std::get_if<actions::move>(&a)) {
            if (!m->valid())
                return "move needs source and destination bit ranges of the same width inside their fields";
        } else if (const auto* l = std::get_if<actions::load>(&a)) {
            if (!l->dst.valid()) return "load destination bits lie outside the field";
            if ((l->value & ~l->dst.mask()) != 0) return "load value does not fit in the destination bits";
        } else if (const auto* le = std::get_if<actions::generic_learn>(&a)) {
            if (const char* why = le->invalid()) return why;
        }
    }
    return std::nullopt;
}

} // namespace flowpipe
