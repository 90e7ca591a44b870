package sesconnector

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxConfigSize is the largest config file LoadConfig reads: a config is a few kilobytes of
// templates; a larger file is a mistake (or /dev/zero), not a config.
const MaxConfigSize = 4 << 20

// LoadConfig reads a JSON config file and parses it with ParseConfig. The file must be a
// regular file (a named pipe or a device is refused at once, without waiting on it) of at
// most MaxConfigSize bytes; either failure, like any error reading it, says "cannot read"
// with the path, and matches ErrInvalidConfig and the cause (fs.ErrNotExist, say).
func LoadConfig(path string) (*Config, error) {
	data, err := readConfigFile(path)
	if err != nil {
		why := err
		var perr *fs.PathError
		if errors.As(err, &perr) {
			why = perr.Err // "no such file or directory": the path is named once
		}
		return nil, &kindError{text: fmt.Sprintf("sesconnector: cannot read %s: %v", path, why), kind: ErrInvalidConfig, cause: err}
	}
	return ParseConfig(data)
}

// readConfigFile reads a regular file of at most MaxConfigSize bytes. It opens without
// blocking, so that a named pipe with no writer cannot hang it, and checks what it opened.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !info.Mode().IsRegular():
		return nil, fmt.Errorf("not a regular file (%s)", fileKind(info.Mode()))
	case info.Size() > MaxConfigSize:
		return nil, fmt.Errorf("%d bytes, over the %d of MaxConfigSize", info.Size(), MaxConfigSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	switch {
	case err != nil:
		return nil, err
	case len(data) > MaxConfigSize:
		return nil, fmt.Errorf("over the %d bytes of MaxConfigSize", MaxConfigSize)
	}
	return data, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
