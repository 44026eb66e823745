// libFuzzer target for the ovs-ofctl text parser: any input either parses or
// returns an error (never a crash or an out-of-bounds read), and whatever
// parses prints to text that parses back to the same flow.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <flowpipe/ofctl/parse.hpp>
#include <flowpipe/ofctl/print.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view s(reinterpret_cast<const char*>(data), size);
    namespace of = flowpipe::ofctl;
    if (auto f = of::parse_flow(s)) {
        const auto text = of::format_flow(*f);
        auto back = of::parse_flow(text);
        if (!back || !(*back == *f)) std::abort();
    }
    (void)of::parse_flow_mod(of::flow_command::remove, s);
    if (auto k = of::parse_packet(s)) {
        auto back = of::parse_packet(of::format_packet(*k));
        if (!back) std::abort();
    }
    (void)of::parse_packet(s, {.lenient = true});
    return 0;
}
