// arp_responder(mac, ip): Neutron's ARP responder as one action. A flow that
// matches `arp,dl_vlan=<lvid>,arp_tpa=<ip>` carries just (mac, ip), and the
// request becomes the reply in place and goes back out of its input port,
// exactly as the reference action sequence does it:
//
//   move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[], mod_dl_src:<mac>,
//   load:0x2->NXM_OF_ARP_OP[], move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],
//   move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[], load:<mac>->NXM_NX_ARP_SHA[],
//   load:<ip>->NXM_OF_ARP_SPA[], in_port
//
// Like every action it edits the flow key; the engine then rewrites only
// the changed fields of the received frame in its own buffer (VPP's way, not
// Click's new packet), so no reply is allocated. The VLAN tag stays as it
// was. Like the sequence, it does not look at arp_op: a broadcast gratuitous
// ARP reply for a known IP is answered too (Open vSwitch does the same with
// the reference flows, which match only arp_tpa).
#pragma once

#include <cstdint>

#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/proto/arp.hpp>

namespace flowpipe::actions {

struct arp_responder {
    std::uint64_t mac = 0; // low 48 bits: the MAC that owns `ip`
    std::uint32_t ip = 0;

    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        flow_key& k = ctx.edit();
        const std::uint64_t m = mac & 0xffffffffffffULL;
        k.eth_dst = k.eth_src;
        k.eth_src = m;
        k.arp_op = proto::arp_op_reply;
        k.arp_tha = k.arp_sha;
        k.arp_tpa = k.arp_spa;
        k.arp_sha = m;
        k.arp_spa = ip;
        ctx.output_in_port();
    }
    friend constexpr bool operator==(const arp_responder&, const arp_responder&) = default;
};

} // namespace flowpipe::actions
