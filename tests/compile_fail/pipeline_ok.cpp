// The positive control for the pipeline cases: a forward goto, a typed flow
// on fields the table has, an allowed action list, an existing table number.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

namespace fp = flowpipe;
using p = fp::pipeline<
    fp::table<2, fp::schema<fp::exact<fp::fields::in_port>>,
              fp::allowed<fp::action_list<fp::actions::goto_table_to<20>>>>,
    fp::table<20, fp::schema<fp::exact<fp::fields::eth_dst>>, fp::allowed<fp::action_list<fp::actions::output>>>>;

int main() {
    p pipe;
    auto& t = pipe.table<20>();
    std::remove_reference_t<decltype(t)>::match_type m;
    m.set<fp::fields::eth_dst>(0x1);
    auto st = t.add(m, 1, fp::action_list<fp::actions::output>{fp::actions::output{3}}, {}, 0);
    return st ? 0 : 1;
}
