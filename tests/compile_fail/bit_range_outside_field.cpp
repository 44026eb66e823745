// expect: a bit range must lie inside its field
// vlan_tci is 16 bits wide, so bits 0..16 (inclusive, as ovs-ofctl writes
// them) name a 17th bit that does not exist.
#include <flowpipe/core/field.hpp>

int main() { return static_cast<int>(flowpipe::fields::vlan_tci::bits<0, 16>::width); }
