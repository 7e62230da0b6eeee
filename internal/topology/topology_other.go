//go:build !linux

package topology

import (
	"context"
	"time"
)

// New needs Linux network namespaces; elsewhere it returns an error matching
// ErrNotSupported.
func New(ctx context.Context) (*Topology, error) { return nil, errPlatform() }

// Name is the common part of the topology's namespace names.
func (t *Topology) Name() string { return Prefix + t.id }

// Close does nothing where no topology can be built.
func (t *Topology) Close() error { return nil }

// Apply needs Linux; elsewhere it returns an error matching ErrNotSupported.
func (t *Topology) Apply(f Fault) error { return errPlatform() }

// Heal needs Linux; elsewhere it returns an error matching ErrNotSupported.
func (t *Topology) Heal() error { return errPlatform() }

// PoliceACKs needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) PoliceACKs(perSecond, burst uint32) error { return errPlatform() }

// ClearPolice needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) ClearPolice() error { return errPlatform() }

// PolicedPackets needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) PolicedPackets() (uint64, error) { return 0, errPlatform() }

// FaultDrops needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) FaultDrops() (uint64, error) { return 0, errPlatform() }

// Middlebox needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) Middlebox(idle time.Duration) error { return errPlatform() }

// MiddleboxDrops needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) MiddleboxDrops() (uint64, error) { return 0, errPlatform() }

// Shape needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) Shape(s Shaping) error { return errPlatform() }

// RandomLoss needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) RandomLoss(l Loss) error { return errPlatform() }

// RandomLossOnPorts needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) RandomLossOnPorts(l Loss, lo, hi uint16) error { return errPlatform() }

// LossDrops needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) LossDrops() (map[uint16]uint64, error) { return nil, errPlatform() }

// HostQueues needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) HostQueues(packets int) error { return errPlatform() }

// RouterOnAllCPUs needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func (t *Topology) RouterOnAllCPUs() error { return errPlatform() }
