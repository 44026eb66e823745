// A program that uses flowpipe from its source tree through add_subdirectory(<flowpipe source>).
// It packs a key with a two-field schema and checks a field name, so both the
// headers and their dependencies (Boost, xsimd) are really reached.
#include <flowpipe/core/field.hpp>
#include <flowpipe/match/schema.hpp>

#include <cstdio>

int main() {
    namespace fp = flowpipe;
    using br_tun_ucast = fp::schema<fp::exact<fp::fields::dl_vlan>, fp::exact<fp::fields::eth_dst>>;

    fp::flow_key k{};
    fp::fields::dl_vlan::set(k, 2);
    fp::fields::eth_dst::set(k, 0xfa163e7eabccULL);
    const auto key = br_tun_ucast::pack(k);
    if (key.is_zero() || !br_tun_ucast::all_exact) {
        std::puts("add_subdirectory consumer: packing a key failed");
        return 1;
    }
    if (fp::find_field("dl_dst") != fp::field_id::eth_dst || fp::info(fp::field_id::tun_id).name != "tun_id") {
        std::puts("add_subdirectory consumer: field names do not resolve");
        return 1;
    }
    std::puts("add_subdirectory consumer: ok");
    return 0;
}
