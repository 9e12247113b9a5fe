// Package e2e runs the process interpreter on the embedded Temporal server: end-to-end scenarios that
// also record the histories the replay test checks (go test ./workflows/process/e2e -run TestScenarios
// -record), and the throughput benchmark against a hand-written workflow.
package e2e
