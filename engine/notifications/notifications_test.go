package notifications_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/notifications"
	"github.com/rapportcrm/rapport/engine/notifications/smtptest"
	"github.com/rapportcrm/rapport/engine/storage/ferret/ferrettest"
)

var db *mongo.Database

func TestMain(m *testing.M) { os.Exit(ferrettest.Run(m, &db)) }

// users is the directory the tests send to: unit tests fake what they do not test.
type users map[string]*identity.User

func (u users) UserByID(_ context.Context, id string) (*identity.User, error) {
	if x, ok := u[id]; ok {
		return x, nil
	}
	return nil, identity.ErrUnauthenticated
}

func (u users) UserByEmail(_ context.Context, email string) (*identity.User, error) {
	for _, x := range u {
		if x.Email == identity.NormalizeEmail(email) {
			return x, nil
		}
	}
	return nil, identity.ErrNotFound
}

var staff = users{"u-anna": {ID: "u-anna", Email: "anna@example.test", Name: "Anna"}}

func reminder() notifications.Template {
	return notifications.Template{Key: "lead-call-reminder", Channels: []string{"inapp", "email"}, Texts: map[string]notifications.Text{
		"en": {Subject: "Call {{.record.name}} back", Body: "Lead {{.record.name}} ({{.record.phone}}) waits since {{date .since}}.\nOpen: {{.link}}"},
		"ru": {Subject: "Перезвоните {{.record.name}}", Body: "Лид {{.record.name}} ({{.record.phone}}) ждёт с {{date .since}}.\nОткрыть: {{.link}}"},
	}}
}

func newStore(t *testing.T, opts notifications.Options) *notifications.Store {
	t.Helper()
	s := notifications.New(db.Client().Database(strings.ReplaceAll(t.Name(), "/", "_")), opts)
	if err := s.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTemplateCheck(t *testing.T) {
	ok := reminder()
	tests := []struct {
		name   string
		change func(*notifications.Template)
		want   []string // pointers of the problems
	}{
		{"valid", func(*notifications.Template) {}, nil},
		{"no channel", func(t *notifications.Template) { t.Channels = nil }, []string{"/channels"}},
		{"unknown channel", func(t *notifications.Template) { t.Channels = []string{"sms"} }, []string{"/channels/0"}},
		{"no russian text", func(t *notifications.Template) {
			t.Texts = map[string]notifications.Text{"en": ok.Texts["en"]}
		}, []string{"/texts/ru"}},
		{"unknown language", func(t *notifications.Template) {
			t.Texts = map[string]notifications.Text{"en": ok.Texts["en"], "ru": ok.Texts["ru"], "de": ok.Texts["en"]}
		}, []string{"/texts/de"}},
		{"body does not parse", func(t *notifications.Template) {
			t.Texts = map[string]notifications.Text{"en": {Subject: "x", Body: "{{.record.name"}, "ru": ok.Texts["ru"]}
		}, []string{"/texts/en/body"}},
		{"empty subject", func(t *notifications.Template) {
			t.Texts = map[string]notifications.Text{"en": ok.Texts["en"], "ru": {Subject: " ", Body: "x"}}
		}, []string{"/texts/ru/subject"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl := reminder()
			tt.change(&tpl)
			err := tpl.Check()
			var te *notifications.TemplateError
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected problems: %v", err)
				}
				return
			}
			if !errors.As(err, &te) {
				t.Fatalf("want a TemplateError, got %v", err)
			}
			var got []string
			for _, p := range te.Problems {
				got = append(got, p.Pointer)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("problems at %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}

func TestRenderLanguagesAndMissingValues(t *testing.T) {
	tpl := reminder()
	since := time.Date(2025, 3, 7, 9, 30, 0, 0, time.UTC)
	data := map[string]any{"record": map[string]any{"name": "Olga\nBcc: evil@example.test"}, "since": since, "link": "https://crm.example/leads/1"}
	tests := []struct {
		lang, subject, body string
	}{
		{"en", "Call Olga Bcc: evil@example.test back", "Lead Olga\nBcc: evil@example.test () waits since 2025-03-07 09:30.\nOpen: https://crm.example/leads/1"},
		{"ru", "Перезвоните Olga Bcc: evil@example.test", "Лид Olga\nBcc: evil@example.test () ждёт с 2025-03-07 09:30.\nОткрыть: https://crm.example/leads/1"},
		{"de", "Call Olga Bcc: evil@example.test back", "Lead Olga\nBcc: evil@example.test () waits since 2025-03-07 09:30.\nOpen: https://crm.example/leads/1"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			r, err := tpl.Render(tt.lang, data)
			if err != nil {
				t.Fatal(err)
			}
			if r.Subject != tt.subject || r.Body != tt.body {
				t.Errorf("rendered %q / %q, want %q / %q", r.Subject, r.Body, tt.subject, tt.body)
			}
		})
	}
}

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		url, addr, tls, user, err string
	}{
		{"smtp://u:p@mail.example.com?from=crm@example.com", "mail.example.com:587", "starttls", "u", ""},
		{"smtps://mail.example.com?from=crm@example.com", "mail.example.com:465", "implicit", "", ""},
		{"smtp://127.0.0.1:2525?from=crm@example.com&tls=none", "127.0.0.1:2525", "none", "", ""},
		{"smtp://mail.example.com", "", "", "", "from"},
		{"http://mail.example.com?from=a@b.c", "", "", "", "scheme"},
		{"smtp://mail.example.com?from=a@b.c&tls=maybe", "", "", "", "tls="},
		{"smtp://?from=a@b.c", "", "", "", "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := notifications.ParseSMTPURL(tt.url)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one about %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr != tt.addr || c.TLS != tt.tls || c.Username != tt.user {
				t.Errorf("got %+v", c)
			}
		})
	}
}

// TestSendOverSMTP sends through a real SMTP server: a user reached by ID and by address gets the
// in-app copy and one mail, a retried send mails nothing twice, an outside address gets mail only, and
// a mailbox the server refuses is a permanent failure.
func TestSendOverSMTP(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t)
	cfg, err := notifications.ParseSMTPURL(srv.URL("Rapport <crm@example.test>"))
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, notifications.Options{Mailer: notifications.NewSMTP(cfg), Users: staff})
	if err := s.InstallTemplate(ctx, reminder()); err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"record": map[string]any{"name": "Олег", "phone": "+79161234567"}, "link": "https://crm.example/l/1"}
	for _, to := range []string{"u-anna", "ANNA@example.test"} {
		for range 2 { // the second send is a retry with the same key
			n, err := s.Send(ctx, notifications.Request{Key: "k-" + to, To: to, Template: "lead-call-reminder", Data: data, Language: "ru"})
			if err != nil {
				t.Fatal(err)
			}
			if n.To != "u-anna" || !n.InApp || n.Deliveries["email"].Status != notifications.StatusSent || n.Deliveries["email"].Attempts != 1 {
				t.Errorf("notification to %s: %+v", to, n)
			}
		}
	}
	mails := srv.Wait("anna@example.test", 2, 5*time.Second)
	if len(mails) != 2 {
		t.Fatalf("anna got %d mails, want 2 (one per key)", len(mails))
	}
	if mails[0].Subject != "Перезвоните Олег" || !strings.Contains(mails[0].Body, "Лид Олег (+79161234567)") || mails[0].From != "crm@example.test" {
		t.Errorf("mail: %+v", mails[0])
	}
	list, err := s.List(ctx, "u-anna", true, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("anna's unread notifications: %v %+v", err, list)
	}

	n, err := s.Send(ctx, notifications.Request{Key: "outside", To: "customer@example.test", Template: "lead-call-reminder", Data: data})
	if err != nil || n.InApp || n.Deliveries["email"].Status != notifications.StatusSent {
		t.Fatalf("outside address: %v %+v", err, n)
	}
	if got := srv.Wait("customer@example.test", 1, 5*time.Second); len(got) != 1 || got[0].Subject != "Call Олег back" {
		t.Errorf("customer mail: %+v", got)
	}

	srv.Reject["gone@example.test"] = true
	_, err = s.Send(ctx, notifications.Request{Key: "gone", To: "gone@example.test", Template: "lead-call-reminder", Data: data})
	var rej *notifications.RejectedError
	if !errors.As(err, &rej) {
		t.Errorf("a refused mailbox: %v, want a RejectedError", err)
	}
	if _, err := s.Send(ctx, notifications.Request{To: "nobody", Template: "lead-call-reminder"}); !errors.Is(err, notifications.ErrUnknownRecipient) {
		t.Errorf("unknown recipient: %v", err)
	}
	if _, err := s.Send(ctx, notifications.Request{To: "u-anna", Template: "no-such"}); !errors.Is(err, notifications.ErrTemplateNotFound) {
		t.Errorf("unknown template: %v", err)
	}
}

// TestSendWithoutMailServer keeps mail in the development outbox, or skips the channel when there is
// neither.
func TestSendWithoutMailServer(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, notifications.Options{Users: staff})
	if err := s.InstallTemplate(ctx, reminder()); err != nil {
		t.Fatal(err)
	}
	n, err := s.Send(ctx, notifications.Request{Key: "a", To: "u-anna", Template: "lead-call-reminder"})
	if err != nil || n.Deliveries["email"].Status != notifications.StatusSkipped || !n.InApp {
		t.Fatalf("without mail: %v %+v", err, n)
	}
	s.SetMailer(s.Outbox())
	for range 2 {
		if _, err := s.Send(ctx, notifications.Request{Key: "b", To: "u-anna", Template: "lead-call-reminder",
			Data: map[string]any{"record": map[string]any{"name": "Ivan"}}}); err != nil {
			t.Fatal(err)
		}
	}
	box, err := s.Outbox().List(ctx, "anna@example.test", 10)
	if err != nil || len(box) != 1 || box[0].Subject != "Call Ivan back" {
		t.Fatalf("outbox: %v %+v", err, box)
	}
}

type sealer struct{}

func (sealer) Seal(p, aad []byte) (string, error) { return string(aad) + "|" + string(p), nil }
func (sealer) Open(tok string, aad []byte) ([]byte, error) {
	prefix := string(aad) + "|"
	if !strings.HasPrefix(tok, prefix) {
		return nil, errors.New("wrong aad")
	}
	return []byte(strings.TrimPrefix(tok, prefix)), nil
}

// TestWebhookSignedWithRetries posts to a webhook that fails once: the delivery is retried, signed
// with the secret given at creation, and not repeated by a retried send; a 4xx answer is permanent.
func TestWebhookSignedWithRetries(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var bodies [][]byte
	var sigs []string
	fail := 1
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies, sigs = append(bodies, b), append(sigs, r.Header.Get(notifications.SignatureHeader))
		if fail > 0 {
			fail--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if strings.Contains(r.URL.Path, "bad") {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer hook.Close()
	s := newStore(t, notifications.Options{Users: staff, Sealer: sealer{}, HTTP: hook.Client()})
	tpl := reminder()
	tpl.Channels = []string{"webhook"}
	if err := s.InstallTemplate(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	w, secret, err := s.CreateWebhook(ctx, hook.URL+"/ok", []string{"lead-call-reminder"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		n, err := s.Send(ctx, notifications.Request{Key: "w", To: "u-anna", Template: "lead-call-reminder",
			Data: map[string]any{"record": map[string]any{"name": "Ivan"}}})
		if err != nil {
			t.Fatal(err)
		}
		if d := n.Deliveries["webhook:"+w.ID]; d.Status != notifications.StatusSent {
			t.Fatalf("delivery %+v", d)
		}
	}
	mu.Lock()
	if len(bodies) != 2 {
		t.Fatalf("the webhook got %d posts, want 2 (one failed, one retried)", len(bodies))
	}
	ts, mac, _ := strings.Cut(strings.TrimPrefix(sigs[1], "t="), ",v1=")
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts + "."))
	h.Write(bodies[1])
	if hex.EncodeToString(h.Sum(nil)) != mac {
		t.Errorf("signature %q does not verify", sigs[1])
	}
	var p notifications.WebhookPayload
	if err := json.Unmarshal(bodies[1], &p); err != nil || p.Subject != "Call Ivan back" || p.To != "u-anna" {
		t.Errorf("payload %s", bodies[1])
	}
	mu.Unlock()

	if _, _, err := s.CreateWebhook(ctx, hook.URL+"/bad", []string{"*"}, "admin"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(ctx, notifications.Request{Key: "w2", To: "u-anna", Template: "lead-call-reminder"})
	var rej *notifications.RejectedError
	if !errors.As(err, &rej) {
		t.Errorf("a webhook answering 400: %v, want a RejectedError", err)
	}
}
