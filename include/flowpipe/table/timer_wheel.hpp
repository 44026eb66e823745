// timer_wheel: the flow table's timers. One intrusive doubly-linked list
// per millisecond slot of a wheel of 2^14 slots, threaded through two 32-bit
// links per flow (8 bytes a flow; the heap it replaces reserved 2 entries of
// 16 bytes per flow).
//
// A flow is linked in the slot of a *lower bound* of its expiry (the bound
// it had when it was linked); a flow used or re-learned since just has a
// later expiry, and is moved when its slot comes round (lazy, as the heap
// was: a re-learn touches only the flow's timestamp). expire(now) walks the
// slots from the last time it ran to `now` (at most one revolution), so it
// costs the slots walked plus the flows it finds there: those that expire,
// and those whose bound lies a revolution or more ahead (a 300 s timeout is
// looked at once every 16.4 s) or moved since they were linked.
//
// Exact boundary: a flow is due when now >= its expiry (flow_table gives
// expires_at() = modified + timeout*1000 + 1, i.e. now > modified +
// timeout*1000). A flow linked with a bound at or before the last walked
// time goes on a separate "late" list that every expire() looks at first.
//
// The links live in the caller's nodes, reached through a `Links` object
// with `prev(id)` and `next(id)` returning std::uint32_t&. `prev` of a list
// head holds head_bit | slot; `prev == unlinked` means not on any list.
// The slot array (64 KiB) is allocated on the first link, so tables without
// timeouts pay nothing. Link and unlink are O(1) and never allocate after
// that.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>

namespace flowpipe {

class timer_wheel {
  public:
    static constexpr std::uint32_t npos = 0xffffffffu;
    static constexpr std::uint32_t unlinked = 0xffffffffu;
    static constexpr std::uint32_t head_bit = 0x80000000u;
    static constexpr unsigned slot_bits = 14;
    static constexpr std::size_t slot_count = std::size_t{1} << slot_bits;
    static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
    static constexpr std::uint32_t late_slot = static_cast<std::uint32_t>(slot_count); // the extra list

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return (heads_ ? (slot_count + 1) * sizeof(std::uint32_t) : 0) + sizeof(*this);
    }

    // Links node `id` (not linked now) with expiry lower bound `bound`.
    template <class Links>
    void link(Links& l, std::uint32_t id, std::int64_t bound) {
        if (!heads_) {
            heads_ = std::make_unique<std::uint32_t[]>(slot_count + 1);
            std::fill_n(heads_.get(), slot_count + 1, npos);
        }
        const std::uint32_t s = bound <= cursor_
                                    ? late_slot
                                    : static_cast<std::uint32_t>(static_cast<std::uint64_t>(bound) & (slot_count - 1));
        push(l, id, s);
        ++size_;
    }

    // Unlinks node `id`; nothing when it is not linked.
    template <class Links>
    void unlink(Links& l, std::uint32_t id) noexcept {
        const std::uint32_t p = l.prev(id);
        if (p == unlinked) return;
        detach(l, id);
        --size_;
    }

    // Node `to` (not linked) takes linked node `from`'s place in its list,
    // which leaves `from` unlinked: a flow that moves to another slot keeps
    // its timer, and its order among timers of equal due.
    template <class Links>
    void take_place(Links& l, std::uint32_t from, std::uint32_t to) noexcept {
        const std::uint32_t p = l.prev(from), n = l.next(from);
        l.prev(to) = p;
        l.next(to) = n;
        if (p & head_bit)
            heads_[p & ~head_bit] = to;
        else
            l.next(p) = to;
        if (n != npos) l.prev(n) = to;
        l.prev(from) = unlinked;
        l.next(from) = npos;
    }

    // Calls fire(id) for every linked node with due_of(id) <= now (after
    // unlinking it; fire must not link it again), re-links the others it
    // looks at by their current due. Returns how many fired.
    template <class Links, class Due, class Fire>
    std::size_t expire(Links& l, std::int64_t now, Due&& due_of, Fire&& fire) {
        if (!heads_ || size_ == 0) {
            if (now > cursor_) cursor_ = now;
            return 0;
        }
        std::size_t n = visit(l, late_slot, now, due_of, fire);
        if (now <= cursor_) return n;
        const std::int64_t first = cursor_ == std::numeric_limits<std::int64_t>::min() ||
                                           now - cursor_ >= static_cast<std::int64_t>(slot_count)
                                       ? now - static_cast<std::int64_t>(slot_count) + 1
                                       : cursor_ + 1;
        // The walk's re-links must land by their bound, not on the late list.
        const std::int64_t old_cursor = cursor_;
        cursor_ = std::min(old_cursor, first - 1);
        for (std::int64_t t = first; t <= now && size_ != 0; ++t)
            n += visit(l, static_cast<std::uint32_t>(static_cast<std::uint64_t>(t) & (slot_count - 1)), now, due_of,
                       fire);
        cursor_ = now;
        return n;
    }

    // The linked node with the smallest due_of(id) (ties: any), or npos.
    template <class Links, class Due>
    [[nodiscard]] std::uint32_t earliest(Links& l, Due&& due_of) const {
        if (!heads_ || size_ == 0) return npos;
        std::uint32_t best = npos;
        std::int64_t best_due = never;
        auto scan = [&](std::uint32_t s) {
            for (std::uint32_t id = heads_[s]; id != npos; id = l.next(id)) {
                const std::int64_t d = due_of(id);
                if (best == npos || d < best_due) best = id, best_due = d;
            }
        };
        scan(late_slot);
        // Every node not seen yet has a bound >= the slot time being walked.
        const std::int64_t start = cursor_ == std::numeric_limits<std::int64_t>::min() ? 0 : cursor_ + 1;
        for (std::size_t i = 0; i < slot_count; ++i) {
            const std::int64_t t = start + static_cast<std::int64_t>(i);
            if (best != npos && t >= best_due && cursor_ != std::numeric_limits<std::int64_t>::min()) break;
            scan(static_cast<std::uint32_t>(static_cast<std::uint64_t>(t) & (slot_count - 1)));
        }
        return best;
    }

    // A time at or before the earliest expiry of any linked node (never when none).
    template <class Links>
    [[nodiscard]] std::int64_t next_bound(Links&) const noexcept {
        if (!heads_ || size_ == 0) return never;
        if (heads_[late_slot] != npos || cursor_ == std::numeric_limits<std::int64_t>::min())
            return std::numeric_limits<std::int64_t>::min();
        for (std::size_t i = 1; i <= slot_count; ++i) {
            const std::int64_t t = cursor_ + static_cast<std::int64_t>(i);
            if (heads_[static_cast<std::uint64_t>(t) & (slot_count - 1)] != npos) return t;
        }
        return never;
    }

  private:
    template <class Links>
    void push(Links& l, std::uint32_t id, std::uint32_t s) noexcept {
        const std::uint32_t h = heads_[s];
        l.prev(id) = head_bit | s;
        l.next(id) = h;
        if (h != npos) l.prev(h) = id;
        heads_[s] = id;
    }

    template <class Links>
    void detach(Links& l, std::uint32_t id) noexcept {
        const std::uint32_t p = l.prev(id), nx = l.next(id);
        if (p & head_bit) {
            heads_[p & ~head_bit] = nx;
            if (nx != npos) l.prev(nx) = p;
        } else {
            l.next(p) = nx;
            if (nx != npos) l.prev(nx) = p;
        }
        l.prev(id) = unlinked;
        l.next(id) = npos;
    }

    template <class Links, class Due, class Fire>
    std::size_t visit(Links& l, std::uint32_t s, std::int64_t now, Due& due_of, Fire& fire) {
        std::uint32_t id = heads_[s];
        if (id == npos) return 0;
        heads_[s] = npos; // take the whole list: re-links go to fresh lists
        std::size_t n = 0;
        while (id != npos) {
            const std::uint32_t nx = l.next(id);
            l.prev(id) = unlinked;
            l.next(id) = npos;
            --size_;
            const std::int64_t d = due_of(id);
            if (d <= now) {
                fire(id);
                ++n;
            } else {
                link(l, id, d);
            }
            id = nx;
        }
        return n;
    }

    std::unique_ptr<std::uint32_t[]> heads_;
    std::int64_t cursor_ = std::numeric_limits<std::int64_t>::min(); // every bound <= cursor_ was walked
    std::size_t size_ = 0;
};

} // namespace flowpipe
