package main

import (
	"cmp"
	"context"
	"encoding/json"
	"math/big"
	"slices"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// balanceOp is the connector's one described operation: what a customer still owes, by
// currency, from the open invoices. A process asks it before it extends credit.
var balanceOp = connector.Operation{
	Name:        "customers.balance",
	Description: "What a customer still owes: the open invoices' amounts due, summed by currency.",
	Input: json.RawMessage(`{"type":"object","required":["customerId"],"additionalProperties":false,
  "properties":{"customerId":{"type":"string","minLength":1,"description":"the customer's ERP ID"}}}`),
	Output: json.RawMessage(`{"type":"object","required":["customerId","openInvoices","balances"],
  "properties":{"customerId":{"type":"string"},"openInvoices":{"type":"integer","minimum":0},
    "balances":{"type":"array","items":{"type":"object","required":["currency","amountDue"],
      "properties":{"currency":{"type":"string"},"amountDue":{"type":"string","pattern":"^[0-9]+\\.[0-9]{2}$"}}}}}}`),
}

// balance is the output of customers.balance.
type balance struct {
	CustomerID   string         `json:"customerId"`
	OpenInvoices int            `json:"openInvoices"`
	Balances     []currencyOwed `json:"balances"`
}

type currencyOwed struct {
	Currency  string `json:"currency"`
	AmountDue string `json:"amountDue"`
}

// Invoke runs the described operations.
func (c *csvConnector) Invoke(ctx context.Context, req connector.InvokeRequest) (connector.InvokeResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.InvokeResponse{}, err
	}
	if req.Operation != balanceOp.Name {
		return connector.InvokeResponse{}, connector.UnknownOperation(req.Operation)
	}
	var in struct {
		CustomerID string `json:"customerId"`
	}
	if err := req.Decode(&in); err != nil {
		return connector.InvokeResponse{}, err
	}
	customers, err := c.customers(dir)
	if err != nil {
		return connector.InvokeResponse{}, err
	}
	if !slices.ContainsFunc(customers, func(cu connector.Customer) bool { return cu.ID == in.CustomerID }) {
		return connector.InvokeResponse{}, connector.NotFound("customer %q", in.CustomerID)
	}
	rows, err := readTable(dir, invoicesFile)
	if err != nil {
		return connector.InvokeResponse{}, connector.Internal("%w", err)
	}
	out := balance{CustomerID: in.CustomerID, Balances: []currencyOwed{}}
	sums := map[string]*big.Rat{}
	for _, r := range rows {
		if r["customer_id"] != in.CustomerID {
			continue
		}
		due, err := decimal("amount_due", r["amount_due"])
		if err != nil {
			return connector.InvokeResponse{}, connector.Internal("invoice %q: %w", r["id"], err)
		}
		if due.Sign() <= 0 {
			continue
		}
		out.OpenInvoices++
		if sums[r["currency"]] == nil {
			sums[r["currency"]] = new(big.Rat)
		}
		sums[r["currency"]].Add(sums[r["currency"]], due)
	}
	for cur, sum := range sums {
		out.Balances = append(out.Balances, currencyOwed{Currency: cur, AmountDue: sum.FloatString(2)})
	}
	slices.SortFunc(out.Balances, func(a, b currencyOwed) int { return cmp.Compare(a.Currency, b.Currency) })
	return connector.Output(out)
}
