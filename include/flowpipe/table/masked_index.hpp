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
//         uint16_t tags[groups][8];     // 0 empty, 1 deleted, else hash >> 48
//         uint64_t slots[groups*8][2+n];
//             // slot[0] = head: first rule_node of this (value, mask)
//             // slot[1] = best_priority << 32 | best_id   (copy of the head)
//             // slot[2..2+n) = the n nonzero words of the masked value
//     };
//     rule_node nodes[capacity];        // {priority, id, next}: the rules that
//                                       // share one (value, mask), sorted by
//                                       // priority, descending; sized up front
//
//   Only the mask's nonzero words are hashed, stored and compared (Open
//   vSwitch's miniflow idea): a 2-field mask on the generic 22-word key makes
//   a subtable whose slots are 4 words, hashed and compared in 2 words. The
//   best rule of a (value, mask) is copied into its slot, so a hit reads one
//   16-byte tag group and one slot; the sorted rule list is only read by the
//   control path.
//
// Probing: hash h -> group g = (h >> 16) & (groups - 1), tag = h >> 48.
//   The group's 8 tags are matched at once with 64-bit SWAR (two words of
//   four 16-bit lanes: zero_lanes(w ^ tag * 0x0001000100010001)). A
//   candidate is confirmed by its tag and then by its n key words. A probe
//   moves to group g+1 only when group g has no empty slot, i.e. it was full
//   when some key was placed beyond it. Groups are a power of two and
//   (entries + tombstones) <= slots / 2, so with 4 entries per group on
//   average a group is full with probability ~5%, and a miss nearly always
//   reads one group. A false candidate costs one slot compare: 8 tags x 2^-16
//   = 1.2e-4 per probe. Erase empties a slot if its group still has an empty
//   slot (no probe ever passed that group) and leaves a tombstone otherwise;
//   tombstones are reused by inserts and dropped by the next rebuild.
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
// Cost per subtable: gather and hash n words (one multiply per word plus
//   one), read one tag group (the cache miss, when the subtable is cold), and
//   on a tag match one slot. find_burst() works subtable by subtable across
//   the whole burst in passes with no data-dependent branch for the common
//   miss: (1) drop packets whose best rule already reaches the subtable's
//   max_priority, (2) hash the rest and prefetch their tag groups, (3) match
//   tags: "miss", "one candidate" (prefetch its slot) or "full probe" (rare),
//   (4) compare the candidates' keys. Memory latency of one packet hides
//   behind the work on the others. Measured (bench/masked_table_bench.cpp,
//   Words = 2, 1K..64K rules): ~6-7 ns per extra subtable, where plain linear
//   probing with a branchy probe loop cost 16-18 ns.
//
// Threads: one writer, many readers. Today nothing is synchronised: readers
//   must not run concurrently with insert/erase/clear. To make readers safe
//   without locks (the DESIGN's QSBR scheme): publish the subtable vector as
//   an immutable array swapped with a release store (old arrays and removed
//   subtables reclaimed after a grace period); rebuild a subtable's groups
//   into new arrays and swap their pointer the same way; write a new slot's
//   key and best rule before its tag (release store of the tag), and update
//   the best rule of an existing slot with one 64-bit atomic store. Erase
//   only rewrites a tag (to empty or deleted), never moves entries, so a
//   concurrent reader sees either the old entry or none; a slot reused while
//   a reader compares it is caught by re-reading the tag after the compare
//   (or by never reusing a slot within a grace period).
//
// Not here (yet): OVS's staged lookup and un-wildcarding (megaflow
// generation), prefix tries, and ranking subtables of equal max_priority by
// hit count.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include <flowpipe/core/prefetch.hpp>
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

    // Rule nodes are indexed by 32 bits, npos excluded. They are made as
    // rules come (doubling), up to `capacity`: a table sized for a million
    // flows whose bulk sits elsewhere (lookup::tuple_space_exact) holds
    // only the few here.
    explicit masked_index(std::size_t capacity) : capacity_(std::min<std::size_t>(capacity, npos - 1)) { clear(); }

    masked_index(const masked_index&) = delete;
    masked_index& operator=(const masked_index&) = delete;
    masked_index(masked_index&&) noexcept = default;
    masked_index& operator=(masked_index&&) noexcept = default;

    // `value` should already be value & mask (it is masked again here).
    // (value, mask, priority) triples are unique (the caller guarantees it).
    // Returns false when the index already holds `capacity` rules. Control
    // path: may allocate (a new subtable, a subtable rebuild), O(1) amortised
    // plus O(rules sharing this (value, mask)) and O(subtables) when the
    // subtable's max priority changes.
    bool insert(const key_type& value, const key_type& mask, std::int32_t priority, std::uint32_t id) {
        if (size_ >= capacity_) return false;
        if (free_head_ == npos) grow_nodes(); // (may throw: before anything changed)
        subtable* st = find_subtable(mask);
        if (st == nullptr) st = create_subtable(mask);
        // May allocate (a rebuild) and so throw: before any rule node is taken.
        std::uint64_t* slot = st->find_or_add_slot(value & mask);

        const std::uint32_t node = free_head_;
        free_head_ = nodes_[node].next;
        nodes_[node].priority = priority;
        nodes_[node].id = id;
        nodes_[node].next = npos;

        std::uint32_t head = slot_head(slot);
        if (head == npos || nodes_[head].priority < priority) {
            nodes_[node].next = head;
            head = node;
        } else {
            // Among equal priorities the newest goes last: the head stays put.
            std::uint32_t prev = head;
            while (nodes_[prev].next != npos && nodes_[nodes_[prev].next].priority >= priority)
                prev = nodes_[prev].next;
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

    // The id of the rule (value, mask, priority), or npos: its subtable by
    // mask, its slot by masked value, then the slot's list (strict flow mods;
    // the caller keeps these triples unique).
    [[nodiscard]] std::uint32_t find_rule(const key_type& value, const key_type& mask,
                                          std::int32_t priority) const noexcept {
        const subtable* st = find_subtable(mask);
        if (st == nullptr) return npos;
        const key_type v = value & mask;
        const std::uint64_t* slot = st->probe(v, st->hash(v));
        if (slot == nullptr) return npos;
        // The slot's copy of its best rule answers the common case (one rule
        // per (value, mask): a learned flow) without reading the list.
        if (slot_priority(slot) == priority) return slot_id(slot);
        for (std::uint32_t n = slot_head(slot); n != npos && nodes_[n].priority >= priority; n = nodes_[n].next)
            if (nodes_[n].priority == priority) return nodes_[n].id;
        return npos;
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

    // find(key) among the rules whose id `skip` does not exclude (a walk's
    // lookup that must not see the flows it added itself:
    // flow_table::lookup_as_walk_began). Reads each hit slot's rule list.
    template <class Skip>
    [[nodiscard]] std::uint32_t find_unless(const key_type& key, Skip&& skip) const {
        std::int64_t best = INT64_MIN;
        std::uint32_t best_id = npos;
        for (const subtable* st : order_) {
            if (best >= st->max_priority) break;
            const std::uint64_t* slot = st->probe(key, st->hash(key));
            if (slot == nullptr) continue;
            for (std::uint32_t n = slot_head(slot); n != npos && nodes_[n].priority > best; n = nodes_[n].next)
                if (!skip(nodes_[n].id)) {
                    best = nodes_[n].priority;
                    best_id = nodes_[n].id;
                    break;
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
                            order_.capacity() * sizeof(subtable*) + by_mask_.bucket_count() * sizeof(void*) +
                            by_mask_.size() * (sizeof(key_type) + 4 * sizeof(void*));
        for (const subtable* st : order_)
            bytes += sizeof(subtable) + st->slots.capacity() * sizeof(std::uint64_t) +
                     st->tags.capacity() * sizeof(std::uint16_t) +
                     st->priority_counts.size() * (3 * sizeof(void*) + 2 * sizeof(std::int32_t) + 8);
        return bytes;
    }

    void clear() noexcept {
        order_.clear();
        by_mask_.clear();
        size_ = 0;
        const std::size_t n = nodes_.size();
        for (std::size_t i = 0; i < n; ++i) nodes_[i].next = i + 1 < n ? static_cast<std::uint32_t>(i + 1) : npos;
        free_head_ = n > 0 ? 0 : npos;
    }

    // The subtables' masks in search order, with their max priority (tests, tracing).
    template <class F>
    void for_each_subtable(F&& f) const {
        for (const subtable* st : order_) f(st->mask, st->max_priority, st->rule_count);
    }

  private:
    // Makes more free rule nodes: twice as many (16 at first), up to capacity.
    void grow_nodes() {
        const std::size_t old = nodes_.size();
        const std::size_t n = std::min(capacity_, std::max<std::size_t>(16, 2 * old));
        nodes_.resize(n);
        for (std::size_t i = old; i < n; ++i) nodes_[i].next = i + 1 < n ? static_cast<std::uint32_t>(i + 1) : npos;
        free_head_ = static_cast<std::uint32_t>(old);
    }

    struct rule_node {
        std::int32_t priority = 0;
        std::uint32_t id = 0;
        std::uint32_t next = npos;
    };

    static std::uint32_t slot_head(const std::uint64_t* s) noexcept { return static_cast<std::uint32_t>(s[0]); }
    static std::int32_t slot_priority(const std::uint64_t* s) noexcept {
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(s[1] >> 32));
    }
    static std::uint32_t slot_id(const std::uint64_t* s) noexcept { return static_cast<std::uint32_t>(s[1]); }

    void set_slot_head(std::uint64_t* s, std::uint32_t head) const noexcept {
        s[0] = head;
        s[1] = static_cast<std::uint64_t>(static_cast<std::uint32_t>(nodes_[head].priority)) << 32 | nodes_[head].id;
    }

    // Tags of a group: 0 = empty, 1 = deleted (tombstone), else the top 16
    // bits of the hash (moved off 0 and 1). A group is 8 tags, 16 bytes.
    static constexpr std::uint16_t tag_empty = 0;
    static constexpr std::uint16_t tag_deleted = 1;
    static constexpr std::uint32_t group_size = 8;
    static constexpr std::uint64_t lanes_low = 0x0001000100010001ULL;
    static constexpr std::uint64_t lanes_high = 0x8000800080008000ULL;

    // SWAR: the high bit of each 16-bit lane of `x` that is zero is set
    // (exact as "some lane is zero"; a lane just above a zero lane may be
    // flagged too, so candidates are re-checked against their tag).
    [[nodiscard]] static constexpr std::uint64_t zero_lanes(std::uint64_t x) noexcept {
        return (x - lanes_low) & ~x & lanes_high;
    }

    // What the tags of a packet's home group say (find_burst's first probe stage).
    enum class stage : std::uint8_t {
        miss,      // no tag matches and the group has an empty slot: not in this subtable
        candidate, // exactly one tag matches: the slot to compare
        probe,     // several candidates, or a full group: run the full probe
    };

    struct subtable {
        key_type mask;
        std::uint32_t n = 0;      // nonzero words of the mask
        std::uint32_t stride = 2; // words per slot: 2 + n
        std::array<std::uint8_t, Words> word_index{};
        std::array<std::uint64_t, Words> word_mask{};
        std::int32_t max_priority = INT32_MIN;
        std::uint32_t group_mask = 0; // groups - 1
        std::uint32_t entries = 0;    // occupied slots (distinct values)
        std::uint32_t tombstones = 0;
        std::uint32_t rule_count = 0;
        const std::uint16_t* tag_base = nullptr;               // == tags.data(), kept next to the header
        const std::uint64_t* slot_base = nullptr;              // == slots.data()
        std::vector<std::uint16_t> tags;                       // group_size per group
        std::vector<std::uint64_t> slots;                      // stride words per slot
        std::map<std::int32_t, std::uint32_t> priority_counts; // priority -> rules

        explicit subtable(const key_type& m) : mask(m) {
            for (std::size_t i = 0; i < Words; ++i) {
                if (m.w[i] != 0) {
                    word_index[n] = static_cast<std::uint8_t>(i);
                    word_mask[n] = m.w[i];
                    ++n;
                }
            }
            stride = 2 + n;
            allocate(2);
        }

        [[nodiscard]] std::size_t slot_count() const noexcept {
            return (static_cast<std::size_t>(group_mask) + 1) * group_size;
        }

        void allocate(std::uint32_t groups) {
            tags.assign(static_cast<std::size_t>(groups) * group_size, tag_empty);
            slots.assign(static_cast<std::size_t>(groups) * group_size * stride, 0);
            group_mask = groups - 1;
            tombstones = 0;
            tag_base = tags.data();
            slot_base = slots.data();
        }

        // Hash of the n packed words: one multiply-xorshift step per word
        // (a bijection of the running state) and a final multiply, whose
        // high bits depend on every input bit. Bits 16..47 pick the group,
        // bits 48..63 are the tag.
        [[nodiscard]] static constexpr std::uint64_t step(std::uint64_t h, std::uint64_t w) noexcept {
            h = (h ^ w) * 0xff51afd7ed558ccdULL;
            return h ^ (h >> 32);
        }
        [[nodiscard]] std::uint64_t finish(std::uint64_t h) const noexcept { return h * 0xc4ceb9fe1a85ec53ULL; }

        [[nodiscard]] std::uint64_t hash_words(const std::uint64_t* w) const noexcept {
            std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
            for (std::uint32_t t = 0; t < n; ++t) h = step(h, w[t]);
            return finish(h);
        }

        // The same hash of (key & mask), gathered from the key.
        [[nodiscard]] std::uint64_t hash(const key_type& key) const noexcept {
            std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
            for (std::uint32_t t = 0; t < n; ++t) h = step(h, key.w[word_index[t]] & word_mask[t]);
            return finish(h);
        }

        [[nodiscard]] std::uint32_t group_of(std::uint64_t h) const noexcept {
            return static_cast<std::uint32_t>(h >> 16) & group_mask;
        }

        [[nodiscard]] static std::uint16_t tag_of(std::uint64_t h) noexcept {
            const auto t = static_cast<std::uint16_t>(h >> 48);
            return t > tag_deleted ? t : static_cast<std::uint16_t>(t + 2);
        }

        [[nodiscard]] const std::uint16_t* home(std::uint64_t h) const noexcept {
            return tag_base + static_cast<std::size_t>(group_of(h)) * group_size;
        }

        [[nodiscard]] bool same_key(const std::uint64_t* s, const key_type& key) const noexcept {
            for (std::uint32_t t = 0; t < n; ++t)
                if ((key.w[word_index[t]] & word_mask[t]) != s[2 + t]) return false;
            return true;
        }

        // The slot holding (key & mask), or nullptr. A probe reads the group's
        // 8 tags and, on a tag match, the slot; it moves to the next group
        // only when this one has no empty slot (was full at some insert).
        [[nodiscard]] const std::uint64_t* probe(const key_type& key, std::uint64_t h) const noexcept {
            const std::uint16_t tag = tag_of(h);
            const std::uint64_t pattern = tag * lanes_low;
            std::uint32_t g = group_of(h);
            for (;;) {
                const std::uint16_t* t = tag_base + static_cast<std::size_t>(g) * group_size;
                std::uint64_t w[2];
                std::memcpy(w, t, sizeof w);
                for (std::uint32_t half = 0; half < 2; ++half) {
                    for (std::uint64_t z = zero_lanes(w[half] ^ pattern); z != 0; z &= z - 1) {
                        const std::uint32_t k = half * 4 + static_cast<std::uint32_t>(std::countr_zero(z)) / 16;
                        const std::uint64_t* s = slot_base + (static_cast<std::size_t>(g) * group_size + k) * stride;
                        if (t[k] == tag && same_key(s, key)) [[likely]]
                            return s;
                    }
                }
                if ((zero_lanes(w[0]) | zero_lanes(w[1])) != 0) [[likely]]
                    return nullptr; // an empty slot ends the probe
                g = (g + 1) & group_mask;
            }
        }

        // The home group's verdict for hash h, reading only the tags.
        [[nodiscard]] stage first_stage(std::uint64_t h, const std::uint64_t*& slot) const noexcept {
            const std::uint16_t tag = tag_of(h);
            const std::uint32_t g = group_of(h);
            std::uint64_t w[2];
            std::memcpy(w, tag_base + static_cast<std::size_t>(g) * group_size, sizeof w);
            const std::uint64_t pattern = tag * lanes_low;
            const std::uint64_t z0 = zero_lanes(w[0] ^ pattern);
            const std::uint64_t z1 = zero_lanes(w[1] ^ pattern);
            if ((z0 | z1) == 0) return (zero_lanes(w[0]) | zero_lanes(w[1])) != 0 ? stage::miss : stage::probe;
            if (std::popcount(z0) + std::popcount(z1) != 1) return stage::probe;
            // The lowest flagged lane is always a true match (see zero_lanes).
            const std::uint32_t k = z0 != 0 ? static_cast<std::uint32_t>(std::countr_zero(z0)) / 16
                                            : 4 + static_cast<std::uint32_t>(std::countr_zero(z1)) / 16;
            slot = slot_base + (static_cast<std::size_t>(g) * group_size + k) * stride;
            return stage::candidate;
        }

        // First slot of the group whose tag is `want` (or a tombstone when
        // `or_deleted`), or group_size.
        [[nodiscard]] static std::uint32_t first_in_group(const std::uint16_t* t, bool or_deleted) noexcept {
            for (std::uint32_t k = 0; k < group_size; ++k)
                if (t[k] == tag_empty || (or_deleted && t[k] == tag_deleted)) return k;
            return group_size;
        }

        std::uint64_t* find_slot(const key_type& value) noexcept {
            return const_cast<std::uint64_t*>(probe(value, hash(value)));
        }

        // Places packed words `w` (hash h) in the first free or deleted slot
        // of its probe sequence; returns the slot.
        std::uint64_t* place(const std::uint64_t* w, std::uint64_t h) noexcept {
            std::uint32_t g = group_of(h);
            for (;;) {
                const std::size_t first = static_cast<std::size_t>(g) * group_size;
                const std::uint32_t k = first_in_group(tags.data() + first, true);
                if (k != group_size) {
                    const std::size_t slot = first + k;
                    if (tags[slot] == tag_deleted) --tombstones;
                    tags[slot] = tag_of(h);
                    std::uint64_t* s = slots.data() + slot * stride;
                    s[0] = npos;
                    s[1] = 0;
                    std::copy(w, w + n, s + 2);
                    return s;
                }
                g = (g + 1) & group_mask;
            }
        }

        // The slot for `value` (already masked), claimed empty (head == npos) if new.
        std::uint64_t* find_or_add_slot(const key_type& value) {
            const std::uint64_t h = hash(value);
            if (std::uint64_t* s = const_cast<std::uint64_t*>(probe(value, h))) return s;
            // Keep (entries + tombstones) <= half the slots: then nearly every
            // group has an empty slot and a miss reads one group.
            if ((static_cast<std::size_t>(entries) + tombstones + 1) * 2 > slot_count())
                rebuild((static_cast<std::size_t>(entries) + 1) * 4 > slot_count() ? 2 * (group_mask + 1)
                                                                                   : group_mask + 1);
            std::array<std::uint64_t, Words> w;
            for (std::uint32_t t = 0; t < n; ++t) w[t] = value.w[word_index[t]];
            ++entries;
            return place(w.data(), h);
        }

        void rebuild(std::uint32_t groups) {
            std::vector<std::uint16_t> old_tags = std::move(tags);
            std::vector<std::uint64_t> old_slots = std::move(slots);
            allocate(groups);
            for (std::size_t i = 0; i < old_tags.size(); ++i) {
                if (old_tags[i] <= tag_deleted) continue;
                const std::uint64_t* src = old_slots.data() + i * stride;
                std::uint64_t* dst = place(src + 2, hash_words(src + 2));
                dst[0] = src[0];
                dst[1] = src[1];
            }
        }

        // Frees slot `s`. A group that still has an empty slot was never
        // full, so no probe sequence runs through it and the slot can be
        // empty again; otherwise it becomes a tombstone (reclaimed by the
        // next insert into it or the next rebuild).
        void erase_slot(std::uint64_t* s) noexcept {
            const std::size_t slot = static_cast<std::size_t>(s - slots.data()) / stride;
            const std::uint16_t* group = tags.data() + slot / group_size * group_size;
            if (first_in_group(group, false) != group_size) {
                tags[slot] = tag_empty;
            } else {
                tags[slot] = tag_deleted;
                ++tombstones;
            }
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
        order_.push_back(st); // placed by reposition() once its max_priority is known
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
        std::array<std::uint8_t, burst_chunk> active; // packets still searching, in order
        std::array<stage, burst_chunk> stages;
        std::array<const std::uint64_t*, burst_chunk> candidates;
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
                prefetch_read(st->home(h));
            }
            // Tags only: most packets miss here for good; a packet with one
            // candidate gets its slot prefetched; anything else (a second
            // candidate, a full group) takes the full probe below.
            for (std::size_t j = 0; j < live; ++j) {
                const stage st_j = st->first_stage(hashes[j], candidates[j]);
                stages[j] = st_j;
                if (st_j == stage::candidate) prefetch_read(candidates[j]);
            }
            for (std::size_t j = 0; j < live; ++j) {
                if (stages[j] == stage::miss) continue;
                const std::uint8_t i = active[j];
                const std::uint64_t* slot = candidates[j];
                if (stages[j] != stage::candidate || !st->same_key(slot, keys[i])) [[unlikely]]
                    slot = st->probe(keys[i], hashes[j]);
                if (slot != nullptr) {
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
    std::vector<subtable*> order_; // search order: max_priority descending
    std::unordered_map<key_type, std::unique_ptr<subtable>, mask_hash> by_mask_;
};

} // namespace flowpipe
