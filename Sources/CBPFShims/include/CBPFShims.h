#ifndef CBPF_SHIMS_H
#define CBPF_SHIMS_H
/*
 * The few libbpf calls Swift cannot make directly: those taking LIBBPF_OPTS
 * structs (macros) and the variadic print callback.
 */
#include <stddef.h>
#include <bpf/libbpf.h>

/* bpf_object__open_mem() with object_name and an optional pin_root_path (NULL: libbpf's default). */
struct bpf_object *eg_object_open_mem(const void *bytes, size_t size, const char *name,
				      const char *pin_root_path);

/* Routes libbpf's messages (the verifier's log among them) into a bounded per-thread buffer. */
void eg_libbpf_log_install(int verbose);

/* Copies and clears what libbpf said on this thread since the last call; returns its length. */
size_t eg_libbpf_log_take(char *out, size_t out_size);

#endif
