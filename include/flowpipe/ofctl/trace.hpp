// A trace of one packet through a pipeline, like `ovs-appctl ofproto/trace`:
// each table visited, the flow that matched (or the miss), each action with
// the fields it changed, then `Final flow: ...` and `Output: ...`.
//
// The one idea: the data path is not touched. Tracing runs the packet with
// its own execution context (`tracing_context`, which satisfies the same
// action_context concept as the engine's packet_context) and walks each
// matched flow's action list itself, one action at a time, so it can print
// the action and the fields it changed. The rules are the engine's (Open
// vSwitch 3.1's): resubmit returns, resubmit(P,T) swaps in_port for the
// lookup only, 64 nested / 4096 total resubmits, over the cap the whole packet
// is dropped, an output to the input port is skipped unless it is `in_port`.
//
// Side effects: flow counters are not credited (the tables' lookup counters
// are). A learn action, generic or typed, is shown but not run unless
// `generate` is set, as ofproto/trace does without -generate. A learned
// record a table keeps (lookup::exact_learned) is read where it is
// (flow_table::lookup_seen), not moved into the table's slab as a public
// lookup() would move it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <flowpipe/action/context.hpp>
#include <flowpipe/action/generic.hpp>
#include <flowpipe/core/field.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/core/packet.hpp>
#include <flowpipe/ofctl/print.hpp>
#include <flowpipe/pipeline/engine.hpp>

namespace flowpipe::ofctl {

struct trace_options {
    bool generate = false;         // run learn actions (ofproto/trace -generate)
    std::int64_t now_ms = 0;       // the time learn and timeouts see
    std::uint32_t packet_len = 60; // the frame length learn and controller see
};

struct trace_output {
    std::uint32_t port;
    flow_key key; // the packet as it leaves on that port
};

struct trace_result {
    std::string text; // the whole trace, ending with "Final flow:" and "Output:" lines
    flow_key initial{};
    flow_key final_key{};
    std::vector<trace_output> outputs; // empty: dropped
    bool too_many_resubmits = false;
    std::size_t controller_calls = 0;

    [[nodiscard]] std::string output_ports() const {
        if (outputs.empty()) return "drop";
        std::string s;
        for (const trace_output& o : outputs) {
            if (!s.empty()) s += ',';
            append_port(s, o.port);
        }
        return s;
    }
};

template <class Pipeline>
class tracing_context {
  public:
    tracing_context(Pipeline& p, const flow_key& k, const trace_options& opt, std::string& text)
        : p_(p), key_(k), opt_(opt), text_(text) {
        pkt_.len = opt.packet_len;
        pkt_.in_port = k.in_port;
    }

    // ---- the action_context concept ----
    [[nodiscard]] const flow_key& key() const noexcept { return key_; }
    [[nodiscard]] flow_key& edit() noexcept { return key_; }
    void output(std::uint32_t port) {
        if (port == key_.in_port) {
            line("skipping output to input port");
            return;
        }
        outputs_.push_back({port, key_});
    }
    void output_in_port() { outputs_.push_back({key_.in_port, key_}); }
    void resubmit(std::uint32_t in_port, std::uint8_t table) { enter(in_port, table); }
    void goto_table(std::uint8_t table) { enter(ports::in_port, table); }
    void to_controller(std::uint16_t) {
        ++controller_calls_;
        line("-> sent to the controller");
    }
    void stop() noexcept { stopped_ = true; }
    [[nodiscard]] bool stopped() const noexcept { return stopped_ || failed_; }
    [[nodiscard]] std::uint8_t table_id() const noexcept { return table_; }

    // ---- what learn and the tables use ----
    [[nodiscard]] Pipeline& tables() noexcept { return p_; }
    [[nodiscard]] flow_key& lookup_key() noexcept { return key_; }
    [[nodiscard]] std::int64_t now() const noexcept { return opt_.now_ms; }
    [[nodiscard]] const packet& pkt() const noexcept { return pkt_; }

    void start() {
        table_ = 0;
        flowpipe::detail::walk_version_scope walk;
        walk.begin(0); // what its learns change, the packet does not see
        run_table(0, key_.in_port);
    }

    [[nodiscard]] bool failed() const noexcept { return failed_; }
    [[nodiscard]] std::vector<trace_output>& outputs() noexcept { return outputs_; }
    [[nodiscard]] std::size_t controller_calls() const noexcept { return controller_calls_; }

  private:
    void line(std::string_view s) {
        text_.append(static_cast<std::size_t>(4 * indent_ + 4), ' ');
        text_ += s;
        text_ += '\n';
    }

    void enter(std::uint32_t in_port, std::uint8_t table) {
        if (failed_) return;
        if (depth_ >= max_resubmit_depth || resubmits_ >= max_resubmits) {
            failed_ = true;
            line(depth_ >= max_resubmit_depth ? ">>>> Over 64 nested resubmits: the packet is dropped <<<<"
                                              : ">>>> Over 4096 resubmits: the packet is dropped <<<<");
            return;
        }
        const bool deepens = table <= table_;
        const std::uint8_t old_table = table_;
        const std::uint32_t old_in_port = key_.in_port;
        if (in_port != ports::in_port) key_.in_port = in_port;
        ++resubmits_;
        depth_ += deepens;
        const bool nest = !tail_;
        indent_ += nest;
        table_ = table;
        run_table(table, old_in_port);
        table_ = old_table;
        indent_ -= nest;
        depth_ -= deepens;
    }

    void run_table(std::uint8_t id, std::uint32_t restore_in_port) {
        bool found = false;
        p_.for_each_table([&](auto& t) {
            if (found || t.id() != id) return;
            found = true;
            // (A table the packet's own learns changed: as it was when the
            // walk began. A learned record is read where it is, not moved.)
            typename std::remove_reference_t<decltype(t)>::flow_type scratch;
            const auto* f = t.lookup_seen(key_, scratch);
            key_.in_port = restore_in_port;
            header(id);
            if (f == nullptr) {
                text_ += "No match.\n";
                line("drop");
                return;
            }
            append_match(text_, f->get_match(), default_priority);
            if (text_.back() != ' ') text_ += ", ";
            text_ += "priority ";
            append_dec(text_, static_cast<unsigned>(f->priority));
            if (f->cookie) {
                text_ += ", cookie ";
                append_hex(text_, f->cookie);
            }
            text_ += '\n';
            run_actions(f->actions);
        });
        if (!found) {
            key_.in_port = restore_in_port;
            header(id);
            text_ += "No match (no such table).\n";
            line("drop");
        }
    }

    void header(std::uint8_t id) {
        text_.append(static_cast<std::size_t>(4 * indent_), ' ');
        if (id < 10) text_ += ' ';
        append_dec(text_, id);
        text_ += ". ";
    }

    template <class Storage>
    void run_actions(const Storage& s) {
        const bool saved_tail = tail_;
        auto one_list = [&](const auto& list) {
            using L = std::remove_cvref_t<decltype(list)>;
            std::size_t n = 0, i = 0;
            if constexpr (std::is_same_v<L, generic_actions>) {
                n = list.list.size();
                for (const any_action& a : list.list) {
                    if (stopped()) break;
                    tail_ = ++i == n;
                    std::visit([&](const auto& x) { run_one(x); }, a);
                }
            } else {
                list.for_each([&](const auto&) { ++n; });
                list.for_each([&](const auto& x) {
                    if (stopped()) return;
                    tail_ = ++i == n;
                    run_one(x);
                });
            }
            if (n == 0) line("drop");
        };
        if constexpr (requires { s.index(); }) {
            std::visit(one_list, s);
        } else {
            one_list(s);
        }
        stopped_ = false; // as the engine: a stop ends this flow's list only
        tail_ = saved_tail;
    }

    template <class A>
    void run_one(const A& a) {
        std::string s;
        append_action(s, a);
        if (s.empty()) return; // drop
        line(s);
        constexpr bool generic_learn = requires { a.d->specs; };
        constexpr bool any_learn = generic_learn || flowpipe::detail::is_typed_learn<A>;
        if constexpr (any_learn) {
            if (!opt_.generate) {
                line(" -> not run: learn changes tables only with --generate");
                return;
            }
            if constexpr (generic_learn) describe_learn(a);
        }
        if constexpr (std::is_same_v<A, actions::normal>) {
            if (a.sw == nullptr) {
                line(" -> no l2_switch is bound to NORMAL (ofctl::bind_normal): the packet is not switched");
                return;
            }
        }
        const flow_key before = key_;
        const int resubmits = resubmits_;
        if constexpr (any_learn) {
            const learn_stats st = a.stats();
            a(*this);
            const learn_stats& now = a.stats();
            line(now.added != st.added                   ? " -> learned: a new flow"
                 : now.refreshed != st.refreshed         ? " -> learned: the same flow was there, its timers restart"
                 : now.modified != st.modified           ? " -> learned: the flow's actions (or cookie) were replaced"
                 : now.refused_limit != st.refused_limit ? " -> not learned: limit reached"
                                                         : " -> not learned: the target table refused the flow");
        } else {
            a(*this);
        }
        if (resubmits == resubmits_) describe_changes(before); // nested tables described theirs
        if (stopped_ && !failed_) line(" >> the rest of this flow's actions are skipped");
    }

    // The flow a learn installs, as ofproto/trace -generate shows it
    // ("table=20 vlan_tci=0x0002/0x0fff,dl_dst=... priority=1 hard=300
    // actions=..."), and what became of it (added, refreshed, ...).
    template <class L>
    void describe_learn(const L& a) {
        std::string s = " -> table=";
        append_dec(s, a.d->table);
        s += ' ';
        append_match(s, a.build_match(key_), default_priority);
        while (!s.empty() && s.back() == ' ') s.pop_back();
        s += " priority=";
        append_dec(s, a.d->priority);
        if (a.d->cookie) {
            s += " cookie=";
            append_hex(s, a.d->cookie);
        }
        if (a.d->idle_timeout) {
            s += " idle=";
            append_dec(s, a.d->idle_timeout);
        }
        if (a.d->hard_timeout) {
            s += " hard=";
            append_dec(s, a.d->hard_timeout);
        }
        s += " actions=";
        append_actions(s, a.template build_actions<generic_actions>(key_));
        line(s);
    }

    void describe_changes(const flow_key& before) {
        for (std::size_t i = 0; i < field_count; ++i) {
            const auto f = static_cast<field_id>(i);
            if (info(f).is_view()) continue;
            const uint128 a = get(before, f), b = get(key_, f);
            if (a == b) continue;
            std::string s = " -> ";
            s += info(f).name;
            s += " is now ";
            if (f == field_id::vlan_tci)
                append_hex_padded(s, b, 4);
            else
                detail::append_field_value(s, f, b);
            line(s);
        }
    }

    Pipeline& p_;
    flow_key key_;
    const trace_options& opt_;
    std::string& text_;
    packet pkt_{};
    std::vector<trace_output> outputs_;
    std::size_t controller_calls_ = 0;
    int depth_ = 0;
    int resubmits_ = 0;
    int indent_ = 0;
    std::uint8_t table_ = 0;
    bool tail_ = false;
    bool stopped_ = false;
    bool failed_ = false;
};

// Traces one packet (its flow key, in_port included) through `p`.
template <class Pipeline>
[[nodiscard]] trace_result trace(Pipeline& p, const flow_key& key, const trace_options& opt = {}) {
    trace_result r;
    r.initial = key;
    r.text += "Flow: ";
    append_packet(r.text, key);
    r.text += "\n\nbridge(\"flowpipe\")\n------------------\n";
    tracing_context<Pipeline> ctx(p, key, opt, r.text);
    ctx.start();
    r.final_key = ctx.key();
    r.too_many_resubmits = ctx.failed();
    r.controller_calls = ctx.controller_calls();
    if (!ctx.failed()) r.outputs = std::move(ctx.outputs());
    r.text += "\nFinal flow: ";
    append_packet(r.text, r.final_key);
    r.text += "\nOutput: ";
    r.text += r.output_ports();
    r.text += '\n';
    return r;
}

} // namespace flowpipe::ofctl
