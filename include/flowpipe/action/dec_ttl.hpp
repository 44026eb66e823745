// dec_ttl: decrement the IPv4 TTL / IPv6 hop limit. When the TTL is 0 or 1
// the rest of the *current* action list is skipped (Open vSwitch's
// compose_dec_ttl returns from do_xlate_actions): outputs already made stay,
// and a list that resubmitted here goes on after its resubmit. On a non-IP
// packet dec_ttl does nothing.
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
