//go:build unix

// Package pgtest runs a real PostgreSQL server (Debian's package postgresql) for tests: a
// cluster made by initdb in a temporary directory, served on a free loopback port, trusted
// for the user postgres, removed at the end. As root, initdb and postgres run as the user
// postgres, which they require. The server can be stopped and started again on the same port
// and data, for fault tests. Test use only.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sesconnector/sesconnector/internal/childproc"
)

// Install says how to get the server.
const Install = "Install PostgreSQL (apt-get install postgresql) and run `make test`."

// Server is a PostgreSQL cluster on 127.0.0.1.
type Server struct {
	Port int
	dir  string // the data directory, also the directory of its Unix socket
	bin  string // the directory of initdb, postgres and pg_isready
	cred *syscall.Credential

	mu   sync.Mutex
	proc *childproc.Process
}

// Bin finds the directory of PostgreSQL's programs: where postgres on PATH links to, else the
// newest of Debian's /usr/lib/postgresql/*/bin (Debian keeps them off PATH).
func Bin() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "pg_isready")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("postgres not found on PATH or in /usr/lib/postgresql/*/bin")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start makes a cluster in a new temporary directory and serves it.
func Start(ctx context.Context) (*Server, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if s.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil { // in /tmp: the user postgres must reach it
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			s.remove()
			return nil, err
		}
	}
	initdb := s.command("initdb", "-D", s.dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		s.remove()
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	if s.Port, err = childproc.FreePort(); err != nil {
		s.remove()
		return nil, err
	}
	if err := s.Restart(ctx); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

// postgresUser is the user postgres, which Debian's package creates.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the user postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// Restart serves the cluster again after Stop, on the same port, and waits until it accepts
// connections.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := s.command("postgres", "-D", s.dir, "-p", strconv.Itoa(s.Port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir, "-c", "max_connections=200")
	proc, err := childproc.Start(ctx, "postgres", cmd, 30*time.Second, func() error {
		return s.command("pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-t", "1").Run()
	})
	if err != nil {
		return err
	}
	s.proc = proc
	return nil
}

// Stop ends the server (PostgreSQL's fast shutdown: open connections are cut) and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.Stop()
		s.proc = nil
	}
}

// Hang stops every process of the server (SIGSTOP), so that it takes connections and answers
// nothing: a database that is slow beyond any timeout. Resume undoes it.
func (s *Server) Hang() error { return s.signal(syscall.SIGSTOP) }

// Resume lets a hung server go on (SIGCONT).
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

// signal sends sig to the postmaster and its children (the backends and workers).
func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return errors.New("the server is stopped")
	}
	pid := s.proc.Pid()
	pids := []int{pid}
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return fmt.Errorf("listing postgres's processes: %w", err)
	}
	for _, f := range strings.Fields(string(children)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	for _, p := range pids {
		if err := syscall.Kill(p, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
	}
	return nil
}

// Close stops the server and removes its cluster.
func (s *Server) Close() {
	s.Stop()
	s.remove()
}

func (s *Server) remove() { _ = os.RemoveAll(s.dir) }

// DSN is the URL of a database on the server, for the user postgres.
func (s *Server) DSN(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, database)
}

// StartForTest starts a server for one test (or benchmark) and removes it when that ends;
// where it cannot start, the test fails (see childproc.Need).
func StartForTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start(context.Background())
	if err != nil {
		childproc.Need(t, err, Install)
	}
	t.Cleanup(s.Close)
	return s
}
