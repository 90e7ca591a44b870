package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The proof builds the commit it is given, not a version the module cache kept: a commit whose
// library does not compile makes it fail. (With a fixed v0.1.0, a cache that had seen an
// earlier v0.1.0 served that, and the proof passed.)
func TestProofFailsOnALibraryThatDoesNotCompile(t *testing.T) {
	top, err := output("", nil, "git", "rev-parse", "--show-toplevel")
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=test", "-c", "user.email=test@example.invalid"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command("git", "clone", "--quiet", strings.TrimSpace(top), repo).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	broken := "package sesconnector\n\n// brokenForTheProof does not compile: the proof must see it.\nvar brokenForTheProof int = \"not an int\"\n"
	if err := os.WriteFile(filepath.Join(repo, "broken_for_the_proof.go"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "broken_for_the_proof.go")
	git("commit", "--quiet", "-m", "a library that does not compile")

	err = run(repo, false)
	if err == nil {
		t.Fatal("the proof passed on a commit whose library does not compile")
	}
	if !strings.Contains(err.Error(), "broken_for_the_proof.go") {
		t.Fatalf("the proof failed, but not on the broken file: %v", err)
	}
	t.Logf("the proof failed as it should: %.200s", err)
}
