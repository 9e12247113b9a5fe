package main

import (
	"context"
	"encoding/json"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// productsOp is the connector's described operation: Tryton's salable products, which
// the fixed methods (customers, orders, invoices) do not reach. A process looks a product
// and its list price up before it quotes or orders.
var productsOp = connector.Operation{
	Name:        "products.search",
	Description: "Salable products whose code or name contains the query, with their list price.",
	Input: json.RawMessage(`{"type":"object","required":["query"],"additionalProperties":false,"properties":{
  "query":{"type":"string","minLength":1,"description":"part of the product's code or name, any case"},
  "limit":{"type":"integer","minimum":1,"maximum":100,"default":20}}}`),
	Output: json.RawMessage(`{"type":"object","required":["products"],"properties":{"products":{"type":"array","items":{
  "type":"object","required":["id","code","name","listPrice"],"properties":{
    "id":{"type":"string"},"code":{"type":"string"},"name":{"type":"string"},
    "listPrice":{"type":"string","pattern":"^-?[0-9]+(\\.[0-9]+)?$"}}}}}}`),
}

// product is one item of products.search's output.
type product struct {
	ID        string `json:"id"`
	Code      string `json:"code"`
	Name      string `json:"name"`
	ListPrice string `json:"listPrice"`
}

// Invoke runs the described operations.
func (c *trytonConnector) Invoke(ctx context.Context, req connector.InvokeRequest) (connector.InvokeResponse, error) {
	rpc, tctx, err := c.client(ctx)
	if err != nil {
		return connector.InvokeResponse{}, err
	}
	if req.Operation != productsOp.Name {
		return connector.InvokeResponse{}, connector.UnknownOperation(req.Operation)
	}
	in := struct {
		Query string `json:"query"`
		Limit int    `json:"limit"`
	}{Limit: 20}
	if err := req.Decode(&in); err != nil {
		return connector.InvokeResponse{}, err
	}
	like := "%" + in.Query + "%"
	domain := []any{[]any{"salable", "=", true}, []any{"OR", []any{"code", "ilike", like}, []any{"name", "ilike", like}}}
	var rows []record
	if err := rpc.callInto(ctx, &rows, "model.product.product.search_read", domain, 0, min(max(in.Limit, 1), 100),
		[][]string{{"code", "ASC"}, {"id", "ASC"}}, []string{"code", "rec_name", "template.list_price"}, tctx); err != nil {
		return connector.InvokeResponse{}, err
	}
	out := struct {
		Products []product `json:"products"`
	}{Products: make([]product, len(rows))}
	for i, r := range rows {
		out.Products[i] = product{ID: r.idStr("id"), Code: r.str("code"), Name: r.str("rec_name"), ListPrice: r.sub("template").decimal("list_price")}
	}
	return connector.Output(out)
}
