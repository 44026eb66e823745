// ovs-ofctl flow, flow mod and packet syntax in: values, masks, actions,
// errors with their columns, flow mods applied to a pipeline.
#include <flowpipe/ofctl/parse.hpp>

#include <gtest/gtest.h>

#include <flowpipe/core/extract.hpp>
#include <flowpipe/ofctl/print.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

namespace {

using namespace flowpipe;
using namespace flowpipe::ofctl;

flow_mod ok(std::string_view s) {
    auto r = parse_flow(s);
    EXPECT_TRUE(r) << s << ": " << (r ? "" : to_string(r.error()));
    return r ? *r : flow_mod{};
}

parse_error fails(std::string_view s, flow_command c = flow_command::add) {
    auto r = parse_flow_mod(c, s);
    EXPECT_FALSE(r) << s;
    return r ? parse_error{} : r.error();
}

TEST(OfctlValue, Numbers) {
    EXPECT_EQ(*parse_uint("0"), 0u);
    EXPECT_EQ(*parse_uint("0x1f"), 31u);
    EXPECT_EQ(*parse_uint("18446744073709551615"), ~std::uint64_t{0});
    EXPECT_FALSE(parse_uint(""));
    EXPECT_FALSE(parse_uint("0x"));
    EXPECT_FALSE(parse_uint("12a"));
    EXPECT_FALSE(parse_uint("-1"));
    EXPECT_EQ(*parse_mac("fa:16:3e:7e:ab:cc"), 0xfa163e7eabccULL);
    EXPECT_FALSE(parse_mac("fa:16:3e:7e:ab"));
    EXPECT_EQ(*parse_ipv4("10.0.1.31"), 0x0a00011fu);
    EXPECT_FALSE(parse_ipv4("256.0.0.1"));
    EXPECT_FALSE(parse_ipv4("1.2.3"));
    EXPECT_EQ(*parse_ipv6("::1"), uint128{1});
    EXPECT_EQ(*parse_ipv6("fe80::1"), (uint128{0xfe80} << 112) | 1);
    EXPECT_EQ(*parse_ipv6("::ffff:1.2.3.4"), (uint128{0xffff} << 32) | 0x01020304);
    EXPECT_FALSE(parse_ipv6("1::2::3"));
    EXPECT_FALSE(parse_ipv6("1:2:3:4:5:6:7"));
    EXPECT_EQ(*parse_port("LOCAL"), ports::local);
    EXPECT_EQ(*parse_port("in_port"), ports::in_port);
    EXPECT_EQ(*parse_port("7"), 7u);
}

TEST(OfctlParse, FlowOptionsAndDefaults) {
    flow_mod f = ok("actions=drop");
    EXPECT_EQ(f.table, 0);
    EXPECT_EQ(f.priority, 32768);
    EXPECT_TRUE(f.actions.list.empty());
    f = ok("table=20, priority=1, cookie=0x1f, idle_timeout=10, hard_timeout=300, actions=output:2");
    EXPECT_EQ(f.table, 20);
    EXPECT_EQ(f.priority, 1);
    EXPECT_EQ(f.cookie, 0x1fu);
    EXPECT_EQ(f.idle_timeout, 10);
    EXPECT_EQ(f.hard_timeout, 300);
    ASSERT_EQ(f.actions.list.size(), 1u);
    EXPECT_EQ(std::get<actions::output>(f.actions.list[0]).port, 2u);
}

TEST(OfctlParse, FieldsMasksAndShorthands) {
    flow_mod f = ok("dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=drop");
    EXPECT_EQ(f.m.value_of(field_id::eth_dst), 0x010000000000u);
    EXPECT_EQ(f.m.mask_of(field_id::eth_dst), 0x010000000000u);
    f = ok("vlan_tci=0x1000/0x1000 actions=drop");
    EXPECT_EQ(f.m.mask.vlan_tci, 0x1000);
    f = ok("dl_vlan=2 actions=drop");
    EXPECT_EQ(f.m.value.vlan_tci, 0x1002);
    EXPECT_EQ(f.m.mask.vlan_tci, 0x1fff);
    f = ok("dl_vlan=0xffff actions=drop");
    EXPECT_EQ(f.m.value.vlan_tci, 0);
    EXPECT_EQ(f.m.mask.vlan_tci, 0xffff);
    f = ok("ip,nw_dst=10.0.0.0/8 actions=drop");
    EXPECT_EQ(f.m.value.nw_dst, 0x0a000000u);
    EXPECT_EQ(f.m.mask.nw_dst, 0xff000000u);
    EXPECT_EQ(f.m.value.eth_type, 0x0800);
    f = ok("ip,nw_dst=10.0.0.0/255.255.0.0 actions=drop");
    EXPECT_EQ(f.m.mask.nw_dst, 0xffff0000u);
    f = ok("tun_id=0x5/0xff actions=drop");
    EXPECT_EQ(f.m.value.tun_id, 5u);
    EXPECT_EQ(f.m.mask.tun_id, 0xffu);
    f = ok("in_port=LOCAL actions=drop");
    EXPECT_EQ(f.m.value.in_port, ports::local);
    f = ok("NXM_OF_ETH_SRC=00:00:00:00:00:01,OXM_OF_METADATA=7,tunnel_id=9 actions=drop");
    EXPECT_EQ(f.m.value.eth_src, 1u);
    EXPECT_EQ(f.m.value.metadata, 7u);
    EXPECT_EQ(f.m.value.tun_id, 9u);
    f = ok("tcp6,ipv6_src=fe80::/10,tp_dst=443 actions=drop");
    EXPECT_EQ(f.m.value.eth_type, 0x86dd);
    EXPECT_EQ(f.m.value.nw_proto, 6);
    EXPECT_EQ(f.m.mask.ipv6_src, prefix_mask(10, 128));
    f = ok("arp,arp_tpa=81.1.180.9,arp_op=1 actions=drop");
    EXPECT_EQ(f.m.value.arp_tpa, 0x5101b409u);
    f = ok("icmp6,icmp_type=135,nd_target=::1 actions=drop");
    EXPECT_EQ(f.m.value.nd_target, 1u);
    f = ok("ip,nw_tos=8,nw_ecn=2 actions=drop");
    EXPECT_EQ(f.m.value.nw_tos, 10);
    EXPECT_EQ(f.m.mask.nw_tos, 0xff);
    f = ok("dl_type=0x0806,arp_spa=1.2.3.4 actions=drop"); // dl_type works like the shorthand
    EXPECT_EQ(f.m.value.arp_spa, 0x01020304u);
    f = ok("arp_spa=1.2.3.4,arp actions=drop"); // prerequisites in any order, as ovs-ofctl
    EXPECT_EQ(f.m.value.arp_spa, 0x01020304u);
}

TEST(OfctlParse, Actions) {
    flow_mod f = ok("arp actions=output:1,2,in_port,IN_PORT,LOCAL,resubmit(,22),resubmit(3,4),resubmit:5,"
                    "load:0x3e9->NXM_NX_TUN_ID[],load:0->NXM_OF_VLAN_TCI[0..11],load:1->NXM_NX_REG0[3],"
                    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:1.2.3.4->arp_spa,mod_dl_src:fa:16:3e:00:00:01,"
                    "mod_dl_dst:fa:16:3e:00:00:02,mod_vlan_vid:2,mod_vlan_pcp:3,push_vlan:0x8100,strip_vlan,pop_vlan,"
                    "set_tunnel:6,set_tunnel64:0x100000000,dec_ttl,controller,controller(max_len=64),CONTROLLER:9,"
                    "move:NXM_OF_IN_PORT[]->NXM_NX_REG1[0..15],goto_table:4");
    const auto& l = f.actions.list;
    ASSERT_EQ(l.size(), 28u);
    EXPECT_EQ(std::get<actions::output>(l[0]).port, 1u);
    EXPECT_EQ(std::get<actions::output>(l[1]).port, 2u);
    EXPECT_TRUE(std::holds_alternative<actions::in_port>(l[2]));
    EXPECT_TRUE(std::holds_alternative<actions::in_port>(l[3]));
    EXPECT_EQ(std::get<actions::output>(l[4]).port, ports::local);
    EXPECT_EQ(std::get<actions::resubmit>(l[5]), (actions::resubmit{ports::in_port, 22}));
    EXPECT_EQ(std::get<actions::resubmit>(l[6]), (actions::resubmit{3, 4}));
    EXPECT_EQ(std::get<actions::resubmit>(l[7]), (actions::resubmit{5, current_table}));
    EXPECT_EQ(std::get<actions::load>(l[8]), (actions::load{bit_range::whole(field_id::tun_id), 0x3e9}));
    EXPECT_EQ(std::get<actions::load>(l[9]).dst, (bit_range{field_id::vlan_tci, 0, 12}));
    EXPECT_EQ(std::get<actions::load>(l[10]).dst, (bit_range{field_id::reg0, 3, 1}));
    EXPECT_EQ(std::get<actions::move>(l[11]).dst, bit_range::whole(field_id::eth_dst));
    EXPECT_EQ(std::get<actions::load>(l[12]), (actions::load{bit_range::whole(field_id::arp_spa), 0x01020304}));
    EXPECT_EQ(std::get<actions::mod_dl_src>(l[13]).mac, 0xfa163e000001u);
    EXPECT_EQ(std::get<actions::mod_vlan_vid>(l[15]).vid, 2);
    EXPECT_EQ(std::get<actions::mod_vlan_pcp>(l[16]).pcp, 3);
    EXPECT_EQ(std::get<actions::set_tunnel>(l[20]).id, 6u);
    EXPECT_EQ(std::get<actions::set_tunnel>(l[21]).id, 0x100000000u);
    EXPECT_EQ(std::get<actions::controller>(l[23]).max_len, 0xffff);
    EXPECT_EQ(std::get<actions::controller>(l[24]).max_len, 64);
    EXPECT_EQ(std::get<actions::controller>(l[25]).max_len, 9);
    EXPECT_EQ(std::get<actions::move>(l[26]).src, (bit_range{field_id::in_port, 0, 16})); // NXM_OF_IN_PORT: 16 bits
    EXPECT_EQ(std::get<actions::goto_table>(l[27]).table, 4);
}

// Ports outside learns as ovs-ofctl 3.1 takes and prints them (each text
// run through `ovs-ofctl parse-flow`): OpenFlow 1.0's 16-bit ports, so a
// decimal number up to 65535 (65534 is LOCAL, 65280.. the reserved ports
// 4294967040..), a reserved OpenFlow 1.1 number 4294967040.. or a name; no
// hex, nothing from 65536 to 4294967039; output only to a port below 65280
// or a named one but ANY and UNSET (OFPBAC_BAD_OUT_PORT).
TEST(OfctlParse, PortsAsOpenVswitchTakesThem) {
    struct accepted {
        const char* text;
        std::uint32_t port;
    };
    for (const accepted& a :
         {accepted{"3", 3}, accepted{"+3", 3}, accepted{"007", 7}, accepted{"65279", 65279},
          accepted{"65534", ports::local}, accepted{"4294967294", ports::local}, accepted{"LOCAL", ports::local},
          accepted{"65533", ports::controller}, accepted{"65535", ports::none}, accepted{"none", ports::none},
          accepted{"65280", 0xffffff00u}, accepted{"4294967040", 0xffffff00u}, accepted{"UNSET", 0xfffffff7u}}) {
        const std::string text = std::string("in_port=") + a.text + " actions=drop";
        const flow_mod fm = ok(text);
        EXPECT_EQ(fm.m.value.in_port, a.port) << text;
        EXPECT_EQ(ok(format_flow(fm)), fm) << text << " printed as " << format_flow(fm);
    }
    EXPECT_EQ(format_flow(ok("in_port=4294967040 actions=drop")), "in_port=65280 actions=drop");
    EXPECT_EQ(format_flow(ok("in_port=65527 actions=drop")), "in_port=UNSET actions=drop");
    EXPECT_EQ(format_flow(ok("in_port=65534 actions=drop")), "in_port=LOCAL actions=drop");
    for (const char* p : {"0x3", "0X3", "0xfffe", "65536", "70000", "4294967039", "-1", "3x", "99999999999", "++3"}) {
        const parse_error e = fails(std::string("in_port=") + p + " actions=drop");
        EXPECT_EQ(e.column, 9u) << p << ": " << e.message;
    }

    const flow_mod fm = ok("actions=output:65534,65279,4294967294,resubmit(65534),resubmit(4294967292,3),65532");
    const auto& l = fm.actions.list;
    ASSERT_EQ(l.size(), 6u);
    EXPECT_EQ(std::get<actions::output>(l[0]).port, ports::local);
    EXPECT_EQ(std::get<actions::output>(l[1]).port, 65279u);
    EXPECT_EQ(std::get<actions::output>(l[2]).port, ports::local);
    EXPECT_EQ(std::get<actions::resubmit>(l[3]), (actions::resubmit{ports::local, current_table}));
    EXPECT_EQ(std::get<actions::resubmit>(l[4]), (actions::resubmit{0xfffffffcu, 3}));
    EXPECT_EQ(std::get<actions::output>(l[5]).port, 0xfffffffcu); // ALL
    EXPECT_EQ(format_flow(fm), "actions=LOCAL,output:65279,LOCAL,resubmit:LOCAL,resubmit(ALL,3),ALL");
    for (const char* a : {"output:0x3", "output:65536", "resubmit(0x3)", "resubmit(4294967039,1)", "0x3"})
        fails(std::string("actions=") + a);
    for (const char* a : {"output:65280", "output:4294967040", "output:65535", "output:ANY", "output:UNSET",
                          "output:65527", "65280", "ANY", "none"}) {
        const parse_error e = fails(std::string("actions=") + a);
        EXPECT_NE(e.message.find("OFPBAC_BAD_OUT_PORT"), std::string::npos) << a << ": " << e.message;
        EXPECT_EQ(e.column, std::string_view(a).find(':') == std::string_view::npos ? 9u : 16u) << a;
    }
}

TEST(OfctlParse, ErrorsSayWhatAndWhere) {
    auto e = fails("priority=1,foo=2 actions=drop");
    EXPECT_EQ(e.column, 12u);
    EXPECT_NE(e.message.find("unknown field"), std::string::npos);
    e = fails("dl_dst=zz:00:00:00:00:00 actions=drop");
    EXPECT_EQ(e.column, 8u);
    e = fails("nw_proto=6/0xf0,ip actions=drop"); // not maskable
    EXPECT_NE(e.message.find("cannot be masked"), std::string::npos);
    e = fails("arp_tpa=10.0.0.1 actions=drop");
    EXPECT_EQ(e.column, 1u);
    EXPECT_NE(e.message.find("prerequisite"), std::string::npos);
    e = fails("ip actions=output:1,frobnicate");
    EXPECT_EQ(e.column, 21u);
    EXPECT_NE(e.message.find("unknown action"), std::string::npos);
    e = fails("actions=load:1->NXM_NX_REG0[5..40]");
    EXPECT_NE(e.message.find("subfield range"), std::string::npos);
    EXPECT_EQ(e.column, 29u);
    e = fails("actions=move:NXM_NX_REG0[0..3]->NXM_NX_REG1[0..4]");
    EXPECT_NE(e.message.find("wide"), std::string::npos);
    e = fails("actions=load:0x1->NXM_NX_ARP_SHA[]"); // action prerequisite
    EXPECT_NE(e.message.find("arp"), std::string::npos);
    e = fails("ip actions=load:6->NXM_OF_IP_PROTO[]");
    EXPECT_NE(e.message.find("cannot be written"), std::string::npos);
    e = fails("table=3 actions=goto_table:2");
    EXPECT_NE(e.message.find("later table"), std::string::npos);
    e = fails("dl_vlan=4096 actions=drop");
    EXPECT_EQ(e.column, 9u);
    e = fails("priority=70000 actions=drop");
    EXPECT_EQ(e.column, 10u);
    e = fails("priority=1");
    EXPECT_NE(e.message.find("action"), std::string::npos);
    e = fails("cookie=1/1 actions=drop");
    EXPECT_NE(e.message.find("cookie mask"), std::string::npos);
    e = fails("tun_id=0x1ffffffffffffffff actions=drop");
    e = fails("actions=resubmit(,22");
    EXPECT_NE(e.message.find("parenthes"), std::string::npos);
    e = fails("actions=drop,output:1");
    e = fails("in_port=1 actions=drop", flow_command::remove);
}

TEST(OfctlParse, FlowModsAndFiles) {
    auto d = parse_flow_mod(flow_command::remove, "cookie=0x10/0xf0,in_port=3");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->table, all_tables);
    EXPECT_EQ(d->cookie_mask, 0xf0u);
    auto m = parse_flow_mod(flow_command::modify_strict, "table=2,priority=5,ip actions=output:3");
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->strict());
    auto file = parse_flows("# comment\n\ntable=0,priority=1,in_port=1 actions=resubmit(,2)\n  \n"
                            "table=2 actions=output:2\n");
    ASSERT_TRUE(file);
    EXPECT_EQ(file->size(), 2u);
    auto bad = parse_flows("table=0 actions=drop\n# x\ntable=2,bogus=1 actions=drop\n");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().line, 3u);
    EXPECT_EQ(bad.error().column, 9u);
    EXPECT_EQ(to_string(bad.error()).substr(0, 18), "line 3, column 9: ");
}

TEST(OfctlParse, ApplyToGenericPipeline) {
    generic_pipeline p;
    auto add = [&](flow_command c, std::string_view s) {
        auto r = parse_flow_mod(c, s);
        EXPECT_TRUE(r) << s;
        return apply(p, *r, 1000);
    };
    EXPECT_TRUE(add(flow_command::add, "table=1,priority=5,cookie=0x11,ip actions=output:1"));
    EXPECT_TRUE(add(flow_command::add, "table=1,priority=6,cookie=0x22,arp actions=output:2"));
    EXPECT_TRUE(add(flow_command::add, "table=2,priority=6,cookie=0x21,arp actions=output:2"));
    EXPECT_EQ(p.table(1).size(), 2u);
    EXPECT_EQ(add(flow_command::modify, "table=1,ip actions=output:9").count, 1u);
    EXPECT_EQ(add(flow_command::remove, "cookie=0x20/0xf0").count, 2u);
    EXPECT_EQ(p.table(1).size(), 1u);
    EXPECT_EQ(p.table(2).size(), 0u);
    EXPECT_EQ(add(flow_command::remove_strict, "table=1,priority=4,ip").count, 0u);
    EXPECT_EQ(add(flow_command::remove_strict, "table=1,priority=5,ip").count, 1u);
}

TEST(OfctlParse, Packets) {
    auto k = parse_packet("in_port=1,dl_vlan=2,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,"
                          "arp_spa=81.1.180.8,arp_tpa=81.1.180.9");
    ASSERT_TRUE(k);
    EXPECT_EQ(k->in_port, 1u);
    EXPECT_EQ(k->vlan_tci, 0x1002);
    EXPECT_EQ(k->eth_type, 0x0806);
    EXPECT_EQ(k->arp_tpa, 0x5101b409u);
    EXPECT_EQ(k->nw_ttl, 0); // ofproto/trace leaves what is not given at zero
    auto none = parse_packet("tcp,tp_dst=80");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->in_port, ports::none);
    auto bad = parse_packet("arp_tpa=1.2.3.4,arp");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().column, 1u);
    EXPECT_FALSE(parse_packet("ip,nw_src=10.0.0.0/8"));
    EXPECT_TRUE(parse_packet("recirc_id=0,eth,ip,nw_frag=no", {.lenient = true}));
    auto frame = parse_packet_frame("dl_dst=ff:ff:ff:ff:ff:ff,dl_vlan=2,arp,arp_op=1,arp_tpa=1.2.3.4");
    ASSERT_TRUE(frame);
    flow_key back{};
    (void)extract(frame->data(), frame->size(), back);
    auto want = *parse_packet("dl_dst=ff:ff:ff:ff:ff:ff,dl_vlan=2,arp,arp_op=1,arp_tpa=1.2.3.4");
    want.in_port = 0;
    EXPECT_EQ(back, want);
}

// ---- learn(...) and NORMAL ----------------------------------------------------

namespace learn_tests {

const actions::learn_description& desc(const flow_mod& fm, std::size_t i = 0) {
    return *std::get<actions::generic_learn>(fm.actions.list.at(i)).d;
}

TEST(OfctlParseLearn, BrTunTable10) {
    const std::string text =
        "table=10,priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],"
        "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],"
        "output:NXM_OF_IN_PORT[]),output:1";
    const flow_mod fm = ok(text);
    ASSERT_EQ(fm.actions.list.size(), 2u);
    const auto& d = desc(fm);
    using kind = actions::learn_spec::kind;
    EXPECT_EQ(d.table, 20);
    EXPECT_EQ(d.hard_timeout, 300);
    EXPECT_EQ(d.priority, 1);
    ASSERT_EQ(d.specs.size(), 5u);
    EXPECT_EQ(d.specs[0].what, kind::match_field);
    EXPECT_EQ(d.specs[0].dst, (bit_range{field_id::vlan_tci, 0, 12}));
    EXPECT_EQ(d.specs[0].src, d.specs[0].dst);
    EXPECT_EQ(d.specs[1].what, kind::match_field);
    EXPECT_EQ(d.specs[1].dst, bit_range::whole(field_id::eth_dst));
    EXPECT_EQ(d.specs[1].src, bit_range::whole(field_id::eth_src));
    EXPECT_EQ(d.specs[2].what, kind::load_const);
    EXPECT_EQ(d.specs[2].value, 0u);
    EXPECT_EQ(d.specs[3].what, kind::load_field);
    EXPECT_EQ(d.specs[4].what, kind::output);
    EXPECT_EQ(d.specs[4].src, (bit_range{field_id::in_port, 0, 16}));
    EXPECT_EQ(std::get<actions::output>(fm.actions.list[1]).port, 1u);
    // Printed as learn_format prints it, and parsed back to the same flow.
    const std::string printed = format_flow(fm);
    EXPECT_NE(printed.find("learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],"
                           "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],"
                           "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[])"),
              std::string::npos)
        << printed;
    EXPECT_EQ(ok(printed), fm);
}

TEST(OfctlParseLearn, EveryOption) {
    const flow_mod fm = ok("actions=learn(table=3,idle_timeout=10,hard_timeout=20,fin_idle_timeout=5,"
                           "fin_hard_timeout=6,priority=7,cookie=0x99,send_flow_rem,delete_learned,limit=4,"
                           "result_dst=NXM_NX_REG1[3],eth_type=0x800,NXM_OF_IP_SRC[]=NXM_NX_REG2[],"
                           "NXM_NX_REG0[0..7]=0x5a,dl_dst=fa:16:3e:00:00:01,in_port=LOCAL,"
                           "load:0x3->NXM_NX_REG3[1..2],output:NXM_NX_REG4[0..15])");
    const auto& d = desc(fm);
    using kind = actions::learn_spec::kind;
    EXPECT_EQ(d.table, 3);
    EXPECT_EQ(d.idle_timeout, 10);
    EXPECT_EQ(d.hard_timeout, 20);
    EXPECT_EQ(d.fin_idle_timeout, 5);
    EXPECT_EQ(d.fin_hard_timeout, 6);
    EXPECT_EQ(d.priority, 7);
    EXPECT_EQ(d.cookie, 0x99u);
    EXPECT_TRUE(d.delete_learned);
    EXPECT_EQ(d.limit, 4u);
    EXPECT_EQ(d.result_dst, (bit_range{field_id::reg1, 3, 1}));
    ASSERT_EQ(d.specs.size(), 7u);
    EXPECT_EQ(d.specs[0].what, kind::match_const);
    EXPECT_EQ(d.specs[0].value, 0x800u);
    EXPECT_EQ(d.specs[1].src, bit_range::whole(field_id::reg2));
    EXPECT_EQ(d.specs[2].what, kind::match_const);
    EXPECT_EQ(d.specs[2].dst, (bit_range{field_id::reg0, 0, 8}));
    EXPECT_EQ(d.specs[2].value, 0x5au);
    EXPECT_EQ(d.specs[3].value, 0xfa163e000001u);
    // in_port=LOCAL is Open vSwitch's 16-bit in_port: OpenFlow 1.0's LOCAL
    // (0xfffe), which the learned flow matches as flowpipe's ports::local.
    EXPECT_EQ(d.specs[4].dst, (bit_range{field_id::in_port, 0, 16}));
    EXPECT_EQ(d.specs[4].value, 0xfffeu);
    EXPECT_EQ(d.specs[5].what, kind::load_const);
    EXPECT_EQ(d.specs[5].value, 3u);
    EXPECT_EQ(d.specs[6].src, (bit_range{field_id::reg4, 0, 16}));
    // Defaults: table 1, priority 32768; `learn()` learns a catch-all.
    const auto empty_learn = ok("actions=learn()"); // kept alive: desc() refers into it
    const auto& e = desc(empty_learn);
    EXPECT_EQ(e.table, 1);
    EXPECT_EQ(e.priority, 32768);
    EXPECT_TRUE(e.specs.empty());
    // Round trip (send_flow_rem has no effect in flowpipe and is not kept).
    EXPECT_EQ(ok(format_flow(fm)), fm);
}

// fin_timeout(...) as ovs-ofctl takes it (any order, a repeated key's last
// value), printed back the same; errors name the argument and its column.
TEST(OfctlParse, FinTimeout) {
    auto fm = parse_flow("tcp actions=fin_timeout(hard_timeout=7,idle_timeout=5,idle_timeout=6)");
    ASSERT_TRUE(fm) << fm.error().message;
    EXPECT_EQ(std::get<actions::fin_timeout>(fm->actions.list.at(0)), (actions::fin_timeout{6, 7}));
    EXPECT_EQ(format_flow(*fm), "tcp actions=fin_timeout(idle_timeout=6,hard_timeout=7)");
    const std::string head = "actions=fin_timeout(";
    auto e = fails(head + "idle_timeout=5,idle=3)");
    EXPECT_NE(e.message.find("unknown argument \"idle\""), std::string::npos) << e.message;
    EXPECT_EQ(e.column, head.size() + 16);
    e = fails(head + "hard_timeout=70000)");
    EXPECT_NE(e.message.find("bad hard_timeout"), std::string::npos) << e.message;
    EXPECT_NE(fails(head + ")").message.find("fin_timeout"), std::string::npos);
}

// A learned UDP or SCTP port constant prints under its protocol's name (an
// Open vSwitch `tp_dst=` would be TCP's), and subfields likewise.
TEST(OfctlParseLearn, TransportPortsNamedByTheLearnedProtocol) {
    auto fm = parse_flow("udp actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[]=53,"
                         "NXM_OF_UDP_SRC[])");
    ASSERT_TRUE(fm) << fm.error().message;
    EXPECT_EQ(format_flow(*fm), "udp actions=learn(table=1,eth_type=0x800,nw_proto=17,udp_dst=53,NXM_OF_UDP_SRC[])");
    fm = parse_flow("tcp actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[]=80)");
    ASSERT_TRUE(fm) << fm.error().message;
    EXPECT_EQ(format_flow(*fm), "tcp actions=learn(table=1,eth_type=0x800,nw_proto=6,tcp_dst=80)");
}

// An action naming one protocol's field (NXM_OF_UDP_DST, NXM_NX_ICMPV6_TYPE)
// needs that protocol in the flow's match, where flowpipe has one field for
// all of them (ovs-ofctl 3.1 refuses each of these with "actions are invalid
// with specified match").
TEST(OfctlParse, ProtocolFieldNamesInActions) {
    struct printed {
        const char* in;
        const char* out; // as ovs-ofctl parse-flow prints it
    };
    for (const printed& c :
         {printed{"udp actions=load:1->NXM_OF_UDP_DST[]", "udp actions=load:0x1->NXM_OF_UDP_DST[]"},
          printed{"tcp6 actions=load:1->OXM_OF_TCP_DST[]", "tcp6 actions=load:0x1->NXM_OF_TCP_DST[]"},
          printed{"icmp actions=load:1->NXM_OF_ICMP_TYPE[]", "icmp actions=load:0x1->NXM_OF_ICMP_TYPE[]"},
          printed{"icmp6 actions=load:1->NXM_NX_ICMPV6_TYPE[]", "icmp6 actions=load:0x1->NXM_NX_ICMPV6_TYPE[]"},
          printed{"icmp6 actions=move:NXM_NX_ICMPV6_CODE[]->NXM_NX_REG0[0..7]",
                  "icmp6 actions=move:NXM_NX_ICMPV6_CODE[]->NXM_NX_REG0[0..7]"}}) {
        EXPECT_EQ(format_flow(ok(c.in)), c.out) << c.in;
    }
    struct refused {
        const char* text;
        const char* what;
    };
    for (const refused& r : {refused{"udp actions=load:1->NXM_OF_TCP_DST[]", "NXM_OF_TCP_* needs tcp or tcp6"},
                             refused{"tcp actions=load:1->OXM_OF_UDP_DST[]", "OXM_OF_UDP_* needs udp or udp6"},
                             refused{"icmp6 actions=load:1->NXM_OF_ICMP_TYPE[]", "NXM_OF_ICMP_* needs icmp "},
                             refused{"icmp actions=load:1->NXM_NX_ICMPV6_TYPE[]", "NXM_NX_ICMPV6_* needs icmp6"},
                             refused{"icmp actions=move:NXM_NX_ICMPV6_CODE[]->NXM_NX_REG0[0..7]", "icmp6"}}) {
        const parse_error e = fails(r.text);
        EXPECT_NE(e.message.find(r.what), std::string::npos) << r.text << ": " << e.message;
        EXPECT_EQ(e.column, std::string_view(r.text).find("actions=") + 9) << r.text;
    }
}

// A learn's in_port constant is Open vSwitch's: `in_port` and
// `NXM_OF_IN_PORT[]` (or [0..15]) are its 16-bit OpenFlow 1.0 in_port,
// `in_port_oxm` and `OXM_OF_IN_PORT[]` its 32-bit OpenFlow 1.1 one, and both
// take a port as ofputil_port_from_string does: decimal (a leading '+'
// too), 0..65535 or 4294967040..4294967295, or a reserved name; never hex
// (ovs-ofctl 3.1: "NXM_OF_IN_PORT[] value 0x14bc cannot be parsed as a
// subfield ... or an immediate value (0x14bc: invalid or unknown port for
// in_port)"). Constants on bits of in_port are plain integers.
TEST(OfctlParseLearn, InPortConstantIsAPortAsOpenVswitchTakesIt) {
    const bit_range nxm{field_id::in_port, 0, 16};
    const bit_range oxm = bit_range::whole(field_id::in_port);
    struct accepted {
        const char* spec;
        bit_range dst;
        std::uint32_t value;
    };
    for (const accepted& a : {accepted{"NXM_OF_IN_PORT[]=5308", nxm, 5308},
                              accepted{"in_port=3", nxm, 3},
                              accepted{"in_port=+3", nxm, 3},
                              accepted{"in_port=007", nxm, 7},
                              accepted{"in_port=0", nxm, 0},
                              accepted{"NXM_OF_IN_PORT[0..15]=3", nxm, 3},
                              accepted{"in_port=LOCAL", nxm, 0xfffe},
                              accepted{"NXM_OF_IN_PORT[]=local", nxm, 0xfffe},
                              accepted{"in_port=65534", nxm, 0xfffe},
                              accepted{"in_port=4294967294", nxm, 0xfffe}, // OpenFlow 1.1's LOCAL
                              accepted{"in_port=65280", nxm, 0xff00},
                              accepted{"in_port=4294967040", nxm, 0xff00},
                              accepted{"in_port=UNSET", nxm, 0xfff7},
                              accepted{"in_port=NONE", nxm, 0xffff},
                              accepted{"in_port=controller", nxm, 0xfffd},
                              accepted{"in_port_oxm=2", oxm, 2},
                              accepted{"OXM_OF_IN_PORT[]=2", oxm, 2},
                              accepted{"in_port_oxm=LOCAL", oxm, ports::local},
                              accepted{"in_port_oxm=65534", oxm, ports::local},
                              accepted{"NXM_OF_IN_PORT[0..7]=0x3", bit_range{field_id::in_port, 0, 8}, 3}}) {
        const std::string text = std::string("actions=learn(table=1,") + a.spec + ")";
        const flow_mod fm = ok(text);
        if (fm.actions.list.empty()) continue;
        const auto& d = desc(fm);
        ASSERT_EQ(d.specs.size(), 1u) << text;
        EXPECT_EQ(d.specs[0].what, actions::learn_spec::kind::match_const) << text;
        EXPECT_EQ(d.specs[0].dst, a.dst) << text;
        EXPECT_EQ(d.specs[0].value, a.value) << text;
        EXPECT_EQ(ok(format_flow(fm)), fm) << text << " printed as " << format_flow(fm);
    }
    const std::string head = "actions=learn(table=1,";
    for (const char* spec : {"NXM_OF_IN_PORT[]=0x14bc", "in_port=0x3", "in_port=0X3", "NXM_OF_IN_PORT[0..15]=0x3",
                             "OXM_OF_IN_PORT[]=0x2", "in_port_oxm=0x2", "in_port=65536", "in_port=4294967039",
                             "in_port=-1", "in_port=3x", "in_port=99999999999", "in_port=++3", "in_port=+"}) {
        const parse_error e = fails(head + spec + ")");
        EXPECT_NE(e.message.find("not a port"), std::string::npos) << spec << ": " << e.message;
        EXPECT_NE(e.message.find("not hex"), std::string::npos) << spec << ": " << e.message;
        EXPECT_EQ(e.column, head.size() + std::string_view(spec).find('=') + 2) << spec;
    }
}

// learn_check judges each spec, in order, by Open vSwitch's own field for
// the name it is given (tcp_dst, udp_dst and sctp_dst are flowpipe's one
// tp_dst; icmp_type and icmpv6_type its icmp_type; vlan_pcp needs a VLAN):
// a learned match field or load destination by the learn's constants before
// it, a source by the match of the flow holding the learn. Each pair was
// run through ovs-ofctl 3.1 parse-flow.
TEST(OfctlParseLearn, PrerequisitesOfOpenVswitchsFieldByItsName) {
    for (const char* text : {
             // the learned protocol, not the holder's
             "arp actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[]=53)",
             "actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[]=53)",
             "actions=learn(table=1,eth_type=0x86dd,nw_proto=6,OXM_OF_TCP_DST[]=53)",
             "actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[]=53)",
             "actions=learn(table=1,eth_type=0x800,nw_proto=17,OXM_OF_UDP_DST[]=53)",
             "actions=learn(table=1,eth_type=0x800,nw_proto=132,OXM_OF_SCTP_DST[]=53)",
             "actions=learn(table=1,eth_type=0x800,nw_proto=6,tp_dst=53)", // tp_dst is tcp_dst
             "actions=learn(table=1,eth_type=0x800,nw_proto=17,load:0x35->NXM_OF_UDP_DST[])",
             // a source by the holder, its destination by the learn
             "tcp actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[]=NXM_OF_TCP_SRC[])",
             "udp actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_NX_REG0[0..15]=NXM_OF_UDP_SRC[])",
             "udp actions=learn(table=1,load:NXM_OF_UDP_SRC[]->NXM_NX_REG0[0..15])",
             "udp actions=learn(table=1,output:NXM_OF_UDP_SRC[])",
             // ICMP and ICMPv6, neighbour discovery
             "actions=learn(table=1,eth_type=0x800,nw_proto=1,icmp_type=3)",
             "actions=learn(table=1,eth_type=0x86dd,nw_proto=58,icmpv6_type=3)",
             "icmp actions=learn(table=1,eth_type=0x86dd,nw_proto=58,NXM_NX_ICMPV6_TYPE[]=NXM_OF_ICMP_TYPE[])",
             "actions=learn(table=1,eth_type=0x86dd,nw_proto=58,NXM_NX_ICMPV6_TYPE[]=135,nd_target=::1)",
             // vlan_pcp needs a VLAN header in what is learned
             "actions=learn(table=1,NXM_OF_VLAN_TCI[12]=1,vlan_pcp=3)",
             "actions=learn(table=1,NXM_OF_VLAN_TCI[]=0x1005,OXM_OF_VLAN_PCP[]=3)",
             "dl_vlan=5 actions=learn(table=1,NXM_OF_VLAN_TCI[12]=1,OXM_OF_VLAN_PCP[])",
         }) {
        const flow_mod fm = ok(text);
        EXPECT_EQ(ok(format_flow(fm)), fm) << text << " printed as " << format_flow(fm);
    }
    struct refused {
        const char* text;
        const char* what;
    };
    for (const refused& r : {
             refused{"actions=learn(table=1,NXM_OF_TCP_DST[]=53,eth_type=0x800,nw_proto=6)",
                     "NXM_OF_TCP_DST in a learned flow needs tcp or tcp6 matched before it"},
             refused{"actions=learn(table=1,eth_type=0x800,NXM_OF_TCP_DST[]=53,nw_proto=6)",
                     "NXM_OF_TCP_DST in a learned flow needs tcp or tcp6"},
             refused{"actions=learn(table=1,nw_proto=6)", "nw_proto in a learned flow needs ip or ipv6"},
             refused{"actions=learn(table=1,nw_proto=17,eth_type=0x800,udp_dst=53)", "nw_proto in a learned flow"},
             refused{"actions=learn(table=1,eth_type=0x806,nw_proto=6,NXM_OF_TCP_DST[]=53)", "nw_proto"},
             refused{"actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_TCP_DST[]=53)", "tcp or tcp6"},
             refused{"actions=learn(table=1,eth_type=0x800,nw_proto=17,tp_dst=53)", "tp_dst in a learned flow"},
             refused{"actions=learn(table=1,eth_type=0x800,nw_proto=6,udp_dst=53)", "udp or udp6"},
             refused{"actions=learn(table=1,eth_type=0x800,nw_proto=132,NXM_OF_TCP_DST[]=53)", "tcp or tcp6"},
             refused{"actions=learn(table=1,eth_type=0x800,nw_proto=17,load:0x35->NXM_OF_TCP_DST[])", "tcp or tcp6"},
             // a field source needs its protocol in the holder's match, and its name in the learned match
             refused{"tcp actions=learn(table=1,NXM_OF_TCP_DST[])", "matched before it in the learn"},
             refused{"udp actions=learn(table=1,eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[])",
                     "NXM_OF_TCP_DST needs tcp or tcp6 in the flow's match"},
             refused{"udp actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[]=NXM_OF_TCP_SRC[])",
                     "NXM_OF_TCP_SRC needs tcp or tcp6 in the flow's match"},
             refused{"udp actions=learn(table=1,NXM_NX_REG0[0..15]=tp_src)", "tp_src needs tcp or tcp6"},
             refused{"udp6 actions=learn(table=1,eth_type=0x86dd,nw_proto=17,tcp_src=NXM_OF_UDP_SRC[])",
                     "tcp_src in a learned flow needs tcp or tcp6"},
             refused{"tcp actions=learn(table=1,output:NXM_OF_UDP_SRC[])", "NXM_OF_UDP_SRC needs udp or udp6"},
             refused{"udp actions=learn(table=1,load:NXM_OF_TCP_SRC[]->NXM_NX_REG0[0..15])", "tcp or tcp6"},
             refused{"actions=learn(table=1,eth_type=0x86dd,nw_proto=58,icmp_type=3)", "icmp_type in a learned"},
             refused{"actions=learn(table=1,eth_type=0x800,nw_proto=1,icmpv6_type=3)", "icmpv6_type in a learned"},
             refused{"icmp6 actions=learn(table=1,eth_type=0x86dd,nw_proto=58,NXM_OF_ICMP_TYPE[]=NXM_NX_ICMPV6_TYPE[])",
                     "NXM_OF_ICMP_TYPE in a learned flow needs icmp "},
             refused{"actions=learn(table=1,eth_type=0x86dd,nw_proto=58,nd_target=::1)",
                     "nd_target in a learned flow needs icmp6 with icmp_type=135 or 136 and icmp_code=0"},
             refused{"actions=learn(table=1,eth_type=0x86dd,nw_proto=58,icmpv6_type=135,icmpv6_code=1,nd_target=::1)",
                     "nd_target"},
             refused{"actions=learn(table=1,vlan_pcp=3)", "vlan_pcp in a learned flow needs a VLAN header"},
             refused{"actions=learn(table=1,NXM_NX_REG0[0..2]=OXM_OF_VLAN_PCP[])",
                     "OXM_OF_VLAN_PCP needs a VLAN header (vlan_tci's bit 12) in the flow's match"},
             refused{"actions=learn(table=1,dl_vlan_pcp=3)", "no NXM or OXM header"},
             refused{"actions=learn(table=1,dl_vlan=3)", "no NXM or OXM header"},
             // bits of a field that cannot be masked match nothing until they cover all of it
             refused{"actions=learn(table=1,eth_type=0x800,NXM_OF_IP_PROTO[0..3]=6,tcp_dst=53)", "tcp or tcp6"},
             refused{"actions=learn(table=1,NXM_OF_ETH_TYPE[0..7]=0,NXM_OF_ETH_TYPE[8..15]=0x8,nw_proto=6)",
                     "nw_proto in a learned flow"},
         }) {
        const parse_error e = fails(r.text);
        EXPECT_NE(e.message.find(r.what), std::string::npos) << r.text << ": " << e.message;
        EXPECT_NE(e.column, 0u) << r.text;
    }
    // the column is the spec's (or its source's) own
    const std::string text = "udp actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_DST[]=NXM_OF_TCP_SRC[])";
    EXPECT_EQ(fails(text).column, text.find("NXM_OF_TCP_SRC") + 1);
    // a whole-field constant completes the bits before it: 0x800 then bits 0..7 = 0x11 is eth_type 0x811
    const std::string other = "actions=learn(table=1,eth_type=0x800,NXM_OF_ETH_TYPE[0..7]=0x11,nw_proto=6)";
    EXPECT_EQ(fails(other).column, other.find("nw_proto") + 1);
}

TEST(OfctlParseLearn, ErrorsSayWhatAndWhere) {
    // column of the offending spec, 1-based in the whole string
    const std::string head = "actions=learn(table=20,";
    const std::size_t c = head.size() + 1;
    auto e = fails(head + "NXM_OF_ETH_DST[]=NXM_OF_VLAN_TCI[])");
    EXPECT_NE(e.message.find("48 bits wide but NXM_OF_VLAN_TCI[] is 16"), std::string::npos) << e.message;
    EXPECT_EQ(e.column, c + 17);
    e = fails(head + "load:NXM_NX_REG0[0..3]->NXM_NX_REG1[0..4])");
    EXPECT_NE(e.message.find("source is 4 bits wide but destination is 5"), std::string::npos) << e.message;
    EXPECT_EQ(e.column, c + 5);
    e = fails(head + "NXM_OF_FOO[]=NXM_OF_ETH_SRC[])");
    EXPECT_NE(e.message.find("unknown field or keyword \"NXM_OF_FOO\""), std::string::npos) << e.message;
    EXPECT_EQ(e.column, c);
    e = fails(head + "load:NXM_OF_BAR[]->NXM_NX_REG0[])");
    EXPECT_NE(e.message.find("unknown field \"NXM_OF_BAR\""), std::string::npos) << e.message;
    EXPECT_EQ(e.column, c + 5);
    e = fails(head + "NXM_NX_REG0[0..3]=0x1f)");
    EXPECT_NE(e.message.find("does not fit in 4 bits"), std::string::npos) << e.message;
    EXPECT_EQ(e.column, c + 18);
    e = fails(head + "dl_dst=fa:16:zz:00:00:01)");
    EXPECT_NE(e.message.find("expected a MAC address"), std::string::npos) << e.message;
    EXPECT_EQ(e.column, c + 7);
    e = fails(head + "load:0x100->NXM_OF_VLAN_TCI[0..7])");
    EXPECT_NE(e.message.find("does not fit in 8 bits"), std::string::npos) << e.message;
    e = fails(head + "load:5)");
    EXPECT_NE(e.message.find("missing `->'"), std::string::npos) << e.message;
    e = fails(head + "NXM_NX_REG0[0..40])");
    EXPECT_NE(e.message.find("bad subfield range"), std::string::npos) << e.message;
    e = fails("actions=learn(table=255)");
    EXPECT_NE(e.message.find("table 255"), std::string::npos) << e.message;
    e = fails("actions=learn(priority=70000)");
    EXPECT_NE(e.message.find("priority"), std::string::npos) << e.message;
    e = fails("actions=learn(result_dst=NXM_NX_REG0[0..1])");
    EXPECT_NE(e.message.find("single bit"), std::string::npos) << e.message;
    e = fails("actions=learn(result_dst=NXM_OF_ETH_TYPE[0])");
    EXPECT_NE(e.message.find("read-only"), std::string::npos) << e.message;
    e = fails("actions=learn(delete_learned=1)");
    EXPECT_NE(e.message.find("takes no value"), std::string::npos) << e.message;
    // Prerequisites, as learn_check: a source needs them in the flow's match,
    // a learned match field or load destination in the learn's constants before it.
    e = fails("actions=learn(NXM_OF_ARP_SPA[])");
    EXPECT_NE(e.message.find("needs arp or rarp"), std::string::npos) << e.message;
    EXPECT_EQ(e.column, 15u);
    ok("arp actions=learn(eth_type=0x806,NXM_OF_ARP_SPA[])");
    e = fails("arp actions=learn(NXM_OF_ARP_SPA[])");
    EXPECT_NE(e.message.find("matched before it in the learn"), std::string::npos) << e.message;
    e = fails("actions=learn(load:NXM_OF_IP_SRC[]->NXM_NX_REG0[])");
    EXPECT_NE(e.message.find("in the flow's match"), std::string::npos) << e.message;
    e = fails("actions=learn(load:1->NXM_OF_ETH_TYPE[])");
    EXPECT_NE(e.message.find("cannot be written"), std::string::npos) << e.message;
    // an error inside a learn never yields a half-parsed flow, and says where in a file
    auto f = parse_flows("table=0 actions=drop\ntable=10 actions=learn(table=20,NXM_OF_ETH_DST[]=NXM_NX_REG0[])\n");
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().line, 2u);
    EXPECT_EQ(to_string(f.error()).substr(0, 20), "line 2, column 50: l");
}

TEST(OfctlParseLearn, NormalAndBinding) {
    for (const char* s : {"actions=NORMAL", "actions=normal", "actions=output:NORMAL", "actions=output:normal"}) {
        const flow_mod fm = ok(s);
        ASSERT_EQ(fm.actions.list.size(), 1u) << s;
        EXPECT_TRUE(std::holds_alternative<actions::normal>(fm.actions.list[0])) << s;
        EXPECT_EQ(format_flow(fm), "actions=NORMAL");
    }
    auto fs = parse_flows("priority=1,in_port=1 actions=NORMAL\npriority=0 actions=drop\n");
    ASSERT_TRUE(fs);
    l2_switch sw;
    EXPECT_EQ(bind_normal(*fs, &sw), 1u);
    EXPECT_EQ(std::get<actions::normal>((*fs)[0].actions.list[0]).sw, &sw);
    EXPECT_TRUE(fails("actions=NORMAL(3)").message.find("takes no argument") != std::string::npos);
}

} // namespace learn_tests

} // namespace

// A typed table refuses a text flow it cannot hold, naming the field and its column.
TEST(OfctlInstall, TypedTableRefusalsSayWhatAndWhere) {
    namespace f = flowpipe::fields;
    using typed = flowpipe::pipeline<
        flowpipe::table<20, flowpipe::schema<flowpipe::exact<f::vlan_tci::bits<0, 11>>, flowpipe::exact<f::eth_dst>>,
                        flowpipe::allowed<flowpipe::generic_actions>>>;
    typed p;
    auto ok = flowpipe::ofctl::install(p,
                                       "table=20,priority=1,vlan_tci=0x0002/0x0fff,dl_dst=fa:16:3e:7e:ab:cc "
                                       "actions=load:0->NXM_OF_VLAN_TCI[],output:2",
                                       0);
    ASSERT_TRUE(ok);
    EXPECT_TRUE(*ok);
    EXPECT_EQ(p.table<20>().size(), 1u);

    const std::string not_in_table = "table=20,priority=1,vlan_tci=0x0002/0x0fff,dl_dst=fa:16:3e:7e:ab:cc,"
                                     "ip,nw_src=10.0.0.1 actions=output:2";
    auto e = flowpipe::ofctl::install(p, not_in_table, 0);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().column, not_in_table.find("ip,") + 1); // the shorthand that sets dl_type
    EXPECT_NE(e.error().message.find("dl_type"), std::string::npos) << e.error().message;

    const std::string masked =
        "table=20,vlan_tci=0x0002/0x0fff,dl_dst=fa:16:3e:00:00:00/ff:ff:ff:00:00:00 actions=drop";
    e = flowpipe::ofctl::install(p, masked, 0);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().column, masked.find("dl_dst") + 1);
    EXPECT_NE(e.error().message.find("dl_dst: an exact-match field of this table is matched with a mask"),
              std::string::npos)
        << e.error().message;

    const std::string other_table = "table=7,priority=1 actions=drop";
    e = flowpipe::ofctl::install(p, other_table, 0);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().message, "no such table");
    EXPECT_EQ(p.table<20>().size(), 1u); // nothing half-installed
}

// Cookies as ovs-ofctl 3.1 reads them (str_to_u64: C's strtoull, base 0);
// every value here was run through `ovs-ofctl parse-flow` first.
TEST(OfctlParse, CookiesAsOpenVswitchReadsThem) {
    const std::pair<const char*, std::uint64_t> taken[] = {
        {"010", 8},
        {"00", 0},
        {"+5", 5},
        {"-2", 0xfffffffffffffffeULL},
        {"0X1f", 0x1f},
        {"0x00000000000000000001", 1},
        {"18446744073709551615", ~std::uint64_t{0}},
        {"-18446744073709551615", 1},
    };
    for (const auto& [text, value] : taken) {
        const auto f = parse_flow_mod(flow_command::add, std::string("cookie=") + text + ",actions=drop");
        ASSERT_TRUE(f) << text;
        EXPECT_EQ(f->cookie, value) << text;
    }
    for (const char* text : {"08", "0x", "18446744073709551616", "-18446744073709551616", "1-", "0x1g"})
        EXPECT_FALSE(parse_flow_mod(flow_command::add, std::string("cookie=") + text + ",actions=drop")) << text;
    // So do a learn's cookie and a filter's mask (`-1` is every bit).
    const auto l = parse_flow_mod(flow_command::add, "actions=learn(table=1,cookie=010,NXM_OF_ETH_DST[])");
    ASSERT_TRUE(l);
    EXPECT_EQ(std::get<actions::generic_learn>(l->actions.list.at(0)).d->cookie, 8u);
    const auto d = parse_flow_mod(flow_command::remove, "table=20,cookie=0x5/-1");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->cookie, 5u);
    EXPECT_EQ(d->cookie_mask, ~std::uint64_t{0});
}
