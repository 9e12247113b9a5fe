// Command tryton is Rapport's connector for the Tryton ERP (6.0 or later, modules party,
// sale and account_invoice), spoken to through Tryton's JSON-RPC API. Customers are
// parties, orders are sales (the idempotency key is kept in the sale's reference) and
// invoices are customer invoices.
package main

import "github.com/rapportcrm/rapport/plugins/sdk/connector"

func main() {
	connector.Serve(newConnector())
}
