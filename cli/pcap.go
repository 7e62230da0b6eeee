package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newPcapCmd is a placeholder until the pcap command lands.
func newPcapCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "pcap",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("pcap is not built yet")
		},
	}
}
