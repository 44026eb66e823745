// learned_store<Learn, Schema, Allowed>: the flows one typed learn<...> has
// installed into an exact table, kept as compact records instead of general
// flows (br-tun's table-20 MACs in under 64 bytes each). flow_table owns one
// when its lookup tag is `lookup::exact_learned<Learn>`; the table's own
// exact index maps each record's key to it (see flow_table.hpp), so the
// store is records, their timers and nothing else.
//
// Why a record can be small.  A general flow carries what any flow may
// need: priority, timeouts, cookie, a variant of action lists, 64-bit
// times, an id, a same-key link and two timer links (112 bytes for br-tun's
// table 20). Every flow one typed learn installs has the same priority,
// timeouts and action *shape*, constants of the learn's type, and the
// table's store holds the flows of one cookie. Per flow only what the learn
// read from the packet differs, plus Open vSwitch's per-flow state. So a
// record holds exactly:
//   - the packed key (compared by the table's index);
//   - the value each load_field / output_field spec put in its action
//     (load_const and fin_timeout stay in the type), in a lane of 1, 2 or 4
//     bytes sized by the spec's source bits: a value of up to 32 bits
//     always fits, a wider one (tun_id: 64 bits) when it is below 2^32, as
//     a VNI or a GRE key is; an output port in 2 bytes as OpenFlow 1.0 has
//     it (ports::to_ofp10);
//   - n_packets / n_bytes (64-bit, as Open vSwitch's);
//   - created / modified / used as 32-bit milliseconds after the store's
//     `base` (a 49-day window);
//   - one 32-bit timer link and a flag byte (whether it is on a timer list
//     is a bit apart, so that an add need not read the line it writes).
// For br-tun's learn that is 8 + 4 + 2 + 16 + 12 + 4 + 1 = 47 -> 48 bytes.
//
// Exactness.  Nothing is rounded away: a record whose values or times do
// not fit goes to the side table (`spilled`), which keeps every value and
// time at full width, and its `created` lane holds its side slot. Values
// spill on the learn that brings them (cold). Times leave the window only
// when the clock runs 2^32 ms away from the base: the learn or hit that sees
// such a `now` rebases (cold, O(records), at most once per ~24 days of a
// monotonic clock): the base moves to now - 2^31 and every record is
// rewritten against it, or spilled if one of its times no longer fits.
//
// Timers.  All flows of one learn share one hard and one idle timeout, so a
// flow's expiry only moves later (a re-learn moves `modified`, a hit
// `used`). Records sit on singly linked lists of a small wheel (2^10 slots
// of 64 ms: 4 KiB of heads), each in the slot of a lower bound of its
// expiry; expire(now) detaches the lists that came due and looks at every
// record on them: expired ones go, the others are linked again by their
// current bound. A freed record may still be on a list (`listed`): whoever
// takes the slot next keeps that place (an earlier bound is still a lower
// bound, with a clock that does not run backwards), and expire drops it
// from the list if it is still free then. So one link suffices and nothing
// allocates. (A FIFO in refresh order does not work: a record re-queued by
// expire can expire before records queued ahead of it by learns.)
//
// Records live in one array of address space reserved for max_records
// (mmap, never moved: the engine and the flow cache hold record addresses
// like flow addresses), constructed 1024 at a time as the store grows, so
// memory follows the records held. No allocation on the learn or lookup
// path but the timer bitmap's growth every 1024 records and the rare
// spill; no exceptions there; no calls through pointers.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include <flowpipe/action/learn.hpp>
#include <flowpipe/table/detail/reserved_array.hpp>

namespace flowpipe {

namespace detail {

// What a learn's action spec keeps per flow: the value it put in its
// action; nothing for constants. `bits` sizes the lane (the source's width).
template <class Spec>
struct learned_lane_of {
    static constexpr unsigned bits = 0;
    template <class A>
    static std::uint64_t get(const A&) noexcept {
        return 0;
    }
    template <class A>
    static void put(A&, std::uint64_t) noexcept {}
    static std::uint64_t from_key(const flow_key&) noexcept { return 0; }
};
template <field_type Src, field_type Dst>
struct learned_lane_of<learn_args::load_field<Src, Dst>> {
    static_assert(sizeof(typename Dst::value_type) <= 8, "learned_store: load_field destinations of up to 64 bits");
    static constexpr unsigned bits = Src::range.n_bits;
    static std::uint64_t get(const actions::load_to<Dst>& a) noexcept { return static_cast<std::uint64_t>(a.value); }
    static void put(actions::load_to<Dst>& a, std::uint64_t v) noexcept {
        a.value = static_cast<typename Dst::value_type>(v);
    }
    // get() of the action learn builds from packet k (Spec::fill).
    [[gnu::always_inline]] static std::uint64_t from_key(const flow_key& k) noexcept {
        return static_cast<std::uint64_t>(static_cast<typename Dst::value_type>(learned_bits<Src>(k)));
    }
};
template <field_type Src>
struct learned_lane_of<learn_args::output_field<Src>> {
    static constexpr unsigned bits = Src::range.n_bits;
    // Ports as OpenFlow 1.0 numbers them (the reserved ones 0xff00..), which
    // fit 16-bit lanes; a port with no 16-bit twin spills.
    static std::uint64_t get(const actions::output& a) noexcept {
        if (bits > 16 || a.port < 0xff00u) [[likely]] // (every port of a switch: one compare)
            return a.port;
        return a.port >= 0xffffff00u ? ports::to_ofp10(a.port) : a.port;
    }
    static void put(actions::output& a, std::uint64_t v) noexcept {
        a.port = bits <= 16 && v >= 0xff00 && v <= 0xffff ? ports::from_ofp10(static_cast<std::uint16_t>(v))
                                                          : static_cast<std::uint32_t>(v);
    }
    // get() of the action learn builds from packet k: a 16-bit port below
    // 0xff00 is its own lane; the rest go there and back. (Inlined: in
    // install_burst's per-packet loop GCC made it a call.)
    [[gnu::always_inline]] static std::uint64_t from_key(const flow_key& k) noexcept {
        const uint128 b = learned_bits<Src>(k);
        if constexpr (bits <= 16)
            if (static_cast<std::uint16_t>(b) < 0xff00u) [[likely]]
                return static_cast<std::uint16_t>(b);
        actions::output a{};
        learn_args::output_field<Src>::fill(a, k);
        return get(a);
    }
};

// Bytes of a spec's lane: 0 for constants, else 1, 2 or 4.
constexpr std::size_t learned_lane_bytes(unsigned bits) noexcept {
    return bits == 0 ? 0 : bits <= 8 ? 1 : bits <= 16 ? 2 : 4;
}

template <class List>
struct learned_lanes;
template <class... S>
struct learned_lanes<type_list<S...>> {
    static constexpr std::size_t count = sizeof...(S);
    static constexpr std::array<unsigned, count + 1> bits{learned_lane_of<S>::bits..., 0};
    static constexpr std::array<std::size_t, count + 1> offsets = [] {
        std::array<std::size_t, count + 1> o{};
        std::size_t at = 0;
        for (std::size_t i = 0; i < count; ++i) {
            o[i] = at;
            at += learned_lane_bytes(bits[i]);
        }
        o[count] = at;
        return o;
    }();
    static constexpr std::size_t bytes = offsets[count];
};

} // namespace detail

template <class Learn, class Schema, class Allowed>
class learned_store {
    using lanes = detail::learned_lanes<typename Learn::action_specs>;
    static constexpr std::size_t n_specs = lanes::count;

  public:
    using key_type = typename Schema::key_type;
    using flow_actions = typename Learn::flow_actions;
    static constexpr std::uint32_t npos = 0xffffffffu;
    static constexpr bool has_timeout = Learn::hard_timeout != 0 || Learn::idle_timeout != 0;

    // Flag bits of a record.
    static constexpr std::uint8_t live_bit = 1, spilled_bit = 4;

    struct alignas(16) record {
        key_type key{};
        std::uint64_t n_packets = 0;
        std::uint64_t n_bytes = 0;
        std::uint32_t created = 0; // ms after base; the side slot when spilled
        std::uint32_t modified = 0;
        std::uint32_t used = 0;
        std::uint32_t timer_next = npos;
        std::array<std::uint8_t, lanes::bytes> values{};
        std::uint8_t flags = 0;
        [[nodiscard]] bool live() const noexcept { return flags & live_bit; }
        [[nodiscard]] bool spilled() const noexcept { return flags & spilled_bit; }
    };

    // A spilled record's values and times at full width.
    struct wide {
        std::array<std::uint64_t, n_specs + 1> values{};
        std::int64_t created = 0, modified = 0, used = 0;
    };
    using values_type = std::array<std::uint64_t, n_specs + 1>;

    struct store_stats {
        std::uint64_t spilled = 0; // records moved to the side table
        std::uint64_t rebased = 0; // times the base moved
    };

    // A store for at most max_records records.
    explicit learned_store(std::size_t max_records)
        : cap_(std::max<std::size_t>(max_records, 1)), records_((cap_ + chunk_size - 1) / chunk_size * chunk_size) {
        if constexpr (has_timeout) std::fill(heads_.begin(), heads_.end(), npos);
    }
    learned_store(const learned_store&) = delete;
    learned_store& operator=(const learned_store&) = delete;

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }
    [[nodiscard]] std::uint64_t cookie() const noexcept { return cookie_; }
    // The cookie of every record; set while the store is empty.
    void set_cookie(std::uint64_t c) noexcept { cookie_ = c; }
    [[nodiscard]] const store_stats& stats() const noexcept { return stats_; }

    // Bytes held: the records constructed (the pages written; the rest of the
    // reservation is address space only), side table, free lists, timer
    // bitmap and heads.
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return chunks_ * chunk_size * sizeof(record) + side_.capacity() * sizeof(wide) +
               (side_free_.capacity() + free_.capacity()) * 4 + listed_.capacity() * 8 +
               (has_timeout ? sizeof(heads_) : 0);
    }

    [[nodiscard]] record& at(std::uint32_t id) noexcept { return records_.get()[id]; }
    [[nodiscard]] const record& at(std::uint32_t id) const noexcept { return records_.get()[id]; }
    // ---- values and times ----

    // The values a flow's actions carry (lane order), and whether they fit.
    [[gnu::always_inline]] static bool values_of(const flow_actions& acts, values_type& v) noexcept {
        bool fit = true;
        [&]<class... S>(detail::type_list<S...>) {
            constexpr std::size_t first = std::tuple_size_v<decltype(acts.actions)> - sizeof...(S);
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                ((v[I] = detail::learned_lane_of<S>::get(std::get<first + I>(acts.actions)),
                  fit = fit && lane_fits<I>(v[I])),
                 ...);
            }
            (std::index_sequence_for<S...>{});
        }(typename Learn::action_specs{});
        return fit;
    }
    // values_of(Learn::build_actions(k)), from packet k's key (without
    // building the list: an output port is not converted there and back).
    // (No lambdas: in a caller with two copies of the learn's fast path,
    // GCC made them calls.)
    [[gnu::always_inline]] static bool values_of_key(const flow_key& k, values_type& v) noexcept {
        return values_of_key(k, v, typename Learn::action_specs{}, std::make_index_sequence<n_specs>{});
    }
    // The actions a record's flow runs.
    [[nodiscard]] flow_actions actions_of(const record& r) const noexcept {
        flow_actions acts = constants_; // (a copy: no flow_key to build them from per packet)
        [&]<class... S>(detail::type_list<S...>) {
            constexpr std::size_t first = std::tuple_size_v<decltype(acts.actions)> - sizeof...(S);
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                ((detail::learned_lane_of<S>::bits != 0
                      ? detail::learned_lane_of<S>::put(std::get<first + I>(acts.actions), value_at<I>(r))
                      : void()),
                 ...);
            }
            (std::index_sequence_for<S...>{});
        }(typename Learn::action_specs{});
        return acts;
    }
    [[nodiscard, gnu::always_inline]] bool same_values(const record& r, const values_type& v) const noexcept {
        if (r.spilled()) {
            const wide& w = side_[r.created];
            for (std::size_t i = 0; i < n_specs; ++i)
                if (w.values[i] != v[i]) return false;
            return true;
        }
        return [&]<std::size_t... I>(std::index_sequence<I...>) { return ((lane<I>(r) == v[I]) && ...); }
        (std::make_index_sequence<n_specs>{});
    }

    [[nodiscard]] std::int64_t created_ms(const record& r) const noexcept {
        return r.spilled() ? side_[r.created].created : abs(r.created);
    }
    [[nodiscard]] std::int64_t modified_ms(const record& r) const noexcept {
        return r.spilled() ? side_[r.created].modified : abs(r.modified);
    }
    [[nodiscard]] std::int64_t used_ms(const record& r) const noexcept {
        return r.spilled() ? side_[r.created].used : abs(r.used);
    }
    // The timeout that comes first for a flow whose times are equal (ms).
    static constexpr std::int64_t first_timeout_ms = [] {
        const unsigned h = Learn::hard_timeout, i = Learn::idle_timeout;
        return std::int64_t{h == 0 ? i : i == 0 ? h : std::min(h, i)} * 1000;
    }();
    // The first `now` at which the record's flow counts as expired.
    [[nodiscard]] std::int64_t expires_at(const record& r) const noexcept {
        std::int64_t t = std::numeric_limits<std::int64_t>::max();
        if constexpr (Learn::hard_timeout != 0)
            t = std::min(t, modified_ms(r) + std::int64_t{Learn::hard_timeout} * 1000 + 1);
        if constexpr (Learn::idle_timeout != 0)
            t = std::min(t, used_ms(r) + std::int64_t{Learn::idle_timeout} * 1000 + 1);
        return t;
    }

    // ---- flow state ----

    // Credits a packet of `bytes` at now_ms.
    void hit(record& r, std::uint32_t bytes, std::int64_t now_ms) noexcept {
        ensure_window(now_ms);
        ++r.n_packets;
        r.n_bytes += bytes;
        if (r.spilled())
            side_[r.created].used = now_ms;
        else
            r.used = rel(now_ms);
    }
    // A re-learn of the same flow: only `modified` moves (the wheel keeps
    // its lower bound; expire moves it).
    // InWindow: in_window(now_ms) is known.
    template <bool InWindow = false>
    [[gnu::always_inline]] void refresh(record& r, std::int64_t now_ms) noexcept {
        const auto d = static_cast<std::uint64_t>(now_ms - base_);
        if ((!InWindow && d > std::uint64_t{0xffffffffu}) || r.spilled()) [[unlikely]]
            return refresh_wide(r, now_ms);
        r.modified = static_cast<std::uint32_t>(d);
    }
    // Whether now_ms is in the window of the records' 32-bit times (so that
    // neither an add nor a refresh at now_ms rebases).
    [[nodiscard]] bool in_window(std::int64_t now_ms) const noexcept { return fits(now_ms); }
    // A learn with other values (a MAC that moved): values replaced,
    // counters and creation kept.
    void modify(record& r, const values_type& v, bool fit, std::int64_t now_ms) {
        ensure_window(now_ms);
        set_values(r, v, fit);
        set_modified(r, now_ms);
    }

    // A new record for key with these values at now_ms (the caller puts it
    // in its index); the store holds fewer than capacity() records.
    // (Inlined: the learn's fast path is this and an index insert.)
    // InWindow: in_window(now_ms) is known.
    template <bool InWindow = false>
    [[gnu::always_inline]] std::uint32_t add(const key_type& key, const values_type& v, bool fit, std::int64_t now_ms) {
        assert(size_ < cap_ && "learned_store::add: full");
        if constexpr (InWindow)
            assert(fits(now_ms));
        else
            ensure_window(now_ms);
        const std::uint32_t id = allocate();
        record& r = at(id);
        r.key = key;
        r.n_packets = r.n_bytes = 0;
        r.created = r.modified = r.used = rel(now_ms);
        r.flags = live_bit;
        if (fit)
            write_lanes(r, v);
        else
            set_values(r, v, false);
        ++size_;
        if constexpr (has_timeout)
            if (!listed(id)) link(id, now_ms + first_timeout_ms + 1); // expires_at(r): its times are all now_ms
        return id;
    }

    // Frees a record the caller took out of its index.
    void release(std::uint32_t id) noexcept {
        record& r = at(id);
        if (r.spilled()) side_free_.push_back(r.created);
        r.flags = 0; // not live, not spilled; maybe still on a timer list (listed)
        free_.push_back(id);
        --size_;
    }

    // Calls drop(id) for every record whose timeout has passed at now_ms
    // (the caller takes it out of its index and release()s it); returns how
    // many.
    template <class Drop>
    std::size_t expire(std::int64_t now_ms, Drop&& drop) {
        if constexpr (!has_timeout) {
            return 0;
        } else {
            std::size_t n = visit(late_slot, now_ms, drop);
            const std::int64_t cur = now_ms >> slot_ms_bits; // the slot now falls in (walked, maybe again)
            if (cursor_ != never_walked && cur <= cursor_) return n;
            const std::int64_t first = cursor_ == never_walked || cur - cursor_ > std::int64_t{slot_count}
                                           ? cur - std::int64_t{slot_count} + 1
                                           : cursor_ + 1;
            for (std::int64_t a = first; a <= cur; ++a)
                n += visit(static_cast<std::uint32_t>(static_cast<std::uint64_t>(a) & (slot_count - 1)), now_ms, drop);
            cursor_ = cur - 1; // the slot of now is walked again by the next expire
            return n;
        }
    }
    // A time at or before which expire() has nothing to do.
    [[nodiscard]] std::int64_t next_bound() const noexcept {
        constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
        if constexpr (!has_timeout) {
            return never;
        } else {
            if (size_ == 0) return never;
            if (heads_[late_slot] != npos || cursor_ == never_walked) return std::numeric_limits<std::int64_t>::min();
            for (std::int64_t i = 1; i <= std::int64_t{slot_count}; ++i) {
                const std::int64_t a = cursor_ + i;
                if (heads_[static_cast<std::uint64_t>(a) & (slot_count - 1)] != npos) return a << slot_ms_bits;
            }
            return never;
        }
    }

    // Calls f(id) for every live record, in no particular order.
    template <class F>
    void for_each_id(F&& f) const {
        for (std::uint32_t id = 0; id < next_id_; ++id)
            if (at(id).live()) f(id);
    }

  private:
    template <class... S, std::size_t... I>
    [[gnu::always_inline]] static bool values_of_key(const flow_key& k, values_type& v, detail::type_list<S...>,
                                                     std::index_sequence<I...>) noexcept {
        bool fit = true;
        ((v[I] = detail::learned_lane_of<S>::from_key(k), fit = fit && lane_fits<I>(v[I])), ...);
        return fit;
    }

    static constexpr std::size_t chunk_bits = 10;
    static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;
    static constexpr unsigned slot_bits = 10, slot_ms_bits = 6;
    static constexpr std::uint32_t slot_count = 1u << slot_bits;
    static constexpr std::uint32_t late_slot = slot_count;
    static constexpr std::int64_t never_walked = std::numeric_limits<std::int64_t>::min();

    // ---- times ----
    [[nodiscard]] std::uint32_t rel(std::int64_t t) const noexcept { return static_cast<std::uint32_t>(t - base_); }
    [[nodiscard]] std::int64_t abs(std::uint32_t t) const noexcept { return base_ + std::int64_t{t}; }
    [[nodiscard]] bool fits(std::int64_t t) const noexcept {
        return static_cast<std::uint64_t>(t - base_) <= std::uint64_t{0xffffffffu};
    }
    void ensure_window(std::int64_t now_ms) {
        if (!fits(now_ms)) [[unlikely]]
            rebase(now_ms);
    }
    // Moves the base to now - 2^31 and rewrites every record against it;
    // records with a time outside the new window spill.
    [[gnu::noinline, gnu::cold]] void rebase(std::int64_t now_ms) {
        const std::int64_t nb = now_ms - (std::int64_t{1} << 31);
        auto in_new = [&](std::int64_t t) { return static_cast<std::uint64_t>(t - nb) <= std::uint64_t{0xffffffffu}; };
        for (std::uint32_t id = 0; id < next_id_; ++id) {
            record& r = at(id);
            if (!r.live() || r.spilled()) continue;
            const std::int64_t c = abs(r.created), m = abs(r.modified), u = abs(r.used);
            if (in_new(c) && in_new(m) && in_new(u)) {
                r.created = static_cast<std::uint32_t>(c - nb);
                r.modified = static_cast<std::uint32_t>(m - nb);
                r.used = static_cast<std::uint32_t>(u - nb);
            } else {
                spill(r, c, m, u);
            }
        }
        base_ = nb;
        ++stats_.rebased;
    }

    // ---- values ----
    template <std::size_t I>
    static bool lane_fits(std::uint64_t v) noexcept {
        constexpr std::size_t w = detail::learned_lane_bytes(lanes::bits[I]);
        return w == 0 || (v >> (8 * w)) == 0;
    }
    template <std::size_t I>
    [[nodiscard]] std::uint64_t value_at(const record& r) const noexcept {
        if (r.spilled()) return side_[r.created].values[I];
        return lane<I>(r);
    }
    template <std::size_t I>
    [[nodiscard]] static std::uint64_t lane(const record& r) noexcept {
        constexpr std::size_t w = detail::learned_lane_bytes(lanes::bits[I]);
        if constexpr (w == 0) {
            return 0;
        } else {
            std::uint64_t v = 0;
            std::memcpy(&v, r.values.data() + lanes::offsets[I], w); // little-endian, as the packed keys
            return v;
        }
    }
    static void write_lanes(record& r, const values_type& v) noexcept {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            ((std::memcpy(r.values.data() + lanes::offsets[I], &v[I], detail::learned_lane_bytes(lanes::bits[I]))),
             ...);
        }
        (std::make_index_sequence<n_specs>{});
    }
    // Moves a record's values and times to the side table (at full width).
    [[gnu::noinline, gnu::cold]] void spill(record& r, std::int64_t c, std::int64_t m, std::int64_t u) {
        values_type v{};
        [&]<std::size_t... I>(std::index_sequence<I...>) { ((v[I] = lane<I>(r)), ...); }
        (std::make_index_sequence<n_specs>{});
        std::uint32_t s;
        if (!side_free_.empty()) {
            s = side_free_.back();
            side_free_.pop_back();
        } else {
            s = static_cast<std::uint32_t>(side_.size());
            side_.emplace_back();
        }
        side_[s] = wide{v, c, m, u};
        r.created = s;
        r.flags |= spilled_bit;
        ++stats_.spilled;
    }
    void set_values(record& r, const values_type& v, bool fit) {
        if (!r.spilled() && !fit) spill(r, abs(r.created), abs(r.modified), abs(r.used));
        if (r.spilled()) {
            for (std::size_t i = 0; i < n_specs; ++i) side_[r.created].values[i] = v[i];
        } else {
            write_lanes(r, v);
        }
    }
    // refresh() when the time leaves the window or the record is spilled.
    [[gnu::noinline]] void refresh_wide(record& r, std::int64_t now_ms) noexcept {
        ensure_window(now_ms);
        set_modified(r, now_ms);
    }
    void set_modified(record& r, std::int64_t now_ms) noexcept {
        if (r.spilled())
            side_[r.created].modified = now_ms;
        else
            r.modified = rel(now_ms);
    }

    // (Inlined, growth apart: with two add sites GCC made it a call.)
    [[gnu::always_inline]] std::uint32_t allocate() {
        if (!free_.empty()) {
            const std::uint32_t id = free_.back();
            free_.pop_back();
            return id;
        }
        if ((next_id_ >> chunk_bits) == chunks_) [[unlikely]]
            grow();
        return next_id_++;
    }
    [[gnu::noinline]] void grow() {
        records_.construct(chunks_ * chunk_size, chunk_size);
        ++chunks_;
        listed_.resize(chunks_ * (chunk_size / 64));
    }

    // ---- timers ----
    // Whether record id is on a timer list (a bit apart from the record, so
    // that an add need not read the line of the record it takes).
    [[nodiscard]] bool listed(std::uint32_t id) const noexcept { return (listed_[id >> 6] >> (id & 63)) & 1; }
    [[gnu::always_inline]] void set_listed(std::uint32_t id, bool on) noexcept {
        const std::uint64_t bit = std::uint64_t{1} << (id & 63);
        listed_[id >> 6] = on ? listed_[id >> 6] | bit : listed_[id >> 6] & ~bit;
    }
    // (Inlined: once install_full had an add of its own, GCC made it a
    // call, 8 instructions more a new MAC.)
    [[gnu::always_inline]] void link(std::uint32_t id, std::int64_t bound) noexcept {
        const std::int64_t a = bound >> slot_ms_bits;
        const std::uint32_t s = cursor_ != never_walked && a <= cursor_
                                    ? late_slot
                                    : static_cast<std::uint32_t>(static_cast<std::uint64_t>(a) & (slot_count - 1));
        record& r = at(id);
        r.timer_next = heads_[s];
        set_listed(id, true);
        heads_[s] = id;
    }
    // Looks at every record on list s: free ones leave it, expired ones go,
    // the others are linked again by their current bound.
    template <class Drop>
    std::size_t visit(std::uint32_t s, std::int64_t now_ms, Drop& drop) {
        std::uint32_t id = heads_[s];
        heads_[s] = npos;
        std::size_t n = 0;
        while (id != npos) {
            record& r = at(id);
            const std::uint32_t next = r.timer_next;
            set_listed(id, false);
            r.timer_next = npos;
            if (r.live()) {
                const std::int64_t e = expires_at(r);
                if (e <= now_ms) {
                    drop(id);
                    ++n;
                } else {
                    link(id, e);
                }
            }
            id = next;
        }
        return n;
    }

    // The learned list with its constants (load_const, fin_timeout) in place.
    static inline const flow_actions constants_ = Learn::build_actions(flow_key{});

    std::size_t cap_;
    std::uint64_t cookie_ = 0;
    std::int64_t base_ = 0;
    detail::reserved_array<record> records_;
    std::size_t chunks_ = 0; // of chunk_size records, constructed
    std::vector<std::uint32_t> free_;
    std::vector<std::uint64_t> listed_; // a bit a record: on a timer list
    std::uint32_t next_id_ = 0;
    std::size_t size_ = 0;
    std::vector<wide> side_;
    std::vector<std::uint32_t> side_free_;
    std::array<std::uint32_t, has_timeout ? slot_count + 1 : 1> heads_{};
    std::int64_t cursor_ = never_walked;
    store_stats stats_{};
};

} // namespace flowpipe
