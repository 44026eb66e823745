// normal (output:NORMAL): the L2 learning switch of Open vSwitch's normal
// mode (ofproto-dpif-xlate.c xlate_normal, lib/mac-learning.c), the way
// Neutron's br-int ends.
//
// Per VLAN, a frame's source MAC is learned on its input port; a known
// unicast destination goes to its port (dropped if that is the input port),
// anything else (unknown unicast, broadcast, multicast) is flooded to every
// other port of the VLAN. Ports are access ports (`tag`: untagged and
// priority-tagged frames join VLAN tag, frames tagged with a VID other than 0
// are dropped, output is untagged) or trunks (a set of VLANs, empty: all;
// untagged frames are VLAN 0; output carries the VLAN and the frame's
// priority, untagged only when both are 0), as in OVS. Frames to the
// destinations OVS reserves (eth_addr_is_reserved: 01:80:c2:00:00:0x and
// Extreme's and Cisco's control addresses) are dropped (OVS with
// other_config:forward-bpdu=false, the default).
//
// The MAC table (`l2_switch`): up to max_entries (default 2048, OVS's) MACs.
// Time is OVS's, whole seconds: a MAC last refreshed in second t is gone from
// second t + idle_time on (default 300), and a MAC seen again is refreshed
// (age 0, to the back of the LRU lists) only once a second, or when it moved
// or the frame is a gratuitous ARP (mac_learning_update). When full, the
// switch evicts the least recently used MAC of the port with the most MACs
// (evict_mac_entry_fairly), so a port flooding random MACs evicts its own;
// among ports with as many MACs it picks the one OVS's heap of ports by
// count (lib/heap.c) has on top, by doing the same heap moves.
// tests/ovs/normal_oracle.py checks all of this frame by frame, and the MAC
// table after each frame, against a real ovs-vswitchd.
//
// Deliberate differences, found by that comparison: a received tag's DEI bit
// (0x1000 on the wire) passes through when the tag leaves unchanged, since
// the flow key has no DEI (its 0x1000 means "tagged"); OVS writes each tag
// NORMAL outputs anew, without DEI. One 802.1Q tag is a frame's VLAN: an
// 802.1ad (0x88a8) tag and an inner tag are payload here, while OVS takes
// 0x88a8 as a VLAN tag too and keeps frames with an inner tag off access
// ports. Both would need a flow key with DEI and two tags. The oracle sends
// no 802.1ad or double-tagged frames, and compares frames received with DEI
// set with the DEI bit of their output tags cleared on both sides (it says
// so when it runs).
//
// Not modelled (no such configuration here): bonds (and the gratuitous ARP
// lock that only matters on them), static MACs, flood_vlans, multicast
// snooping, native-tagged/untagged and dot1q-tunnel ports, mirrors,
// protected ports, forward-bpdu=true. OVS clamps mac-aging-time to
// 15..3600 s and mac-table-size to 10..1000000; the l2_switch takes the
// values as given.
//
// The layout: entries in arrays allocated once (MAC+VLAN key, port, expiry,
// two intrusive LRU lists: global, for expiry, and per port, for eviction),
// an open-addressing index of 2x the entries, linear probing, with
// backward-shift deletion (no tombstones), and the heap of port indexes. A
// frame costs two index probes and a few link updates (a heap step when a
// port's count changes): no allocation, no lock, no indirect call. The
// action frees aged-out entries before each frame, as OVS's main loop does
// (mac_learning_run), walking the global LRU from its oldest end: cost
// proportional to what expires, one compare when nothing does.
//
// The embedder owns the `l2_switch`; the action holds a pointer to it (one
// switch per bridge). One thread owns it, like a flow table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
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
        heap_ = std::make_unique<std::uint32_t[]>(cfg_.max_ports + 1);
    }

    // ---- ports (control path) ----
    // An access port in VLAN `tag` (0..4095); false when the port exists or there is no room.
    bool add_access_port(std::uint32_t port, std::uint16_t tag) { return add_port(port, true, tag, {}); }
    // A trunk carrying `vlans` (none: every VLAN).
    bool add_trunk_port(std::uint32_t port, std::initializer_list<std::uint16_t> vlans = {}) {
        return add_port(port, false, 0, std::span<const std::uint16_t>(vlans.begin(), vlans.size()));
    }
    bool add_trunk_port(std::uint32_t port, std::span<const std::uint16_t> vlans) {
        return add_port(port, false, 0, vlans);
    }
    [[nodiscard]] std::size_t port_count() const noexcept { return ports_.size(); }

    // ---- MAC table ----
    // Time is Open vSwitch's: whole seconds (time_now()), so an entry learned
    // or refreshed in second t lives through second t + idle_time - 1.
    [[nodiscard]] static constexpr std::int64_t seconds(std::int64_t now_ms) noexcept {
        return now_ms >= 0 ? now_ms / 1000 : -((999 - now_ms) / 1000);
    }
    // The port `mac` was learned on in `vlan`, or npos (unknown or aged out).
    [[nodiscard]] std::uint32_t lookup(std::uint64_t mac, std::uint16_t vlan, std::int64_t now_ms) const noexcept {
        const std::uint32_t i = lookup_index(mac, vlan, now_ms);
        return i == npos ? npos : ports_[i].port;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] const stats_t& stats() const noexcept { return stats_; }
    [[nodiscard]] const config& configuration() const noexcept { return cfg_; }
    // MACs learned on a port (for tests and `fdb/show`-like tools).
    [[nodiscard]] std::size_t macs_on(std::uint32_t port) const noexcept {
        const std::uint32_t p = port_index(port);
        return p == npos ? 0 : ports_[p].count;
    }

    // Calls f(mac, vlan, port, age_s) for every live MAC, least recently
    // used first: what `ovs-appctl fdb/show` prints (control path).
    template <class F>
    void for_each_mac(std::int64_t now_ms, F&& f) const {
        const std::int64_t now = seconds(now_ms);
        for (std::uint32_t i = lru_head_; i != npos; i = e_[i].next) {
            if (e_[i].expires_s <= now) continue;
            const std::int64_t age = std::int64_t{cfg_.idle_time_s} - (e_[i].expires_s - now);
            f(e_[i].key & 0xffffffffffffULL, static_cast<std::uint16_t>(e_[i].key >> 48), ports_[e_[i].port].port, age);
        }
    }

    // Frees the entries that have aged out (mac-learning.c mac_learning_run);
    // returns how many. The normal action calls it for every frame: cost
    // proportional to what expires, one compare when nothing does.
    std::size_t expire(std::int64_t now_ms) noexcept {
        const std::int64_t now = seconds(now_ms);
        std::size_t n = 0;
        while (lru_head_ != npos && e_[lru_head_].expires_s <= now) {
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
        std::uint32_t count = 0;    // MACs learned here
        std::uint32_t heap_pos = 0; // place in the ports-by-count heap (1-based), 0: not there (no MAC)
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

    // Learns `mac` in `vlan` on port index `p`, as mac-learning.c's
    // mac_learning_update: a new MAC is added (evicting one when the table is
    // full); a known one is moved if it came from another port, and its age
    // reset (to the back of the LRU lists) only when at least a second has
    // passed since the last reset, unless the frame is a gratuitous ARP.
    void learn(std::uint64_t mac, std::uint16_t vlan, std::uint32_t p, std::int64_t now_ms,
               bool gratuitous_arp = false) noexcept {
        const std::uint64_t key = key_of(mac, vlan);
        const std::int64_t now = seconds(now_ms);
        std::uint32_t i = find(key);
        if (i != npos && e_[i].expires_s <= now) { // aged out, not yet freed
            remove(i);
            ++stats_.expired;
            i = npos;
        }
        if (i == npos) {
            if (size_ >= cfg_.max_entries && expire(now_ms) == 0) evict_fairly();
            i = free_;
            free_ = e_[i].next;
            entry& e = e_[i];
            e.key = key;
            e.port = p;
            insert_index(key, i);
            link_global(i);
            link_port(i);
            gained(p);
            ++size_;
            ++stats_.learned;
        } else {
            const bool moved = e_[i].port != p;
            if (!moved && !gratuitous_arp && e_[i].expires_s - cfg_.idle_time_s == now) return; // age 0
            unlink_global(i);
            link_global(i);
            unlink_port(i);
            if (moved) {
                lost(e_[i].port);
                e_[i].port = p;
                gained(p);
                ++stats_.moved;
            }
            link_port(i);
        }
        e_[i].expires_s = now + cfg_.idle_time_s;
    }

    // The port index `mac` lives on in `vlan`, or npos.
    [[nodiscard]] std::uint32_t lookup_index(std::uint64_t mac, std::uint16_t vlan,
                                             std::int64_t now_ms) const noexcept {
        const std::uint32_t i = find(key_of(mac, vlan));
        return i == npos || e_[i].expires_s <= seconds(now_ms) ? npos : e_[i].port;
    }

  private:
    struct entry {
        std::uint64_t key = 0; // vlan << 48 | mac
        std::int64_t expires_s = 0;
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

    bool add_port(std::uint32_t port, bool access, std::uint16_t tag, std::span<const std::uint16_t> vlans) {
        if (ports_.size() >= cfg_.max_ports || port_index(port) != npos || tag > 4095) return false;
        port_info& pi = ports_.emplace_back();
        pi.port = port;
        pi.access = access;
        pi.tag = tag;
        pi.all_vlans = !access && vlans.empty();
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
        lost(e_[i].port);
        e_[i].next = free_;
        free_ = i;
        --size_;
    }

    // ---- ports by MAC count: lib/heap.c's binary max-heap, step for step ----
    // Open vSwitch evicts from heap_max(): among ports with equally many MACs
    // the one the heap's history put on top. Doing the same moves on the same
    // heap picks the same port.
    void gained(std::uint32_t p) noexcept {
        if (ports_[p].count++ == 0) {
            put(p, ++heap_n_);
            float_up(heap_n_);
        } else {
            float_up_or_down(ports_[p].heap_pos);
        }
    }
    void lost(std::uint32_t p) noexcept {
        if (--ports_[p].count != 0) {
            float_up_or_down(ports_[p].heap_pos);
            return;
        }
        const std::uint32_t i = ports_[p].heap_pos;
        ports_[p].heap_pos = 0;
        if (i < heap_n_) put(heap_[heap_n_], i);
        --heap_n_;
        if (i <= heap_n_) float_up_or_down(i);
    }
    void put(std::uint32_t p, std::uint32_t i) noexcept {
        heap_[i] = p;
        ports_[p].heap_pos = i;
    }
    [[nodiscard]] std::uint32_t count_at(std::uint32_t i) const noexcept { return ports_[heap_[i]].count; }
    bool float_up(std::uint32_t i) noexcept {
        bool moved = false;
        for (; i > 1; i /= 2) {
            if (count_at(i / 2) >= count_at(i)) break;
            const std::uint32_t up = heap_[i];
            put(heap_[i / 2], i);
            put(up, i / 2);
            moved = true;
        }
        return moved;
    }
    void float_down(std::uint32_t i) noexcept {
        while (2 * i <= heap_n_) {
            std::uint32_t max = i;
            if (count_at(2 * i) > count_at(max)) max = 2 * i;
            if (2 * i + 1 <= heap_n_ && count_at(2 * i + 1) > count_at(max)) max = 2 * i + 1;
            if (max == i) break;
            const std::uint32_t down = heap_[i];
            put(heap_[max], i);
            put(down, max);
            i = max;
        }
    }
    void float_up_or_down(std::uint32_t i) noexcept {
        if (!float_up(i)) float_down(i);
    }

    // mac-learning.c evict_mac_entry_fairly: the oldest MAC of the port on top
    // of the heap (one with the most MACs).
    void evict_fairly() noexcept {
        remove(ports_[heap_[1]].lru_head);
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
    std::unique_ptr<std::uint32_t[]> heap_; // port indexes, heap_[1] on top; heap_[0] unused
    std::uint32_t heap_n_ = 0;
    stats_t stats_;
};

// Destinations Open vSwitch's NORMAL drops (packets.c eth_addr_is_reserved,
// with other_config:forward-bpdu=false, the default): IEEE 802.1D/802.1Q
// 01:80:c2:00:00:00-0f (STP, pause, LACP, LLDP, ...), Extreme's EDP/EAPS and
// Cisco's ISL, CDP/VTP/DTP/PAgP/UDLD, PVST+, UplinkFast and CFM addresses.
[[nodiscard]] constexpr bool is_reserved_mac(std::uint64_t mac) noexcept {
    const std::uint64_t low = mac & 0xffffff;
    switch (mac >> 24) {
    case 0x0180c2: return low <= 0x0f;
    case 0x00e02b: return low == 0 || low == 4 || low == 6;
    case 0x01000c:
        return low == 0 || low == 0xcccccc || low == 0xcccccd || low == 0xcdcdcd || (low & ~7ULL) == 0xccccc0;
    default: return false;
    }
}

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
        const std::int64_t now = ctx.now();
        sw->expire(now); // as Open vSwitch's main loop does before it switches a frame
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
        if (is_reserved_mac(k.eth_dst)) return; // STP, LACP, CDP, ...
        if ((k.eth_src & 0x010000000000ULL) == 0) {
            // A gratuitous ARP (a request for the sender's own address, or a
            // broadcast reply) refreshes its MAC even within the second.
            const bool garp = k.eth_type == 0x0806 && k.eth_dst == 0xffffffffffffULL &&
                              (k.arp_op == 2 || (k.arp_op == 1 && k.arp_spa == k.arp_tpa));
            sw->learn(k.eth_src, vlan, in, now, garp);
        }

        // Output TCIs: untagged for access ports; for trunks the VLAN with the
        // frame's priority, untagged only when both are 0 (VLAN 0 with a
        // priority keeps a priority tag, as xvlan_put writes it).
        const std::uint16_t original = k.vlan_tci;
        const std::uint16_t pcp = tagged ? static_cast<std::uint16_t>(original & proto::vlan_pcp_mask) : 0;
        const std::uint16_t trunk_tci =
            (vlan | pcp) == 0 ? 0 : static_cast<std::uint16_t>(pcp | proto::vlan_cfi | vlan);
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
