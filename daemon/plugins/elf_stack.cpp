#include "plugins/elf_stack.hpp"

#include <elf.h>

#include <cstring>
#include <fstream>

namespace ticketd {

std::optional<bool> wants_executable_stack(const std::filesystem::path& file, std::string& error) {
    std::ifstream in(file, std::ios::binary);
    Elf64_Ehdr header{};
    if (!in.read(reinterpret_cast<char*>(&header), sizeof header) ||
        std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64) {
        error = "not a 64-bit ELF file";
        return std::nullopt;
    }
    if (header.e_phentsize != sizeof(Elf64_Phdr)) {
        error = "unexpected ELF program header size";
        return std::nullopt;
    }
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        Elf64_Phdr ph{};
        in.seekg(static_cast<std::streamoff>(header.e_phoff + i * sizeof ph));
        if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) {
            error = "truncated ELF program headers";
            return std::nullopt;
        }
        if (ph.p_type == PT_GNU_STACK) return (ph.p_flags & PF_X) != 0;
    }
    return true;  // no PT_GNU_STACK: the loader assumes an executable stack
}

}  // namespace ticketd
