package definitions

import (
	"reflect"
	"testing"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// TestCatchesOf: a model's record-event catches split into those delivered on every change and the
// update events filtered by rapport:whenChanged (fields sorted and deduplicated, one entry per filter);
// message throws, top-level message starts and non-record messages are not catches.
func TestCatchesOf(t *testing.T) {
	msg := func(name string, fields ...string) *bpmn.MessageSpec {
		return &bpmn.MessageSpec{Name: name, WhenChanged: fields}
	}
	m := &bpmn.Model{Nodes: []bpmn.Node{
		{ID: "A", Kind: bpmn.KindMessageCatch, Message: msg("record.contact.updated", "owner", "loyaltyStage", "owner")},
		{ID: "B", Kind: bpmn.KindMessageCatch, Message: msg("record.contact.updated", "loyaltyStage", "owner")},
		{ID: "C", Kind: bpmn.KindMessageCatch, Message: msg("record.contact.deleted")},
		{ID: "D", Kind: bpmn.KindMessageCatch, Message: msg("record.contact.deleted")},
		{ID: "E", Kind: bpmn.KindMessageCatch, Message: msg("order.paid")},
		{ID: "F", Kind: bpmn.KindMessageThrow, Message: msg("record.task.updated")},
		{ID: "G", Kind: bpmn.KindStartMessage, Message: msg("record.deal.updated")},
	}}
	names, filters := catchesOf(m)
	if want := []string{"record.contact.deleted"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}
	if want := []CatchFilter{{Message: "record.contact.updated", Fields: []string{"loyaltyStage", "owner"}}}; !reflect.DeepEqual(filters, want) {
		t.Errorf("filters = %+v, want %+v", filters, want)
	}
}

// TestIndexDelivers: which record events reach waiting instances once every definition is merged.
func TestIndexDelivers(t *testing.T) {
	idx := indexOf([]Definition{
		{Key: "cadence", CatchFilters: []CatchFilter{
			{Message: "record.contact.updated", Fields: []string{"loyaltyStage", "owner"}}, // version 2
			{Message: "record.contact.updated", Fields: []string{"firstName"}},             // version 3
			{Message: "record.deal.updated", Fields: []string{"stage"}},
		}, Catches: []string{"record.contact.deleted"}},
		// An older definition (or one stored before filters) catches deal updates on every change.
		{Key: "deals", Catches: []string{"record.deal.updated"}},
	})
	cases := []struct {
		name    string
		event   string
		changed []string
		want    bool
	}{
		{"a field one version waits for", "record.contact.updated", []string{"phone", "owner"}, true},
		{"a field another version waits for", "record.contact.updated", []string{"firstName"}, true},
		{"only fields nobody waits for", "record.contact.updated", []string{"phone", "position"}, false},
		{"fields unknown", "record.contact.updated", nil, true},
		{"an unfiltered catch elsewhere wins", "record.deal.updated", []string{"amount"}, true},
		{"a catch without filter", "record.contact.deleted", nil, true},
		{"nobody catches it", "record.lead.updated", []string{"status"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := idx.Delivers(tc.event, tc.changed); got != tc.want {
				t.Errorf("Delivers(%s, %v) = %v, want %v (index %+v)", tc.event, tc.changed, got, tc.want, idx)
			}
		})
	}
}
