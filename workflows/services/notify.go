package services

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rapportcrm/rapport/engine/agenda"
	"github.com/rapportcrm/rapport/engine/notifications"
	"github.com/rapportcrm/rapport/workflows/process"
)

// TypeNotify is the task type of Notify.
const TypeNotify = "notify"

// CodeNotification is the BPMN error a notify task throws when a channel refuses the notification for
// good (a mailbox the server rejects, a webhook answering 4xx).
const CodeNotification = "NOTIFICATION"

// Notify runs notify tasks through the notification templates and channels. Header template names
// the template; to (input or header) is a user ID or an email address; channels (header or input,
// comma separated) overrides the template's; language (input) picks its text. With the inputs entity
// and recordId, the record is read with the process's identity (its scope and hidden fields apply)
// and the template sees it as .record, with .link pointing at it in the admin UI. Every other input
// is template data. The send is keyed by the task execution, so a retry delivers nothing twice.
type Notify struct {
	Store   *notifications.Store
	Records Records
	// BaseURL is where the admin UI is reached from outside, for links.
	BaseURL string
}

// Handle sends one notification.
func (n Notify) Handle(ctx context.Context, req process.TaskRequest) (map[string]any, error) {
	to := fmt.Sprint(firstNonNil(req.Inputs["to"], req.Headers["to"]))
	if to == "" || to == "<nil>" {
		return nil, &process.BPMNError{Code: CodeValidation, Message: "a notify task needs a recipient (input or header \"to\")"}
	}
	template := req.Headers["template"]
	if t, ok := req.Inputs["template"].(string); ok && t != "" {
		template = t
	}
	data := map[string]any{}
	for k, v := range req.Inputs {
		switch k {
		case "to", "template", "channels", "language":
		default:
			data[k] = v
		}
	}
	entity, _ := req.Inputs["entity"].(string)
	id, _ := req.Inputs["recordId"].(string)
	if entity != "" && id != "" {
		rec, err := n.Records.Get(ctx, entity, id)
		if err != nil {
			return nil, err
		}
		data["record"] = rec
		data["link"] = agenda.RecordLink(n.BaseURL, entity, id)
	}
	var channels []string
	if c := fmt.Sprint(firstNonNil(req.Inputs["channels"], req.Headers["channels"])); c != "" && c != "<nil>" {
		for _, part := range strings.Split(c, ",") {
			if part = strings.TrimSpace(part); part != "" {
				channels = append(channels, part)
			}
		}
	}
	lang, _ := req.Inputs["language"].(string)
	wf, key := callKey(ctx)
	sent, err := n.Store.Send(ctx, notifications.Request{Key: key, To: to, Template: template, Data: data, Source: wf,
		Language: lang, Channels: channels})
	var te *notifications.TemplateError
	var rej *notifications.RejectedError
	switch {
	case errors.Is(err, notifications.ErrTemplateNotFound):
		return nil, &process.BPMNError{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, notifications.ErrUnknownRecipient), errors.As(err, &te):
		return nil, &process.BPMNError{Code: CodeValidation, Message: err.Error()}
	case errors.As(err, &rej):
		return nil, &process.BPMNError{Code: CodeNotification, Message: err.Error()}
	case err != nil:
		return nil, err
	}
	return map[string]any{"notification": sent.ID, "to": sent.To}, nil
}
