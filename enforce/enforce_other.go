//go:build !linux

package enforce

import (
	"runtime"

	"github.com/flatline-dev/flatline"
)

func notSupported() error {
	return &flatline.NotSupportedError{Feature: "cgroup eBPF enforcement", Needs: "Linux 5.9", GOOS: runtime.GOOS}
}

// Enforcer is a plan attached to a cgroup; Linux only.
type Enforcer struct{}

// Attach fails with an error matching flatline.ErrNotSupported.
func Attach(string, Options) (*Enforcer, error) { return nil, notSupported() }

// Plan returns the zero plan.
func (e *Enforcer) Plan() flatline.Plan { return flatline.Plan{} }

// Cgroup returns "".
func (e *Enforcer) Cgroup() string { return "" }

// Stats fails with an error matching flatline.ErrNotSupported.
func (e *Enforcer) Stats() (Stats, error) { return Stats{}, notSupported() }

// Pin fails with an error matching flatline.ErrNotSupported.
func (e *Enforcer) Pin(string) (string, error) { return "", notSupported() }

// Close does nothing.
func (e *Enforcer) Close() error { return nil }

// Detach fails with an error matching flatline.ErrNotSupported.
func Detach(string, string) (Stats, error) { return Stats{}, notSupported() }

// Program is an eBPF program attached to a cgroup.
type Program struct {
	ID     uint32
	Name   string
	Attach string
}

// Attached fails with an error matching flatline.ErrNotSupported.
func Attached(string) ([]Program, error) { return nil, notSupported() }

// Orphan is a pinned enforcement whose cgroup no longer exists.
type Orphan struct {
	CgroupID uint64
	Dir      string
	Stats    Stats
}

// DetachOrphans fails with an error matching flatline.ErrNotSupported.
func DetachOrphans(string) ([]Orphan, error) { return nil, notSupported() }

// IsCgroupRoot fails with an error matching flatline.ErrNotSupported.
func IsCgroupRoot(string) (bool, error) { return false, notSupported() }
