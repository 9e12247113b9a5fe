package outbound

import (
	"strconv"
	"strings"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// CheckTask is the BPMN validator's hook (bpmn.Options.CheckTask) for http service tasks: a URL written
// in the diagram — the url header, or a url input mapped from a string literal — that the policy
// refuses makes the process invalid, naming the element, so it cannot be published. URLs computed at
// run time are checked when the task connects.
func (p *Policy) CheckTask(taskType string, headers []bpmn.Header, inputs []bpmn.Mapping) error {
	if taskType != "http" {
		return nil
	}
	for _, h := range headers {
		if h.Key == "url" && !strings.HasPrefix(strings.TrimSpace(h.Value), "=") {
			if err := p.CheckURL(h.Value); err != nil {
				return err
			}
		}
	}
	for _, in := range inputs {
		if in.Target != "url" {
			continue
		}
		if lit, ok := stringLiteral(in.Source); ok {
			if err := p.CheckURL(lit); err != nil {
				return err
			}
		}
	}
	return nil
}

// stringLiteral returns the value of an expression that is nothing but a string literal.
func stringLiteral(src string) (string, bool) {
	src = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(src), "="))
	if len(src) < 2 {
		return "", false
	}
	switch src[0] {
	case '"', '`':
		s, err := strconv.Unquote(src)
		return s, err == nil
	case '\'':
		if src[len(src)-1] == '\'' && !strings.ContainsAny(src[1:len(src)-1], `'\`) {
			return src[1 : len(src)-1], true
		}
	}
	return "", false
}
