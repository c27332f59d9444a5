// Job ids that lead to their row without an index.
//
// The protocol's job id is 128 bits that nobody can guess. Random ids would do that, but
// a random key means a random B-tree: every accepted job would write an entry on a random
// leaf of SQLite's id index, so once the store holds a few hundred thousand jobs a batch
// of a thousand jobs dirties a thousand 4 KiB pages, and the store's cost per job roughly
// doubles as it grows (docs/performance.md, "What grew with the store"). Here an id is the
// AES-128 encryption, under a key kept in the store, of the job's seq (its accept number,
// the table's rowid) and 64 fresh random bits. Without the key the ids are
// indistinguishable from random 128-bit values, and since AES is a permutation two seqs
// never share an id; with the key the store reads the seq back out of an id and finds the
// row by rowid, in the append-only B-tree. The random half means that even someone holding
// the key cannot make up a valid id: the row's stored id must match all 128 bits.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace ticketd {

class job_ids {
   public:
    using key = std::array<uint8_t, 16>;
    static key new_key();  // from the kernel's CSPRNG

    explicit job_ids(const key& k);
    ~job_ids();
    job_ids(const job_ids&) = delete;
    job_ids& operator=(const job_ids&) = delete;

    // The id of the job with this seq: 32 lowercase hex digits, a new one at every call.
    std::string make(int64_t seq) const;
    // The seq an id was made from; nullopt unless `id` is 32 lowercase hex digits. Any
    // such text decodes to some seq: only the row's stored id tells whether it is real.
    std::optional<int64_t> seq_of(std::string_view id) const;

   private:
    struct cipher;
    std::unique_ptr<cipher> encrypt_, decrypt_;
    mutable std::mutex mutex_;  // an OpenSSL cipher context serves one caller at a time
};

}  // namespace ticketd
