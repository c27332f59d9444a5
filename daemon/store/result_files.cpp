#include "store/result_files.hpp"

#include "system/durable_file.hpp"


namespace ticketd {

result_files::result_files(std::filesystem::path dir) : dir_(std::move(dir)) {
    create_durable_directories(dir_);
}

void result_files::write(const std::string& job_id, std::string_view bytes) const {
    write_file_durably(path_of(job_id), bytes);
}

uint64_t result_files::adopt(const std::string& job_id, const std::filesystem::path& file) const {
    return rename_durably(file, path_of(job_id));
}

void result_files::remove(const std::string& job_id) const noexcept {
    std::error_code ec;
    std::filesystem::remove(path_of(job_id), ec);
}

}  // namespace ticketd
