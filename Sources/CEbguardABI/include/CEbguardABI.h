/* The one ABI definition lives in bpf/; this module only lets Swift import it. */
#include "../../../bpf/ebguard.h"
