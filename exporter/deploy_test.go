package exporter

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// deployDir is the repository's deploy/ directory, from this package's.
const deployDir = "../deploy"

// servedNames are the metric names the exporter serves, histogram series
// included.
func servedNames(t *testing.T) map[string]bool {
	t.Helper()
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc, 64)
	go func() { e.reg.Describe(ch); close(ch) }()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	for _, h := range []string{"flatline_socket_worst_case_seconds", "flatline_scrape_duration_seconds"} {
		if !names[h] {
			t.Fatalf("%s not described", h)
		}
		names[h+"_bucket"], names[h+"_sum"], names[h+"_count"] = true, true, true
	}
	return names
}

// flatlineNames are the flatline_* metric names an expression mentions.
func flatlineNames(expr string) []string {
	return regexp.MustCompile(`flatline_[a-z_]+`).FindAllString(expr, -1)
}

// TestDashboardQueriesServedMetrics keeps the Grafana dashboard true: it
// parses, and every flatline_* metric its queries use is one the exporter
// serves.
func TestDashboardQueriesServedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "flatline-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	served := servedNames(t)
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, name := range flatlineNames(tg.Expr) {
				n++
				if !served[name] {
					t.Errorf("panel %q queries %s, which the exporter does not serve", p.Title, name)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no flatline_* metric in any panel")
	}
}

// TestAlertRules checks the rules with promtool (check rules, and the
// unit tests next to them), and that they use only served metrics.
func TestAlertRules(t *testing.T) {
	rules := filepath.Join(deployDir, "prometheus", "flatline-rules.yml")
	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	served := servedNames(t)
	for _, name := range flatlineNames(string(b)) {
		if !served[name] && !strings.HasPrefix(name, "flatline_rules") {
			t.Errorf("rules use %s, which the exporter does not serve", name)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus): rules not checked")
	}
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	cmd := exec.Command(promtool, "test", "rules", "flatline-rules.test.yml")
	cmd.Dir = filepath.Dir(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}
