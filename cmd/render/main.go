// Command render writes every Kubernetes object of a stack as YAML, offline
// (no cluster, no Pulumi CLI), for reviewing a change or diffing manifests in
// a pull request:
//
//	go run ./cmd/render --stack dev --out out/dev
//	go run ./cmd/render --config path/to/Pulumi.x.yaml --out out/x
//
// Generated secrets are fixed placeholders, so two runs diff clean; so are
// the values of stack secrets, which cannot be decrypted offline. Invalid
// config exits non-zero with every validation error and writes nothing.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"synapse/config"
	"synapse/render"
)

// marker identifies a directory written by this command, so that it may be
// emptied before a new render (stale files would make diffs lie).
const marker = ".synapse-render"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	stackName := fs.String("stack", "", "stack name: reads Pulumi.<stack>.yaml in --project-dir")
	configPath := fs.String("config", "", "path to a Pulumi.<stack>.yaml anywhere (instead of --stack)")
	projectDir := fs.String("project-dir", ".", "directory holding Pulumi.yaml and the stack files")
	out := fs.String("out", "", "output directory (created; emptied if a previous render wrote it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*stackName == "") == (*configPath == "") || *out == "" {
		fs.Usage()
		return errors.New("give exactly one of --stack or --config, and --out")
	}
	file := *configPath
	name := *stackName
	if file == "" {
		file = filepath.Join(*projectDir, "Pulumi."+name+".yaml")
	} else {
		name = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "Pulumi."), filepath.Ext(file))
	}
	f, err := config.ReadStack(file)
	if err != nil {
		return err
	}
	// The checks of `pulumi up`, every key of the file, plain and secret.
	res, err := render.StackFile(name, f)
	if err != nil {
		return err
	}
	files, err := res.Files()
	if err != nil {
		return err
	}
	if err := prepare(*out); err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(*out, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "render: %s: %d objects in %s (left out, Pulumi-only: %d)\n", name, len(paths), *out, len(res.LeftOut))
	if len(f.Secure) > 0 {
		fmt.Fprintf(os.Stderr, "render: %s: stack secrets not decrypted, rendered as <stack-secret:...> placeholders: %s\n", name, strings.Join(f.Secure, ", "))
	}
	return nil
}

// prepare makes out an empty directory carrying the marker. It refuses to
// empty a non-empty directory that this command did not write.
func prepare(out string) error {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(out, marker)); err != nil {
			return fmt.Errorf("%s is not empty and was not written by render; refusing to overwrite it", out)
		}
		if err := os.RemoveAll(out); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, marker), []byte("written by go run ./cmd/render; emptied on every render\n"), 0o644)
}
