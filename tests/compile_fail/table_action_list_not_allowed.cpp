// expect: this table does not allow that action list
// The table allows only output lists; a flow with set_tunnel is refused at compile time.
#include <flowpipe/action/actions.hpp>
#include <flowpipe/table/flow_table.hpp>

namespace fp = flowpipe;
using t = fp::flow_table<fp::schema<fp::exact<fp::fields::in_port>>, fp::allowed<fp::action_list<fp::actions::output>>>;

int main() {
    t table;
    auto st = table.add(fp::match{}, 0, fp::action_list<fp::actions::set_tunnel>{}, {}, 0);
    return st ? 0 : 1;
}
