//go:build !linux

package host

import (
	"os"
	"os/exec"
)

// setProcAttr has nothing to add outside Linux; Close still kills every plugin.
func setProcAttr(*exec.Cmd) {}

// openNoFollow is not portable; the symbolic-link check before opening still applies.
const openNoFollow = 0

func isLinkError(error) bool { return false }

// execPath is the binary's path outside Linux; binary.unchanged re-checks the file after
// the launch.
func execPath(f *os.File) string { return f.Name() }

// changeTime is not compared outside Linux.
func changeTime(os.FileInfo) int64 { return 0 }
