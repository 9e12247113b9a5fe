package process

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestAssigneeKeysBounded: RapportAssignees stays under the server's 2 KB limit for a task offered
// to 500 candidate users and for 50 parallel tasks with long assignees; groups and assignees are
// indexed first, and Overflow tells the inbox to look at the instance's tasks.
func TestAssigneeKeysBounded(t *testing.T) {
	var crowd []string
	for i := range 500 {
		crowd = append(crowd, fmt.Sprintf("user-%03d@example.com", i))
	}
	var loop []*UserTask
	for i := range 50 {
		loop = append(loop, &UserTask{Assignee: fmt.Sprintf("approver-%02d.with.a.long.name@example.com", i)})
	}
	cases := []struct {
		name  string
		tasks []*UserTask
		has   []string
		over  bool
	}{
		{"small task", []*UserTask{{Assignee: "ann", CandidateGroups: []string{"sales"}, CandidateUsers: []string{"bob"}}},
			[]string{"ann", "bob", "group:sales"}, false},
		{"500 candidate users", []*UserTask{{Assignee: "ann", CandidateGroups: []string{"sales", "support"}, CandidateUsers: crowd}},
			[]string{"ann", "group:sales", "group:support", Overflow}, true},
		{"50 parallel tasks", loop, []string{loop[0].Assignee, Overflow}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys := assigneeKeys(tc.tasks)
			data, _ := json.Marshal(keys)
			if len(data) > 2048 {
				t.Fatalf("%d bytes, over the server's 2 KB", len(data))
			}
			for _, k := range tc.has {
				if !slices.Contains(keys, k) {
					t.Errorf("%v lacks %s", keys, k)
				}
			}
			if slices.Contains(keys, Overflow) != tc.over || !slices.IsSorted(keys) {
				t.Errorf("keys %v: overflow %v, sorted %v", keys, slices.Contains(keys, Overflow), slices.IsSorted(keys))
			}
			if !tc.over && len(keys) != len(tc.has) {
				t.Errorf("keys %v, want %v", keys, tc.has)
			}
		})
	}
}

// TestInbox: the keys a person is found under and the tasks offered to them.
func TestInbox(t *testing.T) {
	ids, groups := []string{"u1", "ann@example.com"}, []string{"sales"}
	if got := strings.Join(InboxKeys(ids, groups), " "); got != "u1 ann@example.com group:sales *" {
		t.Errorf("inbox keys %s", got)
	}
	cases := []struct {
		task UserTask
		want bool
	}{
		{UserTask{Assignee: "u1"}, true},
		{UserTask{Assignee: "ann@example.com"}, true},
		{UserTask{CandidateUsers: []string{"x", "u1"}}, true},
		{UserTask{CandidateGroups: []string{"support", "sales"}}, true},
		{UserTask{Assignee: "u2", CandidateGroups: []string{"support"}}, false},
		{UserTask{}, false},
	}
	for _, tc := range cases {
		if got := tc.task.OfferedTo(ids, groups); got != tc.want {
			t.Errorf("%+v offered: %v, want %v", tc.task, got, tc.want)
		}
	}
}
