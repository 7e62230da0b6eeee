//go:build !linux

package enforce

import "context"

// Apply fails with an error matching flatline.ErrNotSupported.
func Apply(context.Context, int, ApplyOptions) (*ApplyReport, error) { return nil, notSupported() }
