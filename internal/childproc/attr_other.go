//go:build !linux

package childproc

import "syscall"

// attr keeps what the caller set: the kernel cannot kill a child with its parent here, Stop
// still ends it.
func attr(a *syscall.SysProcAttr) *syscall.SysProcAttr { return a }
