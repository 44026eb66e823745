// Match kinds and table schemas.
//
// A schema is a compile-time list of (field, match kind): `exact<F>` (matched
// on every bit of F or, for the table's catch-all flows, not at all),
// `masked<F>` (any bit mask) and `prefix<F>` (a CIDR-style mask of leading
// ones). F may be a field (`fields::eth_dst`) or bits of one
// (`fields::vlan_tci::bits<0, 11>`). The schema knows how to pack a flow key
// into the few words its lookup structure hashes, and whether it is all-exact
// (one hash table) or not (subtables per mask, or a scan for tiny tables).
//
// The generic schema (`generic_schema`) packs the whole flow key and allows
// any mask: it holds flows that arrive only at run time as text.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>

#include <flowpipe/core/field.hpp>
#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/match/match.hpp>
#include <flowpipe/match/packed_key.hpp>
#include <flowpipe/proto/ethernet.hpp>

namespace flowpipe {

enum class match_kind : std::uint8_t { exact, masked, prefix };

template <field_type F, match_kind Kind>
struct match_spec {
    using field_type = F;
    static constexpr match_kind kind = Kind;
    static constexpr field_id id = F::id;
    static constexpr const field_info& view = info(F::id);
    static constexpr const field_info& storage = info(view.base);
    // The storage bits this element covers: the range, shifted into the
    // storage field, plus the VLAN present bit for views that imply it.
    static constexpr uint128 storage_mask = ((F::range.mask() << F::range.start) << view.shift) |
                                            (view.implies_present ? uint128{proto::vlan_cfi} : uint128{0});
    static constexpr std::size_t packed_bytes = (storage.width + 7) / 8;
    static_assert(Kind != match_kind::masked || view.maskable || F::range.n_bits != view.width,
                  "masked<F> needs a field that Open vSwitch allows to be masked");
};

template <field_type F>
using exact = match_spec<F, match_kind::exact>;
template <field_type F>
using masked = match_spec<F, match_kind::masked>;
template <field_type F>
using prefix = match_spec<F, match_kind::prefix>;

template <class T>
inline constexpr bool is_match_spec = false;
template <class F, match_kind K>
inline constexpr bool is_match_spec<match_spec<F, K>> = true;

// Why a match does not fit a table's schema.
enum class schema_error : std::uint8_t {
    none,
    field_not_in_table,  // the flow matches a field (or bits) the schema does not have
    partial_exact_match, // an exact field matched with a mask other than all its bits
    not_a_prefix,        // a prefix field matched with a mask that is not leading ones
    exact_table_partial, // an all-exact table holds only full matches and the catch-all
};

[[nodiscard]] constexpr const char* to_string(schema_error e) noexcept {
    switch (e) {
    case schema_error::none: return "ok";
    case schema_error::field_not_in_table: return "the flow matches a field this table does not have";
    case schema_error::partial_exact_match: return "an exact-match field of this table is matched with a mask";
    case schema_error::not_a_prefix: return "a prefix field of this table is matched with a non-prefix mask";
    case schema_error::exact_table_partial:
        return "an exact-match table holds only flows matching all its fields, or none of them";
    }
    return "?";
}

namespace detail {
// A mask is a prefix when its set bits are the high bits of `all`.
[[nodiscard]] constexpr bool is_prefix_mask(uint128 m, uint128 all) noexcept {
    m &= all;
    const uint128 inv = all & ~m; // must be the low ones
    return (inv & (inv + 1)) == 0;
}
} // namespace detail

template <class... Specs>
struct schema {
    static_assert(sizeof...(Specs) > 0, "a schema names at least one field");
    static_assert((is_match_spec<Specs> && ...), "schema<...> takes exact<F>, masked<F> and prefix<F> elements");

    static constexpr std::size_t field_count = sizeof...(Specs);
    static constexpr std::size_t packed_bytes = (Specs::packed_bytes + ...);
    static constexpr std::size_t words = (packed_bytes + 7) / 8;
    static constexpr bool all_exact = ((Specs::kind == match_kind::exact) && ...);
    using key_type = packed_key<words>;

  private:
    static constexpr std::array<std::size_t, field_count> offsets() {
        std::array<std::size_t, field_count> o{};
        std::size_t at = 0, i = 0;
        ((o[i++] = at, at += Specs::packed_bytes), ...);
        return o;
    }
    static constexpr std::array<std::size_t, field_count> offset = offsets();

    // ORs the low Bytes bytes of v into the key at byte offset At (little endian,
    // as put() lays them out).
    template <std::size_t At, std::size_t Bytes>
    static void deposit(key_type& out, uint128 v) noexcept {
        constexpr std::size_t w = At / 8, sh = (At % 8) * 8;
        if constexpr (Bytes < 16) v &= (uint128{1} << (Bytes * 8)) - 1;
        out.w[w] |= static_cast<std::uint64_t>(v << sh);
        if constexpr (sh + Bytes * 8 > 64) out.w[w + 1] |= static_cast<std::uint64_t>((v << sh) >> 64);
        if constexpr (sh != 0 && sh + Bytes * 8 > 128) out.w[w + 2] |= static_cast<std::uint64_t>(v >> (128 - sh));
    }

    template <class Spec>
    static void put(std::uint8_t* bytes, std::size_t at, uint128 v) noexcept {
        std::memcpy(bytes + at, &v, Spec::packed_bytes);
    }
    template <class Spec>
    static uint128 take(const std::uint8_t* bytes, std::size_t at) noexcept {
        uint128 v = 0;
        std::memcpy(&v, bytes + at, Spec::packed_bytes);
        return v;
    }

  public:
    // Packs the schema's bits of a packet's key (bits the schema does not
    // cover are zero). Words are built with shifts in registers: writing bytes
    // and reading them back as words would stall on store forwarding.
    [[nodiscard]] static key_type pack(const flow_key& k) noexcept {
        key_type out{};
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (deposit<offset[I], Specs::packed_bytes>(out, load_storage(k, Specs::storage) & Specs::storage_mask), ...);
        }
        (std::index_sequence_for<Specs...>{});
        return out;
    }

    // The packed mask that matches every bit the schema covers.
    [[nodiscard]] static key_type full_mask() noexcept {
        key_type out{};
        auto* bytes = reinterpret_cast<std::uint8_t*>(out.w.data());
        std::size_t i = 0;
        ((put<Specs>(bytes, offset[i++], Specs::storage_mask)), ...);
        return out;
    }

    // Packs a match into (value, mask) for this schema, or says why it does not fit.
    [[nodiscard]] static schema_error pack(const match& m, key_type& value, key_type& mask) noexcept {
        value = key_type{};
        mask = key_type{};
        flow_key covered{};
        auto* vb = reinterpret_cast<std::uint8_t*>(value.w.data());
        auto* mb = reinterpret_cast<std::uint8_t*>(mask.w.data());
        schema_error err = schema_error::none;
        bool any_exact_full = false, any_exact_empty = false, any_other = false;
        std::size_t i = 0;
        auto one = [&]<class Spec>(Spec*) {
            const std::size_t at = offset[i++];
            const uint128 fm = load_storage(m.mask, Spec::storage) & Spec::storage_mask;
            const uint128 fv = load_storage(m.value, Spec::storage) & Spec::storage_mask;
            store_storage(covered, Spec::storage, load_storage(covered, Spec::storage) | Spec::storage_mask);
            put<Spec>(vb, at, fv);
            put<Spec>(mb, at, fm);
            if constexpr (Spec::kind == match_kind::exact) {
                if (fm == Spec::storage_mask)
                    any_exact_full = true;
                else if (fm == 0)
                    any_exact_empty = true;
                else if (err == schema_error::none)
                    err = schema_error::partial_exact_match;
            } else {
                if (fm != 0) any_other = true;
                if constexpr (Spec::kind == match_kind::prefix) {
                    if (!detail::is_prefix_mask(fm, Spec::storage_mask) && err == schema_error::none)
                        err = schema_error::not_a_prefix;
                }
            }
        };
        (one(static_cast<Specs*>(nullptr)), ...);
        // Any matched bit outside the schema?
        const auto mw = key_words(m.mask), cw = key_words(covered);
        for (std::size_t w = 0; w < flow_key::word_count; ++w)
            if ((mw[w] & ~cw[w]) != 0) return schema_error::field_not_in_table;
        if (err != schema_error::none) return err;
        if constexpr (all_exact) {
            (void)any_other;
            if (any_exact_full && any_exact_empty) return schema_error::exact_table_partial;
        }
        return schema_error::none;
    }

    // The field that makes pack(m, ...) refuse a match, for error messages:
    // the first storage field matched outside the schema, else the first exact
    // element matched under a mask, else the first prefix element with a
    // non-prefix mask; nullopt when the match fits.
    [[nodiscard]] static std::optional<field_id> diagnose(const match& m) noexcept {
        flow_key covered{};
        ((store_storage(covered, Specs::storage, load_storage(covered, Specs::storage) | Specs::storage_mask)), ...);
        for (const field_info& f : detail::field_table) {
            if (f.is_view()) continue;
            if ((load_storage(m.mask, f) & ~load_storage(covered, f)) != 0) return f.id;
        }
        std::optional<field_id> found;
        auto one = [&]<class Spec>(Spec*) {
            const uint128 fm = load_storage(m.mask, Spec::storage) & Spec::storage_mask;
            if (found) return;
            if constexpr (Spec::kind == match_kind::exact) {
                if (fm != 0 && fm != Spec::storage_mask) found = Spec::id;
            } else if constexpr (Spec::kind == match_kind::prefix) {
                if (!detail::is_prefix_mask(fm, Spec::storage_mask)) found = Spec::id;
            }
        };
        (one(static_cast<Specs*>(nullptr)), ...);
        return found;
    }

    // The match a packed (value, mask) stands for (for dump-flows and flow mods).
    [[nodiscard]] static match unpack(const key_type& value, const key_type& mask) noexcept {
        match m;
        const auto* vb = reinterpret_cast<const std::uint8_t*>(value.w.data());
        const auto* mb = reinterpret_cast<const std::uint8_t*>(mask.w.data());
        std::size_t i = 0;
        auto one = [&]<class Spec>(Spec*) {
            const std::size_t at = offset[i++];
            const uint128 fv = take<Spec>(vb, at), fm = take<Spec>(mb, at);
            store_storage(m.mask, Spec::storage, load_storage(m.mask, Spec::storage) | fm);
            store_storage(m.value, Spec::storage, load_storage(m.value, Spec::storage) | (fv & fm));
        };
        (one(static_cast<Specs*>(nullptr)), ...);
        return m;
    }

    [[nodiscard]] static constexpr bool has(field_id f) noexcept {
        return ((Specs::id == f || Specs::storage.id == info(f).base) || ...);
    }
};

template <class T>
inline constexpr bool is_schema = false;
template <class... S>
inline constexpr bool is_schema<schema<S...>> = true;

// Every field, any mask: for flows known only at run time.
struct generic_schema {
    static constexpr std::size_t words = flow_key::word_count;
    static constexpr bool all_exact = false;
    using key_type = packed_key<words>;

    [[nodiscard]] static key_type pack(const flow_key& k) noexcept {
        key_type out;
        std::memcpy(out.w.data(), &k, sizeof k);
        return out;
    }
    [[nodiscard]] static key_type full_mask() noexcept {
        key_type out;
        for (auto& w : out.w) w = ~std::uint64_t{0};
        return out;
    }
    [[nodiscard]] static schema_error pack(const match& m, key_type& value, key_type& mask) noexcept {
        value = pack(m.value);
        mask = pack(m.mask);
        return schema_error::none;
    }
    [[nodiscard]] static match unpack(const key_type& value, const key_type& mask) noexcept {
        match m;
        std::memcpy(static_cast<void*>(&m.value), value.w.data(), sizeof(flow_key));
        std::memcpy(static_cast<void*>(&m.mask), mask.w.data(), sizeof(flow_key));
        return m;
    }
    [[nodiscard]] static constexpr bool has(field_id) noexcept { return true; }
    [[nodiscard]] static std::optional<field_id> diagnose(const match&) noexcept { return std::nullopt; }
};

template <>
inline constexpr bool is_schema<generic_schema> = true;

template <class S>
concept table_schema = is_schema<S>;

// A match built for one schema: setting a field the schema lacks does not
// compile, so typed code cannot build a flow its table would refuse.
template <class Schema>
struct schema_match : match {
    template <field_type F>
    schema_match& set(typename F::value_type v) noexcept {
        static_assert(Schema::has(F::id), "this table's schema does not have that field");
        match::set(F::id, uint128{v} << F::range.start, F::range.mask() << F::range.start);
        return *this;
    }
    template <field_type F>
    schema_match& set(typename F::value_type v, typename F::value_type mask) noexcept {
        static_assert(Schema::has(F::id), "this table's schema does not have that field");
        match::set(F::id, uint128{v} << F::range.start, (uint128{mask} & F::range.mask()) << F::range.start);
        return *this;
    }
};

} // namespace flowpipe
