// Reads a shared object's ELF program headers to tell whether it asks for an executable
// stack (PT_GNU_STACK with PF_X, or no PT_GNU_STACK at all). Loading such a library
// would make every thread's stack executable, and systemd's MemoryDenyWriteExecute
// refuses it; ticketd refuses it first, before any of its code runs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace ticketd {

// true/false, or nullopt with `error` set when the file is not a readable 64-bit ELF.
std::optional<bool> wants_executable_stack(const std::filesystem::path& file, std::string& error);

}  // namespace ticketd
