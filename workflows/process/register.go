package process

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register adds the interpreter workflow and its activities to a worker under their stable names.
// The worker's instances share decoded models and compiled expressions (shared.go).
func Register(w worker.Registry, acts *Activities) {
	w.RegisterWorkflowWithOptions(newShared().run, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterActivityWithOptions(acts.ExecuteTask, activity.RegisterOptions{Name: TaskActivityName})
	w.RegisterActivityWithOptions(acts.LoadModel, activity.RegisterOptions{Name: LoadActivityName})
	w.RegisterActivityWithOptions(acts.LoadCalendars, activity.RegisterOptions{Name: CalendarsActivityName})
	w.RegisterActivityWithOptions(acts.WriteInbox, activity.RegisterOptions{Name: InboxActivityName})
	w.RegisterActivityWithOptions(acts.RecordElements, activity.RegisterOptions{Name: ElementsActivityName})
}
