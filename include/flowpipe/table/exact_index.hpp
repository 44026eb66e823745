// exact_index<Words>: an exact-match hash index that keeps its keys. Maps a
// packed key to a 32-bit flow id with one hash table whose buckets keep
// 16-bit tags apart from the keys: a lookup compares 15 tags with one SIMD
// compare and reads a key only when its tag matches, so a miss reads one
// small, densely packed line and a hit one more. (Flow tables now use its
// keyless sibling, exact_id_index.hpp: same hash, tags and probing, keys
// compared in the flows, which a hit reads anyway.)
//
// -----------------------------------------------------------------------------
// Layout (one allocation, made in the constructor, never resized)
//
//   struct tag_group {                 // 32 bytes, 2 per cache line
//       uint16_t tag[15];              // 0 = empty slot, else the key's tag
//       uint16_t overflow;             // keys that probed past this bucket
//   } groups[bucket_count];            // bucket_count: a power of two
//
//   struct slot_block {                // one per bucket, whole cache lines
//       struct line {                  // for Words = 2 (16-byte keys):
//           packed_key<2> key[3];      //   48 bytes
//           uint32_t      id[3];       //   12 bytes, next to their keys
//           uint32_t      unused;
//       } line[5];                     // 15 slots
//   } blocks[bucket_count];
//
// In general a line holds per_line = 64 / (8 * Words + 4) keys with their ids
// (5 for 1 word, 3 for 2, 2 for 3, 1 for 4..7); keys of 8+ words are laid
// out (key, id) back to back. Either way a key and its id share a line, so
// a hit reads exactly one key line. Keys live inside the index: a lookup
// touches no other memory. For 16-byte keys a slot costs 320/15 + 32/15 =
// 23.5 bytes; at the highest load (3/4) that is 31.3 bytes per key, at the
// load a power-of-two table reaches just after a doubling (3/8) 63.
//
// The tag groups are 32 bytes per 15 slots (2.1 bytes a slot): at 64K flows
// they fit in L2 and at 1M flows (4 MiB) in L3, which is why a miss rarely
// goes to DRAM and a hit goes there about once. (rte_hash reads two 64-byte
// buckets per lookup plus the key; bench/exact_table_bench.cpp measured, on
// the 2-vCPU Zen 4 VM, 1.9x its bulk-lookup rate on hits and 2.7-3.8x on
// misses at 64K and 1M flows.)
//
// Hash, tag and probing
//
//   h        = hash_of(k)                         64 bits: one 64x64->128 multiply
//                                                 per two words, folded, then one more
//                                                 (a one-word key: one multiply)
//   bucket_i = (h + i) & (bucket_count - 1)       i = 0, 1, 2, ...  (linear, by bucket)
//   tag      = h >> 48, or 1 if that is 0         (0 marks an empty slot)
//
// The bucket comes from the low bits of h and the tag from the top 16, so the
// two are independent below 2^48 buckets. The index uses its own hash rather
// than match/hash.hpp's hash_key: two multiplies instead of four plus eight
// shifts, measured 20% faster on cached tables. Linear probing by whole
// buckets means an entry never moves once inserted (unlike cuckoo
// displacement), which keeps concurrent readers cheap (below).
//
// Deletion without tombstones: overflow counts (as in Folly's F14)
//
// Each bucket counts the keys stored beyond it whose probe sequence passed
// through it. A lookup stops at the first bucket that holds its key or whose
// overflow count is 0; insertion increments the count of every bucket it
// skipped, erasure decrements the same buckets (from the key's home bucket to
// the one it was found in). A freed slot is reusable at once, lookups never
// walk over dead entries, and a table after millions of insert/erase cycles
// probes exactly like a freshly built one. A count that reaches 0xffff stays
// there (it can then only make lookups probe further, never miss a key). The
// table refuses keys beyond capacity() = 3/4 of its slots. Measured with 1M
// random 16-byte keys, a miss probes on average 1.01 buckets at load 0.53,
// 1.11 at 0.70, 1.21 at the 3/4 limit, but 1.43 at 0.8 and 2.49 at 7/8
// (linear probing's clusters grow fast past 0.8), hence the limit. Each
// further bucket's tag group is in the same line or the next one.
//
// Why 16-bit tags
//
// A false tag match costs a key-line read, at 1M flows a DRAM access (about
// 150 ns on the reference VM). With 15 occupied slots per probed bucket and
// 2^16 - 1 tag values, a probe finds 15 / 65535 = 2.3e-4 false matches: one
// wasted key read per ~4400 lookups. 8-bit tags (7 bits usable, as in Swiss
// tables) would give 15 / 127 = 12%, i.e. +18 ns per miss at 1M flows, more
// than the whole lookup costs here. 32-bit tags would double the tag array
// (it would no longer fit in L2 at 64K flows) to buy a rate that is already
// negligible. The 16 lanes (15 tags + the count) are one 256-bit compare
// with AVX2 or two 128-bit ones with plain SSE2 (detail/tag_match.hpp), so a
// consumer building without -march flags keeps the same layout. Measured
// alternatives: 8-lane groups (7 slots, 3-line blocks, 52 bytes per flow at
// 1M) and 32-lane groups (31 slots, AVX-512 compare) were no faster.
//
// Bursts
//
// find_burst works in groups of `burst_group` (32) keys, in three passes, so
// that the cache misses of a group overlap instead of queueing:
//   1. hash every key, prefetch its tag group;
//   2. compare tags; a key with no matching tag whose home bucket never
//      overflowed is a miss, settled here; otherwise prefetch the line of the
//      first candidate and put the key on pass 3's list (also prefetching the
//      next bucket's tag group for keys whose home overflowed was measured:
//      no gain, even at the 3/4 limit);
//   3. compare the listed keys with their first candidate and read the id;
//      a false tag match or an overflowed home bucket (rare) continues on the
//      single-key path.
// No allocation, lock, exception or call through a pointer on this path.
//
// Concurrency (one writer, many readers; not implemented yet)
//
// The layout is chosen so that RCU-style readers need no locks:
//   - insert writes key and id into an empty slot, increments the overflow
//     counts it passes, and only then release-stores the tag; a reader that
//     acquire-loads the tag (a plain load on x86) sees key and id behind it;
//   - replace is a single 32-bit store of the id;
//   - erase stores tag 0 and decrements the overflow counts; the slot must not
//     be reused until every reader has passed a quiescent state (QSBR grace
//     period), since a reader may have matched the old tag and still be
//     reading the key: the writer keeps freed slots on a limbo list per epoch;
//   - entries never move, so (unlike rte_hash's cuckoo moves, which need a
//     change counter and retries) a reader can never miss a key that is
//     present for the whole of its lookup.
// -----------------------------------------------------------------------------
#pragma once

#include <array>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include <flowpipe/core/prefetch.hpp>
#include <flowpipe/match/hash.hpp>
#include <flowpipe/match/packed_key.hpp>
#include <flowpipe/table/detail/tag_match.hpp>

namespace flowpipe {

namespace detail {

// Where slot s of a bucket keeps its key and its id, inside the bucket's slot
// block. Keys of up to 7 words are packed `per_line` to a cache line with
// their ids after them, so a key and its id are always in the same line.
template <std::size_t Words, std::size_t Slots>
struct exact_slot_layout {
    static constexpr std::size_t line = 64;
    static constexpr std::size_t key_bytes = 8 * Words;
    static constexpr std::size_t per_line = line / (key_bytes + 4); // 0 for keys of 8+ words
    static constexpr std::size_t stride = key_bytes + 8;            // used only when per_line == 0
    static constexpr std::size_t block_bytes =
        per_line != 0 ? (Slots + per_line - 1) / per_line * line : (Slots * stride + line - 1) / line * line;

    static constexpr std::size_t key_offset(std::size_t s) noexcept {
        if constexpr (per_line != 0)
            return s / per_line * line + s % per_line * key_bytes;
        else
            return s * stride;
    }
    static constexpr std::size_t id_offset(std::size_t s) noexcept {
        if constexpr (per_line != 0)
            return s / per_line * line + per_line * key_bytes + s % per_line * 4;
        else
            return s * stride + key_bytes;
    }
};

} // namespace detail

template <std::size_t Words>
class exact_index {
  public:
    using key_type = packed_key<Words>;
    static constexpr std::uint32_t npos = 0xffffffffu;
    enum class insert_result { inserted, exists, full };

    // 16 lanes of 16 bits per tag group: 15 tags and the overflow count.
    static constexpr std::size_t tag_group = 16;
    static constexpr std::size_t slots_per_bucket = tag_group - 1;
    static constexpr std::size_t burst_group = 32;
    // Refuse inserts beyond 3/4 of the slots: past 0.8, linear probing's
    // clusters make misses probe 1.4 (at 0.8) to 2.5 (at 7/8) buckets.
    static constexpr std::size_t max_load_num = 3, max_load_den = 4;

    // How many buckets of `slots` slots (a power of two) hold `capacity`
    // keys at no more than max_load; exact_id_index sizes itself the same way.
    [[nodiscard]] static constexpr std::size_t buckets_for(std::size_t capacity, std::size_t slots) noexcept {
        const std::size_t slots_needed = (capacity * max_load_den + max_load_num - 1) / max_load_num;
        const std::size_t buckets = (slots_needed + slots - 1) / slots;
        return std::bit_ceil(buckets < 1 ? std::size_t{1} : buckets);
    }
    // The bucket count, and so capacity(), that exact_index(capacity) picks.
    [[nodiscard]] static constexpr std::size_t bucket_count_for(std::size_t capacity) noexcept {
        return buckets_for(capacity, slots_per_bucket);
    }
    [[nodiscard]] static constexpr std::size_t capacity_for(std::size_t capacity) noexcept {
        return bucket_count_for(capacity) * slots_per_bucket * max_load_num / max_load_den;
    }

    explicit exact_index(std::size_t capacity) {
        bucket_count_ = bucket_count_for(capacity);
        mask_ = bucket_count_ - 1;
        capacity_ = capacity_for(capacity);
        // One allocation: all tag groups, then all slot blocks.
        mem_.reset(static_cast<std::byte*>(::operator new (bytes(), std::align_val_t{line})));
        groups_ = reinterpret_cast<group*>(mem_.get());
        blocks_ = mem_.get() + groups_bytes();
        clear();
    }

    exact_index(const exact_index&) = delete;
    exact_index& operator=(const exact_index&) = delete;
    exact_index(exact_index&&) noexcept = default;
    exact_index& operator=(exact_index&&) noexcept = default;

    insert_result insert(const key_type& k, std::uint32_t id) {
        assert(id != npos && "exact_index::insert: npos is not a valid id");
        const std::uint64_t h = hash_of(k);
        const std::uint16_t t = tag_of(h);
        if (locate(k, h, t).found) return insert_result::exists;
        if (size_ >= capacity_) return insert_result::full;
        for (std::size_t i = 0;; ++i) { // terminates: size_ < slot count
            const std::size_t bi = (h + i) & mask_;
            group& g = groups_[bi];
            const std::uint32_t free = match(g, 0);
            if (free != 0) {
                const unsigned s = static_cast<unsigned>(std::countr_zero(free));
                key_at(bi, s) = k;
                id_at(bi, s) = id;
                for (std::size_t j = 0; j < i; ++j) {
                    std::uint16_t& o = groups_[(h + j) & mask_].lane[overflow_lane];
                    if (o != overflow_sticky) ++o;
                }
                g.lane[s] = t; // published last (see "Concurrency")
                ++size_;
                return insert_result::inserted;
            }
        }
    }

    // ---- insert-or-find with one hash (additive; learn's path) ----
    //
    // probe(k) hashes k once and finds either the slot holding k or, when k
    // is absent, the slot insert(k) would use (the first free slot on k's
    // probe sequence). insert_at(p, k, id) then stores k there without
    // hashing or probing again. Valid only while the index is not modified
    // between the two calls (any insert or erase invalidates a probe; take a
    // new one with probe(k, p.hash), which skips the hash).
    struct probe_result {
        std::uint64_t hash = 0;
        std::size_t bucket = 0; // found: the key's bucket; else the free slot's bucket
        std::uint32_t slot = 0;
        std::uint32_t id = npos;   // the key's id when found, else npos
        std::uint32_t skipped = 0; // buckets passed before `bucket`
        bool found = false;
        bool has_free = false; // not found and a free slot exists
    };

    [[nodiscard]] static std::uint64_t hash(const key_type& k) noexcept { return hash_of(k); }

    [[nodiscard]] probe_result probe(const key_type& k) const noexcept { return probe(k, hash_of(k)); }
    [[nodiscard]] probe_result probe(const key_type& k, std::uint64_t h) const noexcept {
        probe_result r;
        r.hash = h;
        const std::uint16_t t = tag_of(h);
        std::size_t i = 0;
        for (; i <= mask_; ++i) {
            const std::size_t bi = (h + i) & mask_;
            const group& g = groups_[bi];
            for (std::uint32_t hits = match(g, t); hits != 0; hits &= hits - 1) {
                const unsigned s = static_cast<unsigned>(std::countr_zero(hits));
                if (key_equal(key_at(bi, s), k)) {
                    r.found = true;
                    r.bucket = bi;
                    r.slot = s;
                    r.skipped = static_cast<std::uint32_t>(i);
                    r.id = id_at(bi, s);
                    return r;
                }
            }
            if (!r.has_free) {
                if (const std::uint32_t free = match(g, 0); free != 0) {
                    r.has_free = true;
                    r.bucket = bi;
                    r.slot = static_cast<unsigned>(std::countr_zero(free));
                    r.skipped = static_cast<std::uint32_t>(i);
                }
            }
            if (g.lane[overflow_lane] == 0) break;
        }
        // Absent: keep looking for the first free slot past the probe's end.
        for (++i; !r.has_free && i <= mask_; ++i) {
            const std::size_t bi = (h + i) & mask_;
            if (const std::uint32_t free = match(groups_[bi], 0); free != 0) {
                r.has_free = true;
                r.bucket = bi;
                r.slot = static_cast<unsigned>(std::countr_zero(free));
                r.skipped = static_cast<std::uint32_t>(i);
            }
        }
        return r;
    }

    // Stores k (absent, as probe `p` of k said) with `id` where insert would.
    insert_result insert_at(const probe_result& p, const key_type& k, std::uint32_t id) {
        assert(id != npos && "exact_index::insert_at: npos is not a valid id");
        if (p.found) return insert_result::exists;
        if (size_ >= capacity_ || !p.has_free) return insert_result::full;
        key_at(p.bucket, p.slot) = k;
        id_at(p.bucket, p.slot) = id;
        for (std::size_t j = 0; j < p.skipped; ++j) {
            std::uint16_t& o = groups_[(p.hash + j) & mask_].lane[overflow_lane];
            if (o != overflow_sticky) ++o;
        }
        groups_[p.bucket].lane[p.slot] = tag_of(p.hash);
        ++size_;
        return insert_result::inserted;
    }

    // The id of a found probe's slot may be replaced in place.
    void replace_at(const probe_result& p, std::uint32_t id) noexcept {
        assert(p.found);
        id_at(p.bucket, p.slot) = id;
    }

    // Prefetches what probe(k, h) reads first: the home bucket's tag group.
    void prefetch(std::uint64_t h) const noexcept { prefetch_read(&groups_[h & mask_]); }
    // ...and then the line of the first tag candidate, or of the first free
    // slot of the home bucket (where an insert would write).
    void prefetch_slot(std::uint64_t h, const key_type& k) const noexcept {
        (void)k;
        const std::size_t bi = h & mask_;
        const group& g = groups_[bi];
        std::uint32_t c = match(g, tag_of(h));
        if (c == 0) c = match(g, 0);
        if (c != 0) prefetch_write(blocks_ + bi * layout::block_bytes + key_offsets[std::countr_zero(c)]);
    }

    bool replace(const key_type& k, std::uint32_t id) {
        assert(id != npos && "exact_index::replace: npos is not a valid id");
        const std::uint64_t h = hash_of(k);
        const slot_ref r = locate(k, h, tag_of(h));
        if (!r.found) return false;
        id_at(r.bucket, r.slot) = id;
        return true;
    }

    bool erase(const key_type& k) {
        const std::uint64_t h = hash_of(k);
        const slot_ref r = locate(k, h, tag_of(h));
        if (!r.found) return false;
        groups_[r.bucket].lane[r.slot] = 0;
        for (std::size_t j = 0; j < r.probe; ++j) {
            std::uint16_t& o = groups_[(h + j) & mask_].lane[overflow_lane];
            if (o != overflow_sticky) --o;
        }
        --size_;
        return true;
    }

    [[nodiscard]] std::uint32_t find(const key_type& k) const noexcept {
        const std::uint64_t h = hash_of(k);
        const slot_ref r = locate(k, h, tag_of(h));
        return r.found ? id_at(r.bucket, r.slot) : npos;
    }

    void find_burst(const key_type* keys, std::size_t n, std::uint32_t* out) const noexcept {
        for (std::size_t base = 0; base < n; base += burst_group) {
            const std::size_t m = n - base < burst_group ? n - base : burst_group;
            find_group(keys + base, m, out + base);
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t slot_count() const noexcept { return bucket_count_ * slots_per_bucket; }
    [[nodiscard]] std::size_t bucket_count() const noexcept { return bucket_count_; }
    [[nodiscard]] std::size_t memory_bytes() const noexcept { return bytes() + sizeof(*this); }

    void clear() noexcept {
        std::memset(static_cast<void*>(mem_.get()), 0, bytes());
        size_ = 0;
    }

  private:
    static constexpr std::size_t line = 64;
    static constexpr std::size_t overflow_lane = tag_group - 1;
    static constexpr std::uint16_t overflow_sticky = 0xffff; // saturated: never decremented again
    static constexpr std::uint32_t slot_mask = (1u << slots_per_bucket) - 1;
    using layout = detail::exact_slot_layout<Words, slots_per_bucket>;

    struct alignas(tag_group * 2) group {
        std::uint16_t lane[tag_group]; // lanes 0..14: tags (0 = empty); lane 15: overflow count
    };
    static_assert(line % sizeof(group) == 0, "tag groups never straddle a cache line");

    struct aligned_delete {
        void operator()(std::byte* p) const noexcept { ::operator delete (p, std::align_val_t{line}); }
    };

    struct slot_ref {
        bool found;
        unsigned slot;
        std::size_t bucket;
        std::size_t probe; // buckets passed before the one holding the key
    };

    [[nodiscard]] std::size_t groups_bytes() const noexcept {
        return (bucket_count_ * sizeof(group) + line - 1) / line * line;
    }
    [[nodiscard]] std::size_t bytes() const noexcept { return groups_bytes() + bucket_count_ * layout::block_bytes; }

    static std::uint32_t match(const group& g, std::uint16_t t) noexcept {
        return detail::match_tags<tag_group>(g.lane, t) & slot_mask;
    }

    key_type& key_at(std::size_t b, std::size_t s) const noexcept {
        return *reinterpret_cast<key_type*>(blocks_ + b * layout::block_bytes + key_offsets[s]);
    }
    std::uint32_t& id_at(std::size_t b, std::size_t s) const noexcept {
        return *reinterpret_cast<std::uint32_t*>(blocks_ + b * layout::block_bytes + key_offsets[s] + id_deltas[s]);
    }

    // The index's own hash: one 64x64->128 multiply per pair of words, folded
    // (hi ^ lo, as wyhash and Abseil's low-level hash do), then one more to
    // spread the result over all 64 bits. "^ a ^ b" keeps a word equal to the
    // multiplier's constant from wiping out its partner word.
    static std::uint64_t mum(std::uint64_t a, std::uint64_t b) noexcept {
        __extension__ using u128 = unsigned __int128;
        const u128 p = static_cast<u128>(a) * b;
        return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
    }
    static std::uint64_t hash_of(const key_type& k) noexcept {
        if constexpr (Words == 1) {
            // One word (br-tun's learned VLAN + MAC): one multiply, folded,
            // as Abseil hashes an integer. Every key bit reaches the high
            // half of the product, so both the tag (top bits) and the
            // bucket (low bits, through the fold) see all of it. The chain
            // below takes two dependent multiplies; this one is on every
            // learn's path from key to bucket.
            return mum(k.w[0] ^ 0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL);
        }
        std::uint64_t h = 0x243f6a8885a308d3ULL;
        for (std::size_t i = 0; i < Words; i += 2) {
            const std::uint64_t a = k.w[i] ^ 0xa0761d6478bd642fULL ^ h;
            const std::uint64_t b = (i + 1 < Words ? k.w[i + 1] : 0) ^ 0xe7037ed1a0b428dbULL;
            h = mum(a, b) ^ a ^ b;
        }
        return mum(h ^ 0x8ebc6af09c88c6e3ULL, 0x589965cc75374cc3ULL ^ Words);
    }

    static std::uint16_t tag_of(std::uint64_t h) noexcept {
        const auto t = static_cast<std::uint16_t>(h >> 48);
        return t == 0 ? std::uint16_t{1} : t;
    }

    static bool key_equal(const key_type& a, const key_type& b) noexcept {
        std::uint64_t diff = 0;
        for (std::size_t i = 0; i < Words; ++i) diff |= a.w[i] ^ b.w[i];
        return diff == 0;
    }

    // The slot holding k, probing from bucket (h + first) onwards.
    slot_ref locate(const key_type& k, std::uint64_t h, std::uint16_t t, std::size_t first = 0) const noexcept {
        for (std::size_t i = first; i <= mask_; ++i) {
            const std::size_t bi = (h + i) & mask_;
            const group& g = groups_[bi];
            for (std::uint32_t hits = match(g, t); hits != 0; hits &= hits - 1) {
                const unsigned s = static_cast<unsigned>(std::countr_zero(hits));
                if (key_equal(key_at(bi, s), k)) return {true, s, bi, i};
            }
            if (g.lane[overflow_lane] == 0) break;
        }
        return {false, 0, 0, 0};
    }

    void find_group(const key_type* keys, std::size_t m, std::uint32_t* out) const noexcept {
        std::uint64_t hash[burst_group];
        std::uint32_t hits[burst_group];
        // Pass 1: hash, prefetch the tag group of each home bucket.
        for (std::size_t i = 0; i < m; ++i) {
            hash[i] = hash_of(keys[i]);
            prefetch_read(&groups_[hash[i] & mask_]);
        }
        // Pass 2: compare tags, prefetch the line of the first candidate. A
        // key with no candidate whose home bucket never overflowed is a miss
        // already; the others go on the to-do list of pass 3.
        std::size_t cand[burst_group]; // byte offset of the first candidate key in blocks_
        std::uint8_t todo[burst_group];
        std::size_t n_todo = 0;
        for (std::size_t i = 0; i < m; ++i) {
            const std::size_t bi = hash[i] & mask_;
            const group& g = groups_[bi];
            hits[i] = match(g, tag_of(hash[i]));
            out[i] = npos;
            todo[n_todo] = static_cast<std::uint8_t>(i);
            n_todo += (hits[i] | g.lane[overflow_lane]) != 0;
            if (hits[i] != 0) {
                cand[i] = bi * layout::block_bytes + key_offsets[std::countr_zero(hits[i])];
                const std::byte* kp = blocks_ + cand[i];
                prefetch_read(kp);
                if constexpr (layout::per_line == 0) // a key of 8+ words spans lines
                    for (std::size_t off = line; off < sizeof(key_type) + 4; off += line) prefetch_read(kp + off);
            }
        }
        // Pass 3: verify the first candidate; the rare others (a false tag
        // match, or a home bucket that overflowed) take the general path.
        for (std::size_t t = 0; t < n_todo; ++t) {
            const std::size_t i = todo[t];
            std::uint32_t h = hits[i];
            if (h != 0) {
                const std::byte* kp = blocks_ + cand[i];
                if (key_equal(*reinterpret_cast<const key_type*>(kp), keys[i])) {
                    out[i] = *reinterpret_cast<const std::uint32_t*>(kp + id_deltas[std::countr_zero(h)]);
                    continue;
                }
                h &= h - 1;
            }
            const std::size_t bi = hash[i] & mask_;
            bool found = false;
            for (; h != 0; h &= h - 1) {
                const unsigned s = static_cast<unsigned>(std::countr_zero(h));
                if (key_equal(key_at(bi, s), keys[i])) {
                    out[i] = id_at(bi, s);
                    found = true;
                    break;
                }
            }
            if (!found && groups_[bi].lane[overflow_lane] != 0) {
                const slot_ref r = locate(keys[i], hash[i], tag_of(hash[i]), 1);
                if (r.found) out[i] = id_at(r.bucket, r.slot);
            }
        }
    }

    // Slot -> offset of its key in the bucket's block, and key -> id distance:
    // a table lookup instead of a division by per_line on the hot path.
    static constexpr auto key_offsets = [] {
        std::array<std::uint16_t, slots_per_bucket> a{};
        for (std::size_t s = 0; s < slots_per_bucket; ++s) a[s] = static_cast<std::uint16_t>(layout::key_offset(s));
        return a;
    }();
    static constexpr auto id_deltas = [] {
        std::array<std::uint16_t, slots_per_bucket> a{};
        for (std::size_t s = 0; s < slots_per_bucket; ++s)
            a[s] = static_cast<std::uint16_t>(layout::id_offset(s) - layout::key_offset(s));
        return a;
    }();

    std::unique_ptr<std::byte[], aligned_delete> mem_;
    group* groups_ = nullptr;
    std::byte* blocks_ = nullptr;
    std::size_t bucket_count_ = 0;
    std::size_t mask_ = 0;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
};

} // namespace flowpipe
