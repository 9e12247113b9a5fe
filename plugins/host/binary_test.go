package host

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestSymlinkedBinaryRefused is finding 19 of issue 10: a link whose target hashes to the
// manifest's checksum used to pass the check and run its target. Every link on the
// binary's path is refused now, before anything is launched.
func TestSymlinkedBinaryRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, real string) (string, error) // returns the manifest's binary
	}{
		{"the binary is a link to a matching file", func(t *testing.T, dir, real string) (string, error) {
			return "connector", os.Symlink(real, filepath.Join(dir, "connector"))
		}},
		{"a folder on the binary's path is a link", func(t *testing.T, dir, real string) (string, error) {
			return "bin/connector", os.Symlink(filepath.Dir(real), filepath.Join(dir, "bin"))
		}},
		{"the binary is a relative link inside the folder", func(t *testing.T, dir, real string) (string, error) {
			mustCopy(t, real, filepath.Join(dir, "real-connector"))
			return "connector", os.Symlink("real-connector", filepath.Join(dir, "connector"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			outside := filepath.Join(t.TempDir(), "connector")
			mustCopy(t, testBins["testplugin"], outside)
			dir := filepath.Join(root, "linked")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			bin, err := tt.setup(t, dir, outside)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := FileSHA256(outside)
			if err != nil {
				t.Fatal(err)
			}
			writeManifest(t, dir, Manifest{Name: "linked", Binary: bin, SHA256: sum, ProtocolVersion: 2})
			h, _ := newHost(t, root, Options{HealthInterval: -1})
			_, err = h.Describe(t.Context(), "linked")
			if !errors.Is(err, ErrLink) || !strings.Contains(err.Error(), "symbolic link") {
				t.Fatalf("Describe through a link: err = %v, want ErrLink", err)
			}
			if err := h.Plugins()[0].Verify(); !errors.Is(err, ErrLink) {
				t.Errorf("Verify: %v, want ErrLink", err)
			}
		})
	}
}

// TestExecutesTheVerifiedFile: the file that was hashed is the file that runs, even when
// the binary's path is replaced between the check and the launch.
func TestExecutesTheVerifiedFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/self/fd execution is Linux's")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	mustCopy(t, sleep, filepath.Join(dir, "connector"))
	sum, err := FileSHA256(filepath.Join(dir, "connector"))
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{Name: filepath.Base(dir), Binary: "connector", SHA256: sum, ProtocolVersion: 2}
	b, err := openBinary(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// An attacker swaps the binary for another program after the check.
	mustCopy(t, testBins["testplugin"], filepath.Join(dir, "swapped"))
	if err := os.Rename(filepath.Join(dir, "swapped"), filepath.Join(dir, "connector")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(execPath(b.f), "5")
	cmd.Args[0] = b.path
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ran, err := os.Stat(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "exe"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(ran, b.info) {
		t.Fatalf("the process runs %v, not the verified file", ran)
	}
	if now, _ := os.Stat(filepath.Join(dir, "connector")); os.SameFile(ran, now) {
		t.Fatal("the process runs the swapped-in file")
	}
}

func TestRewrittenInPlaceCaught(t *testing.T) {
	dir := t.TempDir()
	mustCopy(t, testBins["testplugin"], filepath.Join(dir, "connector"))
	sum, _ := FileSHA256(filepath.Join(dir, "connector"))
	b, err := openBinary(dir, Manifest{Name: "x", Binary: "connector", SHA256: sum, ProtocolVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.unchanged(); err != nil {
		t.Fatalf("untouched binary: %v", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "connector"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("more")
	f.Close()
	if err := b.unchanged(); !errors.Is(err, ErrChecksum) {
		t.Errorf("binary written after the check: %v, want ErrChecksum", err)
	}
}

func TestNotARegularFileRefused(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "dirbin")
	if err := os.MkdirAll(filepath.Join(dir, "connector"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := openBinary(dir, Manifest{Name: "dirbin", Binary: "connector", SHA256: strings.Repeat("0", 64), ProtocolVersion: 2})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory as the binary: %v", err)
	}
}

func mustCopy(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeManifest(t *testing.T, dir string, m Manifest) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
