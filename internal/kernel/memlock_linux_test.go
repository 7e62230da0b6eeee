package kernel

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestRemoveMemlock: on a kernel that charges BPF objects to the memory
// cgroup the limit is left as it was; before 5.11 it is lifted.
func TestRemoveMemlock(t *testing.T) {
	var before, after unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &before); err != nil {
		t.Fatal(err)
	}
	// Restored, so that the test leaves the process as it found it.
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &before)
	if err := RemoveMemlock(); err != nil {
		t.Skipf("RemoveMemlock: %v (unprivileged on a kernel before 5.11)", err)
	}
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &after); err != nil {
		t.Fatal(err)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	v, ok := ParseVersion(release)
	switch {
	case ok && !v.Less(memcgBPF):
		if after != before {
			t.Errorf("kernel %s: RLIMIT_MEMLOCK changed from %+v to %+v, want it left alone", release, before, after)
		}
	case after.Cur != unix.RLIM_INFINITY:
		t.Errorf("kernel %s: RLIMIT_MEMLOCK %+v after RemoveMemlock, want unlimited", release, after)
	}
}
