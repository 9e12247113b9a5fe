package connector

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Kind classifies a connector error so the caller can decide, without parsing messages,
// whether to retry, to report a validation problem, or to raise a BPMN error.
type Kind int

// The kinds of connector errors. The zero value, KindInternal, is a bug or an
// unexpected ERP answer and is treated as retryable.
const (
	KindInternal    Kind = iota // unexpected failure; retrying may help
	KindNotFound                // the named object does not exist
	KindInvalid                 // the request or configuration is invalid
	KindConflict                // the request conflicts with the ERP's current state
	KindUnavailable             // the ERP or the plugin is temporarily unreachable
	KindUnsupported             // the connector lacks the capability
	KindPermanent               // the ERP refused the request for good
	KindTimeout                 // the deadline passed before the call finished
	KindCanceled                // the caller canceled the call
)

var kindNames = [...]string{"internal", "not found", "invalid argument", "conflict",
	"unavailable", "unsupported", "permanent", "timeout", "canceled"}

// String names the kind for logs and messages.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Retryable reports whether an error of this kind may succeed when simply tried again.
func (k Kind) Retryable() bool {
	switch k {
	case KindInternal, KindUnavailable, KindTimeout:
		return true
	}
	return false
}

// Error is the typed error connectors return and callers receive, in-process or over
// gRPC alike. Compare with errors.Is against the Err* sentinels.
type Error struct {
	Kind    Kind
	Message string
	cause   error
}

// Error renders the kind and the message.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Kind.String()
	}
	return e.Kind.String() + ": " + e.Message
}

// Unwrap exposes the cause, e.g. context.DeadlineExceeded for a timeout.
func (e *Error) Unwrap() error { return e.cause }

// Is makes errors.Is(err, ErrNotFound) true for every not-found error regardless of
// its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.cause == nil && t.Kind == e.Kind
}

// Sentinels for errors.Is; each matches every Error of its kind.
var (
	ErrInternal    = &Error{Kind: KindInternal}
	ErrNotFound    = &Error{Kind: KindNotFound}
	ErrInvalid     = &Error{Kind: KindInvalid}
	ErrConflict    = &Error{Kind: KindConflict}
	ErrUnavailable = &Error{Kind: KindUnavailable}
	ErrUnsupported = &Error{Kind: KindUnsupported}
	ErrPermanent   = &Error{Kind: KindPermanent}
	ErrTimeout     = &Error{Kind: KindTimeout}
	ErrCanceled    = &Error{Kind: KindCanceled}
)

func newError(k Kind, format string, args []any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: k, Message: err.Error(), cause: errors.Unwrap(err)}
}

// NotFound builds a not-found error; format follows fmt.Errorf (%w keeps a cause).
func NotFound(format string, args ...any) error { return newError(KindNotFound, format, args) }

// Invalid builds an invalid-argument error for bad requests or configuration.
func Invalid(format string, args ...any) error { return newError(KindInvalid, format, args) }

// Conflict builds a conflict error, e.g. a customer with that tax ID already exists.
func Conflict(format string, args ...any) error { return newError(KindConflict, format, args) }

// Unavailable builds a retryable error for an unreachable or overloaded ERP.
func Unavailable(format string, args ...any) error {
	return newError(KindUnavailable, format, args)
}

// Permanent builds an error the ERP will keep returning, so retrying is pointless.
func Permanent(format string, args ...any) error { return newError(KindPermanent, format, args) }

// Internal builds a retryable error for unexpected failures.
func Internal(format string, args ...any) error { return newError(KindInternal, format, args) }

// Unsupported builds the error for a method whose capability the connector lacks.
func Unsupported(c Capability) error {
	return &Error{Kind: KindUnsupported, Message: fmt.Sprintf("capability %q not supported", c)}
}

// KindOf classifies any error: typed connector errors keep their kind, context errors
// become timeout or canceled, gRPC status errors are mapped by code, and everything
// else is internal. KindOf(nil) returns KindInternal, so check for nil first.
func KindOf(err error) Kind {
	var ce *Error
	switch {
	case errors.As(err, &ce):
		return ce.Kind
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	case errors.Is(err, context.Canceled):
		return KindCanceled
	}
	if s, ok := status.FromError(err); ok {
		return kindFromCode(s.Code())
	}
	return KindInternal
}

// IsRetryable reports whether retrying the call that returned err may succeed.
func IsRetryable(err error) bool { return err != nil && KindOf(err).Retryable() }

var kindCodes = map[Kind]codes.Code{
	KindInternal:    codes.Internal,
	KindNotFound:    codes.NotFound,
	KindInvalid:     codes.InvalidArgument,
	KindConflict:    codes.AlreadyExists,
	KindUnavailable: codes.Unavailable,
	KindUnsupported: codes.Unimplemented,
	KindPermanent:   codes.FailedPrecondition,
	KindTimeout:     codes.DeadlineExceeded,
	KindCanceled:    codes.Canceled,
}

func kindFromCode(c codes.Code) Kind {
	switch c {
	case codes.NotFound:
		return KindNotFound
	case codes.InvalidArgument, codes.OutOfRange:
		return KindInvalid
	case codes.AlreadyExists, codes.Aborted:
		return KindConflict
	case codes.Unavailable, codes.ResourceExhausted:
		return KindUnavailable
	case codes.Unimplemented:
		return KindUnsupported
	case codes.FailedPrecondition, codes.PermissionDenied, codes.Unauthenticated:
		return KindPermanent
	case codes.DeadlineExceeded:
		return KindTimeout
	case codes.Canceled:
		return KindCanceled
	}
	return KindInternal
}

// toStatus converts an implementation's error into a gRPC status error for the wire.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	return status.Error(kindCodes[KindOf(err)], err.Error())
}

// fromStatus converts an error received over gRPC back into a typed *Error. Timeouts
// and cancellations keep the context error as their cause so errors.Is(err,
// context.DeadlineExceeded) holds on both sides of the wire.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	s, ok := status.FromError(err)
	if !ok {
		return &Error{Kind: KindOf(err), Message: err.Error(), cause: err}
	}
	k := kindFromCode(s.Code())
	e := &Error{Kind: k, Message: stripKindPrefix(k, s.Message())}
	switch k {
	case KindTimeout:
		e.cause = context.DeadlineExceeded
	case KindCanceled:
		e.cause = context.Canceled
	}
	return e
}

// stripKindPrefix removes the "kind: " prefix that Error.Error added on the plugin side
// so messages do not read "not found: not found: ...".
func stripKindPrefix(k Kind, msg string) string {
	p := k.String() + ": "
	if len(msg) >= len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}
