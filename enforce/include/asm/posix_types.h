/* Stand-in for <asm/posix_types.h>; see types.h next to it. */
#include <asm-generic/posix_types.h>
