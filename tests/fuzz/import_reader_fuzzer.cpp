// The import job type's readers of an uploaded file: the CSV record reader (the first
// input byte picks the delimiter) and the NDJSON line reader, over the rest of the input.
// Each record's bytes stay within max_record_bytes and lines only move forward.
#include "fuzz_support.hpp"
#include "import/csv_reader.hpp"

#include <cstdint>
#include <optional>

using namespace plugins::import;

namespace {
std::filesystem::path* file = nullptr;

template <typename Reader>
void read_all(Reader& reader) {
    record rec;
    uint64_t line = 0;
    while (reader.next(rec)) {
        size_t bytes = 0;
        for (const auto& f : rec.fields) bytes += f.size();
        if (rec.error.empty() && bytes > csv_reader::max_record_bytes) ticketd::fuzz::violated("a record over the limit");
        if (rec.line < line) ticketd::fuzz::violated("a record before the previous one");
        line = rec.line;
    }
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    file = new std::filesystem::path(ticketd::fuzz::scratch_dir("import") / "upload");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static constexpr char delimiters[] = {',', ';', '\t', '|'};
    ticketd::fuzz::write_file(*file, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    {
        byte_source in(file->string());
        std::optional<csv_reader> csv;
        try {
            csv.emplace(in, delimiters[data[0] % 4]);  // refuses a broken byte order mark, as the plugin reports
        } catch (const std::runtime_error&) {
        }
        if (csv) read_all(*csv);
    }
    {
        byte_source in(file->string());
        line_reader lines(in);
        read_all(lines);
    }
    return 0;
}
