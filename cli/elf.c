/* SPDX-License-Identifier: MIT */
/*
 * elf.c - what `ptreclaim run` reads of ELF files before it execs: whether
 * the library is one the dynamic loader can preload here, and whether the
 * command has a dynamic loader at all.  ld.so says nothing useful in
 * either case: it skips a preload it cannot use and runs on without it.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

/* The header of path into eh; NULL, or what is wrong with the file. */
static const char *read_header(const char *path, Elf64_Ehdr *eh, int *fdp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return "cannot be opened";
	n = pread(fd, eh, sizeof(*eh), 0);
	if (n < 0) {
		close(fd);
		return errno == EISDIR ? "is a directory" : "cannot be read";
	}
	if (n < EI_NIDENT || memcmp(eh->e_ident, ELFMAG, SELFMAG)) {
		close(fd);
		return n == 0 ? "is empty" : "is not an ELF file";
	}
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return (size_t)n < sizeof(*eh) ? "is a truncated ELF file" : NULL;
}

/* The first program header of type type into ph: 1, 0 if there is none,
 * -1 if the headers cannot be read. */
static int find_phdr(int fd, const Elf64_Ehdr *eh, uint32_t type,
		     Elf64_Phdr *ph)
{
	if (eh->e_phnum && eh->e_phentsize < sizeof(*ph))
		return -1;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		off_t at = (off_t)(eh->e_phoff + (Elf64_Off)i * eh->e_phentsize);

		if (pread(fd, ph, sizeof(*ph), at) != (ssize_t)sizeof(*ph))
			return -1;
		if (ph->p_type == type)
			return 1;
	}
	return 0;
}

/* Whether the dynamic section has DF_1_PIE in DT_FLAGS_1: a position-
 * independent program, which ld.so refuses to preload. */
static bool is_pie(int fd, const Elf64_Ehdr *eh)
{
	Elf64_Phdr ph;

	if (find_phdr(fd, eh, PT_DYNAMIC, &ph) != 1)
		return false;
	for (Elf64_Off o = 0; o + sizeof(Elf64_Dyn) <= ph.p_filesz;
	     o += sizeof(Elf64_Dyn)) {
		Elf64_Dyn d;

		if (pread(fd, &d, sizeof(d), (off_t)(ph.p_offset + o)) !=
		    (ssize_t)sizeof(d) || d.d_tag == DT_NULL)
			return false;
		if (d.d_tag == DT_FLAGS_1)
			return d.d_un.d_val & DF_1_PIE;
	}
	return false;
}

const char *pr_elf_not_library(const char *path)
{
	Elf64_Ehdr eh, self;
	int fd = -1;
	const char *why = read_header(path, &eh, &fd);

	if (why)
		return why;
	/* Class, byte order and machine of this program, which is built
	 * with the library. */
	if (!read_header("/proc/self/exe", &self, NULL) &&
	    (eh.e_ident[EI_CLASS] != self.e_ident[EI_CLASS] ||
	     eh.e_ident[EI_DATA] != self.e_ident[EI_DATA] ||
	     eh.e_machine != self.e_machine))
		why = "is an ELF object for another machine";
	else if (eh.e_type != ET_DYN)
		why = "is not a shared library (its ELF type is not ET_DYN)";
	else if (is_pie(fd, &eh))
		why = "is a program, not a shared library";
	close(fd);
	return why;
}

bool pr_elf_is_static(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = -1;
	bool interp;

	/* Only 64-bit executables are judged; a script, or anything we
	 * cannot read, is left to the kernel and ld.so. */
	if (read_header(path, &eh, &fd) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	/* Headers we cannot read: say nothing. */
	interp = find_phdr(fd, &eh, PT_INTERP, &ph) != 0;
	close(fd);
	return !interp;
}
