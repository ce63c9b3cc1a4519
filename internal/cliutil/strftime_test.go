package cliutil

import (
	"strings"
	"testing"
	"time"
)

// TestStrftimeGlibc compares every '@' conversion with glibc's strftime in
// the C locale. The expected columns were produced by calling glibc's
// strftime("%c") for each letter below with TZ=BST-1 (UTC+1, named BST).
func TestStrftimeGlibc(t *testing.T) {
	const letters = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%QE+1-0"
	bst := time.FixedZone("BST", 3600)
	tests := []struct {
		epoch int64
		want  string // "|"-separated, one per letter
	}{
		{1588799520, "Wed|Wednesday|May|May|Wed May  6 22:12:00 2020|20|06|05/06/20| 6|2020-05-06|20|2020|May|22|10|127|22|10|05|12|\n|PM|pm|10:12:00 PM|22:12|1588799520|00|\t|22:12:00|3|18|19|3|18|05/06/20|22:12:00|20|2020|+0100|BST|%|%Q|%E|%+|%1|%-|%0"},
		{1609455909, "Fri|Friday|Jan|January|Fri Jan  1 00:05:09 2021|20|01|01/01/21| 1|2021-01-01|20|2020|Jan|00|12|001| 0|12|01|05|\n|AM|am|12:05:09 AM|00:05|1609455909|09|\t|00:05:09|5|00|53|5|00|01/01/21|00:05:09|21|2021|+0100|BST|%|%Q|%E|%+|%1|%-|%0"},
		{1735556459, "Mon|Monday|Dec|December|Mon Dec 30 12:00:59 2024|20|30|12/30/24|30|2024-12-30|25|2025|Dec|12|12|365|12|12|12|00|\n|PM|pm|12:00:59 PM|12:00|1735556459|59|\t|12:00:59|1|52|01|1|53|12/30/24|12:00:59|24|2024|+0100|BST|%|%Q|%E|%+|%1|%-|%0"},
		{946681199, "Fri|Friday|Dec|December|Fri Dec 31 23:59:59 1999|19|31|12/31/99|31|1999-12-31|99|1999|Dec|23|11|365|23|11|12|59|\n|PM|pm|11:59:59 PM|23:59|946681199|59|\t|23:59:59|5|52|52|5|52|12/31/99|23:59:59|99|1999|+0100|BST|%|%Q|%E|%+|%1|%-|%0"},
	}
	for _, tc := range tests {
		tm := time.Unix(tc.epoch, 0).In(bst)
		want := strings.Split(tc.want, "|")
		for i := 0; i < len(letters); i++ {
			got := string(appendStrftime(nil, letters[i], tm))
			if got != want[i] {
				t.Errorf("%s %%%c = %q, want %q", tm.Format(time.RFC3339), letters[i], got, want[i])
			}
		}
	}
}

func TestStrftimeNegativeOffset(t *testing.T) {
	tm := time.Date(2021, 3, 4, 5, 6, 7, 0, time.FixedZone("NST", -(3*3600+30*60)))
	if got := string(appendStrftime(nil, 'z', tm)); got != "-0330" {
		t.Errorf("%%z = %q, want -0330", got)
	}
	if got := string(appendTST(nil, tm)); got != "2021-03-04T05:06:07.000000-0330" {
		t.Errorf("tst = %q", got)
	}
}
