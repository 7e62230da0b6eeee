//go:build !linux

package storm

import "context"

// DefaultLabStrategies are the strategies a storm run compares by default.
func DefaultLabStrategies() []Strategy { return []Strategy{Static, Jitter, Coprime, Flatline} }

// RunLab needs Linux network namespaces: elsewhere it returns an error
// matching flatline.ErrNotSupported.
func RunLab(context.Context, LabConfig) (*LabResult, error) {
	return nil, notSupported("the storm lab (network namespaces)")
}
