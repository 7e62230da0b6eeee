// Package vm boots another Linux kernel in a virtual machine and runs a
// flatline command inside it, so that the lab and the integration tests
// can be measured on the kernels users run (Debian 11, 12 and 13: 5.10,
// 6.1 and 6.12) and not only on the host's.
//
// A kernel comes from the distribution's packages, fetched with the
// machine's own apt and the mirror it is configured with (Fetch), or from
// an image and modules directory the user has (FromPath). The guest is
// qemu-system-x86_64 with KVM where it works and TCG where it does not,
// booted from an initramfs (a newc cpio archive built here) that holds
// busybox for an init, a statically linked flatline binary, and the
// kernel modules the lab needs with their dependencies. The guest's
// standard output comes back on a second serial port, its console on the
// first; qemu is killed on every exit path.
package vm
