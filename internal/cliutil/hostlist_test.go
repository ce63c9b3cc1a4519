package cliutil

import (
	"reflect"
	"testing"
)

func TestSplitHostListAndURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []HostPort
		bad  bool
	}{
		{in: "broker", want: []HostPort{{"broker", 0}}},
		{in: "::1", want: []HostPort{{"::1", 0}}},
		{in: "a,b:1884,[::1]:1885,[fe80::1]", want: []HostPort{{"a", 0}, {"b", 1884}, {"::1", 1885}, {"fe80::1", 0}}},
		{in: "a,", bad: true},
		{in: "a,b:0", bad: true},
		{in: "a,[::1]x", bad: true},
	} {
		got, err := SplitHostList(tc.in)
		if (err != nil) != tc.bad || !tc.bad && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitHostList(%q) = %v, %v", tc.in, got, err)
		}
	}
	u, err := ParseURL("mqtt://u:p@n1:1883,n2:1884,n3/fleet/#")
	if err != nil || u.Host != "n1" || u.Port != 1883 || u.Topic != "fleet/#" || u.Username != "u" ||
		!reflect.DeepEqual(u.More, []HostPort{{"n2", 1884}, {"n3", 0}}) {
		t.Errorf("ParseURL with a host list: %+v, %v", u, err)
	}
	if _, err := ParseURL("mqtt://n1,,n2/t"); err == nil {
		t.Error("empty host list entry accepted")
	}
}
