// Package notifications sends what processes tell people ("call this lead back", "complaint escalated",
// "how did we do?"): a template per kind of notification with a subject and body per language (en, ru)
// filled with the record's fields, delivered on channels — in-app (each user reads theirs in the UI
// until they mark them read), email over SMTP (or, in `rapport dev` without SMTP, a development outbox
// readable through the API), and signed webhooks with retries through the outbound client.
//
// A send is idempotent by its key: a retried task delivers each channel at most once more than it
// failed, and never twice once it succeeded.
package notifications

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/storage"
)

// Errors callers map to statuses or BPMN errors.
var (
	// ErrNotFound means the user has no notification with that ID.
	ErrNotFound = errors.New("notification not found")
	// ErrUnknownRecipient means "to" is neither a user ID nor an email address.
	ErrUnknownRecipient = errors.New("unknown recipient")
)

// Delivery is how one channel of a notification went.
type Delivery struct {
	Status   string    `bson:"status" json:"status" enum:"sent,failed,skipped"`
	Attempts int       `bson:"attempts" json:"attempts"`
	Error    string    `bson:"error,omitempty" json:"error,omitempty"`
	At       time.Time `bson:"at" json:"at"`
}

// Delivery statuses.
const (
	StatusSent    = "sent"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Notification is one message for one recipient: a user (To is the user's ID) or an outside address
// (To is the email address; it has no in-app copy).
type Notification struct {
	ID       string         `bson:"_id" json:"id"`
	To       string         `bson:"to" json:"to"`
	Email    string         `bson:"email,omitempty" json:"email,omitempty" doc:"The address mail goes to."`
	InApp    bool           `bson:"inApp" json:"inApp"`
	Template string         `bson:"template" json:"template" doc:"What kind of notification, e.g. lead-call-reminder."`
	Language string         `bson:"language,omitempty" json:"language,omitempty"`
	Subject  string         `bson:"subject" json:"subject"`
	Body     string         `bson:"body" json:"body"`
	Data     map[string]any `bson:"data,omitempty" json:"data,omitempty"`
	Source   string         `bson:"source,omitempty" json:"source,omitempty" doc:"The process instance that sent it."`
	Channels []string       `bson:"channels" json:"channels"`
	// Deliveries holds the outcome per channel ("email", "webhook:<id>").
	Deliveries map[string]Delivery `bson:"deliveries,omitempty" json:"deliveries,omitempty"`
	CreatedAt  time.Time           `bson:"createdAt" json:"createdAt"`
	ReadAt     *time.Time          `bson:"readAt,omitempty" json:"readAt,omitempty"`
}

// Users resolves recipients; identity.Store implements it.
type Users interface {
	UserByID(ctx context.Context, id string) (*identity.User, error)
	UserByEmail(ctx context.Context, email string) (*identity.User, error)
}

// Options wire a Store to mail, users and the outbound client; zero fields disable what needs them.
type Options struct {
	// Mailer sends email; nil means no mail server is configured and the email channel is skipped.
	Mailer Mailer
	// Users resolves "to" into a user; nil accepts only email addresses.
	Users Users
	// HTTP is the outbound client webhooks are posted with (outbound.NewClient with the operator's
	// policy); Sealer keeps their secrets; CheckURL refuses webhook URLs the policy never allows.
	HTTP     *http.Client
	Sealer   Sealer
	CheckURL func(string) error
	Now      func() time.Time
}

// Store keeps notifications, their templates, webhooks and the development outbox.
type Store struct {
	coll      *mongo.Collection
	templates *mongo.Collection
	webhooks  *mongo.Collection
	outbox    *mongo.Collection
	opts      Options
}

// New uses the notifications, notification_templates, notification_webhooks and mail_outbox
// collections of db.
func New(db *mongo.Database, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	return &Store{coll: db.Collection("notifications"), templates: db.Collection("notification_templates"),
		webhooks: db.Collection("notification_webhooks"), outbox: db.Collection("mail_outbox"), opts: opts}
}

// SetMailer replaces the mailer (the stack picks SMTP or the outbox after the store exists).
func (s *Store) SetMailer(m Mailer) { s.opts.Mailer = m }

func (s *Store) now() time.Time { return s.opts.Now() }

func newID() string { return uuid.NewString() }

// EnsureIndexes creates the per-user index lists use.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	if err := storage.EnsureIndexes(ctx, s.coll, mongo.IndexModel{Keys: bson.D{{Key: "to", Value: 1}, {Key: "createdAt", Value: -1}}}); err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	return nil
}

// Request is one notification to send.
type Request struct {
	// Key makes a repeated send (a retried activity) one notification: the ID is derived from it.
	Key string
	// To is a user ID or an email address; an address of a user reaches that user.
	To       string
	Template string
	Data     map[string]any
	// Source names the sender, e.g. the process instance.
	Source string
	// Language picks the template's text (en, ru); empty is the default language.
	Language string
	// Channels overrides the template's channels.
	Channels []string
}

// Send renders the template and delivers the notification on its channels, each at most once per
// key. It returns the notification with its deliveries and an error when a channel failed: a
// *RejectedError when every failure is permanent, another error when retrying may help.
func (s *Store) Send(ctx context.Context, r Request) (Notification, error) {
	t, err := s.Template(ctx, r.Template)
	if err != nil {
		return Notification{}, err
	}
	channels := r.Channels
	if len(channels) == 0 {
		channels = t.Channels
	}
	for _, c := range channels {
		if !slices.Contains(AllChannels(), c) {
			return Notification{}, &TemplateError{Problems: []Problem{{"/channels", fmt.Sprintf("unknown channel %q", c)}}}
		}
	}
	n := Notification{ID: newID(), Template: t.Key, Data: r.Data, Source: r.Source, Channels: channels,
		CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if r.Key != "" {
		n.ID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("rapport:notification:"+r.Key)).String()
	}
	if err := s.resolve(ctx, r.To, &n); err != nil {
		return Notification{}, err
	}
	data := map[string]any{}
	for k, v := range r.Data {
		data[k] = v
	}
	data["recipient"] = map[string]any{"id": n.To, "email": n.Email}
	rendered, err := t.Render(r.Language, data)
	if err != nil {
		return Notification{}, &TemplateError{Problems: []Problem{{"/texts", err.Error()}}}
	}
	n.Language, n.Subject, n.Body = rendered.Language, rendered.Subject, rendered.Body
	n.InApp = n.InApp && slices.Contains(channels, ChannelInApp)
	// The first send stores it; a retry finds it with the deliveries so far.
	var stored Notification
	err = s.coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: n.ID}}, bson.D{{Key: "$setOnInsert", Value: n}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&stored)
	if err != nil {
		return Notification{}, fmt.Errorf("notifications: store: %w", err)
	}
	if stored.Deliveries == nil {
		stored.Deliveries = map[string]Delivery{}
	}
	var failures []error
	deliver := func(channel string, fn func() error) {
		prev, done := stored.Deliveries[channel]
		if done && (prev.Status == StatusSent || prev.Status == StatusSkipped) {
			return
		}
		d := Delivery{Status: StatusSent, Attempts: prev.Attempts + 1, At: s.now().UTC().Truncate(time.Millisecond)}
		if err := fn(); errors.Is(err, errSkipped) {
			d.Status, d.Error = StatusSkipped, strings.TrimPrefix(err.Error(), errSkipped.Error()+": ")
		} else if err != nil {
			d.Status, d.Error = StatusFailed, err.Error()
			failures = append(failures, err)
		}
		stored.Deliveries[channel] = d
		if _, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: n.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "deliveries." + channel, Value: d}}}}); err != nil {
			failures = append(failures, fmt.Errorf("notifications: record delivery: %w", err))
		}
	}
	if slices.Contains(channels, ChannelEmail) {
		deliver(ChannelEmail, func() error {
			switch {
			case stored.Email == "":
				return fmt.Errorf("%w: the recipient has no email address", errSkipped)
			case s.opts.Mailer == nil:
				return fmt.Errorf("%w: no mail server is configured (--smtp-url)", errSkipped)
			}
			return s.opts.Mailer.Send(ctx, Mail{To: stored.Email, Subject: stored.Subject, Body: stored.Body, ID: stored.ID})
		})
	}
	if slices.Contains(channels, ChannelWebhook) {
		hooks, err := s.Webhooks(ctx)
		if err != nil {
			return stored, err
		}
		body, err := webhookPayload(stored)
		if err != nil {
			return stored, err
		}
		for _, w := range hooks {
			if !w.wants(stored.Template) {
				continue
			}
			deliver("webhook:"+w.ID, func() error { return s.postWebhook(ctx, w, stored.ID, body) })
		}
	}
	return stored, joinFailures(failures)
}

var errSkipped = errors.New("skipped")

// joinFailures keeps a send retryable while any failure may be transient.
func joinFailures(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	err := errors.Join(errs...)
	for _, e := range errs {
		var re *RejectedError
		if !errors.As(e, &re) {
			return err
		}
	}
	return &RejectedError{Err: err}
}

// resolve fills the recipient of n: a user by ID, a user by email address, or an outside address.
func (s *Store) resolve(ctx context.Context, to string, n *Notification) error {
	to = strings.TrimSpace(to)
	if to == "" {
		return fmt.Errorf("%w: no recipient", ErrUnknownRecipient)
	}
	if s.opts.Users != nil {
		var u *identity.User
		var err error
		if strings.Contains(to, "@") {
			u, err = s.opts.Users.UserByEmail(ctx, to)
		} else {
			u, err = s.opts.Users.UserByID(ctx, to)
		}
		switch {
		case err == nil && !u.Disabled:
			n.To, n.Email, n.InApp = u.ID, u.Email, true
			return nil
		case err == nil, errors.Is(err, identity.ErrNotFound), errors.Is(err, identity.ErrUnauthenticated):
		default:
			return fmt.Errorf("notifications: resolve %q: %w", to, err)
		}
	}
	if !strings.Contains(to, "@") {
		return fmt.Errorf("%w: %q is neither a user nor an email address", ErrUnknownRecipient, to)
	}
	n.To, n.Email = to, to
	return nil
}

// List returns a user's in-app notifications, newest first; unreadOnly hides read ones.
func (s *Store) List(ctx context.Context, to string, unreadOnly bool, limit int) ([]Notification, error) {
	filter := bson.D{{Key: "to", Value: to}, {Key: "inApp", Value: true}}
	if unreadOnly {
		filter = append(filter, bson.E{Key: "readAt", Value: bson.D{{Key: "$exists", Value: false}}})
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("notifications: list: %w", err)
	}
	out := []Notification{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("notifications: list: %w", err)
	}
	return out, nil
}

// MarkRead marks one of the user's notifications read.
func (s *Store) MarkRead(ctx context.Context, to, id string) error {
	now := s.now().UTC().Truncate(time.Millisecond)
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "to", Value: to}}, bson.D{{Key: "$set", Value: bson.D{{Key: "readAt", Value: now}}}})
	if err != nil {
		return fmt.Errorf("notifications: mark read: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}
