//go:build !linux

package host

import "os/exec"

// setProcAttr has nothing to add outside Linux; Close still kills every plugin.
func setProcAttr(*exec.Cmd) {}
