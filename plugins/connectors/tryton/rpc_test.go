package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

func TestTrytonErrorKinds(t *testing.T) {
	tests := []struct {
		raw  string
		want *connector.Error
	}{
		{`["UserError", ["The field \"Quantity\" is required.", "", null]]`, connector.ErrInvalid},
		{`["RequiredValidationError", ["missing"]]`, connector.ErrInvalid},
		{`["AccessError", ["You are not allowed"]]`, connector.ErrPermanent},
		{`["ConcurrencyException", ["Records were modified"]]`, connector.ErrConflict},
		{`["'nosuchfield'", ""]`, connector.ErrInternal},
		{`"garbage"`, connector.ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			err := trytonError("model.x.y", json.RawMessage(tt.raw))
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v (kind %s), want %s", err, connector.KindOf(err), tt.want.Kind)
			}
		})
	}
}

func TestTrytonValuesRoundTrip(t *testing.T) {
	when := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)
	b, err := json.Marshal(map[string]any{"d": dateValue(when), "dt": datetimeValue(when), "n": decimalValue("12.50")})
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var r record
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if got := r.time("d"); !got.Equal(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date = %v", got)
	}
	if got := r.time("dt"); !got.Equal(when) {
		t.Errorf("datetime = %v, want %v", got, when)
	}
	if got := r.decimal("n"); got != "12.50" {
		t.Errorf("decimal = %q", got)
	}
}

func TestPageDomainCursor(t *testing.T) {
	if _, err := pageDomain("!!", "party", "", time.Time{}); !errors.Is(err, connector.ErrInvalid) {
		t.Errorf("malformed cursor: err = %v, want invalid", err)
	}
	d, err := pageDomain("NDI", "party", "7", time.Time{}) // base64url("42")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	enc := json.NewEncoder(&got)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		t.Fatal(err)
	}
	if want := `[["id",">",42],["party","=",7]]` + "\n"; got.String() != want {
		t.Errorf("domain = %s, want %s", got.String(), want)
	}
}
