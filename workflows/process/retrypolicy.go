// The retry policy of service tasks: the definition's, or the default one.

package process

import (
	"math"

	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// retryPolicy turns the definition's retry policy into Temporal's; MaximumAttempts counts the first.
func retryPolicy(n *bpmn.Node) *temporal.RetryPolicy {
	p := bpmn.DefaultRetryPolicy()
	if n.Retry != nil {
		p = *n.Retry
	}
	if p.MaximumAttempts < 1 {
		p.MaximumAttempts = 1
	}
	return &temporal.RetryPolicy{
		InitialInterval:    p.InitialInterval,
		BackoffCoefficient: p.BackoffCoefficient,
		MaximumInterval:    p.MaximumInterval,
		MaximumAttempts:    int32(min(p.MaximumAttempts, math.MaxInt32)),
	}
}
