#include "system/random_id.hpp"

#include "system/hex.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <cstdint>
#include <stdexcept>

namespace ticketd {

namespace {
// The kernel's CSPRNG, fetched 4 KiB at a time per thread (one syscall per 256 ids instead
// of one per id: every request gets an id). Each byte is handed out once.
struct random_pool {
    std::array<uint8_t, 4096> bytes{};
    size_t used = sizeof bytes;

    void take(uint8_t* out, size_t n) {
        if (used + n > bytes.size()) {
            size_t filled = 0;
            while (filled < bytes.size()) {
                const ssize_t got = getrandom(bytes.data() + filled, bytes.size() - filled, 0);
                if (got < 0) {
                    if (errno == EINTR) continue;
                    throw std::runtime_error("getrandom failed");
                }
                filled += static_cast<size_t>(got);
            }
            used = 0;
        }
        std::memcpy(out, bytes.data() + used, n);
        std::memset(bytes.data() + used, 0, n);
        used += n;
    }
};
thread_local random_pool pool;

// A forked child has a copy of the pool of the thread that forked: it must not hand out
// the bytes its parent will, so its copy is dropped (a test forks; a plugin may).
void drop_pool_in_child() {
    std::memset(pool.bytes.data(), 0, pool.bytes.size());
    pool.used = pool.bytes.size();
}
[[maybe_unused]] const int fork_handler = pthread_atfork(nullptr, nullptr, drop_pool_in_child);
}  // namespace

void random_bytes(uint8_t* out, size_t n) { pool.take(out, n); }

std::string new_random_id() {
    std::array<uint8_t, 16> bytes{};
    pool.take(bytes.data(), bytes.size());
    return to_hex(bytes.data(), bytes.size());
}

bool is_random_id(std::string_view text) {
    uint8_t bytes[16];
    return text.size() == 32 && from_hex(text, bytes);
}

double random_fraction() {
    uint64_t bits = 0;
    random_bytes(reinterpret_cast<uint8_t*>(&bits), sizeof bits);
    return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

}  // namespace ticketd
