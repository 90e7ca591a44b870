//go:build !linux

// Package childproc starts helper servers (the SES emulator, redis-server, moto) so that they
// never outlive the process that started them.
package childproc

import "syscall"

// Attr is nil where the kernel cannot kill a child with its parent; Stop still ends it.
func Attr() *syscall.SysProcAttr { return nil }
