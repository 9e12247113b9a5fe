package host

import (
	"os/exec"
	"syscall"
)

// setProcAttr asks the kernel to kill the plugin when the thread that started it dies,
// so plugins do not outlive a Rapport process that was killed without running Close.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
