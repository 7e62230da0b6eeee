//go:build !linux

package lab

import (
	"context"
	"io"
)

// EndpointEnv carries an endpoint's spec to a re-executed lab endpoint
// process (Linux only).
const EndpointEnv = "FLATLINE_LAB_ENDPOINT"

// Run needs Linux network namespaces; elsewhere it returns an error matching
// ErrNotSupported.
func Run(ctx context.Context, opts Options) (*Result, error) { return nil, errPlatform() }

// RunEndpoint needs Linux; elsewhere it returns an error matching
// ErrNotSupported.
func RunEndpoint(ctx context.Context, ready io.Writer) error { return errPlatform() }
