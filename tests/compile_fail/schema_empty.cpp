// expect: a schema names at least one field
// A table must match something; a catch-all table still names its fields.
#include <flowpipe/match/schema.hpp>

int main() { return static_cast<int>(flowpipe::schema<>::field_count); }
