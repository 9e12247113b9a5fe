package erpsync

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register adds the sync workflow and its activities to a worker under their stable names.
func Register(w worker.Registry, a *Activities) {
	w.RegisterWorkflowWithOptions(Sync, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterActivityWithOptions(a.ImportPage, activity.RegisterOptions{Name: ActivityName})
	w.RegisterActivityWithOptions(a.ImportInvoices, activity.RegisterOptions{Name: InvoiceActivityName})
	w.RegisterActivityWithOptions(a.ImportCustomers, activity.RegisterOptions{Name: CustomersActivityName})
}
