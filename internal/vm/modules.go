package vm

import (
	"bufio"
	"bytes"
	"path"
	"strings"
)

// LabModules are the kernel modules the lab and the integration tests
// use, by name: veth pairs, nftables with connection tracking, the
// policer, counters and reject, netem for the path faults, inet_diag for
// socket dumps, AF_PACKET for captures. Names a kernel has built in or
// lacks are skipped.
var LabModules = []string{
	"crc32c_generic", "crc32c_intel", // libcrc32c (nf_tables, nf_conntrack) asks the crypto API for crc32c
	"veth",
	"nf_tables", "nft_ct", "nft_limit", "nft_counter", "nft_reject_inet", "nft_reject_ipv4", "nft_reject_ipv6",
	"nf_conntrack", "sch_netem", "sch_tbf",
	"inet_diag", "tcp_diag", "af_packet",
	"nfnetlink", "xfrm_user", // netlink.NewHandleAt opens NETLINK_XFRM and NETLINK_NETFILTER sockets
}

// ModuleName is the name of a module file path: "kernel/net/sched/sch_netem.ko.xz"
// is "sch_netem" (dashes and underscores are the same to the kernel).
func ModuleName(p string) string {
	b := path.Base(p)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// ParseModulesDep parses modules.dep: each line "path: dep dep ...",
// paths relative to the modules directory. It returns the dependencies of
// each module path, in the file's order (a module's full dependency list,
// the one it needs loaded first last).
func ParseModulesDep(data []byte) map[string][]string {
	deps := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(mod) == "" {
			continue
		}
		deps[strings.TrimSpace(mod)] = strings.Fields(rest)
	}
	return deps
}

// LoadOrder returns the module paths to load, each after everything it
// depends on, for the modules named in want; names not in deps (built in,
// or absent from this kernel) are returned in missing.
func LoadOrder(deps map[string][]string, want []string) (order, missing []string) {
	byName := map[string]string{}
	for p := range deps {
		byName[ModuleName(p)] = p
	}
	seen := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		// modules.dep lists the transitive dependencies with the one to
		// load first last: visit from the end, each before its users.
		ds := deps[p]
		for i := len(ds) - 1; i >= 0; i-- {
			visit(ds[i])
		}
		order = append(order, p)
	}
	for _, name := range want {
		p, ok := byName[strings.ReplaceAll(name, "-", "_")]
		if !ok {
			missing = append(missing, name)
			continue
		}
		visit(p)
	}
	return order, missing
}

// ModinfoDepends returns the depends= field of a module's .modinfo
// section: the names of the modules it needs loaded first.
func ModinfoDepends(modinfo []byte) []string {
	for _, kv := range bytes.Split(modinfo, []byte{0}) {
		v, ok := bytes.CutPrefix(kv, []byte("depends="))
		if !ok {
			continue
		}
		var out []string
		for _, d := range strings.Split(string(v), ",") {
			if d = strings.TrimSpace(d); d != "" {
				out = append(out, strings.ReplaceAll(d, "-", "_"))
			}
		}
		return out
	}
	return nil
}
