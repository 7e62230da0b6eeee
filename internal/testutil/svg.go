package testutil

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

// SVGNode is an element of a parsed SVG document.
type SVGNode struct {
	Name string            // the element's local name: svg, g, text, circle…
	Attr map[string]string // its attributes by local name
	Text string            // its character data (not its children's)
	Kids []*SVGNode
}

// ParseSVG decodes svg strictly (encoding/xml rejects what is not
// well-formed XML, characters XML forbids among it) and fails t unless it
// is one <svg> element.
func ParseSVG(t testing.TB, svg []byte) *SVGNode {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	d.Strict = true
	root := &SVGNode{}
	stack := []*SVGNode{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		top := stack[len(stack)-1]
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &SVGNode{Name: tok.Name.Local, Attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			top.Kids = append(top.Kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.Text += string(tok)
		}
	}
	if len(root.Kids) != 1 || root.Kids[0].Name != "svg" {
		t.Fatalf("want one <svg> root, got %d elements", len(root.Kids))
	}
	return root.Kids[0]
}

// All returns the elements under n, n among them, that match.
func (n *SVGNode) All(match func(*SVGNode) bool) []*SVGNode {
	var out []*SVGNode
	if match(n) {
		out = append(out, n)
	}
	for _, k := range n.Kids {
		out = append(out, k.All(match)...)
	}
	return out
}

// Class matches the elements of class c.
func Class(c string) func(*SVGNode) bool {
	return func(n *SVGNode) bool { return n.Attr["class"] == c }
}

// Element matches the elements named name.
func Element(name string) func(*SVGNode) bool {
	return func(n *SVGNode) bool { return n.Name == name }
}

// Texts returns the text of the elements of class c under n, in order.
func (n *SVGNode) Texts(c string) []string {
	var out []string
	for _, e := range n.All(Class(c)) {
		out = append(out, e.Text)
	}
	return out
}
