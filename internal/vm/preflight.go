package vm

import (
	"errors"
	"os/exec"
	"strings"
)

// Tool is a program `flatline lab --kernel` runs on the host, and the
// Debian package that installs it.
type Tool struct {
	Program string
	Package string
	Why     string
	// Static means the program must be statically linked (it runs in the
	// guest, which has no libraries).
	Static bool
}

// tools is what a run needs: booting, the guest's init, and, when the
// kernel is fetched from the distribution, apt's download and dpkg-deb.
func tools(fetch bool) []Tool {
	t := []Tool{
		{Program: "qemu-system-x86_64", Package: "qemu-system-x86", Why: "boots the kernel"},
		{Program: "busybox", Package: "busybox-static", Why: "the guest's init and shell", Static: true},
	}
	if fetch {
		t = append(t,
			Tool{Program: "apt-get", Package: "apt", Why: "downloads the kernel package"},
			Tool{Program: "dpkg-deb", Package: "dpkg", Why: "unpacks it"})
	}
	return t
}

// ErrMissing matches a *MissingError.
var ErrMissing = errors.New("vm: programs missing")

// MissingError names every program a run needs that this host lacks, and
// the one command that installs them all.
type MissingError struct{ Tools []Tool }

func (e *MissingError) Error() string {
	var what, pkgs []string
	for _, t := range e.Tools {
		w := t.Program + " (" + t.Why
		if t.Static {
			w += ", statically linked"
		}
		what = append(what, w+")")
		pkgs = append(pkgs, t.Package)
	}
	return "vm: missing " + strings.Join(what, ", ") + "; install them with: " + InstallCommand(pkgs)
}

// Is makes errors.Is(err, ErrMissing) true.
func (e *MissingError) Is(target error) bool { return target == ErrMissing }

// InstallCommand is the one apt-get command that installs pkgs.
func InstallCommand(pkgs []string) string {
	return "apt-get install --no-install-recommends " + strings.Join(pkgs, " ")
}

// Preflight checks, before anything is downloaded or built, that the host
// has every program a run of `flatline lab --kernel` needs (fetch: the
// kernel comes from the distribution's packages), and returns a
// *MissingError naming all that are missing at once.
func Preflight(fetch bool) error {
	return preflight(tools(fetch), exec.LookPath, Static)
}

func preflight(need []Tool, look func(string) (string, error), static func(string) (bool, error)) error {
	var missing []Tool
	for _, t := range need {
		p, err := look(t.Program)
		if err == nil && t.Static {
			ok, serr := static(p)
			err = serr
			if serr == nil && !ok {
				err = errors.New("not static")
			}
		}
		if err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return &MissingError{Tools: missing}
	}
	return nil
}
