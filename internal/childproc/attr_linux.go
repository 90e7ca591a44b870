package childproc

import "syscall"

// attr has the kernel kill the child when the process that started it dies, whatever the
// signal (SIGKILL included).
func attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
