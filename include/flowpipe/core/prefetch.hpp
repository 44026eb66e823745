// prefetch_read / prefetch_write: __builtin_prefetch that the compiler keeps.
//
// Why not the builtin alone.  GCC treats __builtin_prefetch as an operation
// without side effects. Its interprocedural analysis then finds a function
// whose only effect is a prefetch (a table's prefetch_flow, a pass of them
// that returns a count) to be pure, and deletes every call whose result goes
// unused, prefetches and all. That happened to a pass of learn's burst
// install that prefetched each key's record or new slot (a function of the
// table's, since removed: alive, it measured slower): GCC 12 at -O3 compiled
// the whole pass to nothing, while a prefetch written inline in the caller
// stayed.
// An empty volatile asm that takes the address makes each prefetch an effect
// of its own (so nothing around it is pure); it emits no instruction.
#pragma once

namespace flowpipe {

// Prefetches the line at p for reading (into every cache level).
[[gnu::always_inline]] inline void prefetch_read(const void* p) noexcept {
    __builtin_prefetch(p, 0, 3);
    asm volatile("" : : "r"(p));
}

// Prefetches the line at p for writing (prefetchw where the CPU has it).
[[gnu::always_inline]] inline void prefetch_write(const void* p) noexcept {
    __builtin_prefetch(p, 1, 3);
    asm volatile("" : : "r"(p));
}

} // namespace flowpipe
