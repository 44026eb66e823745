// The flow cache: an exact-match microflow cache in front of the engine's
// table walk (Open vSwitch's EMC, for flowpipe's engine).
//
// What?  A walk through the tables is a function of the packet's extracted
// flow key (in_port and tunnel metadata included) and of the tables. So the
// cache keys on the *whole* key, and a hit is correct by construction for
// everything the tables can match: whatever a flow looks at, it is in the key.
// The value is the walk's outcome, everything a replay needs to leave the
// switch exactly as the walk would have:
//   - the lookups the walk made, in order: (table, flow found or none), so a
//     hit credits the same flows (n_packets, n_bytes, used: idle timeouts
//     depend on it) and the same per-table lookup/matched counts;
//   - the outputs: a port and the key the frame must carry there, stored as a
//     delta against the original key (the words that changed; outputs that
//     carry the same key share one "version"), plus whether the packet was
//     dropped for going too deep.
//
// Validity.  Entries carry the generation they were made in; the pipeline's
// generation is the cache's own epoch plus the sum of its tables' changes()
// counters (every add, delete, expiry, eviction and learned flow moves one).
// What changes() does not see moves the epoch: a flow mod that replaces
// actions in place (the pipelines' modify), a walk whose learn replaced a
// flow's actions in place (a MAC that moved: the learn's result says so), and
// `invalidate()`, for an embedder that modifies a table behind the
// pipeline's back. A learn that only refreshes an identical flow (the steady
// state of a learning bridge) moves nothing. Both terms only grow, so any
// change gives a new generation and an old entry simply stops matching: no
// flush loop.
//
// Not cached.  Walks that ran an action with side effects beyond editing the
// key and outputting: learn (typed and generic), normal (its MAC table is
// state the generation does not cover), controller (the embedder's callback
// must run per packet), fin_timeout (it will shorten timeouts when the key
// has TCP flags). Typed action lists decide this at compile time
// (`action_effects`), generic lists at run time. Also not cached: walks with
// more lookups, outputs, key versions or changed words than an entry holds,
// and walks whose outputs overflowed. A learning walk still runs for every
// packet, as Open vSwitch runs learn per packet.
//
// Layout.  A slot holds (hash, generation) per entry, 16 bytes, four to a
// bucket line; an entry (448 bytes) holds the key and the outcome. A key has
// two candidate buckets (hash low and high halves, as OVS's EMC has two
// candidate entries), so eight ways: with 4096 flows in 8192 entries a
// 2-way table hit 94% of their packets, this one 99.9%. A lookup reads two
// bucket lines, and only an entry whose slot matches hash and generation is
// read.
// A burst is looked up in passes: hash all and prefetch their slots; pick
// candidates and prefetch their entries; then compare and replay in order.
//
// Hash.  The key is 22 words; each is xor-ed with a per-position secret and
// folded as XXH3 does (low half times high half into its lane, the raw word
// into a neighbouring lane's sum), four lanes as 32-byte vectors, then the
// lanes are mixed and finalised. It is not keyed against adversaries
// (neither is OVS's EMC); a collision only costs a full key compare.
//
// Counters are exact.  Open vSwitch credits the datapath's megaflows and
// pushes their stats to the OpenFlow rules later (revalidators); a hit here
// credits the very flows the walk found, at once. The price shows with big
// tables: a hit still writes the counters of its table-20 flow, one flow
// among a million, a memory miss the walk pays too (bench/pipeline_bench).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <variant>

#include <flowpipe/action/action_list.hpp>
#include <flowpipe/action/controller.hpp>
#include <flowpipe/action/generic.hpp>
#include <flowpipe/action/learn.hpp>
#include <flowpipe/action/normal.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/core/prefetch.hpp>

namespace flowpipe {

// ---------------------------------------------------------------------------
// What running an action list may do beyond editing the key and outputting.
namespace effect {
inline constexpr std::uint8_t none = 0;
inline constexpr std::uint8_t uncacheable = 1;    // the walk must run for every packet
inline constexpr std::uint8_t changes_tables = 2; // the walk may change flows (learn)
} // namespace effect

template <class Action>
inline constexpr std::uint8_t effects_of_action = effect::none;
template <>
inline constexpr std::uint8_t effects_of_action<actions::normal> = effect::uncacheable;
template <>
inline constexpr std::uint8_t effects_of_action<actions::controller> = effect::uncacheable;
template <>
inline constexpr std::uint8_t effects_of_action<actions::fin_timeout> = effect::uncacheable;
template <>
inline constexpr std::uint8_t effects_of_action<actions::generic_learn> = effect::uncacheable | effect::changes_tables;
template <class... Args>
inline constexpr std::uint8_t effects_of_action<actions::learn<Args...>> = effect::uncacheable | effect::changes_tables;

// The effects of one action list: a constant for a typed list, a scan of
// the actions for a generic one.
template <class List>
struct list_effects;
template <class... A>
struct list_effects<action_list<A...>> {
    static constexpr bool may_have = ((effects_of_action<A> != 0) || ...);
    static constexpr std::uint8_t of(const action_list<A...>&) noexcept {
        return static_cast<std::uint8_t>((effects_of_action<A> | ... | 0));
    }
};
template <>
struct list_effects<generic_actions> {
    static constexpr bool may_have = true;
    static std::uint8_t of(const generic_actions& g) noexcept {
        std::uint8_t e = 0;
        for (const any_action& a : g.list)
            dispatch<std::variant_size_v<any_action>>(
                a.index(), [&](auto I) { e |= effects_of_action<std::variant_alternative_t<I.value, any_action>>; });
        return e;
    }
};

// The effects of the list a flow holds (its table's allowed<...>::storage).
// Zero at compile time when no list the table allows has any.
template <class... Lists>
[[nodiscard]] inline std::uint8_t action_effects(const std::variant<Lists...>& s) noexcept {
    if constexpr (!(list_effects<Lists>::may_have || ...)) {
        (void)s;
        return effect::none;
    } else {
        std::uint8_t e = 0;
        dispatch<sizeof...(Lists)>(s.index(), [&](auto I) {
            e = list_effects<std::variant_alternative_t<I.value, std::variant<Lists...>>>::of(
                *std::get_if<I.value>(&s));
        });
        return e;
    }
}

// ---------------------------------------------------------------------------
// What the engine writes down while it walks a packet that missed the cache.
struct walk_log {
    static constexpr std::size_t max_lookups = 8;
    std::array<std::uint8_t, max_lookups> table{};
    std::array<void*, max_lookups> flow{};
    std::size_t n_lookups = 0;
    std::uint8_t effects = 0;
    bool too_many_lookups = false;
    bool replaced_actions = false; // a learn replaced a flow's actions in place

    void reset() noexcept {
        n_lookups = 0;
        effects = 0;
        too_many_lookups = false;
        replaced_actions = false;
    }
    void lookup(std::uint8_t t, void* f) noexcept {
        if (n_lookups == max_lookups) {
            too_many_lookups = true;
            return;
        }
        table[n_lookups] = t;
        flow[n_lookups] = f;
        ++n_lookups;
    }
};

struct flow_cache_counters {
    std::uint64_t hits = 0;          // packets whose walk was replayed from the cache
    std::uint64_t misses = 0;        // packets that walked the tables (uncacheable ones included)
    std::uint64_t uncacheable = 0;   // of the misses: walks the cache could not or must not hold
    std::uint64_t invalidations = 0; // times the generation moved (a table changed, a walk learned)
    std::uint64_t inserts = 0;       // walks stored
};

class flow_cache {
  public:
    static constexpr std::size_t max_lookups = walk_log::max_lookups;
    static constexpr std::size_t max_outputs = 8;
    static constexpr std::size_t max_versions = 4;
    static constexpr std::size_t max_words = 12;
    static constexpr std::uint32_t npos = 0xffffffffu;
    static constexpr std::uint64_t no_generation = ~std::uint64_t{0};

    // One cached walk.
    // Laid out in the order a hit reads it, the changed words last: a hit
    // with up to 9 of them touches the first 6 of its 7 lines, and only
    // those are prefetched.
    struct alignas(64) entry {
        flow_key key; // the packet's key as extracted
        std::uint8_t n_lookups;
        std::uint8_t n_outputs;
        std::uint8_t n_versions;
        bool too_deep;                                 // the walk went over the resubmit limits: the packet is dropped
        std::array<std::uint8_t, max_lookups> table;   // lookups: in which table
        std::array<std::uint8_t, max_outputs> version; // outputs: the key version each carries
        std::array<std::uint8_t, max_versions> first;  // versions: their first word in `words`
        std::array<std::uint32_t, max_versions> changed; //           which key words differ (bit i: word i)
        std::array<std::uint32_t, max_outputs> port;     // outputs, in order
        std::array<void*, max_lookups> flow;             // lookups: the flow found, or null (a miss)
        std::array<std::uint64_t, max_words> words;      // the changed words, version after version
    };
    static constexpr std::size_t prefetched_lines = 6;

    // A cache of at least `entries` entries (a power of two, at least 8).
    explicit flow_cache(std::size_t entries) {
        std::size_t n = ways;
        while (n < entries) n <<= 1;
        bucket_mask_ = n / ways - 1;
        buckets_ = std::make_unique<bucket[]>(n / ways);
        entries_ = std::make_unique<entry[]>(n);
        for (std::size_t b = 0; b < n / ways; ++b)
            for (slot& x : buckets_[b].way) x = slot{0, no_generation};
    }

    flow_cache(const flow_cache&) = delete;
    flow_cache& operator=(const flow_cache&) = delete;

    [[nodiscard]] std::size_t capacity() const noexcept { return (bucket_mask_ + 1) * ways; }
    [[nodiscard]] const flow_cache_counters& counters() const noexcept { return counters_; }
    [[nodiscard]] flow_cache_counters& counters() noexcept { return counters_; }

    // The cache's share of the pipeline's generation (see the top).
    [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; }
    // Makes every entry stale (a table changed in a way changes() misses).
    void invalidate() noexcept { ++epoch_; }

    // Notes the generation a burst (or the rest of one) runs in.
    void observe(std::uint64_t generation) noexcept {
        if (generation != generation_) {
            counters_.invalidations += generation_ != no_generation;
            generation_ = generation;
        }
    }
    [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }

    // The hash, on the key as 5 vectors of 4 words and one of 2 (GCC/Clang
    // vector types: the compiler lowers them to the widest vector unit it is
    // built for, SSE2 at least; 5 ns a key here against 23 for word-by-word
    // code). hash_scalar is the same function word by word (tested equal).
    [[nodiscard]] static std::uint64_t hash(const flow_key& k) noexcept {
        const auto* p = reinterpret_cast<const unsigned char*>(&k);
        u64x4 acc = {seed[0], seed[1], seed[2], seed[3]};
        u64x4 sum = {0, 0, 0, 0};
        for (std::size_t j = 0; j < 5; ++j) {
            u64x4 w, sec;
            std::memcpy(&w, p + 32 * j, 32);
            std::memcpy(&sec, &secret[4 * j], 32);
            const u64x4 d = w ^ sec;
            acc += (d & 0xffffffffu) * (d >> 32);
            sum += w;
        }
        u64x2 t, sec;
        std::memcpy(&t, p + 160, 16);
        std::memcpy(&sec, &secret[20], 16);
        const u64x2 dt = t ^ sec;
        const u64x2 at = (dt & 0xffffffffu) * (dt >> 32);
        return finish(acc[0] + at[0] + std::rotl(sum[1], 1), acc[1] + at[1] + sum[0], acc[2] + t[0] + sum[3],
                      acc[3] + t[1] + sum[2]);
    }
    [[nodiscard]] static std::uint64_t hash_scalar(const flow_key& k) noexcept {
        std::uint64_t w[flow_key::word_count];
        std::memcpy(w, &k, sizeof w);
        std::uint64_t acc[4] = {seed[0], seed[1], seed[2], seed[3]}, sum[4] = {};
        for (std::size_t i = 0; i < 20; ++i) {
            const std::uint64_t d = w[i] ^ secret[i];
            acc[i % 4] += (d & 0xffffffffu) * (d >> 32);
            sum[i % 4] += w[i];
        }
        for (std::size_t i = 20; i < 22; ++i) {
            const std::uint64_t d = w[i] ^ secret[i];
            acc[i % 4] += (d & 0xffffffffu) * (d >> 32);
        }
        return finish(acc[0] + std::rotl(sum[1], 1), acc[1] + sum[0], acc[2] + w[20] + sum[3], acc[3] + w[21] + sum[2]);
    }

    // Whole-key equality, as vectors (4 ns a key faster than memcmp's call);
    // same_key_scalar is its word-by-word twin.
    [[nodiscard]] static bool same_key(const flow_key& a, const flow_key& b) noexcept {
        const auto* p = reinterpret_cast<const unsigned char*>(&a);
        const auto* q = reinterpret_cast<const unsigned char*>(&b);
        u64x4 d = {0, 0, 0, 0};
        for (std::size_t j = 0; j < 5; ++j) {
            u64x4 x, y;
            std::memcpy(&x, p + 32 * j, 32);
            std::memcpy(&y, q + 32 * j, 32);
            d |= x ^ y;
        }
        u64x2 x, y;
        std::memcpy(&x, p + 160, 16);
        std::memcpy(&y, q + 160, 16);
        const u64x2 e = x ^ y;
        return (d[0] | d[1] | d[2] | d[3] | e[0] | e[1]) == 0;
    }
    [[nodiscard]] static bool same_key_scalar(const flow_key& a, const flow_key& b) noexcept {
        std::uint64_t x[flow_key::word_count], y[flow_key::word_count];
        std::memcpy(x, &a, sizeof x);
        std::memcpy(y, &b, sizeof y);
        std::uint64_t d = 0;
        for (std::size_t i = 0; i < flow_key::word_count; ++i) d |= x[i] ^ y[i];
        return d == 0;
    }

    // Pass 1 of a burst: the two bucket lines of hash h.
    void prefetch_slots(std::uint64_t h) const noexcept {
        prefetch_read(&buckets_[first_bucket(h)]);
        prefetch_read(&buckets_[second_bucket(h)]);
    }

    // Pass 2: the entry that may hold hash h in the current generation (its
    // key still to be compared), or npos; prefetches it.
    [[nodiscard]] std::uint32_t candidate(std::uint64_t h) const noexcept {
        std::uint32_t e = npos;
        for (const std::size_t b : {first_bucket(h), second_bucket(h)})
            for (std::size_t w = 0; w < ways; ++w)
                if (buckets_[b].way[w].hash == h && buckets_[b].way[w].generation == generation_)
                    e = static_cast<std::uint32_t>(b * ways + w);
        if (e != npos) {
            const char* p = reinterpret_cast<const char*>(&entries_[e]);
            for (std::size_t line = 0; line < prefetched_lines; ++line) prefetch_read(p + 64 * line);
        }
        return e;
    }

    // Pass 3: the flows candidate e will credit (their counter lines).
    void prefetch_flows(std::uint32_t e) const noexcept {
        const entry& x = entries_[e];
        for (std::size_t j = 0; j < x.n_lookups; ++j)
            if (x.flow[j] != nullptr) {
                prefetch_write(x.flow[j]);
                prefetch_write(static_cast<const char*>(x.flow[j]) + 64);
            }
    }

    // Pass 4: the entry if it holds key k in the current generation (an
    // earlier packet of the burst may have moved the generation), else null.
    [[nodiscard]] const entry* find(std::uint32_t e, std::uint64_t h, const flow_key& k) const noexcept {
        if (e == npos || at(e).hash != h || at(e).generation != generation_) return nullptr;
        return same_key(entries_[e].key, k) ? &entries_[e] : nullptr;
    }

    // Stores the outcome of a walk of `key` (hash h) in the current
    // generation. `port(o)` and `after(o)` give output o's port and the key
    // it carries; `version_of(o)` a number equal for outputs that carry the
    // same key object. False (and nothing stored) when it does not fit.
    template <class Port, class After, class VersionOf>
    bool insert(std::uint64_t h, const flow_key& key, const walk_log& log, bool too_deep, std::size_t n_outputs,
                Port&& port, After&& after, VersionOf&& version_of) noexcept {
        if (log.too_many_lookups || n_outputs > max_outputs) return false;
        entry& e = scratch_;
        std::uint32_t ids[max_versions];
        std::size_t n_versions = 0, n_words = 0;
        for (std::size_t o = 0; o < n_outputs; ++o) {
            const std::uint32_t id = version_of(o);
            std::size_t v = 0;
            while (v < n_versions && ids[v] != id) ++v;
            if (v == n_versions) {
                if (n_versions == max_versions) return false;
                ids[v] = id;
                if (!delta(key, after(o), e, v, n_words)) return false;
                ++n_versions;
            }
            e.port[o] = port(o);
            e.version[o] = static_cast<std::uint8_t>(v);
        }
        e.n_outputs = static_cast<std::uint8_t>(n_outputs);
        e.n_versions = static_cast<std::uint8_t>(n_versions);
        e.n_lookups = static_cast<std::uint8_t>(log.n_lookups);
        for (std::size_t i = 0; i < log.n_lookups; ++i) {
            e.table[i] = log.table[i];
            e.flow[i] = log.flow[i];
        }
        e.too_deep = too_deep;
        e.key = key;
        const std::size_t s = victim(h);
        entries_[s] = e;
        at(s) = slot{h, generation_};
        ++counters_.inserts;
        return true;
    }

    // The key output o of `e` carries, built in `into`, which must hold the
    // original key on entry (versions are deltas against it).
    static void apply(const entry& e, std::size_t version, flow_key& into) noexcept {
        std::uint32_t m = e.changed[version];
        std::size_t at = e.first[version];
        auto* base = reinterpret_cast<unsigned char*>(&into);
        while (m != 0) {
            const int w = std::countr_zero(m);
            std::memcpy(base + 8 * static_cast<std::size_t>(w), &e.words[at++], 8);
            m &= m - 1;
        }
    }

    // A replay's lookup in table t (found: a flow matched). The counts are
    // added up here and handed to the tables once per burst (flush_lookups):
    // nothing reads table stats in the middle of a burst.
    void credit_lookup(std::uint8_t t, bool found) noexcept {
        ++pending_[t].lookups;
        pending_[t].matched += found;
    }
    // Adds the replayed lookups to the stats of each of `tables`.
    template <class Tables>
    void flush_lookups(Tables& tables) noexcept {
        tables.for_each_table([&](auto& t) {
            pending& p = pending_[t.id()];
            if (p.lookups == 0) return;
            t.count_lookups(p.lookups, p.matched);
            p = {};
        });
    }

  private:
    struct slot {
        std::uint64_t hash;
        std::uint64_t generation;
    };

    static constexpr std::array<std::uint64_t, flow_key::word_count> secret = [] {
        std::array<std::uint64_t, flow_key::word_count> s{};
        std::uint64_t x = 0x243f6a8885a308d3ULL; // splitmix64 from pi's digits
        for (auto& v : s) {
            x += 0x9e3779b97f4a7c15ULL;
            std::uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            v = z ^ (z >> 31);
        }
        return s;
    }();

    using u64x4 = std::uint64_t __attribute__((vector_size(32)));
    using u64x2 = std::uint64_t __attribute__((vector_size(16)));
    static constexpr std::uint64_t seed[4] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL,
                                              0x85ebca77c2b2ae63ULL};

    // The four lanes mixed (128-bit products folded) and finalised (murmur3's fmix64).
    [[nodiscard]] static std::uint64_t finish(std::uint64_t a0, std::uint64_t a1, std::uint64_t a2,
                                              std::uint64_t a3) noexcept {
        auto mix = [](std::uint64_t a, std::uint64_t b) {
            const uint128 p = static_cast<uint128>(a) * b;
            return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
        };
        std::uint64_t h = mix(a0 ^ secret[0], a1 ^ secret[1]) + mix(a2 ^ secret[2], a3 ^ secret[3]);
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        return h ^ (h >> 33);
    }

    [[nodiscard]] std::size_t first_bucket(std::uint64_t h) const noexcept { return h & bucket_mask_; }
    [[nodiscard]] std::size_t second_bucket(std::uint64_t h) const noexcept { return std::rotl(h, 32) & bucket_mask_; }
    [[nodiscard]] slot& at(std::size_t e) const noexcept { return buckets_[e / ways].way[e % ways]; }

    // Where a new entry for hash h goes: its own stale slot, else a slot of
    // an older generation, else one of the eight picked by bits of the hash
    // (random replacement, as Open vSwitch's EMC).
    [[nodiscard]] std::size_t victim(std::uint64_t h) const noexcept {
        const std::size_t b[2] = {first_bucket(h), second_bucket(h)};
        for (const std::size_t x : b)
            for (std::size_t w = 0; w < ways; ++w)
                if (buckets_[x].way[w].hash == h) return x * ways + w;
        for (const std::size_t x : b)
            for (std::size_t w = 0; w < ways; ++w)
                if (buckets_[x].way[w].generation != generation_) return x * ways + w;
        const std::size_t pick = h >> 61;
        return b[pick / ways] * ways + pick % ways;
    }

    // Records version v of `e`: the words of `after` that differ from `key`.
    static bool delta(const flow_key& key, const flow_key& after, entry& e, std::size_t v,
                      std::size_t& n_words) noexcept {
        std::uint64_t x[flow_key::word_count], y[flow_key::word_count];
        std::memcpy(x, &key, sizeof x);
        std::memcpy(y, &after, sizeof y);
        std::uint32_t changed = 0;
        for (std::size_t i = 0; i < flow_key::word_count; ++i) changed |= std::uint32_t{x[i] != y[i]} << i;
        if (n_words + static_cast<std::size_t>(std::popcount(changed)) > max_words) return false;
        e.changed[v] = changed;
        e.first[v] = static_cast<std::uint8_t>(n_words);
        for (std::uint32_t m = changed; m != 0; m &= m - 1) e.words[n_words++] = y[std::countr_zero(m)];
        return true;
    }

    static constexpr std::size_t ways = 4;
    struct alignas(64) bucket {
        std::array<slot, ways> way;
    };
    std::size_t bucket_mask_ = 0;
    std::unique_ptr<bucket[]> buckets_;
    std::unique_ptr<entry[]> entries_;
    entry scratch_{};
    struct pending {
        std::uint64_t lookups = 0;
        std::uint64_t matched = 0;
    };
    std::array<pending, 256> pending_{};
    std::uint64_t epoch_ = 0;
    std::uint64_t generation_ = no_generation;
    flow_cache_counters counters_;
};

} // namespace flowpipe
