package cliutil

import (
	"errors"
	"strings"
	"testing"
)

const exprDoc = `{
	"temp": 21.5, "count": 3, "big": 1e400, "zero": 0, "neg": -2,
	"name": "sensor-1", "on": true, "off": false, "none": null,
	"a": {"b": {"c": "deep"}, "list": [10, 20, {"x": "y"}]},
	"key with space": 1, "température": "ok", "$type": "t", "a.b": "dotted",
	"ver": "1.10", "empty": "", "obj": {}, "arr": []
}`

func TestJSONExprEval(t *testing.T) {
	doc, err := DecodeJSON([]byte(exprDoc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expr string
		want bool
	}{
		// Bare paths: present and neither null nor false.
		{".", true},
		{".temp", true},
		{".zero", true},
		{".empty", true},
		{".on", true},
		{".off", false},
		{".none", false},
		{".missing", false},
		{".a.b.c", true},
		{".a.b.c.d", false}, // a string has no members
		{".temp.x", false},
		{".a.list[0]", true},
		{".a.list[3]", false},
		{".a.list.[1]", true},
		{".a.list[-1].x", true},
		{".a.list[-4]", false},
		{".a[0]", false}, // an object is not an array
		{".a.list.x", false},
		{`."key with space"`, true},
		{`.a["b"].c`, true},
		{`.["a.b"]`, true},
		{`."a.b" == "dotted"`, true},
		{".température", true},
		{".$type", true},
		{".obj", true},
		{".arr", true},

		// Numbers compare as numbers.
		{".temp > 20", true},
		{".temp > 21.5", false},
		{".temp >= 21.5", true},
		{".temp < 21.5", false},
		{".temp <= 21.5", true},
		{".temp<22", true},
		{".count == 3", true},
		{".count == 3.0", true},
		{".count == 3e0", true},
		{".count != 3", false},
		{".count != 4", true},
		{".neg < -1", true},
		{".big > 1e308", true}, // beyond float64: +Inf
		{".a.list[1] == 20", true},
		{".a.list[-2] >= 20", true},

		// Strings.
		{`.name == "sensor-1"`, true},
		{`.name == "sensor-2"`, false},
		{`.name != "sensor-2"`, true},
		{`.ver < "1.9"`, true}, // byte-wise, not version order
		{`.name > "s"`, true},
		{`.empty == ""`, true},
		{`.a.b.c == "deep"`, true},
		{`.température == "ok"`, true},

		// Regexp match on strings.
		{`.name ~ "^sensor-[0-9]+$"`, true},
		{`.name ~ "^x"`, false},
		{`.name ~ "sor"`, true}, // unanchored
		{`.count ~ "3"`, false}, // not a string
		{`.missing ~ ""`, false},

		// true, false, null.
		{".on == true", true},
		{".on == false", false},
		{".off == false", true},
		{".on != false", true},
		{".none == null", true},
		{".none != null", false},
		{".temp != null", true},

		// Type mismatches: == false, != true, ordering false.
		{`.count == "3"`, false},
		{`.count != "3"`, true},
		{`.name > 1`, false},
		{`.count < "9"`, false},
		{`.on > 0`, false},
		{`.obj == null`, false},
		{`.arr != 1`, true},

		// A missing path makes every comparison false, != included.
		{".missing == null", false},
		{".missing != 1", false},
		{".missing < 1", false},
		{".a.list[9] != 1", false},

		// White space around the parts.
		{"  .temp   >   20  ", true},
		{"\t.count\t==\t3", true},
	}
	for _, tc := range tests {
		e, err := ParseJSONExpr(tc.expr)
		if err != nil {
			t.Errorf("ParseJSONExpr(%q): %v", tc.expr, err)
			continue
		}
		if got := e.Eval(doc); got != tc.want {
			t.Errorf("%q: Eval = %v, want %v", tc.expr, got, tc.want)
		}
		if e.String() != tc.expr {
			t.Errorf("%q: String() = %q", tc.expr, e.String())
		}
	}
}

// The root can be any JSON value, not only an object.
func TestJSONExprRootValues(t *testing.T) {
	tests := []struct {
		payload, expr string
		want          bool
	}{
		{"42", ". == 42", true},
		{"42", ". > 41.9", true},
		{" 42 \n", ".==42", true},
		{`"on"`, `. == "on"`, true},
		{"[1,2,3]", ".[2] == 3", true},
		{"[[1,2],[3]]", ".[1][0] == 3", true},
		{"[[1,2],[3]]", ".[1][1]", false},
		{"null", ".", false},
		{"false", ".", false},
		{"true", ".", true},
		{"0", ".", true},
	}
	for _, tc := range tests {
		doc, err := DecodeJSON([]byte(tc.payload))
		if err != nil {
			t.Fatalf("DecodeJSON(%q): %v", tc.payload, err)
		}
		e, err := ParseJSONExpr(tc.expr)
		if err != nil {
			t.Fatalf("ParseJSONExpr(%q): %v", tc.expr, err)
		}
		if got := e.Eval(doc); got != tc.want {
			t.Errorf("%s on %s: %v, want %v", tc.expr, tc.payload, got, tc.want)
		}
	}
}

func TestJSONExprMalformed(t *testing.T) {
	tests := []struct {
		expr   string
		offset int
		msg    string // part of the message
	}{
		{"", 0, `expected a path starting with "."`},
		{"   ", 3, `expected a path starting with "."`},
		{"temp > 20", 0, `expected a path starting with "."`},
		{"> 20", 0, `expected a path starting with "."`},
		{"..", 1, `expected a key after "."`},
		{".a.", 3, `expected a key after "."`},
		{".a..b", 3, `expected a key after "."`},
		{".a[", 3, "expected an array index"},
		{".a[x]", 3, "expected an array index"},
		{".a[1", 4, `expected "]"`},
		{".a[1.5]", 4, `expected "]"`},
		{`.a["b]`, 3, "unterminated string"},
		{`."a`, 1, "unterminated string"},
		{`."\q"`, 1, "invalid string"},
		{".a b", 3, "expected an operator"},
		{".a = 1", 3, "expected an operator"},
		{".a === 1", 5, "expected a JSON literal"},
		{".a =< 1", 3, "expected an operator"},
		{".a >", 4, `expected a JSON literal after ">"`},
		{".a ==   ", 8, `expected a JSON literal after "=="`},
		{".a == online", 6, "strings need double quotes"},
		{`.a == "x" "y"`, 6, "expected a JSON literal"},
		{`.a == "x`, 6, "expected a JSON literal"},
		{".a == [1]", 6, "expected a JSON literal"},
		{`.a == {"b":1}`, 6, "expected a JSON literal"},
		{".a == 1 2", 6, "expected a JSON literal"},
		{".a == 01", 6, "expected a JSON literal"},
		{".a > true", 5, "> needs a number or a"},
		{".a <= null", 6, "<= needs a number or a"},
		{".a ~ 1", 5, `~ needs a "regexp" string`},
		{`.a ~ "("`, 5, "invalid regexp"},
	}
	for _, tc := range tests {
		_, err := ParseJSONExpr(tc.expr)
		var pe *JSONExprError
		if !errors.As(err, &pe) {
			t.Errorf("ParseJSONExpr(%q) = %v, want a *JSONExprError", tc.expr, err)
			continue
		}
		if pe.Offset != tc.offset || !strings.Contains(pe.Error(), tc.msg) {
			t.Errorf("ParseJSONExpr(%q): %q (offset %d), want offset %d and %q", tc.expr, pe.Error(), pe.Offset, tc.offset, tc.msg)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	for _, ok := range []string{`{}`, ` [1, "a"] `, `"s"`, `null`, `1e400`, "{\"a\":1}\n"} {
		if _, err := DecodeJSON([]byte(ok)); err != nil {
			t.Errorf("DecodeJSON(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{``, ` `, `{`, `{} {}`, `{}x`, `hello`, `'a'`, `{"a":1,}`, `NaN`, "\xef\xbb\xbf{}"} {
		if _, err := DecodeJSON([]byte(bad)); err == nil {
			t.Errorf("DecodeJSON(%q) succeeded", bad)
		}
	}
}

// FuzzJSONExpr: any expression either parses or fails with a
// *JSONExprError (never a panic), and a parsed one evaluates against any
// JSON document without panicking, the same way twice.
func FuzzJSONExpr(f *testing.F) {
	for _, s := range [][2]string{
		{`.temp > 20`, `{"temp": 21}`},
		{`.a[0].b ~ "^x"`, `{"a":[{"b":"xy"}]}`},
		{`."k y" == null`, `{"k y": null}`},
		{`.[-1] != "z"`, `[1,2,"z"]`},
		{`.`, `true`},
		{`.a[`, `{}`},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, expr string, payload []byte) {
		e, err := ParseJSONExpr(expr)
		if err != nil {
			var je *JSONExprError
			if !errors.As(err, &je) {
				t.Fatalf("ParseJSONExpr(%q) error %T %v, want *JSONExprError", expr, err, err)
			}
			return
		}
		doc, err := DecodeJSON(payload)
		if err != nil {
			return
		}
		if e.Eval(doc) != e.Eval(doc) {
			t.Fatalf("%q on %q: Eval is not deterministic", expr, payload)
		}
	})
}
