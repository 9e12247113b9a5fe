// Package erpsync imports an ERP's sales orders into Rapport's Order records through a connector plugin:
// page by page, matching each order's customer to a Company (by tax ID) or a Contact (by email) and
// creating the company when none matches, never duplicating a record across runs, and resuming from the
// checkpoint the last run stored. Settled invoices mark their orders paid. When the connector can list
// customers (customers.list), every ERP customer the CRM does not know as a company, contact or lead
// becomes a Lead (source "erp"), created like any other lead so lead qualification starts for it. It
// runs as a Temporal workflow, on demand or on a schedule.
package erpsync

import (
	"cmp"
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
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// Names the workflow and activity are registered under; they are part of recorded histories.
const (
	WorkflowName        = "rapport.erpsync"
	ActivityName        = "rapport.erpsync.page"
	InvoiceActivityName = "rapport.erpsync.invoices"
	// CustomersActivityName imports one page of ERP customers as leads.
	CustomersActivityName = "rapport.erpsync.customers"
)

// customersChange is the workflow.GetVersion change ID of the customers phase: runs recorded before it
// (orders and invoices only) replay without it.
const customersChange = "erpsync-customers"

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
	// Leads counts leads created for ERP customers the CRM did not know.
	Leads int `json:"leadsCreated"`
	// Matched counts ERP customers the customers phase found already known as a company, contact or lead.
	Matched int `json:"customersMatched"`
	// Skipped counts ERP customers that could not be stored as a lead (say, a name too long).
	Skipped int `json:"customersSkipped"`
}

func (s *Summary) add(o Summary) {
	s.Pages++
	s.Created += o.Created
	s.Updated += o.Updated
	s.Unchanged += o.Unchanged
	s.Companies += o.Companies
	s.Paid += o.Paid
	s.Leads += o.Leads
	s.Matched += o.Matched
	s.Skipped += o.Skipped
}

// PageResult is one page's outcome.
type PageResult struct {
	Summary
	Done bool `json:"done"`
}

// Sync is the workflow: it imports pages until the connector has no more, each page an activity that
// stores its checkpoint, so a crash resumes at the page it was on. The phases run in order: orders,
// invoices, then (from version 1 of customersChange) customers, after the orders so that a customer
// who buys is already a company and does not also become a lead.
func Sync(ctx workflow.Context, in Input) (Summary, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var sum Summary
	for _, phase := range []string{ActivityName, InvoiceActivityName} {
		if err := importPages(ctx, phase, in, &sum); err != nil {
			return sum, err
		}
	}
	if workflow.GetVersion(ctx, customersChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return sum, nil
	}
	err := importPages(ctx, CustomersActivityName, in, &sum)
	return sum, err
}

// importPages runs one phase's activity page after page until it reports done. After 500 pages (a very
// long backlog) it answers a continue-as-new error: a fresh run carries on, the checkpoints being in the
// database.
func importPages(ctx workflow.Context, activity string, in Input, sum *Summary) error {
	for page := 0; page < 500; page++ {
		var res PageResult
		if err := workflow.ExecuteActivity(ctx, activity, in).Get(ctx, &res); err != nil {
			return fmt.Errorf("import page %d from %s: %w", page+1, in.Connector, err)
		}
		sum.add(res.Summary)
		if res.Done {
			return nil
		}
	}
	return workflow.NewContinueAsNewError(ctx, WorkflowName, in)
}

// ImportInvoices reads one page of invoices: an order whose invoice is paid in full is marked paid
// (unless it is already completed or cancelled).
func (a *Activities) ImportInvoices(ctx context.Context, in Input) (PageResult, error) {
	var res PageResult
	cp, err := a.checkpoint(ctx, in.Connector+":invoices")
	if err != nil {
		return res, err
	}
	inst, err := a.instance(ctx, in.Connector)
	if err != nil {
		return res, err
	}
	if ok, err := declares(ctx, inst, connector.CapListInvoices); err != nil || !ok {
		res.Done = err == nil
		return res, err
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
	return res, a.advance(ctx, &cp, page.NextCursor, &res)
}

// ImportCustomers reads one page of the ERP's customers changed since the last run (checkpoint
// "<connector>:customers") and creates a Lead, source "erp", for each one the CRM does not know as a
// company (tax ID or email), a contact (email or phone) or a lead (ERP reference or email). The lead is
// created through the record store like any other, so the record trigger starts lead qualification for
// it; its idempotency key (connector and customer ID) keeps retries and later runs from creating a
// second one. Without customers.list, or without a lead entity, the phase is done at once.
func (a *Activities) ImportCustomers(ctx context.Context, in Input) (PageResult, error) {
	var res PageResult
	cp, err := a.checkpoint(ctx, in.Connector+":customers")
	if err != nil {
		return res, err
	}
	inst, err := a.instance(ctx, in.Connector)
	if err != nil {
		return res, err
	}
	if ok, err := declares(ctx, inst, connector.CapListCustomers); err != nil || !ok {
		res.Done = err == nil
		return res, err
	}
	lead, err := a.Records.Schema(ctx, "lead")
	if errors.Is(err, records.ErrNotFound) {
		res.Done = true
		return res, nil
	} else if err != nil {
		return res, fmt.Errorf("read the lead entity: %w", err)
	}
	page, err := inst.ListCustomers(ctx, connector.ListCustomersRequest{Since: cp.Since, Cursor: cp.Cursor, Limit: pageSize(in)})
	if err != nil {
		return res, connectorErr(err)
	}
	for _, cu := range page.Customers {
		if cu.UpdatedAt.After(cp.MaxUpdated) {
			cp.MaxUpdated = cu.UpdatedAt
		}
		if cu.ID == "" {
			continue
		}
		if err := a.leadOf(ctx, lead.Entity, in.Connector, cu, &res.Summary); err != nil {
			return res, fmt.Errorf("customer %s: %w", cu.ID, err)
		}
	}
	return res, a.advance(ctx, &cp, page.NextCursor, &res)
}

// leadOf counts an ERP customer as matched when the CRM knows it, and otherwise creates its lead.
func (a *Activities) leadOf(ctx context.Context, lead schema.Entity, conn string, cu connector.Customer, sum *Summary) error {
	known, err := a.known(ctx, lead, conn, cu)
	if err != nil {
		return err
	}
	if known {
		sum.Matched++
		return nil
	}
	fields := leadFields(lead, conn, cu)
	opts := records.WriteOptions{Actor: records.ChangedBy{Plugin: conn, Via: "plugin"}, Trusted: true,
		IdempotencyKey: "erpsync:" + conn + ":lead:" + cu.ID}
	res, err := a.Records.Create(ctx, "lead", fields, opts)
	var ve *records.ValidationError
	if errors.As(err, &ve) && dropInvalid(fields, ve) {
		// An ERP value Rapport refuses (a phone it cannot parse, a tax ID of another format): the lead
		// without it is still worth qualifying.
		res, err = a.Records.Create(ctx, "lead", fields, opts)
	}
	switch {
	case errors.As(err, &ve):
		sum.Skipped++
		return nil
	case errors.Is(err, records.ErrIdempotencyReuse):
		// An earlier run created this customer's lead from data the ERP has changed since.
		sum.Matched++
		return nil
	case err != nil:
		return fmt.Errorf("create lead: %w", err)
	}
	if res.Replayed {
		sum.Matched++
	} else {
		sum.Leads++
	}
	return nil
}

// known reports whether the CRM has the ERP customer already: a lead with its ERP reference, a company
// with its tax ID or email, a contact with its email or phone, or a lead with its email.
func (a *Activities) known(ctx context.Context, lead schema.Entity, conn string, cu connector.Customer) (bool, error) {
	if lead.Field("externalId") != nil {
		if rec, err := a.first(ctx, "lead", "externalId == "+strconv.Quote(conn+":"+cu.ID)); err != nil || rec != nil {
			return rec != nil, err
		}
	}
	email := strings.ToLower(strings.TrimSpace(cu.Email))
	type lookup struct {
		entity, field string
		value         any
		filter        string
	}
	var lookups []lookup
	if taxID := strings.TrimSpace(cu.TaxID); taxID != "" {
		lookups = append(lookups, lookup{"company", "taxId", taxID, "taxId == " + strconv.Quote(taxID)})
	}
	if email != "" {
		lookups = append(lookups, lookup{"contact", "emails", email, strconv.Quote(email) + " in emails"},
			lookup{"company", "emails", email, strconv.Quote(email) + " in emails"})
	}
	if phone := strings.TrimSpace(cu.Phone); phone != "" {
		lookups = append(lookups, lookup{"contact", "phones", phone, strconv.Quote(phone) + " in phones"})
	}
	if email != "" && lead.Field("email") != nil {
		lookups = append(lookups, lookup{"lead", "email", email, "email == " + strconv.Quote(email)})
	}
	for _, l := range lookups {
		rec, err := a.byKey(ctx, l.entity, l.field, l.value, l.filter)
		if err != nil {
			return false, err
		}
		if rec != nil {
			return true, nil
		}
	}
	return false, nil
}

// leadFields is the new lead of an ERP customer, with only the fields the lead entity has: the source
// is "erp" (or "other" where the entity predates it), the ERP reference goes to externalId.
func leadFields(lead schema.Entity, conn string, cu connector.Customer) map[string]any {
	name := strings.TrimSpace(cu.Name)
	if name == "" {
		name = cmp.Or(strings.TrimSpace(cu.Email), "ERP customer "+cu.ID)
	}
	want := map[string]any{"name": name, "email": strings.TrimSpace(cu.Email), "phone": strings.TrimSpace(cu.Phone),
		"taxId": strings.TrimSpace(cu.TaxID), "externalId": conn + ":" + cu.ID}
	if cu.TaxID != "" {
		want["companyName"] = name // a customer with a tax ID is an organisation
	}
	if f := lead.Field("source"); f != nil {
		want["source"] = "other"
		for _, o := range f.Options {
			if o.Value == "erp" {
				want["source"] = "erp"
			}
		}
	}
	fields := map[string]any{}
	for k, v := range want {
		if s, _ := v.(string); s != "" && lead.Field(k) != nil {
			fields[k] = v
		}
	}
	return fields
}

// dropInvalid removes the optional fields a validation error names, reporting whether it removed any;
// the name and source stay (without them there is no lead).
func dropInvalid(fields map[string]any, ve *records.ValidationError) bool {
	dropped := false
	for _, p := range ve.Problems {
		field, _, _ := strings.Cut(strings.TrimPrefix(p.Pointer, "/"), "/")
		if _, ok := fields[field]; ok && field != "name" && field != "source" {
			delete(fields, field)
			dropped = true
		}
	}
	return dropped
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

// checkpoint reads the checkpoint stored under id, or a fresh one.
func (a *Activities) checkpoint(ctx context.Context, id string) (checkpoint, error) {
	var cp checkpoint
	if err := a.State.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cp); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return cp, fmt.Errorf("read checkpoint %s: %w", id, err)
	}
	cp.ID = id
	return cp, nil
}

// advance moves the checkpoint past a page whose next cursor is next and stores it: on the last page
// the phase is done and the next run starts from the newest change seen.
func (a *Activities) advance(ctx context.Context, cp *checkpoint, next string, res *PageResult) error {
	cp.Cursor = next
	if next == "" {
		res.Done = true
		if cp.MaxUpdated.After(cp.Since) {
			cp.Since = cp.MaxUpdated
		}
	}
	if _, err := a.State.ReplaceOne(ctx, bson.D{{Key: "_id", Value: cp.ID}}, cp, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("store checkpoint %s: %w", cp.ID, err)
	}
	return nil
}

// instance resolves the named connector; an unknown name fails the run without retries.
func (a *Activities) instance(ctx context.Context, name string) (connector.Connector, error) {
	inst, err := a.Resolver.Instance(ctx, name)
	if err != nil {
		if errors.Is(err, connections.ErrUnknown) {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), "UnknownConnector", err)
		}
		return nil, err
	}
	return inst, nil
}

// declares reports whether the connector declares capability c.
func declares(ctx context.Context, inst connector.Connector, c connector.Capability) (bool, error) {
	d, err := inst.Describe(ctx, connector.DescribeRequest{})
	if err != nil {
		return false, connectorErr(err)
	}
	return d.Has(c), nil
}

// pageSize is the page size of the order and customer phases: Input.PageSize, 100 by default.
func pageSize(in Input) int {
	if in.PageSize <= 0 {
		return 100
	}
	return in.PageSize
}

// ImportPage imports one page of orders and stores the checkpoint after it.
func (a *Activities) ImportPage(ctx context.Context, in Input) (PageResult, error) {
	var res PageResult
	cp, err := a.checkpoint(ctx, in.Connector)
	if err != nil {
		return res, err
	}
	inst, err := a.instance(ctx, in.Connector)
	if err != nil {
		return res, err
	}
	page, err := inst.ListOrders(ctx, connector.ListOrdersRequest{Since: cp.Since, Cursor: cp.Cursor, Limit: pageSize(in)})
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
	return res, a.advance(ctx, &cp, page.NextCursor, &res)
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
