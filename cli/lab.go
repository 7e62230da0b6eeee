package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newLabCmd is a placeholder until the lab command lands.
func newLabCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "lab",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("lab is not built yet")
		},
	}
}
