// SPDX-License-Identifier: MIT
/*
 * symtab.c - pc -> function name for tracebacks, from the ELF symbol
 * tables of the loaded modules.
 *
 * dladdr() only sees dynamic symbols, so static functions (most of a C
 * program) would print as "??".  Instead, on the first traceback, each
 * module that holds a pc is mapped read-only from its file and its
 * .symtab (or .dynsym when stripped) is searched linearly: tracebacks are
 * rare (fatal errors, SIGQUIT), so no index is built.  The mappings stay
 * for the life of the process.  Nothing here allocates with malloc, so it
 * works from signal handlers, as long as the fault was not inside the
 * dynamic loader itself.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAXMODS 32

struct module {
	uintptr_t bias, lo, hi;		/* load bias; [lo, hi) executable */
	char path[256];
	const Elf64_Sym *syms;
	size_t nsyms;
	const char *strs;
	bool loaded;
};

static struct module mods[MAXMODS];
static int nmods;
static struct lock symlock;

/* Mapped files and their names, no heap pointer: 10 KB not to scan. */
void symtab_init(void)
{
	gc_noscan_global(mods, sizeof(mods));
}

struct findarg {
	uintptr_t pc;
	struct module *mod;
};

static int findmod(struct dl_phdr_info *info, size_t size, void *data)
{
	struct findarg *fa = data;
	int i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const Elf64_Phdr *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		struct module *m;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) ||
		    fa->pc < lo || fa->pc >= lo + ph->p_memsz)
			continue;
		if (nmods == MAXMODS)
			return 1;
		m = &mods[nmods++];
		m->bias = info->dlpi_addr;
		m->lo = lo;
		m->hi = lo + ph->p_memsz;
		if (info->dlpi_name && info->dlpi_name[0]) {
			strncpy(m->path, info->dlpi_name, sizeof(m->path) - 1);
		} else {
			/* The main program: its real path, for addr2line. */
			ssize_t n = readlink("/proc/self/exe", m->path, sizeof(m->path) - 1);

			if (n <= 0)
				strcpy(m->path, "/proc/self/exe");
		}
		fa->mod = m;
		return 1;
	}
	return 0;
}

static void loadsyms(struct module *m)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	struct stat st;
	void *map;
	int fd, i, want;

	m->loaded = true;
	fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(*eh)) {
		close(fd);
		return;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return;
	eh = map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(*sh) > (size_t)st.st_size)
		return;
	sh = (const Elf64_Shdr *)((const char *)map + eh->e_shoff);
	/* Prefer the full symbol table; fall back to the dynamic one. */
	for (want = SHT_SYMTAB; want >= SHT_SYMTAB; want = want == SHT_SYMTAB ? SHT_DYNSYM : 0) {
		for (i = 0; i < eh->e_shnum; i++) {
			const Elf64_Shdr *s = &sh[i], *str;

			if (s->sh_type != (Elf64_Word)want || s->sh_link >= eh->e_shnum)
				continue;
			str = &sh[s->sh_link];
			if (s->sh_offset + s->sh_size > (size_t)st.st_size ||
			    str->sh_offset + str->sh_size > (size_t)st.st_size)
				continue;
			m->syms = (const Elf64_Sym *)((const char *)map + s->sh_offset);
			m->nsyms = s->sh_size / sizeof(Elf64_Sym);
			m->strs = (const char *)map + str->sh_offset;
			return;
		}
		if (want == SHT_DYNSYM)
			break;
	}
}

/*
 * symbolize() - name of the function containing @pc.
 * Return: true with *name, *off (pc - function start), *mod (file path)
 * and *modoff (pc - load bias, for addr2line); false if no module.
 */
bool symbolize(uintptr_t pc, const char **name, uintptr_t *off, const char **mod,
	       uintptr_t *modoff)
{
	struct module *m = NULL;
	uintptr_t addr, best = 0;
	size_t i;
	int k;

	lock(&symlock);
	for (k = 0; k < nmods; k++) {
		if (pc >= mods[k].lo && pc < mods[k].hi) {
			m = &mods[k];
			break;
		}
	}
	if (!m) {
		struct findarg fa = { pc, NULL };

		dl_iterate_phdr(findmod, &fa);
		m = fa.mod;
	}
	if (m && !m->loaded)
		loadsyms(m);
	unlock(&symlock);
	if (!m)
		return false;

	*mod = m->path;
	addr = pc - m->bias;
	*modoff = addr;
	*name = NULL;
	*off = 0;
	for (i = 0; i < m->nsyms; i++) {
		const Elf64_Sym *s = &m->syms[i];

		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || !s->st_value)
			continue;
		if (addr >= s->st_value && addr < s->st_value + (s->st_size ? s->st_size : 1) &&
		    s->st_value >= best) {
			best = s->st_value;
			*name = m->strs + s->st_name;
			*off = addr - s->st_value;
		}
	}
	return true;
}
