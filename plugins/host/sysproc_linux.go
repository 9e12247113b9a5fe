package host

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// setProcAttr asks the kernel to kill the plugin when the thread that started it dies,
// so plugins do not outlive a Rapport process that was killed without running Close.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// openNoFollow makes opening a symbolic link fail, even one swapped in after the check.
const openNoFollow = syscall.O_NOFOLLOW

func isLinkError(err error) bool { return errors.Is(err, syscall.ELOOP) }

// execPath names the open, verified file itself for execve: /proc/self/fd/N is resolved
// in the child to the very file descriptor that was hashed (as fexecve does), so
// replacing the binary's path after the check changes nothing. Without /proc it falls
// back to the path, which binary.unchanged then re-checks.
func execPath(f *os.File) string {
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if _, err := os.Stat(p); err != nil {
		return f.Name()
	}
	return p
}

// changeTime is the inode's change time, which moves on every write and every chmod
// or utimes (so a writer cannot hide behind a restored modification time).
func changeTime(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}
