package emulator

import "syscall"

// procAttr has the kernel kill the emulator when the process that started it dies, whatever
// the signal (SIGKILL included): an emulator must never outlive its test or demo.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
