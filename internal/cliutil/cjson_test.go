package cliutil

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The expectations below were checked against mosquitto_sub 2.0.11 with
// cJSON 1.7.15 (-F %J).
func TestCJSONReprint(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[0.30000000000000004, 1e21, 1e15, 123456789012345678, 1e-5, 0.0001, -1.5e-7, 2147483648, 1E2, 1.0e+2, 100000000000000000000, 5e-324]`,
			`[0.3,1e+21,1e+15,1.2345678901234568e+17,1e-05,0.0001,-1.5e-07,2147483648,100,100,1e+20,4.94065645841247e-324]`},
		{`["\ud83d\ude00", "a\u0000b", "\b\f\n\r\t\"\\\u001f\u007f", true, false, null, {"x":{"y":[]}}]`,
			`["😀","a","\b\f\n\r\t\"\\\u001f` + "\x7f" + `",true,false,null,{"x":{"y":[]}}]`},
		{"\xef\xbb\xbf {\"a\":1}", `{"a":1}`},
		{"\x01{\"a\":1}\x02", `{"a":1}`},
		{`01`, `1`},
		{`-0.0`, `-0`},
		{`1e400`, `null`},
		{`-1e400`, `null`},
		{`{"a" : 1 , "a":2}`, `{"a":1,"a":2}`},
		{"\"a\tb\"", `"a\tb"`},
		{`"\uZZZZx"`, `""`},
		{`"\/"`, `"/"`},
		{`-.5`, `-0.5`},
		{`1.`, `1`},
		{`"é"`, `"é"`},
		{"\"\xff\"", "\"\xff\""},
		{`[ ]`, `[]`},
		{`{ }`, `{}`},
		{`3.14159265358979`, `3.14159265358979`},
		{`0.1`, `0.1`},
		{`1e300`, `1e+300`},
	}
	for _, tc := range tests {
		v, ok := parseCJSON([]byte(tc.in))
		if !ok {
			t.Errorf("parseCJSON(%q) failed", tc.in)
			continue
		}
		got := string(appendCJSON(nil, &v, false, 0))
		if got != tc.want {
			t.Errorf("reprint(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCJSONRejects(t *testing.T) {
	for _, in := range []string{
		``, ` `, `notjson`, `"abc`, `{"a":1,}`, `[1,]`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`,
		`"\x"`, `1.5.3`, `-`, `nulls`, `1e`, `{1:2}`, `+1`, `.5`, "1\x00", `{"a"}`, `[1 2]`, `"\u12"`,
		`tru`, `{"a":1`, `[`, `"abc\`,
	} {
		if _, ok := parseCJSON([]byte(in)); ok {
			t.Errorf("parseCJSON(%q) succeeded, want failure", in)
		}
	}
}

func TestCJSONNestingLimit(t *testing.T) {
	deep := func(n int) []byte {
		b := make([]byte, 0, 2*n)
		for i := 0; i < n; i++ {
			b = append(b, '[')
		}
		for i := 0; i < n; i++ {
			b = append(b, ']')
		}
		return b
	}
	if _, ok := parseCJSON(deep(cjsonNestingLimit)); !ok {
		t.Errorf("depth %d rejected", cjsonNestingLimit)
	}
	if _, ok := parseCJSON(deep(cjsonNestingLimit + 1)); ok {
		t.Errorf("depth %d accepted", cjsonNestingLimit+1)
	}
}

func TestCJSONPrettyArrayOfObjects(t *testing.T) {
	v, ok := parseCJSON([]byte(`[{"a":1},{}]`))
	if !ok {
		t.Fatal("parse failed")
	}
	got := string(appendCJSON(nil, &v, true, 0))
	want := "[{\n\t\t\"a\":\t1\n\t}, {\n\t}]"
	if got != want {
		t.Errorf("pretty = %q, want %q", got, want)
	}
}

// FuzzCJSON checks two properties: cJSON's output parses back to the same
// output, and strict JSON without \u escapes, long numbers or deep nesting
// (where cJSON is stricter or limited) is always accepted.
func FuzzCJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,-0,"x\n"]}`, `01`, "\x01[]", `"\ud83d\ude00"`, `[1e400]`, `{"a":{"b":{}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := parseCJSON(b)
		if !ok {
			if json.Valid(b) && !bytes.Contains(b, []byte(`\u`)) && !bytes.ContainsRune(b, 0) && len(b) < 60 && !bytes.HasPrefix(bytes.TrimSpace(b), []byte("[[[[")) {
				t.Fatalf("strict JSON %q rejected", b)
			}
			return
		}
		out := appendCJSON(nil, &v, false, 0)
		v2, ok := parseCJSON(out)
		if !ok {
			t.Fatalf("reprint %q of %q does not parse", out, b)
		}
		if out2 := appendCJSON(nil, &v2, false, 0); !bytes.Equal(out, out2) {
			t.Fatalf("reprint not stable: %q -> %q -> %q", b, out, out2)
		}
	})
}
