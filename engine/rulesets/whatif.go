package rulesets

import (
	"fmt"
	"time"

	"github.com/rapportcrm/rapport/engine/rules"
)

// WhatIf is the test bench's comparison of a draft with the latest published version over real
// records, with the records' IDs beside their positions.
type WhatIf struct {
	rules.WhatIfReport
	// PublishedVersion is the version compared with; 0 when nothing is published yet, in which case
	// only the draft's outcomes are listed.
	PublishedVersion int `json:"publishedVersion"`
	// RecordIDs holds the ID of each record, in the order of Records.
	RecordIDs []string `json:"recordIds"`
}

// CompareWithPublished runs draft and published (which may be nil) over recs at time now.
func CompareWithPublished(draft, published *rules.Compiled, publishedVersion int, recs []map[string]any, now time.Time) *WhatIf {
	out := &WhatIf{PublishedVersion: publishedVersion, RecordIDs: make([]string, 0, len(recs))}
	for _, r := range recs {
		id, _ := r["id"].(string)
		out.RecordIDs = append(out.RecordIDs, id)
	}
	if published != nil {
		out.WhatIfReport = *rules.WhatIf(draft, published, recs, now)
		return out
	}
	rep := rules.WhatIfReport{Total: len(recs), Records: make([]rules.WhatIfRecord, 0, len(recs))}
	sess := draft.NewSession()
	for i, r := range recs {
		wr := rules.WhatIfRecord{Index: i}
		o, err := sess.Evaluate(r, now)
		if err != nil {
			wr.DraftError = err.Error()
			rep.Errors++
		} else {
			wr.Draft = o.Result()
		}
		rep.Records = append(rep.Records, wr)
	}
	rep.Summary = []string{fmt.Sprintf("nothing is published yet: %d records evaluated with the draft, %d failed", rep.Total, rep.Errors)}
	out.WhatIfReport = rep
	return out
}
