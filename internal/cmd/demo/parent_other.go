//go:build !linux

package main

// dieWithParent does nothing where the kernel cannot signal a parent's death.
func dieWithParent() {}
