// The wildcard (priority) lookup structure: tuple space search, with
// subtables ranked by their highest priority, as in Open vSwitch's classifier.
//
// What?
//   A set of rules (value, mask, priority, id); find(key) returns the id of a
//   highest-priority rule with (key & mask) == value. Rules that share a mask
//   form one *subtable*, and inside a subtable matching is exact: hash
//   (key & mask), look it up. A lookup therefore costs one hash probe per
//   distinct mask, not one comparison per rule.
//
// Layout (one subtable; `n` = number of nonzero words of its mask):
//
//     struct subtable {
//         packed_key<Words> mask;
//         uint8_t  word_index[n];       // which words of the key the mask touches
//         uint64_t word_mask[n];        // mask.w[word_index[t]]
//         int32_t  max_priority;        // highest priority of any rule in it
//         uint64_t slots[buckets][2+n]; // open addressing, linear probing:
//             // slot[0] = hash32 << 32 | head      (head == npos: empty slot)
//             // slot[1] = best_priority << 32 | best_id
//             // slot[2..2+n) = the n nonzero words of the masked value
//     };
//     rule_node nodes[capacity];        // {priority, id, next}: the rules that
//                                       // share one (value, mask), sorted by
//                                       // priority, descending; sized up front
//
//   Only the mask's nonzero words are hashed, stored and compared (Open
//   vSwitch's miniflow idea): a 2-field mask on the generic 22-word key makes a
//   subtable whose slots are 4 words, hashed and compared in 2 words. The best
//   rule of a slot is copied into the slot so that a hit reads one cache line
//   (for n <= 6); the sorted rule list is only read by the control path.
//   Buckets are a power of two, load <= 1/2, so a hit costs ~1.5 probes and a
//   miss ~2.5, mostly in the same line. Deletion shifts the following run
//   backwards (no tombstones), so probe lengths never degrade with churn.
//
// Search order and why it stops early:
//   Subtables are kept in a vector sorted by max_priority, descending (OVS's
//   pvector). A lookup walks it and stops as soon as the best priority found
//   so far is >= the next subtable's max_priority: no rule in that subtable,
//   nor in any after it, can beat what was found (an equal priority may be
//   skipped: ties between equal priorities may resolve either way, as in OVS).
//   A table whose high-priority rules sit in few masks is therefore searched
//   in few probes; the worst case (a miss, or a hit in the last subtable)
//   probes every subtable.
//
// Cost per subtable: gather and hash n words (~2 multiplies per word plus a
//   final mix), one probe (one likely cache miss when the subtable is not hot),
//   compare the 32-bit hash, then n words. find_burst() works subtable by
//   subtable across the whole burst: filter out packets that already hold a
//   rule at least as good as the subtable's max_priority, hash all the rest,
//   prefetch all their slots, then probe, so the memory latency of one packet
//   hides behind the hashing of the others.
//
// Threads: one writer, many readers. Today nothing is synchronised: readers
//   must not run concurrently with insert/erase/clear. To make readers safe
//   without locks (the DESIGN's QSBR scheme): publish the subtable vector as
//   an immutable array swapped with a release store (old arrays and removed
//   subtables reclaimed after a grace period); grow a subtable by building a
//   new slot array and swapping its pointer the same way; write a new slot's
//   key and best rule before its meta word (release), and update the best rule
//   of an existing slot with one 64-bit atomic store. Backward-shift deletion
//   can make a concurrent reader miss an entry that is moving, so a reader-safe
//   version would either mark deleted slots as tombstones (rehashing on the
//   writer side when they pile up) or bracket shifts with a per-subtable
//   sequence counter that readers re-check, as OVS's cmap does.
//
// Not here (yet): OVS's staged lookup and un-wildcarding (megaflow
// generation), prefix tries, and ranking subtables of equal max_priority by
// hit count.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include <flowpipe/match/hash.hpp>
#include <flowpipe/match/packed_key.hpp>

namespace flowpipe {

template <std::size_t Words>
class masked_index {
    static_assert(Words <= 255, "masked_index stores word indices in 8 bits: a key has at most 255 words");

  public:
    using key_type = packed_key<Words>;
    static constexpr std::uint32_t npos = 0xffffffffu;
    // find_burst() works on chunks of this many packets at a time.
    static constexpr std::size_t burst_chunk = 64;

    explicit masked_index(std::size_t capacity) : capacity_(capacity) {
        nodes_.resize(capacity);
        clear();
    }

    masked_index(const masked_index&) = delete;
    masked_index& operator=(const masked_index&) = delete;
    masked_index(masked_index&&) noexcept = default;
    masked_index& operator=(masked_index&&) noexcept = default;

    // `value` should already be value & mask (it is masked again here).
    // (value, mask, priority) triples are unique (the caller guarantees it).
    // Returns false when the index already holds `capacity` rules.
    bool insert(const key_type& value, const key_type& mask, std::int32_t priority, std::uint32_t id) {
        if (size_ >= capacity_) return false;
        subtable* st = find_subtable(mask);
        if (st == nullptr) st = create_subtable(mask);
        const key_type v = value & mask;

        const std::uint32_t node = free_head_;
        free_head_ = nodes_[node].next;
        nodes_[node].priority = priority;
        nodes_[node].id = id;
        nodes_[node].next = npos;

        std::uint64_t* slot = st->find_or_add_slot(v);
        std::uint32_t head = slot_head(slot);
        if (head == npos || nodes_[head].priority < priority) {
            nodes_[node].next = head;
            head = node;
        } else {
            // Among equal priorities the newest goes last: the head stays put.
            std::uint32_t prev = head;
            while (nodes_[prev].next != npos && nodes_[nodes_[prev].next].priority >= priority) prev = nodes_[prev].next;
            nodes_[node].next = nodes_[prev].next;
            nodes_[prev].next = node;
        }
        set_slot_head(slot, head);

        ++size_;
        ++st->rule_count;
        ++st->priority_counts[priority];
        if (priority > st->max_priority || st->rule_count == 1) {
            st->max_priority = priority;
            reposition(st);
        }
        return true;
    }

    // Removes the rule (value, mask, id). Returns false when there is none.
    bool erase(const key_type& value, const key_type& mask, std::uint32_t id) {
        subtable* st = find_subtable(mask);
        if (st == nullptr) return false;
        std::uint64_t* slot = st->find_slot(value & mask);
        if (slot == nullptr) return false;

        std::uint32_t head = slot_head(slot);
        std::uint32_t prev = npos;
        std::uint32_t cur = head;
        while (cur != npos && nodes_[cur].id != id) {
            prev = cur;
            cur = nodes_[cur].next;
        }
        if (cur == npos) return false;
        const std::int32_t priority = nodes_[cur].priority;
        if (prev == npos)
            head = nodes_[cur].next;
        else
            nodes_[prev].next = nodes_[cur].next;
        nodes_[cur].next = free_head_;
        free_head_ = cur;

        if (head == npos)
            st->erase_slot(slot);
        else
            set_slot_head(slot, head);

        --size_;
        --st->rule_count;
        auto pc = st->priority_counts.find(priority);
        if (--pc->second == 0) st->priority_counts.erase(pc);
        if (st->rule_count == 0) {
            remove_subtable(st);
        } else if (priority == st->max_priority && st->priority_counts.rbegin()->first != priority) {
            st->max_priority = st->priority_counts.rbegin()->first;
            reposition(st);
        }
        return true;
    }

    [[nodiscard]] std::uint32_t find(const key_type& key) const noexcept {
        std::int64_t best = INT64_MIN;
        std::uint32_t best_id = npos;
        for (const subtable* st : order_) {
            if (best >= st->max_priority) break;
            const std::uint64_t h = st->hash(key);
            if (const std::uint64_t* slot = st->probe(key, h)) {
                const std::int64_t p = slot_priority(slot);
                if (p > best) {
                    best = p;
                    best_id = slot_id(slot);
                }
            }
        }
        return best_id;
    }

    // out[i] = find(keys[i]) for i < n, any n; subtable by subtable across
    // the burst (hash all -> prefetch all -> probe all).
    void find_burst(const key_type* keys, std::size_t n, std::uint32_t* out) const noexcept {
        for (std::size_t base = 0; base < n; base += burst_chunk)
            find_chunk(keys + base, std::min(burst_chunk, n - base), out + base);
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t subtable_count() const noexcept { return order_.size(); }

    // Heap and object bytes held (the std::map / unordered_map nodes of the
    // control path estimated at three pointers plus their payload each).
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        std::size_t bytes = sizeof(*this) + nodes_.capacity() * sizeof(rule_node) +
                            order_.capacity() * sizeof(subtable*) +
                            by_mask_.bucket_count() * sizeof(void*) +
                            by_mask_.size() * (sizeof(key_type) + 4 * sizeof(void*));
        for (const subtable* st : order_)
            bytes += sizeof(subtable) + st->slots.capacity() * sizeof(std::uint64_t) +
                     st->priority_counts.size() * (3 * sizeof(void*) + 2 * sizeof(std::int32_t) + 8);
        return bytes;
    }

    void clear() noexcept {
        order_.clear();
        by_mask_.clear();
        size_ = 0;
        for (std::size_t i = 0; i < capacity_; ++i)
            nodes_[i].next = i + 1 < capacity_ ? static_cast<std::uint32_t>(i + 1) : npos;
        free_head_ = capacity_ > 0 ? 0 : npos;
    }

    // The subtables' masks in search order, with their max priority (tests, tracing).
    template <class F>
    void for_each_subtable(F&& f) const {
        for (const subtable* st : order_) f(st->mask, st->max_priority, st->rule_count);
    }

  private:
    struct rule_node {
        std::int32_t priority = 0;
        std::uint32_t id = 0;
        std::uint32_t next = npos;
    };

    static constexpr std::uint64_t empty_meta = npos;

    static std::uint32_t slot_head(const std::uint64_t* s) noexcept { return static_cast<std::uint32_t>(s[0]); }
    static std::uint32_t slot_hash(const std::uint64_t* s) noexcept { return static_cast<std::uint32_t>(s[0] >> 32); }
    static std::int32_t slot_priority(const std::uint64_t* s) noexcept {
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(s[1] >> 32));
    }
    static std::uint32_t slot_id(const std::uint64_t* s) noexcept { return static_cast<std::uint32_t>(s[1]); }

    void set_slot_head(std::uint64_t* s, std::uint32_t head) const noexcept {
        s[0] = (s[0] & 0xffffffff00000000ULL) | head;
        s[1] = static_cast<std::uint64_t>(static_cast<std::uint32_t>(nodes_[head].priority)) << 32 | nodes_[head].id;
    }

    struct subtable {
        key_type mask;
        std::uint32_t n = 0;       // nonzero words of the mask
        std::uint32_t stride = 2;  // words per slot: 2 + n
        std::array<std::uint8_t, Words> word_index{};
        std::array<std::uint64_t, Words> word_mask{};
        std::int32_t max_priority = INT32_MIN;
        std::uint32_t bucket_mask = 0;
        std::uint32_t entries = 0;  // occupied slots (distinct values)
        std::uint32_t rule_count = 0;
        const std::uint64_t* slot_base = nullptr;  // == slots.data(), kept next to the header
        std::vector<std::uint64_t> slots;
        std::map<std::int32_t, std::uint32_t> priority_counts;  // priority -> rules

        explicit subtable(const key_type& m) : mask(m) {
            for (std::size_t i = 0; i < Words; ++i) {
                if (m.w[i] != 0) {
                    word_index[n] = static_cast<std::uint8_t>(i);
                    word_mask[n] = m.w[i];
                    ++n;
                }
            }
            stride = 2 + n;
            allocate(8);
        }

        void allocate(std::uint32_t buckets) {
            slots.assign(static_cast<std::size_t>(buckets) * stride, 0);
            for (std::size_t b = 0; b < buckets; ++b) slots[b * stride] = empty_meta;
            bucket_mask = buckets - 1;
            slot_base = slots.data();
        }

        // Hash of the mask's nonzero words of (key & mask): a bijective
        // multiply-xorshift step per word, then mix64.
        [[nodiscard]] std::uint64_t hash(const key_type& key) const noexcept {
            std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
            for (std::uint32_t t = 0; t < n; ++t) {
                h = (h ^ (key.w[word_index[t]] & word_mask[t])) * 0xff51afd7ed558ccdULL;
                h ^= h >> 32;
            }
            return mix64(h);
        }

        [[nodiscard]] static std::uint32_t hash32(std::uint64_t h) noexcept { return static_cast<std::uint32_t>(h >> 32); }

        [[nodiscard]] const std::uint64_t* home(std::uint64_t h) const noexcept {
            return slot_base + static_cast<std::size_t>(hash32(h) & bucket_mask) * stride;
        }

        [[nodiscard]] bool same_key(const std::uint64_t* s, const key_type& key) const noexcept {
            for (std::uint32_t t = 0; t < n; ++t)
                if ((key.w[word_index[t]] & word_mask[t]) != s[2 + t]) return false;
            return true;
        }

        // The slot holding (key & mask), or nullptr. No allocation, no writes.
        [[nodiscard]] const std::uint64_t* probe(const key_type& key, std::uint64_t h) const noexcept {
            const std::uint32_t tag = hash32(h);
            std::uint32_t pos = tag & bucket_mask;
            for (;;) {
                const std::uint64_t* s = slot_base + static_cast<std::size_t>(pos) * stride;
                const std::uint64_t meta = s[0];
                if (static_cast<std::uint32_t>(meta) == npos) return nullptr;
                if (static_cast<std::uint32_t>(meta >> 32) == tag && same_key(s, key)) return s;
                pos = (pos + 1) & bucket_mask;
            }
        }

        std::uint64_t* find_slot(const key_type& value) noexcept {
            return const_cast<std::uint64_t*>(probe(value, hash(value)));
        }

        // The slot for `value` (already masked), claimed empty (head == npos) if new.
        std::uint64_t* find_or_add_slot(const key_type& value) {
            const std::uint64_t h = hash(value);
            if (std::uint64_t* s = const_cast<std::uint64_t*>(probe(value, h))) return s;
            if (static_cast<std::size_t>(entries + 1) * 2 > static_cast<std::size_t>(bucket_mask) + 1)
                grow();
            const std::uint32_t tag = hash32(h);
            std::uint32_t pos = tag & bucket_mask;
            std::uint64_t* s = slots.data() + static_cast<std::size_t>(pos) * stride;
            while (slot_head(s) != npos) {
                pos = (pos + 1) & bucket_mask;
                s = slots.data() + static_cast<std::size_t>(pos) * stride;
            }
            s[0] = static_cast<std::uint64_t>(tag) << 32 | npos;
            s[1] = 0;
            for (std::uint32_t t = 0; t < n; ++t) s[2 + t] = value.w[word_index[t]];
            ++entries;
            return s;
        }

        void grow() {
            std::vector<std::uint64_t> old = std::move(slots);
            const std::size_t old_buckets = static_cast<std::size_t>(bucket_mask) + 1;
            allocate(static_cast<std::uint32_t>(old_buckets * 2));
            for (std::size_t b = 0; b < old_buckets; ++b) {
                const std::uint64_t* src = old.data() + b * stride;
                if (slot_head(src) == npos) continue;
                std::uint32_t pos = slot_hash(src) & bucket_mask;
                while (slot_head(slots.data() + static_cast<std::size_t>(pos) * stride) != npos)
                    pos = (pos + 1) & bucket_mask;
                std::copy(src, src + stride, slots.data() + static_cast<std::size_t>(pos) * stride);
            }
        }

        // Empties slot `s` and shifts the rest of its run backwards, so
        // that every entry stays reachable from its home bucket.
        void erase_slot(std::uint64_t* s) noexcept {
            std::uint64_t* base = slots.data();
            std::uint32_t hole = static_cast<std::uint32_t>((s - base) / stride);
            std::uint32_t pos = hole;
            for (;;) {
                pos = (pos + 1) & bucket_mask;
                std::uint64_t* cur = base + static_cast<std::size_t>(pos) * stride;
                if (slot_head(cur) == npos) break;
                const std::uint32_t want = slot_hash(cur) & bucket_mask;
                // cur may move into the hole unless its home lies cyclically in (hole, pos].
                const bool stays = hole <= pos ? (hole < want && want <= pos) : (hole < want || want <= pos);
                if (stays) continue;
                std::copy(cur, cur + stride, base + static_cast<std::size_t>(hole) * stride);
                hole = pos;
            }
            base[static_cast<std::size_t>(hole) * stride] = empty_meta;
            --entries;
        }
    };

    struct mask_hash {
        std::size_t operator()(const key_type& k) const noexcept { return static_cast<std::size_t>(hash_key(k)); }
    };

    subtable* find_subtable(const key_type& mask) const noexcept {
        auto it = by_mask_.find(mask);
        return it == by_mask_.end() ? nullptr : it->second.get();
    }

    subtable* create_subtable(const key_type& mask) {
        auto owned = std::make_unique<subtable>(mask);
        subtable* st = owned.get();
        order_.reserve(order_.size() + 1);
        by_mask_.emplace(mask, std::move(owned));
        order_.push_back(st);  // placed by reposition() once its max_priority is known
        return st;
    }

    void remove_subtable(subtable* st) {
        order_.erase(std::find(order_.begin(), order_.end(), st));
        by_mask_.erase(st->mask);
    }

    // Moves `st` to its place in order_ (max_priority descending; among equals
    // the older subtable first).
    void reposition(subtable* st) {
        order_.erase(std::find(order_.begin(), order_.end(), st));
        auto at = std::upper_bound(order_.begin(), order_.end(), st->max_priority,
                                   [](std::int32_t p, const subtable* s) { return p > s->max_priority; });
        order_.insert(at, st);
    }

    void find_chunk(const key_type* keys, std::size_t n, std::uint32_t* out) const noexcept {
        std::array<std::int64_t, burst_chunk> best;
        std::array<std::uint64_t, burst_chunk> hashes;
        std::array<std::uint8_t, burst_chunk> active;  // packets still searching, in order
        for (std::size_t i = 0; i < n; ++i) {
            best[i] = INT64_MIN;
            out[i] = npos;
            active[i] = static_cast<std::uint8_t>(i);
        }
        std::size_t live = n;
        for (const subtable* st : order_) {
            const std::int64_t max = st->max_priority;
            std::size_t k = 0;
            for (std::size_t j = 0; j < live; ++j) {
                const std::uint8_t i = active[j];
                active[k] = i;
                k += best[i] < max;
            }
            live = k;
            if (live == 0) break;
            for (std::size_t j = 0; j < live; ++j) {
                const std::uint64_t h = st->hash(keys[active[j]]);
                hashes[j] = h;
                __builtin_prefetch(st->home(h));
            }
            for (std::size_t j = 0; j < live; ++j) {
                const std::uint8_t i = active[j];
                if (const std::uint64_t* slot = st->probe(keys[i], hashes[j])) {
                    const std::int64_t p = slot_priority(slot);
                    if (p > best[i]) {
                        best[i] = p;
                        out[i] = slot_id(slot);
                    }
                }
            }
        }
    }

    std::size_t capacity_;
    std::size_t size_ = 0;
    std::uint32_t free_head_ = npos;
    std::vector<rule_node> nodes_;
    std::vector<subtable*> order_;  // search order: max_priority descending
    std::unordered_map<key_type, std::unique_ptr<subtable>, mask_hash> by_mask_;
};

} // namespace flowpipe
