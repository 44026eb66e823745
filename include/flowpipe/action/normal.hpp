// normal (output:NORMAL): the L2 learning switch of Open vSwitch's normal
// mode (ofproto-dpif-xlate.c xlate_normal, lib/mac-learning.c), the way
// Neutron's br-int ends.
//
// Per VLAN, a frame's source MAC is learned on its input port; a known
// unicast destination goes to its port (dropped if that is the input port),
// anything else (unknown unicast, broadcast, multicast) is flooded to every
// other port of the VLAN. Ports are access ports (`tag`: untagged frames
// join VLAN tag, frames tagged with a VID other than 0 are dropped, output is
// untagged) or trunks (a set of VLANs, empty: all; untagged frames are VLAN
// 0; output carries the VLAN's tag, none for VLAN 0), as in OVS. Frames to
// the IEEE reserved multicast range 01:80:c2:00:00:0x are dropped (OVS with
// other_config:forward-bpdu=false, the default).
//
// The MAC table (`l2_switch`): up to max_entries (default 2048, OVS's) MACs,
// each aging out idle_time seconds (default 300) after the last frame it sent.
// When full, the switch evicts the least recently used MAC of the port that
// has the most MACs, as mac-learning.c's evict_mac_entry_fairly does, so a
// port flooding random MACs evicts its own. A MAC seen on another port is
// moved there.
//
// The layout: entries in arrays allocated once (MAC+VLAN key, port, expiry,
// two intrusive LRU lists: global, for expiry, and per port, for eviction)
// and an open-addressing index of 2x the entries, linear probing, with
// backward-shift deletion (no tombstones). A frame costs two index probes and
// a few link updates: no allocation, no lock, no indirect call. Expired
// entries are ignored by lookups at once and freed by `expire(now)`, which
// walks the global LRU from its oldest end: cost proportional to what expires.
//
// The embedder owns the `l2_switch`; the action holds a pointer to it (one
// switch per bridge). One thread owns it, like a flow table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include <flowpipe/core/flow_key.hpp>
#include <flowpipe/proto/ethernet.hpp>

namespace flowpipe {

class l2_switch {
  public:
    struct config {
        std::size_t max_entries = 2048;  // OVS's MAC_DEFAULT_MAX
        std::uint32_t idle_time_s = 300; // OVS's MAC_ENTRY_DEFAULT_IDLE_TIME
        std::size_t max_ports = 256;
    };
    struct stats_t {
        std::uint64_t learned = 0, moved = 0, evicted = 0, expired = 0;
    };
    static constexpr std::uint32_t npos = 0xffffffffu;

    l2_switch() : l2_switch(config{}) {}
    explicit l2_switch(config c) : cfg_(c) {
        if (cfg_.max_entries == 0) cfg_.max_entries = 1;
        std::size_t slots = 1;
        while (slots < 2 * cfg_.max_entries) slots <<= 1;
        slot_mask_ = slots - 1;
        index_ = std::make_unique<std::uint32_t[]>(slots);
        for (std::size_t i = 0; i < slots; ++i) index_[i] = npos;
        e_ = std::make_unique<entry[]>(cfg_.max_entries);
        for (std::size_t i = 0; i < cfg_.max_entries; ++i) e_[i].next = static_cast<std::uint32_t>(i + 1);
        e_[cfg_.max_entries - 1].next = npos;
        free_ = 0;
        ports_.reserve(cfg_.max_ports);
    }

    // ---- ports (control path) ----
    // An access port in VLAN `tag` (0..4095); false when the port exists or there is no room.
    bool add_access_port(std::uint32_t port, std::uint16_t tag) { return add_port(port, true, tag, {}); }
    // A trunk carrying `vlans` (none: every VLAN).
    bool add_trunk_port(std::uint32_t port, std::initializer_list<std::uint16_t> vlans = {}) {
        return add_port(port, false, 0, vlans);
    }
    [[nodiscard]] std::size_t port_count() const noexcept { return ports_.size(); }

    // ---- MAC table ----
    // The port `mac` was learned on in `vlan`, or npos (unknown or aged out).
    [[nodiscard]] std::uint32_t lookup(std::uint64_t mac, std::uint16_t vlan, std::int64_t now_ms) const noexcept {
        const std::uint32_t i = find(key_of(mac, vlan));
        if (i == npos || e_[i].expires_ms < now_ms) return npos;
        return ports_[e_[i].port].port;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] const stats_t& stats() const noexcept { return stats_; }
    [[nodiscard]] const config& configuration() const noexcept { return cfg_; }
    // MACs learned on a port (for tests and `fdb/show`-like tools).
    [[nodiscard]] std::size_t macs_on(std::uint32_t port) const noexcept {
        const std::uint32_t p = port_index(port);
        return p == npos ? 0 : ports_[p].count;
    }

    // Frees entries idle for longer than idle_time; returns how many.
    std::size_t expire(std::int64_t now_ms) noexcept {
        std::size_t n = 0;
        while (lru_head_ != npos && e_[lru_head_].expires_ms < now_ms) {
            remove(lru_head_);
            ++stats_.expired;
            ++n;
        }
        return n;
    }

    // ---- the data path (the normal action) ----
    struct port_info {
        std::uint32_t port;
        bool access;
        std::uint16_t tag;
        bool all_vlans;
        std::uint32_t count = 0; // MACs learned here
        std::uint32_t lru_head = npos, lru_tail = npos;
        std::unique_ptr<std::uint64_t[]> vlans; // trunk bitmap, 4096 bits (null: all)
        [[nodiscard]] bool carries(std::uint16_t vlan) const noexcept {
            if (access) return vlan == tag;
            return all_vlans || ((vlans[vlan >> 6] >> (vlan & 63)) & 1);
        }
    };

    [[nodiscard]] std::uint32_t port_index(std::uint32_t port) const noexcept {
        for (std::size_t i = 0; i < ports_.size(); ++i)
            if (ports_[i].port == port) return static_cast<std::uint32_t>(i);
        return npos;
    }
    [[nodiscard]] const port_info& port_at(std::uint32_t i) const noexcept { return ports_[i]; }

    // Learns (or refreshes, or moves) `mac` in `vlan` on port index `p`.
    void learn(std::uint64_t mac, std::uint16_t vlan, std::uint32_t p, std::int64_t now_ms) noexcept {
        const std::uint64_t key = key_of(mac, vlan);
        std::uint32_t i = find(key);
        if (i == npos) {
            if (size_ >= cfg_.max_entries) evict_fairly();
            i = free_;
            free_ = e_[i].next;
            entry& e = e_[i];
            e.key = key;
            e.port = p;
            insert_index(key, i);
            link_global(i);
            link_port(i);
            ++ports_[p].count;
            ++size_;
            ++stats_.learned;
        } else {
            unlink_global(i);
            link_global(i);
            if (e_[i].port != p) {
                unlink_port(i);
                --ports_[e_[i].port].count;
                e_[i].port = p;
                ++ports_[p].count;
                link_port(i);
                ++stats_.moved;
            } else {
                unlink_port(i);
                link_port(i);
            }
        }
        e_[i].expires_ms = now_ms + std::int64_t{cfg_.idle_time_s} * 1000;
    }

    // The port index `mac` lives on in `vlan`, or npos.
    [[nodiscard]] std::uint32_t lookup_index(std::uint64_t mac, std::uint16_t vlan,
                                             std::int64_t now_ms) const noexcept {
        const std::uint32_t i = find(key_of(mac, vlan));
        return i == npos || e_[i].expires_ms < now_ms ? npos : e_[i].port;
    }

  private:
    struct entry {
        std::uint64_t key = 0; // vlan << 48 | mac
        std::int64_t expires_ms = 0;
        std::uint32_t port = 0;
        std::uint32_t prev = npos, next = npos;           // global LRU (oldest at head); free list via next
        std::uint32_t port_prev = npos, port_next = npos; // the port's LRU
    };

    static std::uint64_t key_of(std::uint64_t mac, std::uint16_t vlan) noexcept {
        return (std::uint64_t{vlan} << 48) | (mac & 0xffffffffffffULL);
    }
    static std::uint64_t hash(std::uint64_t k) noexcept {
        k ^= k >> 31;
        k *= 0x9e3779b97f4a7c15ULL;
        k ^= k >> 29;
        return k;
    }

    bool add_port(std::uint32_t port, bool access, std::uint16_t tag, std::initializer_list<std::uint16_t> vlans) {
        if (ports_.size() >= cfg_.max_ports || port_index(port) != npos || tag > 4095) return false;
        port_info& pi = ports_.emplace_back();
        pi.port = port;
        pi.access = access;
        pi.tag = tag;
        pi.all_vlans = !access && vlans.size() == 0;
        if (!access && !pi.all_vlans) {
            pi.vlans = std::make_unique<std::uint64_t[]>(64);
            for (std::size_t w = 0; w < 64; ++w) pi.vlans[w] = 0;
            for (std::uint16_t v : vlans)
                if (v < 4096) pi.vlans[v >> 6] |= std::uint64_t{1} << (v & 63);
        }
        return true;
    }

    [[nodiscard]] std::uint32_t find(std::uint64_t key) const noexcept {
        for (std::size_t s = hash(key) & slot_mask_;; s = (s + 1) & slot_mask_) {
            const std::uint32_t i = index_[s];
            if (i == npos) return npos;
            if (e_[i].key == key) return i;
        }
    }
    void insert_index(std::uint64_t key, std::uint32_t i) noexcept {
        std::size_t s = hash(key) & slot_mask_;
        while (index_[s] != npos) s = (s + 1) & slot_mask_;
        index_[s] = i;
    }
    // Backward-shift deletion: later entries of the probe run move up, so
    // lookups never meet a hole inside their run.
    void erase_index(std::uint64_t key) noexcept {
        std::size_t s = hash(key) & slot_mask_;
        while (e_[index_[s]].key != key) s = (s + 1) & slot_mask_;
        std::size_t hole = s;
        for (std::size_t t = (s + 1) & slot_mask_; index_[t] != npos; t = (t + 1) & slot_mask_) {
            const std::size_t home = hash(e_[index_[t]].key) & slot_mask_;
            // Move t into the hole if its home is not in (hole, t] (cyclically).
            const bool stays = hole <= t ? (home > hole && home <= t) : (home > hole || home <= t);
            if (!stays) {
                index_[hole] = index_[t];
                hole = t;
            }
        }
        index_[hole] = npos;
    }

    void link_global(std::uint32_t i) noexcept {
        e_[i].prev = lru_tail_;
        e_[i].next = npos;
        if (lru_tail_ != npos)
            e_[lru_tail_].next = i;
        else
            lru_head_ = i;
        lru_tail_ = i;
    }
    void unlink_global(std::uint32_t i) noexcept {
        entry& e = e_[i];
        if (e.prev != npos)
            e_[e.prev].next = e.next;
        else
            lru_head_ = e.next;
        if (e.next != npos)
            e_[e.next].prev = e.prev;
        else
            lru_tail_ = e.prev;
    }
    void link_port(std::uint32_t i) noexcept {
        port_info& p = ports_[e_[i].port];
        e_[i].port_prev = p.lru_tail;
        e_[i].port_next = npos;
        if (p.lru_tail != npos)
            e_[p.lru_tail].port_next = i;
        else
            p.lru_head = i;
        p.lru_tail = i;
    }
    void unlink_port(std::uint32_t i) noexcept {
        entry& e = e_[i];
        port_info& p = ports_[e.port];
        if (e.port_prev != npos)
            e_[e.port_prev].port_next = e.port_next;
        else
            p.lru_head = e.port_next;
        if (e.port_next != npos)
            e_[e.port_next].port_prev = e.port_prev;
        else
            p.lru_tail = e.port_prev;
    }

    void remove(std::uint32_t i) noexcept {
        erase_index(e_[i].key);
        unlink_global(i);
        unlink_port(i);
        --ports_[e_[i].port].count;
        e_[i].next = free_;
        free_ = i;
        --size_;
    }

    // mac-learning.c evict_mac_entry_fairly: the oldest MAC of the port with the most.
    void evict_fairly() noexcept {
        std::uint32_t best = 0;
        for (std::uint32_t p = 1; p < ports_.size(); ++p)
            if (ports_[p].count > ports_[best].count) best = p;
        remove(ports_[best].lru_head);
        ++stats_.evicted;
    }

    config cfg_;
    std::size_t slot_mask_ = 0;
    std::unique_ptr<std::uint32_t[]> index_;
    std::unique_ptr<entry[]> e_;
    std::uint32_t free_ = npos;
    std::uint32_t lru_head_ = npos, lru_tail_ = npos;
    std::size_t size_ = 0;
    std::vector<port_info> ports_;
    stats_t stats_;
};

namespace actions {

struct normal {
    l2_switch* sw = nullptr;

    template <class Ctx>
    void operator()(Ctx& ctx) const noexcept {
        if constexpr (requires { ctx.now(); }) run(ctx); // a context with no clock cannot age MACs
    }
    friend constexpr bool operator==(const normal&, const normal&) = default;

  private:
    template <class Ctx>
    void run(Ctx& ctx) const noexcept {
        if (sw == nullptr) return; // no switch configured: drop
        const flow_key& k = ctx.key();
        const std::uint32_t in = sw->port_index(k.in_port);
        if (in == l2_switch::npos) return; // OVS: "received packet on unknown port"
        const l2_switch::port_info& ip = sw->port_at(in);
        const bool tagged = (k.vlan_tci & proto::vlan_cfi) != 0;
        const auto vid = static_cast<std::uint16_t>(k.vlan_tci & proto::vlan_vid_mask);
        std::uint16_t vlan;
        if (ip.access) {
            if (tagged && vid != 0) return; // tagged frame on an access port
            vlan = ip.tag;
        } else {
            vlan = tagged ? vid : 0;
            if (!ip.carries(vlan)) return; // a VLAN this trunk does not carry
        }
        if ((k.eth_dst & 0xfffffffffff0ULL) == 0x0180c2000000ULL) return; // reserved multicast (STP, LACP, ...)
        const std::int64_t now = ctx.now();
        if ((k.eth_src & 0x010000000000ULL) == 0) sw->learn(k.eth_src, vlan, in, now);

        // Output TCIs: untagged for access ports and VLAN 0, the VLAN (keeping PCP) for trunks.
        const std::uint16_t original = k.vlan_tci;
        const std::uint16_t pcp = tagged ? static_cast<std::uint16_t>(original & proto::vlan_pcp_mask) : 0;
        const std::uint16_t trunk_tci = vlan == 0 ? 0 : static_cast<std::uint16_t>(pcp | proto::vlan_cfi | vlan);
        auto send = [&](std::uint32_t p, bool pass_tagged) {
            const l2_switch::port_info& op = sw->port_at(p);
            const std::uint16_t want = op.access ? 0 : trunk_tci;
            if ((want != 0) != pass_tagged) return;
            if (ctx.key().vlan_tci != want) ctx.edit().vlan_tci = want;
            ctx.output(op.port);
        };
        const bool unicast = (k.eth_dst & 0x010000000000ULL) == 0;
        const std::uint32_t to = unicast ? sw->lookup_index(k.eth_dst, vlan, now) : l2_switch::npos;
        if (to != l2_switch::npos) {
            if (to != in) {
                send(to, false);
                send(to, true);
            } // else: learned on the input port, dropped
        } else {
            // Flood: untagged outputs first, then tagged ones, so the key is
            // edited at most twice per packet (each edit after an output copies it).
            for (int pass = 0; pass < 2; ++pass)
                for (std::uint32_t p = 0; p < sw->port_count(); ++p)
                    if (p != in && sw->port_at(p).carries(vlan)) send(p, pass == 1);
        }
        if (ctx.key().vlan_tci != original) ctx.edit().vlan_tci = original; // OVS restores the VLAN after normal
    }
};

} // namespace actions
} // namespace flowpipe
