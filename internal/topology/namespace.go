package topology

import (
	"errors"
	"fmt"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// Prefix starts the name of every network namespace and nftables table the
// lab makes. A sweep removes only names with this prefix whose creating
// process is gone.
const Prefix = "flt-"

// NetnsDir is where named network namespaces are bind-mounted, as iproute2
// does, so that `ip netns` and `ss -N` can see them (kernel.NetNSDir).
const NetnsDir = kernel.NetNSDir

// ErrNotSupported is returned where the lab cannot run: a platform without
// network namespaces, or a process without the privilege to make them.
var ErrNotSupported = errors.New("lab: not supported")

// UnsupportedError says which feature or privilege is missing. It matches
// ErrNotSupported and flatline.ErrNotSupported with errors.Is.
type UnsupportedError struct {
	Feature string // what is missing, e.g. "root (CAP_SYS_ADMIN, CAP_NET_ADMIN)"
	Err     error  // the underlying failure, if any
}

func (e *UnsupportedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("lab: needs %s: %v", e.Feature, e.Err)
	}
	return fmt.Sprintf("lab: needs %s", e.Feature)
}

func (e *UnsupportedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotSupported) and errors.Is(err,
// flatline.ErrNotSupported) true.
func (e *UnsupportedError) Is(target error) bool {
	return target == ErrNotSupported || target == flatline.ErrNotSupported
}

// Namespace is a named network namespace made by the lab, bind-mounted at
// Path so that it outlives the threads that use it.
type Namespace struct {
	Name string // e.g. flt-1234-9f3a2c-cli
	Path string // NetnsDir/Name
}

// nsOwner parses the creating PID out of a lab namespace name
// ("flt-<pid>-<id>-<role>"). ok is false for names the lab did not make.
func nsOwner(name string) (pid int, ok bool) { return kernel.NetNSOwner(name, Prefix) }
