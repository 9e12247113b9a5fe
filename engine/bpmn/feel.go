package bpmn

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rapportcrm/rapport/engine/feel"
)

// An expression written "=..." is read as FEEL first (Camunda's language, translated to expr by
// engine/feel) and as expr when the text is not FEEL of the supported subset or its FEEL reading does
// not compile; a text without "=" in an attribute that needs an expression (rapport:assign,
// rapport:dueDate) is expr. Both readings end as expr source, the only language the interpreter runs.

// unknownName matches engine/expression's compile error for an undeclared variable.
var unknownName = regexp.MustCompile(`unknown name ([A-Za-z_][A-Za-z0-9_]*)`)

// maxInferred bounds how many undeclared variables one expression may introduce.
const maxInferred = 16

// siteResult is one reading of an expression site: its expr source, the undeclared variables it
// needs (to be typed any) and why it does not compile, if it does not.
type siteResult struct {
	src      string
	inferred []string
	err      error
}

// compileSite checks site.Source, typing undeclared variables as any until it compiles or fails for
// another reason.
func (b *builder) compileSite(site ExprSite) siteResult {
	res := siteResult{src: site.Source}
	if b.check == nil {
		return res
	}
	seen := map[string]bool{}
	for {
		res.err = b.check(site)
		if res.err == nil || len(res.inferred) >= maxInferred {
			return res
		}
		added := false
		for _, m := range unknownName.FindAllStringSubmatch(res.err.Error(), -1) {
			name := m[1]
			if seen[name] || name == "now" || name == "record" || name == ResultVar {
				continue
			}
			seen[name] = true
			res.inferred = append(res.inferred, name)
			site.Variables = append(append([]VariableDecl(nil), site.Variables...), VariableDecl{Name: name, Type: "any"})
			added = true
		}
		if !added {
			return res
		}
	}
}

// readExpr reads one "=" expression as FEEL or expr (see above) and returns the chosen reading.
func (b *builder) readExpr(site ExprSite) siteResult {
	known := make(map[string]bool, len(site.Variables))
	for _, v := range site.Variables {
		known[v.Name] = true
	}
	tr, ferr := feel.Translate(site.Source, feel.Options{Variables: func(n string) bool { return known[n] }})
	if ferr == nil {
		fs := site
		fs.Source = tr.Expr
		res := b.compileSite(fs)
		if res.err == nil || tr.Expr == site.Source {
			res.err = mapFEELError(tr, res.err)
			return res
		}
		if asExpr := b.compileSite(site); asExpr.err == nil {
			return asExpr
		}
		res.err = mapFEELError(tr, res.err)
		return res
	}
	asExpr := b.compileSite(site)
	if asExpr.err != nil {
		asExpr.err = fmt.Errorf("is neither FEEL nor expr: as FEEL, %v; as expr, %v", ferr, asExpr.err)
	}
	return asExpr
}

// mapFEELError points an expr compile error of a FEEL translation at the FEEL text.
func mapFEELError(tr *feel.Translation, err error) error {
	if err == nil {
		return nil
	}
	return tr.MapError(err)
}

// commit adopts the undeclared variables a site needed: typed any for the rest of the process, with
// one warning per variable naming the element that first used it.
func (b *builder) commit(id string, inferred []string) {
	for _, name := range inferred {
		if b.inferred[name] {
			continue
		}
		if b.inferred == nil {
			b.inferred = map[string]bool{}
		}
		b.inferred[name] = true
		b.vars = append(b.vars, VariableDecl{Name: name, Type: "any"})
		b.warnings = append(b.warnings, Problem{ElementID: id, Reason: fmt.Sprintf(
			"variable %q is not declared, so it is typed any and not checked; declare it on the process with <rapport:variable name=%q type=\"...\"/>",
			name, name)})
	}
}

// mappingSource turns a Zeebe io-mapping source into expr source: "=..." is an expression, other text
// a literal string, and an absent source null.
func (b *builder) mappingSource(id, field, raw string, extra []VariableDecl) string {
	if strings.TrimSpace(raw) == "" {
		return "nil"
	}
	if _, isExpr := exprSource(raw); !isExpr {
		return strconv.Quote(raw)
	}
	return b.exprWith(id, field, raw, ResultAny, extra)
}
