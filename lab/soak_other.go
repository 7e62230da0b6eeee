//go:build !linux

package lab

import "context"

// RunSoak needs Linux network namespaces; elsewhere it returns an error
// matching ErrNotSupported.
func RunSoak(ctx context.Context, cfg SoakConfig) (*SoakResult, error) { return nil, errPlatform() }
