package bpmn

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxDepth bounds element nesting; real diagrams stay far below it and the bound keeps hostile input
// from growing the stack of the recursive conversion.
const maxDepth = 256

// xnode is a namespace-resolved XML element kept in document order. Parsing first builds this generic
// tree so that unknown extension elements survive and positions are known for error messages.
type xnode struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*xnode
	text     strings.Builder
	line     int
}

// attr returns the value of the attribute with the given local name and no namespace.
func (n *xnode) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Local == local && (a.Name.Space == "" || a.Name.Space == nsBPMN) {
			return a.Value
		}
	}
	return ""
}

// attrNS returns the value of the attribute with the given namespace and local name.
func (n *xnode) attrNS(space, local string) string {
	for _, a := range n.attrs {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value
		}
	}
	return ""
}

// body returns the element's character data with surrounding whitespace removed.
func (n *xnode) body() string { return strings.TrimSpace(n.text.String()) }

// readAll reads at most limit bytes and reports ErrTooLarge when the reader holds more.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		return nil, &ParseError{Kind: ErrTooLarge, Problems: []Problem{{Reason: "size limit must be positive"}}}
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read bpmn document: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, &ParseError{Kind: ErrTooLarge, Problems: []Problem{{
			Reason: fmt.Sprintf("document is larger than the limit of %d bytes", limit)}}}
	}
	return data, nil
}

// decodeTree parses data into a generic element tree. Character data is kept only for elements whose
// text matters (conditions, timers, scripts); DI and other foreign subtrees are still walked so that
// malformed XML anywhere is reported.
func decodeTree(data []byte) (*xnode, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = charsetReader
	var (
		root  *xnode
		stack []*xnode
		// scopes holds, per open element, the namespace URIs declared on it or above, so a prefix
		// nobody declared (which encoding/xml leaves as the element's namespace) is reported
		// instead of the element being skipped as a foreign one.
		scopes  [][]string
		unbound unboundPrefixes
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, _ := dec.InputPos()
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				line = se.Line
			}
			return nil, &ParseError{Kind: ErrMalformed, Line: line, Problems: []Problem{{Reason: "malformed XML: " + err.Error()}}}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			line, _ := dec.InputPos()
			n := &xnode{name: t.Name, attrs: t.Attr, line: line}
			declared := declaredNamespaces(scopes, t.Attr)
			scopes = append(scopes, declared)
			unbound.check(t, declared, line, nearestID(stack, n))
			if len(stack) == 0 {
				if root != nil {
					return nil, &ParseError{Kind: ErrMalformed, Line: line, Problems: []Problem{{Reason: "malformed XML: more than one root element"}}}
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
			if len(stack) > maxDepth {
				return nil, &ParseError{Kind: ErrTooDeep, Line: line, Problems: []Problem{{
					Reason: fmt.Sprintf("elements are nested deeper than %d levels", maxDepth)}}}
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
				scopes = scopes[:len(scopes)-1]
			}
		case xml.CharData:
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				if top.name.Space != nsBPMNDI && top.name.Space != nsDC && top.name.Space != nsDI {
					top.text.Write(t)
				}
			}
		}
	}
	if root == nil {
		return nil, &ParseError{Kind: ErrMalformed, Problems: []Problem{{Reason: "malformed XML: no root element"}}}
	}
	if len(unbound.problems) > 0 {
		return nil, &ParseError{Kind: ErrUnboundPrefix, Line: unbound.line, Problems: unbound.problems}
	}
	return root, nil
}

// wellKnownNamespaces are the namespaces modelers bind to these prefixes, suggested when a document
// uses one of them without declaring it.
var wellKnownNamespaces = map[string]string{
	"bpmn": nsBPMN, "bpmn2": nsBPMN, "zeebe": nsZeebe, "camunda": nsCamunda, "rapport": nsRapport,
	"bpmndi": nsBPMNDI, "dc": nsDC, "di": nsDI, "modeler": nsModeler, "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}

// declaredNamespaces is the namespace URIs in scope for an element: its parent's and those its own
// xmlns attributes declare.
func declaredNamespaces(scopes [][]string, attrs []xml.Attr) []string {
	var parent []string
	if len(scopes) > 0 {
		parent = scopes[len(scopes)-1]
	}
	var own []string
	for _, a := range attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			own = append(own, a.Value)
		}
	}
	if len(own) == 0 {
		return parent
	}
	return append(append([]string{"http://www.w3.org/XML/1998/namespace"}, parent...), own...)
}

// unboundPrefixes collects one problem per prefix used without a declaration.
type unboundPrefixes struct {
	seen     []string
	problems []Problem
	line     int
}

// nearestID is the id of n or of its closest ancestor that has one, so a problem of an element
// without an id still names where it is.
func nearestID(stack []*xnode, n *xnode) string {
	if id := n.attr("id"); id != "" {
		return id
	}
	for i := len(stack) - 1; i >= 0; i-- {
		if id := stack[i].attr("id"); id != "" {
			return id
		}
	}
	return ""
}

func (u *unboundPrefixes) check(t xml.StartElement, declared []string, line int, id string) {
	isDeclared := func(space string) bool {
		if space == "" || space == "xmlns" || space == "http://www.w3.org/XML/1998/namespace" {
			return true
		}
		for _, d := range declared {
			if d == space {
				return true
			}
		}
		return false
	}
	report := func(prefix, what string) {
		for _, s := range u.seen {
			if s == prefix {
				return
			}
		}
		u.seen = append(u.seen, prefix)
		if u.line == 0 {
			u.line = line
		}
		fix := fmt.Sprintf("declare it on <definitions> with xmlns:%s=\"...\"", prefix)
		if ns, ok := wellKnownNamespaces[prefix]; ok {
			fix = fmt.Sprintf("add xmlns:%s=%q to <definitions>", prefix, ns)
		}
		u.problems = append(u.problems, Problem{ElementID: id, Reason: fmt.Sprintf(
			"the prefix %q of %s at line %d is not declared, so the element would be ignored; %s", prefix, what, line, fix)})
	}
	if !isDeclared(t.Name.Space) {
		report(t.Name.Space, "<"+t.Name.Space+":"+t.Name.Local+">")
	}
	for _, a := range t.Attr {
		if !isDeclared(a.Name.Space) {
			report(a.Name.Space, fmt.Sprintf("the attribute %s:%s of <%s>", a.Name.Space, a.Name.Local, t.Name.Local))
		}
	}
}

// charsetReader accepts the single-byte encodings older modelers declare besides UTF-8; anything else
// is refused with the decoder's clear "encoding declared" error.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii":
		raw, err := io.ReadAll(input)
		if err != nil {
			return nil, fmt.Errorf("read %s document: %w", charset, err)
		}
		var b strings.Builder
		b.Grow(len(raw))
		for _, c := range raw {
			b.WriteRune(rune(c))
		}
		return strings.NewReader(b.String()), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q: save the file as UTF-8", charset)
}
