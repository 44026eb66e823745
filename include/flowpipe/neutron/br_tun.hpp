// The Neutron tunnel bridge (br-tun) as typed tables: the core tables of
// shared/reference/neutron-br-tun.md, each with a tight schema and the action
// lists Neutron's agent installs there.
//
// This is the plain-flow part of br-tun: tables 0 (classify by in_port), 2
// (unicast / broadcast ARP / flood), 3, 4 and 6 (tunnel id -> local VLAN),
// 10 (from tunnels to patch-int, learning into 20), 20 (known unicast to its
// tunnel), 21 (ARP responder) and 22 (flood to the network's tunnels).
// `br_tun_core` is that plain part alone (kept for the pipeline tests);
// `br_tun` below is the whole bridge with DVR's tables 1 and 9, as the agent
// (neutron/agent.hpp) programs it.
//
// br_tun_core's table 20 matches `vlan_tci[0..11]` and `dl_dst` exactly, as
// the flows that table 10's learn action installs do
// (`vlan_tci=0x0002/0x0fff`); an l2pop flow there states its VLAN the same
// way. The flows table 10 learns there are compact records
// (lookup::exact_learned, table/learned_store.hpp: 48 bytes each).
#pragma once

#include <cstdint>

#include <flowpipe/action/actions.hpp>
#include <flowpipe/core/field.hpp>
#include <flowpipe/match/schema.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

namespace flowpipe::neutron {

namespace f = fields;
using namespace actions;

// Table numbers, as the Open vSwitch agent names them.
enum br_tun_table : std::uint8_t {
    local_switching = 0,
    dvr_process = 1,
    patch_lv_to_tun = 2,
    gre_tun_to_lv = 3,
    vxlan_tun_to_lv = 4,
    geneve_tun_to_lv = 6,
    dvr_not_learn = 9,
    learn_from_tun = 10,
    ucast_to_tun = 20,
    arp_responder = 21,
    flood_to_tun = 22,
};

// Tunnels of one network a flood flow can name.
inline constexpr std::size_t max_flood_ports = 64;

// The ARP responder rewrite as Neutron writes it: the request becomes the
// reply in place and goes back out of its input port.
//   move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[], mod_dl_src:<mac>,
//   load:0x2->NXM_OF_ARP_OP[], move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],
//   move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[], load:<mac>->NXM_NX_ARP_SHA[],
//   load:<ip>->NXM_OF_ARP_SPA[], in_port
using arp_reply_actions = action_list<move_bits<f::eth_src, f::eth_dst>, mod_dl_src, load_to<f::arp_op::bits<0, 15>>,
                                      move_bits<f::arp_sha, f::arp_tha>, move_bits<f::arp_spa, f::arp_tpa>,
                                      load_to<f::arp_sha::bits<0, 47>>, load_to<f::arp_spa::bits<0, 31>>, in_port>;

[[nodiscard]] inline arp_reply_actions arp_reply(std::uint64_t mac, std::uint32_t ip) {
    return arp_reply_actions{{}, {mac}, {2}, {}, {}, {mac}, {ip}, {}};
}

using to_tunnel_actions = action_list<strip_vlan, set_tunnel, output>;

// Table 10's learn, as the reference page writes it:
//   learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],
//         NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],
//         load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:<patch-int>
namespace la = learn_args;
using learn_ucast =
    learn<la::table<ucast_to_tun>, la::hard_timeout<300>, la::priority<1>, la::match_field<f::vlan_tci::bits<0, 11>>,
          la::match_field<f::eth_dst, f::eth_src>, la::load_const<0, f::vlan_tci>, la::load_field<f::tun_id, f::tun_id>,
          la::output_field<f::in_port::bits<0, 15>>>; // NXM_OF_IN_PORT[]: 16 bits, as Neutron writes it
using learn_from_tun_actions = action_list<learn_ucast, output>;
// What its flows in table 20 carry: load:0->NXM_OF_VLAN_TCI[],load:<tun_id>->NXM_NX_TUN_ID[],output:<port>
using learned_ucast_actions = learn_ucast::flow_actions;
using flood_actions = action_list<strip_vlan, set_tunnel, output_ports<max_flood_ports>>;
using tun_to_lv_actions = action_list<mod_vlan_vid, resubmit_to<learn_from_tun>>;

template <std::uint8_t Table>
using tun_to_lv_table = table<Table, schema<exact<f::tun_id>>, allowed<tun_to_lv_actions, action_list<drop>>>;

using br_tun_core =
    pipeline<table<local_switching, schema<exact<f::in_port>>,
                   allowed<action_list<resubmit_to<patch_lv_to_tun>>, action_list<resubmit_to<gre_tun_to_lv>>,
                           action_list<resubmit_to<vxlan_tun_to_lv>>, action_list<resubmit_to<geneve_tun_to_lv>>,
                           action_list<drop>>>,
             table<patch_lv_to_tun, schema<exact<f::eth_type>, masked<f::eth_dst>>,
                   allowed<action_list<resubmit_to<ucast_to_tun>>, action_list<resubmit_to<arp_responder>>,
                           action_list<resubmit_to<flood_to_tun>>>>,
             tun_to_lv_table<gre_tun_to_lv>, tun_to_lv_table<vxlan_tun_to_lv>, tun_to_lv_table<geneve_tun_to_lv>,
             table<learn_from_tun, schema<exact<f::in_port>>, allowed<action_list<output>, learn_from_tun_actions>>,
             table<ucast_to_tun, schema<exact<f::vlan_tci::bits<0, 11>>, exact<f::eth_dst>>,
                   allowed<to_tunnel_actions, action_list<resubmit_to<flood_to_tun>>, learned_ucast_actions>,
                   lookup::exact_learned<learn_ucast>>,
             table<arp_responder, schema<exact<f::eth_type>, exact<f::vlan_tci::bits<0, 11>>, exact<f::arp_tpa>>,
                   allowed<arp_reply_actions, action_list<resubmit_to<flood_to_tun>>>>,
             table<flood_to_tun, schema<exact<f::vlan_tci::bits<0, 11>>>, allowed<flood_actions, action_list<drop>>>>;

// ---- the whole bridge: br_tun ------------------------------------------------
//
// Schemas. Neutron writes `dl_vlan=<lvid>` (vlan_tci=0x1XXX/0x1fff: the tag is
// present and its VID is lvid) in tables 1, 20, 21 and 22, so those tables
// match `vlan_tci[0..12]` (present bit + VID) exactly. Table 20 is the
// exception: it holds both the l2pop flows (`dl_vlan=2`, 0x1002/0x1fff) and
// the flows table 10 learns (`vlan_tci=0x0002/0x0fff`, NXM_OF_VLAN_TCI[0..11]),
// two different masks over the same bits, so it matches `vlan_tci` masked (two
// subtables) and prints each flow exactly as Open vSwitch's dump-flows would.
// Rewriting the l2pop flows as 0x0002/0x0fff would keep one exact hash but
// print and delete differently from Neutron's flows (the agent's strict
// deletes by `dl_vlan=` would no longer name them). Instead the learned
// flows, the bulk of the table, sit in an exact index of their own
// (lookup::tuple_space_exact on their mask) as compact records
// (lookup::exact_learned<learn_ucast, Bits...>, table/learned_store.hpp): a
// learn or a lookup of a learned MAC costs one probe, as in br_tun_core, and
// the tuple space holds only the l2pop flows and the catch-all.
using dl_vlan_tag = f::vlan_tci::bits<0, 12>; // what dl_vlan=<lvid> matches: present bit + VID

using tun_to_lv_dvr_actions = action_list<mod_vlan_vid, resubmit_to<dvr_not_learn>>;
using dvr_rewrite_actions = action_list<mod_dl_src, resubmit_to<patch_lv_to_tun>>;

template <std::uint8_t Table>
using tun_to_lv_table_dvr =
    table<Table, schema<exact<f::tun_id>>, allowed<tun_to_lv_actions, tun_to_lv_dvr_actions, action_list<drop>>>;

using br_tun =
    pipeline<table<local_switching, schema<exact<f::in_port>>,
                   allowed<action_list<resubmit_to<patch_lv_to_tun>>, action_list<resubmit_to<dvr_process>>,
                           action_list<resubmit_to<gre_tun_to_lv>>, action_list<resubmit_to<vxlan_tun_to_lv>>,
                           action_list<resubmit_to<geneve_tun_to_lv>>, action_list<drop>>>,
             table<dvr_process, schema<exact<dl_vlan_tag>, masked<f::eth_dst>, masked<f::eth_src>>,
                   allowed<action_list<drop>, dvr_rewrite_actions, action_list<resubmit_to<patch_lv_to_tun>>>>,
             table<patch_lv_to_tun, schema<exact<f::eth_type>, masked<f::eth_dst>>,
                   allowed<action_list<resubmit_to<ucast_to_tun>>, action_list<resubmit_to<arp_responder>>,
                           action_list<resubmit_to<flood_to_tun>>>>,
             tun_to_lv_table_dvr<gre_tun_to_lv>, tun_to_lv_table_dvr<vxlan_tun_to_lv>,
             tun_to_lv_table_dvr<geneve_tun_to_lv>,
             table<dvr_not_learn, schema<exact<f::eth_src>>,
                   allowed<action_list<output>, action_list<resubmit_to<learn_from_tun>>>>,
             table<learn_from_tun, schema<exact<f::in_port>>, allowed<action_list<output>, learn_from_tun_actions>>,
             table<ucast_to_tun, schema<masked<f::vlan_tci>, exact<f::eth_dst>>,
                   allowed<to_tunnel_actions, action_list<resubmit_to<flood_to_tun>>, learned_ucast_actions>,
                   lookup::exact_learned<learn_ucast, f::vlan_tci::bits<0, 11>, f::eth_dst>>,
             table<arp_responder, schema<exact<f::eth_type>, exact<dl_vlan_tag>, exact<f::arp_tpa>>,
                   allowed<arp_reply_actions, action_list<resubmit_to<flood_to_tun>>>>,
             table<flood_to_tun, schema<exact<f::eth_type>, exact<dl_vlan_tag>, masked<f::arp_tpa>>,
                   allowed<flood_actions, action_list<drop>>>>;

} // namespace flowpipe::neutron
