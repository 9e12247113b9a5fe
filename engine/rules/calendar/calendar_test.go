package calendar

import (
	"strings"
	"testing"
	"time"
)

func office(t *testing.T, zone string) *Calendar {
	t.Helper()
	day := []Interval{{"09:00", "12:00"}, {"13:00", "17:00"}}
	c, err := New(Spec{Name: "office", TimeZone: zone,
		Hours:    map[string][]Interval{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
		Holidays: []string{"2025-12-25", "2025-12-26"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAddBusinessDuration(t *testing.T) {
	const ber, ny = "Europe/Berlin", "America/New_York"
	tests := []struct {
		name  string
		zone  string // calendar zone
		start time.Time
		d     time.Duration
		want  time.Time
	}{
		{"within a morning", ber, at(t, ber, "2025-03-05 09:30"), 2 * time.Hour, at(t, ber, "2025-03-05 11:30")},
		{"over lunch", ber, at(t, ber, "2025-03-05 11:00"), 2 * time.Hour, at(t, ber, "2025-03-05 14:00")},
		{"over a weekend", ber, at(t, ber, "2025-03-07 16:00"), 2 * time.Hour, at(t, ber, "2025-03-10 10:00")},
		{"start on a Saturday", ber, at(t, ber, "2025-03-08 10:00"), time.Hour, at(t, ber, "2025-03-10 10:00")},
		{"zero outside hours waits for opening", ber, at(t, ber, "2025-03-05 07:00"), 0, at(t, ber, "2025-03-05 09:00")},
		{"ends exactly at closing", ber, at(t, ber, "2025-03-05 16:00"), time.Hour, at(t, ber, "2025-03-05 17:00")},
		{"over Christmas holidays", ber, at(t, ber, "2025-12-24 16:00"), 3 * time.Hour, at(t, ber, "2025-12-29 11:00")},
		{"over the spring DST weekend", ber, at(t, ber, "2025-03-28 16:00"), 7 * time.Hour, at(t, ber, "2025-03-31 16:00")},
		{"over the autumn DST weekend", ber, at(t, ber, "2025-10-24 16:00"), 7 * time.Hour, at(t, ber, "2025-10-27 16:00")},
		{"several weeks", ber, at(t, ber, "2025-03-03 09:00"), 3 * 35 * time.Hour, at(t, ber, "2025-03-21 17:00")},
		{"start given in another zone", ber, at(t, "UTC", "2025-03-10 07:30"), time.Hour, at(t, "UTC", "2025-03-10 09:00")},
		{"New York calendar, start given in Berlin", ny, at(t, ber, "2025-03-07 22:00"), 3 * time.Hour, at(t, ny, "2025-03-10 11:00")},
		{"New York DST (March 9)", ny, at(t, ny, "2025-03-07 16:00"), 2 * time.Hour, at(t, ny, "2025-03-10 10:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := office(t, tt.zone)
			got, err := c.AddBusinessDuration(tt.start, tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if got.Location() != c.Location() {
				t.Fatalf("result in %v, want the calendar zone", got.Location())
			}
			back, err := c.BusinessDurationBetween(tt.start, got)
			if err != nil {
				t.Fatal(err)
			}
			if back != tt.d {
				t.Fatalf("BusinessDurationBetween(start, result) = %v, want %v", back, tt.d)
			}
		})
	}
}

func TestBusinessDurationBetween(t *testing.T) {
	const ber = "Europe/Berlin"
	allDay := []Interval{{"00:00", "24:00"}}
	always, err := New(Spec{Name: "24x7", TimeZone: ber, Hours: map[string][]Interval{
		"mon": allDay, "tue": allDay, "wed": allDay, "thu": allDay, "fri": allDay, "sat": allDay, "sun": allDay}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    *Calendar
		a, b time.Time
		want time.Duration
	}{
		{"same day", office(t, ber), at(t, ber, "2025-03-05 08:00"), at(t, ber, "2025-03-05 18:00"), 7 * time.Hour},
		{"weekend", office(t, ber), at(t, ber, "2025-03-07 16:00"), at(t, ber, "2025-03-10 10:00"), 2 * time.Hour},
		{"reversed is negative", office(t, ber), at(t, ber, "2025-03-10 10:00"), at(t, ber, "2025-03-07 16:00"), -2 * time.Hour},
		{"holidays count nothing", office(t, ber), at(t, ber, "2025-12-25 00:00"), at(t, ber, "2025-12-28 23:00"), 0},
		{"spring-forward day has 23 hours", always, at(t, ber, "2025-03-30 00:00"), at(t, ber, "2025-03-31 00:00"), 23 * time.Hour},
		{"fall-back day has 25 hours", always, at(t, ber, "2025-10-26 00:00"), at(t, ber, "2025-10-27 00:00"), 25 * time.Hour},
		{"a whole week", office(t, ber), at(t, ber, "2025-03-03 00:00"), at(t, ber, "2025-03-10 00:00"), 35 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.BusinessDurationBetween(tt.a, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsBusinessTime(t *testing.T) {
	c := office(t, "Europe/Berlin")
	for s, want := range map[string]bool{
		"2025-03-05 09:00": true, "2025-03-05 12:30": false, "2025-03-05 16:59": true, "2025-03-05 17:00": false,
		"2025-03-08 10:00": false, "2025-12-25 10:00": false,
	} {
		if got := c.IsBusinessTime(at(t, "Europe/Berlin", s)); got != want {
			t.Errorf("%s: got %v, want %v", s, got, want)
		}
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	ok := map[string][]Interval{"mon": {{"09:00", "17:00"}}}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no zone", Spec{Hours: ok}, "IANA"},
		{"host zone", Spec{TimeZone: "Local", Hours: ok}, "IANA"},
		{"unknown zone", Spec{TimeZone: "Mars/Base", Hours: ok}, "Mars/Base"},
		{"no hours", Spec{TimeZone: "UTC"}, "no working time"},
		{"bad weekday", Spec{TimeZone: "UTC", Hours: map[string][]Interval{"funday": {{"09:00", "10:00"}}}}, "funday"},
		{"end before start", Spec{TimeZone: "UTC", Hours: map[string][]Interval{"mon": {{"17:00", "09:00"}}}}, "not after"},
		{"bad clock", Spec{TimeZone: "UTC", Hours: map[string][]Interval{"mon": {{"9", "17:00"}}}}, "HH:MM"},
		{"overlap", Spec{TimeZone: "UTC", Hours: map[string][]Interval{"mon": {{"09:00", "12:00"}, {"11:00", "13:00"}}}}, "overlap"},
		{"bad holiday", Spec{TimeZone: "UTC", Hours: ok, Holidays: []string{"25.12.2025"}}, "holidays[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestOnlyHolidaysErrors(t *testing.T) {
	c, err := New(Spec{Name: "x", TimeZone: "UTC", Hours: map[string][]Interval{"mon": {{"09:00", "10:00"}}}})
	if err != nil {
		t.Fatal(err)
	}
	// A duration far beyond maxDays of working time must stop with an error.
	if _, err := c.AddBusinessDuration(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 100000*time.Hour); err == nil {
		t.Fatal("want an error for a duration beyond the search horizon")
	}
	if _, err := c.AddBusinessDuration(time.Now(), -time.Hour); err == nil {
		t.Fatal("want an error for a negative duration")
	}
}
