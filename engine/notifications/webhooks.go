package notifications

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/outbound"
)

// Webhook signature headers. The signature is hex HMAC-SHA256 over "<timestamp>.<body>" with the
// webhook's secret; receivers recompute it and refuse old timestamps (replays).
const (
	SignatureHeader = "X-Rapport-Signature"
	DeliveryHeader  = "X-Rapport-Delivery"
)

// ErrWebhookNotFound means no webhook has the ID.
var ErrWebhookNotFound = errors.New("webhook not found")

// ErrNoSealer means webhook secrets cannot be stored because no secret key is configured.
var ErrNoSealer = errors.New("webhooks need a secret key to keep their signing secrets (RAPPORT_SECRET_KEY)")

// Sealer encrypts secrets at rest; plugins/host.Sealer implements it.
type Sealer interface {
	Seal(plaintext, aad []byte) (string, error)
	Open(token string, aad []byte) ([]byte, error)
}

// Webhook is an outside system told of notifications: every notification whose template it lists
// (or any, with "*") that goes out on the webhook channel is posted to URL, signed with its secret.
type Webhook struct {
	ID        string    `bson:"_id" json:"id"`
	URL       string    `bson:"url" json:"url"`
	Templates []string  `bson:"templates" json:"templates"`
	Sealed    string    `bson:"secret" json:"-"`
	CreatedAt time.Time `bson:"createdAt" json:"createdAt"`
	CreatedBy string    `bson:"createdBy" json:"createdBy"`
}

func (w Webhook) wants(template string) bool {
	return slices.Contains(w.Templates, "*") || slices.Contains(w.Templates, template)
}

// CreateWebhook stores a webhook and returns it with its signing secret, shown once. The URL must pass
// the outbound policy's checks (no private or own addresses unless allowed).
func (s *Store) CreateWebhook(ctx context.Context, url string, templates []string, by string) (Webhook, string, error) {
	if s.opts.Sealer == nil {
		return Webhook{}, "", ErrNoSealer
	}
	if s.opts.CheckURL != nil {
		if err := s.opts.CheckURL(url); err != nil {
			return Webhook{}, "", &TemplateError{Problems: []Problem{{"/url", err.Error()}}}
		}
	}
	if len(templates) == 0 {
		templates = []string{"*"}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Webhook{}, "", fmt.Errorf("notifications: webhook secret: %w", err)
	}
	secret := "whsec_" + hex.EncodeToString(raw)
	w := Webhook{ID: newID(), URL: url, Templates: templates, CreatedAt: s.now().UTC().Truncate(time.Millisecond), CreatedBy: by}
	sealed, err := s.opts.Sealer.Seal([]byte(secret), []byte("webhook:"+w.ID))
	if err != nil {
		return Webhook{}, "", fmt.Errorf("notifications: seal webhook secret: %w", err)
	}
	w.Sealed = sealed
	if _, err := s.webhooks.InsertOne(ctx, w); err != nil {
		return Webhook{}, "", fmt.Errorf("notifications: save webhook: %w", err)
	}
	return w, secret, nil
}

// Webhooks lists the webhooks, oldest first.
func (s *Store) Webhooks(ctx context.Context) ([]Webhook, error) {
	cur, err := s.webhooks.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("notifications: list webhooks: %w", err)
	}
	out := []Webhook{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("notifications: list webhooks: %w", err)
	}
	return out, nil
}

// DeleteWebhook removes a webhook.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	res, err := s.webhooks.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("notifications: delete webhook: %w", err)
	}
	if res.DeletedCount == 0 {
		return ErrWebhookNotFound
	}
	return nil
}

// Sign returns the signature header value of body sent at t: "t=<unix>,v1=<hex hmac>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// webhookAttempts is how often one delivery is tried before the send fails (and the task's retry
// policy takes over); the waits between attempts double from webhookBackoff.
const (
	webhookAttempts = 3
	webhookBackoff  = 500 * time.Millisecond
)

// postWebhook delivers a payload to one webhook with retries: network errors, 408, 429 and 5xx are
// retried; other answers outside 2xx are permanent (*RejectedError).
func (s *Store) postWebhook(ctx context.Context, w Webhook, delivery string, body []byte) error {
	secret, err := s.opts.Sealer.Open(w.Sealed, []byte("webhook:"+w.ID))
	if err != nil {
		return &RejectedError{Err: fmt.Errorf("webhook %s: open secret: %w", w.ID, err)}
	}
	var last error
	wait := webhookBackoff
	for attempt := 0; attempt < webhookAttempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
		if err != nil {
			return &RejectedError{Err: fmt.Errorf("webhook %s: %w", w.ID, err)}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(DeliveryHeader, delivery)
		req.Header.Set(SignatureHeader, Sign(string(secret), s.now(), body))
		resp, err := s.opts.HTTP.Do(req)
		if err != nil {
			if errors.Is(err, outbound.ErrRefused) {
				return &RejectedError{Err: fmt.Errorf("webhook %s: %w", w.ID, err)}
			}
			last = fmt.Errorf("webhook %s: %w", w.ID, err)
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case resp.StatusCode < 300:
			return nil
		case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = fmt.Errorf("webhook %s: %s answered %d", w.ID, w.URL, resp.StatusCode)
		default:
			return &RejectedError{Err: fmt.Errorf("webhook %s: %s answered %d", w.ID, w.URL, resp.StatusCode)}
		}
	}
	return last
}

// WebhookPayload is the JSON body a webhook receives.
type WebhookPayload struct {
	ID        string         `json:"id"`
	Template  string         `json:"template"`
	To        string         `json:"to"`
	Language  string         `json:"language"`
	Subject   string         `json:"subject"`
	Body      string         `json:"body"`
	Data      map[string]any `json:"data,omitempty"`
	Source    string         `json:"source,omitempty"`
	CreatedAt time.Time      `json:"createdAt"`
}

func webhookPayload(n Notification) ([]byte, error) {
	b, err := json.Marshal(WebhookPayload{ID: n.ID, Template: n.Template, To: n.To, Language: n.Language, Subject: n.Subject,
		Body: n.Body, Data: n.Data, Source: n.Source, CreatedAt: n.CreatedAt})
	if err != nil {
		return nil, fmt.Errorf("notifications: webhook payload: %w", err)
	}
	return b, nil
}
