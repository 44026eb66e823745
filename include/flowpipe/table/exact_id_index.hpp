// exact_id_index<Words>: the lookup structure of an all-exact flow table.
// Maps a packed key to a 32-bit flow id, like exact_index, but stores only
// the ids: the keys stay in the flows, where a hit has to go anyway.
//
// Why.  exact_index keeps each key next to its id inside the index, so a hit
// reads the tag group, then the key's line, then (in the flow table) the
// flow: three cache lines, at 1M flows two or three of them from DRAM. A
// flow table's caller always reads the flow it finds (to run its actions, or
// for learn to compare and refresh it), so the key can be compared there: a
// hit reads one index line and the flow, a miss one index line, and the
// index costs 6.4 bytes a slot instead of 23.5 (learn_bench: 28 -> 16 bytes
// per flow at 1M flows; a re-learn burst at 1M was bound by the number of
// lines it keeps in flight, see bench/learn_bench.cpp).
//
// Layout (one allocation, made in the constructor, never resized)
//
//   struct bucket {                    // 64 bytes, one cache line
//       uint16_t tag[10];              // 0 = empty slot, else the key's tag
//       uint16_t overflow;             // keys that probed past this bucket
//       uint16_t unused;
//       uint32_t id[10];               // the flow of each slot
//   } buckets[bucket_count];           // just enough for the capacity
//
// The ten tags and the overflow count are compared as the first 16 lanes of
// the line (one 256-bit compare, or two 128-bit ones; lanes 10..15 are
// masked off; the mask has two bits a lane, detail::match_tag_pairs), so a
// bucket's tags and ids are read with one line.
//
// Hash, probing, deletion: exactly exact_index's (its hash, linear probing
// by bucket, overflow counts instead of tombstones), with ten slots a
// bucket, and three differences: a tag is the hash's top 15 bits with a low
// 1 bit (never 0, the empty slot's), the bucket count is not rounded up to
// a power of two (a key's home bucket is its hash's low half times the
// count, top 32 bits), and the capacity is 2/3 of the slots, not 3/4. So a
// table sized for 1.1M flows takes 10.2 index bytes a flow (16 with a power
// of two). (At 3/4, 9.1 bytes: filling br-tun's table 20 from 1M to 1.06M
// MACs, a quarter of the new MACs found their home bucket overflowed; at
// 2/3, bursts of those learns ran 1.25x faster, re-learns 1.09x, for 1.1
// bytes a flow more.) Keys are compared through the caller's `key_of(id)`,
// which returns the key of the flow with that id (a `const key_type&` or a
// copy); a false tag match (at most 10 in 32768 per probed bucket) costs
// one extra flow read.
//
// No allocation, lock, exception or call through a pointer on the lookup
// path: key_of is a template parameter and inlines.
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
#include <flowpipe/match/packed_key.hpp>
#include <flowpipe/table/detail/tag_match.hpp>
#include <flowpipe/table/exact_index.hpp>

namespace flowpipe {

template <std::size_t Words>
class exact_id_index {
  public:
    using key_type = packed_key<Words>;
    static constexpr std::uint32_t npos = 0xffffffffu;
    enum class insert_result { inserted, exists, full };

    static constexpr std::size_t slots_per_bucket = 10;
    static constexpr std::size_t burst_group = 32;
    static constexpr std::size_t max_load_num = 2, max_load_den = 3;

    // Just enough buckets for `capacity` keys at max_load (not rounded up to
    // a power of two: a key's home bucket is picked by multiplying, below).
    [[nodiscard]] static constexpr std::size_t bucket_count_for(std::size_t capacity) noexcept {
        const std::size_t slots_needed = (capacity * max_load_den + max_load_num - 1) / max_load_num;
        const std::size_t buckets = (slots_needed + slots_per_bucket - 1) / slots_per_bucket;
        return buckets < 1 ? 1 : buckets;
    }
    [[nodiscard]] static constexpr std::size_t capacity_for(std::size_t capacity) noexcept {
        return bucket_count_for(capacity) * slots_per_bucket * max_load_num / max_load_den;
    }

    explicit exact_id_index(std::size_t capacity) {
        bucket_count_ = bucket_count_for(capacity);
        assert(bucket_count_ <= std::size_t{0xffffffffu} && "exact_id_index: at most 2^32 buckets");
        capacity_ = capacity_for(capacity);
        mem_.reset(static_cast<bucket*>(::operator new (bucket_count_ * sizeof(bucket), std::align_val_t{64})));
        clear();
    }

    exact_id_index(const exact_id_index&) = delete;
    exact_id_index& operator=(const exact_id_index&) = delete;
    exact_id_index(exact_id_index&&) noexcept = default;
    exact_id_index& operator=(exact_id_index&&) noexcept = default;

    // The same hash as exact_index (so the two index the same key alike).
    [[nodiscard]] static std::uint64_t hash(const key_type& k) noexcept { return exact_index<Words>::hash(k); }

    // What probe(k) found: the slot holding k, or where insert_at would put
    // it (exact_index's, field for field).
    using probe_result = typename exact_index<Words>::probe_result;
    static_assert(exact_index<Words>::npos == npos, "probe_result's id uses npos for none");

    template <class KeyOf>
    [[nodiscard]] probe_result probe(const key_type& k, std::uint64_t h, const KeyOf& key_of) const noexcept {
        probe_result r;
        r.hash = h;
        const std::uint16_t t = tag_of(h);
        std::size_t i = 0;
        for (; i < bucket_count_; ++i) {
            const std::size_t bi = step(h, i);
            const bucket& b = buckets()[bi];
            for (std::uint32_t hits = match(b, t); hits != 0; hits &= hits - 1) {
                const unsigned s = slot_of(hits);
                const std::uint32_t id = id_of(b, hits);
                if (key_equal(key_of(id), k)) {
                    r.found = true;
                    r.bucket = bi;
                    r.slot = s;
                    r.skipped = static_cast<std::uint32_t>(i);
                    r.id = id;
                    return r;
                }
            }
            if (!r.has_free) {
                if (const std::uint32_t free = match(b, 0); free != 0) {
                    r.has_free = true;
                    r.bucket = bi;
                    r.slot = slot_of(free);
                    r.skipped = static_cast<std::uint32_t>(i);
                }
            }
            if (b.lane[overflow_lane] == 0) break;
        }
        for (++i; !r.has_free && i < bucket_count_; ++i) {
            const std::size_t bi = step(h, i);
            if (const std::uint32_t free = match(buckets()[bi], 0); free != 0) {
                r.has_free = true;
                r.bucket = bi;
                r.slot = slot_of(free);
                r.skipped = static_cast<std::uint32_t>(i);
            }
        }
        return r;
    }
    template <class KeyOf>
    [[nodiscard]] probe_result probe(const key_type& k, const KeyOf& key_of) const noexcept {
        return probe(k, hash(k), key_of);
    }

    // Stores `id` for the absent key probe `p` was taken for, where insert
    // would (valid while the index has not changed since the probe).
    [[gnu::always_inline]] insert_result insert_at(const probe_result& p, std::uint32_t id) noexcept {
        assert(id != npos && "exact_id_index::insert_at: npos is not a valid id");
        if (p.found) return insert_result::exists;
        if (size_ >= capacity_ || !p.has_free) return insert_result::full;
        insert_free(p, id);
        return insert_result::inserted;
    }
    // insert_at for a probe the caller has checked: the key absent, a free
    // slot found, the index under capacity.
    [[gnu::always_inline]] void insert_free(const probe_result& p, std::uint32_t id) noexcept {
        assert(id != npos && !p.found && p.has_free && size_ < capacity_ && "exact_id_index::insert_free: unchecked");
        bucket& b = buckets()[p.bucket];
        set_id(b, p.slot, id);
        for (std::size_t j = 0; j < p.skipped; ++j) {
            std::uint16_t& o = buckets()[step(p.hash, j)].lane[overflow_lane];
            if (o != overflow_sticky) ++o;
        }
        b.lane[p.slot] = tag_of(p.hash); // published last, as in exact_index
        ++size_;
    }

    template <class KeyOf>
    insert_result insert(const key_type& k, std::uint32_t id, const KeyOf& key_of) {
        return insert_at(probe(k, key_of), id);
    }

    template <class KeyOf>
    bool replace(const key_type& k, std::uint32_t id, const KeyOf& key_of) {
        assert(id != npos && "exact_id_index::replace: npos is not a valid id");
        const probe_result r = probe(k, key_of);
        if (!r.found) return false;
        set_id(buckets()[r.bucket], r.slot, id);
        return true;
    }

    template <class KeyOf>
    bool erase(const key_type& k, const KeyOf& key_of) {
        const probe_result r = probe(k, key_of);
        if (!r.found) return false;
        buckets()[r.bucket].lane[r.slot] = 0;
        for (std::size_t j = 0; j < r.skipped; ++j) {
            std::uint16_t& o = buckets()[step(r.hash, j)].lane[overflow_lane];
            if (o != overflow_sticky) --o;
        }
        --size_;
        return true;
    }

    template <class KeyOf>
    [[nodiscard]] std::uint32_t find(const key_type& k, const KeyOf& key_of) const noexcept {
        const std::uint64_t h = hash(k);
        const std::uint16_t t = tag_of(h);
        for (std::size_t i = 0; i < bucket_count_; ++i) {
            const bucket& b = buckets()[step(h, i)];
            for (std::uint32_t hits = match(b, t); hits != 0; hits &= hits - 1) {
                const std::uint32_t id = id_of(b, hits);
                if (key_equal(key_of(id), k)) return id;
            }
            if (b.lane[overflow_lane] == 0) break;
        }
        return npos;
    }

    // find() for n keys, in passes that overlap a group's cache misses:
    // hash and prefetch every home bucket; compare tags and prefetch the key
    // (`prefetch_key(id)`: the flow) of the first candidate; compare keys.
    // A false tag match or an overflowed home bucket continues on find().
    template <class KeyOf, class PrefetchKey>
    void find_burst(const key_type* keys, std::size_t n, std::uint32_t* out, const KeyOf& key_of,
                    const PrefetchKey& prefetch_key) const noexcept {
        for (std::size_t base = 0; base < n; base += burst_group) {
            const std::size_t m = n - base < burst_group ? n - base : burst_group;
            std::uint64_t h[burst_group];
            for (std::size_t i = 0; i < m; ++i) {
                h[i] = hash(keys[base + i]);
                prefetch_read(&buckets()[home(h[i])]);
            }
            std::uint32_t cand[burst_group];
            bool settled[burst_group];
            for (std::size_t i = 0; i < m; ++i) {
                const bucket& b = buckets()[home(h[i])];
                const std::uint32_t hits = match(b, tag_of(h[i]));
                cand[i] = hits != 0 ? id_of(b, hits) : npos;
                if (cand[i] != npos) prefetch_key(cand[i]);
                // No candidate and a home bucket nothing probed past: a miss.
                settled[i] = hits == 0 && b.lane[overflow_lane] == 0;
                out[base + i] = npos;
            }
            for (std::size_t i = 0; i < m; ++i) {
                if (settled[i]) continue;
                if (cand[i] != npos && key_equal(key_of(cand[i]), keys[base + i])) {
                    out[base + i] = cand[i];
                    continue;
                }
                out[base + i] = find(keys[base + i], key_of);
            }
        }
    }

    // probe() for n keys whose hashes are given, in passes (as find_burst):
    // out[i] is what probe(keys[i], hashes[i], key_of) returns.
    template <class KeyOf, class PrefetchKey>
    void probe_burst(const key_type* keys, const std::uint64_t* hashes, std::size_t n, probe_result* out,
                     const KeyOf& key_of, const PrefetchKey& prefetch_key) const noexcept {
        for (std::size_t base = 0; base < n; base += burst_group) {
            const std::size_t m = n - base < burst_group ? n - base : burst_group;
            const std::uint64_t* hs = hashes + base;
            std::uint32_t hits[burst_group];
            for (std::size_t i = 0; i < m; ++i) prefetch_write(&buckets()[home(hs[i])]);
            for (std::size_t i = 0; i < m; ++i) {
                const bucket& b = buckets()[home(hs[i])];
                hits[i] = match(b, tag_of(hs[i]));
                if (hits[i] != 0) prefetch_key(id_of(b, hits[i]));
            }
            for (std::size_t i = 0; i < m; ++i) {
                const std::uint64_t h = hs[i];
                const std::size_t bi = home(h);
                const bucket& b = buckets()[bi];
                probe_result& r = out[base + i];
                r.hash = h;
                r.skipped = 0;
                if (hits[i] != 0) {
                    const unsigned s = slot_of(hits[i]);
                    const std::uint32_t id = id_of(b, hits[i]);
                    if (key_equal(key_of(id), keys[base + i])) {
                        r.bucket = bi;
                        r.slot = s;
                        r.id = id;
                        r.found = true;
                        r.has_free = false;
                        continue;
                    }
                } else if (b.lane[overflow_lane] == 0) {
                    const std::uint32_t free = match(b, 0);
                    r.id = npos;
                    r.found = false;
                    r.has_free = free != 0;
                    if (r.has_free) {
                        r.bucket = bi;
                        r.slot = slot_of(free);
                        continue;
                    }
                }
                r = probe(keys[base + i], h, key_of);
            }
        }
    }

    // probe() when the key's home bucket settles it (learn's fast path):
    // the key is there, at the bucket's first tag match; or it is nowhere
    // (no tag match, nothing probed past the bucket) and the bucket has a
    // free slot, where insert_at puts it. Anything else (a false tag match,
    // an overflowed or full home bucket) returns false: probe() decides.
    template <class KeyOf>
    [[nodiscard, gnu::always_inline]] bool probe_home(const key_type& k, std::uint64_t h, const KeyOf& key_of,
                                                      probe_result& r) const noexcept {
        return probe_first<false>(k, h, key_of, r);
    }
    // probe_home, and when the home bucket has overflowed, the next bucket
    // too: the key at its first tag match, or nowhere (nothing probed past
    // the next bucket either) with a free slot in one of the two. (Near the
    // load a full table had at 3/4 capacity, about a quarter of the home
    // buckets had overflowed: filling br-tun's table 20 from 1M to 1.06M
    // MACs sent 25% of the new ones past probe_home, and 17% past this; from
    // 1K to 2K, 10.6% and 7.1%.)
    template <class KeyOf>
    [[nodiscard, gnu::always_inline]] bool probe_near(const key_type& k, std::uint64_t h, const KeyOf& key_of,
                                                      probe_result& r) const noexcept {
        return probe_first<true>(k, h, key_of, r);
    }

    // Whether slot s of bucket b holds no key.
    [[nodiscard]] bool slot_free(std::size_t b, std::uint32_t s) const noexcept { return buckets()[b].lane[s] == 0; }

    // Prefetches the home bucket of hash h.
    void prefetch(std::uint64_t h) const noexcept { prefetch_read(&buckets()[home(h)]); }
    // Prefetches the bucket after the home bucket of hash h when the home
    // bucket has overflowed (reads the home bucket: prefetch it first).
    // (No branch: the home bucket again when it has not overflowed. A
    // branch on the home line's arrival measured re-learns 0.88x at 1M.)
    void prefetch_next(std::uint64_t h) const noexcept {
        const std::size_t bi = home(h);
        const std::size_t next = bi + 1 == bucket_count_ ? 0 : bi + 1;
        const std::size_t take = std::size_t{0} - std::size_t{buckets()[bi].lane[overflow_lane] != 0}; // all ones or 0
        prefetch_read(&buckets()[bi ^ ((bi ^ next) & take)]); // (GCC made a ?: a branch)
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t slot_count() const noexcept { return bucket_count_ * slots_per_bucket; }
    [[nodiscard]] std::size_t bucket_count() const noexcept { return bucket_count_; }
    [[nodiscard]] std::size_t memory_bytes() const noexcept { return bucket_count_ * sizeof(bucket) + sizeof(*this); }

    void clear() noexcept {
        std::memset(static_cast<void*>(mem_.get()), 0, bucket_count_ * sizeof(bucket));
        size_ = 0;
    }

  private:
    static constexpr std::size_t overflow_lane = slots_per_bucket;
    static constexpr std::uint16_t overflow_sticky = 0xffff;
    static constexpr std::uint32_t slot_bits = [] { // bit 2s for every slot s
        std::uint32_t m = 0;
        for (std::size_t s = 0; s < slots_per_bucket; ++s) m |= 1u << (2 * s);
        return m;
    }();
    static constexpr std::size_t id_offset = 24; // bytes: 12 lanes of tags, overflow and padding first

    // 32 lanes of 16 bits: tags in 0..9, the overflow count in 10, ids from
    // byte 24 on (read and written with memcpy).
    struct alignas(64) bucket {
        std::uint16_t lane[32];
    };
    static_assert(sizeof(bucket) == 64, "a bucket is one cache line");
    static_assert(id_offset + 4 * slots_per_bucket <= sizeof(bucket), "ten ids fit after the tags");

    struct aligned_delete {
        void operator()(bucket* p) const noexcept { ::operator delete (p, std::align_val_t{64}); }
    };

    [[nodiscard]] bucket* buckets() const noexcept { return mem_.get(); }

    // probe_home (Next false) and probe_near.
    template <bool Next, class KeyOf>
    [[gnu::always_inline]] bool probe_first(const key_type& k, std::uint64_t h, const KeyOf& key_of,
                                            probe_result& r) const noexcept {
        const std::uint16_t t = tag_of(h);
        const std::size_t bi = home(h);
        const bucket& b = buckets()[bi];
        const std::uint32_t hits = match(b, t);
        r.hash = h;
        r.bucket = bi;
        r.skipped = 0;
        if (hits != 0) {
            const unsigned s = slot_of(hits);
            r.id = id_of(b, hits);
            r.slot = s;
            r.found = true;
            r.has_free = false;
            return key_equal(key_of(r.id), k);
        }
        const std::uint32_t free = match(b, 0);
        r.id = npos;
        r.slot = slot_of(free);
        r.found = false;
        r.has_free = true;
        if constexpr (Next) {
            if (b.lane[overflow_lane] == 0) return free != 0;
            return probe_next(k, h, t, free != 0, key_of, r);
        } else {
            return free != 0 && b.lane[overflow_lane] == 0;
        }
    }
    // probe_near's second bucket (home overflowed, no tag match there; r
    // holds home's first free slot when home_free).
    template <class KeyOf>
    [[gnu::always_inline]] bool probe_next(const key_type& k, std::uint64_t h, std::uint16_t t, bool home_free,
                                           const KeyOf& key_of, probe_result& r) const noexcept {
        const std::size_t bi = step(h, 1);
        const bucket& b = buckets()[bi];
        if (const std::uint32_t hits = match(b, t); hits != 0) {
            const unsigned s = slot_of(hits);
            r.id = id_of(b, hits);
            r.bucket = bi;
            r.slot = s;
            r.skipped = 1;
            r.found = true;
            r.has_free = home_free; // (as probe(): a found key keeps the free slot seen before it)
            return key_equal(key_of(r.id), k);
        }
        if (b.lane[overflow_lane] != 0) return false;
        if (home_free) return true;
        const std::uint32_t free = match(b, 0);
        r.bucket = bi;
        r.slot = slot_of(free);
        r.skipped = 1;
        return free != 0;
    }

    // Which slots hold tag t: bit 2s for slot s (match_tag_pairs, the
    // pair's high bit and the lanes past the slots masked off).
    static std::uint32_t match(const bucket& b, std::uint16_t t) noexcept {
        return detail::match_tag_pairs<16>(b.lane, t) & slot_bits;
    }
    // The first slot a match() names, and the id in it (the bit index is
    // twice the slot: the id's offset takes it without a shift).
    static unsigned slot_of(std::uint32_t bits) noexcept { return static_cast<unsigned>(std::countr_zero(bits)) / 2; }
    static std::uint32_t id_of(const bucket& b, std::uint32_t bits) noexcept {
        std::uint32_t id;
        std::memcpy(&id,
                    reinterpret_cast<const std::byte*>(b.lane) + id_offset +
                        2 * static_cast<unsigned>(std::countr_zero(bits)),
                    4);
        return id;
    }
    static void set_id(bucket& b, unsigned s, std::uint32_t id) noexcept {
        std::memcpy(reinterpret_cast<std::byte*>(b.lane) + id_offset + 4 * s, &id, 4);
    }
    // A key's home bucket: the low 32 bits of its hash scaled to the bucket
    // count (Lemire's multiply-shift; the tag takes the top 16 bits), and
    // the i-th bucket of its probe sequence, wrapping at the end.
    [[nodiscard]] std::size_t home(std::uint64_t h) const noexcept {
        return static_cast<std::size_t>(((h & 0xffffffffu) * bucket_count_) >> 32);
    }
    [[nodiscard]] std::size_t step(std::uint64_t h, std::size_t i) const noexcept {
        const std::size_t b = home(h) + i;
        return b >= bucket_count_ ? b - bucket_count_ : b;
    }
    // A key's tag: the hash's top 15 bits and a low 1 (never 0, the empty
    // slot's; one instruction where avoiding 0 by a compare took three).
    static std::uint16_t tag_of(std::uint64_t h) noexcept { return static_cast<std::uint16_t>(h >> 48) | 1u; }
    template <class K>
    static bool key_equal(const K& a, const key_type& b) noexcept {
        const key_type& ka = a;
        std::uint64_t diff = 0;
        for (std::size_t i = 0; i < Words; ++i) diff |= ka.w[i] ^ b.w[i];
        return diff == 0;
    }

    std::unique_ptr<bucket[], aligned_delete> mem_;
    std::size_t bucket_count_ = 0;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
};

} // namespace flowpipe
