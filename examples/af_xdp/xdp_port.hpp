// An AF_XDP socket (libxdp's xsk API) as a flowpipe::io::packet_port: one
// queue of one interface, in copy mode on the generic XDP hook, so it runs on
// any interface, a veth pair included.
//
// The one idea: the port owns one mmap'ed UMEM of `frame_count` frames and a
// stack of the frames nobody uses, and every frame is always in exactly one
// of five places, which the port counts:
//
//   free stack --fill ring--> kernel --RX ring--> the caller (received)
//        ^                                            | transmit (no copy)
//        |                                            v      | release
//        +----completion ring <-- kernel <-- TX ring <+      v
//        +-------------------------------------------------- free stack
//
// A frame's address in the UMEM is its packet::cookie. A received frame is
// transmitted without a copy: its descriptor points at the frame where the
// caller left `data` (pushed headers included) and the frame comes back to
// the free stack through the completion ring. A frame in any other buffer (a
// burst_output clone, another driver's buffer) is copied into a free frame
// first (law 3 of io/port.hpp); when no frame is free or the TX ring is full,
// transmit accepts a prefix (law 2). release() puts UMEM frames back on the
// free stack, which refills the fill ring on the next receive; it ignores
// every other buffer.
//
// Layout of a frame (aligned UMEM: frame_size is 2048 or 4096, a power of
// two, so a frame's address is any address in it with the low bits cleared):
//
//   | frame_headroom | XDP_PACKET_HEADROOM (256) | frame ... |
//   ^ cookie                                     ^ data on receive
//
// so headroom() is frame_headroom + 256 >= 128, room for a VXLAN or GRE outer
// header and an 802.1Q tag in front of every received frame (law 4). Copies
// made by transmit are placed at the same offset.
//
// Copy mode needs a system call to send: transmit kicks the socket with
// sendto(), and so do receive() and reclaim() while descriptors wait in the
// TX ring (the kernel sends at most 32 per call in copy mode). Receive wakes
// the kernel with recvfrom() only when the fill ring asks for it
// (XDP_USE_NEED_WAKEUP). Nothing here allocates, locks, throws or calls
// through a pointer per packet; open() and the destructor do the rest (the
// destructor removes the socket, the UMEM and, with the last socket on the
// interface, libxdp's XDP program).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xdp/xsk.h>

#include <flowpipe/core/packet.hpp>
#include <flowpipe/io/port.hpp>
#include <flowpipe/pipeline/burst_output.hpp>

namespace flowpipe::examples {

struct xdp_options {
    std::uint32_t frame_size = 2048;  // 2048 or 4096 (aligned UMEM)
    std::uint32_t frame_count = 4096; // UMEM frames; at least 2 * ring_size
    std::uint32_t ring_size = 1024;   // RX, TX and completion rings (power of two); the fill ring is twice that
    std::uint32_t frame_headroom = 0; // extra room in front of XDP_PACKET_HEADROOM
    std::uint32_t xdp_flags = XDP_FLAGS_SKB_MODE;              // the generic hook: any driver, veth included
    std::uint16_t bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP; // copy mode
};

struct xdp_counters {
    std::uint64_t rx = 0;               // frames received
    std::uint64_t tx = 0;               // frames accepted by transmit (copies and drops included)
    std::uint64_t tx_copies = 0;        // frames copied into a UMEM frame (clones, foreign buffers)
    std::uint64_t tx_dropped = 0;       // accepted but not sendable: empty, or longer than a frame holds
    std::uint64_t tx_ring_full = 0;     // frames refused because the TX ring was full
    std::uint64_t tx_no_frame = 0;      // frames refused because no UMEM frame was free for the copy
    std::uint64_t rx_ring_empty = 0;    // receive calls that found nothing
    std::uint64_t fill_starved = 0;     // refills that wanted frames and found the free stack empty
    std::uint64_t foreign_released = 0; // release() of buffers not in this UMEM (ignored, law 3)
    std::uint64_t rx_wakeups = 0;       // recvfrom() calls the fill ring asked for
    std::uint64_t tx_kicks = 0;         // sendto() calls
    std::uint64_t tx_kick_errors = 0;   // sendto() failures other than "busy, try again"
};

// Where the UMEM frames are; a frame the caller holds (received, not yet
// transmitted or released) is total - free - in_fill - in_tx.
struct xdp_frames {
    std::uint32_t total = 0;
    std::uint32_t free = 0;    // on the port's free stack
    std::uint32_t in_fill = 0; // given to the kernel for receive (fill ring, not yet received)
    std::uint32_t in_tx = 0;   // submitted for transmit, completion not yet seen
};

class xdp_port {
  public:
    // Opens queue `queue` of interface `iface`; received frames get in_port
    // `ofport`. The error string says what failed and why.
    static std::variant<xdp_port, std::string> open(const std::string& iface, std::uint16_t queue, std::uint32_t ofport,
                                                    xdp_options o = {}) {
        if (o.frame_size != 2048 && o.frame_size != 4096)
            return "af_xdp: frame_size must be 2048 or 4096, not " + std::to_string(o.frame_size);
        if (o.ring_size == 0 || (o.ring_size & (o.ring_size - 1)) != 0)
            return "af_xdp: ring_size must be a power of two, not " + std::to_string(o.ring_size);
        if (o.frame_count < 2 * o.ring_size)
            return "af_xdp: frame_count (" + std::to_string(o.frame_count) + ") must be at least 2 * ring_size (" +
                   std::to_string(2 * o.ring_size) + ")";
        if (o.frame_headroom + XDP_PACKET_HEADROOM + 64 > o.frame_size)
            return "af_xdp: frame_headroom " + std::to_string(o.frame_headroom) + " leaves no room in a " +
                   std::to_string(o.frame_size) + "-byte frame";
        if (iface.empty() || iface.size() >= IF_NAMESIZE || if_nametoindex(iface.c_str()) == 0)
            return "af_xdp: no such interface '" + iface + "'";

        auto s = std::make_unique<state>();
        s->opts = o;
        s->ofport = ofport;
        s->queue = queue;
        s->area_size = std::size_t{o.frame_count} * o.frame_size;
        void* area = mmap(nullptr, s->area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (area == MAP_FAILED)
            return "af_xdp: cannot map a UMEM of " + std::to_string(s->area_size) + " bytes: " + std::strerror(errno);
        s->area = static_cast<std::uint8_t*>(area);

        xsk_umem_config ucfg{};
        ucfg.fill_size = 2 * o.ring_size; // see refill()
        ucfg.comp_size = o.ring_size;
        ucfg.frame_size = o.frame_size;
        ucfg.frame_headroom = o.frame_headroom;
        ucfg.flags = 0;
        if (const int err = xsk_umem__create(&s->umem, s->area, s->area_size, &s->fill, &s->comp, &ucfg); err != 0) {
            s->umem = nullptr;
            return "af_xdp: xsk_umem__create: " + std::string(std::strerror(-err));
        }
        xsk_socket_config scfg{};
        scfg.rx_size = o.ring_size;
        scfg.tx_size = o.ring_size;
        scfg.libxdp_flags = 0; // libxdp loads and attaches its default redirect program
        scfg.xdp_flags = o.xdp_flags;
        scfg.bind_flags = o.bind_flags;
        // A socket closed a moment ago holds its queue until the kernel has
        // torn it down (after its XDP program and map are gone, an RCU grace
        // period later): EBUSY is retried for up to a second.
        int err = 0;
        for (int attempt = 0; attempt < 50; ++attempt) {
            err = xsk_socket__create(&s->xsk, iface.c_str(), queue, s->umem, &s->rx, &s->tx, &scfg);
            if (err != -EBUSY) break;
            usleep(20'000);
        }
        if (err != 0) {
            s->xsk = nullptr;
            std::string why = "af_xdp: cannot open an AF_XDP socket on " + iface + " queue " + std::to_string(queue) +
                              ": " + std::strerror(-err);
            if (err == -EPERM) why += " (needs root: CAP_NET_ADMIN and CAP_BPF)";
            if (err == -EINVAL) why += " (no such queue, or the interface refuses this XDP mode)";
            if (err == -EBUSY) why += " (another AF_XDP socket is bound to this queue)";
            return why;
        }
        s->fd = xsk_socket__fd(s->xsk);

        s->free_frames.reserve(o.frame_count);
        for (std::uint32_t i = o.frame_count; i > 0; --i) s->free_frames.push_back(std::uint64_t{i - 1} * o.frame_size);
        xdp_port port(std::move(s));
        port.refill();
        return port;
    }

    // Moves keep the rings where libxdp knows them (the state is on the
    // heap); a moved-from port may only be destroyed or assigned to.
    xdp_port(xdp_port&&) noexcept = default;
    xdp_port& operator=(xdp_port&&) noexcept = default;
    xdp_port(const xdp_port&) = delete;
    xdp_port& operator=(const xdp_port&) = delete;
    ~xdp_port() = default;

    // ---- the packet_port concept ----

    std::size_t receive(std::span<packet> rx) noexcept {
        state& s = *s_;
        refill();
        if (xsk_ring_prod__needs_wakeup(&s.fill)) {
            ++s.counters.rx_wakeups;
            recvfrom(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
        }
        if (pending_tx() != 0) reclaim();
        std::uint32_t idx = 0;
        const std::uint32_t n = xsk_ring_cons__peek(
            &s.rx, static_cast<std::uint32_t>(std::min<std::size_t>(rx.size(), s.opts.ring_size)), &idx);
        if (n == 0) {
            ++s.counters.rx_ring_empty;
            return 0;
        }
        const std::uint64_t frame_mask = ~std::uint64_t{s.opts.frame_size - 1};
        for (std::uint32_t i = 0; i < n; ++i) {
            const xdp_desc* d = xsk_ring_cons__rx_desc(&s.rx, idx + i);
            const std::uint64_t frame = d->addr & frame_mask;
            packet& p = rx[i];
            p.data = s.area + d->addr;
            p.len = d->len;
            p.headroom = static_cast<std::uint32_t>(d->addr - frame);
            p.cookie = frame;
            p.in_port = s.ofport; // law 5
            p.tun_id = 0;
            p.tun_src = 0;
            p.tun_dst = 0;
        }
        xsk_ring_cons__release(&s.rx, n);
        s.in_fill -= n;
        s.counters.rx += n;
        return n;
    }

    std::size_t transmit(std::span<const packet> tx) noexcept {
        state& s = *s_;
        reclaim();
        std::uint32_t space = xsk_prod_nb_free(&s.tx, s.opts.ring_size);
        // Pass 1: how many frames can be taken, and how many descriptors and
        // free frames they need (drops take neither).
        std::size_t n = 0;
        std::uint32_t descs = 0, copies = 0;
        for (; n < tx.size(); ++n) {
            const packet& p = tx[n];
            const kind k = classify(p);
            if (k == kind::drop) continue;
            if (descs == space) {
                s.counters.tx_ring_full += tx.size() - n;
                break;
            }
            if (k == kind::copy) {
                if (copies == s.free_frames.size()) {
                    s.counters.tx_no_frame += tx.size() - n;
                    break;
                }
                ++copies;
            }
            ++descs;
        }
        // Pass 2: write the descriptors; copy foreign frames, free dropped ones.
        std::uint32_t idx = 0;
        if (descs != 0) xsk_ring_prod__reserve(&s.tx, descs, &idx); // cannot fail: descs <= space
        const std::uint64_t frame_mask = ~std::uint64_t{s.opts.frame_size - 1};
        std::uint32_t written = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const packet& p = tx[i];
            xdp_desc* d = nullptr;
            switch (classify(p)) {
            case kind::drop:
                ++s.counters.tx_dropped;
                if (owns(p)) s.free_frames.push_back(static_cast<std::uint64_t>(p.data - s.area) & frame_mask);
                continue;
            case kind::own:
                d = xsk_ring_prod__tx_desc(&s.tx, idx + written++);
                d->addr = static_cast<std::uint64_t>(p.data - s.area);
                break;
            case kind::copy: {
                const std::uint64_t frame = s.free_frames.back();
                s.free_frames.pop_back();
                d = xsk_ring_prod__tx_desc(&s.tx, idx + written++);
                d->addr = frame + headroom();
                std::memcpy(s.area + d->addr, p.data, p.len);
                ++s.counters.tx_copies;
                break;
            }
            }
            d->len = p.len;
            d->options = 0;
        }
        if (descs != 0) {
            xsk_ring_prod__submit(&s.tx, descs);
            s.in_tx += descs;
            kick();
        }
        s.counters.tx += n;
        return n;
    }

    void release(std::span<const packet> frames) noexcept {
        state& s = *s_;
        const std::uint64_t frame_mask = ~std::uint64_t{s.opts.frame_size - 1};
        for (const packet& p : frames) {
            if (owns(p))
                s.free_frames.push_back(static_cast<std::uint64_t>(p.data - s.area) & frame_mask);
            else
                ++s.counters.foreign_released;
        }
    }

    [[nodiscard]] std::uint32_t headroom() const noexcept { return s_->opts.frame_headroom + XDP_PACKET_HEADROOM; }
    [[nodiscard]] std::uint16_t queue() const noexcept { return s_->queue; }

    // ---- beyond the concept ----

    // Whether p's buffer is a frame of this UMEM: transmit takes such a frame
    // (it comes back through the completion ring) and release frees it; any
    // other buffer transmit copies and leaves to its owner (law 3).
    [[nodiscard]] bool owns(const packet& p) const noexcept {
        return p.cookie != clone_cookie && p.data >= s_->area && p.data < s_->area + s_->area_size;
    }

    [[nodiscard]] std::uint32_t port() const noexcept { return s_->ofport; }
    [[nodiscard]] int fd() const noexcept { return s_->fd; } // for poll(): readable when frames wait
    [[nodiscard]] const xdp_counters& counters() const noexcept { return s_->counters; }
    [[nodiscard]] xdp_frames frames() const noexcept {
        return {s_->opts.frame_count, static_cast<std::uint32_t>(s_->free_frames.size()), s_->in_fill, s_->in_tx};
    }
    // The kernel's own counters of this socket (XDP_STATISTICS): frames it
    // dropped (rx_dropped), for want of fill ring entries
    // (rx_fill_ring_empty_descs) or RX ring room (rx_ring_full), and
    // descriptors it found invalid (rx_/tx_invalid_descs). Zeros when the
    // kernel will not say.
    [[nodiscard]] xdp_statistics kernel_counters() const noexcept {
        xdp_statistics st{};
        socklen_t len = sizeof st;
        if (getsockopt(s_->fd, SOL_XDP, XDP_STATISTICS, &st, &len) != 0) return xdp_statistics{};
        return st;
    }
    // The largest frame transmit can copy into a UMEM frame.
    [[nodiscard]] std::uint32_t max_frame_len() const noexcept { return s_->opts.frame_size - headroom(); }

    // Takes back the frames the kernel has sent (completion ring) and kicks
    // the socket while descriptors still wait in the TX ring: what an idle
    // loop calls so that sent frames return without more traffic. Returns
    // the frames taken back.
    std::uint32_t reclaim() noexcept {
        state& s = *s_;
        std::uint32_t idx = 0;
        const std::uint32_t n = xsk_ring_cons__peek(&s.comp, s.opts.ring_size, &idx);
        for (std::uint32_t i = 0; i < n; ++i)
            s.free_frames.push_back(*xsk_ring_cons__comp_addr(&s.comp, idx + i) &
                                    ~std::uint64_t{s.opts.frame_size - 1});
        if (n != 0) xsk_ring_cons__release(&s.comp, n);
        s.in_tx -= n;
        if (pending_tx() != 0) kick();
        return n;
    }

  private:
    struct state {
        xdp_options opts;
        std::uint32_t ofport = 0;
        std::uint16_t queue = 0;
        std::uint8_t* area = nullptr;
        std::size_t area_size = 0;
        // libxdp keeps pointers to these rings: the state lives on the heap
        // so that moving the port does not move them.
        xsk_ring_prod fill{};
        xsk_ring_cons comp{};
        xsk_ring_cons rx{};
        xsk_ring_prod tx{};
        xsk_umem* umem = nullptr;
        xsk_socket* xsk = nullptr;
        int fd = -1;
        std::vector<std::uint64_t> free_frames; // frame addresses; reserved for every frame
        std::uint32_t in_fill = 0;
        std::uint32_t in_tx = 0;
        xdp_counters counters;

        state() = default;
        state(const state&) = delete;
        state& operator=(const state&) = delete;
        ~state() {
            if (xsk) xsk_socket__delete(xsk); // detaches libxdp's program with the last socket
            if (umem) xsk_umem__delete(umem);
            if (area) munmap(area, area_size);
        }
    };

    enum class kind : std::uint8_t { own, copy, drop };

    explicit xdp_port(std::unique_ptr<state> s) noexcept : s_(std::move(s)) {}

    // How transmit takes a frame: a UMEM frame as is (when it still lies
    // inside its frame: the kernel would skip a descriptor crossing a frame's
    // end and lose the frame), anything else copied; empty frames and frames
    // a UMEM frame cannot hold are dropped (accepted, counted).
    [[nodiscard]] kind classify(const packet& p) const noexcept {
        if (p.len == 0) return kind::drop;
        if (owns(p)) {
            const std::uint64_t addr = static_cast<std::uint64_t>(p.data - s_->area);
            const std::uint64_t frame_end = (addr & ~std::uint64_t{s_->opts.frame_size - 1}) + s_->opts.frame_size;
            return addr + p.len <= frame_end ? kind::own : kind::drop;
        }
        return p.len <= max_frame_len() ? kind::copy : kind::drop;
    }

    // Descriptors in the TX ring the kernel has not taken yet.
    [[nodiscard]] std::uint32_t pending_tx() noexcept {
        return s_->opts.ring_size - xsk_prod_nb_free(&s_->tx, s_->opts.ring_size);
    }

    // Gives free frames to the kernel, up to ring_size frames in the fill
    // ring. The ring itself is twice that: the kernel takes a batch of
    // entries and says it has consumed them only when the batch is used up,
    // so the ring looks fuller than it is by up to one batch (ring_size). A
    // ring of ring_size would then look full while the kernel runs out of
    // frames, and frames would be dropped (the kernel's "fill ring empty").
    void refill() noexcept {
        state& s = *s_;
        const std::uint32_t want = s.opts.ring_size - s.in_fill;
        if (want == 0) return;
        const std::uint32_t take = std::min<std::uint32_t>(
            {want, static_cast<std::uint32_t>(s.free_frames.size()), xsk_prod_nb_free(&s.fill, want)});
        if (take == 0) {
            if (s.free_frames.empty()) ++s.counters.fill_starved;
            return;
        }
        std::uint32_t idx = 0;
        if (xsk_ring_prod__reserve(&s.fill, take, &idx) != take) return; // cannot happen: take <= free entries
        for (std::uint32_t i = 0; i < take; ++i) {
            *xsk_ring_prod__fill_addr(&s.fill, idx + i) = s.free_frames.back();
            s.free_frames.pop_back();
        }
        xsk_ring_prod__submit(&s.fill, take);
        s.in_fill += take;
    }

    // Copy mode sends only inside sendto(), at most 32 frames per call: call
    // it until the ring is empty or the kernel is busy (completion ring full,
    // device queue stopped), a few times at most per burst.
    void kick() noexcept {
        state& s = *s_;
        for (int i = 0; i < 4 && pending_tx() != 0; ++i) {
            ++s.counters.tx_kicks;
            if (sendto(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) continue;
            if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS) continue;
            ++s.counters.tx_kick_errors;
            return;
        }
    }

    std::unique_ptr<state> s_;
};

static_assert(io::require_packet_port<xdp_port>());

} // namespace flowpipe::examples
