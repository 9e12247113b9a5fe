package notifications

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Channels a notification can go out on.
const (
	// ChannelInApp stores the notification for the user to read in the UI.
	ChannelInApp = "inapp"
	// ChannelEmail mails it to the user's address (or the address it was sent to).
	ChannelEmail = "email"
	// ChannelWebhook posts it, signed, to every webhook subscribed to its template.
	ChannelWebhook = "webhook"
)

// AllChannels lists the channels in the order they are delivered.
func AllChannels() []string { return []string{ChannelInApp, ChannelEmail, ChannelWebhook} }

// DefaultLanguage is the language used when a template has no text in the one asked for.
const DefaultLanguage = "en"

// Languages are the languages templates are written in; every template has a text for each.
func Languages() []string { return []string{"en", "ru"} }

// ErrTemplateNotFound means no template has the key.
var ErrTemplateNotFound = errors.New("notification template not found")

// Text is a template's subject and body in one language, written in Go's text/template language over
// the notification's data: {{.record.name}}, {{.link}}, {{.calls}}.
type Text struct {
	Subject string `bson:"subject" json:"subject" maxLength:"500"`
	Body    string `bson:"body" json:"body" maxLength:"20000"`
}

// Template is what a kind of notification says, per language, and where it goes by default. Analysts
// edit templates; processes name them by key in notify tasks.
type Template struct {
	Key         string `bson:"_id" json:"key" required:"false" pattern:"^[a-z][a-z0-9-]{0,63}$" doc:"Taken from the path when absent."`
	Description string `bson:"description,omitempty" json:"description,omitempty" maxLength:"1000"`
	// Channels are where a notification of this template goes when the notify task names none.
	Channels []string `bson:"channels" json:"channels" doc:"Default channels: inapp, email, webhook."`
	// Texts holds one Text per language (en and ru).
	Texts     map[string]Text `bson:"texts" json:"texts"`
	UpdatedAt time.Time       `bson:"updatedAt,omitempty" json:"updatedAt,omitzero"`
	UpdatedBy string          `bson:"updatedBy,omitempty" json:"updatedBy,omitempty"`
}

// Problem is one thing wrong with a template, with the JSON pointer of the field.
type Problem struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// TemplateError lists every problem of a template.
type TemplateError struct{ Problems []Problem }

func (e *TemplateError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Pointer + ": " + p.Message
	}
	return "invalid notification template: " + strings.Join(msgs, "; ")
}

// funcs are the helpers templates may call besides text/template's built-ins.
var funcs = template.FuncMap{
	// date formats a time (or RFC 3339 text) as "2006-01-02 15:04" in UTC.
	"date": func(v any) string {
		switch t := v.(type) {
		case time.Time:
			return t.UTC().Format("2006-01-02 15:04")
		case string:
			if p, err := time.Parse(time.RFC3339Nano, t); err == nil {
				return p.UTC().Format("2006-01-02 15:04")
			}
			return t
		}
		return ""
	},
	// default gives d when v is empty.
	"default": func(d, v any) any {
		if v == nil || v == "" {
			return d
		}
		return v
	},
}

func parseText(name, src string) (*template.Template, error) {
	return template.New(name).Funcs(funcs).Option("missingkey=zero").Parse(src)
}

// Check reports every problem of a template: its key, its channels, a text for each language, and
// texts that do not parse.
func (t *Template) Check() error {
	var ps []Problem
	if t.Key == "" {
		ps = append(ps, Problem{"/key", "a template needs a key"})
	}
	if len(t.Channels) == 0 {
		ps = append(ps, Problem{"/channels", "name at least one channel (inapp, email, webhook)"})
	}
	for i, c := range t.Channels {
		if !slices.Contains(AllChannels(), c) {
			ps = append(ps, Problem{fmt.Sprintf("/channels/%d", i), fmt.Sprintf("unknown channel %q; use inapp, email or webhook", c)})
		}
	}
	for _, lang := range Languages() {
		if _, ok := t.Texts[lang]; !ok {
			ps = append(ps, Problem{"/texts/" + lang, "a template needs a text in " + lang})
		}
	}
	for _, lang := range sortedKeys(t.Texts) {
		if !slices.Contains(Languages(), lang) {
			ps = append(ps, Problem{"/texts/" + lang, fmt.Sprintf("unknown language %q; use en or ru", lang)})
			continue
		}
		txt := t.Texts[lang]
		if strings.TrimSpace(txt.Subject) == "" {
			ps = append(ps, Problem{"/texts/" + lang + "/subject", "the subject is empty"})
		}
		if _, err := parseText("subject", txt.Subject); err != nil {
			ps = append(ps, Problem{"/texts/" + lang + "/subject", err.Error()})
		}
		if _, err := parseText("body", txt.Body); err != nil {
			ps = append(ps, Problem{"/texts/" + lang + "/body", err.Error()})
		}
	}
	if len(ps) > 0 {
		return &TemplateError{Problems: ps}
	}
	return nil
}

// Rendered is a template's text filled in for one notification.
type Rendered struct {
	Language string `bson:"language" json:"language"`
	Subject  string `bson:"subject" json:"subject"`
	Body     string `bson:"body" json:"body"`
}

// Render fills the template's text in lang (the default language when it has none) with data. A
// value the data lacks renders as nothing.
func (t *Template) Render(lang string, data map[string]any) (Rendered, error) {
	txt, ok := t.Texts[lang]
	if !ok {
		lang = DefaultLanguage
		txt = t.Texts[lang]
	}
	subject, err := execute("subject", txt.Subject, data)
	if err != nil {
		return Rendered{}, fmt.Errorf("template %s (%s) subject: %w", t.Key, lang, err)
	}
	body, err := execute("body", txt.Body, data)
	if err != nil {
		return Rendered{}, fmt.Errorf("template %s (%s) body: %w", t.Key, lang, err)
	}
	// A subject is one line: a value with a line break must not add mail headers.
	subject = strings.Join(strings.Fields(subject), " ")
	return Rendered{Language: lang, Subject: subject, Body: body}, nil
}

func execute(name, src string, data map[string]any) (string, error) {
	tpl, err := parseText(name, src)
	if err != nil {
		return "", err
	}
	data = withPaths(tpl, data)
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, data); err != nil {
		return "", err
	}
	// text/template prints a missing map entry as "<no value>" even with missingkey=zero.
	return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
}

// withPaths returns a copy of data in which every map the template reads through (.record in
// .record.name) exists, so a value the data lacks renders as nothing instead of failing.
func withPaths(tpl *template.Template, data map[string]any) map[string]any {
	out := make(map[string]any, len(data))
	for k, v := range data {
		out[k] = v
	}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.FieldNode:
			m := out
			for _, name := range n.Ident[:len(n.Ident)-1] {
				next, ok := m[name].(map[string]any)
				if !ok {
					if m[name] != nil {
						return
					}
					next = map[string]any{}
				} else {
					cp := make(map[string]any, len(next))
					for k, v := range next {
						cp[k] = v
					}
					next = cp
				}
				m[name] = next
				m = next
			}
		}
	}
	walk(tpl.Tree.Root)
	return out
}

// SaveTemplate creates or replaces a template after checking it.
func (s *Store) SaveTemplate(ctx context.Context, t Template, by string) (Template, error) {
	if err := t.Check(); err != nil {
		return Template{}, err
	}
	t.UpdatedAt, t.UpdatedBy = s.now().UTC().Truncate(time.Millisecond), by
	if _, err := s.templates.ReplaceOne(ctx, bson.D{{Key: "_id", Value: t.Key}}, t, options.Replace().SetUpsert(true)); err != nil {
		return Template{}, fmt.Errorf("notifications: save template %s: %w", t.Key, err)
	}
	return t, nil
}

// InstallTemplate stores a shipped template unless one with its key exists: an analyst's edits are
// never overwritten.
func (s *Store) InstallTemplate(ctx context.Context, t Template) error {
	if err := t.Check(); err != nil {
		return err
	}
	t.UpdatedAt, t.UpdatedBy = s.now().UTC().Truncate(time.Millisecond), "system"
	if _, err := s.templates.InsertOne(ctx, t); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("notifications: install template %s: %w", t.Key, err)
	}
	return nil
}

// Template returns one template.
func (s *Store) Template(ctx context.Context, key string) (Template, error) {
	var t Template
	if err := s.templates.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&t); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Template{}, fmt.Errorf("%w: %q", ErrTemplateNotFound, key)
		}
		return Template{}, fmt.Errorf("notifications: template %s: %w", key, err)
	}
	return t, nil
}

// Templates lists every template by key.
func (s *Store) Templates(ctx context.Context) ([]Template, error) {
	cur, err := s.templates.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("notifications: list templates: %w", err)
	}
	out := []Template{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("notifications: list templates: %w", err)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
