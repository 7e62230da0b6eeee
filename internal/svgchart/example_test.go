package svgchart_test

import (
	"fmt"
	"log"
	"math"
	"strings"

	"github.com/flatline-dev/flatline/internal/svgchart"
)

// Detection times on a log axis, one column per cell, with the promise
// as a dashed rule.
func ExampleWrite() {
	var b strings.Builder
	err := svgchart.Write(&b, svgchart.Figure{Width: 640, Height: 400, Panels: []svgchart.Panel{{
		Title: "time to first error",
		X:     svgchart.Axis{Categories: []string{"idle/blackhole", "sending/blackhole"}},
		Y:     svgchart.Axis{Log: true, Label: "seconds"},
		Series: []svgchart.Series{{
			Name: "flatline", Color: "#2ca02c", Marker: svgchart.Circle,
			Points: []svgchart.Point{{X: 0, Y: 2.61}, {X: 1, Y: 3.9}},
		}},
		Rules: []svgchart.Rule{{Name: "T = 3s", Y: 3, Dashed: true}},
	}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Count(b.String(), "<circle"), "circles (two points, one legend entry)")
	// A NaN is an error, and nothing is written.
	b.Reset()
	err = svgchart.Write(&b, svgchart.Figure{Width: 640, Height: 400, Panels: []svgchart.Panel{{
		Series: []svgchart.Series{{Name: "bad", Points: []svgchart.Point{{X: 0, Y: math.NaN()}}}},
	}}})
	fmt.Println(err, b.Len())
	// Output:
	// 3 circles (two points, one legend entry)
	// panel 1 (""): series "bad": point 1: y: svgchart: invalid figure: NaN is not a finite number 0
}
