#ifndef CEBGUARD_OBJECTS_H
#define CEBGUARD_OBJECTS_H
#include <stddef.h>

/* A BPF object compiled by `make` and embedded in the binary (see scripts/embed-bpf). */
struct eg_embedded_object {
	const char *name;		/* file stem: "doctor" for bpf/doctor.bpf.c */
	const unsigned char *bytes;
	size_t size;
};

extern const struct eg_embedded_object eg_embedded_objects[];
extern const size_t eg_embedded_object_count;

/* Swift does not import arrays of unknown size; this reaches one entry. */
static inline const struct eg_embedded_object *eg_embedded_object_at(size_t index)
{
	return &eg_embedded_objects[index];
}

#endif
