// Command testplugin serves testconn as a plugin for the host's fault tests. With
// --stdout-garbage it prints to stdout before the handshake, which the host must refuse.
package main

import (
	"fmt"
	"os"

	"github.com/rapportcrm/rapport/plugins/host/internal/testconn"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

func main() {
	for _, a := range os.Args[1:] {
		if a == "--stdout-garbage" {
			fmt.Println("hello from a plugin that prints to stdout")
		}
	}
	connector.Serve(&testconn.Connector{})
}
