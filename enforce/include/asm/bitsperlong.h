/* Stand-in for <asm/bitsperlong.h>; BPF is 64-bit. */
#define __BITS_PER_LONG 64
#include <asm-generic/bitsperlong.h>
