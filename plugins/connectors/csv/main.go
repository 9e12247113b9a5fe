// Command csv is the example Rapport ERP connector: an "ERP" made of CSV files in one
// directory. It reads customers, orders (with their lines), invoices and payments, and
// writes customers and sales orders back, idempotently by key. It is the worked example
// of plugins/README.md; build it, checksum it and drop it into the plugins directory.
package main

import "github.com/rapportcrm/rapport/plugins/sdk/connector"

func main() {
	connector.Serve(newConnector())
}
