// expect: this pipeline has no table with that number
#include <flowpipe/action/actions.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

namespace fp = flowpipe;
using p = fp::pipeline<
    fp::table<0, fp::schema<fp::exact<fp::fields::in_port>>, fp::allowed<fp::action_list<fp::actions::output>>>>;

int main() {
    p pipe;
    return static_cast<int>(pipe.table<21>().size());
}
