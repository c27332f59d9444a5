#include "plugins/elf_file.hpp"

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <fstream>

namespace ticketd {

namespace {
bool read_header(std::ifstream& in, Elf64_Ehdr& header, std::string& error) {
    if (!in.read(reinterpret_cast<char*>(&header), sizeof header) ||
        std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64) {
        error = "not a 64-bit ELF file";
        return false;
    }
    return true;
}

// offset + size <= limit, without overflowing.
bool within(uint64_t offset, uint64_t size, uint64_t limit) { return offset <= limit && size <= limit - offset; }
}  // namespace

bool elf_sections_in_bounds(const std::filesystem::path& file, std::string& error) {
    std::error_code ec;
    const uint64_t file_size = std::filesystem::file_size(file, ec);
    std::ifstream in(file, std::ios::binary);
    Elf64_Ehdr header{};
    if (ec || !read_header(in, header, error)) {
        if (error.empty()) error = "an unreadable file (" + ec.message() + ")";
        return false;
    }
    // Without section headers there is no symbol table to find the entry point in (and
    // Boost.DLL would read one at e_shoff regardless).
    if (header.e_shnum == 0) {
        error = "no ELF section headers";
        return false;
    }
    if (header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shstrndx >= header.e_shnum ||
        !within(header.e_shoff, uint64_t{header.e_shnum} * sizeof(Elf64_Shdr), file_size)) {
        error = "ELF section headers outside the file";
        return false;
    }
    in.seekg(static_cast<std::streamoff>(header.e_shoff));
    for (unsigned i = 0; i < header.e_shnum; ++i) {
        Elf64_Shdr sh{};
        if (!in.read(reinterpret_cast<char*>(&sh), sizeof sh)) {
            error = "truncated ELF section headers";
            return false;
        }
        // A .bss (SHT_NOBITS) occupies no file bytes; the names section is read whatever its type.
        if ((sh.sh_type != SHT_NOBITS || i == header.e_shstrndx) && !within(sh.sh_offset, sh.sh_size, file_size)) {
            error = "ELF section " + std::to_string(i) + " extends past the end of the file";
            return false;
        }
        if ((sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) && sh.sh_size % sizeof(Elf64_Sym) != 0) {
            error = "ELF symbol table " + std::to_string(i) + " is not a whole number of symbols";
            return false;
        }
    }
    return true;
}

std::optional<bool> wants_executable_stack(const std::filesystem::path& file, std::string& error) {
    std::ifstream in(file, std::ios::binary);
    Elf64_Ehdr header{};
    if (!read_header(in, header, error)) return std::nullopt;
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
