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
	return root, nil
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
