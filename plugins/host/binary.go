package host

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrLink marks a plugin binary reached through a symbolic link. Links are refused: the
// manifest's checksum vouches for a file inside the plugin's folder, not for whatever a
// link points at.
var ErrLink = errors.New("plugin binary is a symbolic link")

// binary is a plugin executable opened and verified for one launch. The open file is
// what gets executed (see execPath), so the file whose hash was checked is the file
// that runs, whatever happens to its path in between.
type binary struct {
	f    *os.File
	path string
	info os.FileInfo // as hashed
}

// openBinary opens the executable of the plugin in dir and verifies it: no part of the
// manifest's binary path below the folder may be a symbolic link, the file must be a
// regular file, and its content must hash to the manifest's sha256. It runs before every
// launch, so a binary swapped after Rapport started is refused too.
func openBinary(dir string, m Manifest) (*binary, error) {
	path := filepath.Join(dir, m.Binary)
	parts := strings.Split(filepath.Clean(m.Binary), string(filepath.Separator))
	cur := dir
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: %w", m.Name, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("plugin %q refused: %s is a symbolic link; install the binary itself in the plugin's folder: %w", m.Name, cur, ErrLink)
		}
		if i < len(parts)-1 && !fi.IsDir() {
			return nil, fmt.Errorf("plugin %q: %s is not a directory", m.Name, cur)
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		if isLinkError(err) {
			return nil, fmt.Errorf("plugin %q refused: %s became a symbolic link: %w", m.Name, path, ErrLink)
		}
		return nil, fmt.Errorf("plugin %q: open %s: %w", m.Name, path, err)
	}
	b := &binary{f: f, path: path}
	if err := b.verify(m); err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

// verify hashes the open file and compares it with the manifest.
func (b *binary) verify(m Manifest) error {
	fi, err := b.f.Stat()
	if err != nil {
		return fmt.Errorf("plugin %q: stat %s: %w", m.Name, b.path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("plugin %q refused: %s is not a regular file (%s)", m.Name, b.path, fi.Mode().Type())
	}
	h := sha256.New()
	if _, err := io.Copy(h, b.f); err != nil {
		return fmt.Errorf("plugin %q: hash %s: %w", m.Name, b.path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("plugin %q refused: %s has sha256 %s but the manifest says %s: %w",
			m.Name, b.path, got, m.SHA256, ErrChecksum)
	}
	b.info = fi
	return nil
}

// unchanged reports an error when the file was written to since it was hashed (its
// size, modification or change time moved), which catches a binary rewritten in place
// between the check and the launch.
func (b *binary) unchanged() error {
	fi, err := b.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", b.path, err)
	}
	if fi.Size() != b.info.Size() || !fi.ModTime().Equal(b.info.ModTime()) || changeTime(fi) != changeTime(b.info) {
		return fmt.Errorf("%s changed while it was being launched: %w", b.path, ErrChecksum)
	}
	return nil
}

// Close releases the file once the process runs.
func (b *binary) Close() error { return b.f.Close() }

// Verify checks the plugin's binary as a launch would (no links, a regular file, the
// manifest's checksum) without starting it, for listings and `rapport plugin list`.
func (p PluginInfo) Verify() error {
	if p.Err != nil {
		return p.Err
	}
	b, err := openBinary(p.Dir, p.Manifest)
	if err != nil {
		return err
	}
	return b.Close()
}
