// expect: goto_table must go to a later table
// Table 20 may not continue in table 2: goto_table only goes forward.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

namespace fp = flowpipe;
using p = fp::pipeline<fp::table<2, fp::schema<fp::exact<fp::fields::in_port>>,
                                 fp::allowed<fp::action_list<fp::actions::goto_table_to<20>>>>,
                       fp::table<20, fp::schema<fp::exact<fp::fields::eth_dst>>,
                                 fp::allowed<fp::action_list<fp::actions::goto_table_to<2>>>>>;

int main() {
    p pipe;
    return 0;
}
