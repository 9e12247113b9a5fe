package notifications

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Mail is one message to one address.
type Mail struct {
	To      string
	Subject string
	Body    string
	// ID identifies the notification the mail belongs to; it becomes the Message-ID, so a mail server
	// sees a retried send as the same message.
	ID string
}

// Mailer delivers mail: over SMTP (NewSMTP) or into the development outbox (Store.Outbox).
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// SMTPConfig is where and how mail is sent, read from --smtp-url.
type SMTPConfig struct {
	// Addr is host:port.
	Addr string
	// Username and Password authenticate with PLAIN when set.
	Username, Password string
	// From is the sender address.
	From string
	// TLS is "starttls" (default: required unless the server is on loopback and does not offer it),
	// "implicit" (smtps), or "none" (only for servers on this machine).
	TLS string
	// ServerName overrides the name the certificate is checked against.
	ServerName string
}

// ParseSMTPURL reads smtp://user:password@host:port?from=rapport@example.com (STARTTLS; port 587 by
// default), smtps://... (TLS from the start; port 465) or smtp://...?tls=none.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, fmt.Errorf("smtp url: %w", err)
	}
	c := SMTPConfig{TLS: "starttls"}
	switch u.Scheme {
	case "smtp":
	case "smtps":
		c.TLS = "implicit"
	default:
		return SMTPConfig{}, fmt.Errorf("smtp url: scheme %q; use smtp:// or smtps://", u.Scheme)
	}
	if u.Hostname() == "" {
		return SMTPConfig{}, errors.New("smtp url: no host")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"starttls": "587", "implicit": "465"}[c.TLS]
	}
	c.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	switch t := q.Get("tls"); t {
	case "":
	case "none", "starttls", "implicit":
		c.TLS = t
	default:
		return SMTPConfig{}, fmt.Errorf("smtp url: tls=%q; use starttls, implicit or none", t)
	}
	c.From = q.Get("from")
	if c.From == "" {
		return SMTPConfig{}, errors.New("smtp url: name the sender with ?from=address")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return SMTPConfig{}, fmt.Errorf("smtp url: from %q: %w", c.From, err)
	}
	c.ServerName = q.Get("servername")
	return c, nil
}

// SMTP sends mail through an SMTP server.
type SMTP struct {
	cfg SMTPConfig
	// Timeout bounds one delivery (dial to QUIT); default 30 seconds.
	Timeout time.Duration
	// TLSConfig, when set, replaces the default (system roots, ServerName from the address).
	TLSConfig *tls.Config
}

// NewSMTP returns a mailer for cfg.
func NewSMTP(cfg SMTPConfig) *SMTP { return &SMTP{cfg: cfg, Timeout: 30 * time.Second} }

// From is the sender address.
func (s *SMTP) From() string { return s.cfg.From }

// Send delivers one mail. Addresses are checked first; a refusal by the server for the recipient is
// permanent (*RejectedError), anything else may be retried.
func (s *SMTP) Send(ctx context.Context, m Mail) error {
	msg, err := buildMessage(s.cfg.From, m, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	tlsCfg := s.TLSConfig
	if tlsCfg == nil {
		name := s.cfg.ServerName
		if name == "" {
			name = host
		}
		tlsCfg = &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
	}
	c, err := s.dial(ctx, host, tlsCfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if s.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)); err != nil {
			return fmt.Errorf("smtp: authenticate: %w", err)
		}
	}
	if err := c.Mail(addrOnly(s.cfg.From), nil); err != nil {
		return smtpError("MAIL FROM", err)
	}
	if err := c.Rcpt(addrOnly(m.To), nil); err != nil {
		return smtpError("RCPT TO "+m.To, err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpError("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp: write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return smtpError("message", err)
	}
	return c.Quit()
}

// dial connects and, as the configuration asks, secures the session: TLS from the start, STARTTLS
// (required, unless the server is on this machine and does not offer it), or none.
func (s *SMTP) dial(ctx context.Context, host string, tlsCfg *tls.Config) (*smtp.Client, error) {
	connect := func() (net.Conn, error) {
		d := net.Dialer{}
		var conn net.Conn
		var err error
		if s.cfg.TLS == "implicit" {
			conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsCfg}).DialContext(ctx, "tcp", s.cfg.Addr)
		} else {
			conn, err = d.DialContext(ctx, "tcp", s.cfg.Addr)
		}
		if err != nil {
			return nil, fmt.Errorf("smtp: connect to %s: %w", s.cfg.Addr, err)
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		return conn, nil
	}
	conn, err := connect()
	if err != nil {
		return nil, err
	}
	if s.cfg.TLS != "starttls" {
		c := smtp.NewClient(conn)
		if err := c.Hello("rapport"); err != nil {
			c.Close()
			return nil, fmt.Errorf("smtp: hello: %w", err)
		}
		return c, nil
	}
	if loopback(host) {
		c := smtp.NewClient(conn)
		if err := c.Hello("rapport"); err != nil {
			c.Close()
			return nil, fmt.Errorf("smtp: hello: %w", err)
		}
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return c, nil
		}
		c.Close()
		if conn, err = connect(); err != nil {
			return nil, err
		}
	}
	c, err := smtp.NewClientStartTLS(conn, tlsCfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("smtp: %s: starttls: %w", s.cfg.Addr, err)
	}
	return c, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RejectedError is a permanent refusal by the mail server (a 5xx reply): retrying the same mail cannot
// succeed.
type RejectedError struct{ Err error }

func (e *RejectedError) Error() string { return e.Err.Error() }
func (e *RejectedError) Unwrap() error { return e.Err }

func smtpError(step string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return &RejectedError{Err: fmt.Errorf("smtp: %s refused: %w", step, err)}
	}
	return fmt.Errorf("smtp: %s: %w", step, err)
}

func addrOnly(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

// buildMessage writes an RFC 5322 plain-text message in UTF-8 (quoted-printable body, encoded subject).
func buildMessage(from string, m Mail, now time.Time) ([]byte, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, &RejectedError{Err: fmt.Errorf("mail to %q: %w", m.To, err)}
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("mail from %q: %w", from, err)
	}
	id := m.ID
	if id == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	domain := "rapport.local"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok {
			domain = d
		}
	}
	var buf bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	header("From", from)
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", strings.Join(strings.Fields(m.Subject), " ")))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+id+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	buf.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&buf)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// OutboxMail is a mail kept in the development outbox instead of being sent.
type OutboxMail struct {
	ID        string    `bson:"_id" json:"id"`
	To        string    `bson:"to" json:"to"`
	Subject   string    `bson:"subject" json:"subject"`
	Body      string    `bson:"body" json:"body"`
	CreatedAt time.Time `bson:"createdAt" json:"createdAt"`
}

// Outbox is the mailer of `rapport dev` without an SMTP server: mail is stored and read through the
// API (GET /api/v1/dev/outbox), so evaluating Rapport needs no mail server.
type Outbox struct{ s *Store }

// Outbox returns the development outbox of the store.
func (s *Store) Outbox() Outbox { return Outbox{s: s} }

// Send stores the mail; the same notification ID is stored once.
func (o Outbox) Send(ctx context.Context, m Mail) error {
	if _, err := mail.ParseAddress(m.To); err != nil {
		return &RejectedError{Err: fmt.Errorf("mail to %q: %w", m.To, err)}
	}
	id := m.ID
	if id == "" {
		id = newID()
	}
	doc := OutboxMail{ID: id, To: m.To, Subject: m.Subject, Body: m.Body, CreatedAt: o.s.now().UTC().Truncate(time.Millisecond)}
	_, err := o.s.outbox.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$setOnInsert", Value: doc}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("notifications: outbox: %w", err)
	}
	return nil
}

// List returns the outbox newest first, optionally only mail to one address.
func (o Outbox) List(ctx context.Context, to string, limit int) ([]OutboxMail, error) {
	filter := bson.D{}
	if to != "" {
		filter = append(filter, bson.E{Key: "to", Value: to})
	}
	cur, err := o.s.outbox.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("notifications: outbox: %w", err)
	}
	out := []OutboxMail{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("notifications: outbox: %w", err)
	}
	return out, nil
}
