// Streaming readers for the import plugin: a buffered file source, an RFC 4180 CSV
// record reader (quoted fields with embedded delimiters, quotes and newlines, CRLF or LF,
// a UTF-8 byte order mark) and a line reader for NDJSON. Memory is bounded by the
// longest record (max_record_bytes), never by the file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace plugins::import {

class byte_source {
   public:
    explicit byte_source(const std::string& path);  // throws std::runtime_error
    ~byte_source();
    byte_source(const byte_source&) = delete;
    byte_source& operator=(const byte_source&) = delete;

    int get() {
        if (pos_ == len_ && !fill()) return -1;
        ++offset_;
        return static_cast<unsigned char>(buffer_[pos_++]);
    }
    int peek() {
        if (pos_ == len_ && !fill()) return -1;
        return static_cast<unsigned char>(buffer_[pos_]);
    }
    uint64_t offset() const { return offset_; }  // bytes consumed
    uint64_t size() const { return size_; }

   private:
    bool fill();
    std::FILE* file_ = nullptr;
    std::vector<char> buffer_;
    size_t pos_ = 0, len_ = 0;
    uint64_t offset_ = 0, size_ = 0;
};

struct record {
    std::vector<std::string> fields;
    uint64_t line = 0;  // 1-based line the record starts on
    std::string error;  // set when the record is malformed (its fields are then unusable)
};

class csv_reader {
   public:
    static constexpr size_t max_record_bytes = 1 << 20;

    csv_reader(byte_source& in, char delimiter);
    // Reads the next record; false at the end of the input. Blank lines are skipped.
    bool next(record& out);

   private:
    void skip_rest_of_line();
    byte_source& in_;
    char delimiter_;
    uint64_t line_ = 1;
};

class line_reader {
   public:
    explicit line_reader(byte_source& in) : in_(in) {}
    // Reads the next non-blank line (without its line ending); false at the end.
    bool next(record& out);  // out.fields[0] is the line

   private:
    byte_source& in_;
    uint64_t line_ = 1;
};

}  // namespace plugins::import
