package main

import "syscall"

// dieWithParent asks the kernel for SIGTERM when the process that started the demo ends: `go
// run` exits on SIGTERM without passing it on, which would leave the demo, and its emulator,
// running.
func dieWithParent() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
}
