// Directories whose entries must survive a crash: a file renamed or created in a
// directory is durable only once the directory itself is fsynced, and a new directory
// only once its parent is.
#pragma once

#include <filesystem>
#include <string>

namespace ticketd {

// Throws std::system_error for errno, naming what failed.
[[noreturn]] void throw_errno(const std::string& what);

// fsync a directory, so that a rename, create or unlink in it is durable.
// Throws std::system_error.
void sync_directory(const std::filesystem::path& dir);

// create_directories, each directory it makes fsynced into its parent (outermost first),
// so that none of them can vanish in a crash after their contents were made durable.
// Throws std::system_error.
void create_durable_directories(const std::filesystem::path& dir);

}  // namespace ticketd
