// Private to flowpipe (detail/): which of N 16-bit tags equal a given tag,
// as a bit mask (bit i set <=> tags[i] == tag).
//
// The one idea: a tag compare is one SIMD compare plus a "movemask", and
// xsimd 8.1 has no batch_bool::mask(), so the movemask is spelled once per
// architecture here and nowhere else:
//   - AVX-512BW: the batch_bool of a 512-bit compare already is a __mmask32;
//   - AVX-512BW with VL on 256 bits (`avx512vl_256`, 16 tags, the indexes'
//     groups): one compare into a mask register. xsimd 8.1 has no such
//     architecture, so it is a tag type here and a raw intrinsic. (On AVX2
//     the same 16 tags take compare, extract, pack and movemask: four
//     dependent instructions on every lookup's path from bucket to id.)
//   - AVX2: _mm256_movemask_epi8 gives two bits per 16-bit lane, so the two
//     128-bit halves are first narrowed to bytes (_mm_packs_epi16; a true lane
//     is 0xffff, which saturates to 0xff) and movemasked as one __m128i;
//   - SSE2: the same narrowing on one 128-bit register (8 lanes).
// `match_tag_pairs` gives the same answer with two bits per tag (bits 2i
// and 2i + 1 set <=> tags[i] == tag), for up to 16 tags: on AVX2 that is
// the 256-bit compare's own movemask, without the extract and pack (two of
// the four instructions above; exact_id_index addresses a slot's id by the
// bit index, twice the slot, with no shift).
// `match_tags_scalar` is the twin every SIMD path is tested against. The
// architecture is a tag type chosen at compile time (`tag_arch<N>`), never an
// #ifdef in the algorithm: a plain SSE2 build (no -m flags) gets the SSE2
// path, a build without any x86 SIMD gets the scalar one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#if defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#endif

namespace flowpipe::detail {

// The architecture tag of the scalar twin.
struct scalar_arch {
    static constexpr bool supported() noexcept { return true; }
    static constexpr const char* name() noexcept { return "scalar"; }
};

template <std::size_t N>
[[nodiscard]] inline std::uint32_t match_tags_scalar(const std::uint16_t* tags, std::uint16_t tag) noexcept {
    static_assert(N >= 1 && N <= 32, "match_tags works on 1 to 32 tags");
    std::uint32_t m = 0;
    for (std::size_t i = 0; i < N; ++i) m |= static_cast<std::uint32_t>(tags[i] == tag) << i;
    return m;
}

template <std::size_t N>
[[nodiscard]] inline std::uint32_t match_tag_pairs_scalar(const std::uint16_t* tags, std::uint16_t tag) noexcept {
    static_assert(N >= 1 && N <= 16, "match_tag_pairs works on 1 to 16 tags");
    std::uint32_t m = 0;
    for (std::size_t i = 0; i < N; ++i) m |= (tags[i] == tag ? 3u : 0u) << (2 * i);
    return m;
}

// AVX-512BW and AVX-512VL, used on 256-bit registers. The compare is a
// member of the tag type, present only in builds that enable both (the
// generic code below calls it through Arch, so other builds never see it).
struct avx512vl_256 {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    static constexpr bool supported() noexcept { return true; }
    // Bit i set <=> tags[i] == tag, for 16 tags.
    static std::uint32_t match16(const std::uint16_t* tags, std::uint16_t tag) noexcept {
        return _mm256_cmpeq_epi16_mask(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tags)),
                                       _mm256_set1_epi16(static_cast<short>(tag)));
    }
    // The same as two bits a tag.
    static std::uint32_t match16_pairs(const std::uint16_t* tags, std::uint16_t tag) noexcept {
        return static_cast<std::uint32_t>(
            _mm256_movemask_epi8(_mm256_movm_epi16(static_cast<__mmask16>(match16(tags, tag)))));
    }
#else
    static constexpr bool supported() noexcept { return false; }
#endif
    static constexpr const char* name() noexcept { return "avx512vl_256"; }
};

// How many 16-bit lanes one compare of Arch covers (0: not a SIMD arch we use).
template <class Arch>
inline constexpr std::size_t tag_lanes = 0;
template <>
inline constexpr std::size_t tag_lanes<xsimd::sse2> = 8;
template <>
inline constexpr std::size_t tag_lanes<xsimd::avx2> = 16;
template <>
inline constexpr std::size_t tag_lanes<avx512vl_256> = 16;
template <>
inline constexpr std::size_t tag_lanes<xsimd::avx512bw> = 32;

// The widest architecture this build supports whose compare fits in N tags.
template <std::size_t N>
using tag_arch = std::conditional_t<
    (N % 32 == 0 && xsimd::avx512bw::supported()), xsimd::avx512bw,
    std::conditional_t<
        (N % 16 == 0 && avx512vl_256::supported()), avx512vl_256,
        std::conditional_t<(N % 16 == 0 && xsimd::avx2::supported()), xsimd::avx2,
                           std::conditional_t<(N % 8 == 0 && xsimd::sse2::supported()), xsimd::sse2, scalar_arch>>>>;

// match_tags (Bits 1) and match_tag_pairs (Bits 2) on one architecture:
// Bits bits a tag, tags need not be aligned, N a multiple of Arch's lanes.
template <unsigned Bits, std::size_t N, class Arch>
[[nodiscard]] inline std::uint32_t match_tags_as(const std::uint16_t* tags, std::uint16_t tag) noexcept {
    static_assert((Bits == 1 || Bits == 2) && N >= 1 && N * Bits <= 32, "match_tags gives at most 32 bits");
    if constexpr (std::is_same_v<Arch, scalar_arch>) {
        if constexpr (Bits == 1)
            return match_tags_scalar<N>(tags, tag);
        else
            return match_tag_pairs_scalar<N>(tags, tag);
    } else if constexpr (std::is_same_v<Arch, avx512vl_256>) {
        static_assert(N % 16 == 0, "match_tags on avx512vl_256 needs N a multiple of 16");
        static_assert(Arch::supported(), "match_tags<N, Arch> needs an architecture this build enables");
        std::uint32_t m = 0;
        for (std::size_t c = 0; c < N; c += 16)
            m |= (Bits == 1 ? Arch::match16(tags + c, tag) : Arch::match16_pairs(tags + c, tag)) << (Bits * c);
        return m;
    } else {
        static_assert(tag_lanes<Arch> != 0 && N % tag_lanes<Arch> == 0,
                      "match_tags<N, Arch> needs Arch to be sse2, avx2 or avx512bw with N a multiple of its lanes");
        static_assert(Arch::supported(), "match_tags<N, Arch> needs an architecture this build enables");
        using batch = xsimd::batch<std::uint16_t, Arch>;
        constexpr std::size_t lanes = tag_lanes<Arch>;
        const batch needle(tag);
        std::uint32_t m = 0;
        for (std::size_t c = 0; c < N; c += lanes) {
            const auto eq = batch::load_unaligned(tags + c) == needle;
            std::uint32_t part;
            if constexpr (lanes == 32) {
                part = static_cast<std::uint32_t>(eq.data); // already a __mmask32 (N = 32: Bits 1)
            } else if constexpr (Bits == 2 && lanes == 16) {
                const auto r = eq.data; // __m256i, 0xffff per true lane: two bits a lane as they are
                part = static_cast<std::uint32_t>(_mm256_movemask_epi8(r));
            } else if constexpr (Bits == 2) {
                const auto r = eq.data; // __m128i
                part = static_cast<std::uint32_t>(_mm_movemask_epi8(r)) & 0xffffu;
            } else if constexpr (lanes == 16) {
                const auto r = eq.data; // __m256i, narrowed to a byte a lane
                part = static_cast<std::uint32_t>(
                    _mm_movemask_epi8(_mm_packs_epi16(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1))));
            } else {
                const auto r = eq.data; // __m128i
                part = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_packs_epi16(r, _mm_setzero_si128()))) & 0xffu;
            }
            m |= part << (Bits * c);
        }
        return m;
    }
}

// Bit i set <=> tags[i] == tag (N up to 32).
template <std::size_t N, class Arch = tag_arch<N>>
[[nodiscard]] inline std::uint32_t match_tags(const std::uint16_t* tags, std::uint16_t tag) noexcept {
    return match_tags_as<1, N, Arch>(tags, tag);
}
// Bits 2i and 2i + 1 set <=> tags[i] == tag (N up to 16).
template <std::size_t N, class Arch = tag_arch<N>>
[[nodiscard]] inline std::uint32_t match_tag_pairs(const std::uint16_t* tags, std::uint16_t tag) noexcept {
    return match_tags_as<2, N, Arch>(tags, tag);
}

} // namespace flowpipe::detail
