// Classic pcap files (the libpcap savefile format, as tcpdump and Wireshark
// read and write it), without libpcap: for tests, benchmarks and demos.
//
// The reader takes a whole file as bytes and checks every record header
// against what is left, so a truncated or corrupt file ends with an error
// instead of a read past its end. Both byte orders and both timestamp
// resolutions (micro- and nanoseconds) are read; files are written in the
// host's byte order with microseconds and link type Ethernet.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace flowpipe::io {

inline constexpr std::uint32_t pcap_magic_us = 0xa1b2c3d4;
inline constexpr std::uint32_t pcap_magic_ns = 0xa1b23c4d;
inline constexpr std::uint32_t pcap_linktype_ethernet = 1;
inline constexpr std::size_t pcap_file_header_len = 24;
inline constexpr std::size_t pcap_record_header_len = 16;
// Records longer than this and than the file's snaplen are taken as corruption (libpcap's limit).
inline constexpr std::uint32_t max_record_len = 262144;

struct pcap_record {
    std::int64_t time_ns = 0;
    std::uint32_t orig_len = 0;         // length on the wire
    std::span<const std::uint8_t> data; // captured bytes (may be shorter than orig_len)
};

enum class pcap_error : std::uint8_t {
    none,
    truncated_file_header,
    bad_magic,
    not_ethernet,
    truncated_record_header,
    truncated_record,    // a record announces more bytes than the file holds
    record_over_snaplen, // a record longer than the file's snaplen (corrupt)
};

[[nodiscard]] constexpr const char* to_string(pcap_error e) noexcept {
    switch (e) {
    case pcap_error::none: return "ok";
    case pcap_error::truncated_file_header: return "file shorter than a pcap header";
    case pcap_error::bad_magic: return "not a pcap file (bad magic number)";
    case pcap_error::not_ethernet: return "link type is not Ethernet";
    case pcap_error::truncated_record_header: return "truncated record header";
    case pcap_error::truncated_record: return "record runs past the end of the file";
    case pcap_error::record_over_snaplen: return "record longer than the file's snaplen";
    }
    return "?";
}

// Iterates the records of a pcap file held in memory.
class pcap_reader {
  public:
    explicit pcap_reader(std::span<const std::uint8_t> file) noexcept : file_(file) {
        if (file.size() < pcap_file_header_len) {
            error_ = pcap_error::truncated_file_header;
            return;
        }
        std::uint32_t magic;
        std::memcpy(&magic, file.data(), 4);
        if (magic == pcap_magic_us || magic == pcap_magic_ns) {
            swap_ = false;
        } else if (__builtin_bswap32(magic) == pcap_magic_us || __builtin_bswap32(magic) == pcap_magic_ns) {
            swap_ = true;
            magic = __builtin_bswap32(magic);
        } else {
            error_ = pcap_error::bad_magic;
            return;
        }
        nanos_ = magic == pcap_magic_ns;
        snaplen_ = u32(16);
        if ((u32(20) & 0x0fffffff) != pcap_linktype_ethernet) {
            error_ = pcap_error::not_ethernet;
            return;
        }
        at_ = pcap_file_header_len;
    }

    // The next record, or nullopt at the end of the file or on an error.
    [[nodiscard]] std::optional<pcap_record> next() noexcept {
        if (error_ != pcap_error::none || at_ == file_.size()) return std::nullopt;
        if (file_.size() - at_ < pcap_record_header_len) {
            error_ = pcap_error::truncated_record_header;
            return std::nullopt;
        }
        const std::uint32_t sec = u32(at_), frac = u32(at_ + 4), incl = u32(at_ + 8), orig = u32(at_ + 12);
        at_ += pcap_record_header_len;
        if (incl > std::max<std::uint32_t>(snaplen_, max_record_len)) {
            error_ = pcap_error::record_over_snaplen;
            return std::nullopt;
        }
        if (file_.size() - at_ < incl) {
            error_ = pcap_error::truncated_record;
            return std::nullopt;
        }
        pcap_record r;
        r.time_ns = std::int64_t{sec} * 1'000'000'000 + (nanos_ ? std::int64_t{frac} : std::int64_t{frac} * 1000);
        r.orig_len = orig;
        r.data = file_.subspan(at_, incl);
        at_ += incl;
        return r;
    }

    [[nodiscard]] pcap_error error() const noexcept { return error_; }
    [[nodiscard]] bool ok() const noexcept { return error_ == pcap_error::none; }

  private:
    [[nodiscard]] std::uint32_t u32(std::size_t off) const noexcept {
        std::uint32_t v;
        std::memcpy(&v, file_.data() + off, 4);
        return swap_ ? __builtin_bswap32(v) : v;
    }

    std::span<const std::uint8_t> file_;
    std::size_t at_ = 0;
    std::uint32_t snaplen_ = 0;
    bool swap_ = false;
    bool nanos_ = false;
    pcap_error error_ = pcap_error::none;
};

// Reads a whole file into memory (for pcap_reader); nullopt when it cannot be read.
[[nodiscard]] inline std::optional<std::vector<std::uint8_t>> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Appends records to a pcap file (Ethernet, microseconds, host byte order).
class pcap_writer {
  public:
    explicit pcap_writer(const std::string& path, std::uint32_t snaplen = 65535) : out_(path, std::ios::binary) {
        if (!out_) return;
        std::uint8_t h[pcap_file_header_len] = {};
        put32(h, pcap_magic_us);
        put16(h + 4, 2);
        put16(h + 6, 4);
        put32(h + 16, snaplen);
        put32(h + 20, pcap_linktype_ethernet);
        out_.write(reinterpret_cast<const char*>(h), sizeof h);
    }

    [[nodiscard]] bool ok() const noexcept { return static_cast<bool>(out_); }

    void write(std::span<const std::uint8_t> frame, std::int64_t time_ns = 0) {
        std::uint8_t h[pcap_record_header_len];
        put32(h, static_cast<std::uint32_t>(time_ns / 1'000'000'000));
        put32(h + 4, static_cast<std::uint32_t>((time_ns % 1'000'000'000) / 1000));
        put32(h + 8, static_cast<std::uint32_t>(frame.size()));
        put32(h + 12, static_cast<std::uint32_t>(frame.size()));
        out_.write(reinterpret_cast<const char*>(h), sizeof h);
        out_.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
        ++records_;
    }

    [[nodiscard]] std::size_t records() const noexcept { return records_; }
    void flush() { out_.flush(); }

  private:
    static void put32(std::uint8_t* p, std::uint32_t v) noexcept { std::memcpy(p, &v, 4); }
    static void put16(std::uint8_t* p, std::uint16_t v) noexcept { std::memcpy(p, &v, 2); }

    std::ofstream out_;
    std::size_t records_ = 0;
};

} // namespace flowpipe::io
