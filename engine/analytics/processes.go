package analytics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ElementStatsCollection holds one document per process version and element with its run counts, total
// duration and a duration histogram: what the monitor's heat map reads. Reading Temporal's histories to
// find element durations would cost one history fetch per instance; instead the interpreter reports each
// finished element once (ElementObserver) and the figures are kept up to date with atomic increments.
const ElementStatsCollection = "process_element_stats"

// ElementEvent is one finished execution of a BPMN element: completed after Duration, or stopped by an
// incident.
type ElementEvent struct {
	Process  string
	Version  int
	Element  string
	Duration time.Duration
	Incident bool
}

// ElementBatch is what one run of a process instance reports at once: its element events since its
// last report. Run ("<workflow id>/<run id>") and Seq (1, 2, … within the run) identify it, so a batch
// delivered again after it was applied (a retried activity) is not counted twice; Final is the run's
// last batch, after which the run is forgotten. A batch without Run is applied as it comes.
type ElementBatch struct {
	Run    string
	Seq    int
	Final  bool
	Events []ElementEvent
}

// ElementReportsCollection holds, per instance run that reported element events and has not ended, the
// number of its last batch applied: one small document by _id per running instance.
const ElementReportsCollection = "process_element_reports"

// ElementObserver is what the process interpreter feeds, from an activity (never from workflow code),
// as elements finish or raise incidents. *Engine implements it.
type ElementObserver interface {
	ElementFinished(ctx context.Context, ev ElementEvent) error
	ElementsFinished(ctx context.Context, b ElementBatch) error
}

var _ ElementObserver = (*Engine)(nil)

// histogram buckets: bucket b holds durations up to histBase^b milliseconds (b >= 1; bucket 0 holds
// durations under a millisecond). A quarter-octave grid keeps a percentile within 19% of the truth in
// 4 buckets per doubling: about 140 buckets from a millisecond to a year.
var histBase = math.Pow(2, 0.25)

func bucketOf(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 1 {
		return 0
	}
	return int(math.Ceil(math.Log(ms)/math.Log(histBase) - 1e-9))
}

func bucketUpper(b int) float64 {
	if b == 0 {
		return 1
	}
	return math.Pow(histBase, float64(b))
}

// ElementFinished adds one element execution to its statistics.
func (e *Engine) ElementFinished(ctx context.Context, ev ElementEvent) error {
	return e.ElementsFinished(ctx, ElementBatch{Events: []ElementEvent{ev}})
}

// ElementsFinished adds a batch of element executions to their statistics: one upserted increment per
// process version and element of the batch. The increments are atomic on MongoDB; the embedded store
// applies an update as read-modify-write, so there this process's writers of one document take turns
// (its only server). A batch already applied (by Run and Seq) changes nothing; one whose writer died
// between its increments and noting it is applied again when retried.
func (e *Engine) ElementsFinished(ctx context.Context, b ElementBatch) error {
	type sum struct {
		ev   ElementEvent
		inc  map[string]float64
		keys []string
	}
	var order []string
	sums := map[string]*sum{}
	for _, ev := range b.Events {
		if ev.Process == "" || ev.Element == "" {
			return errors.New("analytics: an element event needs the process and the element")
		}
		id := fmt.Sprintf("%s@%d/%s", ev.Process, ev.Version, ev.Element)
		s := sums[id]
		if s == nil {
			s = &sum{ev: ev, inc: map[string]float64{}}
			sums[id] = s
			order = append(order, id)
		}
		add := func(k string, v float64) {
			if _, ok := s.inc[k]; !ok {
				s.keys = append(s.keys, k)
			}
			s.inc[k] += v
		}
		add("runs", 1)
		if ev.Incident {
			add("incidents", 1)
			continue
		}
		add("completed", 1)
		add("durationMs", float64(ev.Duration)/float64(time.Millisecond))
		add("hist."+strconv.Itoa(bucketOf(ev.Duration)), 1)
	}
	reports := e.db.Collection(ElementReportsCollection)
	if b.Run != "" {
		var mark struct {
			Seq int `bson:"seq"`
		}
		err := reports.FindOne(ctx, bson.D{{Key: "_id", Value: b.Run}}).Decode(&mark)
		switch {
		case err == nil && mark.Seq >= b.Seq:
			return nil // applied before
		case err != nil && !errors.Is(err, mongo.ErrNoDocuments):
			return fmt.Errorf("read element report mark of %s: %w", b.Run, err)
		}
	}
	stats := e.db.Collection(ElementStatsCollection)
	for _, id := range order {
		s := sums[id]
		inc := bson.D{}
		for _, k := range s.keys {
			if k == "durationMs" {
				inc = append(inc, bson.E{Key: k, Value: s.inc[k]})
			} else {
				inc = append(inc, bson.E{Key: k, Value: int64(s.inc[k])})
			}
		}
		if err := e.increment(ctx, stats, id, s.ev, inc); err != nil {
			return err
		}
	}
	if b.Run == "" {
		return nil
	}
	var err error
	if b.Final {
		_, err = reports.DeleteOne(ctx, bson.D{{Key: "_id", Value: b.Run}})
	} else {
		_, err = reports.UpdateOne(ctx, bson.D{{Key: "_id", Value: b.Run}}, bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: b.Seq}}}},
			options.UpdateOne().SetUpsert(true))
	}
	if err != nil {
		return fmt.Errorf("note element report %s #%d: %w", b.Run, b.Seq, err)
	}
	return nil
}

// increment applies one element's increments with an upsert by _id.
func (e *Engine) increment(ctx context.Context, coll *mongo.Collection, id string, ev ElementEvent, inc bson.D) error {
	unlock := e.opts.Backend.Lock(coll, id)
	defer unlock()
	_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$inc", Value: inc}, {Key: "$setOnInsert", Value: bson.D{{Key: "process", Value: ev.Process}, {Key: "version", Value: ev.Version}, {Key: "element", Value: ev.Element}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("record element %s: %w", id, err)
	}
	return nil
}

// ElementFigures are the measures of one element over the versions asked for.
type ElementFigures struct {
	Element   string `json:"element"`
	Runs      int64  `json:"runs"`
	Completed int64  `json:"completed"`
	Incidents int64  `json:"incidents"`
	// IncidentRate is incidents ÷ runs.
	IncidentRate float64 `json:"incidentRate"`
	// MeanMs is the mean duration of completed runs; P90Ms the 90th percentile, from a histogram whose
	// buckets are 19% wide (the value given is the bucket's upper bound).
	MeanMs float64 `json:"meanMs"`
	P90Ms  float64 `json:"p90Ms"`
}

// ProcessElements gives the figures of every element of a process (one version, or all when version is
// 0), by element ID.
func (e *Engine) ProcessElements(ctx context.Context, process string, version int) ([]ElementFigures, error) {
	filter := bson.D{{Key: "process", Value: process}}
	if version > 0 {
		filter = append(filter, bson.E{Key: "version", Value: version})
	}
	type acc struct {
		ElementFigures
		sum  float64
		hist map[int]int64
	}
	by := map[string]*acc{}
	cur, err := e.db.Collection(ElementStatsCollection).Find(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("read element statistics: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d struct {
			Element    string           `bson:"element"`
			Runs       int64            `bson:"runs"`
			Completed  int64            `bson:"completed"`
			Incidents  int64            `bson:"incidents"`
			DurationMs float64          `bson:"durationMs"`
			Hist       map[string]int64 `bson:"hist"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("read element statistics: %w", err)
		}
		a := by[d.Element]
		if a == nil {
			a = &acc{ElementFigures: ElementFigures{Element: d.Element}, hist: map[int]int64{}}
			by[d.Element] = a
		}
		a.Runs += d.Runs
		a.Completed += d.Completed
		a.Incidents += d.Incidents
		a.sum += d.DurationMs
		for k, n := range d.Hist {
			if b, err := strconv.Atoi(k); err == nil {
				a.hist[b] += n
			}
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read element statistics: %w", err)
	}
	out := make([]ElementFigures, 0, len(by))
	for _, a := range by {
		f := a.ElementFigures
		f.IncidentRate = ratio(float64(f.Incidents), float64(f.Runs))
		if f.Completed > 0 {
			f.MeanMs = math.Round(a.sum/float64(f.Completed)*100) / 100
			f.P90Ms = math.Round(percentile(a.hist, f.Completed, 0.9)*100) / 100
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b ElementFigures) int { return strings.Compare(a.Element, b.Element) })
	return out, nil
}

// percentile is the upper bound of the bucket holding the q-th quantile of n durations.
func percentile(hist map[int]int64, n int64, q float64) float64 {
	buckets := make([]int, 0, len(hist))
	for b := range hist {
		buckets = append(buckets, b)
	}
	slices.Sort(buckets)
	need := int64(math.Ceil(q * float64(n)))
	var seen int64
	for _, b := range buckets {
		seen += hist[b]
		if seen >= need {
			return bucketUpper(b)
		}
	}
	return 0
}

// ProcessReport is the process monitor's data: instances per state and the figures per element.
type ProcessReport struct {
	Process string `json:"process"`
	Version int    `json:"version,omitempty"`
	// Instances counts the process's instances per state (running, waiting, incident, completed,
	// cancelled, failed, terminated), from Temporal's visibility.
	Instances map[string]int64 `json:"instances"`
	// Elements are fed by the interpreter (ElementObserver) as elements finish.
	Elements []ElementFigures `json:"elements"`
}

// ElementsCSVHeader and CSV are the CSV form of the element figures.
var ElementsCSVHeader = []string{"element", "runs", "completed", "incidents", "incidentRate", "meanMs", "p90Ms"}

// CSV renders the element as a row.
func (f ElementFigures) CSV() []string {
	return []string{f.Element, fmt.Sprint(f.Runs), fmt.Sprint(f.Completed), fmt.Sprint(f.Incidents), num(f.IncidentRate), num(f.MeanMs), num(f.P90Ms)}
}
