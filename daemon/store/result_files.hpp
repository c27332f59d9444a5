// Job results as files under <state_dir>/results/<job id>: written to a temporary file,
// fsynced and renamed (then the directory fsynced) before the job is marked succeeded,
// so a stored "succeeded" always has its result on disk.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace ticketd {

class result_files {
   public:
    explicit result_files(std::filesystem::path dir);
    std::filesystem::path path_of(const std::string& job_id) const { return dir_ / job_id; }
    // Throws std::system_error on I/O failure.
    void write(const std::string& job_id, std::string_view bytes) const;
    // Makes an existing file (on the same filesystem) the job's result: fsync, rename.
    // Returns its size.
    uint64_t adopt(const std::string& job_id, const std::filesystem::path& file) const;
    void remove(const std::string& job_id) const noexcept;

   private:
    std::filesystem::path dir_;
};

}  // namespace ticketd
