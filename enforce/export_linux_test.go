package enforce

// ClearPlan empties the plan e's programs read: attached, they still run
// on every connection and setsockopt of the cgroup, and return at once
// (BenchmarkConnectAccept's floor: the kernel running them at all).
func ClearPlan(e *Enforcer) error { return e.objs.PlanMap.Put(uint32(0), enforcePlan{}) }

// ReadBack is how e's apply program reads a socket's values: "btf" (the
// kernel's struct tcp_sock) or "getsockopt".
func ReadBack(e *Enforcer) string { return e.readBack }

// AttachGetsockopt is Attach with apply_getsockopt as apply, wherever
// apply itself could load.
func AttachGetsockopt(path string, o Options) (*Enforcer, error) {
	return attachReading(path, o, false)
}
