// Package svgchart draws the lab's charts as SVG text: panels stacked in
// one figure, each with a title, a linear or logarithmic y axis, a linear
// or categorical x axis with ticks and labels, series drawn as lines,
// markers, bars and whiskers, horizontal rules and a legend.
//
// It replaces gonum.org/v1/plot in flatline: that package parses its
// twelve embedded fonts in an init function that every flatline command
// paid for (3.7 MB of resident memory before main ran). SVG leaves fonts
// to the viewer, so this package has no state, no init and no dependency
// outside the standard library.
//
// Write validates the whole figure before it writes a byte: a NaN or
// infinite value, one beyond ±MaxAbs, one under MinLog on a log axis, a
// colour that is not #rrggbb, a size out of [MinSize, MaxSize], more than
// MaxPoints points, or labels that leave no room for the plot is an error
// matching ErrInvalid that says which panel, series and point. Every
// string (titles, labels, category and series names) may come from a
// hostile local process: it is cut to MaxLabel runes (a category's to
// MaxTickLabel), control, format and non-XML characters become U+FFFD,
// and it is XML-escaped. A panel with no data draws its axes and says "no
// data".
//
// Text is laid out with an estimated width per character (SVG has no
// font metrics without a font): labels in a wide font may overrun a
// little; nothing depends on it but looks.
package svgchart
