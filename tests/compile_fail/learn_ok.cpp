// The positive control for the learn cases: the learned match fits the
// target table's schema and its action list is allowed there.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

namespace fp = flowpipe;
namespace f = fp::fields;
namespace la = fp::learn_args;

using good_learn = fp::actions::learn<la::table<20>, la::match_field<f::vlan_tci::bits<0, 11>>,
                                      la::match_field<f::eth_dst, f::eth_src>, la::output_field<f::in_port>>;
using p_t = fp::pipeline<fp::table<10, fp::schema<fp::exact<f::in_port>>, fp::allowed<fp::action_list<good_learn>>>,
                         fp::table<20, fp::schema<fp::exact<f::vlan_tci::bits<0, 11>>, fp::exact<f::eth_dst>>,
                                   fp::allowed<good_learn::flow_actions>>>;

int main() {
    p_t p;
    fp::burst_output out;
    p.run({}, 0, out);
}
