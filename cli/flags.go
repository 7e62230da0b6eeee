package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// deprecatedFor annotates a hidden alias with the flag that replaces it.
const deprecatedFor = "flatline-deprecated-for"

// timeoutFlag defines --timeout, the one number (flatline.DefaultTimeout
// unless given), on p. Every command names it so; the older names a command
// had are kept as hidden aliases of the same value, warned about on use.
func timeoutFlag(fl *pflag.FlagSet, p *time.Duration, usage string, deprecated ...string) {
	fl.DurationVar(p, "timeout", flatline.DefaultTimeout, usage)
	for _, old := range deprecated {
		fl.DurationVar(p, old, flatline.DefaultTimeout, usage)
		_ = fl.SetAnnotation(old, deprecatedFor, []string{"timeout"})
		_ = fl.MarkHidden(old)
	}
}

// warnDeprecated tells on stderr which deprecated aliases the command line
// used (pflag's own notice would go to stdout, into --json output).
func warnDeprecated(cmd *cobra.Command, _ []string) {
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if by, ok := f.Annotations[deprecatedFor]; ok {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: --%s is deprecated: use --%s\n", f.Name, by[0])
		}
	})
}

// writeJSON writes v as indented JSON, the --json form of the commands
// that print one report.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
