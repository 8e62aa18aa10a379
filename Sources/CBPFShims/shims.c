#define _GNU_SOURCE
#include "CBPFShims.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct bpf_object *eg_object_open_mem(const void *bytes, size_t size, const char *name,
				      const char *pin_root_path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts,
		.object_name = name,
		.pin_root_path = pin_root_path,
	);
	return bpf_object__open_mem(bytes, size, &opts);
}

/*
 * libbpf reports through a global callback, but a load runs on one thread, so a
 * thread-local buffer keeps concurrent loads from mixing their logs. Only the
 * tail matters (the verifier's last lines name the problem), so older text is
 * dropped when the buffer fills.
 */
#define EG_LOG_SIZE 8192
static __thread char eg_log[EG_LOG_SIZE];
static __thread size_t eg_log_len;
static int eg_log_verbose;

static int eg_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[1024];
	int n;

	if (level == LIBBPF_DEBUG && !eg_log_verbose)
		return 0;
	n = vsnprintf(line, sizeof(line), fmt, args);
	if (n <= 0)
		return 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (eg_log_verbose)
		fputs(line, stderr);
	if (eg_log_len + n >= EG_LOG_SIZE) {
		size_t keep = EG_LOG_SIZE / 2;
		if (keep > eg_log_len)
			keep = eg_log_len;
		memmove(eg_log, eg_log + eg_log_len - keep, keep);
		eg_log_len = keep;
		if (eg_log_len + n >= EG_LOG_SIZE)
			eg_log_len = 0;
	}
	memcpy(eg_log + eg_log_len, line, n);
	eg_log_len += n;
	return 0;
}

void eg_libbpf_log_install(int verbose)
{
	eg_log_verbose = verbose;
	libbpf_set_print(eg_libbpf_print);
}

size_t eg_libbpf_log_take(char *out, size_t out_size)
{
	size_t n = eg_log_len;

	if (out_size == 0)
		return 0;
	if (n >= out_size)
		n = out_size - 1;
	memcpy(out, eg_log + eg_log_len - n, n);
	out[n] = 0;
	eg_log_len = 0;
	return n;
}
