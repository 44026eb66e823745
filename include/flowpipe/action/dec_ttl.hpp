// dec_ttl: decrement the IPv4 TTL / IPv6 hop limit. A packet whose TTL is 0
// or 1 is not forwarded: processing stops (Open vSwitch would send it to a
// controller that asked for invalid-TTL packets; with none, it drops). On a
// non-IP packet dec_ttl does nothing.
#pragma once

#include <flowpipe/proto/ethernet.hpp>

namespace flowpipe::actions {

struct dec_ttl {
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        const auto& k = ctx.key();
        if (k.eth_type != proto::eth_type_ipv4 && k.eth_type != proto::eth_type_ipv6) return;
        if (k.nw_ttl <= 1) {
            ctx.stop();
            return;
        }
        --ctx.edit().nw_ttl;
    }
    friend constexpr bool operator==(const dec_ttl&, const dec_ttl&) = default;
};

} // namespace flowpipe::actions
