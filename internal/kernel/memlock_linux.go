package kernel

import "golang.org/x/sys/unix"

// memcgBPF is the first kernel that charges BPF maps and programs to the
// memory cgroup instead of RLIMIT_MEMLOCK.
var memcgBPF = Version{5, 11, 0}

// RemoveMemlock lifts RLIMIT_MEMLOCK where loading BPF objects is charged
// to it: kernels before 5.11, or whose release does not parse. It is what
// cilium/ebpf's rlimit package does, without the BPF map that package's
// initialiser creates (and the limit it lowers and restores) in every
// process that links it: every flatline command, --help included. An
// unprivileged caller gets EPERM.
func RemoveMemlock() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		if v, ok := ParseVersion(unix.ByteSliceToString(u.Release[:])); ok && !v.Less(memcgBPF) {
			return nil
		}
	}
	return unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY})
}
