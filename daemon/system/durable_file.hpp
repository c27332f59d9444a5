// Files and directories that must survive a crash. A file's bytes are durable once it is
// fdatasync'd; its name once its directory is fsynced (a rename, create or unlink), and a
// new directory's once its parent is. Every function throws std::system_error naming
// what failed.
#pragma once

#include <filesystem>
#include <cstdint>
#include <string>
#include <string_view>

namespace ticketd {

// Throws std::system_error for errno, naming what failed.
[[noreturn]] void throw_errno(const std::string& what);

// fsync a directory, so that a rename, create or unlink in it is durable.
// Throws std::system_error.
void sync_directory(const std::filesystem::path& dir);

// create_directories, each directory it makes fsynced into its parent (outermost first),
// so that none of them can vanish in a crash after their contents were made durable.
void create_durable_directories(const std::filesystem::path& dir);

// Moves a complete file into place for good: fdatasync it, rename it to `to`, fsync
// `to`'s directory. Returns the file's size.
uint64_t rename_durably(const std::filesystem::path& file, const std::filesystem::path& to);

// Writes `bytes` as the file `to`, all or nothing: a temporary file next to it (`to` with
// ".tmp" appended), written, then renamed durably. A new file gets `mode`; when `to` exists
// already, its owner, group and mode are kept (a file a root-run command rewrites stays as
// the operator set it).
void write_file_durably(const std::filesystem::path& to, std::string_view bytes, unsigned mode = 0640);

}  // namespace ticketd
