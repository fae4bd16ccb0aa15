package rates

import "testing"

func TestPrice(t *testing.T) {
	if Price(2) != 5 {
		t.Fatal("bad")
	}
}
