package childproc

import "syscall"

// attr has the kernel kill the child when the process that started it dies, whatever the
// signal (SIGKILL included); it keeps what the caller set (a user to run as).
func attr(a *syscall.SysProcAttr) *syscall.SysProcAttr {
	if a == nil {
		a = &syscall.SysProcAttr{}
	}
	a.Pdeathsig = syscall.SIGKILL
	return a
}
