// Package childproc starts helper servers (the SES emulator, redis-server, moto) so that they
// never outlive the process that started them.
package childproc

import "syscall"

// Attr has the kernel kill the child when the process that started it dies, whatever the
// signal (SIGKILL included): a test's or the demo's server must never outlive it.
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
