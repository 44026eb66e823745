// Private to flowpipe (detail/): reserved_array<T>, n elements of address
// space reserved at once and never moved, constructed by the owner as it
// grows.
//
// The one idea: reserve, do not allocate. mmap with MAP_NORESERVE takes
// address space only; a page takes memory when it is first written, so the
// memory an owner holds follows the elements it constructed, while every
// element keeps one address for its life (the learned-flow store hands out
// record addresses, as the flow slab does) and element i is one add from one
// base pointer, not a load of its chunk's address first (the store's chunks
// cost 1K-flow learns of new MACs 68 vs 79 M/s).
//
// Only trivially destructible T (nothing is destroyed; the mapping goes).
// Under AddressSanitizer the part not constructed yet is poisoned, as the
// end of a heap block would be, so a read past the owner's elements is
// reported.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>

#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define FLOWPIPE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLOWPIPE_ASAN 1
#endif
#endif
#ifndef FLOWPIPE_ASAN
#define FLOWPIPE_ASAN 0
#endif
#if FLOWPIPE_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace flowpipe::detail {

template <class T>
class reserved_array {
    static_assert(std::is_trivially_destructible_v<T>, "reserved_array: nothing is destroyed");

  public:
    // Room for n elements (std::bad_alloc when the address space is not there).
    explicit reserved_array(std::size_t n) : bytes_(std::max<std::size_t>(n * sizeof(T), 1)) {
        void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        p_ = static_cast<T*>(p);
        poison(p_, bytes_, true);
    }
    reserved_array(const reserved_array&) = delete;
    reserved_array& operator=(const reserved_array&) = delete;
    ~reserved_array() {
        poison(p_, bytes_, false);
        ::munmap(p_, bytes_);
    }

    [[nodiscard]] T* get() const noexcept { return p_; }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_ / sizeof(T); }
    // Default-constructs elements [first, first + n), never constructed before.
    void construct(std::size_t first, std::size_t n) {
        poison(p_ + first, n * sizeof(T), false);
        std::uninitialized_default_construct_n(p_ + first, n);
    }

  private:
    static void poison([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t bytes,
                       [[maybe_unused]] bool on) noexcept {
#if FLOWPIPE_ASAN
        if (on)
            __asan_poison_memory_region(p, bytes);
        else
            __asan_unpoison_memory_region(p, bytes);
#endif
    }

    std::size_t bytes_;
    T* p_ = nullptr;
};

} // namespace flowpipe::detail
