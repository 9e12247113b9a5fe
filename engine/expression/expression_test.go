package expression

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func leadVars() map[string]*Type {
	return map[string]*Type{
		"name":      Scalar(KindString),
		"email":     Scalar(KindString),
		"phone":     Scalar(KindString),
		"budget":    Scalar(KindFloat),
		"source":    Scalar(KindString),
		"score":     Scalar(KindInt),
		"tags":      ListOf(Scalar(KindString)),
		"createdAt": Scalar(KindTime),
		"vip":       Scalar(KindBool),
		"id":        Scalar(KindString),
		"wait":      Scalar(KindDuration),
		"extra":     Scalar(KindAny),
		"owner": ObjectOf(map[string]*Type{
			"email":  Scalar(KindString),
			"active": Scalar(KindBool),
		}),
	}
}

func leadRecord() map[string]any {
	return map[string]any{
		"name":      "  Ann   Lee ",
		"email":     " Ann@Example.COM ",
		"phone":     "+49 (30) 123-45",
		"budget":    2_500_000.0,
		"source":    "partner",
		"score":     42,
		"tags":      []any{"vip", "newsletter"},
		"createdAt": time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
		"vip":       true,
		"id":        "L-1",
		"wait":      90 * time.Minute,
		"extra":     "x",
		"owner":     map[string]any{"email": "bob@example.com", "active": true},
	}
}

// fixedCalendar counts every hour between 09:00 and 17:00 UTC on any day as
// business time; the real calendar lives in engine/rules/calendar.
type fixedCalendar struct{}

func (fixedCalendar) AddBusinessDuration(start time.Time, d time.Duration) (time.Time, error) {
	t := start.UTC()
	for d > 0 {
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		open, closeAt := day.Add(9*time.Hour), day.Add(17*time.Hour)
		if t.Before(open) {
			t = open
		}
		if !t.Before(closeAt) {
			t = day.AddDate(0, 0, 1).Add(9 * time.Hour)
			continue
		}
		if left := closeAt.Sub(t); d <= left {
			return t.Add(d), nil
		} else {
			d -= left
			t = closeAt
		}
	}
	return t, nil
}

func (fixedCalendar) BusinessDurationBetween(a, b time.Time) (time.Duration, error) {
	return b.Sub(a) / 3, nil
}

func testEnv() *Env {
	return NewEnv(leadVars(),
		WithCalendars(map[string]Calendar{"office": fixedCalendar{}}),
		WithSegments(SegmentSet{"top": {"L-1": true}, "newsletter": {"ann@example.com": true}}),
	)
}

var testNow = time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)

func TestCompileAndRun(t *testing.T) {
	env := testEnv()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		src    string
		want   any
		fields []string
		now    bool
	}{
		{"comparison", `budget > 1000000`, true, []string{"budget"}, false},
		{"string equality", `source == "partner"`, true, []string{"source"}, false},
		{"concat", `source + "/" + id`, "partner/L-1", []string{"id", "source"}, false},
		{"any concat", `extra + extra`, "xx", []string{"extra"}, false},
		{"nested object", `owner.email`, "bob@example.com", []string{"owner"}, false},
		{"in list", `"vip" in tags`, true, []string{"tags"}, false},
		{"closure", `any(tags, # == "newsletter") && score > 40`, true, []string{"score", "tags"}, false},
		{"let", `let s = score * 2; s + 1`, 85, []string{"score"}, false},
		{"now", `daysBetween(createdAt, now)`, 30, []string{"createdAt"}, true},
		{"addDays", `addDays(createdAt, 2)`, time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC), []string{"createdAt"}, false},
		{"addDays across DST keeps wall clock", `addDays(date("2025-03-29 10:00:00", "2006-01-02 15:04:05", "Europe/Berlin"), 1).Hour()`, 10, []string{}, false},
		{"addHours across DST is elapsed time", `addHours(date("2025-03-29 10:00:00", "2006-01-02 15:04:05", "Europe/Berlin"), 24).In(timezone("Europe/Berlin")).Hour()`, 11, []string{}, false},
		{"addHours fractional", `addHours(createdAt, 1.5)`, time.Date(2025, 3, 1, 11, 30, 0, 0, time.UTC), []string{"createdAt"}, false},
		{"addMinutes", `addMinutes(createdAt, 90) == createdAt + wait`, true, []string{"createdAt", "wait"}, false},
		{"hoursBetween", `hoursBetween(createdAt, addHours(createdAt, 3))`, 3.0, []string{"createdAt"}, false},
		{"startOfDay zone", `startOfDay(date("2025-03-01T23:30:00Z"), "Europe/Berlin")`, time.Date(2025, 3, 2, 0, 0, 0, 0, berlin), []string{}, false},
		{"startOfDay own zone", `startOfDay(createdAt)`, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), []string{"createdAt"}, false},
		{"weekday", `weekday(createdAt)`, int(time.Saturday), []string{"createdAt"}, false},
		{"weekday zone", `weekday(date("2025-03-01T23:30:00Z"), "Asia/Tokyo")`, int(time.Sunday), []string{}, false},
		{"business hours", `addBusinessHours(createdAt, 10, "office")`, time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC), []string{"createdAt"}, false},
		{"business hours between", `businessHoursBetween(createdAt, addHours(createdAt, 6), "office")`, 2.0, []string{"createdAt"}, false},
		{"normalizeEmail", `normalizeEmail(email)`, "ann@example.com", []string{"email"}, false},
		{"digitsOnly", `digitsOnly(phone)`, "49301234" + "5", []string{"phone"}, false},
		{"normalizeSpace", `normalizeSpace(name)`, "Ann Lee", []string{"name"}, false},
		{"lower trim", `lower(trim(name))`, "ann   lee", []string{"name"}, false},
		{"inList", `inList(source, ["partner", "event"])`, true, []string{"source"}, false},
		{"inList miss", `inList(score, [1, 2])`, false, []string{"score"}, false},
		{"hasAny", `hasAny(tags, ["x", "vip"])`, true, []string{"tags"}, false},
		{"hasAll", `hasAll(tags, ["vip", "x"])`, false, []string{"tags"}, false},
		{"segment set", `id in segment("top")`, true, []string{"id"}, false},
		{"inSegment", `inSegment(normalizeEmail(email), "newsletter")`, true, []string{"email"}, false},
		{"join", `join(tags, ",")`, "vip,newsletter", []string{"tags"}, false},
		{"repeat", `repeat("ab", 2)`, "abab", []string{}, false},
		{"replace", `replace(source, "t", "T")`, "parTner", []string{"source"}, false},
		{"string", `string(score)`, "42", []string{"score"}, false},
		{"duration builtin", `wait > duration("1h")`, true, []string{"wait"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.src, env)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got, err := p.Run(leadRecord(), testNow)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if gt, ok := got.(time.Time); ok {
				if !gt.Equal(tt.want.(time.Time)) {
					t.Fatalf("got %v, want %v", gt, tt.want)
				}
			} else if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
			if f := p.Fields(); !reflect.DeepEqual(f, tt.fields) {
				t.Fatalf("fields %v, want %v", f, tt.fields)
			}
			if p.UsesNow() != tt.now {
				t.Fatalf("UsesNow %v, want %v", p.UsesNow(), tt.now)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	env := testEnv()
	tests := []struct {
		name    string
		src     string
		opts    []Option
		line    int
		column  int
		message string
	}{
		{"unknown field", `budget > 10 && bugdet < 5`, nil, 1, 16, `unknown name bugdet (did you mean "budget"?)`},
		{"unknown field without suggestion", `zzzzzz`, nil, 1, 1, "unknown name zzzzzz"},
		{"unknown field second line", "budget > 10 &&\n  nope", nil, 2, 3, "unknown name nope"},
		{"type mismatch", `budget > "a lot"`, nil, 1, 8, "mismatched types"},
		{"unknown object field", `owner.phone == ""`, nil, 1, 7, "phone"},
		{"syntax", `score >`, nil, 1, 0, "unexpected token"},
		{"wall clock builtin", `now() > createdAt`, nil, 1, 1, ""},
		{"host zone", `createdAt.Local().Hour()`, nil, 1, 11, "Local()"},
		{"reserved", `__run__ == nil`, nil, 1, 1, "reserved"},
		{"helper arity", `addDays(createdAt)`, nil, 1, 1, "addDays expects 2"},
		{"helper type", `addDays(createdAt, "2")`, nil, 1, 1, "argument 2 must be int"},
		{"expect bool", `score + 1`, []Option{Expect(KindBool)}, 1, 1, "bool"},
		{"expect string", `score + 1`, []Option{Expect(KindString)}, 1, 1, "expected string"},
		{"empty", `  `, nil, 1, 1, "empty"},
		{"too long", strings.Repeat("1+", 3000) + "1", nil, 1, 1, "limit"},
		{"too many nodes", strings.Repeat("1+", 1500) + "1", nil, 1, 0, "nodes"},
		{"pattern built at run time", `stage matches repeat("a?", 20) + "b"`, nil, 1, 7, "must be a string literal"},
		{"pattern from a field", `stage matches owner.name`, nil, 1, 7, "must be a string literal"},
		{"invalid literal pattern", `stage matches "a("`, nil, 1, 7, "invalid pattern"},
		{"literal pattern too large", `stage matches "(a?){500}a{500}"`, nil, 1, 7, "too complex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.src, env, tt.opts...)
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("want *Error, got %v", err)
			}
			p := ce.Problems[0]
			if p.Line != tt.line || (tt.column > 0 && p.Column != tt.column) {
				t.Fatalf("position %d:%d, want %d:%d (%s)", p.Line, p.Column, tt.line, tt.column, p.Message)
			}
			if !strings.Contains(p.Message, tt.message) {
				t.Fatalf("message %q does not contain %q", p.Message, tt.message)
			}
		})
	}
}

func TestExpectConverts(t *testing.T) {
	env := testEnv()
	p, err := Compile(`score + 1`, env, Expect(KindFloat))
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Run(leadRecord(), testNow)
	if err != nil || got != 43.0 {
		t.Fatalf("got %#v, %v", got, err)
	}
	// A dynamically typed result is checked at run time.
	p, err = Compile(`extra`, env, Expect(KindBool))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(leadRecord(), testNow); err == nil {
		t.Fatal("want a run-time kind error for a string where a bool is expected")
	}
}

func TestRunLimits(t *testing.T) {
	env := NewEnv(leadVars(), WithLimits(Limits{MemoryBudget: 1000, MaxStringBytes: 1000}))
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"range budget", `len(map(1..100000, #))`, "memory budget"},
		{"nested loops", `all(1..100, all(1..100, all(1..100, true)))`, "memory budget"},
		{"string doubling", `reduce(1..64, #acc + #acc, "ab")`, "string budget"},
		{"repeat", `repeat("abc", 1000000)`, "string budget"},
		{"repeat overflow", `repeat(repeat("x", 900), 9223372036854775807)`, "string budget"},
		{"replace growth", `replace(repeat("x", 500), "", "yyyyyyyyyy")`, "string budget"},
		{"join", `join(map(1..100, repeat("x", 20)))`, "string budget"},
		{"string of list", `string(map(1..20, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"))`, "string budget"},
		{"host zone", `timezone("Local")`, "host"},
		{"unknown zone", `startOfDay(now, "Mars/Olympus")`, "Mars/Olympus"},
		{"unknown calendar", `addBusinessHours(now, 1, "nope")`, "unknown business calendar"},
		{"no segments", `segment("top")`, "no segments"},
		{"division by zero", `score / 0 > 1 && 1 % (score - 42) == 0`, "integer divide by zero"},
		{"index out of range", `tags[5] == "x"`, "out of range"},
		{"huge hours", `addHours(now, 1e300)`, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.src, env)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			_, err = p.Run(leadRecord(), testNow)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestEnvProblems(t *testing.T) {
	env := NewEnv(map[string]*Type{"now": Scalar(KindTime), "__x": Scalar(KindInt), "bad": {Kind: Kind(99)}})
	if env.Err() == nil {
		t.Fatal("want environment problems")
	}
	for _, want := range []string{`"now"`, `"__x"`, "unknown kind"} {
		if !strings.Contains(env.Err().Error(), want) {
			t.Errorf("%v does not mention %s", env.Err(), want)
		}
	}
	if _, err := Compile("1 == 1", env); err == nil {
		t.Fatal("compile against a broken env must fail")
	}
}

func TestCoerce(t *testing.T) {
	env := testEnv()
	vars := map[string]any{
		"budget":    int64(5),
		"score":     float64(7),
		"createdAt": "2025-01-02T03:04:05Z",
		"tags":      []string{"a"},
		"wait":      "2h",
		"owner":     map[string]any{"email": "x@y"},
		"other":     "kept",
	}
	if err := env.Coerce(vars); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"budget": 5.0, "score": 7, "createdAt": time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), "tags": []any{"a"},
		"wait": 2 * time.Hour, "owner": map[string]any{"email": "x@y", "active": false}, "other": "kept",
		"name": "", "email": "", "phone": "", "source": "", "vip": false, "id": "", "extra": nil,
	}
	if !reflect.DeepEqual(vars, want) {
		t.Fatalf("got %#v\nwant %#v", vars, want)
	}
	p, err := Compile(`budget > 1 && score == 7 && !vip`, env)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Run(vars, testNow); err != nil || got != true {
		t.Fatalf("got %v, %v", got, err)
	}
	// Named map types and time-like values (as BSON decoding yields) are
	// converted too.
	type docMap map[string]any
	bson := map[string]any{"owner": docMap{"email": "o@x", "active": true}, "createdAt": timeLike{testNow}}
	if err := env.Coerce(bson); err != nil {
		t.Fatal(err)
	}
	if _, ok := bson["owner"].(map[string]any); !ok || !bson["createdAt"].(time.Time).Equal(testNow) {
		t.Fatalf("got %#v", bson)
	}
	for _, bad := range []map[string]any{{"score": 1.5}, {"createdAt": "yesterday"}, {"tags": "a"}, {"vip": "yes"}} {
		if err := env.Coerce(bad); err == nil {
			t.Errorf("Coerce(%v) accepted a wrong type", bad)
		}
	}
}

func TestEvaluatorDoesNotAllocate(t *testing.T) {
	env := testEnv()
	srcs := []string{`budget > 1000000`, `source == "partner" && score >= 10`, `"vip" in tags`, `vip || budget < 10`}
	progs := make([]*Program, len(srcs))
	for i, s := range srcs {
		p, err := Compile(s, env, Expect(KindBool))
		if err != nil {
			t.Fatal(err)
		}
		progs[i] = p
	}
	ev := env.NewEvaluator()
	rec := leadRecord()
	ev.Bind(rec, testNow)
	allocs := testing.AllocsPerRun(200, func() {
		ev.Bind(rec, testNow)
		for _, p := range progs {
			if ok, err := ev.EvalBool(p, rec); err != nil || !ok {
				t.Fatalf("%s: %v %v", p.Source(), ok, err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per evaluation, want 0", allocs)
	}
}

func TestBatchAgreesWithPrograms(t *testing.T) {
	env := testEnv()
	srcs := []string{
		`budget > 1000000`,
		`source == "partner" && score >= 10`,
		`"vip" in tags`,
		`daysBetween(createdAt, now) > 10`,
		`any(tags, # == source) || owner.active`,
		`name + "!" == "  Ann   Lee !"`,
		`len(filter(tags, len(#) > 3)) == 1`,
		`vip`,
	}
	var progs []*Program
	for _, s := range srcs {
		p, err := Compile(s, env, Expect(KindBool))
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, p)
	}
	b, err := CompileBatch(progs)
	if err != nil {
		t.Fatal(err)
	}
	if !b.NeedsBind() {
		t.Fatal("batch reads now and builds strings but says it needs no binding")
	}
	ev := env.NewEvaluator()
	records := []map[string]any{leadRecord()}
	r2 := leadRecord()
	r2["budget"], r2["source"], r2["tags"], r2["vip"], r2["name"] = 5.0, "vip", []any{"vip"}, false, "x"
	r2["owner"] = map[string]any{"email": "", "active": false}
	records = append(records, r2)
	for i, rec := range records {
		ev.Bind(rec, testNow)
		got := make([]bool, len(progs))
		if err := ev.EvalBatch(b, rec, got); err != nil {
			t.Fatal(err)
		}
		for j, p := range progs {
			want, err := ev.EvalBool(p, rec)
			if err != nil {
				t.Fatal(err)
			}
			if got[j] != want {
				t.Errorf("record %d, %s: batch %v, program %v", i, p.Source(), got[j], want)
			}
		}
	}
	// A run-time failure fails the batch.
	bad := leadRecord()
	bad["tags"] = []any{1}
	ev.Bind(bad, testNow)
	if err := ev.EvalBatch(b, bad, make([]bool, len(progs))); err == nil {
		t.Fatal("want an error from a failing condition")
	}
	// Conditions declaring variables are not combined.
	withLet, err := Compile(`let x = score; x > 1`, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CompileBatch([]*Program{progs[0], withLet}); !errors.Is(err, ErrNotBatchable) {
		t.Fatalf("got %v, want ErrNotBatchable", err)
	}
}

func TestNativeBatchMatchesVM(t *testing.T) {
	env := testEnv()
	srcs := []string{
		`budget > 1000000`, `budget >= 2500000`, `budget == 2500000`, `budget != 1.5`, `budget < -3`, `-3 < budget`,
		`1000 <= budget`, `score > 40.5`, `score == 42`, `score in [1, 42]`, `score not in [42]`, `42 == score`,
		`source == "partner"`, `source < "q"`, `"p" >= source`, `source in ["a", "partner"]`, `!(source == "x")`,
		`not vip`, `vip == false`, `vip != true`, `vip && budget > 1 || score < 0`, `vip or source != ""`,
		`createdAt > now`, `createdAt <= now`, `createdAt == createdAt`, `score >= score`, `name < email`, `budget != budget`,
		`true && vip`, `!false`,
	}
	var progs []*Program
	for _, s := range srcs {
		p, err := Compile(s, env, Expect(KindBool))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		progs = append(progs, p)
	}
	b, err := CompileBatch(progs)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Native() {
		t.Fatal("simple conditions did not compile to native closures")
	}
	// Records with edge values and with wrongly typed values (which must
	// fall back to the VM and agree with it, errors included).
	values := map[string][]any{
		"budget":    {0.0, 2_500_000.0, -3.0, 1.5, math.NaN(), math.Inf(1), 1000.0, "x", nil, 7},
		"score":     {0, 42, 41, 1, -5, 42.0, nil},
		"source":    {"", "partner", "p", "q", "a", 3},
		"vip":       {true, false, nil, "true"},
		"createdAt": {testNow, testNow.In(time.FixedZone("x", 3600)), testNow.Add(time.Second), time.Time{}},
		"name":      {"a", "b", ""},
		"email":     {"a", "c"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ev := env.NewEvaluator()
	got := make([]bool, len(progs))
	for n := 0; n < 3000; n++ {
		rec := leadRecord()
		for k, vs := range values {
			rec[k] = vs[rng.IntN(len(vs))]
		}
		ev.Bind(rec, testNow)
		berr := ev.EvalBatch(b, rec, got)
		var firstErr error
		for j, p := range progs {
			want, err := ev.EvalBool(p, rec)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if berr == nil && got[j] != want {
				t.Fatalf("record %v, %s: batch %v, VM %v", rec, p.Source(), got[j], want)
			}
		}
		if (berr != nil) != (firstErr != nil) {
			t.Fatalf("record %v: batch error %v, program error %v", rec, berr, firstErr)
		}
	}
}

type timeLike struct{ t time.Time }

func (x timeLike) Time() time.Time { return x.t }

func TestStepAndListLimits(t *testing.T) {
	env := NewEnv(leadVars(), WithLimits(Limits{MemoryBudget: 10_000_000, MaxStringBytes: 100_000, MaxSteps: 50_000}))
	tests := []struct {
		name string
		src  string
		want string // empty: must succeed
	}{
		{"nested loops", `reduce(1..1000, #acc + count(1..1000, # > 0), 0) > 0`, "step limit"},
		{"loops within the limit", `reduce(1..100, #acc + count(1..100, # > 0), 0) == 10000`, ""},
		{"split charged", `len(split(repeat("a", 90000), ""))`, "string budget"},
		{"quadratic split", `let s = repeat("a", 3000); len(map(split(s, ""), split(s, "")))`, "string budget"},
		{"split within the limit", `split("a,b,c", ",")[1] == "b" && splitAfter("a,b", ",")[0] == "a," && len(split("a,b,c", ",", 2)) == 2`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.src, env)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			out, err := p.Run(leadRecord(), testNow)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if out == false {
					t.Fatalf("got %v", out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, %v; want an error containing %q", out, err, tt.want)
			}
		})
	}
}
