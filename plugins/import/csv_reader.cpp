#include "csv_reader.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace plugins::import {

byte_source::byte_source(const std::string& path) : buffer_(1 << 16) {
    file_ = std::fopen(path.c_str(), "rbe");
    if (file_ == nullptr) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    if (std::fseek(file_, 0, SEEK_END) == 0) {
        const long end = std::ftell(file_);
        size_ = end > 0 ? static_cast<uint64_t>(end) : 0;
        std::rewind(file_);
    }
}

byte_source::~byte_source() {
    if (file_ != nullptr) std::fclose(file_);
}

bool byte_source::fill() {
    len_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    pos_ = 0;
    if (len_ == 0 && std::ferror(file_)) throw std::runtime_error(std::string("read error: ") + std::strerror(errno));
    return len_ > 0;
}

csv_reader::csv_reader(byte_source& in, char delimiter) : in_(in), delimiter_(delimiter) {
    // A UTF-8 byte order mark (Excel writes one) is not part of the first header name.
    if (in_.peek() == 0xEF) {
        in_.get();
        if (in_.get() != 0xBB || in_.get() != 0xBF) {
            throw std::runtime_error("line 1: the file starts with a broken byte order mark; is it UTF-8?");
        }
    }
}

void csv_reader::skip_rest_of_line() {
    for (int c = in_.peek(); c != -1; c = in_.peek()) {
        in_.get();
        if (c == '\n') {
            ++line_;
            return;
        }
    }
}

bool csv_reader::next(record& out) {
    out.fields.clear();
    out.error.clear();
    // Blank lines separate nothing: skip them.
    for (;;) {
        const int c = in_.peek();
        if (c == -1) return false;
        if (c == '\n') {
            in_.get();
            ++line_;
        } else if (c == '\r') {
            in_.get();
        } else {
            break;
        }
    }
    out.line = line_;
    size_t bytes = 0;
    std::string field;
    for (;;) {
        field.clear();
        int c = in_.peek();
        if (c == '"') {
            in_.get();
            const uint64_t opened = line_;
            for (;;) {
                c = in_.get();
                if (c == -1) {
                    out.error = "a quoted field opened on line " + std::to_string(opened) + " is never closed";
                    return true;
                }
                if (c == '"') {
                    if (in_.peek() == '"') {
                        in_.get();
                        field += '"';
                        continue;
                    }
                    break;
                }
                if (c == '\n') ++line_;
                field += static_cast<char>(c);
                if (++bytes > max_record_bytes) {
                    out.error = "the record is longer than " + std::to_string(max_record_bytes) + " bytes";
                    skip_rest_of_line();
                    return true;
                }
            }
            c = in_.peek();
            if (c != delimiter_ && c != '\n' && c != '\r' && c != -1) {
                out.error = "unexpected character after a closing quote (quotes inside a field are written \"\")";
                skip_rest_of_line();
                return true;
            }
        } else {
            for (c = in_.peek(); c != -1 && c != delimiter_ && c != '\n' && c != '\r'; c = in_.peek()) {
                if (c == '"') {
                    out.error = "a quote inside an unquoted field (quote the whole field and write quotes as \"\")";
                    skip_rest_of_line();
                    return true;
                }
                field += static_cast<char>(in_.get());
                if (++bytes > max_record_bytes) {
                    out.error = "the record is longer than " + std::to_string(max_record_bytes) + " bytes";
                    skip_rest_of_line();
                    return true;
                }
            }
        }
        out.fields.push_back(std::move(field));
        c = in_.get();
        if (c == delimiter_) {
            // Delimiters count too: a line of nothing but commas is a record of that size
            // (and as many empty fields), bounded like any other.
            if (++bytes > max_record_bytes) {
                out.error = "the record is longer than " + std::to_string(max_record_bytes) + " bytes";
                skip_rest_of_line();
                return true;
            }
            continue;
        }
        if (c == '\r') {
            if (in_.peek() == '\n') in_.get();
            ++line_;
            return true;
        }
        if (c == '\n') ++line_;
        return true;  // '\n' or the end of the input
    }
}

bool line_reader::next(record& out) {
    out.fields.assign(1, std::string());
    out.error.clear();
    auto& line = out.fields[0];
    for (;;) {
        int c = in_.peek();
        if (c == -1) return false;
        out.line = line_;
        line.clear();
        for (c = in_.get(); c != -1 && c != '\n'; c = in_.get()) {
            if (line.size() < csv_reader::max_record_bytes) line += static_cast<char>(c);
            else out.error = "the line is longer than " + std::to_string(csv_reader::max_record_bytes) + " bytes";
        }
        ++line_;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (out.line == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // byte order mark
        if (line.find_first_not_of(" \t") != std::string::npos || !out.error.empty()) return true;
    }
}

}  // namespace plugins::import
