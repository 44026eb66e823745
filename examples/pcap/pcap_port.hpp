// libpcap as a flowpipe::io::packet_port: a live interface, or a pair of
// pcap files (frames read from one, frames written to the other).
//
// The one idea: libpcap lends each frame it reads only until the next read,
// and injects or dumps a frame by copying it, so the port copies on both
// sides and needs nothing but a fixed io::buffer_pool (io/memory_port.hpp),
// its own or one its switch's ports share:
//
//   receive    pcap_next_ex() -> copy into a pool buffer at the pool's
//              headroom (law 4) -> in_port set, tunnel fields cleared (law 5);
//              stops early when the pool has no free buffer (the frame stays
//              in libpcap's buffer for the next call)
//   transmit   pcap_inject() (live) or pcap_dump() (file), then frees the
//              frame's buffer if it is a pool buffer: it accepts every frame
//              (law 2 with n == size), whatever buffer it is in (law 3);
//              a frame the interface refuses is a counted tx error
//   release    frees pool buffers, ignores others (law 3)
//
// Live mode is immediate, non-blocking, promiscuous, snaplen 65535 and reads
// only frames coming in (PCAP_D_IN), so the port never reads back what it
// injected. File mode reads records in order and writes Ethernet records with
// the time of transmission. A frame captured shorter than it was on the wire
// (caplen < len) is received as captured and counted as truncated; a frame
// longer than a pool buffer holds is dropped and counted.
//
// Nothing allocates per packet (libpcap reads into its own ring or buffer);
// pcap_next_ex calls libpcap's per-packet callback internally, the price of
// using libpcap at all.
#pragma once

#include <pcap/pcap.h>
#include <sys/time.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>

#include <flowpipe/core/packet.hpp>
#include <flowpipe/io/memory_port.hpp>
#include <flowpipe/io/port.hpp>

namespace flowpipe::examples {

struct pcap_options {
    io::buffer_pool::config pool{}; // the port's own buffers, which receive copies frames into
    // Or buffers of a pool several ports share (it must outlive them), as the
    // ports of one DPDK mempool do: a frame received on one port and
    // transmitted on another then goes back to the pool, since each port frees
    // every buffer of the pool it transmits. With a pool per port, a frame
    // transmitted on another port stays its receiving port's (law 3), and the
    // embedder must release it there.
    io::buffer_pool* shared_pool = nullptr;
    int snaplen = 65535;
    int buffer_size = 4 << 20; // libpcap's kernel ring, live mode
};

struct pcap_port_counters {
    std::uint64_t rx = 0;
    std::uint64_t tx = 0;
    std::uint64_t tx_errors = 0;   // frames pcap_inject refused, or transmitted on a port with no output file
    std::uint64_t truncated = 0;   // frames captured shorter than they were on the wire (caplen < len)
    std::uint64_t rx_too_long = 0; // frames longer than a pool buffer holds: dropped
    std::uint64_t rx_errors = 0;   // pcap_next_ex errors (a corrupt file, an interface gone)
};

class pcap_port {
  public:
    // A live interface.
    static std::variant<pcap_port, std::string> open_live(const std::string& iface, std::uint32_t ofport,
                                                          pcap_options o = {}) {
        char err[PCAP_ERRBUF_SIZE] = {};
        pcap_t* h = pcap_create(iface.c_str(), err);
        if (h == nullptr) return "pcap: " + iface + ": " + err;
        handle rx(h);
        pcap_set_snaplen(h, o.snaplen);
        pcap_set_promisc(h, 1);
        pcap_set_immediate_mode(h, 1);
        pcap_set_buffer_size(h, o.buffer_size);
        if (const int rc = pcap_activate(h); rc < 0) {
            std::string why = "pcap: " + iface + ": ";
            if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
                why += "no such interface";
            else if (rc == PCAP_ERROR_PERM_DENIED)
                why += "permission denied (needs root or CAP_NET_RAW)";
            else
                why += pcap_geterr(h);
            return why;
        }
        if (pcap_datalink(h) != DLT_EN10MB) return "pcap: " + iface + ": not an Ethernet interface";
        if (pcap_setnonblock(h, 1, err) != 0) return "pcap: " + iface + ": " + err;
        if (pcap_setdirection(h, PCAP_D_IN) != 0) return "pcap: " + iface + ": " + pcap_geterr(h);
        pcap_port p(ofport, o);
        p.name_ = iface;
        p.live_ = true;
        p.rx_ = std::move(rx);
        return p;
    }

    // Frames read from `rx_path` and written to `tx_path`; either may be empty
    // (a port that only receives, or only transmits).
    static std::variant<pcap_port, std::string> open_files(const std::string& rx_path, const std::string& tx_path,
                                                           std::uint32_t ofport, pcap_options o = {}) {
        char err[PCAP_ERRBUF_SIZE] = {};
        pcap_port p(ofport, o);
        p.name_ = (rx_path.empty() ? "-" : rx_path) + ":" + (tx_path.empty() ? "-" : tx_path);
        if (!rx_path.empty()) {
            pcap_t* h = pcap_open_offline(rx_path.c_str(), err);
            if (h == nullptr) return "pcap: " + rx_path + ": " + err;
            p.rx_.reset(h);
            if (pcap_datalink(h) != DLT_EN10MB) return "pcap: " + rx_path + ": link type is not Ethernet";
        } else {
            p.rx_done_ = true;
        }
        if (!tx_path.empty()) {
            pcap_t* d = pcap_open_dead(DLT_EN10MB, o.snaplen);
            if (d == nullptr) return "pcap: cannot make a handle for " + tx_path;
            p.dead_.reset(d);
            pcap_dumper_t* w = pcap_dump_open(d, tx_path.c_str());
            if (w == nullptr) return "pcap: " + tx_path + ": " + pcap_geterr(d);
            p.dump_.reset(w);
        }
        return p;
    }

    pcap_port(pcap_port&&) noexcept = default;
    pcap_port& operator=(pcap_port&&) noexcept = default;
    pcap_port(const pcap_port&) = delete;
    pcap_port& operator=(const pcap_port&) = delete;
    ~pcap_port() = default;

    // ---- the packet_port concept ----

    std::size_t receive(std::span<packet> rx) noexcept {
        if (rx_done_) return 0;
        std::size_t n = 0;
        while (n < rx.size() && pool_->available() != 0) {
            pcap_pkthdr* h = nullptr;
            const u_char* bytes = nullptr;
            const int rc = pcap_next_ex(rx_.get(), &h, &bytes);
            if (rc == 0) break; // live: nothing now
            if (rc == PCAP_ERROR_BREAK) {
                rx_done_ = true; // file: no more records
                break;
            }
            if (rc < 0) {
                ++counters_.rx_errors;
                if (!live_) rx_done_ = true;
                break;
            }
            if (h->caplen < h->len) ++counters_.truncated;
            if (h->caplen > pool_->max_frame_len()) {
                ++counters_.rx_too_long;
                continue;
            }
            packet& p = rx[n];
            (void)pool_->alloc(p); // cannot fail: available() != 0
            std::memcpy(p.data, bytes, h->caplen);
            p.len = h->caplen;
            p.in_port = ofport_;
            ++n;
        }
        counters_.rx += n;
        return n;
    }

    std::size_t transmit(std::span<const packet> tx) noexcept {
        timeval now{};
        if (dump_) gettimeofday(&now, nullptr);
        for (const packet& p : tx) {
            if (live_) {
                if (pcap_inject(rx_.get(), p.data, p.len) != static_cast<int>(p.len)) ++counters_.tx_errors;
            } else if (dump_) {
                pcap_pkthdr h{};
                h.ts = now;
                h.caplen = p.len;
                h.len = p.len;
                pcap_dump(reinterpret_cast<u_char*>(dump_.get()), &h, p.data);
            } else {
                ++counters_.tx_errors;
            }
            pool_->free(p); // ignores clones and other drivers' buffers
        }
        counters_.tx += tx.size();
        return tx.size();
    }

    void release(std::span<const packet> frames) noexcept {
        for (const packet& p : frames) pool_->free(p);
    }

    [[nodiscard]] std::uint32_t headroom() const noexcept { return pool_->headroom(); }
    [[nodiscard]] std::uint16_t queue() const noexcept { return 0; }

    // ---- beyond the concept ----

    // Whether p's buffer is one of this port's pool (its own or the shared
    // one): transmit frees such a buffer and release frees it; any other
    // buffer transmit copies and leaves to its owner (law 3).
    [[nodiscard]] bool owns(const packet& p) const noexcept { return pool_->owns(p); }

    [[nodiscard]] std::uint32_t port() const noexcept { return ofport_; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] bool live() const noexcept { return live_; }
    // File mode: every record of the input file has been read (or it had an
    // error). Never true for a live port.
    [[nodiscard]] bool exhausted() const noexcept { return rx_done_; }
    // Live mode: a descriptor poll() can wait on, or -1.
    [[nodiscard]] int selectable_fd() const noexcept { return live_ ? pcap_get_selectable_fd(rx_.get()) : -1; }
    [[nodiscard]] const pcap_port_counters& counters() const noexcept { return counters_; }
    // libpcap's text for the last receive error (rx_errors), or "".
    [[nodiscard]] const char* error_text() const noexcept { return rx_ ? pcap_geterr(rx_.get()) : ""; }
    [[nodiscard]] const io::buffer_pool& pool() const noexcept { return *pool_; }
    // Writes buffered output records to the file.
    void flush() noexcept {
        if (dump_) pcap_dump_flush(dump_.get());
    }

  private:
    struct close_pcap {
        void operator()(pcap_t* h) const noexcept { pcap_close(h); }
    };
    struct close_dumper {
        void operator()(pcap_dumper_t* d) const noexcept { pcap_dump_close(d); }
    };
    using handle = std::unique_ptr<pcap_t, close_pcap>;

    pcap_port(std::uint32_t ofport, const pcap_options& o)
        : ofport_(ofport), own_pool_(o.shared_pool ? nullptr : std::make_unique<io::buffer_pool>(o.pool)),
          pool_(o.shared_pool ? o.shared_pool : own_pool_.get()) {}

    std::uint32_t ofport_;
    std::unique_ptr<io::buffer_pool> own_pool_; // on the heap: packets point into it across moves
    io::buffer_pool* pool_;                     // own_pool_ or options' shared_pool
    handle rx_;                                 // the live handle (receive and inject) or the input file
    handle dead_; // the output file's handle (pcap_dump_open needs one); declared before dump_: closed after it
    std::unique_ptr<pcap_dumper_t, close_dumper> dump_;
    std::string name_;
    bool live_ = false;
    bool rx_done_ = false;
    pcap_port_counters counters_;
};

static_assert(io::require_packet_port<pcap_port>());

} // namespace flowpipe::examples
