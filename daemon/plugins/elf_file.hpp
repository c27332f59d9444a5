// What ticketd reads of a plugin file itself, before any other code reads or loads it:
// whether its section headers lie inside the file (Boost.DLL's symbol listing trusts
// them, allocating what they claim), and whether it asks for an executable stack
// (PT_GNU_STACK with PF_X, or no PT_GNU_STACK at all). Loading such a library would make
// every thread's stack executable, and systemd's MemoryDenyWriteExecute refuses it;
// ticketd refuses it first, before any of its code runs.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace ticketd {

// True when every section header, and every section's bytes (a .bss's aside: SHT_NOBITS
// holds none, unless it claims to be the section names), lie within the file, and each
// symbol table holds whole symbols; false with `error` set otherwise, or when it is not a 64-bit ELF.
bool elf_sections_in_bounds(const std::filesystem::path& file, std::string& error);

// true/false, or nullopt with `error` set when the file is not a readable 64-bit ELF.
std::optional<bool> wants_executable_stack(const std::filesystem::path& file, std::string& error);

}  // namespace ticketd
