// Search attributes: what starters set and what the instance upserts while it runs.

package process

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

var (
	saKey      = temporal.NewSearchAttributeKeyKeyword("RapportProcessKey")
	saVersion  = temporal.NewSearchAttributeKeyInt64("RapportProcessVersion")
	saBusiness = temporal.NewSearchAttributeKeyKeyword("RapportBusinessKey")
	saActive   = temporal.NewSearchAttributeKeyKeywordList("RapportActiveElements")
	saState    = temporal.NewSearchAttributeKeyKeyword("RapportState")
	saAssign   = temporal.NewSearchAttributeKeyKeywordList("RapportAssignees")
	saEntity   = temporal.NewSearchAttributeKeyKeyword("RapportEntity")
	saRecord   = temporal.NewSearchAttributeKeyKeyword("RapportRecordID")
	// saIncident is the text of the open incidents (behaviour level 2), for finding instances by cause.
	saIncident = temporal.NewSearchAttributeKeyString("RapportIncident")
	saCorr     = temporal.NewSearchAttributeKeyKeywordList("RapportCorrelationKeys")
)

// SearchAttributes are the attributes whoever starts an instance sets in its start options (the API,
// or a call activity for its child): the instance is listable by process, version, business key and
// record from its first moment, without a visibility write of its own. State starts as running.
func SearchAttributes(in Input) temporal.SearchAttributes {
	if in.BusinessKey == "" {
		in.BusinessKey = in.RecordID // as the instance does (record-started instances get messages)
	}
	key := in.Ref.Key
	if key == "" && in.Model != nil {
		key = in.Model.ProcessID
	}
	ups := []temporal.SearchAttributeUpdate{saKey.ValueSet(key), saVersion.ValueSet(int64(in.Ref.Version)), saState.ValueSet(StateRunning)}
	if in.BusinessKey != "" {
		ups = append(ups, saBusiness.ValueSet(in.BusinessKey))
	}
	if in.Entity != "" {
		ups = append(ups, saEntity.ValueSet(in.Entity))
	}
	if in.RecordID != "" {
		ups = append(ups, saRecord.ValueSet(in.RecordID))
	}
	return temporal.NewSearchAttributes(ups...)
}

// knownSearchAttributes notes what the start options set, so publish does not write it again.
func (r *runner) knownSearchAttributes() {
	r.lastSA = map[string]string{}
	sa := workflow.GetTypedSearchAttributes(r.ctx)
	for name, key := range map[string]temporal.SearchAttributeKeyKeyword{
		"key": saKey, "bk": saBusiness, "entity": saEntity, "record": saRecord, "state": saState,
	} {
		if v, ok := sa.GetKeyword(key); ok {
			r.lastSA[name] = v
		}
	}
	if v, ok := sa.GetInt64(saVersion); ok {
		r.lastSA["version"] = strconv.FormatInt(v, 10)
	}
	if v, ok := sa.GetKeywordList(saActive); ok {
		r.lastSA["active"] = fmt.Sprint(v)
	}
	if v, ok := sa.GetKeywordList(saAssign); ok {
		r.lastSA["assignees"] = fmt.Sprint(v)
	}
}

// publish upserts the search attributes that changed since the last upsert. While the instance only
// runs tasks (state running, as set at start) nothing is written: a visibility write per step would
// halve throughput. Once it waits for the outside world, hits an incident or ends, the state, active
// elements and assignees are written.
func (r *runner) publish() {
	if r.lastSA == nil {
		r.knownSearchAttributes()
	}
	var ups []temporal.SearchAttributeUpdate
	set := func(name, val string, up func() temporal.SearchAttributeUpdate) {
		if old, ok := r.lastSA[name]; ok && old == val {
			return
		}
		r.lastSA[name] = val
		ups = append(ups, up())
	}
	set("key", r.in.Ref.Key, func() temporal.SearchAttributeUpdate { return saKey.ValueSet(r.in.Ref.Key) })
	set("version", strconv.Itoa(r.in.Ref.Version), func() temporal.SearchAttributeUpdate {
		return saVersion.ValueSet(int64(r.in.Ref.Version))
	})
	if r.in.BusinessKey != "" {
		set("bk", r.in.BusinessKey, func() temporal.SearchAttributeUpdate { return saBusiness.ValueSet(r.in.BusinessKey) })
	}
	if r.in.Entity != "" {
		set("entity", r.in.Entity, func() temporal.SearchAttributeUpdate { return saEntity.ValueSet(r.in.Entity) })
	}
	if r.in.RecordID != "" {
		set("record", r.in.RecordID, func() temporal.SearchAttributeUpdate { return saRecord.ValueSet(r.in.RecordID) })
	}
	st := r.status()
	if st != StateRunning || r.lastSA["state"] != StateRunning {
		set("state", st, func() temporal.SearchAttributeUpdate { return saState.ValueSet(st) })
		active := r.activeElements()
		var who []string
		if r.at(levelIssue12) {
			active = boundedList(active)
			who = assigneeKeys(r.st.UserTasks)
		} else {
			for _, u := range r.st.UserTasks {
				for _, p := range append([]string{u.Assignee}, u.CandidateUsers...) {
					if p != "" && !slices.Contains(who, p) {
						who = append(who, p)
					}
				}
			}
			slices.Sort(who)
		}
		set("active", fmt.Sprint(active), func() temporal.SearchAttributeUpdate { return saActive.ValueSet(active) })
		set("assignees", fmt.Sprint(who), func() temporal.SearchAttributeUpdate { return saAssign.ValueSet(who) })
		if r.at(levelOperations) {
			if text := incidentText(r.st.Incidents); text != "" || r.lastSA["incident"] != "" {
				set("incident", text, func() temporal.SearchAttributeUpdate {
					if text == "" {
						return saIncident.ValueUnset()
					}
					return saIncident.ValueSet(text)
				})
			}
		}
		if r.at(levelIssue13) {
			if keys := r.correlationKeys(); len(keys) > 0 || r.lastSA["corr"] != "" {
				set("corr", fmt.Sprint(keys), func() temporal.SearchAttributeUpdate { return saCorr.ValueSet(keys) })
			}
		}
	}
	if len(ups) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(r.ctx, ups...); err != nil {
			workflow.GetLogger(r.ctx).Warn("upsert search attributes", "error", err)
		}
	}
}

// Bounds of the keyword list search attributes. The server refuses (and terminates the instance for)
// a value over 2 KB, so the lists are kept under listBudget bytes of JSON; what does not fit is
// replaced by the entry Overflow.
const (
	listBudget = 1536
	// Overflow is the entry RapportAssignees and RapportActiveElements hold when not every entry fit:
	// whoever lists by them also lists the instances with Overflow and reads their state.
	Overflow = "*"
	// GroupKeyPrefix marks a candidate group in RapportAssignees ("group:sales").
	GroupKeyPrefix = "group:"
)

// assigneeKeys is what RapportAssignees holds for the open user tasks: every assignee, every
// candidate group (GroupKeyPrefix), and the candidate users as long as the list stays within its
// budget (the inbox resolves group membership, so a task offered to 500 people through a group costs
// one entry). Entries are taken assignees first, then groups, then candidate users; when one does
// not fit, Overflow is added. Sorted.
func assigneeKeys(tasks []*UserTask) []string {
	var tiers [3][]string
	for _, u := range tasks {
		if u.Assignee != "" {
			tiers[0] = append(tiers[0], u.Assignee)
		}
		for _, g := range u.CandidateGroups {
			tiers[1] = append(tiers[1], GroupKeyPrefix+g)
		}
		tiers[2] = append(tiers[2], u.CandidateUsers...)
	}
	return boundedList(tiers[0], tiers[1], tiers[2])
}

// boundedList merges the lists (earlier ones first) into a sorted list without duplicates or empty
// entries whose JSON stays within listBudget, adding Overflow when an entry had to be left out.
func boundedList(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	size, over := len(`[]`)+len(`,"*"`), false
	for _, l := range lists {
		for _, k := range l {
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			if n := len(strconv.Quote(k)) + 1; size+n <= listBudget {
				size += n
				out = append(out, k)
			} else {
				over = true
			}
		}
	}
	if over {
		out = append(out, Overflow)
	}
	slices.Sort(out)
	return out
}

// incidentText is what RapportIncident holds: each open incident's element, type and message, cut to
// stay within the bound the server accepts.
func incidentText(ins []*Incident) string {
	var b strings.Builder
	for _, in := range ins {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s %s %s: %s", in.Element, in.Kind, in.ErrorType, in.Message)
		if b.Len() >= listBudget {
			break
		}
	}
	s := b.String()
	if len(s) > listBudget {
		s = strings.ToValidUTF8(s[:listBudget], "")
	}
	return s
}

// InboxKeys are the RapportAssignees entries under which a person finds the instances with tasks for
// them: their ids (user id, e-mail), their groups (teams and roles) and Overflow. Filter the tasks of
// the instances found with UserTask.OfferedTo.
func InboxKeys(ids, groups []string) []string {
	out := slices.Clone(ids)
	for _, g := range groups {
		out = append(out, GroupKeyPrefix+g)
	}
	return append(out, Overflow)
}
