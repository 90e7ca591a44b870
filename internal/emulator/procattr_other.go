//go:build !linux

package emulator

import "syscall"

// procAttr is nil where the kernel cannot kill a child with its parent; Stop still ends it.
func procAttr() *syscall.SysProcAttr { return nil }
