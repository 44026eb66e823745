// detail::reserved_array, the learned-flow store's record array: elements
// keep their addresses and values as more are constructed, memory is the
// mapping's (nothing but address space until written), and under
// AddressSanitizer a read past the constructed part is reported.
#include <flowpipe/table/detail/reserved_array.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>

#include <unistd.h>

namespace {

struct rec {
    std::uint64_t key = 0;
    std::uint32_t link = 0xffffffffu;
    std::uint8_t flags = 7;
};

TEST(reserved_array, constructed_elements_keep_their_address_and_values) {
    flowpipe::detail::reserved_array<rec> a(100000);
    EXPECT_GE(a.size(), 100000u);
    rec* const base = a.get();
    a.construct(0, 1024);
    for (std::size_t i = 0; i < 1024; ++i) {
        ASSERT_EQ(a.get()[i].link, 0xffffffffu); // default member initializers ran
        ASSERT_EQ(a.get()[i].flags, 7);
        a.get()[i].key = i * 3;
    }
    a.construct(1024, 1024);
    a.construct(99000, 1000); // anywhere in the reservation
    EXPECT_EQ(a.get(), base);
    for (std::size_t i = 0; i < 1024; ++i) ASSERT_EQ(a.get()[i].key, i * 3);
    EXPECT_EQ(a.get()[2047].link, 0xffffffffu);
    EXPECT_EQ(a.get()[99999].flags, 7);
}

#if !FLOWPIPE_ASAN
// Resident memory of this process, from /proc/self/statm (pages).
std::size_t resident_bytes() {
    std::ifstream in("/proc/self/statm");
    std::size_t size = 0, resident = 0;
    in >> size >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// (Not under AddressSanitizer, which writes shadow memory for the whole
// reservation.)
TEST(reserved_array, a_reservation_takes_memory_only_where_written) {
    const std::size_t before = resident_bytes();
    flowpipe::detail::reserved_array<rec> a(std::size_t{1} << 26); // 1 GiB of records
    a.construct(0, 4096);
    a.construct((std::size_t{1} << 26) - 4096, 4096);
    a.get()[100].key = 1;
    EXPECT_EQ(a.get()[100].key, 1u);
    EXPECT_LT(resident_bytes() - before, std::size_t{16} << 20); // two 64 KiB runs, not 1 GiB
}
#endif

#if FLOWPIPE_ASAN
// (Only in AddressSanitizer builds, which scripts/test.sh runs this test in.)
TEST(reserved_array, reading_past_the_constructed_part_is_reported_under_asan) {
    flowpipe::detail::reserved_array<rec> a(4096);
    a.construct(0, 1024);
    volatile std::uint64_t sink = a.get()[1023].key;
    (void)sink;
    EXPECT_DEATH(sink = a.get()[1024].key, "use-after-poison");
}
#endif

} // namespace
