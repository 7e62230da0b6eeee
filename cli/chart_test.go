package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestChartNameIsSVG: --chart must name an .svg file; anything else is
// refused with exit 2 before any work (each command line also carries a
// second usage error that would stop it if the chart check did not).
func TestChartNameIsSVG(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"lab", "--chart", "lab.png", "--only", "no-such-cell"}, "--chart lab.png: charts are SVG now; name the file lab.svg"},
		{[]string{"lab", "--chart", "out/Lab.PNG", "--only", "no-such-cell"}, "name the file out/Lab.svg"},
		{[]string{"lab", "soak", "--chart", "soak.png", "--conns", "0"}, "--chart soak.png: charts are SVG now; name the file soak.svg"},
		{[]string{"lab", "storm", "--chart", "storm.pdf", "--conns", "0"}, "--chart storm.pdf: charts are SVG; name the file FILE.svg"},
		{[]string{"lab", "storm", "--chart", "storm", "--conns", "0"}, "charts are SVG; name the file FILE.svg"},
	} {
		var out, errOut bytes.Buffer
		if code := Run(tc.args, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("flatline %v: exit %d, %q; want exit 2 and %q", tc.args, code, errOut.String(), tc.want)
		}
	}
	if err := checkChartName("lab.SVG"); err != nil {
		t.Errorf("lab.SVG: %v", err)
	}
	if err := checkChartName(""); err != nil {
		t.Errorf("no chart: %v", err)
	}
}
