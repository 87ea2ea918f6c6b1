package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot walks up from the test's directory to the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// packages parses every non-test Go package under the module root.
// pkg is one parsed package: its name and files by path.
type pkg struct {
	Name  string
	Files map[string]*ast.File
}

func packages(t *testing.T) map[string]*pkg {
	t.Helper()
	root := moduleRoot(t)
	fset := token.NewFileSet()
	out := map[string]*pkg{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		p := out[rel]
		if p == nil {
			p = &pkg{Name: f.Name.Name, Files: map[string]*ast.File{}}
			out[rel] = p
		}
		p.Files[path] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 5 {
		t.Fatalf("found only %d packages; walk is broken", len(out))
	}
	return out
}

func TestEveryPackageHasDocComment(t *testing.T) {
	for dir, p := range packages(t) {
		found := false
		for _, f := range p.Files {
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("package %s (%s) has no package doc comment", p.Name, dir)
		}
	}
}

func TestExportedNamesHaveDocComments(t *testing.T) {
	for dir, p := range packages(t) {
		if p.Name == "main" {
			continue
		}
		for path, f := range p.Files {
			rel := filepath.Join(dir, filepath.Base(path))
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if !d.Name.IsExported() || (d.Recv != nil && !exportedRecv(d.Recv)) {
						continue
					}
					checkDoc(t, rel, d.Name.Name, d.Doc)
				case *ast.GenDecl:
					for _, s := range d.Specs {
						switch s := s.(type) {
						case *ast.TypeSpec:
							if s.Name.IsExported() {
								doc := s.Doc
								if doc == nil {
									doc = d.Doc
								}
								checkDoc(t, rel, s.Name.Name, doc)
							}
						case *ast.ValueSpec:
							for _, n := range s.Names {
								if !n.IsExported() {
									continue
								}
								// A grouped const/var block may document the
								// group instead of each name.
								if s.Doc == nil && d.Doc == nil && s.Comment == nil {
									t.Errorf("%s: exported %s has no doc comment", rel, n.Name)
								}
							}
						}
					}
				}
			}
		}
	}
}

func exportedRecv(fl *ast.FieldList) bool {
	if len(fl.List) == 0 {
		return false
	}
	typ := fl.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}

func checkDoc(t *testing.T, file, name string, doc *ast.CommentGroup) {
	t.Helper()
	if doc == nil {
		t.Errorf("%s: exported %s has no doc comment", file, name)
		return
	}
	text := strings.TrimSpace(doc.Text())
	first := strings.Fields(text)
	if len(first) == 0 {
		t.Errorf("%s: exported %s has an empty doc comment", file, name)
		return
	}
	w := first[0]
	if w == "A" || w == "An" || w == "The" || w == "Deprecated:" {
		if len(first) > 1 {
			w = first[1]
		}
	}
	if strings.TrimRight(w, ".,:;") != name {
		t.Errorf("%s: doc comment of %s should start with its name, starts %q", file, name, first[0])
	}
}
