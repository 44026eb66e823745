// expect: learn: the target table does not allow the action list of the flows this learn builds
// The learned flows would carry output:<in_port>, which table 20 does not allow.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

namespace fp = flowpipe;
namespace f = fp::fields;
namespace la = fp::learn_args;

using bad_learn =
    fp::actions::learn<la::table<20>, la::match_field<f::eth_dst, f::eth_src>, la::output_field<f::in_port>>;
using p_t =
    fp::pipeline<fp::table<10, fp::schema<fp::exact<f::in_port>>, fp::allowed<fp::action_list<bad_learn>>>,
                 fp::table<20, fp::schema<fp::exact<f::eth_dst>>, fp::allowed<fp::action_list<fp::actions::drop>>>>;

int main() {
    p_t p;
    fp::burst_output out;
    p.run({}, 0, out);
}
