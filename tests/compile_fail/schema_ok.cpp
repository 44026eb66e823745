// The positive control: the same includes and the same kind of use as the
// must-fail cases, written correctly. It must compile, or the harness is broken.
#include <flowpipe/core/field.hpp>
#include <flowpipe/match/schema.hpp>

using br_tun_ucast = flowpipe::schema<flowpipe::exact<flowpipe::fields::vlan_tci::bits<0, 11>>,
                                      flowpipe::exact<flowpipe::fields::eth_dst>>;
static_assert(br_tun_ucast::field_count == 2);
static_assert(br_tun_ucast::all_exact);
static_assert(flowpipe::fields::vlan_tci::bits<0, 15>::width == 16);

int main() { return static_cast<int>(br_tun_ucast::field_count) - 2; }
