// Command flatline plans, measures and inspects TCP dead-peer detection.
//
// It is a thin shell over the flatline packages; see the cli package.
package main

import (
	"os"

	"github.com/flatline-dev/flatline/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
