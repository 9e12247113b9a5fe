package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// rpcClient speaks Tryton's JSON-RPC: POST /<database>/ with {"method", "params"},
// authenticated by a session from common.db.login. Tryton encodes decimals, dates and
// datetimes as objects tagged with "__class__"; decimalValue, dateValue and
// datetimeValue produce them and the as* helpers read them.
type rpcClient struct {
	http     *http.Client
	url      string // base URL with the database, ending in "/"
	username string
	password string

	mu      sync.Mutex
	session string // "Session <base64>" header value; empty before login
	nextID  atomic.Int64
}

func newRPCClient(baseURL, database, username, password string) *rpcClient {
	return &rpcClient{http: &http.Client{}, url: strings.TrimRight(baseURL, "/") + "/" + database + "/",
		username: username, password: password}
}

type rpcRequest struct {
	ID     int64  `json:"id"`
	Method string `json:"method"`
	Params []any  `json:"params"`
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// errUnauthorized reports an expired or missing session; call logs in again once.
var errUnauthorized = errors.New("tryton session rejected")

func (c *rpcClient) post(ctx context.Context, auth, method string, params []any) (json.RawMessage, error) {
	body, err := json.Marshal(rpcRequest{ID: c.nextID.Add(1), Method: method, Params: params})
	if err != nil {
		return nil, connector.Invalid("encode %s: %v", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, connector.Permanent("build request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, connector.Unavailable("tryton %s: %v", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, connector.Unavailable("tryton %s: read response: %v", method, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, errUnauthorized
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, connector.Unavailable("tryton %s: HTTP %d", method, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, connector.Permanent("tryton %s: HTTP %d", method, resp.StatusCode)
	}
	var r rpcResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, connector.Internal("tryton %s: decode response: %v", method, err)
	}
	if len(r.Error) > 0 && string(r.Error) != "null" {
		return nil, trytonError(method, r.Error)
	}
	return r.Result, nil
}

// trytonError maps Tryton's ["Kind", [message, ...]] errors to connector kinds.
func trytonError(method string, raw json.RawMessage) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) == 0 {
		return connector.Internal("tryton %s: %s", method, raw)
	}
	var kind string
	_ = json.Unmarshal(parts[0], &kind)
	msg := kind
	if len(parts) > 1 {
		var args []any
		if json.Unmarshal(parts[1], &args) == nil && len(args) > 0 {
			msg = fmt.Sprint(args[0])
		}
	}
	switch kind {
	case "UserError", "UserWarning", "DomainValidationError", "RequiredValidationError", "SizeValidationError",
		"DigitsValidationError", "SelectionValidationError", "TimeFormatValidationError", "ForbiddenCharValidationError":
		return connector.Invalid("tryton %s: %s", method, msg)
	case "AccessError", "LoginException", "RateLimitException":
		return connector.Permanent("tryton %s: %s", method, msg)
	case "ConcurrencyException":
		return connector.Conflict("tryton %s: %s", method, msg)
	}
	return connector.Internal("tryton %s: %s", method, msg)
}

// login opens a session. Tryton answers a wrong password with an error (sometimes an
// HTTP 500), which is permanent until the configuration changes.
func (c *rpcClient) login(ctx context.Context) (string, error) {
	res, err := c.post(ctx, "", "common.db.login", []any{c.username, map[string]any{"password": c.password}, "en"})
	if err != nil {
		if errors.Is(err, connector.ErrUnavailable) && ctx.Err() == nil {
			if strings.Contains(err.Error(), "HTTP 5") {
				return "", connector.Permanent("tryton login as %q failed (wrong user, password or database?)", c.username)
			}
		}
		return "", err
	}
	var pair []any
	if err := json.Unmarshal(res, &pair); err != nil || len(pair) != 2 {
		return "", connector.Permanent("tryton login as %q failed", c.username)
	}
	tok := fmt.Sprintf("%s:%v:%v", c.username, pair[0], pair[1])
	return "Session " + base64.StdEncoding.EncodeToString([]byte(tok)), nil
}

// call runs an authenticated method, logging in first and once more if the session expired.
func (c *rpcClient) call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		auth := c.session
		c.mu.Unlock()
		if auth == "" {
			var err error
			if auth, err = c.login(ctx); err != nil {
				return nil, err
			}
			c.mu.Lock()
			c.session = auth
			c.mu.Unlock()
		}
		res, err := c.post(ctx, auth, method, params)
		if errors.Is(err, errUnauthorized) {
			c.mu.Lock()
			c.session = ""
			c.mu.Unlock()
			if attempt == 0 {
				continue
			}
			return nil, connector.Permanent("tryton %s: session rejected after a fresh login", method)
		}
		return res, err
	}
}

// callInto runs a method and decodes its result into out (numbers kept exact).
func (c *rpcClient) callInto(ctx context.Context, out any, method string, params ...any) error {
	res, err := c.call(ctx, method, params...)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(res))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return connector.Internal("tryton %s: decode result: %v", method, err)
	}
	return nil
}

// decimalValue is a number Tryton must receive as a Python Decimal.
type decimalValue string

func (d decimalValue) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"__class__": "Decimal", "decimal": string(d)})
}

// dateValue is a calendar date for Tryton.
type dateValue time.Time

func (d dateValue) MarshalJSON() ([]byte, error) {
	t := time.Time(d)
	return json.Marshal(map[string]any{"__class__": "date", "year": t.Year(), "month": int(t.Month()), "day": t.Day()})
}

// datetimeValue is a UTC timestamp for Tryton (which stores naive UTC datetimes).
type datetimeValue time.Time

func (d datetimeValue) MarshalJSON() ([]byte, error) {
	t := time.Time(d).UTC()
	return json.Marshal(map[string]any{"__class__": "datetime", "year": t.Year(), "month": int(t.Month()), "day": t.Day(),
		"hour": t.Hour(), "minute": t.Minute(), "second": t.Second(), "microsecond": t.Nanosecond() / 1000})
}

// record is one row of a search_read or read result.
type record map[string]any

func (r record) str(k string) string {
	switch v := r[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func (r record) id(k string) int64 {
	if n, ok := r[k].(json.Number); ok {
		i, _ := n.Int64()
		return i
	}
	return 0
}

func (r record) idStr(k string) string {
	if i := r.id(k); i != 0 {
		return strconv.FormatInt(i, 10)
	}
	return ""
}

// decimal reads a Decimal object or a plain number as a decimal string.
func (r record) decimal(k string) string {
	switch v := r[k].(type) {
	case map[string]any:
		if s, ok := v["decimal"].(string); ok {
			return s
		}
	case json.Number:
		return v.String()
	}
	return ""
}

// time reads a date or datetime object.
func (r record) time(k string) time.Time {
	m, ok := r[k].(map[string]any)
	if !ok {
		return time.Time{}
	}
	n := func(f string) int {
		if x, ok := m[f].(json.Number); ok {
			i, _ := x.Int64()
			return int(i)
		}
		return 0
	}
	return time.Date(n("year"), time.Month(n("month")), n("day"), n("hour"), n("minute"), n("second"), n("microsecond")*1000, time.UTC)
}

// sub reads a dotted Many2One value ("currency." → {"code": ...}).
func (r record) sub(k string) record {
	if m, ok := r[k+"."].(map[string]any); ok {
		return m
	}
	return record{}
}

// subs reads a dotted One2Many value ("addresses." → [{...}, ...]).
func (r record) subs(k string) []record {
	l, _ := r[k+"."].([]any)
	out := make([]record, 0, len(l))
	for _, v := range l {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
