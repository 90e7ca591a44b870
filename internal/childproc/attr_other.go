//go:build !linux

package childproc

import "syscall"

// attr is nil where the kernel cannot kill a child with its parent; Stop still ends it.
func attr() *syscall.SysProcAttr { return nil }
