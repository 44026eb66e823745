#include <flowpipe/io/pcap.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>

namespace fp = flowpipe;

namespace {
std::vector<std::uint8_t> frame(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> f(n);
    for (std::size_t i = 0; i < n; ++i) f[i] = static_cast<std::uint8_t>(seed + i);
    return f;
}
std::string temp_path(const char* name) {
    return (std::filesystem::temp_directory_path() /
            (std::string("flowpipe_") + name + "_" + std::to_string(::getpid()) + ".pcap"))
        .string();
}
} // namespace

TEST(pcap, write_then_read_back) {
    const auto path = temp_path("rw");
    {
        fp::io::pcap_writer w(path);
        ASSERT_TRUE(w.ok());
        w.write(frame(60, 1), 1'500'000'000);
        w.write(frame(1514, 2), 2'000'001'000);
        w.write(frame(64, 3));
        EXPECT_EQ(w.records(), 3u);
    }
    auto bytes = fp::io::read_file(path);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(bytes->size(), 24u + 3 * 16 + 60 + 1514 + 64);
    fp::io::pcap_reader r(*bytes);
    ASSERT_TRUE(r.ok());
    auto a = r.next();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->time_ns, 1'500'000'000);
    EXPECT_EQ(std::vector<std::uint8_t>(a->data.begin(), a->data.end()), frame(60, 1));
    auto b = r.next();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->data.size(), 1514u);
    EXPECT_EQ(b->time_ns, 2'000'001'000);
    ASSERT_TRUE(r.next());
    EXPECT_FALSE(r.next());
    EXPECT_TRUE(r.ok());
    std::filesystem::remove(path);
}

TEST(pcap, reads_swapped_and_nanosecond_files) {
    // A big-endian nanosecond file with one 4-byte record, written by hand.
    const std::uint8_t file[] = {0xa1, 0xb2, 0x3c, 0x4d, 0,    2, 0, 4, 0, 0,  0,    0,    0,    0,   0,
                                 0,    0,    0,    0xff, 0xff, 0, 0, 0, 1, 0,  0,    0,    7,    0,   0,
                                 0,    9,    0,    0,    0,    4, 0, 0, 0, 60, 0xde, 0xad, 0xbe, 0xef};
    fp::io::pcap_reader r(file);
    ASSERT_TRUE(r.ok());
    auto rec = r.next();
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->time_ns, 7'000'000'009);
    EXPECT_EQ(rec->orig_len, 60u);
    EXPECT_EQ(rec->data.size(), 4u);
    EXPECT_EQ(rec->data[0], 0xde);
}

TEST(pcap, bad_files_are_errors_never_overreads) {
    const auto path = temp_path("bad");
    {
        fp::io::pcap_writer w(path);
        w.write(frame(60, 1));
        w.write(frame(100, 2));
    }
    const auto good = *fp::io::read_file(path);
    std::filesystem::remove(path);
    // Every truncation: exactly-sized heap copies, so AddressSanitizer sees any overread.
    for (std::size_t n = 0; n < good.size(); ++n) {
        auto buf = std::make_unique<std::uint8_t[]>(n == 0 ? 1 : n);
        std::memcpy(buf.get(), good.data(), n);
        fp::io::pcap_reader r(std::span<const std::uint8_t>(buf.get(), n));
        std::size_t records = 0;
        while (r.next()) ++records;
        if (n < 24) {
            EXPECT_EQ(r.error(), fp::io::pcap_error::truncated_file_header);
        } else if (n == 24 || n == 24 + 16 + 60) {
            EXPECT_TRUE(r.ok()) << n; // ends on a record boundary
        } else {
            EXPECT_FALSE(r.ok()) << n;
        }
        EXPECT_LE(records, 2u);
    }
    auto bad = good;
    bad[0] = 0;
    EXPECT_EQ(fp::io::pcap_reader(bad).error(), fp::io::pcap_error::bad_magic);
    bad = good;
    bad[20] = 105; // 802.11
    EXPECT_EQ(fp::io::pcap_reader(bad).error(), fp::io::pcap_error::not_ethernet);
    bad = good;
    bad[24 + 8] = 0xff; // caplen of the first record: huge
    bad[24 + 9] = 0xff;
    bad[24 + 10] = 0xff;
    fp::io::pcap_reader r(bad);
    EXPECT_FALSE(r.next());
    EXPECT_EQ(r.error(), fp::io::pcap_error::record_over_snaplen);
}

TEST(pcap, random_bytes_never_crash) {
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        const std::size_t n = rng() % 200;
        auto buf = std::make_unique<std::uint8_t[]>(n + 1);
        for (std::size_t j = 0; j < n; ++j) buf[j] = static_cast<std::uint8_t>(rng());
        if (n >= 4 && rng() % 2) std::memcpy(buf.get(), &fp::io::pcap_magic_us, 4);
        if (n >= 24 && rng() % 2) buf[20] = 1, buf[21] = buf[22] = buf[23] = 0;
        fp::io::pcap_reader r(std::span<const std::uint8_t>(buf.get(), n));
        std::size_t total = 0;
        while (auto rec = r.next()) total += rec->data.size();
        EXPECT_LE(total, n);
    }
}
