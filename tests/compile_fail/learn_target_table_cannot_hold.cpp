// expect: learn: the target table's schema cannot hold the match this learn builds
// The learn matches the destination MAC, but table 20 matches only the VLAN:
// the flows it would build do not fit there.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

namespace fp = flowpipe;
namespace f = fp::fields;
namespace la = fp::learn_args;

using bad_learn = fp::actions::learn<la::table<20>, la::match_field<f::vlan_tci::bits<0, 11>>,
                                     la::match_field<f::eth_dst, f::eth_src>, la::output_field<f::in_port>>;
using p_t =
    fp::pipeline<fp::table<10, fp::schema<fp::exact<f::in_port>>, fp::allowed<fp::action_list<bad_learn>>>,
                 fp::table<20, fp::schema<fp::exact<f::vlan_tci::bits<0, 11>>>, fp::allowed<bad_learn::flow_actions>>>;

int main() {
    p_t p;
    fp::burst_output out;
    p.run({}, 0, out);
}
