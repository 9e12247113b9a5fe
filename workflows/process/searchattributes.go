// Search attributes: what starters set and what the instance upserts while it runs.

package process

import (
	"fmt"
	"slices"
	"strconv"

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
)

// SearchAttributes are the attributes whoever starts an instance sets in its start options (the API,
// or a call activity for its child): the instance is listable by process, version, business key and
// record from its first moment, without a visibility write of its own. State starts as running.
func SearchAttributes(in Input) temporal.SearchAttributes {
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
		set("active", fmt.Sprint(active), func() temporal.SearchAttributeUpdate { return saActive.ValueSet(active) })
		var who []string
		for _, u := range r.st.UserTasks {
			for _, p := range append([]string{u.Assignee}, u.CandidateUsers...) {
				if p != "" && !slices.Contains(who, p) {
					who = append(who, p)
				}
			}
		}
		slices.Sort(who)
		set("assignees", fmt.Sprint(who), func() temporal.SearchAttributeUpdate { return saAssign.ValueSet(who) })
	}
	if len(ups) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(r.ctx, ups...); err != nil {
			workflow.GetLogger(r.ctx).Warn("upsert search attributes", "error", err)
		}
	}
}
