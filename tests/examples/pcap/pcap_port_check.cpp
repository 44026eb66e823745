// examples/pcap/pcap_port.hpp in file mode against the laws of io/port.hpp:
// what receive hands out (in_port, cleared tunnel fields, headroom), that
// transmit takes every frame and frees only its own buffers, that release
// ignores buffers that are not its own, and how bad input is counted. The
// files are written and read back with io/pcap.hpp, libpcap's format without
// libpcap, so the two implementations check each other.
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <flowpipe/io/memory_port.hpp>
#include <flowpipe/io/pcap.hpp>
#include <flowpipe/pipeline/burst_output.hpp>

#include "pcap_port.hpp"

namespace fp = flowpipe;
using fp::examples::pcap_port;

namespace {

std::vector<std::uint8_t> test_frame(std::uint32_t seq, std::size_t len) {
    std::vector<std::uint8_t> f(len);
    for (std::size_t i = 0; i < len; ++i) f[i] = static_cast<std::uint8_t>(seq * 13 + i);
    f[12] = 0x88;
    f[13] = 0xb5;
    return f;
}

// A scratch directory of this process, removed at the end.
struct scratch {
    std::filesystem::path dir = std::filesystem::temp_directory_path() / ("fp-pcap-port-" + std::to_string(getpid()));
    scratch() { std::filesystem::create_directories(dir); }
    ~scratch() { std::filesystem::remove_all(dir); }
    [[nodiscard]] std::string file(const char* name) const { return (dir / name).string(); }
};

pcap_port open_files(const std::string& rx, const std::string& tx, fp::examples::pcap_options o = {}) {
    auto r = pcap_port::open_files(rx, tx, 4, o);
    if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
    return std::move(std::get<pcap_port>(r));
}

std::vector<std::vector<std::uint8_t>> read_back(const std::string& path) {
    std::vector<std::vector<std::uint8_t>> out;
    const auto bytes = fp::io::read_file(path);
    if (!bytes) return out;
    fp::io::pcap_reader r(*bytes);
    while (auto rec = r.next()) out.emplace_back(rec->data.begin(), rec->data.end());
    EXPECT_TRUE(r.ok()) << to_string(r.error());
    return out;
}

TEST(pcap_port, receives_every_record_with_in_port_and_headroom) {
    scratch s;
    std::vector<std::vector<std::uint8_t>> frames;
    {
        fp::io::pcap_writer w(s.file("in.pcap"));
        for (std::uint32_t i = 0; i < 50; ++i) {
            frames.push_back(test_frame(i, 60 + i * 29));
            w.write(frames.back());
        }
    }
    pcap_port port = open_files(s.file("in.pcap"), "");
    std::array<fp::packet, 16> burst;
    std::size_t got = 0;
    while (!port.exhausted()) {
        for (auto& p : burst) p.tun_id = p.tun_src = p.tun_dst = 0xdead;
        const std::size_t n = port.receive(burst);
        for (std::size_t i = 0; i < n; ++i, ++got) {
            const fp::packet& p = burst[i];
            ASSERT_LT(got, frames.size());
            ASSERT_EQ(p.len, frames[got].size());
            EXPECT_EQ(0, std::memcmp(p.data, frames[got].data(), p.len));
            EXPECT_EQ(p.in_port, 4u);
            EXPECT_EQ(p.tun_id, 0u);
            EXPECT_EQ(p.tun_src, 0u);
            EXPECT_EQ(p.tun_dst, 0u);
            EXPECT_GE(p.headroom, port.headroom());
            EXPECT_GE(port.headroom(), 128u);
        }
        port.release(std::span<const fp::packet>(burst.data(), n));
    }
    EXPECT_EQ(got, frames.size());
    EXPECT_EQ(port.counters().rx, frames.size());
    EXPECT_EQ(port.pool().available(), port.pool().configuration().count) << "every buffer is back";
    EXPECT_EQ(port.receive(burst), 0u);
}

// Receive stops when the pool is empty and goes on once buffers come back:
// no frame is lost to a full pool.
TEST(pcap_port, a_full_pool_delays_frames_without_losing_them) {
    scratch s;
    {
        fp::io::pcap_writer w(s.file("in.pcap"));
        for (std::uint32_t i = 0; i < 10; ++i) w.write(test_frame(i, 100));
    }
    fp::examples::pcap_options o;
    o.pool.count = 4;
    pcap_port port = open_files(s.file("in.pcap"), "", o);
    std::array<fp::packet, 16> burst;
    EXPECT_EQ(port.receive(burst), 4u);
    std::array<fp::packet, 16> more;
    EXPECT_EQ(port.receive(more), 0u);
    EXPECT_FALSE(port.exhausted());
    port.release(std::span<const fp::packet>(burst.data(), 4));
    EXPECT_EQ(port.receive(burst), 4u);
    port.release(std::span<const fp::packet>(burst.data(), 4));
    EXPECT_EQ(port.receive(burst), 2u);
    EXPECT_EQ(port.counters().rx, 10u);
}

// transmit takes every frame, whatever its buffer (law 3), writes it, and
// frees the buffer only when it is the port's own; release ignores others.
TEST(pcap_port, transmits_own_and_foreign_frames_and_frees_only_its_own) {
    scratch s;
    {
        fp::io::pcap_writer w(s.file("in.pcap"));
        w.write(test_frame(1, 80));
        w.write(test_frame(2, 90));
    }
    std::vector<std::vector<std::uint8_t>> expect;
    {
        pcap_port port = open_files(s.file("in.pcap"), s.file("out.pcap"));
        std::array<fp::packet, 4> own;
        ASSERT_EQ(port.receive(own), 2u);
        ASSERT_TRUE(own[0].push_front(4)); // use the headroom, as a VLAN push would
        std::memset(own[0].data, 0xab, 4);
        expect.emplace_back(own[0].data, own[0].data + own[0].len);
        expect.emplace_back(own[1].data, own[1].data + own[1].len);

        fp::io::buffer_pool other;
        fp::packet foreign;
        ASSERT_TRUE(other.alloc(foreign));
        const auto f = test_frame(3, 120);
        std::memcpy(foreign.data, f.data(), f.size());
        foreign.len = static_cast<std::uint32_t>(f.size());
        std::vector<std::uint8_t> clone_buf(256);
        fp::packet clone;
        clone.data = clone_buf.data() + 64;
        const auto c = test_frame(4, 70);
        std::memcpy(clone.data, c.data(), c.size());
        clone.len = static_cast<std::uint32_t>(c.size());
        clone.cookie = fp::clone_cookie;
        expect.push_back(f);
        expect.push_back(c);

        const std::size_t other_free = other.available();
        port.release(std::span<const fp::packet>(&foreign, 1));
        port.release(std::span<const fp::packet>(&clone, 1));
        EXPECT_EQ(other.available(), other_free);

        const std::array<fp::packet, 4> tx = {own[0], own[1], foreign, clone};
        EXPECT_EQ(port.transmit(tx), 4u);
        EXPECT_EQ(port.counters().tx, 4u);
        EXPECT_EQ(port.counters().tx_errors, 0u);
        EXPECT_EQ(port.pool().available(), port.pool().configuration().count) << "own buffers freed by transmit";
        EXPECT_EQ(other.available(), other_free) << "the foreign buffer stays its owner's";
    }
    EXPECT_EQ(read_back(s.file("out.pcap")), expect);
}

// Ports sharing one pool: a frame received on one and transmitted on the
// other goes back to the pool there; with a pool each, it stays the
// receiving port's, to be released there (law 3).
TEST(pcap_port, ports_sharing_a_pool_take_each_others_buffers_back) {
    scratch s;
    {
        fp::io::pcap_writer w(s.file("in.pcap"));
        for (std::uint32_t i = 0; i < 8; ++i) w.write(test_frame(i, 64));
    }
    fp::io::buffer_pool pool(fp::io::buffer_pool::config{.count = 8, .buffer_size = 2048, .headroom = 128});
    fp::examples::pcap_options o;
    o.shared_pool = &pool;
    pcap_port a = open_files(s.file("in.pcap"), "", o);
    pcap_port b = open_files("", s.file("out.pcap"), o);
    std::array<fp::packet, 8> burst;
    ASSERT_EQ(a.receive(burst), 8u);
    EXPECT_EQ(pool.available(), 0u);
    EXPECT_TRUE(b.owns(burst[0])) << "b's transmit takes a buffer of the shared pool";
    EXPECT_EQ(b.transmit(burst), 8u);
    EXPECT_EQ(pool.available(), 8u);

    pcap_port c = open_files(s.file("in.pcap"), "");
    pcap_port d = open_files("", s.file("out2.pcap"));
    ASSERT_EQ(c.receive(burst), 8u);
    EXPECT_TRUE(c.owns(burst[0]));
    EXPECT_FALSE(d.owns(burst[0])) << "d only copies c's buffers";
    EXPECT_EQ(d.transmit(burst), 8u);
    EXPECT_EQ(c.pool().available(), c.pool().configuration().count - 8) << "d does not free c's buffers";
    c.release(burst);
    EXPECT_EQ(c.pool().available(), c.pool().configuration().count);
}

TEST(pcap_port, a_port_without_output_counts_what_it_cannot_send) {
    scratch s;
    {
        fp::io::pcap_writer w(s.file("in.pcap"));
        w.write(test_frame(1, 80));
    }
    pcap_port port = open_files(s.file("in.pcap"), "");
    std::array<fp::packet, 1> b;
    ASSERT_EQ(port.receive(b), 1u);
    EXPECT_EQ(port.transmit(b), 1u);
    EXPECT_EQ(port.counters().tx_errors, 1u);
    EXPECT_EQ(port.pool().available(), port.pool().configuration().count);
}

// Frames longer than a buffer holds are dropped and counted; a record
// captured shorter than the wire frame is received as captured and counted.
TEST(pcap_port, long_and_truncated_records_are_counted) {
    scratch s;
    {
        fp::io::pcap_writer w(s.file("in.pcap"));
        w.write(test_frame(1, 3000)); // over the 1920 bytes a default pool buffer holds
        w.write(test_frame(2, 100));
    }
    {
        // A record of 60 captured bytes that was 200 on the wire (io::pcap_writer writes caplen == len).
        auto bytes = *fp::io::read_file(s.file("in.pcap"));
        fp::io::pcap_writer w(s.file("trunc.pcap"));
        w.write(test_frame(3, 60));
        w.flush();
        auto t = *fp::io::read_file(s.file("trunc.pcap"));
        const std::uint32_t wire = 200;
        std::memcpy(t.data() + fp::io::pcap_file_header_len + 12, &wire, 4);
        bytes.insert(bytes.end(), t.begin() + fp::io::pcap_file_header_len, t.end());
        std::FILE* f = std::fopen(s.file("in.pcap").c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fwrite(bytes.data(), 1, bytes.size(), f);
        std::fclose(f);
    }
    pcap_port port = open_files(s.file("in.pcap"), "");
    std::array<fp::packet, 8> b;
    ASSERT_EQ(port.receive(b), 2u);
    EXPECT_EQ(b[0].len, 100u);
    EXPECT_EQ(b[1].len, 60u);
    EXPECT_EQ(port.counters().rx_too_long, 1u);
    EXPECT_EQ(port.counters().truncated, 1u);
    port.release(std::span<const fp::packet>(b.data(), 2));
}

TEST(pcap_port, bad_files_are_clear_errors) {
    scratch s;
    auto r = pcap_port::open_files(s.file("missing.pcap"), "", 1);
    ASSERT_TRUE(std::holds_alternative<std::string>(r));
    EXPECT_NE(std::get<std::string>(r).find("missing.pcap"), std::string::npos) << std::get<std::string>(r);

    {
        std::FILE* f = std::fopen(s.file("junk.pcap").c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fputs("this is not a pcap file at all", f);
        std::fclose(f);
    }
    r = pcap_port::open_files(s.file("junk.pcap"), "", 1);
    ASSERT_TRUE(std::holds_alternative<std::string>(r));
    EXPECT_EQ(std::get<std::string>(r).rfind("pcap: " + s.file("junk.pcap") + ": ", 0), 0u) << std::get<std::string>(r);

    r = pcap_port::open_files("", (s.dir / "no" / "such" / "dir.pcap").string(), 1);
    ASSERT_TRUE(std::holds_alternative<std::string>(r));

    r = pcap_port::open_live("fpnosuch0", 1);
    ASSERT_TRUE(std::holds_alternative<std::string>(r));
    EXPECT_EQ(std::get<std::string>(r).rfind("pcap: fpnosuch0: ", 0), 0u) << std::get<std::string>(r);
}

} // namespace
