//go:build !unix

package testconn

// lockStore guards nothing beyond the connector's mutex where there is no flock: there
// one plugin process at a time may use a directory.
func lockStore(string) (unlock func(), err error) { return func() {}, nil }
