// expect: this table's schema does not have that field
// Table 20 of br-tun matches the VLAN and the destination MAC; a typed flow
// for it cannot match an IPv4 source.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/table/flow_table.hpp>

namespace fp = flowpipe;
using t20 = fp::flow_table<fp::schema<fp::exact<fp::fields::vlan_tci::bits<0, 11>>, fp::exact<fp::fields::eth_dst>>,
                           fp::allowed<fp::action_list<fp::actions::output>>>;

int main() {
    t20::match_type m;
    m.set<fp::fields::nw_src>(0x0a000001);
    return 0;
}
