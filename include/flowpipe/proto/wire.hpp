// Byte-order helpers for reading and writing wire headers.
//
// Every header in proto/ is read through these functions with an explicit
// offset into a frame whose length the caller has already checked, so that no
// header struct is ever overlaid on unaligned or short memory.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace flowpipe::proto {

static_assert(std::endian::native == std::endian::little, "flowpipe assumes a little-endian host (x86-64, AArch64)");

[[nodiscard]] inline std::uint16_t load_be16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

[[nodiscard]] inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}

[[nodiscard]] inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

// A 48-bit MAC address as the low 48 bits of an integer, first wire byte most significant.
[[nodiscard]] inline std::uint64_t load_be48(const std::uint8_t* p) noexcept {
    return (std::uint64_t{load_be16(p)} << 32) | load_be32(p + 2);
}

__extension__ using uint128 = unsigned __int128;

[[nodiscard]] inline uint128 load_be128(const std::uint8_t* p) noexcept {
    return (uint128{load_be64(p)} << 64) | load_be64(p + 8);
}

inline void store_be16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

inline void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    v = __builtin_bswap32(v);
    std::memcpy(p, &v, 4);
}

inline void store_be64(std::uint8_t* p, std::uint64_t v) noexcept {
    v = __builtin_bswap64(v);
    std::memcpy(p, &v, 8);
}

inline void store_be48(std::uint8_t* p, std::uint64_t v) noexcept {
    store_be16(p, static_cast<std::uint16_t>(v >> 32));
    store_be32(p + 2, static_cast<std::uint32_t>(v));
}

inline void store_be128(std::uint8_t* p, uint128 v) noexcept {
    store_be64(p, static_cast<std::uint64_t>(v >> 64));
    store_be64(p + 8, static_cast<std::uint64_t>(v));
}

} // namespace flowpipe::proto
