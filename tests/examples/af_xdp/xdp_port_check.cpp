// examples/af_xdp/xdp_port.hpp against a real kernel: the port on one end of
// a veth pair, an AF_PACKET socket on the other, both in a network namespace
// this test makes (fpxdp-<pid>) and deletes when it ends, failed or not.
//
// The idea: every frame crosses the wire with a sequence number and a length
// of its own, so the peer can check that each one arrived byte-identical and
// in order, and the port's frame accounting (free + fill ring + TX in
// flight + held by the caller = all UMEM frames) must close after each test.
//
// Needs root, network namespaces and AF_XDP; without them every test skips
// and says why (the CTest registration turns that into a skip).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <flowpipe/io/memory_port.hpp>
#include <flowpipe/pipeline/burst_output.hpp>

#include "xdp_port.hpp"

namespace fp = flowpipe;
using fp::examples::xdp_port;

namespace {

constexpr std::uint16_t test_ethertype = 0x88b5; // IEEE local experimental: nothing else sends it
constexpr const char* port_if = "xdp0";          // the xdp_port's end
constexpr const char* peer_if = "xdp1";          // the AF_PACKET socket's end
constexpr std::uint32_t ofport = 7;

int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

std::string output_of(const std::string& cmd) {
    std::string out;
    if (FILE* f = popen(cmd.c_str(), "r")) {
        std::array<char, 256> buf;
        while (std::fgets(buf.data(), buf.size(), f)) out += buf.data();
        pclose(f);
    }
    return out;
}

// The namespace with the veth pair, entered by this process; left and
// deleted (the veth pair with it) by the destructor.
class test_netns {
  public:
    test_netns() : name_("fpxdp-" + std::to_string(getpid())) {
        if (geteuid() != 0) {
            why_ = "needs root (network namespaces, veth, AF_XDP)";
            return;
        }
        const int probe = socket(AF_XDP, SOCK_RAW, 0);
        if (probe < 0) {
            why_ = std::string("this kernel has no AF_XDP sockets: ") + std::strerror(errno);
            return;
        }
        close(probe);
        if (run("ip netns add " + name_) != 0) {
            why_ = "cannot create a network namespace (ip netns add " + name_ + ")";
            return;
        }
        created_ = true;
        home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        const int ns = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
        if (home_ < 0 || ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
            why_ = "cannot enter network namespace " + name_;
            if (ns >= 0) close(ns);
            return;
        }
        close(ns);
        entered_ = true;
        // No IPv6 router solicitations or neighbour discovery on the wire.
        for (const char* conf : {"all", "default"})
            if (FILE* f = std::fopen((std::string("/proc/sys/net/ipv6/conf/") + conf + "/disable_ipv6").c_str(), "w")) {
                std::fputs("1", f);
                std::fclose(f);
            }
        if (run(std::string("ip link add name ") + port_if + " type veth peer name " + peer_if) != 0 ||
            run(std::string("ip link set ") + port_if + " up") != 0 ||
            run(std::string("ip link set ") + peer_if + " up") != 0) {
            why_ = "cannot make a veth pair in " + name_;
            return;
        }
        ok_ = true;
    }
    ~test_netns() {
        if (entered_) setns(home_, CLONE_NEWNET);
        if (home_ >= 0) close(home_);
        if (created_) run("ip netns del " + name_);
    }
    test_netns(const test_netns&) = delete;
    test_netns& operator=(const test_netns&) = delete;

    [[nodiscard]] bool ok() const { return ok_; }
    [[nodiscard]] const std::string& why() const { return why_; }
    [[nodiscard]] const std::string& name() const { return name_; }

  private:
    std::string name_;
    std::string why_;
    int home_ = -1;
    bool created_ = false;
    bool entered_ = false;
    bool ok_ = false;
};

// An AF_PACKET socket on the peer end: sends frames into the port, reads what
// the port sends (incoming frames with the test ethertype only).
class peer_socket {
  public:
    peer_socket() {
        fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        ifindex_ = static_cast<int>(if_nametoindex(peer_if));
        sockaddr_ll a{};
        a.sll_family = AF_PACKET;
        a.sll_protocol = htons(ETH_P_ALL);
        a.sll_ifindex = ifindex_;
        // Room for every frame a test sends at once (a skb's true size may be a page).
        const int rcvbuf = 16 << 20;
        if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
        if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            close(fd_);
            fd_ = -1;
        }
    }
    ~peer_socket() {
        if (fd_ >= 0) close(fd_);
    }
    peer_socket(const peer_socket&) = delete;
    peer_socket& operator=(const peer_socket&) = delete;

    [[nodiscard]] bool ok() const { return fd_ >= 0; }

    bool send(const std::vector<std::uint8_t>& frame) {
        sockaddr_ll a{};
        a.sll_family = AF_PACKET;
        a.sll_ifindex = ifindex_;
        a.sll_halen = 6;
        std::memcpy(a.sll_addr, frame.data(), 6);
        return sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
               static_cast<ssize_t>(frame.size());
    }

    // The next incoming test frame within `ms`, or nullopt.
    std::optional<std::vector<std::uint8_t>> receive(int ms) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        std::vector<std::uint8_t> buf(4096);
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
            if (left <= 0) return std::nullopt;
            pollfd pfd{fd_, POLLIN, 0};
            if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
            sockaddr_ll from{};
            socklen_t fl = sizeof from;
            const ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
            if (n < 14 || from.sll_pkttype == PACKET_OUTGOING) continue;
            if (((buf[12] << 8) | buf[13]) != test_ethertype) continue;
            buf.resize(static_cast<std::size_t>(n));
            return buf;
        }
    }

  private:
    int fd_ = -1;
    int ifindex_ = 0;
};

// A test frame: broadcast destination, the test ethertype, then the sequence
// number and a byte pattern of it, `len` bytes in all.
std::vector<std::uint8_t> test_frame(std::uint32_t seq, std::size_t len) {
    std::vector<std::uint8_t> f(len);
    for (int i = 0; i < 6; ++i) f[i] = 0xff;
    const std::uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x01};
    std::memcpy(f.data() + 6, src, 6);
    f[12] = test_ethertype >> 8;
    f[13] = test_ethertype & 0xff;
    std::memcpy(f.data() + 14, &seq, 4);
    for (std::size_t i = 18; i < len; ++i) f[i] = static_cast<std::uint8_t>(seq * 7 + i);
    return f;
}

bool is_test_frame(const fp::packet& p) { return p.len >= 14 && ((p.data[12] << 8) | p.data[13]) == test_ethertype; }

// Receives `count` test frames (releasing anything else) within 3 s.
std::vector<fp::packet> receive_test_frames(xdp_port& port, std::size_t count) {
    std::vector<fp::packet> got;
    std::array<fp::packet, 64> burst;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (got.size() < count && std::chrono::steady_clock::now() < until) {
        for (auto& p : burst) p.tun_id = p.tun_src = p.tun_dst = 0xdead; // receive must clear them
        const std::size_t n = port.receive(burst);
        if (n == 0) {
            pollfd pfd{port.fd(), POLLIN, 0};
            poll(&pfd, 1, 10);
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (is_test_frame(burst[i]))
                got.push_back(burst[i]);
            else
                port.release(std::span<const fp::packet>(&burst[i], 1));
        }
    }
    return got;
}

// Waits for the kernel to complete every transmitted frame; then every frame
// is either free or in the fill ring.
void expect_all_frames_back(xdp_port& port) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (port.frames().in_tx != 0 && std::chrono::steady_clock::now() < until) {
        port.reclaim();
        usleep(1000);
    }
    const fp::examples::xdp_frames f = port.frames();
    EXPECT_EQ(f.in_tx, 0u);
    EXPECT_EQ(f.free + f.in_fill, f.total) << "free " << f.free << " in fill ring " << f.in_fill;
}

class xdp_port_live : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { ns_ = new test_netns(); }
    static void TearDownTestSuite() {
        delete ns_;
        ns_ = nullptr;
    }
    void SetUp() override {
        if (!ns_->ok()) GTEST_SKIP() << "af_xdp live tests skipped: " << ns_->why();
    }
    // The port on xdp0, or nullopt (and a failure) when it cannot be opened.
    static std::optional<xdp_port> open_port(fp::examples::xdp_options o = {}) {
        auto r = xdp_port::open(port_if, 0, ofport, o);
        if (auto* e = std::get_if<std::string>(&r)) {
            ADD_FAILURE() << *e;
            return std::nullopt;
        }
        return std::move(std::get<xdp_port>(r));
    }
    static test_netns* ns_;
};
test_netns* xdp_port_live::ns_ = nullptr;

TEST(xdp_port, bad_interface_and_options_are_clear_errors) {
    auto r = xdp_port::open("fp-no-such-if", 0, 1);
    ASSERT_TRUE(std::holds_alternative<std::string>(r));
    EXPECT_EQ(std::get<std::string>(r), "af_xdp: no such interface 'fp-no-such-if'");

    fp::examples::xdp_options o;
    o.frame_size = 3000;
    r = xdp_port::open("lo", 0, 1, o);
    ASSERT_TRUE(std::holds_alternative<std::string>(r));
    EXPECT_EQ(std::get<std::string>(r), "af_xdp: frame_size must be 2048 or 4096, not 3000");

    o = {};
    o.ring_size = 1000;
    r = xdp_port::open("lo", 0, 1, o);
    ASSERT_TRUE(std::holds_alternative<std::string>(r));
    EXPECT_EQ(std::get<std::string>(r), "af_xdp: ring_size must be a power of two, not 1000");

    o = {};
    o.frame_count = 100;
    r = xdp_port::open("lo", 0, 1, o);
    ASSERT_TRUE(std::holds_alternative<std::string>(r));
    EXPECT_NE(std::get<std::string>(r).find("frame_count (100) must be at least"), std::string::npos);
}

TEST_F(xdp_port_live, a_queue_the_device_does_not_have_is_a_clear_error) {
    auto r = xdp_port::open(port_if, 5, ofport);
    ASSERT_TRUE(std::holds_alternative<std::string>(r));
    EXPECT_NE(std::get<std::string>(r).find("cannot open an AF_XDP socket on xdp0 queue 5"), std::string::npos)
        << std::get<std::string>(r);
}

// Frames sent into the wire arrive byte-identical, in order, with in_port set,
// tunnel metadata cleared and at least headroom() in front (laws 4 and 5).
TEST_F(xdp_port_live, receives_frames_byte_identical) {
    auto opened = open_port();
    ASSERT_TRUE(opened);
    xdp_port& port = *opened;
    peer_socket peer;
    ASSERT_TRUE(peer.ok());
    EXPECT_GE(port.headroom(), 128u);
    std::vector<std::vector<std::uint8_t>> sent;
    for (std::uint32_t i = 0; i < 100; ++i) {
        sent.push_back(test_frame(i, 60 + (i * 97) % 1455));
        ASSERT_TRUE(peer.send(sent.back()));
    }
    const auto got = receive_test_frames(port, sent.size());
    ASSERT_EQ(got.size(), sent.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        const fp::packet& p = got[i];
        ASSERT_EQ(p.len, sent[i].size()) << "frame " << i;
        EXPECT_EQ(0, std::memcmp(p.data, sent[i].data(), p.len)) << "frame " << i;
        EXPECT_EQ(p.in_port, ofport);
        EXPECT_EQ(p.tun_id, 0u);
        EXPECT_EQ(p.tun_src, 0u);
        EXPECT_EQ(p.tun_dst, 0u);
        EXPECT_GE(p.headroom, port.headroom());
        EXPECT_EQ(p.cookie % 2048, 0u) << "the cookie is the frame's UMEM address";
    }
    const auto held = port.frames();
    EXPECT_EQ(held.total - held.free - held.in_fill - held.in_tx, got.size()) << "the caller holds what it received";
    port.release(got);
    EXPECT_GE(port.counters().rx, sent.size()); // and whatever else the kernel put on the wire
    const xdp_statistics k = port.kernel_counters();
    EXPECT_EQ(k.rx_dropped, 0u);
    EXPECT_EQ(k.rx_invalid_descs, 0u);
    expect_all_frames_back(port);
}

// A received frame goes back out without a copy, even after a header was
// pushed into its headroom; the peer reads it byte-identical.
TEST_F(xdp_port_live, transmits_own_frames_without_a_copy) {
    auto opened = open_port();
    ASSERT_TRUE(opened);
    xdp_port& port = *opened;
    peer_socket peer;
    ASSERT_TRUE(peer.ok());
    std::vector<std::vector<std::uint8_t>> sent;
    for (std::uint32_t i = 0; i < 40; ++i) {
        sent.push_back(test_frame(1000 + i, 64 + i * 30));
        ASSERT_TRUE(peer.send(sent.back()));
    }
    auto got = receive_test_frames(port, sent.size());
    ASSERT_EQ(got.size(), sent.size());
    // Encapsulate every frame in a new Ethernet header (MAC-in-MAC style).
    for (fp::packet& p : got) {
        ASSERT_TRUE(p.push_front(14));
        std::memset(p.data, 0xff, 6);
        const std::uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x02};
        std::memcpy(p.data + 6, src, 6);
        p.data[12] = test_ethertype >> 8;
        p.data[13] = test_ethertype & 0xff;
    }
    for (const fp::packet& p : got) EXPECT_TRUE(port.owns(p)) << "transmit takes a frame of its UMEM";
    const auto copies_before = port.counters().tx_copies;
    ASSERT_EQ(port.transmit(got), got.size());
    EXPECT_EQ(port.counters().tx_copies, copies_before);
    for (std::size_t i = 0; i < sent.size(); ++i) {
        const auto f = peer.receive(2000);
        ASSERT_TRUE(f.has_value()) << "frame " << i << " never reached the peer";
        ASSERT_EQ(f->size(), sent[i].size() + 14);
        EXPECT_EQ(0, std::memcmp(f->data() + 14, sent[i].data(), sent[i].size())) << "frame " << i;
    }
    expect_all_frames_back(port);
}

// Clones and other drivers' buffers are copied into UMEM frames (law 3);
// release() ignores them.
TEST_F(xdp_port_live, copies_foreign_frames_and_ignores_their_release) {
    auto opened = open_port();
    ASSERT_TRUE(opened);
    xdp_port& port = *opened;
    peer_socket peer;
    ASSERT_TRUE(peer.ok());
    fp::io::buffer_pool pool;
    std::vector<fp::packet> frames;
    std::vector<std::vector<std::uint8_t>> expect;
    std::vector<std::vector<std::uint8_t>> clones(10);
    for (std::uint32_t i = 0; i < 20; ++i) {
        expect.push_back(test_frame(2000 + i, 100 + i * 50));
        fp::packet p;
        if (i % 2 == 0) { // another pool's buffer
            ASSERT_TRUE(pool.alloc(p));
        } else { // a burst_output clone
            clones[i / 2].assign(2048, 0);
            p.data = clones[i / 2].data() + 64;
            p.headroom = 64;
            p.cookie = fp::clone_cookie;
        }
        std::memcpy(p.data, expect.back().data(), expect.back().size());
        p.len = static_cast<std::uint32_t>(expect.back().size());
        frames.push_back(p);
    }
    for (const fp::packet& p : frames) EXPECT_FALSE(port.owns(p)) << "a foreign buffer stays its owner's";
    const auto free_before = pool.available();
    port.release(frames);
    EXPECT_EQ(port.counters().foreign_released, frames.size());
    EXPECT_EQ(pool.available(), free_before) << "release must not touch a foreign buffer";
    ASSERT_EQ(port.transmit(frames), frames.size());
    EXPECT_EQ(port.counters().tx_copies, frames.size());
    for (std::size_t i = 0; i < expect.size(); ++i) {
        const auto f = peer.receive(2000);
        ASSERT_TRUE(f.has_value()) << "frame " << i << " never reached the peer";
        EXPECT_EQ(*f, expect[i]) << "frame " << i;
    }
    expect_all_frames_back(port);
}

// With a small TX ring and few frames, transmit takes a prefix (law 2); the
// rest, retried, goes out in order, and nothing leaks.
TEST_F(xdp_port_live, transmit_takes_a_prefix_when_full) {
    fp::examples::xdp_options o;
    o.ring_size = 64;
    o.frame_count = 128;
    auto opened = open_port(o);
    ASSERT_TRUE(opened);
    xdp_port& port = *opened;
    peer_socket peer;
    ASSERT_TRUE(peer.ok());
    std::vector<std::uint8_t> arena(300 * 256);
    std::vector<fp::packet> frames;
    std::vector<std::vector<std::uint8_t>> expect;
    for (std::uint32_t i = 0; i < 300; ++i) {
        expect.push_back(test_frame(3000 + i, 200));
        fp::packet p;
        p.data = arena.data() + i * 256;
        p.len = 200;
        p.cookie = fp::clone_cookie;
        std::memcpy(p.data, expect.back().data(), 200);
        frames.push_back(p);
    }
    std::span<const fp::packet> left(frames);
    const std::size_t first = port.transmit(left);
    EXPECT_GT(first, 0u);
    EXPECT_LT(first, frames.size());
    EXPECT_GT(port.counters().tx_ring_full + port.counters().tx_no_frame, 0u);
    left = left.subspan(first);
    std::size_t received = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while ((received < expect.size()) && std::chrono::steady_clock::now() < until) {
        if (!left.empty()) left = left.subspan(port.transmit(left));
        port.reclaim();
        while (received < expect.size()) {
            const auto f = peer.receive(left.empty() ? 500 : 1);
            if (!f) break;
            ASSERT_EQ(*f, expect[received]) << "frame " << received;
            ++received;
        }
    }
    EXPECT_TRUE(left.empty());
    EXPECT_EQ(received, expect.size());
    expect_all_frames_back(port);
}

// Frames transmit cannot send are accepted and counted, not left to block
// the caller: empty ones, foreign ones longer than a UMEM frame holds.
TEST_F(xdp_port_live, unsendable_frames_are_counted_drops) {
    auto opened = open_port();
    ASSERT_TRUE(opened);
    xdp_port& port = *opened;
    std::vector<std::uint8_t> big(4096, 0x55);
    fp::packet frames[3];
    frames[0].data = big.data();
    frames[0].len = 0;
    frames[0].cookie = fp::clone_cookie;
    frames[1].data = big.data();
    frames[1].len = port.max_frame_len() + 1;
    frames[1].cookie = fp::clone_cookie;
    // A UMEM frame whose data would run past the end of its frame.
    auto f = test_frame(1, 1000);
    peer_socket peer;
    ASSERT_TRUE(peer.ok());
    ASSERT_TRUE(peer.send(f));
    auto got = receive_test_frames(port, 1);
    ASSERT_EQ(got.size(), 1u);
    got[0].len = 2048;
    frames[2] = got[0];
    EXPECT_EQ(port.transmit(frames), 3u);
    EXPECT_EQ(port.counters().tx_dropped, 3u);
    EXPECT_EQ(port.kernel_counters().tx_invalid_descs, 0u) << "the kernel never saw a bad descriptor";
    expect_all_frames_back(port);
}

// The port moves (the variant-returning open) and its destructor removes the
// socket and libxdp's XDP program from the interface.
TEST_F(xdp_port_live, destructor_removes_the_xdp_program) {
    {
        auto a = open_port();
        ASSERT_TRUE(a);
        xdp_port b = std::move(*a);
        EXPECT_NE(output_of(std::string("ip link show ") + port_if).find("xdpgeneric"), std::string::npos)
            << "an XDP program should be attached while the port is open";
        EXPECT_EQ(b.port(), ofport);
    }
    EXPECT_EQ(output_of(std::string("ip link show ") + port_if).find("xdpgeneric"), std::string::npos)
        << output_of(std::string("ip link show ") + port_if);
    // And the interface takes a new port afterwards.
    const auto again = open_port();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->queue(), 0);
}

} // namespace
