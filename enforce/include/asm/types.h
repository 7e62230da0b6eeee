/* Architecture-independent stand-in for <asm/types.h>, so that
 * <linux/bpf.h> compiles for -target bpf without the host's multiarch
 * include directory. */
#include <asm-generic/types.h>
