// A packet does not see what its own learns changed; the next packet does
// (Open vSwitch's table versions, table/walk_version.hpp). Each case runs
// the packet that learns and the packet after it, in one burst and in two:
// a flow the packet learned itself is missed, a flow whose actions its learn
// replaced runs its old actions (and keeps its counters), a flow its learn
// evicted is still found, the limit of its next learn counts what it
// learned, and ofproto/trace -generate shows the same. Typed pipelines do
// it with learns staged for their burst install and with learns installed
// at once. (The oracle compares the same with Open vSwitch on random
// tables: tests/ovs, gen-random-learn with self-visible learns.)
#include <flowpipe/action/actions.hpp>
#include <flowpipe/action/learn.hpp>
#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/ofctl/trace.hpp>
#include <flowpipe/pipeline/generic_pipeline.hpp>
#include <flowpipe/pipeline/pipeline.hpp>

#include <gtest/gtest.h>

#include "../support/frames.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace fp = flowpipe;
namespace f = fp::fields;
namespace la = fp::learn_args;
using namespace fp::actions;
using fp::test::eth;

namespace {

constexpr std::uint64_t mac_x = 0xfa163e000001ULL, mac_d = 0xfa163e000002ULL;

void load_flows(fp::generic_pipeline& p, std::string_view flows) {
    auto fs = fp::ofctl::parse_flows(flows);
    ASSERT_TRUE(fs) << fp::ofctl::to_string(fs.error());
    for (const auto& fm : *fs) ASSERT_TRUE(fp::ofctl::apply(p, fm, 0));
}

// The ports each packet went out of, one burst per inner vector.
std::vector<std::vector<std::uint32_t>>
run(fp::generic_pipeline& p, const std::vector<std::vector<fp::flow_key>>& bursts, std::int64_t now = 0) {
    std::vector<std::vector<std::uint32_t>> ports;
    for (const auto& keys : bursts) {
        fp::test::frames fr;
        for (const auto& k : keys) fr.add(k);
        fp::burst_output out;
        p.run(fr.pkts, now, out);
        std::vector<std::uint32_t> b;
        for (const auto& t : out.outputs()) b.push_back(t.port);
        ports.push_back(b);
    }
    return ports;
}

using ports = std::vector<std::vector<std::uint32_t>>;

} // namespace

TEST(own_learn, a_packet_misses_the_flow_it_learned_and_the_next_packet_hits_it) {
    constexpr std::string_view flows = R"(
table=0,actions=learn(table=1,priority=5,NXM_OF_ETH_SRC[],load:0x1->NXM_NX_REG0[]),resubmit(,1)
table=1,priority=0,actions=output:9
)";
    const auto x = eth(1, mac_x, mac_d);
    { // one burst
        fp::generic_pipeline p;
        load_flows(p, flows);
        EXPECT_EQ(run(p, {{x, x}}), (ports{{9}}));
        const auto* learned = p.table(1).find_strict(fp::match{}.set(fp::field_id::eth_src, mac_x), 5);
        ASSERT_NE(learned, nullptr);
        EXPECT_EQ(learned->n_packets, 1u);
        EXPECT_EQ(p.table(1).find_strict(fp::match{}, 0)->n_packets, 1u);
    }
    { // two bursts, then the same key again
        fp::generic_pipeline p;
        load_flows(p, flows);
        EXPECT_EQ(run(p, {{x}, {x}, {x}}), (ports{{9}, {}, {}}));
    }
}

TEST(own_learn, a_packet_runs_the_old_actions_of_a_flow_its_learn_replaced) {
    // The learned flow is table 1's own dl_src flow (same match and
    // priority) with other actions: output:10 instead of output:9.
    constexpr std::string_view flows = R"(
table=0,actions=load:10->NXM_NX_REG1[0..15],learn(table=1,priority=5,NXM_OF_ETH_SRC[],output:NXM_NX_REG1[0..15]),resubmit(,1)
table=1,priority=5,dl_src=fa:16:3e:00:00:01,actions=output:9
table=1,priority=0,actions=drop
)";
    fp::generic_pipeline p;
    load_flows(p, flows);
    const auto x = eth(1, mac_x, mac_d);
    EXPECT_EQ(run(p, {{x, x}}), (ports{{9, 10}}));
    const auto* fl = p.table(1).find_strict(fp::match{}.set(fp::field_id::eth_src, mac_x), 5);
    ASSERT_NE(fl, nullptr);
    EXPECT_EQ(fl->n_packets, 2u); // the replaced flow keeps its counters and is credited both packets
}

TEST(own_learn, a_packet_still_finds_a_flow_its_learn_evicted) {
    // Table 1 holds two flows, evicting: the learn's new dl_dst flow evicts
    // the dl_src flow (the one that expires first). The learning packet
    // still goes out of port 9 through it; the next one finds the learned
    // flow (no output) and the dl_src flow is gone.
    constexpr std::string_view flows = R"(
table=0,actions=learn(table=1,priority=7,hard_timeout=200,NXM_OF_ETH_DST[],load:0x1->NXM_NX_REG0[]),resubmit(,1)
table=1,priority=5,hard_timeout=100,dl_src=fa:16:3e:00:00:01,actions=output:9
table=1,priority=0,actions=output:8
)";
    fp::table_config cfg;
    cfg.max_flows = 2;
    cfg.on_full = fp::overflow_policy::evict;
    fp::generic_pipeline p(cfg);
    load_flows(p, flows);
    const auto x = eth(1, mac_x, mac_d);
    EXPECT_EQ(run(p, {{x, x}}), (ports{{9}}));
    EXPECT_EQ(p.table(1).find_strict(fp::match{}.set(fp::field_id::eth_src, mac_x), 5), nullptr);
    EXPECT_EQ(p.table(1).stats().evicted, 1u);
}

TEST(own_learn, the_next_learn_of_the_same_packet_counts_the_first_for_its_limit) {
    // Open vSwitch counts a limit over every version (OVS_VERSION_MAX): the
    // second learn sees the first one's flow and is refused, result 0.
    constexpr std::string_view flows = R"(
table=0,actions=learn(table=1,cookie=0x5,limit=1,NXM_OF_ETH_SRC[]),learn(table=1,cookie=0x5,limit=1,result_dst=NXM_NX_REG0[0],NXM_OF_ETH_DST[]),resubmit(,2)
table=2,reg0=0,actions=output:7
table=2,reg0=1,actions=output:8
)";
    fp::generic_pipeline p;
    load_flows(p, flows);
    EXPECT_EQ(run(p, {{eth(1, mac_x, mac_d)}}), (ports{{7}}));
    EXPECT_EQ(p.table(1).size(), 1u);
}

TEST(own_learn, trace_generate_shows_the_packet_missing_its_own_learn) {
    fp::generic_pipeline p;
    load_flows(p, R"(
table=0,actions=learn(table=1,priority=5,NXM_OF_ETH_SRC[],load:0x1->NXM_NX_REG0[]),resubmit(,1)
table=1,priority=0,actions=output:9
)");
    auto k = fp::ofctl::parse_packet("in_port=1,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,dl_type=0x0800");
    ASSERT_TRUE(k);
    fp::ofctl::trace_options o;
    o.generate = true;
    const auto first = fp::ofctl::trace(p, *k, o);
    EXPECT_EQ(first.output_ports(), "9") << first.text;
    EXPECT_NE(first.text.find(" 1. priority 0\n"), std::string::npos) << first.text;
    const auto second = fp::ofctl::trace(p, *k, o);
    EXPECT_EQ(second.output_ports(), "drop") << second.text;
    EXPECT_NE(second.text.find(" 1. dl_src=fa:16:3e:00:00:01, priority 5\n"), std::string::npos) << second.text;
}

// ---- typed: staged and immediate learns ------------------------------------

namespace {

// Table 0 learns dl_src=<eth_src> -> reg0=1 into table 1 and looks table 1
// up; table 1's catch-all sends to port 9. Table 1 is big enough (filler
// flows) for the engine to stage the learn.
using learn_src = learn<la::table<1>, la::priority<5>, la::match_field<f::eth_src>, la::load_const<1, f::reg0>>;
using learned = learn_src::flow_actions;
using typed = fp::pipeline<
    fp::table<0, fp::schema<fp::exact<f::in_port>>, fp::allowed<fp::action_list<learn_src, resubmit_to<1>>>>,
    fp::table<1, fp::schema<fp::exact<f::eth_src>>, fp::allowed<learned, fp::action_list<output>>>>;
constexpr std::size_t filler = 8192 + 64;

std::unique_ptr<typed> make_typed() {
    fp::pipeline_config c;
    c.tables.emplace_back(std::uint8_t{1}, fp::table_config{2 * filler});
    auto p = std::make_unique<typed>(c);
    EXPECT_TRUE(p->table<0>().add(fp::match{}, 0, fp::action_list<learn_src, resubmit_to<1>>{}, {}, 0));
    for (std::size_t i = 0; i < filler; ++i)
        EXPECT_TRUE(
            p->table<1>().add(fp::match{}.set(fp::field_id::eth_src, 0x020000000000ULL | i), 5, learned{{}}, {}, 0));
    EXPECT_TRUE(p->table<1>().add(fp::match{}, 0, fp::action_list<output>{{9}}, {}, 0));
    return p;
}

template <class Hooks>
std::vector<std::uint32_t> run_typed(typed& p, const std::vector<fp::flow_key>& keys, Hooks hooks) {
    fp::test::frames fr;
    for (const auto& k : keys) fr.add(k);
    fp::burst_output out;
    p.run(fr.pkts, 0, out, hooks);
    std::vector<std::uint32_t> b;
    for (const auto& t : out.outputs()) b.push_back(t.port);
    return b;
}

} // namespace

TEST(own_learn, typed_staged_and_immediate_learns_alike) {
    const auto x = eth(1, mac_x, mac_d), y = eth(1, mac_d, mac_x);
    for (const bool staged : {true, false}) {
        auto p = make_typed();
        auto go = [&](const std::vector<fp::flow_key>& keys) {
            return staged ? run_typed(*p, keys, fp::no_hooks{}) : run_typed(*p, keys, fp::immediate_learns{});
        };
        // x learns, misses its flow; y learns; x again hits its flow; y hits its.
        EXPECT_EQ(go({x, y, x, y}), (std::vector<std::uint32_t>{9, 9})) << (staged ? "staged" : "immediate");
        EXPECT_EQ(go({x, y}), (std::vector<std::uint32_t>{})) << (staged ? "staged" : "immediate");
        const auto& learn = std::get<0>(
            std::get<fp::action_list<learn_src, resubmit_to<1>>>(p->table<0>().find_strict(fp::match{}, 0)->actions)
                .actions);
        EXPECT_EQ(learn.stats().added, 2u);
        EXPECT_EQ(learn.stats().staged != 0, staged);
        const auto* fx = p->table<1>().find_strict(fp::match{}.set(fp::field_id::eth_src, mac_x), 5);
        ASSERT_NE(fx, nullptr);
        EXPECT_EQ(fx->n_packets, 2u);
    }
}

// ---- the flow whose actions are running -------------------------------------

// A learn further down the walk rewrites, or evicts, the flow whose action
// list is running: the rest of that list runs as it was (the flow's slot is
// kept until the walk ends), and the next packet runs the new flow.
TEST(own_learn, rewriting_or_evicting_the_running_flow_leaves_its_list_running) {
    constexpr std::string_view rewrite = R"(
table=0,in_port=1,actions=resubmit(,1),output:2,output:3
table=1,actions=learn(table=0,NXM_OF_IN_PORT[],load:0x5->NXM_NX_REG0[],load:0x6->NXM_NX_REG1[],load:0x7->NXM_NX_REG2[])
)";
    const auto x = eth(1, mac_x, mac_d);
    {
        fp::generic_pipeline p;
        load_flows(p, rewrite);
        EXPECT_EQ(run(p, {{x, x}}), (ports{{2, 3}}));
        const auto* fl = p.table(0).find_strict(fp::match{}.set(fp::field_id::in_port, 1), 0x8000);
        ASSERT_NE(fl, nullptr);
        EXPECT_EQ(fl->n_packets, 2u); // moved to a new slot by the rewrite, counters and all
        EXPECT_EQ(p.table(0).size(), 1u);
    }
    fp::table_config cfg;
    cfg.max_flows = 1;
    cfg.on_full = fp::overflow_policy::evict;
    fp::generic_pipeline p(cfg);
    load_flows(p, R"(
table=0,in_port=1,hard_timeout=100,actions=resubmit(,1),output:2,output:3
table=1,actions=learn(table=0,hard_timeout=200,in_port=7,load:0x5->NXM_NX_REG0[],load:0x6->NXM_NX_REG1[],load:0x7->NXM_NX_REG2[])
)");
    EXPECT_EQ(run(p, {{x, x}}), (ports{{2, 3}})); // the second packet: table 0 has only the in_port=7 flow
    EXPECT_EQ(p.table(0).size(), 1u);
    EXPECT_EQ(p.table(0).stats().evicted, 1u);
}

namespace {
template <bool Evict>
using self_learn =
    learn<la::table<0>, la::priority<Evict ? 9 : 5>, la::hard_timeout<200>, la::match_const<f::in_port, Evict ? 7 : 1>,
          la::load_const<5, f::reg0>, la::output_field<f::reg1>>;
template <bool Evict>
using self_pipeline = fp::pipeline<
    fp::table<0, fp::schema<fp::exact<f::in_port>>,
              fp::allowed<fp::action_list<resubmit_to<1>, output>, typename self_learn<Evict>::flow_actions>>,
    fp::table<1, fp::schema<fp::exact<f::in_port>>, fp::allowed<fp::action_list<load_to<f::reg1>, self_learn<Evict>>>>>;

template <bool Evict>
std::vector<std::uint32_t> run_self_learn(std::size_t packets) {
    fp::pipeline_config c;
    c.tables.emplace_back(std::uint8_t{0}, fp::table_config{1, fp::overflow_policy::evict});
    self_pipeline<Evict> p(c);
    EXPECT_TRUE(p.template table<0>().add(fp::match{}.set(fp::field_id::in_port, 1), 5,
                                          fp::action_list<resubmit_to<1>, output>{{}, {2}}, {0, 0, 100}, 0));
    EXPECT_TRUE(p.template table<1>().add(fp::match{}, 0, fp::action_list<load_to<f::reg1>, self_learn<Evict>>{{4}, {}},
                                          {}, 0));
    fp::test::frames fr;
    for (std::size_t i = 0; i < packets; ++i) fr.add(eth(1, mac_x, mac_d));
    fp::burst_output out;
    p.run(fr.pkts, 0, out, fp::immediate_learns{});
    std::vector<std::uint32_t> b;
    for (const auto& t : out.outputs()) b.push_back(t.port);
    return b;
}
} // namespace

TEST(own_learn, typed_rewriting_or_evicting_the_running_flow_leaves_its_list_running) {
    // Rewritten: the packet goes on to output:2; the next one runs the
    // learned list (reg0=5, output to reg1's port 4).
    EXPECT_EQ(run_self_learn<false>(2), (std::vector<std::uint32_t>{2, 4}));
    // Evicted by the learned in_port=7 flow: output:2 still; the next packet
    // finds nothing in table 0.
    EXPECT_EQ(run_self_learn<true>(2), (std::vector<std::uint32_t>{2}));
}

namespace {
// A hook that runs another pipeline from inside a walk (a packet-out into
// another bridge, say).
struct run_other : fp::no_hooks {
    fp::generic_pipeline* other;
    void controller(const fp::packet&, const fp::flow_key& k, std::uint16_t) noexcept {
        fp::test::frames fr;
        fr.add(k);
        fp::burst_output out;
        other->run(fr.pkts, 0, out);
    }
};
} // namespace

TEST(own_learn, a_walk_inside_a_hook_leaves_the_outer_walk_its_version) {
    fp::generic_pipeline a, b;
    load_flows(a, R"(
table=0,actions=learn(table=1,priority=5,NXM_OF_ETH_SRC[],load:0x1->NXM_NX_REG0[]),controller,resubmit(,1)
table=1,priority=0,actions=output:9
)");
    load_flows(b, "table=0,actions=learn(table=1,NXM_OF_ETH_SRC[]),output:3");
    fp::test::frames fr;
    fr.add(eth(1, mac_x, mac_d));
    fp::burst_output out;
    a.run(fr.pkts, 0, out, run_other{{}, &b});
    ASSERT_EQ(out.outputs().size(), 1u);
    EXPECT_EQ(out.outputs()[0].port, 9u); // the outer packet still misses its own learn
    EXPECT_EQ(b.table(1).size(), 1u);     // and the inner walk learned in its own bridge
}

namespace {
// A controller hook that runs flow mods on the pipeline it is called from,
// once (an embedder's controller answering a packet-in at once).
struct flow_mods_hook : fp::no_hooks {
    fp::generic_pipeline* p;
    const char* flows;
    fp::ofctl::flow_command command = fp::ofctl::flow_command::add;
    int* calls;
    void controller(const fp::packet&, const fp::flow_key&, std::uint16_t) noexcept {
        if ((*calls)++ != 0) return;
        const auto fm = fp::ofctl::parse_flow_mod(command, flows);
        if (fm) (void)fp::ofctl::apply(*p, *fm, 0);
    }
};
} // namespace

// In Open vSwitch a controller's flow mods answer a packet-in, after the
// packet's translation: the packet never sees them. A hook's flow mods are
// its walk's too: the running action list goes on as it was (not
// overwritten or freed under the walk: ASan saw a use-after-free here
// before), a flow the hook added is missed, one it deleted still found; the
// next packet, in the same burst, sees them.
TEST(own_learn, a_controller_hooks_flow_mods_are_not_seen_by_its_packet) {
    const char* flows = R"(
table=0,priority=1,actions=controller,resubmit(,1),output:2
table=1,priority=0,actions=output:9
)";
    struct hook_case {
        fp::ofctl::flow_command command;
        const char* mods;
        std::vector<std::uint32_t> outputs; // of the packet that calls the hook, then of the next one
    };
    using cmd = fp::ofctl::flow_command;
    for (const hook_case& c :
         {hook_case{cmd::modify, "table=0,actions=output:3", {9, 2, 3}},
          hook_case{cmd::modify_strict, "table=0,priority=1,actions=resubmit(,1),output:4", {9, 2, 9, 4}},
          hook_case{cmd::add, "table=1,priority=5,actions=output:8", {9, 2, 8, 2}},
          hook_case{cmd::remove, "table=0", {9, 2}}, hook_case{cmd::remove, "table=1", {9, 2, 2}},
          hook_case{cmd::add, "table=0,priority=1,actions=output:5", {9, 2, 5}}}) {
        for (const bool one_burst : {true, false}) {
            fp::generic_pipeline p;
            load_flows(p, flows);
            int calls = 0;
            flow_mods_hook hook{{}, &p, c.mods, c.command, &calls};
            std::vector<std::uint32_t> got;
            fp::test::frames fr;
            fr.add(eth(1, mac_x, mac_d));
            if (one_burst) fr.add(eth(1, mac_x, mac_d));
            fp::burst_output out;
            p.run(fr.pkts, 0, out, hook);
            for (const auto& t : out.outputs()) got.push_back(t.port);
            if (!one_burst) {
                fp::test::frames fr2;
                fr2.add(eth(1, mac_x, mac_d));
                fp::burst_output out2;
                p.run(fr2.pkts, 0, out2, hook);
                for (const auto& t : out2.outputs()) got.push_back(t.port);
            }
            EXPECT_EQ(got, c.outputs) << c.mods << (one_burst ? " (one burst)" : " (two bursts)");
        }
    }
}
