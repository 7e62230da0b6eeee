package topology

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestIntegrationMiddleboxRuleset compares the middlebox chain, as nft
// lists it in the router namespace, with testdata/middlebox.nft, and
// checks that the conntrack timeout is set in the router's namespace and
// nowhere else.
func TestIntegrationMiddleboxRuleset(t *testing.T) {
	nft := nftOracle(t)
	hostBefore, _ := os.ReadFile(establishedTimeout)
	topo := newTestTopology(t)
	if err := topo.Middlebox(10 * time.Second); err != nil {
		t.Fatalf("Middlebox: %v", err)
	}
	var out []byte
	var timeout []byte
	if err := topo.Router.Do(func() error {
		var err error
		out, err = exec.Command(nft, "list", "chain", "inet", tableName, chainMiddlebox).Output()
		if err != nil {
			return err
		}
		timeout, err = os.ReadFile(establishedTimeout)
		return err
	}); err != nil {
		t.Fatalf("in the router: %v", err)
	}
	checkGolden(t, "middlebox.nft", out)
	if strings.TrimSpace(string(timeout)) != "10" {
		t.Errorf("router's %s = %q, want 10", establishedTimeout, timeout)
	}
	if hostAfter, _ := os.ReadFile(establishedTimeout); string(hostAfter) != string(hostBefore) {
		t.Errorf("the host's %s changed: %q -> %q", establishedTimeout, hostBefore, hostAfter)
	}
}

// nftOracle is the path of nft, the test's oracle; it skips t without it.
func nftOracle(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("nft (nftables) not installed: no oracle")
	}
	return nft
}

// checkGolden compares a chain as `nft list` printed it with
// testdata/name (FLATLINE_UPDATE_GOLDEN=1 rewrites the file).
func checkGolden(t *testing.T, name string, listed []byte) {
	t.Helper()
	got := normalizeRuleset(string(listed))
	golden := filepath.Join("testdata", name)
	if os.Getenv("FLATLINE_UPDATE_GOLDEN") != "" {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("chain (-%s +nft list):\n%s", golden, diff)
	}
}

// normalizeRuleset drops nft's handles and counter values and trims
// indentation, so the golden file compares rules only.
func normalizeRuleset(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		line = counterRE.ReplaceAllString(line, "counter")
		b.WriteString(line + "\n")
	}
	return b.String()
}

var counterRE = regexp.MustCompile(`counter packets \d+ bytes \d+`)
