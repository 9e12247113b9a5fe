// Package erpsync imports an ERP's sales orders into Rapport's Order records through a connector plugin:
// page by page, matching each order's customer to a Company (by tax ID) or a Contact (by email) and
// creating the company when none matches, never duplicating a record across runs, and resuming from the
// checkpoint the last run stored. It runs as a Temporal workflow, on demand or on a schedule.
package erpsync

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/connections"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// Names the workflow and activity are registered under; they are part of recorded histories.
const (
	WorkflowName        = "rapport.erpsync"
	ActivityName        = "rapport.erpsync.page"
	InvoiceActivityName = "rapport.erpsync.invoices"
)

// Input names the connector instance to import from.
type Input struct {
	Connector string `json:"connector"`
	// PageSize is how many orders one activity imports (default 100).
	PageSize int `json:"pageSize,omitempty"`
}

// Summary counts what a run did.
type Summary struct {
	Pages     int `json:"pages"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Companies int `json:"companiesCreated"`
	// Paid counts orders marked paid because their invoice is settled.
	Paid int `json:"paid"`
}

func (s *Summary) add(o Summary) {
	s.Pages++
	s.Created += o.Created
	s.Updated += o.Updated
	s.Unchanged += o.Unchanged
	s.Companies += o.Companies
	s.Paid += o.Paid
}

// PageResult is one page's outcome.
type PageResult struct {
	Summary
	Done bool `json:"done"`
}

// Sync is the workflow: it imports pages until the connector has no more, each page an activity that
// stores its checkpoint, so a crash resumes at the page it was on.
func Sync(ctx workflow.Context, in Input) (Summary, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var sum Summary
	for _, activity := range []string{ActivityName, InvoiceActivityName} {
		done := false
		for page := 0; page < 500 && !done; page++ {
			var res PageResult
			if err := workflow.ExecuteActivity(ctx, activity, in).Get(ctx, &res); err != nil {
				return sum, fmt.Errorf("import page %d from %s: %w", page+1, in.Connector, err)
			}
			sum.add(res.Summary)
			done = res.Done
		}
		if !done {
			// A very long backlog: carry on in a fresh run (the checkpoints are in the database).
			return sum, workflow.NewContinueAsNewError(ctx, WorkflowName, in)
		}
	}
	return sum, nil
}

// ImportInvoices reads one page of invoices: an order whose invoice is paid in full is marked paid
// (unless it is already completed or cancelled).
func (a *Activities) ImportInvoices(ctx context.Context, in Input) (PageResult, error) {
	var res PageResult
	id := in.Connector + ":invoices"
	var cp checkpoint
	if err := a.State.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cp); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return res, fmt.Errorf("read checkpoint: %w", err)
	}
	cp.ID = id
	inst, err := a.Resolver.Instance(ctx, in.Connector)
	if err != nil {
		return res, err
	}
	if d, err := inst.Describe(ctx, connector.DescribeRequest{}); err != nil {
		return res, connectorErr(err)
	} else if !d.Has(connector.CapListInvoices) {
		res.Done = true
		return res, nil
	}
	page, err := inst.ListInvoices(ctx, connector.ListInvoicesRequest{Since: cp.Since, Cursor: cp.Cursor, Limit: max(in.PageSize, 100)})
	if err != nil {
		return res, connectorErr(err)
	}
	for _, inv := range page.Invoices {
		if inv.UpdatedAt.After(cp.MaxUpdated) {
			cp.MaxUpdated = inv.UpdatedAt
		}
		if inv.OrderID == "" || !(strings.EqualFold(inv.State, "paid") || (number(inv.AmountDue) == 0 && number(inv.Total) > 0)) {
			continue
		}
		order, err := a.first(ctx, "order", "externalId == "+strconv.Quote(in.Connector+":"+inv.OrderID))
		if err != nil {
			return res, err
		}
		if order == nil || order["status"] != "new" {
			continue
		}
		if _, err := a.Records.Patch(ctx, "order", idOf(order), map[string]any{"status": "paid"},
			records.WriteOptions{Actor: records.ChangedBy{Plugin: in.Connector, Via: "plugin"}, Trusted: true}); err != nil {
			return res, fmt.Errorf("mark order %s paid: %w", order["number"], err)
		}
		res.Paid++
	}
	cp.Cursor = page.NextCursor
	if page.NextCursor == "" {
		res.Done = true
		if cp.MaxUpdated.After(cp.Since) {
			cp.Since = cp.MaxUpdated
		}
	}
	if _, err := a.State.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, cp, options.Replace().SetUpsert(true)); err != nil {
		return res, fmt.Errorf("store checkpoint: %w", err)
	}
	return res, nil
}

// Activities import pages; they hold the stores and the connector resolver.
type Activities struct {
	Resolver connections.Resolver
	Records  *records.Store
	// State keeps one checkpoint document per connector.
	State *mongo.Collection
}

// checkpoint is where the next page starts: the connector's cursor within a run, and the newest order
// change seen, from which the next run starts.
type checkpoint struct {
	ID         string    `bson:"_id"`
	Cursor     string    `bson:"cursor"`
	Since      time.Time `bson:"since"`
	MaxUpdated time.Time `bson:"maxUpdated"`
}

// ImportPage imports one page of orders and stores the checkpoint after it.
func (a *Activities) ImportPage(ctx context.Context, in Input) (PageResult, error) {
	var res PageResult
	var cp checkpoint
	err := a.State.FindOne(ctx, bson.D{{Key: "_id", Value: in.Connector}}).Decode(&cp)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return res, fmt.Errorf("read checkpoint: %w", err)
	}
	cp.ID = in.Connector
	inst, err := a.Resolver.Instance(ctx, in.Connector)
	if err != nil {
		if errors.Is(err, connections.ErrUnknown) {
			return res, temporal.NewNonRetryableApplicationError(err.Error(), "UnknownConnector", err)
		}
		return res, err
	}
	limit := in.PageSize
	if limit <= 0 {
		limit = 100
	}
	page, err := inst.ListOrders(ctx, connector.ListOrdersRequest{Since: cp.Since, Cursor: cp.Cursor, Limit: limit})
	if err != nil {
		return res, connectorErr(err)
	}
	customers := map[string]customerLink{}
	for _, o := range page.Orders {
		link, ok := customers[o.CustomerID]
		if !ok {
			if link, err = a.customer(ctx, inst, in.Connector, o.CustomerID, &res.Summary); err != nil {
				return res, err
			}
			customers[o.CustomerID] = link
		}
		if err := a.upsertOrder(ctx, in.Connector, o, link, &res.Summary); err != nil {
			return res, fmt.Errorf("order %s: %w", o.Number, err)
		}
		if o.UpdatedAt.After(cp.MaxUpdated) {
			cp.MaxUpdated = o.UpdatedAt
		}
	}
	cp.Cursor = page.NextCursor
	if page.NextCursor == "" {
		res.Done = true
		if cp.MaxUpdated.After(cp.Since) {
			cp.Since = cp.MaxUpdated
		}
	}
	if _, err := a.State.ReplaceOne(ctx, bson.D{{Key: "_id", Value: in.Connector}}, cp, options.Replace().SetUpsert(true)); err != nil {
		return res, fmt.Errorf("store checkpoint: %w", err)
	}
	return res, nil
}

func connectorErr(err error) error {
	if connector.IsRetryable(err) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), "Connector"+strings.ReplaceAll(connector.KindOf(err).String(), " ", ""), err)
}

// customerLink is the Company and/or Contact an ERP customer corresponds to.
type customerLink struct{ company, contact string }

// customer finds (or creates) the company of an ERP customer: by tax ID among companies, else by email
// among contacts (taking the contact's company); a customer matching nothing becomes a new company.
func (a *Activities) customer(ctx context.Context, inst connector.Connector, conn, id string, sum *Summary) (customerLink, error) {
	if id == "" {
		return customerLink{}, nil
	}
	found, err := inst.FindCustomers(ctx, connector.FindCustomersRequest{ID: id, Limit: 1})
	if err != nil {
		return customerLink{}, connectorErr(err)
	}
	if len(found.Customers) == 0 {
		return customerLink{}, nil
	}
	cu := found.Customers[0]
	if cu.TaxID != "" {
		if rec, err := a.byKey(ctx, "company", "taxId", cu.TaxID, "taxId == "+strconv.Quote(cu.TaxID)); err != nil || rec != nil {
			return customerLink{company: idOf(rec)}, err
		}
	}
	if cu.Email != "" {
		rec, err := a.byKey(ctx, "contact", "emails", strings.ToLower(cu.Email), strconv.Quote(strings.ToLower(cu.Email))+" in emails")
		if err != nil || rec != nil {
			company, _ := rec["company"].(string)
			return customerLink{company: company, contact: idOf(rec)}, err
		}
	}
	fields := map[string]any{"name": cu.Name}
	if cu.TaxID != "" {
		fields["taxId"] = cu.TaxID
	}
	if cu.Email != "" {
		fields["emails"] = []any{cu.Email}
	}
	res, err := a.Records.Create(ctx, "company", fields, records.WriteOptions{
		Actor: records.ChangedBy{Plugin: conn, Via: "plugin"}, Trusted: true,
		IdempotencyKey: "erpsync:" + conn + ":customer:" + id,
	})
	if err != nil {
		var ve *records.ValidationError
		if errors.As(err, &ve) {
			// An ERP customer Rapport cannot store as a company (say, no name): import its orders unlinked.
			return customerLink{}, nil
		}
		return customerLink{}, err
	}
	if !res.Replayed {
		sum.Companies++
	}
	return customerLink{company: idOf(res.Record)}, nil
}

// byKey finds the record holding a dedupe-key or unique value with one read by ID on either store, and
// falls back to listing with filter when the field is not a key of the entity (an analyst changed it).
func (a *Activities) byKey(ctx context.Context, entity, field string, value any, filter string) (records.Record, error) {
	rec, err := a.Records.FindByKey(ctx, entity, field, value)
	switch {
	case errors.Is(err, records.ErrNotFound):
		return nil, nil
	case errors.Is(err, records.ErrNotKey):
		return a.first(ctx, entity, filter)
	case err != nil:
		return nil, fmt.Errorf("look up %s by %s: %w", entity, field, err)
	}
	return rec, nil
}

func (a *Activities) first(ctx context.Context, entity, filter string) (records.Record, error) {
	page, err := a.Records.List(ctx, entity, records.ListParams{Filter: filter, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("look up %s (%s): %w", entity, filter, err)
	}
	if len(page.Items) == 0 {
		return nil, nil
	}
	return page.Items[0], nil
}

func idOf(r records.Record) string {
	id, _ := r["id"].(string)
	return id
}

// upsertOrder creates the Order record of an ERP order, or updates it when it changed; the external ID
// (connector and ERP ID) identifies it across runs.
func (a *Activities) upsertOrder(ctx context.Context, conn string, o connector.Order, link customerLink, sum *Summary) error {
	ext := conn + ":" + o.ID
	fields := map[string]any{
		"number":     o.Number,
		"date":       o.Date.UTC().Format("2006-01-02"),
		"amount":     money(o.Total, o.Currency),
		"status":     status(o.State),
		"externalId": ext,
	}
	if link.company != "" {
		fields["company"] = link.company
	}
	if link.contact != "" {
		fields["contact"] = link.contact
	}
	lines := make([]any, 0, len(o.Lines))
	for _, l := range o.Lines {
		product := l.Description
		if product == "" {
			product = l.ProductCode
		}
		lines = append(lines, map[string]any{"product": product, "sku": l.ProductCode, "quantity": number(l.Quantity),
			"price": money(l.UnitPrice, o.Currency), "total": money(l.Amount, o.Currency)})
	}
	fields["lines"] = lines
	opts := records.WriteOptions{Actor: records.ChangedBy{Plugin: conn, Via: "plugin"}, Trusted: true}
	existing, err := a.first(ctx, "order", "externalId == "+strconv.Quote(ext))
	if err != nil {
		return err
	}
	if existing == nil {
		opts.IdempotencyKey = "erpsync:" + conn + ":order:" + o.ID
		res, err := a.Records.Create(ctx, "order", fields, opts)
		var de *records.DuplicateError
		if errors.As(err, &de) && de.Field == "number" {
			// Another ERP (or a person) already used this number: keep both, told apart by the connector.
			fields["number"] = conn + "/" + o.Number
			res, err = a.Records.Create(ctx, "order", fields, opts)
		}
		if err != nil {
			return err
		}
		if !res.Replayed {
			sum.Created++
		}
		return nil
	}
	if !changed(existing, fields) {
		sum.Unchanged++
		return nil
	}
	delete(fields, "number") // the stored number may carry the connector prefix
	if _, err := a.Records.Patch(ctx, "order", idOf(existing), fields, opts); err != nil {
		return err
	}
	sum.Updated++
	return nil
}

// changed reports whether the ERP's view differs from the stored record in status or amount, the fields
// an ERP changes after an order is placed.
func changed(stored records.Record, fields map[string]any) bool {
	if fmt.Sprint(stored["status"]) != fmt.Sprint(fields["status"]) {
		return true
	}
	sm, _ := stored["amount"].(map[string]any)
	fm, _ := fields["amount"].(map[string]any)
	return fmt.Sprint(number(fmt.Sprint(sm["amount"]))) != fmt.Sprint(fm["amount"]) || fmt.Sprint(sm["currency"]) != fmt.Sprint(fm["currency"])
}

func number(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f
}

func money(amount, currency string) map[string]any {
	return map[string]any{"amount": number(amount), "currency": strings.ToUpper(currency)}
}

// status maps an ERP's order state onto Rapport's order statuses.
func status(erp string) string {
	switch strings.ToLower(erp) {
	case "done", "completed", "closed":
		return "completed"
	case "cancel", "cancelled", "canceled":
		return "cancelled"
	case "paid":
		return "paid"
	case "shipped", "sent":
		return "shipped"
	}
	return "new"
}
