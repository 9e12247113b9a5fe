package process

import "go.temporal.io/sdk/workflow"

// Behaviour changes of the interpreter after its first release go behind workflow.GetVersion, so that
// running instances replay with the code that started them while new ones take the new path. Each
// change gets a constant below (never reused, never renamed) and is read through changed:
//
//	if r.changed(changeExample) { /* new behaviour */ } else { /* behaviour of the first release */ }
//
// The recorded histories in workflows/testdata are replayed by TestReplay; a change without a version
// gate makes that test fail. When every instance started before a change has ended, the old branch
// may go (keep the constant and the GetVersion call with minSupported raised).
const (
	// changeFirstRelease documents the pattern; it is not consulted by any code path yet.
	changeFirstRelease = "rapport-process-first-release"
)

// changed reports whether the instance runs with the given change (version 1) rather than the
// behaviour of the first release (workflow.DefaultVersion).
func (r *runner) changed(changeID string) bool {
	return workflow.GetVersion(r.ctx, changeID, workflow.DefaultVersion, 1) == 1
}
