// The wildcard lookup structure for tiny tables (a handful of rules, say
// <= 16): a linear scan of the rules in priority order, several rules per
// SIMD compare.
//
// With few rules, tuple space search pays a hash and a probe per distinct
// mask; a scan pays a few vector compares for all rules together and touches
// one or two cache lines per key word. The one idea: keep the rules sorted by
// priority (descending) in structure-of-arrays form, so the first matching
// rule of the scan is a best one and the scan stops at the first batch of
// rules that holds a match.
//
// Layout (R = capacity rounded up to a multiple of 8 lanes, 64-byte aligned):
//
//     uint64_t mask [Words][R];   // word w of rule r at [w][r]
//     uint64_t value[Words][R];   // already masked; padding rules have
//                                 // mask 0 and value ~0 and so never match
//     int32_t  priority[R];       // descending
//     uint32_t id[R];
//
// A lookup broadcasts each key word and, for a batch of L rules (L = 8 with
// AVX-512, 4 with AVX2, 2 with SSE2), computes AND over words of
// ((key & mask) == value) and tests any(); only in the one batch that holds a
// match are the lanes stored and the lowest matching one picked (xsimd 8.1
// has no portable movemask). find_scalar() is the scalar twin, tested against
// the SIMD path.
//
// Cost: Words x ceil(rules / L) x (and + compare + any) until the first batch
// with a match; insert and erase move O(capacity) words (control path).
//
// Threads: one writer, many readers; nothing is synchronised today. A
// reader-safe version would build the sorted arrays in a second buffer and
// publish it with a release store of one pointer (the table is tiny), freeing
// the old one after a grace period (QSBR), as masked_index's essay describes.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include <flowpipe/match/packed_key.hpp>

namespace flowpipe {

template <std::size_t Words>
class scan_index {
  public:
    using key_type = packed_key<Words>;
    static constexpr std::uint32_t npos = 0xffffffffu;
    // Rules are stored in groups of this many (the widest SIMD batch of 64-bit lanes).
    static constexpr std::size_t lane_group = 8;

    explicit scan_index(std::size_t capacity)
        : capacity_(capacity), stride_((capacity + lane_group - 1) / lane_group * lane_group) {
        mask_.assign(Words * stride_, 0);
        value_.assign(Words * stride_, ~std::uint64_t{0});
        priority_.assign(stride_, INT32_MIN);
        id_.assign(stride_, npos);
    }

    // `value` should already be value & mask (it is masked again here).
    // Returns false when the index already holds `capacity` rules.
    bool insert(const key_type& value, const key_type& mask, std::int32_t priority, std::uint32_t id) {
        if (size_ >= capacity_) return false;
        // After every rule of priority >= `priority`: equal priorities keep insertion order.
        std::size_t at = 0;
        while (at < size_ && priority_[at] >= priority) ++at;
        for (std::size_t r = size_; r > at; --r) copy_rule(r - 1, r);
        for (std::size_t w = 0; w < Words; ++w) {
            mask_[w * stride_ + at] = mask.w[w];
            value_[w * stride_ + at] = value.w[w] & mask.w[w];
        }
        priority_[at] = priority;
        id_[at] = id;
        ++size_;
        return true;
    }

    // Removes the rule (value, mask, id). Returns false when there is none.
    bool erase(const key_type& value, const key_type& mask, std::uint32_t id) {
        for (std::size_t r = 0; r < size_; ++r) {
            if (id_[r] != id) continue;
            bool same = true;
            for (std::size_t w = 0; w < Words; ++w)
                same &= mask_[w * stride_ + r] == mask.w[w] && value_[w * stride_ + r] == (value.w[w] & mask.w[w]);
            if (!same) continue;
            for (std::size_t s = r + 1; s < size_; ++s) copy_rule(s, s - 1);
            --size_;
            reset_rule(size_);
            return true;
        }
        return false;
    }

    // The id of the rule (value, mask, priority), or npos (strict flow mods).
    [[nodiscard]] std::uint32_t find_rule(const key_type& value, const key_type& mask,
                                          std::int32_t priority) const noexcept {
        for (std::size_t r = 0; r < size_; ++r) {
            if (priority_[r] != priority) continue;
            bool same = true;
            for (std::size_t w = 0; w < Words; ++w)
                same &= mask_[w * stride_ + r] == mask.w[w] && value_[w * stride_ + r] == (value.w[w] & mask.w[w]);
            if (same) return id_[r];
        }
        return npos;
    }

    // The id of a highest-priority rule matching `key`, or npos.
    [[nodiscard]] std::uint32_t find(const key_type& key) const noexcept {
        if constexpr (simd_available) {
            return find_simd<xsimd::default_arch>(key);
        } else {
            return find_scalar(key);
        }
    }

    // find(key) among the rules whose id `skip` does not exclude (see
    // masked_index::find_unless).
    template <class Skip>
    [[nodiscard]] std::uint32_t find_unless(const key_type& key, Skip&& skip) const {
        for (std::size_t r = 0; r < size_; ++r) {
            std::uint64_t diff = 0;
            for (std::size_t w = 0; w < Words; ++w)
                diff |= (key.w[w] & mask_[w * stride_ + r]) ^ value_[w * stride_ + r];
            if (diff == 0 && !skip(id_[r])) return id_[r];
        }
        return npos;
    }

    // The scalar twin of find(): the first rule, in priority order, that matches.
    [[nodiscard]] std::uint32_t find_scalar(const key_type& key) const noexcept {
        return find_unless(key, [](std::uint32_t) { return false; });
    }

    void find_burst(const key_type* keys, std::size_t n, std::uint32_t* out) const noexcept {
        for (std::size_t i = 0; i < n; ++i) out[i] = find(keys[i]);
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t subtable_count() const noexcept { return size_ > 0 ? 1 : 0; }
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return sizeof(*this) + (mask_.capacity() + value_.capacity()) * sizeof(std::uint64_t) +
               priority_.capacity() * sizeof(std::int32_t) + id_.capacity() * sizeof(std::uint32_t);
    }

    void clear() noexcept {
        for (std::size_t r = 0; r < size_; ++r) reset_rule(r);
        size_ = 0;
    }

  private:
    static constexpr bool simd_available = !std::is_same_v<xsimd::default_arch, xsimd::unavailable>;

    template <class Arch>
    [[nodiscard]] std::uint32_t find_simd(const key_type& key) const noexcept {
        using batch = xsimd::batch<std::uint64_t, Arch>;
        constexpr std::size_t lanes = batch::size;
        static_assert(lane_group % lanes == 0, "scan_index pads rules to a multiple of every batch width");
        std::array<batch, Words> k;
        for (std::size_t w = 0; w < Words; ++w) k[w] = batch(key.w[w]);
        for (std::size_t r = 0; r < size_; r += lanes) {
            auto hit = ((k[0] & batch::load_aligned(&mask_[r])) == batch::load_aligned(&value_[r]));
            for (std::size_t w = 1; w < Words; ++w)
                hit = hit & ((k[w] & batch::load_aligned(&mask_[w * stride_ + r])) ==
                             batch::load_aligned(&value_[w * stride_ + r]));
            if (xsimd::any(hit)) { // once per lookup: find the lowest matching lane
                alignas(64) bool lane[lanes];
                hit.store_aligned(lane);
                for (std::size_t l = 0;; ++l)
                    if (lane[l]) return id_[r + l];
            }
        }
        return npos;
    }

    void copy_rule(std::size_t from, std::size_t to) noexcept {
        for (std::size_t w = 0; w < Words; ++w) {
            mask_[w * stride_ + to] = mask_[w * stride_ + from];
            value_[w * stride_ + to] = value_[w * stride_ + from];
        }
        priority_[to] = priority_[from];
        id_[to] = id_[from];
    }

    void reset_rule(std::size_t r) noexcept {
        for (std::size_t w = 0; w < Words; ++w) {
            mask_[w * stride_ + r] = 0;
            value_[w * stride_ + r] = ~std::uint64_t{0};
        }
        priority_[r] = INT32_MIN;
        id_[r] = npos;
    }

    using word_vector = std::vector<std::uint64_t, xsimd::aligned_allocator<std::uint64_t, 64>>;

    std::size_t capacity_;
    std::size_t stride_; // capacity rounded up to lane_group: distance between words
    std::size_t size_ = 0;
    word_vector mask_;
    word_vector value_;
    std::vector<std::int32_t> priority_;
    std::vector<std::uint32_t> id_;
};

} // namespace flowpipe
