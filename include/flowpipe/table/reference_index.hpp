// The trivially correct classifier: a list of (value, mask, priority, id)
// searched linearly. Every optimised lookup structure (exact_index,
// masked_index, scan_index) is tested against it on random rules and keys,
// as Open vSwitch's test-classifier checks its classifier against a linear one.
// Not for the data path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <flowpipe/match/packed_key.hpp>

namespace flowpipe {

template <std::size_t Words>
class reference_index {
  public:
    using key_type = packed_key<Words>;
    static constexpr std::uint32_t npos = 0xffffffffu;

    struct rule {
        key_type value;
        key_type mask;
        std::int32_t priority;
        std::uint32_t id;
    };

    bool insert(const key_type& value, const key_type& mask, std::int32_t priority, std::uint32_t id) {
        rules_.push_back(rule{value & mask, mask, priority, id});
        return true;
    }

    bool erase(const key_type& value, const key_type& mask, std::uint32_t id) {
        for (auto it = rules_.begin(); it != rules_.end(); ++it) {
            if (it->id == id && it->mask == mask && it->value == (value & mask)) {
                rules_.erase(it);
                return true;
            }
        }
        return false;
    }

    // The highest priority among matching rules, or INT32_MIN when none match.
    [[nodiscard]] std::int64_t best_priority(const key_type& key) const {
        std::int64_t best = INT64_MIN;
        for (const rule& r : rules_)
            if (masked_equal(key, r.mask, r.value) && r.priority > best) best = r.priority;
        return best;
    }

    // The id of one highest-priority matching rule (the first inserted among
    // equals), or npos.
    [[nodiscard]] std::uint32_t find(const key_type& key) const {
        const rule* best = nullptr;
        for (const rule& r : rules_)
            if (masked_equal(key, r.mask, r.value) && (best == nullptr || r.priority > best->priority)) best = &r;
        return best ? best->id : npos;
    }

    // Is `id` one of the highest-priority rules matching `key`? (Ties are
    // allowed to resolve either way, as in Open vSwitch.)
    [[nodiscard]] bool is_a_best_match(const key_type& key, std::uint32_t id) const {
        const std::int64_t best = best_priority(key);
        for (const rule& r : rules_)
            if (r.id == id) return best != INT64_MIN && r.priority == best && masked_equal(key, r.mask, r.value);
        return false;
    }

    [[nodiscard]] std::size_t size() const noexcept { return rules_.size(); }
    [[nodiscard]] const std::vector<rule>& rules() const noexcept { return rules_; }

  private:
    std::vector<rule> rules_;
};

} // namespace flowpipe
