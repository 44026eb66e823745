// The switch's control socket: a Unix stream socket that takes one command a
// line and answers each with the bridge's reply (drive it with
// `socat - UNIX-CONNECT:PATH`).
//
// The one idea: nothing here ever waits. The listening socket and every
// client are non-blocking and the switch loop calls poll() between bursts:
// it accepts who is waiting, reads what has arrived, runs each complete line
// through the handler and writes as much of the replies as the socket takes,
// keeping the rest for the next poll. A client that closed its sending side
// still gets its replies before the connection is closed, as socat expects.
//
// Control path: strings are allocated freely. Bounded: at most 16 clients, a
// line of at most 64 KiB (a longer one gets an ERROR and the connection is
// closed), at most 64 commands per client per poll (the rest wait for the
// next poll, so a script piping a thousand flows does not stall the data
// path for all of them at once).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace flowpipe::examples {

class control_socket {
  public:
    static constexpr std::size_t max_clients = 16;
    static constexpr std::size_t max_line = 64 * 1024;
    // Lines run per client per poll: a client sending thousands of flow mods
    // at once delays the next burst by at most this many commands.
    static constexpr std::size_t max_commands_per_poll = 64;

    // Listens on `path`. A stale socket file (nobody accepting) is replaced;
    // one a running switch listens on is an error.
    static std::variant<control_socket, std::string> open(const std::string& path) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.empty() || path.size() >= sizeof addr.sun_path)
            return "control socket path must be 1.." + std::to_string(sizeof addr.sun_path - 1) + " characters";
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) return path + " exists and is not a socket";
            const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            const bool alive = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
            if (probe >= 0) ::close(probe);
            if (alive) return path + " is in use by another process";
            ::unlink(path.c_str());
        }
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return std::string("socket: ") + std::strerror(errno);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0) {
            std::string e = path + ": " + std::strerror(errno);
            ::close(fd);
            return e;
        }
        return control_socket(fd, path);
    }

    control_socket(control_socket&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), clients_(std::move(o.clients_)) {}
    control_socket& operator=(control_socket&& o) noexcept {
        if (this != &o) {
            close_all();
            fd_ = std::exchange(o.fd_, -1);
            path_ = std::move(o.path_);
            clients_ = std::move(o.clients_);
        }
        return *this;
    }
    control_socket(const control_socket&) = delete;
    control_socket& operator=(const control_socket&) = delete;
    ~control_socket() { close_all(); }

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] std::size_t clients() const noexcept { return clients_.size(); }

    // Accepts, reads, answers complete lines with handler(line) -> reply,
    // writes. Never blocks. Returns the commands run.
    template <class Handler>
    std::size_t poll(Handler&& handler) {
        accept_new();
        std::size_t commands = 0;
        for (std::size_t i = 0; i < clients_.size();) {
            client& c = clients_[i];
            if (!c.eof) read_some(c);
            std::size_t budget = max_commands_per_poll, nl = std::string::npos;
            while (!c.broken && budget > 0 && (nl = c.in.find('\n')) != std::string::npos) {
                const std::string line = c.in.substr(0, nl);
                c.in.erase(0, nl + 1);
                c.out += handler(std::string_view(line));
                ++commands;
                --budget;
            }
            const bool partial = budget > 0 && !c.in.empty(); // no newline in what is left
            if (partial && c.in.size() > max_line) {
                c.out += "ERROR: line longer than " + std::to_string(max_line) + " bytes; closing\n";
                c.in.clear();
                c.eof = true;
            } else if (partial && c.eof && !c.broken) { // a last line without its newline
                c.out += handler(std::string_view(c.in));
                c.in.clear();
                ++commands;
            }
            write_some(c);
            if (c.broken || (c.eof && c.in.empty() && c.out.empty())) {
                ::close(c.fd);
                clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            ++i;
        }
        return commands;
    }

  private:
    struct client {
        int fd;
        std::string in;
        std::string out;
        bool eof = false;
        bool broken = false;
    };

    control_socket(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

    void accept_new() {
        while (true) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0) return;
            if (clients_.size() == max_clients) {
                static constexpr char busy[] = "ERROR: too many control connections\n";
                (void)::send(c, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                ::close(c);
                continue;
            }
            clients_.push_back(client{c, {}, {}});
        }
    }

    static void read_some(client& c) {
        char buf[4096];
        while (true) {
            const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                c.in.append(buf, static_cast<std::size_t>(n));
                if (c.in.size() > max_line) return;
                continue;
            }
            if (n == 0)
                c.eof = true;
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                c.broken = true;
            return;
        }
    }

    static void write_some(client& c) {
        while (!c.out.empty()) {
            const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                c.out.erase(0, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c.broken = true;
            return;
        }
    }

    void close_all() noexcept {
        for (client& c : clients_) ::close(c.fd);
        clients_.clear();
        if (fd_ >= 0) {
            ::close(fd_);
            ::unlink(path_.c_str());
            fd_ = -1;
        }
    }

    int fd_ = -1;
    std::string path_;
    std::vector<client> clients_;
};

} // namespace flowpipe::examples
