package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newPlanCmd() *cobra.Command {
	return &cobra.Command{Use: "plan", RunE: func(*cobra.Command, []string) error { return errors.New("plan is not built yet") }}
}
