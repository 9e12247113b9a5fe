package triggers

import (
	"context"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/definitions"
)

type fixedIndex definitions.Index

func (f fixedIndex) Index(context.Context) (definitions.Index, error) {
	return definitions.Index(f), nil
}

func TestMatch(t *testing.T) {
	idx := fixedIndex{
		Triggers: []definitions.Trigger{
			{Key: "partners", Version: 2, Element: "S1", Entity: "lead", On: "created", Condition: `=record.source == "partner"`},
			{Key: "all-leads", Version: 1, Element: "S2", Entity: "lead", On: "created"},
			{Key: "updates", Version: 1, Element: "S3", Entity: "lead", On: "updated"},
			{Key: "broken", Version: 1, Element: "S4", Entity: "lead", On: "created", Condition: `record.budget.amount > 1`},
			{Key: "orders", Version: 1, Element: "S5", Message: "order-placed"},
		},
		Catches:     []string{"record.interaction.created", "record.contact.updated", "record.deal.updated"},
		WhenChanged: map[string][]string{"record.contact.updated": {"loyaltyStage", "owner"}},
	}
	refs := RefsFrom(func(context.Context, string) ([]string, error) { return []string{"contact", "company"}, nil })
	m := NewMatcher(idx, refs)
	tests := []struct {
		name       string
		entity, on string
		rec        map[string]any
		changed    []string
		starts     []string
		onceFirst  string
		messageKey []string
		wantErr    bool
	}{
		{"a partner lead starts both lead processes", "lead", "created", map[string]any{"id": "L1", "version": int64(1), "source": "partner", "budget": map[string]any{"amount": 0}}, nil,
			[]string{"partners", "all-leads"}, "S1:lead:L1:created:v1", nil, false},
		{"a condition that fails to evaluate is reported, the rest still starts", "lead", "created", map[string]any{"id": "L2", "version": int64(1), "source": "web"}, nil,
			[]string{"all-leads"}, "S2:lead:L2:created:v1", nil, true},
		{"an update", "lead", "updated", map[string]any{"id": "L1", "version": int64(7), "budget": map[string]any{"amount": 0}}, nil,
			[]string{"updates"}, "S3:lead:L1:updated:v7", nil, false},
		{"an interaction reaches its own and its references' instances", "interaction", "created",
			map[string]any{"id": "I1", "version": int64(1), "contact": "C1", "company": "", "lead": "L9"}, nil,
			nil, "", []string{"I1", "C1"}, false},
		{"an uncaught record event is not delivered", "interaction", "updated", map[string]any{"id": "I1", "version": int64(2), "contact": "C1"}, []string{"contact"},
			nil, "", nil, false},
		{"an update of a field the catches wait for is delivered", "contact", "updated", map[string]any{"id": "C1", "version": int64(3)}, []string{"phone", "owner"},
			nil, "", []string{"C1"}, false},
		{"an update of other fields wakes nobody", "contact", "updated", map[string]any{"id": "C1", "version": int64(4)}, []string{"phone", "position"},
			nil, "", nil, false},
		{"an update whose fields are unknown is delivered", "contact", "updated", map[string]any{"id": "C1", "version": int64(5)}, nil,
			nil, "", []string{"C1"}, false},
		{"an update caught without a filter is delivered whatever changed", "deal", "updated", map[string]any{"id": "D1", "version": int64(2)}, []string{"amount"},
			nil, "", []string{"D1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := m.Match(context.Background(), tt.entity, tt.on, tt.rec, tt.changed)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if len(w.Starts) != len(tt.starts) {
				t.Fatalf("starts = %+v, want %v", w.Starts, tt.starts)
			}
			for i, k := range tt.starts {
				s := w.Starts[i]
				if s.Ref.Key != k || s.RecordID != tt.rec["id"] || s.BusinessKey != tt.rec["id"] || s.Entity != tt.entity || s.Variables["record"] == nil {
					t.Errorf("start %d = %+v", i, s)
				}
			}
			if len(w.Starts) > 0 && w.Starts[0].Once != tt.onceFirst {
				t.Errorf("once = %q, want %q", w.Starts[0].Once, tt.onceFirst)
			}
			if ids := w.InstanceIDs(); len(ids) != len(tt.starts) || (len(ids) > 0 && ids[0] != tt.starts[0]+":record:"+tt.onceFirst) {
				t.Errorf("instance IDs = %q, want %d starting with %s:record:%s", ids, len(tt.starts), tt.starts[0], tt.onceFirst)
			}
			if len(w.Messages) != len(tt.messageKey) {
				t.Fatalf("messages = %+v, want keys %v", w.Messages, tt.messageKey)
			}
			for i, k := range tt.messageKey {
				msg := w.Messages[i]
				if msg.Name != bpmn.RecordEvent(tt.entity, tt.on) || msg.CorrelationKey != k || msg.Variables[tt.entity] == nil {
					t.Errorf("message %d = %+v", i, msg)
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 7: time.Minute, 50: time.Minute} {
		if got := backoff(attempts); got != want {
			t.Errorf("backoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}
