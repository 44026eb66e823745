// Each action on its own, against a recording context, and the typed and
// generic forms of the same action agreeing.
#include <flowpipe/action/actions.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace fp = flowpipe;
using namespace fp::actions;

namespace {

// Records what actions ask of the pipeline.
struct recorder {
    fp::flow_key k{};
    std::vector<std::uint32_t> outputs;
    std::vector<std::pair<std::uint32_t, std::uint8_t>> resubmits;
    std::vector<std::uint8_t> gotos;
    int edits = 0, controller_calls = 0;
    bool stopped_ = false;
    std::uint8_t table = 3;

    const fp::flow_key& key() const { return k; }
    fp::flow_key& edit() {
        ++edits;
        return k;
    }
    void output(std::uint32_t p) {
        if (p != k.in_port) outputs.push_back(p);
    }
    void output_in_port() { outputs.push_back(k.in_port); }
    void resubmit(std::uint32_t p, std::uint8_t t) { resubmits.emplace_back(p, t); }
    void goto_table(std::uint8_t t) { gotos.push_back(t); }
    void to_controller(std::uint16_t) { ++controller_calls; }
    void stop() { stopped_ = true; }
    bool stopped() const { return stopped_; }
    std::uint8_t table_id() const { return table; }
};
static_assert(fp::action_context<recorder>);

} // namespace

TEST(actions, output_and_in_port) {
    recorder r;
    r.k.in_port = 4;
    output{4}(r);
    output{5}(r);
    in_port{}(r);
    EXPECT_EQ(r.outputs, (std::vector<std::uint32_t>{5, 4}));
    fp::actions::output_ports<4> flood;
    EXPECT_TRUE(flood.add(1));
    EXPECT_TRUE(flood.add(4));
    EXPECT_TRUE(flood.add(7));
    flood(r);
    EXPECT_EQ(r.outputs, (std::vector<std::uint32_t>{5, 4, 1, 7}));
    EXPECT_TRUE(flood.add(8));
    EXPECT_FALSE(flood.add(9)); // full
}

TEST(actions, resubmit_forms) {
    recorder r;
    resubmit{fp::ports::in_port, 20}(r);
    resubmit{7, fp::current_table}(r); // resubmit:7 stays in this table
    resubmit_to<22>{}(r);
    goto_table{9}(r);
    goto_table_to<10>{}(r);
    EXPECT_EQ(r.resubmits, (std::vector<std::pair<std::uint32_t, std::uint8_t>>{
                               {fp::ports::in_port, 20}, {7, 3}, {fp::ports::in_port, 22}}));
    EXPECT_EQ(r.gotos, (std::vector<std::uint8_t>{9, 10}));
}

TEST(actions, load_and_set_field_write_only_their_bits) {
    recorder r;
    r.k.vlan_tci = 0x1abc;
    load{fp::bit_range{fp::field_id::vlan_tci, 0, 12}, 0x005}(r);
    EXPECT_EQ(r.k.vlan_tci, 0x1005);
    load{fp::bit_range::whole(fp::field_id::vlan_tci), 0}(r); // load:0->NXM_OF_VLAN_TCI[]
    EXPECT_EQ(r.k.vlan_tci, 0);
    fp::actions::set_field(fp::field_id::tun_id, 0x3e9)(r);
    EXPECT_EQ(r.k.tun_id, 0x3e9u);
    set_field_to<fp::fields::eth_dst>{0xfa163e7eabccULL}(r);
    EXPECT_EQ(r.k.eth_dst, 0xfa163e7eabccULL);
    load_to<fp::fields::arp_op::bits<0, 15>>{2}(r);
    EXPECT_EQ(r.k.arp_op, 2);
    EXPECT_EQ(r.edits, 5);
}

TEST(actions, move_copies_between_equal_ranges) {
    recorder r;
    r.k.eth_src = 0x112233445566ULL;
    r.k.arp_spa = 0x0a000001;
    move{fp::bit_range::whole(fp::field_id::eth_src), fp::bit_range::whole(fp::field_id::eth_dst)}(r);
    EXPECT_EQ(r.k.eth_dst, 0x112233445566ULL);
    move_bits<fp::fields::arp_spa, fp::fields::arp_tpa>{}(r);
    EXPECT_EQ(r.k.arp_tpa, 0x0a000001u);
    // the low 16 bits of in_port into reg0[16..31]
    r.k.in_port = 0xabcd;
    move{fp::bit_range{fp::field_id::in_port, 0, 16}, fp::bit_range{fp::field_id::reg0, 16, 16}}(r);
    EXPECT_EQ(r.k.regs[0], 0xabcd0000u);
    EXPECT_FALSE(
        (move{fp::bit_range::whole(fp::field_id::eth_src), fp::bit_range::whole(fp::field_id::arp_spa)}.valid()));
}

TEST(actions, vlan_push_pop_and_mod) {
    recorder r;
    mod_vlan_vid{7}(r); // pushes a tag on an untagged frame
    EXPECT_EQ(r.k.vlan_tci, 0x1007);
    mod_vlan_pcp{5}(r);
    EXPECT_EQ(r.k.vlan_tci, 0xb007);
    mod_vlan_vid{9}(r);
    EXPECT_EQ(r.k.vlan_tci, 0xb009); // PCP kept
    strip_vlan{}(r);
    EXPECT_EQ(r.k.vlan_tci, 0);
    push_vlan{}(r);
    EXPECT_EQ(r.k.vlan_tci, 0x1000);
    pop_vlan{}(r);
    EXPECT_EQ(r.k.vlan_tci, 0);
}

TEST(actions, macs_tunnel_ttl_controller) {
    recorder r;
    mod_dl_src{0x0000aabbccddeeffULL}(r);
    mod_dl_dst{0xffff010203040506ULL}(r); // high bits beyond 48 are dropped
    EXPECT_EQ(r.k.eth_src, 0xaabbccddeeffULL);
    EXPECT_EQ(r.k.eth_dst, 0x010203040506ULL);
    set_tunnel64{0x1234567890ULL}(r);
    EXPECT_EQ(r.k.tun_id, 0x1234567890ULL);
    dec_ttl{}(r); // not IP: nothing
    EXPECT_FALSE(r.stopped());
    r.k.eth_type = 0x0800;
    r.k.nw_ttl = 2;
    dec_ttl{}(r);
    EXPECT_EQ(r.k.nw_ttl, 1);
    dec_ttl{}(r);
    EXPECT_TRUE(r.stopped());
    controller{}(r);
    EXPECT_EQ(r.controller_calls, 1);
}

TEST(actions, lists_stop_when_asked_and_typed_equals_generic) {
    recorder typed, generic;
    typed.k.eth_type = generic.k.eth_type = 0x0800;
    typed.k.nw_ttl = generic.k.nw_ttl = 1;
    fp::action_list<set_tunnel, dec_ttl, output> l{{5}, {}, {9}};
    fp::generic_actions g{set_tunnel{5}, dec_ttl{}, output{9}};
    l(typed);
    g(generic);
    EXPECT_EQ(typed.k, generic.k);
    EXPECT_TRUE(typed.outputs.empty()); // dec_ttl stopped the list before output
    EXPECT_TRUE(generic.outputs.empty());
}

TEST(actions, allowed_dispatches_to_the_stored_list) {
    using a = fp::allowed<fp::action_list<output>, fp::action_list<set_tunnel, output>>;
    recorder r;
    a::storage s = fp::action_list<set_tunnel, output>{{7}, {2}};
    a::run(s, r);
    EXPECT_EQ(r.k.tun_id, 7u);
    EXPECT_EQ(r.outputs, (std::vector<std::uint32_t>{2}));
    static_assert(a::allows<fp::action_list<output>>);
    static_assert(!a::allows<fp::action_list<drop>>);
}

TEST(actions, validation_of_run_time_lists) {
    EXPECT_FALSE(fp::validate(fp::generic_actions{output{1}, goto_table{5}}, 4).has_value());
    EXPECT_TRUE(fp::validate(fp::generic_actions{goto_table{4}}, 4).has_value());
    EXPECT_TRUE(fp::validate(fp::generic_actions{goto_table{5}, output{1}}, 4).has_value());
    EXPECT_TRUE(fp::validate(fp::generic_actions{load{fp::bit_range{fp::field_id::eth_dst, 40, 9}, 0}}, 0).has_value());
}
