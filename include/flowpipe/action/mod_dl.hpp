// mod_dl_src:MAC and mod_dl_dst:MAC: rewrite an Ethernet address.
#pragma once

#include <cstdint>

namespace flowpipe::actions {

struct mod_dl_src {
    std::uint64_t mac = 0; // low 48 bits
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.edit().eth_src = mac & 0xffffffffffffULL;
    }
    friend constexpr bool operator==(const mod_dl_src&, const mod_dl_src&) = default;
};

struct mod_dl_dst {
    std::uint64_t mac = 0;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        ctx.edit().eth_dst = mac & 0xffffffffffffULL;
    }
    friend constexpr bool operator==(const mod_dl_dst&, const mod_dl_dst&) = default;
};

} // namespace flowpipe::actions
