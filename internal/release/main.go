// Command release proves RELEASING.md as a user meets the result: in a scratch clone of this
// repository it tags the modules in the documented order (the library, then each nested module
// after it requires the library's new version), serves every tag from a file:// GOPROXY built
// with golang.org/x/mod/zip (the module zips proxy.golang.org would serve), and then, in a fresh
// module outside the repository and without any replace directive, go-gets the library and
// redislimit, builds and runs a program that uses both, and go-installs and runs the command.
// It prints an importer's module count and the smallest sender's size.
//
//	go run ./internal/release [-keep]
//	go run ./internal/release -tidy [DIR...]
//
// With -tidy it instead runs `go mod tidy` outside the workspace in the nested modules of the
// working tree (all of them, or the DIRs given), resolving the library's unreleased version
// from a scratch proxy of HEAD, and keeps no checksum of this repository's modules in their
// go.sum (the release computes those): how a nested module gets a new dependency while the
// library's next version is not yet tagged.
//
// Third-party modules come from the GOPROXY already set (the Go module proxy); nothing is
// pushed anywhere, and the repository itself gets no tag.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

const root = "github.com/sesconnector/sesconnector"

// version is what the proof tags: RELEASING.md's v0.1.0 with a pre-release part of this run's
// own. The module cache keeps the first zip it sees of a version for good: a proof that tagged
// plain v0.1.0 every time would build the first commit it ever proved, not this one. Each
// run's entries are removed from the cache at the end (dropCached).
//
// -tidy publishes HEAD as required, the version the nested modules' go.mod name, with a module
// cache of its own.
const required = "v0.1.0"

var version = fmt.Sprintf("v0.1.0-proof.%d", time.Now().UnixNano())

// nested are the modules released after the library, in order, with the modules of this
// repository each requires.
var nested = []struct {
	dir  string
	deps []string
}{
	{"redislimit", []string{root}},
	{"sesotel", []string{root}},
	{"deliverylog", []string{root}},
	{"cmd/sesconnector", []string{root, root + "/deliverylog"}},
}

// unreleased are the modules of this repository that are never tagged, tidied by -tidy too.
var unreleased = []string{"examples/authserver"}

func main() {
	keep := flag.Bool("keep", false, "keep the scratch directory and print its path")
	tidy := flag.Bool("tidy", false, "tidy the working tree's nested modules (or the DIRs given) against HEAD's unreleased library, instead of the proof")
	flag.Parse()
	var err error
	if *tidy {
		err = tidyModules(flag.Args())
	} else {
		var top string
		if top, err = output("", nil, "git", "rev-parse", "--show-toplevel"); err == nil {
			err = run(strings.TrimSpace(top), *keep)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// scratchClone clones HEAD of the repository at top into a scratch directory, with a committer.
func scratchClone(top string) (scratch, repo, proxy string, err error) {
	if scratch, err = os.MkdirTemp("", "sesconnector-release-"); err != nil {
		return "", "", "", err
	}
	repo, proxy = filepath.Join(scratch, "repo"), filepath.Join(scratch, "proxy")
	if _, err := output("", nil, "git", "clone", "--quiet", top, repo); err != nil {
		return "", "", "", err
	}
	for _, kv := range [][2]string{{"user.name", "release proof"}, {"user.email", "release@example.invalid"}} {
		if _, err := output(repo, nil, "git", "config", kv[0], kv[1]); err != nil {
			return "", "", "", err
		}
	}
	return scratch, repo, proxy, nil
}

// dropCached removes this run's version of every module of the repository from the module
// cache, so that runs do not pile up there.
func dropCached() error {
	cache, err := output("", nil, "go", "env", "GOMODCACHE")
	if err != nil {
		return err
	}
	cache = strings.TrimSpace(cache)
	var paths []string
	for _, mod := range []string{root, root + "/redislimit", root + "/sesotel", root + "/deliverylog", root + "/cmd/sesconnector"} {
		esc, err := module.EscapePath(mod)
		if err != nil {
			return err
		}
		paths = append(paths, filepath.Join(cache, filepath.FromSlash(esc)+"@"+version))
		files, _ := filepath.Glob(filepath.Join(cache, "cache", "download", filepath.FromSlash(esc), "@v", version+".*"))
		paths = append(paths, files...)
	}
	for _, p := range paths {
		// The cache's directories are read-only: make them writable to remove them.
		_ = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(path, 0o755)
			}
			return nil
		})
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// tidyModules tidies nested modules of the working tree outside the workspace, with HEAD's
// library and its nested libraries published as the version they require.
func tidyModules(dirs []string) error {
	out, err := output("", nil, "git", "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	top := strings.TrimSpace(out)
	scratch, repo, proxy, err := scratchClone(top)
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := tagAndPublish(repo, proxy, root, "", required); err != nil {
		return err
	}
	for _, dir := range []string{"redislimit", "sesotel", "deliverylog"} { // what the command and examples/authserver require besides
		if err := tagAndPublish(repo, proxy, root+"/"+dir, dir, dir+"/"+required); err != nil {
			return err
		}
	}
	if len(dirs) == 0 {
		for _, m := range nested {
			dirs = append(dirs, m.dir)
		}
		dirs = append(dirs, unreleased...)
	}
	// A module cache of its own: the shared one may hold another commit's v0.1.0 for good.
	env := append(goEnv(proxy), "GOMODCACHE="+filepath.Join(scratch, "modcache"), "GOFLAGS=-mod=mod -modcacherw")
	for _, dir := range dirs {
		abs := filepath.Join(top, dir)
		if _, err := output(abs, env, "go", "mod", "tidy"); err != nil {
			return err
		}
		sum := filepath.Join(abs, "go.sum")
		data, err := os.ReadFile(sum)
		if err != nil {
			return err
		}
		var kept []string
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if !strings.HasPrefix(line, root+" ") && !strings.HasPrefix(line, root+"/") {
				kept = append(kept, line)
			}
		}
		if err := os.WriteFile(sum, []byte(strings.Join(kept, "")), 0o644); err != nil {
			return err
		}
		fmt.Println("tidied", dir)
	}
	return nil
}

// run proves RELEASING.md on HEAD of the repository at top.
func run(top string, keep bool) (err error) {
	scratch, repo, proxy, err := scratchClone(top)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, dropCached()) }()
	if keep {
		fmt.Println("scratch directory:", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	env := goEnv(proxy)

	// 1. The library.
	if err := tagAndPublish(repo, proxy, root, "", version); err != nil {
		return err
	}
	// 2. Each nested module: require the library's release, tidy, commit, tag, publish.
	for _, m := range nested {
		dir := filepath.Join(repo, m.dir)
		// The tree requires RELEASING.md's v0.1.0, which a real release tags; this run tags its
		// own version instead, and go get would look v0.1.0 up first: point every requirement
		// at this run's version without a look-up, then go get them as documented.
		get := []string{"get"}
		for _, dep := range m.deps {
			if _, err := output(dir, env, "go", "mod", "edit", "-require="+dep+"@"+version); err != nil {
				return err
			}
			get = append(get, dep+"@"+version)
		}
		if _, err := output(dir, env, "go", get...); err != nil {
			return err
		}
		if _, err := output(dir, env, "go", "mod", "tidy"); err != nil {
			return err
		}
		if _, err := output(repo, nil, "git", "commit", "--quiet", "-am", m.dir+": require "+root+" "+version); err != nil {
			return err
		}
		if err := tagAndPublish(repo, proxy, root+"/"+m.dir, m.dir, m.dir+"/"+version); err != nil {
			return err
		}
	}

	// 3. A user's module: the library and redislimit, built and run.
	user := filepath.Join(scratch, "user")
	if err := writeModule(user, userProgram); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"go", "get", root + "@" + version, root + "/redislimit@" + version},
		{"go", "mod", "tidy"},
		{"go", "build", "-o", "user", "."},
	} {
		if _, err := output(user, env, args[0], args[1:]...); err != nil {
			return err
		}
	}
	got, err := output(user, env, filepath.Join(user, "user"))
	if err != nil {
		return err
	}
	if want := "Your Acme sign-in code is 123456\n"; got != want {
		return fmt.Errorf("the user's program printed %q, want %q", got, want)
	}
	fmt.Printf("a user's module: go get %s@%s and redislimit@%s, built and ran: %s", root, version, version, got)

	// 4. The smallest sender: the library alone.
	sender := filepath.Join(scratch, "sender")
	if err := writeModule(sender, senderProgram); err != nil {
		return err
	}
	for _, args := range [][]string{{"go", "get", root + "@" + version}, {"go", "mod", "tidy"}, {"go", "build", "-o", "sender", "."}} {
		if _, err := output(sender, env, args[0], args[1:]...); err != nil {
			return err
		}
	}
	mods, err := output(sender, env, "go", "list", "-m", "all")
	if err != nil {
		return err
	}
	info, err := os.Stat(filepath.Join(sender, "sender"))
	if err != nil {
		return err
	}
	fmt.Printf("the smallest sender: %d modules in go list -m all, a %.1f MB binary\n", strings.Count(mods, "\n"), float64(info.Size())/1e6)

	// 5. The command, installed as the README says.
	bin := filepath.Join(scratch, "bin")
	installEnv := append(env, "GOBIN="+bin)
	if _, err := output(user, installEnv, "go", "install", root+"/cmd/sesconnector@"+version); err != nil {
		return err
	}
	got, err = output(user, env, filepath.Join(bin, "sesconnector"), "version")
	if err != nil {
		return err
	}
	for _, want := range []string{root + "/cmd/sesconnector " + version, "library " + root + " " + version} {
		if !strings.Contains(got, want) {
			return fmt.Errorf("sesconnector version printed %q, without %q", got, want)
		}
	}
	if _, err := output(user, env, filepath.Join(bin, "sesconnector"), "validate", filepath.Join(repo, "examples", "config.example.json")); err != nil {
		return err
	}
	fmt.Printf("go install %s/cmd/sesconnector@%s: %s", root, version, strings.ReplaceAll(got, "\n", "; "))
	fmt.Println()
	return nil
}

// goEnv is the environment of every go command of the proof: no workspace, this repository's
// modules from the scratch proxy (not looked up in the checksum database, which has never
// seen them), every other module from the GOPROXY already set.
func goEnv(proxy string) []string {
	upstream := os.Getenv("GOPROXY")
	if upstream == "" {
		upstream = "https://proxy.golang.org,direct"
	}
	return append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GONOSUMDB="+root,
		"GOPROXY=file://"+filepath.ToSlash(proxy)+","+upstream)
}

// tagAndPublish tags the clone's HEAD and writes the module at subdir, as of that tag, into
// the proxy: its .info, .mod and .zip, and its version in list.
func tagAndPublish(repo, proxy, modPath, subdir, tag string) error {
	if _, err := output(repo, nil, "git", "tag", tag); err != nil {
		return err
	}
	version := tag[strings.LastIndex(tag, "/")+1:] // redislimit/v0.1.0 is redislimit's v0.1.0
	escaped, err := module.EscapePath(modPath)
	if err != nil {
		return err
	}
	dir := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	gomod, err := output(repo, nil, "git", "show", tag+":"+strings.TrimPrefix(subdir+"/go.mod", "/"))
	if err != nil {
		return err
	}
	when, err := output(repo, nil, "git", "log", "-1", "--format=%cI", tag)
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(when))
	if err != nil {
		return err
	}
	infoJSON, err := json.Marshal(map[string]any{"Version": version, "Time": t.UTC()})
	if err != nil {
		return err
	}
	zf, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		return err
	}
	defer zf.Close()
	if err := modzip.CreateFromVCS(zf, module.Version{Path: modPath, Version: version}, repo, tag, subdir); err != nil {
		return fmt.Errorf("zipping %s@%s: %w", modPath, version, err)
	}
	return errors.Join(
		os.WriteFile(filepath.Join(dir, version+".mod"), []byte(gomod), 0o644),
		os.WriteFile(filepath.Join(dir, version+".info"), infoJSON, 0o644),
		os.WriteFile(filepath.Join(dir, "list"), []byte(version+"\n"), 0o644),
	)
}

func writeModule(dir, program string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return errors.Join(
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/"+filepath.Base(dir)+"\n\ngo 1.26.0\n"), 0o644),
		os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o644),
	)
}

// output runs a command in dir (with env, or this process's environment) and returns its
// standard output; a failure carries what it printed.
func output(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s (in %s): %w\n%s%s", name, strings.Join(args, " "), dir, err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}
