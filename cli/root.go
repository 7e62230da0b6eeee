// Package cli implements the flatline command line. Each command lives in a
// file of its own and uses the exported API of the flatline packages; the
// one exception is `lab --kernel`, which boots guests through internal/vm
// (a runner for the lab, not an API for users).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// errSilent marks an error that a command has already reported in full; Run
// only turns it into the exit status.
var errSilent = errors.New("reported")

// Run runs the flatline command line with args (without the program name)
// and returns the process exit status: 0 on success, 1 when the work failed,
// 2 for bad usage.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errSilent):
		return 1
	default:
		fmt.Fprintf(stderr, "error: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
}

// usageError is bad input on the command line: Run exits 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "flatline",
		Short: "Make TCP connections die honestly",
		Long: `flatline turns one number, the longest a dead peer may go unnoticed, into
consistent keepalive, TCP_USER_TIMEOUT and connect settings, measures on real
kernel TCP whether they keep that promise, and shows what every socket of a
host would do if its network vanished now.`,
		SilenceUsage:     true,
		SilenceErrors:    true,
		PersistentPreRun: warnDeprecated,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newPlanCmd(), newLabCmd(), newInspectCmd(), newPcapCmd(), newEnforceCmd(), newApplyCmd(), newTraceCmd(), newExporterCmd())
	usageArgs(root)
	return root
}

// usageArgs makes every command's argument check a usage error (exit 2),
// as the documentation says: cobra's own checks (cobra.NoArgs) return
// plain errors.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			var ue usageError
			if err != nil && !errors.As(err, &ue) {
				return usageError{err}
			}
			return err
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}
