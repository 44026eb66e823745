// A pipeline whose tables exist only at run time: up to 255 generic tables
// (every field maskable, any action list), created when a flow first names
// them. This is what flows given as ovs-ofctl text run on, and the reference
// the typed pipelines are compared with.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include <flowpipe/action/generic.hpp>
#include <flowpipe/match/schema.hpp>
#include <flowpipe/pipeline/engine.hpp>
#include <flowpipe/table/flow_table.hpp>

namespace flowpipe {

class generic_pipeline {
  public:
    using table_type = flow_table<generic_schema, allowed<generic_actions>>;

    // flow_cache_entries: size of the exact-match flow cache in front of the
    // tables (pipeline/flow_cache.hpp); 0: no cache.
    explicit generic_pipeline(table_config cfg = {}, std::size_t flow_cache_entries = 0)
        : cfg_(cfg), scratch_(std::make_unique<engine_scratch>()),
          cache_(flow_cache_entries != 0 ? std::make_unique<flow_cache>(flow_cache_entries) : nullptr) {}

    // Table `id`, created empty on first use.
    table_type& table(std::uint8_t id) {
        auto& t = tables_[id];
        if (!t) {
            t = std::make_unique<table_type>(cfg_, id);
            top_ = std::max<std::size_t>(top_, std::size_t{id} + 1);
            invalidate_flow_cache(); // a walk into it now counts a lookup there
        }
        return *t;
    }
    [[nodiscard]] table_type* find_table(std::uint8_t id) noexcept { return tables_[id].get(); }

    flow_mod_status add(std::uint8_t id, const match& m, std::int32_t priority, const generic_actions& acts,
                        const flow_options& o, std::int64_t now_ms) {
        if (id == 255) return {flow_mod_errc::no_such_table};
        if (auto why = validate(acts, id)) return {flow_mod_errc::bad_action, 0, {}, *why};
        return table(id).add(m, priority, acts, o, now_ms);
    }

    flow_mod_status modify(std::uint8_t id, const match& m, bool strict, std::int32_t priority,
                           const generic_actions& acts, cookie_filter cookie, std::int64_t now_ms) {
        if (id == 255) {
            // Every table; a modify that selects nothing anywhere adds to table 0.
            flow_mod_status total;
            for (std::size_t i = 0; i < tables_.size(); ++i) {
                if (!tables_[i]) continue;
                if (auto why = validate(acts, static_cast<std::uint8_t>(i)))
                    return {flow_mod_errc::bad_action, 0, {}, *why};
                total.count += tables_[i]->modify(m, strict, priority, acts, cookie, now_ms, false).count;
            }
            invalidate_flow_cache();
            if (total.count == 0 && cookie.mask == 0) return add(0, m, priority, acts, {cookie.value}, now_ms);
            return total;
        }
        if (auto why = validate(acts, id)) return {flow_mod_errc::bad_action, 0, {}, *why};
        invalidate_flow_cache(); // actions replaced in place: the tables' changes() do not see it
        return table(id).modify(m, strict, priority, acts, cookie, now_ms);
    }

    flow_mod_status remove(std::uint8_t id, const match& m, bool strict, std::int32_t priority = 0,
                           cookie_filter cookie = {}) {
        flow_mod_status total;
        for (std::size_t i = 0; i < tables_.size(); ++i)
            if (tables_[i] && (id == 255 || i == id))
                total.count += tables_[i]->remove(m, strict, priority, cookie).count;
        return total;
    }

    std::size_t expire(std::int64_t now_ms) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < top_; ++i)
            if (tables_[i]) n += tables_[i]->expire(now_ms);
        return n;
    }

    // Every table made so far (the engine calls this once a burst: only the
    // slots below top_ are looked at).
    template <class F>
    void for_each_table(F&& f) {
        for (std::size_t i = 0; i < top_; ++i)
            if (tables_[i]) f(*tables_[i]);
    }

    template <class Hooks = no_hooks>
    void run(std::span<packet> pkts, std::int64_t now_ms, burst_output& out, Hooks&& hooks = Hooks{}) {
        run_burst(*this, *scratch_, pkts, now_ms, out, hooks);
    }

    // ---- the flow cache (null when built without one) ----
    [[nodiscard]] flow_cache* flow_cache_ptr() noexcept { return cache_.get(); }
    [[nodiscard]] const flow_cache* flow_cache_ptr() const noexcept { return cache_.get(); }
    // For an embedder that replaced a flow's actions through table(id)
    // directly (modify): adds, removals and expiry are seen without it.
    void invalidate_flow_cache() noexcept {
        if (cache_) cache_->invalidate();
    }
    [[nodiscard]] std::uint64_t flow_cache_generation() const noexcept {
        std::uint64_t g = cache_ ? cache_->epoch() : 0;
        for (std::size_t i = 0; i < top_; ++i)
            if (tables_[i]) g += tables_[i]->changes();
        return g;
    }
    void credit_flow(std::uint8_t, void* flow, std::uint32_t bytes, std::int64_t now_ms) noexcept {
        table_type::hit(*static_cast<table_type::flow_type*>(flow), bytes, now_ms);
    }

    // Generic tables use tuple space search: nothing to look up ahead.
    void prelookup(std::span<const flow_key>) noexcept {}

    template <class Ctx>
    void run_table(std::uint8_t id, Ctx& ctx, std::uint32_t restore_in_port) noexcept {
        flow_key& key = ctx.lookup_key();
        if (table_type* t = tables_[id].get())
            lookup_and_run(*t, ctx, key, restore_in_port);
        else
            key.in_port = restore_in_port;
    }

  private:
    table_config cfg_;
    std::array<std::unique_ptr<table_type>, 255> tables_{};
    std::size_t top_ = 0; // tables_[top_..] were never created
    std::unique_ptr<engine_scratch> scratch_;
    std::unique_ptr<flow_cache> cache_;
};

} // namespace flowpipe
