// 802.1Q actions: mod_vlan_vid (sets the VID, pushing a tag with PCP 0 onto
// an untagged frame, as Open vSwitch does), mod_vlan_pcp, push_vlan (a new
// tag with VID 0 and PCP 0), strip_vlan / pop_vlan (remove the tag).
//
// flowpipe's key holds one tag: push_vlan on a frame that already has one
// keeps the existing TCI (Open vSwitch would stack a second tag); this is
// listed among the intended differences in the README.
#pragma once

#include <cstdint>

#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/proto/ethernet.hpp>

namespace flowpipe::actions {

struct mod_vlan_vid {
    std::uint16_t vid = 0;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        flow_key& k = ctx.edit();
        k.vlan_tci = static_cast<std::uint16_t>((k.vlan_tci & ~proto::vlan_vid_mask) | (vid & proto::vlan_vid_mask) |
                                                proto::vlan_cfi);
    }
    friend constexpr bool operator==(const mod_vlan_vid&, const mod_vlan_vid&) = default;
};

struct mod_vlan_pcp {
    std::uint8_t pcp = 0;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        flow_key& k = ctx.edit();
        k.vlan_tci = static_cast<std::uint16_t>((k.vlan_tci & ~proto::vlan_pcp_mask) |
                                                ((pcp & 7u) << proto::vlan_pcp_shift) | proto::vlan_cfi);
    }
    friend constexpr bool operator==(const mod_vlan_pcp&, const mod_vlan_pcp&) = default;
};

struct push_vlan {
    std::uint16_t tpid = proto::eth_type_vlan;
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        if (ctx.key().vlan_tci & proto::vlan_cfi) return;
        ctx.edit().vlan_tci = proto::vlan_cfi;
    }
    friend constexpr bool operator==(const push_vlan&, const push_vlan&) = default;
};

struct strip_vlan {
    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        if (ctx.key().vlan_tci != 0) ctx.edit().vlan_tci = 0;
    }
    friend constexpr bool operator==(const strip_vlan&, const strip_vlan&) = default;
};

using pop_vlan = strip_vlan;

} // namespace flowpipe::actions
