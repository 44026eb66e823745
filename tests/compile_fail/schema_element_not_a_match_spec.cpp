// expect: schema<...> takes exact<F>, masked<F> and prefix<F> elements
// A schema lists match specs, not bare types (nor bare fields).
#include <flowpipe/match/schema.hpp>

int main() { return static_cast<int>(flowpipe::schema<int>::field_count); }
