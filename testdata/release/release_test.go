package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run with `make release-test` (go test ./testdata/release):
// they build real releases, which takes a while.

const (
	testVersion = "v9.8.7"
	testEpoch   = "1796600000"
)

var testTargets = []string{"linux/amd64", "linux/arm64"}

var (
	shared     string // a release of testTargets from the repository, made once
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != "" {
		os.RemoveAll(filepath.Dir(shared))
	}
	os.Exit(code)
}

// sharedRelease is the release the tests share, built on first use.
func sharedRelease(t *testing.T) string {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "taskbolt-release-")
		if err != nil {
			t.Fatal(err)
		}
		shared = filepath.Join(dir, "dist")
		runRelease(t, repoRoot(t), shared)
	})
	if _, err := os.Stat(filepath.Join(shared, "SHA256SUMS")); err != nil {
		t.Fatalf("the shared release was not built: %v", err)
	}
	return shared
}

// runRelease runs the release command in dir into out.
func runRelease(t *testing.T, dir, out string) {
	t.Helper()
	cmd := exec.Command("go", "run", "./testdata/release", "-version", testVersion, "-out", out, "-targets", strings.Join(testTargets, ","))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+testEpoch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release in %s: %v\n%s", dir, err, b)
	}
}

// repoRoot is the repository this test runs in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// copyTree copies the repository's files (tracked, and untracked but not
// ignored: the tree as it stands) into dst.
func copyTree(t *testing.T, root, dst string) {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, rel)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the tree, or not a file
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReproducible builds the release twice, the second time from a copy of
// the tree in another directory and without .git: every file of the two is
// byte for byte the same.
func TestReproducible(t *testing.T) {
	root := repoRoot(t)
	a := sharedRelease(t)
	other := filepath.Join(t.TempDir(), "elsewhere", "taskbolt")
	copyTree(t, root, other)
	b := filepath.Join(t.TempDir(), "dist")
	runRelease(t, other, b)

	files := 0
	err := filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		x, _ := os.ReadFile(path)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			t.Errorf("%s: only in the first release", rel)
			return nil
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between the two builds", rel)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("only %d files compared", files)
	}
	checkRelease(t, a)
}

// checkRelease checks one release's contents.
func checkRelease(t *testing.T, dist string) {
	machines := map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64}
	sums := readSums(t, filepath.Join(dist, "SHA256SUMS"))
	for _, target := range testTargets {
		goos, goarch, _ := strings.Cut(target, "/")
		bin := filepath.Join(dist, goos+"_"+goarch, "taskbolt")

		// A static binary of the platform.
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if f.Machine != machines[target] {
			t.Errorf("%s: an ELF for %v", target, f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s: dynamically linked (has an interpreter)", target)
			}
		}
		f.Close()
		data, _ := os.ReadFile(bin)
		binSum := sha256.Sum256(data)

		// The archive: the binary, executable, and the README, dated at the epoch.
		archive := fmt.Sprintf("taskbolt_%s_%s_%s.tar.gz", testVersion, goos, goarch)
		entries := readTarGz(t, filepath.Join(dist, archive))
		prefix := strings.TrimSuffix(archive, ".tar.gz") + "/"
		if e, ok := entries[prefix+"taskbolt"]; !ok || e.mode != 0o755 || !bytes.Equal(e.data, data) {
			t.Errorf("%s: the binary is not in it as built, executable", archive)
		}
		if _, ok := entries[prefix+"README.md"]; !ok || len(entries) != 2 {
			t.Errorf("%s holds %d entries", archive, len(entries))
		}
		for name, e := range entries {
			if e.modTime.Unix() != 1796600000 || e.uid != 0 {
				t.Errorf("%s: %s dated %v, owner %d", archive, name, e.modTime, e.uid)
			}
		}

		// The SBOM: CycloneDX, the binary's hash, the modules it was built with.
		sbomName := fmt.Sprintf("taskbolt_%s_%s_%s.cdx.json", testVersion, goos, goarch)
		var sbom struct {
			BOMFormat, SpecVersion string
			Metadata               struct {
				Component struct {
					Name, Version string
					Hashes        []struct{ Alg, Content string }
				}
			}
			Components []struct{ Name, Version, Purl string }
		}
		raw, _ := os.ReadFile(filepath.Join(dist, sbomName))
		if err := json.Unmarshal(raw, &sbom); err != nil {
			t.Fatalf("%s: %v", sbomName, err)
		}
		if sbom.BOMFormat != "CycloneDX" || sbom.SpecVersion != "1.5" || sbom.Metadata.Component.Version != testVersion ||
			len(sbom.Metadata.Component.Hashes) != 1 || sbom.Metadata.Component.Hashes[0].Content != hex.EncodeToString(binSum[:]) {
			t.Errorf("%s: %+v", sbomName, sbom.Metadata)
		}
		want := requiredModules(t)
		for _, c := range sbom.Components {
			if v, ok := want[c.Name]; ok && v == c.Version && c.Purl == "pkg:golang/"+c.Name+"@"+c.Version {
				delete(want, c.Name)
			}
		}
		if len(want) > 0 {
			t.Errorf("%s lacks modules the binary is built from: %v", sbomName, want)
		}

		// SHA256SUMS covers the archive and the SBOM.
		for _, name := range []string{archive, sbomName} {
			data, _ := os.ReadFile(filepath.Join(dist, name))
			sum := sha256.Sum256(data)
			if sums[name] != hex.EncodeToString(sum[:]) {
				t.Errorf("SHA256SUMS: %s is %q, the file's is %x", name, sums[name], sum)
			}
		}

		// The npm package of the platform: its binary, and os and cpu.
		osName, cpu := npmPlatform(target)
		var pkg struct {
			Name, Version string
			OS, CPU       []string
		}
		raw, _ = os.ReadFile(filepath.Join(dist, "npm", osName+"-"+cpu, "package.json"))
		json.Unmarshal(raw, &pkg)
		npmBin, _ := os.ReadFile(filepath.Join(dist, "npm", osName+"-"+cpu, "bin", "taskbolt"))
		if pkg.Name != "@taskbolt/"+osName+"-"+cpu || pkg.Version != "9.8.7" || len(pkg.OS) != 1 || pkg.OS[0] != osName ||
			len(pkg.CPU) != 1 || pkg.CPU[0] != cpu || !bytes.Equal(npmBin, data) {
			t.Errorf("npm package of %s: %+v", target, pkg)
		}
	}
	// The taskbolt package depends on every platform's, at this version exactly.
	var main struct {
		Version              string
		Bin                  map[string]string
		OptionalDependencies map[string]string
	}
	raw, _ := os.ReadFile(filepath.Join(dist, "npm", "taskbolt", "package.json"))
	json.Unmarshal(raw, &main)
	if main.Version != "9.8.7" || main.Bin["taskbolt"] != "bin/taskbolt.js" || len(main.OptionalDependencies) != len(Targets) {
		t.Errorf("the taskbolt npm package: %+v", main)
	}
	for name, v := range main.OptionalDependencies {
		if v != "9.8.7" || !strings.HasPrefix(name, "@taskbolt/") {
			t.Errorf("optional dependency %s@%s", name, v)
		}
	}
}

// requiredModules are a few modules every binary holds, at go.mod's versions.
func requiredModules(t *testing.T) map[string]string {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, m := range []string{"go.etcd.io/bbolt", "github.com/gofiber/fiber/v2", "github.com/golang-jwt/jwt/v5", "github.com/openai/openai-go/v3"} {
		re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(m) + `\s+(v\S+)`)
		found := re.FindSubmatch(gomod)
		if found == nil {
			t.Fatalf("go.mod does not require %s", m)
		}
		want[m] = string(found[1])
	}
	return want
}

type tarEntry struct {
	mode    int64
	uid     int
	modTime time.Time
	data    []byte
}

func readTarGz(t *testing.T, path string) map[string]tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]tarEntry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out[h.Name] = tarEntry{mode: h.Mode, uid: h.Uid, modTime: h.ModTime, data: data}
	}
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}

// TestDockerfile reads the Dockerfile as docker buildx would for each
// architecture: its final stage is scratch, run as a non-root user, and the
// binary it copies is the release's binary of that architecture.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		stages   []string // FROM lines
		final    []string // instructions of the last stage
		copyFrom []string // COPY sources of the last stage that are not --from
	)
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stages, final, copyFrom = append(stages, line), nil, nil
		case "COPY":
			if !strings.Contains(line, "--from=") {
				args := fields[1:]
				for len(args) > 0 && strings.HasPrefix(args[0], "--") {
					args = args[1:]
				}
				copyFrom = append(copyFrom, args[:len(args)-1]...)
			}
		}
		final = append(final, line)
	}
	if len(stages) == 0 || !strings.HasPrefix(stages[len(stages)-1], "FROM scratch") {
		t.Fatalf("the final stage is not scratch: %v", stages)
	}
	joined := strings.Join(final, "\n")
	for _, want := range []string{"ARG TARGETARCH", "USER 65532:65532", `ENTRYPOINT ["/taskbolt"]`, "HEALTHCHECK"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the final stage lacks %q", want)
		}
	}
	if len(copyFrom) != 1 || copyFrom[0] != "dist/linux_${TARGETARCH}/taskbolt" {
		t.Fatalf("the final stage copies %v from the context, want the release binary dist/linux_${TARGETARCH}/taskbolt", copyFrom)
	}
	// What the release writes is what the Dockerfile copies, for both architectures.
	dist := sharedRelease(t)
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		src := filepath.Join(dist, strings.TrimPrefix(strings.ReplaceAll(copyFrom[0], "${TARGETARCH}", arch), "dist/"))
		f, err := elf.Open(src)
		if err != nil {
			t.Fatalf("TARGETARCH=%s: %v", arch, err)
		}
		if f.Machine != machine {
			t.Errorf("TARGETARCH=%s copies an ELF for %v", arch, f.Machine)
		}
		f.Close()
	}
	script, _ := os.ReadFile(filepath.Join(dist, "docker-buildx.sh"))
	if !strings.Contains(string(script), "docker buildx build --platform linux/amd64,linux/arm64") {
		t.Errorf("docker-buildx.sh: %s", script)
	}
}

// TestNpmVersion: tags become their semver, release candidates included;
// what is not a tag becomes a 0.0.0 prerelease, which sorts before every
// release.
func TestNpmVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":              "1.2.3",
		"v1.2.3-rc.1":         "1.2.3-rc.1",
		"v0.4.0-beta":         "0.4.0-beta",
		"v1.2.3-4-gabcdef0":   "0.0.0-v1-2-3-4-gabcdef0",
		"v1.2.3-dirty":        "0.0.0-v1-2-3-dirty",
		"v1.2.3-4-gabc-dirty": "0.0.0-v1-2-3-4-gabc-dirty",
		"abcdef0":             "0.0.0-abcdef0",
		"v1.02.3":             "0.0.0-v1-02-3",
		"v1.2.3+build.5":      "0.0.0-v1-2-3-build-5",
	} {
		if got := npmVersion(in); got != want {
			t.Errorf("npmVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
