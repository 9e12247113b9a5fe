package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// scaleSizes are the store sizes the scale benchmark compares: leads and contacts each.
var scaleSizes = []int{1000, 50000}

// scaleOps are the operations measured at each size, in table order.
var scaleOps = []string{"get lead", "patch lead", "delete+restore contact", "create contact (dedupe)", "duplicate contact (409)",
	"list 50 leads, filtered+sorted", "list 50 leads + count", "import contacts (per row)"}

// byID are the operations that must not slow down as the store grows (ratio ≤ 1.5).
var byID = map[string]bool{"get lead": true, "patch lead": true, "delete+restore contact": true, "create contact (dedupe)": true,
	"duplicate contact (409)": true, "import contacts (per row)": true}

// scaleRun carries the seeded IDs and the measured times of one run of the scale benchmark.
type scaleRun struct {
	leads, contacts []string
	emails          int64
	ns              map[string]map[int]float64
	growth          map[int]float64 // contacts imported per second while growing to the size
}

// BenchmarkRecordsScale is issue 14's scale benchmark on the embedded store: it grows the store to
// 1,000 and then 50,000 leads and contacts (leads inserted raw, contacts imported through the API with
// dedupe on email) and measures each operation through the API at each size. It prints a table with
// the ratio 50k ÷ 1k: by-ID and dedupe operations must stay flat (≤ 1.5), lists are full scans on the
// embedded store and grow with it (see README, "Capacity").
func BenchmarkRecordsScale(b *testing.B) {
	run := &scaleRun{ns: map[string]map[int]float64{}, growth: map[int]float64{}}
	for _, size := range scaleSizes {
		run.grow(b, size)
		for _, op := range scaleOps {
			b.Run(fmt.Sprintf("%s/%dk", strings.ReplaceAll(op, " ", "_"), size/1000), func(b *testing.B) {
				run.measure(b, op, size)
			})
		}
	}
	run.print(os.Stdout)
}

// measure runs one operation b.N times and records its time per operation.
func (r *scaleRun) measure(b *testing.B, op string, size int) {
	ctx := context.Background()
	var i atomic.Int64
	next := func(ids []string) string { return ids[int(i.Add(1))%len(ids)] }
	switch op {
	case "get lead":
		for b.Loop() {
			scaleDo(b, http.MethodGet, "/api/v1/records/lead/"+next(r.leads), nil, http.StatusOK)
		}
	case "patch lead":
		statuses := []string{"contacted", "qualified", "new"}
		for b.Loop() {
			scaleDo(b, http.MethodPatch, "/api/v1/records/lead/"+next(r.leads), map[string]any{"status": statuses[i.Load()%3]}, http.StatusOK)
		}
	case "delete+restore contact":
		for b.Loop() {
			id := next(r.contacts)
			scaleDo(b, http.MethodDelete, "/api/v1/records/contact/"+id, nil, http.StatusOK)
			scaleDo(b, http.MethodPost, "/api/v1/records/contact/"+id+"/restore", nil, http.StatusOK)
		}
	case "create contact (dedupe)":
		for b.Loop() {
			n := atomic.AddInt64(&r.emails, 1)
			scaleDo(b, http.MethodPost, "/api/v1/records/contact", map[string]any{"firstName": "New", "emails": []string{fmt.Sprintf("new%d@scale.test", n)}}, http.StatusCreated)
		}
	case "duplicate contact (409)":
		for b.Loop() {
			n := 1 + i.Add(1)%int64(size)
			scaleDo(b, http.MethodPost, "/api/v1/records/contact", map[string]any{"firstName": "Dup", "emails": []string{fmt.Sprintf("c%d@scale.test", n)}}, http.StatusConflict)
		}
	case "list 50 leads, filtered+sorted", "list 50 leads + count":
		path := "/api/v1/records/lead?limit=50&sort=-createdAt&filter=" + url.QueryEscape(`status == "qualified"`)
		if strings.Contains(op, "count") {
			path += "&count=true"
		}
		for b.Loop() {
			scaleDo(b, http.MethodGet, path, nil, http.StatusOK)
		}
	case "import contacts (per row)":
		start := time.Now()
		r.importContacts(b, b.N, "imp")
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
	}
	_ = ctx
	if r.ns[op] == nil {
		r.ns[op] = map[int]float64{}
	}
	r.ns[op][size] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

// grow brings the store to size leads (inserted with the driver, as the API would store them) and size
// contacts (imported through the API, each checked for duplicates), and keeps their IDs.
func (r *scaleRun) grow(b *testing.B, size int) {
	ctx := context.Background()
	coll := env.DB.Collection("records_lead")
	statuses := []string{"new", "contacted", "qualified", "disqualified", "converted"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch []any
	for i := len(r.leads); i < size; i++ {
		id := uuid.NewString()
		at := base.Add(time.Duration(i) * time.Minute)
		batch = append(batch, bson.M{"_id": id, "source": "import", "name": fmt.Sprintf("Scale %d", i), "companyName": "ScaleCo",
			"email": fmt.Sprintf("scale%d@bench.test", i), "status": statuses[i%len(statuses)], "version": int64(1),
			"createdAt": at, "updatedAt": at, "createdBy": "bench", "owner": "bench"})
		r.leads = append(r.leads, id)
		if len(batch) == 1000 || i == size-1 {
			if _, err := coll.InsertMany(ctx, batch, options.InsertMany().SetOrdered(false)); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if n := size - len(r.contacts); n > 0 {
		start := time.Now()
		r.importContacts(b, n, "c")
		r.growth[size] = float64(n) / time.Since(start).Seconds()
		cur, err := env.DB.Collection("records_contact").Find(ctx, bson.D{{Key: "lastName", Value: "Scale"}},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			b.Fatal(err)
		}
		var ids []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &ids); err != nil {
			b.Fatal(err)
		}
		r.contacts = r.contacts[:0]
		for _, d := range ids {
			r.contacts = append(r.contacts, d.ID)
		}
	}
}

// importContacts imports n new contacts (emails prefix+number, numbered on from those already made)
// through the API and waits for the job.
func (r *scaleRun) importContacts(b *testing.B, n int, prefix string) {
	var csv bytes.Buffer
	csv.WriteString("firstName,lastName,emails\n")
	from := 1
	if prefix == "c" {
		from = len(r.contacts) + 1
	} else {
		from = int(atomic.AddInt64(&r.emails, int64(n))) - n + 1
	}
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&csv, "Contact%d,Scale,%s%d@scale.test\n", i, prefix, i)
	}
	req, _ := http.NewRequest(http.MethodPost, env.BaseURL+"/api/v1/imports/contact", &csv)
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	resp, err := env.HTTP.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	for {
		var job struct {
			State   string
			Created int
			Failed  int
			Skipped int
		}
		scaleGet(b, loc, &job)
		if job.State != "running" {
			if job.State != "done" || job.Created != n {
				b.Fatalf("import of %d contacts: %+v", n, job)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scaleGet(b *testing.B, path string, out any) {
	req, _ := http.NewRequest(http.MethodGet, env.BaseURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	resp, err := env.HTTP.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		b.Fatal(err)
	}
}

// scaleDo sends one request as the administrator and checks its status.
func scaleDo(b *testing.B, method, path string, body any, want int) {
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, env.BaseURL+path, r)
	req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
}

// print writes the table of issue 14: each operation at each size and the ratio of the largest to the
// smallest.
func (r *scaleRun) print(w io.Writer) {
	if len(r.ns) == 0 {
		return
	}
	small, large := scaleSizes[0], scaleSizes[len(scaleSizes)-1]
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nleads / contacts\t%d\t%d\t%d ÷ %d\tbound\n", small, large, large, small)
	for _, op := range scaleOps {
		m := r.ns[op]
		if m[small] == 0 || m[large] == 0 {
			continue
		}
		bound := "full scan"
		if byID[op] {
			bound = "≤ 1.5"
		}
		unit := func(ns float64) string {
			if strings.HasPrefix(op, "import") {
				return fmt.Sprintf("%.0f rows/s", 1e9/ns)
			}
			return fmt.Sprintf("%.2f ms", ns/1e6)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\n", op, unit(m[small]), unit(m[large]), m[large]/m[small], bound)
	}
	var sizes []int
	for s := range r.growth {
		sizes = append(sizes, s)
	}
	sort.Ints(sizes)
	for _, s := range sizes {
		fmt.Fprintf(tw, "growing to %d contacts by import\t%.0f rows/s\t\t\t≥ 500\n", s, r.growth[s])
	}
	_ = tw.Flush()
	if m := r.ns["list 50 leads, filtered+sorted"]; m[large] > 0 {
		perRecord := m[large] / float64(large)
		fmt.Fprintf(w, "list capacity: a page takes 300 ms at about %.0f records per entity (%.2f µs per stored record)\n", 300e6/perRecord, perRecord/1e3)
	}
}
