package feel

import "fmt"

// Error is a FEEL expression Rapport cannot translate: it names the FEEL construct (a function, an
// operator, a literal kind) and its 1-based line and column in the FEEL source, so the analyst sees
// what to change and where.
type Error struct {
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	Construct string `json:"construct"`
	Message   string `json:"message"`
}

// Error renders "line:column: FEEL construct: message".
func (e *Error) Error() string {
	return fmt.Sprintf("%d:%d: FEEL %s: %s", e.Line, e.Column, e.Construct, e.Message)
}

// errAt builds an Error at rune offset pos of src.
func errAt(src []rune, pos int, construct, msg string) *Error {
	line, col := lineCol(src, pos)
	return &Error{Line: line, Column: col, Construct: construct, Message: msg}
}

// lineCol converts a rune offset to a 1-based line and column.
func lineCol(src []rune, pos int) (int, int) {
	line, col := 1, 1
	for i, r := range src {
		if i >= pos {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
